/**
 * RFC 8725 / OAuth Security BCP attacks on every JWT the issuer accepts: the SIOP ID token,
 * the proof JWT and the access token. Each must be refused with the spec's error for that
 * token (invalid_request / invalid_proof / invalid_token), never accepted and never a 500.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { base64urlDecode, base64urlEncode, utf8 } from '../../src/crypto/base64url';
import { decodeJwt, signJwt } from '../../src/crypto/jwt';
import type { Signer } from '../../src/crypto/keys';
import { SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { PUBLIC_URL, makeTestIssuer } from '../helpers/issuer';
import { credentialRequest, getSiopRequest, openApplication, postIdToken, redeem, submitIdentity, walletFor, type TestIssuer } from '../helpers/steps';

const PFI = 'did:web:issuer.test';
const enc = (o: unknown) => base64urlEncode(JSON.stringify(o));
const now = () => Math.floor(Date.now() / 1000);

/** A compact JWS from raw parts, signed by `signer` over exactly these header/payload bytes. */
async function rawJws(headerJson: string, payloadJson: string, signer?: Signer): Promise<string> {
  const input = `${base64urlEncode(headerJson)}.${base64urlEncode(payloadJson)}`;
  const sig = signer ? base64urlEncode(await signer.sign(utf8.encode(input))) : '';
  return `${input}.${sig}`;
}

async function hmac(keyBytes: Uint8Array, input: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', keyBytes as Uint8Array<ArrayBuffer>, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return base64urlEncode(new Uint8Array(await crypto.subtle.sign('HMAC', key, utf8.encode(input))));
}

interface Attack {
  name: string;
  make: () => Promise<string>;
}

/** Variations of a valid token (header, claims) signed by `signer`, covering the RFC 8725 list. */
function attacksOn(input: {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  signer: Signer;
  victimSigner: Signer;
  otherTokens: () => Promise<Record<string, string>>;
}): Attack[] {
  const { header, claims, signer } = input;
  const h = { ...header, alg: signer.alg, kid: signer.kid };
  const sign = (hh: Record<string, unknown>, cc: Record<string, unknown>) => rawJws(JSON.stringify(hh), JSON.stringify(cc), signer);
  const t = now();
  return [
    { name: 'alg none, empty signature', make: async () => `${enc({ ...h, alg: 'none' })}.${enc(claims)}.` },
    {
      name: 'alg none, signature kept',
      make: async () => {
        const [, p, s] = (await sign(h, claims)).split('.');
        return `${enc({ ...h, alg: 'none' })}.${p}.${s}`;
      },
    },
    {
      name: 'alg confusion: HS256 keyed with the public key',
      make: async () => {
        const hh = enc({ ...h, alg: 'HS256' });
        const input2 = `${hh}.${enc(claims)}`;
        return `${input2}.${await hmac(base64urlDecode(signer.publicJwk.x), input2)}`;
      },
    },
    {
      name: 'alg confusion: HS256 keyed with the JWK JSON',
      make: async () => {
        const hh = enc({ ...h, alg: 'HS256' });
        const input2 = `${hh}.${enc(claims)}`;
        return `${input2}.${await hmac(utf8.encode(JSON.stringify(signer.publicJwk)), input2)}`;
      },
    },
    {
      name: 'alg not matching the key type (ES256K header, Ed25519 key)',
      make: () => sign({ ...h, alg: signer.alg === 'EdDSA' ? 'ES256K' : 'EdDSA' }, claims),
    },
    { name: 'RS256', make: () => sign({ ...h, alg: 'RS256' }, claims) },
    { name: 'kid of another DID (signed by us)', make: () => sign({ ...h, kid: input.victimSigner.kid }, claims) },
    { name: 'jwk header supplies the key', make: () => sign({ ...h, kid: input.victimSigner.kid, jwk: signer.publicJwk }, claims) },
    { name: 'jku header supplies the key', make: () => sign({ ...h, kid: input.victimSigner.kid, jku: 'https://evil.example/jwks' }, claims) },
    { name: 'x5u header supplies the key', make: () => sign({ ...h, kid: input.victimSigner.kid, x5u: 'https://evil.example/cert' }, claims) },
    { name: 'crit header', make: () => sign({ ...h, crit: ['exp'] }, claims) },
    { name: 'signature stripped', make: async () => `${(await sign(h, claims)).split('.').slice(0, 2).join('.')}.` },
    { name: 'two parts only', make: async () => (await sign(h, claims)).split('.').slice(0, 2).join('.') },
    {
      name: 'truncated',
      make: async () => {
        const s = await sign(h, claims);
        return s.slice(0, s.length - 10);
      },
    },
    { name: 'oversized', make: () => sign(h, { ...claims, pad: 'x'.repeat(40_000) }) },
    {
      name: 'bad base64url (padding)',
      make: async () => {
        const [a, b, c] = (await sign(h, claims)).split('.');
        return `${a}.${b}==.${c}`;
      },
    },
    {
      name: 'bad base64url (+ and /)',
      make: async () => {
        const [a, b, c] = (await sign(h, claims)).split('.');
        return `${a}.${b}.${c.replace(/-/g, '+').replace(/_/g, '/')}+/`;
      },
    },
    {
      name: 'signature of another token',
      make: async () => {
        const [a, b] = (await sign(h, claims)).split('.');
        const [, , c] = (await sign(h, { ...claims, extra: 1 })).split('.');
        return `${a}.${b}.${c}`;
      },
    },
    {
      name: 'duplicate JSON keys in the payload',
      // The first member (iss) appears twice: parsers disagree on which wins (RFC 8725 §3.6 territory).
      make: () =>
        rawJws(JSON.stringify(h), JSON.stringify(claims).replace(/^\{/, `{"${Object.keys(claims)[0]}":"${input.victimSigner.kid.split('#')[0]}",`), signer),
    },
    { name: 'duplicate JSON keys in the header', make: () => rawJws(JSON.stringify(h).replace(/^\{/, '{"alg":"none",'), JSON.stringify(claims), signer) },
    { name: 'exp beyond skew', make: () => sign(h, { ...claims, iat: t - 600, exp: t - 120 }) },
    { name: 'nbf beyond skew', make: () => sign(h, { ...claims, nbf: t + 600 }) },
    { name: 'iat in the future beyond skew', make: () => sign(h, { ...claims, iat: t + 600, exp: t + 900 }) },
    { name: 'exp not a number', make: () => sign(h, { ...claims, exp: 'tomorrow' }) },
    { name: 'aud array without us', make: () => sign(h, { ...claims, aud: ['did:web:evil.example', 'https://evil.example'] }) },
    { name: 'aud empty array', make: () => sign(h, { ...claims, aud: [] }) },
    {
      name: 'aud missing',
      make: () => {
        const c = { ...claims };
        delete c.aud;
        return sign(h, c);
      },
    },
    { name: 'header is an array', make: () => rawJws('[1,2]', JSON.stringify(claims), signer) },
    { name: 'payload is not JSON', make: () => rawJws(JSON.stringify(h), 'not json', signer) },
    {
      name: 'payload is invalid UTF-8',
      make: async () => `${enc(h)}.${base64urlEncode(new Uint8Array([0xff, 0xfe, 0xfd]))}.${base64urlEncode(new Uint8Array(64))}`,
    },
    { name: 'empty string', make: async () => '' },
    ...['wrongA', 'wrongB'].map((_, i) => ({
      name: i === 0 ? 'wrong typ' : 'typ of another token kind',
      make: () => sign({ ...h, typ: i === 0 ? 'foo+jwt' : header.typ === 'at+jwt' ? 'openid4vci-proof+jwt' : 'at+jwt' }, claims),
    })),
  ];
}

describe('token attacks', () => {
  let t: TestIssuer;
  let holder: Holder;
  let victim: Holder;
  let accessToken: string;
  let kcc: string;
  let cNonce: string;
  let idToken: string;
  let proof: string;

  beforeAll(async () => {
    t = await makeTestIssuer();
    victim = await Holder.create();
    const app = await openApplication(t);
    holder = app.holder;
    await submitIdentity(t, app.client, app.idvRequest, SAMPLE_IDENTITY);
    const token = await redeem(t, holder, app.code);
    accessToken = token.access_token;
    const issued = await credentialRequest(t, accessToken, {
      format: 'jwt_vc_json',
      proof: { proof_type: 'jwt', jwt: await holder.createProofJwt({ audience: PUBLIC_URL, nonce: token.c_nonce }) },
    });
    kcc = issued.body.credential;
    // A fresh nonce for the proof attacks (returned with an invalid_proof).
    const r = await credentialRequest(t, accessToken, { format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt: 'x.y.z' } });
    cNonce = r.body.c_nonce;
    idToken = await holder.createIdToken({ clientId: PFI, nonce: 'n' });
    proof = await holder.createProofJwt({ audience: PUBLIC_URL, nonce: cNonce });
  });

  it('on the SIOP ID token: every attack is invalid_request', async () => {
    const { client } = await walletFor(t, holder);
    let tried = 0;
    // Each attack gets its own live request, so nonce reuse never masks the check under test.
    const base = () => ({ iss: holder.did, sub: holder.did, aud: PFI, iat: now(), exp: now() + 300 });
    for (const attack of attacksOn({
      header: { typ: 'JWT' },
      claims: { ...base(), nonce: 'placeholder' },
      signer: holder.signer,
      victimSigner: victim.signer,
      otherTokens: async () => ({}),
    })) {
      const request = await getSiopRequest(t, client);
      const token = (await attack.make()).replace(base64urlEncode('"placeholder"').slice(0, 0), '');
      // Rebuild with the live nonce where the attack has a well-formed payload.
      const live = token.includes('.') ? await withNonce(token, request.nonce) : token;
      const r = await postIdToken(t, live);
      expect({ attack: attack.name, status: r.status, error: r.body.error }).toEqual({ attack: attack.name, status: 400, error: 'invalid_request' });
      tried++;
    }
    // iss != sub, and other token kinds presented as an ID token.
    const request = await getSiopRequest(t, client);
    for (const [name, token] of [
      ['iss != sub', await signJwt(holder.signer, { ...base(), iss: victim.did, nonce: request.nonce }, { typ: 'JWT' })],
      ['access token as ID token', accessToken],
      ['proof as ID token', proof],
      ['KCC as ID token', kcc],
    ] as const) {
      const r = await postIdToken(t, token);
      expect({ name, status: r.status, error: r.body.error }).toEqual({ name, status: 400, error: 'invalid_request' });
      tried++;
    }
    expect(tried).toBeGreaterThan(30);
    // The untouched request still works: no attack consumed it.
    expect((await postIdToken(t, await holder.createIdToken({ clientId: PFI, nonce: request.nonce }))).status).toBe(200);

    /** Re-signs nothing: only swaps the placeholder nonce inside an attack's payload when it is JSON. */
    async function withNonce(token: string, nonce: string): Promise<string> {
      const [h, p, s] = token.split('.');
      try {
        const text = utf8.decode(base64urlDecode(p));
        if (!text.includes('"placeholder"')) return token;
        // Re-sign with the holder over the modified payload, keeping the attack's header exactly.
        const headerJson = utf8.decode(base64urlDecode(h));
        const payloadJson = text.replace('"placeholder"', JSON.stringify(nonce));
        const resigned = await rawJws(headerJson, payloadJson, holder.signer);
        const [nh, np, ns] = resigned.split('.');
        // Keep the attack's own signature shape (empty, stripped, HMAC…) when it was not ours.
        const oursBefore = await rawJws(headerJson, text, holder.signer);
        return s === oursBefore.split('.')[2] ? `${nh}.${np}.${ns}` : `${nh}.${np}.${s}`;
      } catch {
        return token;
      }
    }
  });

  it('on the proof JWT: every attack is invalid_proof (with a fresh c_nonce)', async () => {
    let nonce = cNonce;
    const attacks = attacksOn({
      header: { typ: 'openid4vci-proof+jwt' },
      claims: { iss: holder.did, aud: PUBLIC_URL, iat: now(), nonce: 'NONCE' },
      signer: holder.signer,
      victimSigner: victim.signer,
      otherTokens: async () => ({}),
    });
    const extra: Attack[] = [
      { name: 'access token as proof', make: async () => accessToken },
      { name: 'ID token as proof', make: async () => idToken },
      { name: 'KCC as proof', make: async () => kcc },
      {
        name: 'iss of another DID',
        make: () => signJwt(holder.signer, { iss: victim.did, aud: PUBLIC_URL, iat: now(), nonce: 'NONCE' }, { typ: 'openid4vci-proof+jwt' }),
      },
      { name: 'nonce missing', make: () => signJwt(holder.signer, { iss: holder.did, aud: PUBLIC_URL, iat: now() }, { typ: 'openid4vci-proof+jwt' }) },
      { name: 'iat missing', make: () => signJwt(holder.signer, { iss: holder.did, aud: PUBLIC_URL, nonce: 'NONCE' }, { typ: 'openid4vci-proof+jwt' }) },
    ];
    for (const attack of [...attacks, ...extra]) {
      let jwt = await attack.make();
      // Put the live c_nonce in well-formed payloads, re-signing only when the original signature was ours.
      const parts = jwt.split('.');
      if (parts.length === 3) {
        try {
          const text = utf8.decode(base64urlDecode(parts[1]));
          if (text.includes('"NONCE"')) {
            const headerJson = utf8.decode(base64urlDecode(parts[0]));
            const ours = (await rawJws(headerJson, text, holder.signer)).split('.')[2] === parts[2];
            const resigned = (await rawJws(headerJson, text.replace('"NONCE"', JSON.stringify(nonce)), holder.signer)).split('.');
            jwt = `${resigned[0]}.${resigned[1]}.${ours ? resigned[2] : parts[2]}`;
          }
        } catch {
          /* malformed on purpose */
        }
      }
      const r = await credentialRequest(t, accessToken, { format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt } });
      expect({ attack: attack.name, status: r.status, error: r.body.error }).toEqual({ attack: attack.name, status: 400, error: 'invalid_proof' });
      expect(r.body.c_nonce).toEqual(expect.any(String));
      nonce = r.body.c_nonce;
    }
    // The live nonce still works for an honest proof: it passes the proof check, and the request
    // meets the one-credential rule (the KCC of this application, issued in beforeAll, again).
    const ok = await credentialRequest(t, accessToken, {
      format: 'jwt_vc_json',
      proof: { proof_type: 'jwt', jwt: await holder.createProofJwt({ audience: PUBLIC_URL, nonce }) },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.credential).toEqual(expect.any(String));
  });

  it('on the access token: every attack is 401 invalid_token', async () => {
    const decoded = decodeJwt(accessToken);
    const pfiSigner = t.deps.issuer.signer;
    const attackerIssuer = await makeTestIssuer(); // same DID (same PUBLIC_URL), different key
    // Attacks signed by an attacker's key, claiming the PFI's kid where they name a victim.
    const attacks = attacksOn({
      header: { typ: 'at+jwt' },
      claims: decoded.payload,
      signer: victim.signer,
      victimSigner: pfiSigner,
      otherTokens: async () => ({}),
    });
    const t0 = now();
    const ours =
      (claims: Record<string, unknown>, header: Record<string, unknown> = { typ: 'at+jwt' }) =>
      () =>
        signJwt(pfiSigner, { ...decoded.payload, ...claims }, header);
    const extra: Attack[] = [
      { name: 'ID token as access token', make: async () => idToken },
      { name: 'proof as access token', make: async () => proof },
      { name: 'KCC as access token', make: async () => kcc },
      {
        name: 'signed by another issuer key with our kid',
        make: () =>
          signJwt({ ...attackerIssuer.deps.issuer.signer, kid: pfiSigner.kid, sign: (d) => attackerIssuer.deps.issuer.signer.sign(d) }, decoded.payload, {
            typ: 'at+jwt',
          }),
      },
      { name: 'our key, forged jti', make: ours({ jti: 'forged' }) },
      { name: 'our key, another subject', make: ours({ sub: victim.did }) },
      { name: 'our key, wrong issuer', make: ours({ iss: 'did:web:evil.example' }) },
      { name: 'our key, wrong audience', make: ours({ aud: 'did:web:evil.example' }) },
      { name: 'our key, aud array without us', make: ours({ aud: ['did:web:evil.example'] }) },
      { name: 'our key, expired', make: ours({ iat: t0 - 7200, exp: t0 - 1 }) },
      { name: 'our key, not yet valid', make: ours({ nbf: t0 + 3600 }) },
      { name: 'our key, no exp', make: ours({ exp: undefined }) },
      { name: 'our key, typ JWT', make: ours({}, { typ: 'JWT' }) },
      { name: 'our key, no typ', make: ours({}, {}) },
      { name: 'our key, crit header', make: ours({}, { typ: 'at+jwt', crit: ['x'] }) },
      // The issued token's bytes with one signature character changed: its recorded digest no
      // longer matches, so the signature is verified (and fails).
      {
        name: 'the issued token, signature altered',
        make: async () => accessToken.slice(0, -2) + (accessToken.at(-2) === 'A' ? 'B' : 'A') + accessToken.at(-1),
      },
      {
        name: 'the issued token, claims re-encoded (same JSON, other bytes)',
        make: async () => {
          const [a, _b, c] = accessToken.split('.');
          return `${a}.${base64urlEncode(JSON.stringify(decodeJwt(accessToken).payload, null, 1))}.${c}`;
        },
      },
    ];
    const body = { format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt: proof } };
    for (const attack of [...attacks, ...extra]) {
      const token = await attack.make();
      const res = await t.fetch(`${PUBLIC_URL}/oid4vci/credential`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as any;
      expect({ attack: attack.name, status: res.status, error: json.error }).toEqual({ attack: attack.name, status: 401, error: 'invalid_token' });
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    for (const header of ['Basic abc', 'Bearer', `bearer  ${accessToken} extra`, `Bearer ${accessToken},${accessToken}`, `Bearer ${'a'.repeat(10_000)}`]) {
      const res = await t.fetch(`${PUBLIC_URL}/oid4vci/credential`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: header },
        body: JSON.stringify(body),
      });
      expect({ header: header.slice(0, 30), status: res.status }).toEqual({ header: header.slice(0, 30), status: 401 });
    }
  });

  it('authenticates an access token presented exactly as issued by its recorded digest, without verifying our own signature again', async () => {
    const fresh = await makeTestIssuer();
    const app = await openApplication(fresh);
    await submitIdentity(fresh, app.client, app.idvRequest, SAMPLE_IDENTITY);
    const token = await redeem(fresh, app.holder, app.code);
    const stored = fresh.sqlite.prepare('SELECT token_sha256 FROM access_tokens').get() as { token_sha256: string };
    expect(stored.token_sha256).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(stored.token_sha256).not.toContain(token.access_token.split('.')[2]);
    const verify = fresh.deps.crypto.verify.bind(fresh.deps.crypto);
    const verified: string[] = [];
    fresh.deps.crypto.verify = async (alg, jwk, data, signature) => {
      verified.push(jwk.x);
      return verify(alg, jwk, data, signature);
    };
    const proofJwt = await app.holder.createProofJwt({ audience: PUBLIC_URL, nonce: token.c_nonce });
    const issued = await credentialRequest(fresh, token.access_token, { format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt: proofJwt } });
    expect(issued.status).toBe(200);
    // Only the holder's proof was verified; the issuer's own key was not used for the access token.
    expect(verified).not.toContain(fresh.deps.issuer.signer.publicJwk.x);
    expect(verified).toHaveLength(1);
    // A token recorded before digests were kept is verified by its signature, as before.
    fresh.sqlite.prepare('UPDATE access_tokens SET token_sha256 = NULL').run();
    verified.length = 0;
    const again = await credentialRequest(fresh, token.access_token, { format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt: 'x.y.z' } });
    expect(again.body.error).toBe('invalid_proof'); // authenticated: the proof is what failed
    expect(verified).toContain(fresh.deps.issuer.signer.publicJwk.x);
  });
});
