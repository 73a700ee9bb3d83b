import { describe, expect, it } from 'vitest';
import { signJwt } from '../../src/crypto/jwt';
import { applyUntilOffer, PRE_AUTH_GRANT } from '../helpers/application';
import { makeTestIssuer, PUBLIC_URL } from '../helpers/issuer';

/**
 * The proof JWT's `iss` (src/protocol/oid4vci/verifyProofJwt.ts, docs/interop.md): REQUIRED in
 * draft-13 requests (the spec's proof claims), optional in OID4VCI 1.0 requests; when present it
 * is the applicant DID in both.
 */
const json = { 'content-type': 'application/json' };

async function setup() {
  const t = await makeTestIssuer();
  const app = await applyUntilOffer(PUBLIC_URL, t.fetch);
  const post = (path: string, body: unknown, headers: Record<string, string> = json) =>
    t.app.request(`${PUBLIC_URL}${path}`, { method: 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const token = (await (
    await post('/oauth2/token', { grant_type: PRE_AUTH_GRANT, 'pre-authorized_code': app.preAuthorizedCode, client_id: app.holder.did })
  ).json()) as { access_token: string; c_nonce: string };
  const bearer = { ...json, authorization: `Bearer ${token.access_token}` };
  const proof = (nonce: string, claims: Record<string, unknown> = {}) =>
    signJwt(app.holder.signer, { aud: PUBLIC_URL, iat: Math.floor(Date.now() / 1000), nonce, ...claims }, { typ: 'openid4vci-proof+jwt' });
  const draft13 = async (jwt: string) => {
    const r = await post('/oid4vci/credential', { format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt } }, bearer);
    return { status: r.status, body: (await r.json()) as any };
  };
  const v1 = async (jwt: string) => {
    const r = await post('/oid4vci/credential', { credential_configuration_id: 'KnownCustomerCredential', proofs: { jwt: [jwt] } }, bearer);
    return { status: r.status, body: (await r.json()) as any };
  };
  const nonce = async () => ((await (await post('/oid4vci/nonce', undefined, {})).json()) as { c_nonce: string }).c_nonce;
  return { ...app, token, proof, draft13, v1, nonce };
}

describe('proof JWT iss', () => {
  it('draft 13: a proof without iss is invalid_proof (with a fresh c_nonce); with iss = the applicant DID it issues', async () => {
    const s = await setup();
    const refused = await s.draft13(await s.proof(s.token.c_nonce));
    expect(refused).toMatchObject({ status: 400, body: { error: 'invalid_proof', error_description: expect.stringMatching(/iss/) } });
    expect(refused.body.c_nonce).toEqual(expect.any(String));
    expect((await s.draft13(await s.proof(refused.body.c_nonce, { iss: s.holder.did }))).status).toBe(200);
  });

  it('OID4VCI 1.0: iss may be omitted', async () => {
    const s = await setup();
    expect((await s.v1(await s.proof(await s.nonce()))).status).toBe(200);
  });

  it('both profiles: an iss other than the applicant DID is invalid_proof', async () => {
    const s = await setup();
    expect((await s.v1(await s.proof(await s.nonce(), { iss: 'did:example:someone-else' }))).body.error).toBe('invalid_proof');
    expect((await s.draft13(await s.proof(s.token.c_nonce, { iss: 'did:example:someone-else' }))).body.error).toBe('invalid_proof');
  });

  it('the reference wallet always sends iss', async () => {
    const s = await setup();
    expect((await s.draft13(await s.holder.createProofJwt({ audience: PUBLIC_URL, nonce: s.token.c_nonce }))).status).toBe(200);
  });
});
