import { describe, expect, it } from 'vitest';
import { base64urlEncode } from '../../../src/crypto/base64url';
import { decodeJwt, signJwt } from '../../../src/crypto/jwt';
import { Holder } from '../../../src/wallet/holder';
import { PUBLIC_URL, makeTestIssuer, testClock } from '../../helpers/issuer';
import { credentialRequest, deferredRequest, openApplication, proofBody, redeem, submitIdentity } from '../../helpers/steps';

const PFI_DID = 'did:web:issuer.test';

async function approvedWithToken(options: { clock?: ReturnType<typeof testClock> } = {}) {
  const t = await makeTestIssuer({ clock: options.clock });
  const { holder, client, idvRequest, code } = await openApplication(t);
  await submitIdentity(t, client, idvRequest);
  const token = await redeem(t, holder, code);
  return { t, holder, token };
}

function proofJwt(holder: Holder, claims: Record<string, unknown>, header: Record<string, unknown> = { typ: 'openid4vci-proof+jwt' }) {
  return signJwt(holder.signer, claims, header);
}

function expectInvalidProof(r: { status: number; body: any; headers: Headers }, fragment?: RegExp) {
  expect(r.status).toBe(400);
  expect(r.body.error).toBe('invalid_proof');
  // OID4VCI draft 13 §7.3.2: a fresh c_nonce comes with invalid_proof.
  expect(r.body.c_nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(Number.isInteger(r.body.c_nonce_expires_in)).toBe(true);
  expect(r.headers.get('cache-control')).toBe('no-store');
  if (fragment) expect(r.body.error_description).toMatch(fragment);
}

describe('credential endpoint', () => {
  it('issues with proof aud = the issuer URL or the PFI DID, and credential_definition instead of/with format', async () => {
    const { t, holder, token } = await approvedWithToken();
    const a = await credentialRequest(t, token.access_token, await proofBody(holder, token.c_nonce, PFI_DID));
    expect(a.status).toBe(200);
    expect(a.headers.get('cache-control')).toBe('no-store');
    expect(decodeJwt(a.body.credential).payload.sub).toBe(holder.did);
    // A second credential needs a fresh nonce: the first c_nonce is spent.
    const spent = await credentialRequest(t, token.access_token, await proofBody(holder, token.c_nonce, PUBLIC_URL));
    expectInvalidProof(spent, /c_nonce/);
    // One decision, one credential: the fresh nonce passes the proof check, the same credential again.
    const again = await credentialRequest(t, token.access_token, await proofBody(holder, spent.body.c_nonce, PUBLIC_URL));
    expect(again.status).toBe(200);
    expect(again.body.credential).toBe(a.body.credential);
    const other = await approvedWithToken();
    const b = await credentialRequest(other.t, other.token.access_token, {
      credential_definition: { type: ['VerifiableCredential', 'KnownCustomerCredential'] },
      proof: { proof_type: 'jwt', jwt: await other.holder.createProofJwt({ audience: PUBLIC_URL, nonce: other.token.c_nonce }) },
    });
    expect(b.status).toBe(200);
  });

  it('refuses a proof with a wrong nonce, and the fresh c_nonce it returns works', async () => {
    const { t, holder, token } = await approvedWithToken();
    const r = await credentialRequest(t, token.access_token, await proofBody(holder, 'wrong-nonce'));
    expectInvalidProof(r, /c_nonce/);
    const ok = await credentialRequest(t, token.access_token, await proofBody(holder, r.body.c_nonce));
    expect(ok.status).toBe(200);
  });

  it('refuses a replayed c_nonce (one proof per nonce)', async () => {
    const { t, holder, token } = await approvedWithToken();
    const body = await proofBody(holder, token.c_nonce);
    expect((await credentialRequest(t, token.access_token, body)).status).toBe(200);
    expectInvalidProof(await credentialRequest(t, token.access_token, body), /c_nonce/);
  });

  it('refuses a proof with the wrong aud', async () => {
    const { t, holder, token } = await approvedWithToken();
    expectInvalidProof(await credentialRequest(t, token.access_token, await proofBody(holder, token.c_nonce, 'https://evil.example')), /aud/);
  });

  it('refuses a proof with the wrong typ (or none)', async () => {
    const { t, holder, token } = await approvedWithToken();
    const now = Math.floor(Date.now() / 1000);
    for (const header of [{ typ: 'JWT' }, {}, { typ: 'at+jwt' }]) {
      const jwt = await proofJwt(holder, { iss: holder.did, aud: PUBLIC_URL, iat: now, nonce: token.c_nonce }, header);
      expectInvalidProof(await credentialRequest(t, token.access_token, { format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt } }), /typ/);
    }
  });

  it('refuses a proof whose kid is another DID (even one signed correctly by that DID)', async () => {
    const { t, holder, token } = await approvedWithToken();
    const other = await Holder.create();
    const r = await credentialRequest(t, token.access_token, await proofBody(other, token.c_nonce));
    expectInvalidProof(r, /kid/);
    // And the nonce was not consumed by the failed attempt.
    expect((await credentialRequest(t, token.access_token, await proofBody(holder, token.c_nonce))).status).toBe(200);
  });

  it('refuses a proof with a kid that is not a DID URL, a forged signature, a stale iat, or a wrong iss', async () => {
    const { t, holder, token } = await approvedWithToken();
    const now = Math.floor(Date.now() / 1000);
    const base = { iss: holder.did, aud: PUBLIC_URL, iat: now, nonce: token.c_nonce };
    const noFragment = await signJwt({ ...holder.signer, kid: holder.did, sign: (d) => holder.signer.sign(d) }, base, { typ: 'openid4vci-proof+jwt' });
    expectInvalidProof(await credentialRequest(t, token.access_token, { format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt: noFragment } }), /kid/);
    const good = await proofJwt(holder, base);
    const [h, p] = good.split('.');
    const forged = `${h}.${p}.${base64urlEncode(new Uint8Array(64))}`;
    expectInvalidProof(await credentialRequest(t, token.access_token, { format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt: forged } }), /signature/);
    const stale = await proofJwt(holder, { ...base, iat: now - 3600 });
    expectInvalidProof(await credentialRequest(t, token.access_token, { format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt: stale } }), /old/);
    const wrongIss = await proofJwt(holder, { ...base, iss: 'did:web:else.example' });
    expectInvalidProof(await credentialRequest(t, token.access_token, { format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt: wrongIss } }), /iss/);
    // A proof built a minute in the past (Sphereon) is fine.
    const minuteAgo = await proofJwt(holder, { ...base, iat: now - 60 });
    expect((await credentialRequest(t, token.access_token, { format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt: minuteAgo } })).status).toBe(200);
  });

  it('answers credential request errors: format, type, proof_type, missing proof', async () => {
    const { t, holder, token } = await approvedWithToken();
    const jwt = await holder.createProofJwt({ audience: PUBLIC_URL, nonce: token.c_nonce });
    const cases: Array<[unknown, string]> = [
      [{ format: 'ldp_vc', proof: { proof_type: 'jwt', jwt } }, 'unsupported_credential_format'],
      [
        { format: 'jwt_vc_json', credential_definition: { type: ['VerifiableCredential', 'UniversityDegree'] }, proof: { proof_type: 'jwt', jwt } },
        'unsupported_credential_type',
      ],
      [{ proof: { proof_type: 'jwt', jwt } }, 'invalid_credential_request'],
      [{ format: 'jwt_vc_json', proof: { proof_type: 'cwt', jwt } }, 'invalid_proof'],
      [{ format: 'jwt_vc_json' }, 'invalid_proof'],
      [{ format: 42 }, 'invalid_credential_request'],
    ];
    for (const [body, error] of cases) {
      const r = await credentialRequest(t, token.access_token, body);
      expect({ body, status: r.status, error: r.body.error }).toEqual({ body, status: 400, error });
    }
  });

  it('requires a valid bearer access token (RFC 6750)', async () => {
    const clock = testClock();
    const { t, holder, token } = await approvedWithToken({ clock });
    const body = await proofBody(holder, token.c_nonce);
    const missing = await credentialRequest(t, undefined, body);
    expect(missing.status).toBe(401);
    expect(missing.body.error).toBe('invalid_token');
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const tampered = await credentialRequest(t, `${token.access_token.slice(0, -4)}AAAA`, body);
    expect(tampered.status).toBe(401);
    // The ID token / proof are not access tokens.
    const proofAsToken = await credentialRequest(t, body.proof.jwt, body);
    expect(proofAsToken.status).toBe(401);
    clock.advance(24 * 3600 + 1);
    const expired = await credentialRequest(t, token.access_token, body);
    expect(expired.status).toBe(401);
    expect(expired.body.error_description).toMatch(/expired/);
  });

  it('a token from another issuer key (not published) is refused', async () => {
    const a = await approvedWithToken();
    const b = await approvedWithToken();
    const r = await credentialRequest(a.t, b.token.access_token, await proofBody(b.holder, b.token.c_nonce));
    expect(r.status).toBe(401);
  });
});

describe('deferred credential endpoint', () => {
  it("unknown transaction ids and other applications' transactions are invalid_transaction_id", async () => {
    const t = await makeTestIssuer();
    const a = await openApplication(t);
    const b = await openApplication(t);
    const ta = await redeem(t, a.holder, a.code);
    const tb = await redeem(t, b.holder, b.code);
    const tx = await credentialRequest(t, ta.access_token, await proofBody(a.holder, ta.c_nonce));
    expect(tx.status).toBe(202);
    expect((await deferredRequest(t, ta.access_token, 'nope')).body.error).toBe('invalid_transaction_id');
    const stolen = await deferredRequest(t, tb.access_token, tx.body.transaction_id);
    expect(stolen.status).toBe(400);
    expect(stolen.body.error).toBe('invalid_transaction_id');
    const res = await t.fetch(`${PUBLIC_URL}/oid4vci/deferred-credential`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ta.access_token}` },
      body: '{}',
    });
    expect(((await res.json()) as any).error).toBe('invalid_transaction_id');
    expect(
      (await t.fetch(`${PUBLIC_URL}/oid4vci/deferred-credential`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status,
    ).toBe(401);
  });

  it('concurrent deferred requests for one approved transaction issue exactly one credential', async () => {
    const t = await makeTestIssuer();
    const { holder, client, idvRequest, code } = await openApplication(t);
    const token = await redeem(t, holder, code);
    const tx = await credentialRequest(t, token.access_token, await proofBody(holder, token.c_nonce));
    await submitIdentity(t, client, idvRequest);
    const results = await Promise.all(Array.from({ length: 20 }, () => deferredRequest(t, token.access_token, tx.body.transaction_id)));
    // Every answer is the one credential (a collection whose answer was lost can be repeated).
    expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
    expect(new Set(results.map((r) => r.body.credential)).size).toBe(1);
    expect(await t.deps.store.issuedCredentials.count()).toBe(1);
    // The used transaction and the credential record were written together.
    const tx1 = t.sqlite.prepare('SELECT credential_id FROM transactions').get() as { credential_id: string };
    const cred = t.sqlite.prepare('SELECT id, transaction_id FROM issued_credentials').get() as { id: string; transaction_id: string };
    expect(cred).toEqual({ id: tx1.credential_id, transaction_id: tx.body.transaction_id });
    const winner = results.find((r) => r.status === 200)!;
    expect(decodeJwt(winner.body.credential).payload.jti).toBe(cred.id);
  });
});
