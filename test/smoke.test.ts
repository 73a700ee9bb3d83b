import { describe, expect, it } from 'vitest';
import { WalletClient } from '../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../src/wallet/flow';
import { Holder } from '../src/wallet/holder';
import { makeTestIssuer, PUBLIC_URL } from './helpers/issuer';

describe('smoke', () => {
  it('issues', async () => {
    const t = await makeTestIssuer();
    const client = new WalletClient(await Holder.create(), t.fetch);
    const r = await applyForKcc(client, { issuer: PUBLIC_URL, identity: SAMPLE_IDENTITY, onStep: (s) => console.log(s.step) });
    expect(r.credential).toBeTypeOf('string');
  });
});
