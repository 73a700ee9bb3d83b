import { describe, expect, it } from 'vitest';
import { DEFAULTS, resolveConfig } from '../../src/config';
import { WalletClient } from '../../src/wallet/client';
import { SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { makeTestIssuer, PUBLIC_URL, testClock } from '../helpers/issuer';

/** The pre-authorized code outlives the IDV form link (src/config.ts ttl). */
describe('lifetimes', () => {
  it('by default the code outlives the form, and a configuration where it does not is refused at start', () => {
    expect(DEFAULTS.ttl.preAuthorizedCode).toBeGreaterThan(DEFAULTS.ttl.idvForm);
    expect(() => resolveConfig({ publicUrl: PUBLIC_URL, ttl: { preAuthorizedCode: 3600, idvForm: 3600 } })).toThrow(
      /ttl\.preAuthorizedCode .* must outlive ttl\.idvForm/,
    );
    expect(() => resolveConfig({ publicUrl: PUBLIC_URL, ttl: { idvForm: 3 * 3600 } })).toThrow(/outlive/);
    expect(() => resolveConfig({ publicUrl: PUBLIC_URL, ttl: { cNonce: 0 } })).toThrow(/ttl\.cNonce must be a positive/);
    expect(resolveConfig({ publicUrl: PUBLIC_URL, ttl: { preAuthorizedCode: 7200, idvForm: 1800 } }).ttl.idvForm).toBe(1800);
  });

  it('a wallet that redeems after a slow applicant used the form to its last minute still gets its token', async () => {
    const clock = testClock();
    const t = await makeTestIssuer({ clock });
    const client = new WalletClient(await Holder.create(), t.fetch, { now: () => Math.floor(clock() / 1000) });
    const pfi = await client.discover(PUBLIC_URL);
    const idvRequest = await client.respond(await client.initiate(pfi.idvEndpoint, pfi));
    clock.advance(DEFAULTS.ttl.idvForm - 60);
    expect((await client.submitIdvForm(idvRequest.url, SAMPLE_IDENTITY)).status).toBe(200);
    clock.advance(5 * 60); // the form has expired by now; the code has not
    const code = idvRequest.credential_offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'];
    const token = await client.token(`${PUBLIC_URL}/oauth2/token`, code);
    expect(token.access_token).toEqual(expect.any(String));
  });
});
