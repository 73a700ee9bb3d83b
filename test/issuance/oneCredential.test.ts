import { describe, expect, it } from 'vitest';
import { applyUntilOffer, PRE_AUTH_GRANT } from '../helpers/application';
import { ADMIN_TOKEN, makeTestIssuer, PUBLIC_URL } from '../helpers/issuer';

/**
 * One decision, one credential (SECURITY.md): an approved application yields exactly one KCC,
 * whatever the wallet does with its access token (24 h) and fresh nonces from the Nonce
 * Endpoint; a repeated request is credential_request_denied. Renewal and upgrade are new
 * applications (test/issuance/credentialLife.test.ts, test/issuance/tiers.test.ts).
 */
const CONFIG_ID = 'KnownCustomerCredential';
const json = { 'content-type': 'application/json' };

async function setup(familyName?: string) {
  const t = await makeTestIssuer();
  const app = await applyUntilOffer(PUBLIC_URL, t.fetch, { familyName });
  const post = (path: string, body: unknown, headers: Record<string, string> = json) =>
    t.app.request(`${PUBLIC_URL}${path}`, { method: 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const tokenRes = await post('/oauth2/token', { grant_type: PRE_AUTH_GRANT, 'pre-authorized_code': app.preAuthorizedCode, client_id: app.holder.did });
  expect(tokenRes.status).toBe(200);
  const token = (await tokenRes.json()) as { access_token: string; c_nonce: string };
  const bearer = { ...json, authorization: `Bearer ${token.access_token}` };
  const nonce = async () => ((await (await post('/oid4vci/nonce', undefined, {})).json()) as { c_nonce: string }).c_nonce;
  /** An OID4VCI 1.0 request with a fresh Nonce Endpoint nonce. */
  const v1 = async () =>
    post(
      '/oid4vci/credential',
      { credential_configuration_id: CONFIG_ID, proofs: { jwt: [await app.holder.createProofJwt({ audience: PUBLIC_URL, nonce: await nonce() })] } },
      bearer,
    );
  const issuedCount = async () => (await t.deps.store.credentialStatus.listForSubject(app.holder.did)).length;
  return { t, ...app, post, token, bearer, nonce, v1, issuedCount };
}

describe('one decision, one credential', () => {
  it('a second request with the same access token and a fresh nonce is credential_request_denied', async () => {
    const s = await setup();
    expect((await s.v1()).status).toBe(200);
    for (let i = 0; i < 4; i++) {
      const again = await s.v1();
      expect(again.status).toBe(400);
      expect(((await again.json()) as { error: string }).error).toBe('credential_request_denied');
    }
    expect(await s.issuedCount()).toBe(1);
    expect(await s.t.deps.store.issuedCredentials.count()).toBe(1);
  });

  it('the draft-13 shape too (the token c_nonce, then the c_nonce of each answer)', async () => {
    const s = await setup();
    const request = async (nonce: string) =>
      s.post(
        '/oid4vci/credential',
        {
          format: 'jwt_vc_json',
          credential_definition: { type: ['VerifiableCredential', 'KnownCustomerCredential'] },
          proof: { proof_type: 'jwt', jwt: await s.holder.createProofJwt({ audience: PUBLIC_URL, nonce }) },
        },
        s.bearer,
      );
    expect((await request(s.token.c_nonce)).status).toBe(200);
    const again = await request(await s.nonce());
    expect(((await again.json()) as { error: string }).error).toBe('credential_request_denied');
    expect(await s.issuedCount()).toBe(1);
  });

  it('50 parallel requests, each with its own fresh nonce, give one KCC', async () => {
    const s = await setup();
    const answers = await Promise.all(Array.from({ length: 50 }, () => s.v1()));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((x) => x === 200)).toHaveLength(1);
    const errors = await Promise.all(answers.filter((r) => r.status !== 200).map(async (r) => ((await r.json()) as { error: string }).error));
    expect(new Set(errors)).toEqual(new Set(['credential_request_denied']));
    expect(await s.issuedCount()).toBe(1);
    expect(await s.t.deps.store.issuedCredentials.count()).toBe(1);
  });

  it('deferred: several transactions for one application, 50 parallel collections → one KCC', async () => {
    const s = await setup('Review');
    const transactions: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await s.v1();
      expect(res.status).toBe(202);
      transactions.push(((await res.json()) as { transaction_id: string }).transaction_id);
    }
    const [application] = (
      (await (await s.t.app.request(`${PUBLIC_URL}/admin/applications?status=review`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as {
        applications: { id: string }[];
      }
    ).applications;
    const decided = await s.post(
      `/admin/applications/${application.id}/decision`,
      { decision: 'approve' },
      { ...json, authorization: `Bearer ${ADMIN_TOKEN}` },
    );
    expect(decided.status).toBe(200);
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => s.post('/oid4vci/deferred-credential', { transaction_id: transactions[i % 3] }, s.bearer)),
    );
    expect(answers.filter((r) => r.status === 200)).toHaveLength(1);
    const errors = await Promise.all(answers.filter((r) => r.status !== 200).map(async (r) => ((await r.json()) as { error: string }).error));
    expect(new Set(errors)).toEqual(new Set(['invalid_transaction_id']));
    expect(await s.issuedCount()).toBe(1);
    // The credential endpoint is closed for this application as well.
    expect(((await (await s.v1()).json()) as { error: string }).error).toBe('credential_request_denied');
  });

  it('a claim whose credential could not be signed is released for the next request', async () => {
    const s = await setup();
    const sign = s.t.deps.issuer.signer.sign.bind(s.t.deps.issuer.signer);
    let fail = true;
    (s.t.deps.issuer.signer as { sign: typeof sign }).sign = async (...args) => {
      if (fail) {
        fail = false;
        throw new Error('HSM unavailable');
      }
      return sign(...args);
    };
    expect((await s.v1()).status).toBe(500);
    expect((await s.v1()).status).toBe(200);
  });
});
