import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/crypto/jwt';
import { createWebCryptoProvider } from '../../src/crypto/webCrypto';
import { Holder } from '../../src/wallet/holder';
import { applyMigrationsWithWrangler, bundleWorker, freePort, startWorker } from '../helpers/workerd';
import { holderWithKcc, issuerDid, merchantVerifies, mintFor, postKya, presentation, verifyWithJose, type KyaClient } from './helpers';

/**
 * Know Your Agent tokens on Cloudflare Workers: the worker as it deploys (wrangler's bundle, D1
 * migrated by wrangler) in workerd, driven over loopback HTTP. creation_ip is CF-Connecting-IP,
 * which Cloudflare's edge (here miniflare's entry worker) sets to the client's address.
 */
const ADMIN_TOKEN = 'worker-admin-token-0123456789abcdef0';
let dir: string;
let mf: Miniflare;
let client: KyaClient;
let did: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kcc-kya-worker-'));
  const persistTo = join(dir, 'state');
  const [scriptPath] = await Promise.all([bundleWorker(join(dir, 'bundle')), applyMigrationsWithWrangler(persistTo)]);
  const port = await freePort();
  let url: string;
  ({ mf, url } = await startWorker({
    scriptPath,
    persistTo,
    port,
    bindings: {
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      ISSUER_PRIVATE_JWK: JSON.stringify(await createWebCryptoProvider().generateKeyPair('EdDSA')),
      ADMIN_TOKEN,
      PII_DATA_KEY: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8',
      LOG_LEVEL: 'silent',
      KYA_TOKEN_LIFETIME_MINUTES: '5',
    },
  }));
  client = { base: url, now: () => Math.floor(Date.now() / 1000) };
  did = await issuerDid(client);
}, 180_000);

afterAll(async () => {
  await mf?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('KYA token in workerd (D1)', () => {
  it('mints a token jose verifies against the did:web document, with the caller’s address and the configured lifetime', async () => {
    const { holder, kcc } = await holderWithKcc(client);
    const agent = await Holder.create();
    const minted = await mintFor(client, holder, kcc, agent, {
      aid: { name: 'Travel agent', source_ips: '8.8.8.8, agents.bank-platform.com' },
      hid_claims: ['country_of_residence'],
    });
    expect(minted.expires_in).toBe(5 * 60);
    const { payload } = await verifyWithJose(client, minted.kya_token);
    expect(payload.iss).toBe(did);
    expect(payload.hid).toMatchObject({
      verified: true,
      verifier: client.base,
      verification_id: (decodeJwt(kcc).payload.vc as { id: string }).id,
      country_of_residence: 'US',
    });
    expect(payload.hid.tier).toBeUndefined();
    expect(payload.aid).toEqual({ name: 'Travel agent', creation_ip: '127.0.0.1', source_ips: ['8.8.8.8', 'agents.bank-platform.com'] });
    expect(payload.cnf).toEqual({ jwk: agent.signer.publicJwk });
    const verdict = await merchantVerifies(client, did, minted.kya_token, agent);
    expect(verdict.reasons).toEqual([]);
  });

  it('refuses a replayed presentation, someone else’s KCC, bad source_ips entries and oversize bodies', async () => {
    const { holder, kcc } = await holderWithKcc(client);
    const agent = await Holder.create();
    const body = { vp_token: await presentation(client, holder, [kcc]), aid: { name: 'Agent' }, cnf: { jwk: agent.signer.publicJwk } };
    expect((await postKya(client, body)).status).toBe(200);
    const replay = await postKya(client, body);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_nonce');
    const theirs = await postKya(client, { ...body, vp_token: await presentation(client, await Holder.create(), [kcc]) });
    expect(theirs.status).toBe(403);
    const bad = await postKya(client, {
      ...body,
      vp_token: await presentation(client, holder, [kcc]),
      aid: { name: 'Agent', source_ips: ['192.168.0.0/16', '8.8.8.8'] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.problems).toEqual([
      'aid.source_ips: "192.168.0.0/16": the range is not entirely public (it includes private, loopback, documentation or other special-purpose addresses)',
    ]);
    expect((await postKya(client, JSON.stringify({ padding: 'x'.repeat(70 * 1024) }))).status).toBe(413);
  });

  it('a revoked KCC mints nothing, and the merchant sees the principal no longer verified', async () => {
    const { holder, kcc } = await holderWithKcc(client);
    const agent = await Holder.create();
    const minted = await mintFor(client, holder, kcc, agent);
    const id = encodeURIComponent((decodeJwt(kcc).payload.vc as { id: string }).id);
    const res = await fetch(`${client.base}/admin/credentials/${id}/status`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'revoke', reason: 'lost device' }),
    });
    expect(res.status).toBe(200);
    const refused = await postKya(client, {
      vp_token: await presentation(client, holder, [kcc]),
      aid: { name: 'Agent' },
      cnf: { jwk: agent.signer.publicJwk },
    });
    expect(refused.status).toBe(403);
    expect(refused.body.error_description).toMatch(/revoked/);
    const verdict = await merchantVerifies(client, did, minted.kya_token, agent);
    expect(verdict.principal?.verified).toBe(false);
    expect(verdict.reasons.join()).toMatch(/principal: no longer verified: .* is revoked/);
  });
});
