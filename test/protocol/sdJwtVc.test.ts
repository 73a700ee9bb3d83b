import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { ES256, digest, generateSalt } from '@sd-jwt/crypto-nodejs';
import { getListFromStatusListJWT } from '@sd-jwt/jwt-status-list';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/crypto/jwt';
import type { HolderJwk } from '../../src/crypto/holderKeys';
import type { PublicJwk } from '../../src/crypto/keys';
import { allocateCredentialStatus, changeCredentialStatus, tokenStatusReference } from '../../src/issuance/credentialStatus';
import { ALWAYS_DISCLOSED_CLAIMS, SELECTIVELY_DISCLOSABLE_CLAIMS, signSdJwtKcc, type SdJwtKccInput } from '../../src/protocol/sdJwtVc/kcc';
import { defaultVct } from '../../src/protocol/sdJwtVc/settings';
import { createWebCryptoProvider } from '../../src/crypto/webCrypto';
import { createDidJwkResolver, didJwkFromPublicJwk } from '../../src/did/jwk';
import { createDidResolver } from '../../src/did/resolver';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { runCli } from '../../src/verifier/cli';
import { verifySdJwtVc, type VerifySdJwtVcOptions } from '../../src/verifier/verifySdJwtVc';
import { PUBLIC_URL, makeTestIssuer, testClock } from '../helpers/issuer';

/**
 * The KCC as SD-JWT VC against the OpenWallet Foundation's libraries on the wallet side:
 * @sd-jwt/sd-jwt-vc verifies what we sign (keys from our JWT VC Issuer Metadata, status from our
 * Token Status List, type from our Type Metadata), presents it with a Key Binding JWT and only
 * countryOfResidence, and our verifier accepts that presentation and learns nothing else.
 */
type TestIssuer = Awaited<ReturnType<typeof makeTestIssuer>>;

function holderKey() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' }) as { kty: 'OKP'; crv: 'Ed25519'; x: string };
  return {
    jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x } as PublicJwk,
    signer: (data: string) => sign(null, Buffer.from(data), privateKey).toString('base64url'),
  };
}

const json = async (t: TestIssuer, url: string) => (await t.fetch(url)).json();
const text = async (t: TestIssuer, url: string) => (await t.fetch(url)).text();

/** A wallet on @sd-jwt/sd-jwt-vc that finds the issuer key through /.well-known/jwt-vc-issuer. */
async function wallet(t: TestIssuer, holder?: ReturnType<typeof holderKey>) {
  const metadata = (await json(t, `${PUBLIC_URL}/.well-known/jwt-vc-issuer`)) as {
    issuer: string;
    jwks: { keys: { kid: string; kty: string; crv: string; x: string }[] };
  };
  const { kid, alg: _alg, use: _use, ...issuerJwk } = metadata.jwks.keys[0] as Record<string, string>;
  const issuerKey = createPublicKey({ key: issuerJwk, format: 'jwk' });
  const issuerVerifier = (data: string, sig: string) => verify(null, Buffer.from(data), issuerKey, Buffer.from(sig, 'base64url'));
  return {
    metadata,
    kid,
    issuerVerifier,
    sdjwt: new SDJwtVcInstance({
      hasher: digest,
      saltGenerator: generateSalt,
      verifier: issuerVerifier,
      statusVerifier: issuerVerifier,
      statusListFetcher: (uri) => text(t, uri),
      vctFetcher: async (uri) => json(t, uri) as never,
      loadTypeMetadataFormat: true,
      kbSigner: holder?.signer,
      kbSignAlg: 'EdDSA',
      kbVerifier: (data, sig, payload) => {
        const cnf = (payload.cnf as { jwk: Record<string, string> }).jwk;
        return verify(null, Buffer.from(data), createPublicKey({ key: cnf, format: 'jwk' }), Buffer.from(sig, 'base64url'));
      },
    }),
  };
}

async function issue(t: TestIssuer, holder: { jwk: HolderJwk }, overrides: Partial<SdJwtKccInput> = {}) {
  const deps = t.deps;
  const now = Math.floor(deps.clock() / 1000);
  const credentialId = `urn:uuid:${crypto.randomUUID()}`;
  const status = await allocateCredentialStatus(deps, {
    credentialId,
    subjectDid: 'did:example:applicant',
    tierId: deps.config.tiers[0].id,
    evidence: [{ kind: 'document_verification', checks: ['passport'], verifiedAt: now }],
    issuedAt: now,
    expiresAt: now + 365 * 86400,
  });
  const credential = await signSdJwtKcc(
    { signer: deps.issuer.signer, crypto: deps.crypto },
    {
      issuer: PUBLIC_URL,
      vct: defaultVct(PUBLIC_URL),
      holderJwk: holder.jwk,
      subjectDid: 'did:example:applicant',
      countryOfResidence: 'US',
      tier: 'Standard',
      jurisdictionCountry: 'US',
      evidence: [{ kind: 'document_verification', checks: ['passport'] }],
      issuedAt: now,
      expiresAt: now + 365 * 86400,
      status: tokenStatusReference(deps.config, status.listId, status.index),
      ...overrides,
    },
  );
  return { credential, credentialId, status };
}

function ourOptions(t: TestIssuer, extra: Partial<VerifySdJwtVcOptions> = {}): VerifySdJwtVcOptions {
  return {
    verifier: createNodeCryptoProvider(),
    now: Math.floor(t.deps.clock() / 1000),
    fetchIssuerMetadata: (url) => json(t, url),
    fetchStatusList: (url) => text(t, url),
    trustedIssuers: [PUBLIC_URL],
    expectedVct: [defaultVct(PUBLIC_URL)],
    ...extra,
  };
}

describe('SD-JWT VC KCC', () => {
  it('is a dc+sd-jwt with the always-disclosed claims in the clear and one disclosure per selectively disclosable claim', async () => {
    const t = await makeTestIssuer();
    const holder = holderKey();
    const { credential, status } = await issue(t, holder);
    expect(credential.endsWith('~')).toBe(true);
    const [jwt, ...disclosures] = credential.split('~').slice(0, -1);
    const decoded = decodeJwt(jwt);
    expect(decoded.header).toMatchObject({ typ: 'dc+sd-jwt', alg: 'EdDSA', kid: t.deps.issuer.signer.kid });
    expect(Object.keys(decoded.payload).sort()).toEqual(['_sd', '_sd_alg', ...ALWAYS_DISCLOSED_CLAIMS].sort());
    expect(decoded.payload).toMatchObject({
      iss: PUBLIC_URL,
      vct: `${PUBLIC_URL}/vct/known-customer-credential`,
      cnf: { jwk: holder.jwk },
      status: { status_list: { idx: status.index, uri: `${PUBLIC_URL}/token-status/${status.listId}` } },
      _sd_alg: 'sha-256',
    });
    expect(disclosures).toHaveLength(5);
    const names = disclosures.map((d) => JSON.parse(Buffer.from(d, 'base64url').toString())[1]).sort();
    expect(names).toEqual([...SELECTIVELY_DISCLOSABLE_CLAIMS].sort());
    // The draft-13 alias, when a wallet asks for vc+sd-jwt.
    const legacy = (await issue(t, holder, { typ: 'vc+sd-jwt' })).credential;
    expect(decodeJwt(legacy.split('~')[0]).header.typ).toBe('vc+sd-jwt');
  });

  it('@sd-jwt/sd-jwt-vc verifies it (JWT VC Issuer Metadata key, Token Status List, Type Metadata), presents only countryOfResidence with a KB-JWT, and our verifier accepts that and sees nothing else', async () => {
    const clock = testClock();
    const t = await makeTestIssuer({ clock });
    const holder = holderKey();
    const { credential } = await issue(t, holder);
    const w = await wallet(t, holder);
    expect(w.metadata.issuer).toBe(PUBLIC_URL);
    expect(w.kid).toBe(t.deps.issuer.signer.kid);

    const verified = await w.sdjwt.verify(credential);
    expect(verified.payload).toMatchObject({ iss: PUBLIC_URL, countryOfResidence: 'US', tier: 'Standard', jurisdiction: { country: 'US' } });
    expect(verified.typeMetadata?.mergedTypeMetadata.vct).toBe(defaultVct(PUBLIC_URL));
    expect(verified.typeMetadata?.mergedTypeMetadata.claims?.map((c) => c.path[0])).toEqual(['countryOfResidence', 'tier', 'jurisdiction', 'evidence', 'sub']);
    expect((await w.sdjwt.presentableKeys(credential)).sort()).toEqual(['countryOfResidence', 'evidence', 'jurisdiction', 'sub', 'tier']);

    const nonce = 'n-0S6_WzA2Mj';
    const audience = 'https://rp.example';
    const presentation = await w.sdjwt.present(
      credential,
      { countryOfResidence: true },
      { kb: { payload: { aud: audience, nonce, iat: Math.floor(clock() / 1000) } } },
    );
    // The library's own verifier accepts its presentation (key binding checked with the nonce).
    const libVerified = await w.sdjwt.verify(presentation, { keyBindingNonce: nonce, currentDate: Math.floor(clock() / 1000) });
    expect(libVerified.kb?.payload.aud).toBe(audience);

    const verdict = await verifySdJwtVc(presentation, ourOptions(t, { keyBinding: { audience, nonce } }));
    expect(verdict.reasons).toEqual([]);
    expect(verdict.ok).toBe(true);
    expect(verdict.checks.map((c) => c.check)).toEqual([
      'format',
      'disclosures',
      'signature',
      'dates',
      'vct',
      'status',
      'issuer_trust',
      'key_binding',
      'schema',
    ]);
    expect(verdict.disclosed).toEqual({ countryOfResidence: 'US' });
    expect(Object.keys(verdict.payload ?? {}).sort()).toEqual(['cnf', 'exp', 'iat', 'iss', 'status', 'vct']);
    expect(verdict.subject).toBeUndefined();
    expect(verdict.status).toBe(0);
    expect(verdict.keyBinding).toMatchObject({ aud: audience, nonce });
    // Nothing undisclosed is anywhere in what the relying party gets.
    const seen = JSON.stringify(verdict);
    for (const hidden of ['Standard', 'passport', 'did:example:applicant', 'jurisdiction', 'evidence']) expect(seen).not.toContain(hidden);
  });

  it('our verifier refuses a forged or stray disclosure, a wrong nonce or audience, a missing KB-JWT, a KB-JWT moved to other disclosures, an expired KCC', async () => {
    const clock = testClock();
    const t = await makeTestIssuer({ clock });
    const holder = holderKey();
    const { credential } = await issue(t, holder);
    const w = await wallet(t, holder);
    const kb = (nonce: string, aud = 'https://rp.example') => ({ kb: { payload: { aud, nonce, iat: Math.floor(clock() / 1000) } } });
    const keyBinding = { audience: 'https://rp.example', nonce: 'n1' };
    const check = async (sdJwt: string, extra: Partial<VerifySdJwtVcOptions> = { keyBinding }) => {
      const v = await verifySdJwtVc(sdJwt, ourOptions(t, extra));
      return v.ok ? 'ok' : v.reasons.join('; ');
    };

    const good = await w.sdjwt.present(credential, { countryOfResidence: true }, kb('n1'));
    expect(await check(good)).toBe('ok');
    expect(await check(good, { keyBinding: { ...keyBinding, nonce: 'n2' } })).toMatch(/^key_binding: nonce/);
    expect(await check(good, { keyBinding: { ...keyBinding, audience: 'https://other.example' } })).toMatch(/^key_binding: aud/);
    // Issued form (no KB-JWT) where a presentation is expected.
    expect(await check(credential)).toMatch(/key_binding: a presentation must end with a Key Binding JWT/);
    // As issued, without a presentation expected: valid.
    expect(await check(credential, {})).toBe('ok');

    // A disclosure the issuer never signed (a made-up tier).
    const forged = Buffer.from(JSON.stringify(['c2FsdHNhbHRzYWx0', 'tier', 'Premium'])).toString('base64url');
    const [jwt, ...rest] = good.split('~');
    expect(await check([jwt, forged, ...rest].join('~'))).toMatch(/disclosures: a disclosure is not referenced/);
    // The same disclosure twice.
    const withCountry = good.split('~');
    expect(await check([withCountry[0], withCountry[1], withCountry[1], ''].join('~'), {})).toMatch(/disclosures: a disclosure is repeated/);
    // A KB-JWT made for one set of disclosures attached to another: sd_hash.
    const tierOnly = await w.sdjwt.present(credential, { tier: true }, kb('n1'));
    const goodKb = good.split('~').pop() as string;
    expect(await check(tierOnly.slice(0, tierOnly.lastIndexOf('~') + 1) + goodKb)).toMatch(/key_binding: sd_hash/);
    // A KB-JWT signed by another key than cnf.jwk.
    const other = await wallet(t, holderKey());
    expect(await check(await other.sdjwt.present(credential, { countryOfResidence: true }, kb('n1')))).toMatch(/key_binding: signature verification failed/);

    clock.advance(366 * 86400);
    const late = await w.sdjwt.present(credential, { countryOfResidence: true }, kb('n1'));
    expect(await check(late)).toMatch(/dates: expired on/);
  });

  it('our verifier reads a revoked or suspended KCC from the Token Status List; the library sees the same list', async () => {
    const t = await makeTestIssuer();
    const holder = holderKey();
    const revoked = await issue(t, holder);
    const suspended = await issue(t, holder);
    await changeCredentialStatus(t.deps, revoked.credentialId, 'revoke', { actor: 'test' });
    await changeCredentialStatus(t.deps, suspended.credentialId, 'suspend', { actor: 'test' });
    expect((await verifySdJwtVc(revoked.credential, ourOptions(t))).reasons).toEqual(['status: revoked']);
    expect((await verifySdJwtVc(suspended.credential, ourOptions(t))).reasons).toEqual(['status: suspended']);
    const w = await wallet(t);
    await expect(w.sdjwt.verify(revoked.credential)).rejects.toThrow(/Status is not valid/);
    const list = getListFromStatusListJWT(
      await text(t, revoked.status.entries[0].statusListCredential.replace(/\/status\/(\d+)\/revocation$/, '/token-status/$1')),
    );
    expect(list.getStatus(revoked.status.index)).toBe(1);
    expect(list.getStatus(suspended.status.index)).toBe(2);
    // Without a way to fetch the list, the status cannot be vouched for.
    expect((await verifySdJwtVc(revoked.credential, ourOptions(t, { fetchStatusList: undefined }))).reasons[0]).toMatch(/^status: cannot check/);
  });

  it('an ES256K issuer key verifies too; an untrusted issuer is refused before anything is fetched', async () => {
    const t = await makeTestIssuer({ alg: 'ES256K' });
    const { credential } = await issue(t, holderKey());
    expect(decodeJwt(credential.split('~')[0]).header.alg).toBe('ES256K');
    expect((await verifySdJwtVc(credential, ourOptions(t))).ok).toBe(true);
    const fetched: string[] = [];
    const v = await verifySdJwtVc(
      credential,
      ourOptions(t, {
        trustedIssuers: ['https://someone-else.example'],
        refuseUntrustedFirst: true,
        fetchIssuerMetadata: async (url) => fetched.push(url),
        fetchStatusList: async (url) => String(fetched.push(url)),
      }),
    );
    expect(v.ok).toBe(false);
    expect(v.reasons).toContain('signature: not checked: the issuer is not trusted');
    expect(fetched).toEqual([]);
  });

  it('kcc verify takes an SD-JWT VC presentation (--audience, --nonce, --vct) and prints what was disclosed', async () => {
    const clock = testClock();
    const t = await makeTestIssuer({ clock });
    const holder = holderKey();
    const { credential } = await issue(t, holder);
    const w = await wallet(t, holder);
    const presentation = await w.sdjwt.present(
      credential,
      { countryOfResidence: true },
      { kb: { payload: { aud: 'https://rp.example', nonce: 'n-cli', iat: Math.floor(clock() / 1000) } } },
    );
    const cli = async (args: string[]) => {
      const out: string[] = [];
      const code = await runCli(['verify', presentation, '--allow-http', ...args], {
        out: (l) => out.push(l),
        err: (l) => out.push(l),
        fetch: ((url: string, init?: RequestInit) => t.fetch(url, init)) as typeof fetch,
      });
      return { code, out: out.join('\n') };
    };
    const ok = await cli(['--trusted-issuer', PUBLIC_URL, '--audience', 'https://rp.example', '--nonce', 'n-cli', '--vct', defaultVct(PUBLIC_URL)]);
    expect(ok.out.split('\n').pop()).toBe('VALID');
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/ok\s+key_binding\s+signed by cnf.jwk for https:\/\/rp.example/);
    const asJson = await cli(['--trusted-issuer', PUBLIC_URL, '--audience', 'https://rp.example', '--nonce', 'n-cli', '--json']);
    expect(JSON.parse(asJson.out)).toMatchObject({ valid: true, disclosed: { countryOfResidence: 'US' }, status: 0 });
    const wrong = await cli(['--trusted-issuer', PUBLIC_URL, '--audience', 'https://rp.example', '--nonce', 'other']);
    expect(wrong.code).toBe(1);
    expect(wrong.out).toMatch(/FAIL key_binding/);
    expect((await cli(['--nonce', 'n-cli'])).code).toBe(2);
  });

  it('signs the same way with the Workers crypto (Web Crypto, portable digests and randomness)', async () => {
    const t = await makeTestIssuer();
    await issue(t, holderKey()); // opens status list 1
    const web = createWebCryptoProvider();
    for (const alg of ['EdDSA', 'ES256K'] as const) {
      const privateJwk = await web.generateKeyPair(alg);
      // A DID iss (did:jwk): the verifier takes the key from the DID document.
      const did = didJwkFromPublicJwk({ kty: privateJwk.kty, crv: privateJwk.crv, x: privateJwk.x, ...(privateJwk.y ? { y: privateJwk.y } : {}) });
      const signer = await web.createSigner(privateJwk, `${did}#0`);
      const credential = await signSdJwtKcc(
        { signer, crypto: web },
        {
          issuer: did,
          vct: defaultVct(PUBLIC_URL),
          holderJwk: holderKey().jwk,
          countryOfResidence: 'DE',
          tier: 'Standard',
          jurisdictionCountry: 'US',
          evidence: [],
          issuedAt: Math.floor(Date.now() / 1000),
          expiresAt: Math.floor(Date.now() / 1000) + 60,
          status: { idx: 1, uri: `${PUBLIC_URL}/token-status/1` },
        },
      );
      const resolver = createDidResolver({ registry: createDidJwkResolver() });
      const verdict = await verifySdJwtVc(credential, { verifier: web, now: Math.floor(Date.now() / 1000), resolver, fetchStatusList: (url) => text(t, url) });
      expect(verdict.checks.find((c) => c.check === 'signature')).toMatchObject({ ok: true, detail: `${alg} signature by ${signer.kid}` });
      // The status list is the test issuer's, signed by another issuer: refused, as it must be.
      expect(verdict.reasons).toEqual(['status: could not be checked: the status list is not issued by the credential issuer']);
      expect(verdict.disclosed).toEqual({ countryOfResidence: 'DE', tier: 'Standard', jurisdiction: { country: 'US' }, evidence: [] });
    }
  });

  it('an ES256 (P-256) wallet key, as most OID4VCI 1.0 wallets hold: bound in cnf.jwk, its Key Binding JWT verified; alg confusion refused', async () => {
    const clock = testClock();
    const t = await makeTestIssuer({ clock });
    const { publicKey, privateKey } = await ES256.generateKeyPair();
    const jwk = { kty: 'EC' as const, crv: 'P-256' as const, x: publicKey.x!, y: publicKey.y! };
    const { credential } = await issue(t, { jwk });
    expect(decodeJwt(credential.split('~')[0]).payload.cnf).toEqual({ jwk });
    const holder = new SDJwtVcInstance({ hasher: digest, kbSigner: await ES256.getSigner(privateKey), kbSignAlg: 'ES256' });
    const kb = { kb: { payload: { aud: 'https://rp.example', nonce: 'n-es256', iat: Math.floor(clock() / 1000) } } };
    const presentation = await holder.present(credential, { countryOfResidence: true, tier: true }, kb);
    const verdict = await verifySdJwtVc(presentation, ourOptions(t, { keyBinding: { audience: 'https://rp.example', nonce: 'n-es256' } }));
    expect(verdict.reasons).toEqual([]);
    expect(verdict.disclosed).toEqual({ countryOfResidence: 'US', tier: 'Standard' });
    // The library verifies the same presentation with the key from cnf.
    const { issuerVerifier } = await wallet(t);
    const kbVerifier = await ES256.getVerifier(publicKey);
    const libVerifier = new SDJwtVcInstance({
      hasher: digest,
      verifier: issuerVerifier,
      statusVerifier: issuerVerifier,
      kbVerifier: (data, sig) => kbVerifier(data, sig),
      statusListFetcher: (uri) => text(t, uri),
    });
    expect((await libVerifier.verify(presentation, { keyBindingNonce: 'n-es256' })).kb?.payload.nonce).toBe('n-es256');
    // A KB-JWT that says EdDSA over a P-256 cnf key is refused whatever its signature.
    const [h, p, sig] = presentation.split('~').pop()!.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString());
    const confused =
      presentation.slice(0, presentation.lastIndexOf('~') + 1) +
      [Buffer.from(JSON.stringify({ ...header, alg: 'EdDSA' })).toString('base64url'), p, sig].join('.');
    expect((await verifySdJwtVc(confused, ourOptions(t, { keyBinding: { audience: 'https://rp.example', nonce: 'n-es256' } }))).reasons).toEqual([
      'key_binding: alg does not match the key type',
    ]);
  });
});
