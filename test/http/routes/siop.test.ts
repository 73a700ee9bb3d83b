import { describe, expect, it } from 'vitest';
import { base64urlEncode } from '../../../src/crypto/base64url';
import { decodeJwt, signJwt } from '../../../src/crypto/jwt';
import { createWebCryptoProvider } from '../../../src/crypto/webCrypto';
import { didJwkFromPublicJwk } from '../../../src/did/jwk';
import { Holder } from '../../../src/wallet/holder';
import { PUBLIC_URL, makeTestIssuer, testClock } from '../../helpers/issuer';
import { getSiopRequest, postIdToken, walletFor } from '../../helpers/steps';

const PFI_DID = 'did:web:issuer.test';

async function setup() {
  const clock = testClock();
  const t = await makeTestIssuer({ clock });
  const { holder, client } = await walletFor(t);
  const request = await getSiopRequest(t, client);
  const now = Math.floor(clock() / 1000);
  return { t, clock, holder, client, request, now };
}

/** An ID token with arbitrary claims/headers, signed by `holder`. */
async function idToken(holder: Holder, claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
  return signJwt(holder.signer, claims, { typ: 'JWT', ...header });
}

function expectInvalidRequest(r: { status: number; body: any }, fragment?: RegExp) {
  expect(r.status).toBe(400);
  expect(r.body.error).toBe('invalid_request');
  expect(typeof r.body.error_description).toBe('string');
  if (fragment) expect(r.body.error_description).toMatch(fragment);
}

describe('initiation: the SIOPv2 Authorization Request', () => {
  it('is URI-encoded (query portion only) with every parameter the spec requires, and a signed request object', async () => {
    const t = await makeTestIssuer();
    const res = await t.fetch(`${PUBLIC_URL}/idv/siopv2/initiate`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/x-www-form-urlencoded/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const text = await res.text();
    expect(text.startsWith('client_id=')).toBe(true);
    const p = new URLSearchParams(text);
    expect(p.get('client_id')).toBe(PFI_DID);
    expect(p.get('scope')).toBe('openid');
    expect(p.get('response_type')).toBe('id_token');
    expect(p.get('response_mode')).toBe('direct_post');
    expect(p.get('response_uri')).toBe(`${PUBLIC_URL}/idv/siopv2/response`);
    expect(p.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const meta = JSON.parse(p.get('client_metadata')!);
    expect(meta.subject_syntax_types_supported).toEqual(expect.arrayContaining(['did:jwk', 'did:key']));
    const jar = decodeJwt(p.get('request')!);
    expect(jar.header).toMatchObject({ alg: 'EdDSA', typ: 'oauth-authz-req+jwt', kid: `${PFI_DID}#key-1` });
    // DIDPay reads the parameters as top-level claims of the request object.
    expect(jar.payload).toMatchObject({
      client_id: PFI_DID,
      iss: PFI_DID,
      nonce: p.get('nonce'),
      response_uri: p.get('response_uri'),
      response_mode: 'direct_post',
      response_type: 'id_token',
      scope: 'openid',
      client_metadata: meta,
    });
  });

  it('returns JSON when asked for it, and a fresh nonce each time', async () => {
    const t = await makeTestIssuer();
    const a = (await (await t.fetch(`${PUBLIC_URL}/idv/siopv2/initiate`, { headers: { accept: 'application/json' } })).json()) as any;
    const b = (await (await t.fetch(`${PUBLIC_URL}/idv/siopv2/initiate`, { headers: { accept: 'application/json' } })).json()) as any;
    expect(a.client_id).toBe(PFI_DID);
    expect(a.client_metadata.subject_syntax_types_supported).toBeInstanceOf(Array);
    expect(a.nonce).not.toBe(b.nonce);
  });

  it('accepts the known presentation_definition_id and refuses unknown ones', async () => {
    const t = await makeTestIssuer();
    expect((await t.fetch(`${PUBLIC_URL}/idv/siopv2/initiate?presentation_definition_id=KnownCustomerCredential`)).status).toBe(200);
    const r = await t.fetch(`${PUBLIC_URL}/idv/siopv2/initiate?presentation_definition_id=nope`);
    expect(r.status).toBe(400);
    const body = (await r.json()) as { error: string; error_description: string };
    expect(body.error).toBe('invalid_request');
    expect(body.error_description).toMatch(/unknown presentation_definition_id/);
  });

  it('publishes the PFI DID document with the #idv service', async () => {
    const t = await makeTestIssuer();
    const res = await t.fetch(`${PUBLIC_URL}/.well-known/did.json`);
    expect(res.headers.get('content-type')).toMatch(/application\/did\+json/);
    const doc = (await res.json()) as any;
    expect(doc.id).toBe(PFI_DID);
    expect(doc.service).toEqual([{ id: `${PFI_DID}#idv`, type: 'IDV', serviceEndpoint: `${PUBLIC_URL}/idv/siopv2/initiate` }]);
    expect(doc.verificationMethod[0]).toMatchObject({
      id: `${PFI_DID}#key-1`,
      type: 'JsonWebKey2020',
      controller: PFI_DID,
      publicKeyJwk: { kty: 'OKP', crv: 'Ed25519' },
    });
    expect(doc.verificationMethod[0].publicKeyJwk.d).toBeUndefined();
  });

  it('derives did:web with a percent-encoded port and path segments, serving the path form', async () => {
    const t = await makeTestIssuer({ config: { publicUrl: 'http://localhost:8443/pfi/kcc' } });
    const doc = (await (await t.fetch('http://localhost:8443/pfi/kcc/did.json')).json()) as any;
    expect(doc.id).toBe('did:web:localhost%3A8443:pfi:kcc');
    expect(doc.service[0].serviceEndpoint).toBe('http://localhost:8443/pfi/kcc/idv/siopv2/initiate');
    expect((await t.fetch('http://localhost:8443/pfi/kcc/idv/siopv2/initiate')).status).toBe(200);
    // Both well-known forms: appended (draft 13) and inserted (RFC 8414 / OID4VCI 1.0).
    for (const u of [
      'http://localhost:8443/pfi/kcc/.well-known/openid-credential-issuer',
      'http://localhost:8443/.well-known/openid-credential-issuer/pfi/kcc',
    ]) {
      const meta = (await (await t.fetch(u)).json()) as any;
      expect(meta.credential_issuer).toBe('http://localhost:8443/pfi/kcc');
    }
  });
});

describe('authenticating the applicant DID: the direct_post Authorization Response', () => {
  it('accepts form-encoded (direct_post) and JSON responses', async () => {
    for (const as of ['form', 'json'] as const) {
      const { t, holder, request, now } = await setup();
      const r = await postIdToken(t, await holder.createIdToken({ clientId: request.client_id, nonce: request.nonce, now }), as);
      expect(r.status).toBe(200);
      expect(r.body.url).toMatch(/^http:\/\/issuer\.test\/idv\/form\/[A-Za-z0-9_-]{43}$/);
    }
  });

  it('returns the IDV Request: form url and a credential offer with a bound pre-authorized code', async () => {
    const { t, holder, request, now } = await setup();
    const r = await postIdToken(t, await holder.createIdToken({ clientId: request.client_id, nonce: request.nonce, now }));
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(Object.keys(r.body).sort()).toEqual(['credential_offer', 'url']);
    const offer = r.body.credential_offer;
    expect(offer.credential_issuer).toBe(PUBLIC_URL);
    // The tier's configuration first (what draft-13 wallets take), then its SD-JWT VC sibling.
    expect(offer.credential_configuration_ids).toEqual(['KnownCustomerCredential', 'KnownCustomerCredential_sd_jwt']);
    const code = offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'];
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/); // base64url: safe unencoded in a form body
    // The url carries a token unrelated to the code or the DID.
    expect(r.body.url).not.toContain(code);
    expect(r.body.url).not.toContain(encodeURIComponent(holder.did));
  });

  it('refuses a wrong nonce', async () => {
    const { t, holder, request, now } = await setup();
    expectInvalidRequest(await postIdToken(t, await holder.createIdToken({ clientId: request.client_id, nonce: 'not-the-nonce', now })), /nonce/);
  });

  it('refuses a replayed nonce (the request can be answered once)', async () => {
    const { t, holder, request, now } = await setup();
    const token = await holder.createIdToken({ clientId: request.client_id, nonce: request.nonce, now });
    expect((await postIdToken(t, token)).status).toBe(200);
    expectInvalidRequest(await postIdToken(t, token), /nonce/);
    // Another DID answering the same request is refused too.
    const other = await Holder.create();
    expectInvalidRequest(await postIdToken(t, await other.createIdToken({ clientId: request.client_id, nonce: request.nonce, now })), /nonce/);
  });

  it('refuses an answer to an expired request', async () => {
    const { t, clock, holder, request } = await setup();
    clock.advance(11 * 60); // the request lives 10 minutes
    const now = Math.floor(clock() / 1000);
    expectInvalidRequest(await postIdToken(t, await holder.createIdToken({ clientId: request.client_id, nonce: request.nonce, now })), /nonce/);
  });

  it('refuses iss != sub', async () => {
    const { t, holder, request, now } = await setup();
    const other = await Holder.create();
    const token = await idToken(holder, { iss: other.did, sub: holder.did, aud: PFI_DID, nonce: request.nonce, iat: now, exp: now + 300 });
    expectInvalidRequest(await postIdToken(t, token), /iss must equal sub/);
  });

  it('refuses a token whose kid belongs to another DID than sub', async () => {
    const { t, holder, request, now } = await setup();
    const other = await Holder.create();
    const token = await idToken(holder, { iss: other.did, sub: other.did, aud: PFI_DID, nonce: request.nonce, iat: now, exp: now + 300 });
    expectInvalidRequest(await postIdToken(t, token), /kid/);
  });

  it("refuses a signature by a key that is not the DID's (forged kid)", async () => {
    const { t, holder, request, now } = await setup();
    const victim = await Holder.create();
    const forged = await signJwt(
      { ...holder.signer, kid: victim.kid, alg: 'EdDSA', publicJwk: holder.signer.publicJwk, sign: (d) => holder.signer.sign(d) },
      {
        iss: victim.did,
        sub: victim.did,
        aud: PFI_DID,
        nonce: request.nonce,
        iat: now,
        exp: now + 300,
      },
    );
    expectInvalidRequest(await postIdToken(t, forged), /signature/);
    // The forged attempt did not burn the nonce: the real holder can still answer.
    expect((await postIdToken(t, await holder.createIdToken({ clientId: request.client_id, nonce: request.nonce, now }))).status).toBe(200);
  });

  it('refuses the wrong aud', async () => {
    const { t, holder, request, now } = await setup();
    const token = await holder.createIdToken({ clientId: 'did:web:someone-else.example', nonce: request.nonce, now });
    expectInvalidRequest(await postIdToken(t, token), /aud/);
  });

  it('accepts aud as an array that contains the PFI DID, refuses one that does not', async () => {
    const { t, holder, request, now } = await setup();
    const bad = await idToken(holder, { iss: holder.did, sub: holder.did, aud: ['did:web:x.example'], nonce: request.nonce, iat: now, exp: now + 300 });
    expectInvalidRequest(await postIdToken(t, bad), /aud/);
    const good = await idToken(holder, {
      iss: holder.did,
      sub: holder.did,
      aud: ['did:web:x.example', PFI_DID],
      nonce: request.nonce,
      iat: now,
      exp: now + 300,
    });
    expect((await postIdToken(t, good)).status).toBe(200);
  });

  it('refuses alg none, HS256 and other algorithms', async () => {
    const { t, holder, request, now } = await setup();
    const claims = { iss: holder.did, sub: holder.did, aud: PFI_DID, nonce: request.nonce, iat: now, exp: now + 300 };
    const body = base64urlEncode(JSON.stringify(claims));
    for (const alg of ['none', 'HS256', 'RS256', 'ES256']) {
      const header = base64urlEncode(JSON.stringify({ alg, kid: holder.kid, typ: 'JWT' }));
      const token = alg === 'none' ? `${header}.${body}.` : `${header}.${body}.${base64urlEncode(new Uint8Array(64))}`;
      expectInvalidRequest(await postIdToken(t, token), /alg|signature/);
    }
  });

  it('refuses expired tokens and tokens issued in the future (beyond clock skew)', async () => {
    const { t, holder, request, now } = await setup();
    const base = { iss: holder.did, sub: holder.did, aud: PFI_DID, nonce: request.nonce };
    expectInvalidRequest(await postIdToken(t, await idToken(holder, { ...base, iat: now - 400, exp: now - 100 })), /expired/);
    expectInvalidRequest(await postIdToken(t, await idToken(holder, { ...base, iat: now + 600, exp: now + 900 })), /future/);
    expectInvalidRequest(await postIdToken(t, await idToken(holder, { ...base, iat: now })), /exp is required/);
    // Within skew is fine.
    expect((await postIdToken(t, await idToken(holder, { ...base, iat: now + 30, exp: now + 300 }))).status).toBe(200);
  });

  it('refuses unsupported DID methods, malformed tokens and missing id_token', async () => {
    const { t, holder, request, now } = await setup();
    const exampleSigner = { ...holder.signer, kid: 'did:example:123#0', sign: (d: Uint8Array) => holder.signer.sign(d) };
    const weird = await signJwt(exampleSigner, {
      iss: 'did:example:123',
      sub: 'did:example:123',
      aud: PFI_DID,
      nonce: request.nonce,
      iat: now,
      exp: now + 300,
    });
    expectInvalidRequest(await postIdToken(t, weird), /not a supported/);
    expectInvalidRequest(await postIdToken(t, 'not.a.jwt'));
    expectInvalidRequest(await postIdToken(t, 'abc'));
    const res = await t.fetch(`${PUBLIC_URL}/idv/siopv2/response`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid_request', error_description: 'id_token is required' });
  });

  it('refuses a did:jwk whose key type we do not accept (P-256)', async () => {
    const { t, request, now } = await setup();
    const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign'])) as CryptoKeyPair;
    const jwk = (await crypto.subtle.exportKey('jwk', pair.publicKey)) as any;
    const did = `did:jwk:${base64urlEncode(JSON.stringify({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }))}`;
    const h = await Holder.create({ crypto: createWebCryptoProvider() });
    const token = await idToken({ ...h, signer: { ...h.signer, kid: `${did}#0` } } as Holder, {
      iss: did,
      sub: did,
      aud: PFI_DID,
      nonce: request.nonce,
      iat: now,
      exp: now + 300,
    });
    expectInvalidRequest(await postIdToken(t, token));
    expect(didJwkFromPublicJwk(h.signer.publicJwk)).toBe(h.did);
  });
});
