import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../../src/config';
import { decodeJwt } from '../../../src/crypto/jwt';
import { Holder } from '../../../src/wallet/holder';
import { PUBLIC_URL, makeTestIssuer, testClock } from '../../helpers/issuer';
import { PRE_AUTH, credentialRequest, openApplication, proofBody, redeem, tokenRequest } from '../../helpers/steps';

describe('token endpoint: pre-authorized code grant', () => {
  it('issues an at+jwt access token with the spec claims and the right response', async () => {
    const clock = testClock();
    const t = await makeTestIssuer({ clock });
    const { holder, code } = await openApplication(t);
    const r = await tokenRequest(t, { grant_type: PRE_AUTH, 'pre-authorized_code': code, client_id: holder.did });
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.headers.get('pragma')).toBe('no-cache');
    expect(r.body.token_type).toBe('bearer');
    expect(Number.isInteger(r.body.expires_in)).toBe(true);
    expect(Number.isInteger(r.body.c_nonce_expires_in)).toBe(true);
    expect(r.body.c_nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const at = decodeJwt(r.body.access_token);
    expect(at.header).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt', kid: 'did:web:issuer.test#key-1' });
    const now = Math.floor(clock() / 1000);
    expect(at.payload).toMatchObject({
      iss: 'did:web:issuer.test',
      aud: 'did:web:issuer.test',
      sub: holder.did,
      client_id: holder.did,
      iat: now,
      exp: now + r.body.expires_in,
      c_nonce: r.body.c_nonce,
      c_nonce_expiry: now + r.body.c_nonce_expires_in,
    });
    expect(at.payload.jti).toEqual(expect.any(String));
  });

  it('accepts a form body with the code unencoded (base64url codes survive naive encoders)', async () => {
    const t = await makeTestIssuer();
    const { holder, code } = await openApplication(t);
    const raw = `grant_type=${encodeURIComponent(PRE_AUTH)}&pre-authorized_code=${code}&client_id=${encodeURIComponent(holder.did)}`;
    const res = await t.fetch(`${PUBLIC_URL}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: raw });
    expect(res.status).toBe(200);
  });

  it('a replayed code is refused with invalid_grant and revokes the token issued from it', async () => {
    const t = await makeTestIssuer();
    const { holder, code } = await openApplication(t);
    const token = await redeem(t, holder, code);
    const replay = await tokenRequest(t, { grant_type: PRE_AUTH, 'pre-authorized_code': code, client_id: holder.did });
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    const r = await credentialRequest(t, token.access_token, await proofBody(holder, token.c_nonce));
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('invalid_token');
  });

  it('a code presented with another DID as client_id is refused, and stays usable by its owner', async () => {
    const t = await makeTestIssuer();
    const { holder, code } = await openApplication(t);
    const thief = await Holder.create();
    const r = await tokenRequest(t, { grant_type: PRE_AUTH, 'pre-authorized_code': code, client_id: thief.did });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_grant');
    expect((await tokenRequest(t, { grant_type: PRE_AUTH, 'pre-authorized_code': code, client_id: holder.did })).status).toBe(200);
  });

  it('an expired code is refused', async () => {
    const clock = testClock();
    const t = await makeTestIssuer({ clock });
    const { holder, code } = await openApplication(t);
    clock.advance(DEFAULTS.ttl.preAuthorizedCode + 60);
    const r = await tokenRequest(t, { grant_type: PRE_AUTH, 'pre-authorized_code': code, client_id: holder.did });
    expect(r.body.error).toBe('invalid_grant');
  });

  it('answers RFC 6749 errors for bad requests', async () => {
    const t = await makeTestIssuer();
    const { holder, code } = await openApplication(t);
    const cases: Array<[Record<string, string>, number, string]> = [
      [{ grant_type: 'authorization_code', code: 'x' }, 400, 'unsupported_grant_type'],
      [{ grant_type: PRE_AUTH, client_id: holder.did }, 400, 'invalid_request'],
      [{ grant_type: PRE_AUTH, 'pre-authorized_code': code, client_id: 'not-a-did' }, 400, 'invalid_client'],
      [{ grant_type: PRE_AUTH, 'pre-authorized_code': 'unknown', client_id: holder.did }, 400, 'invalid_grant'],
      [{}, 400, 'invalid_request'],
    ];
    for (const [body, status, error] of cases) {
      const r = await tokenRequest(t, body);
      expect({ body, status: r.status, error: r.body.error }).toEqual({ body, status, error });
      expect(typeof r.body.error_description).toBe('string');
    }
    // A repeated form parameter is refused (RFC 6749 §3.2).
    const res = await t.fetch(`${PUBLIC_URL}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=${encodeURIComponent(PRE_AUTH)}&pre-authorized_code=${code}&pre-authorized_code=other&client_id=${encodeURIComponent(holder.did)}`,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error).toBe('invalid_request');
    // The code survived all of that.
    expect((await tokenRequest(t, { grant_type: PRE_AUTH, 'pre-authorized_code': code, client_id: holder.did })).status).toBe(200);
  });

  it('accepts a token request without client_id: the code is bound to the applicant DID anyway', async () => {
    const t = await makeTestIssuer();
    const { holder, code } = await openApplication(t);
    const r = await tokenRequest(t, { grant_type: PRE_AUTH, 'pre-authorized_code': code });
    expect(r.status).toBe(200);
    expect(decodeJwt(r.body.access_token).payload.sub).toBe(holder.did);
  });

  it('accepts tx_code / user_pin sent empty (Sphereon sends both)', async () => {
    const t = await makeTestIssuer();
    const { holder, code } = await openApplication(t);
    const r = await tokenRequest(t, { grant_type: PRE_AUTH, 'pre-authorized_code': code, client_id: holder.did, tx_code: '', user_pin: '' }, 'form');
    expect(r.status).toBe(200);
  });

  it('50 concurrent redemptions of one code yield exactly one token', async () => {
    const t = await makeTestIssuer();
    const { holder, code } = await openApplication(t);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => tokenRequest(t, { grant_type: PRE_AUTH, 'pre-authorized_code': code, client_id: holder.did })),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    expect(results.filter((r) => r.status === 400 && r.body.error === 'invalid_grant')).toHaveLength(49);
  });
});
