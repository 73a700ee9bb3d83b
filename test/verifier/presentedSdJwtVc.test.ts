import { randomBytes } from 'node:crypto';
import { SignJWT, importJWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { createDidResolver } from '../../src/did/resolver';
import { createDidJwkResolver } from '../../src/did/jwk';
import { PresentedCredentialError, type PresentationContext, type PresentedVerificationDeps } from '../../src/verifier/presented/result';
import { verifySdJwtVcPresentation, unreferencedDisclosures } from '../../src/verifier/presented/sdJwtVc';
import { presentedCredentialRecheckProblem } from '../../src/verifier/presented/recheck';
import { parsePresentedCredentialTrust, type PresentedCredentialTrust } from '../../src/verifier/presented/trust';
import {
  makeCa,
  makeHolderKey,
  makeLeaf,
  presentSdJwtVc,
  sdJwtVcIssuer,
  statusListToken,
  tableFetch,
  type Ca,
  type Leaf,
} from '../helpers/presentedCredentials';

/**
 * The EU PID as an SD-JWT VC, issued in the test by @sd-jwt/sd-jwt-vc 0.19.0 (a PID provider
 * with an X.509 certificate under a test CA, and one publishing JWT VC Issuer Metadata), presented
 * with the library's holder side (selective disclosure + KB-JWT), status by @sd-jwt/jwt-status-list.
 */
const ISS = 'https://pid.example.eu';
const META_ISS = 'https://issuer.example.org/pid';
const CLIENT_ID = 'did:web:pfi.example';
const STATUS_URI = 'https://pid.example.eu/status/1';

let ca: Ca;
let otherCa: Ca;
let provider: Leaf;
let metaKey: Leaf;
let holder: Awaited<ReturnType<typeof makeHolderKey>>;
let trust: PresentedCredentialTrust;
const table = new Map<string, string>();
const nodeCrypto = createNodeCryptoProvider();

function deps(fetchTable = table): PresentedVerificationDeps & { asked: string[] } {
  const { fetch, asked } = tableFetch(fetchTable);
  return { clock: () => Date.now(), crypto: nodeCrypto, resolver: createDidResolver({ registry: createDidJwkResolver() }), fetch, asked };
}

function context(nonce: string): PresentationContext {
  return { applicantDid: 'did:jwk:applicant', nonce, clientId: CLIENT_ID, responseUri: 'https://pfi.example/siop/response', trust };
}

const now = () => Math.floor(Date.now() / 1000);
const PID = {
  vct: 'urn:eudi:pid:1',
  iss: ISS,
  given_name: 'Erika',
  family_name: 'Mustermann',
  birthdate: '1964-08-12',
  nationalities: ['DE'],
  address: { country: 'DE', locality: 'Berlin' },
  birth_place: 'Berlin',
};

async function pidWithX5c(overrides: Record<string, unknown> = {}, leaf: Leaf = provider) {
  const issuer = sdJwtVcIssuer(leaf.privateJwk, { typ: 'dc+sd-jwt', x5c: [Buffer.from(leaf.der).toString('base64')] });
  return issuer.issue({ ...PID, iat: now() - 60, exp: now() + 86400, cnf: { jwk: holder.publicJwk }, ...overrides });
}

const pidEntry = () => trust.sdJwtVc.find((e) => e.id === 'eu-pid')!;
const metaEntry = () => trust.sdJwtVc.find((e) => e.id === 'pid-by-metadata')!;

async function refused(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PresentedCredentialError) return e.reasons;
    throw e;
  }
  throw new Error('the credential was accepted');
}

beforeAll(async () => {
  ca = await makeCa('CN=Test PID Provider CA, C=DE');
  otherCa = await makeCa('CN=Someone Else CA, C=FR');
  provider = await makeLeaf(ca, 'CN=PID Provider, O=Test PID Provider, C=DE', { sanUrl: ISS, sanDns: 'pid.example.eu' });
  metaKey = await makeLeaf(ca, 'CN=unused');
  holder = await makeHolderKey();
  trust = parsePresentedCredentialTrust({
    trustAnchors: { 'pid-ca': ca.pem },
    sdJwtVc: [
      { id: 'eu-pid', name: 'EU PID', vct: 'urn:eudi:pid:1', x5cTrustAnchors: ['pid-ca'], satisfies: ['document_verification'] },
      { id: 'pid-by-metadata', name: 'PID (metadata)', vct: 'urn:eudi:pid:1', issuers: [META_ISS], satisfies: ['document_verification'] },
    ],
  });
  table.set(
    'https://issuer.example.org/.well-known/jwt-vc-issuer/pid',
    JSON.stringify({ issuer: META_ISS, jwks: { keys: [{ ...metaKey.publicJwk, kid: 'k1' }] } }),
  );
});

describe('SD-JWT VC (EU PID) as IDV input', () => {
  it('verifies a PID by its x5c chain: evidence, the claims IDV reads, what it satisfies', async () => {
    const nonce = randomBytes(16).toString('base64url');
    const vp = await presentSdJwtVc(await pidWithX5c(), holder.privateJwk, { aud: CLIENT_ID, nonce });
    const r = await verifySdJwtVcPresentation(vp, pidEntry(), context(nonce), deps());
    expect(r.evidence).toMatchObject({
      type: ['Evidence', 'VerifiedCredentialEvidence'],
      kind: 'verified_credential',
      format: 'dc+sd-jwt',
      credential_type: 'urn:eudi:pid:1',
      accepted_as: 'eu-pid',
    });
    expect(r.evidence.issuer).toContain(ISS);
    expect(r.evidence.issuer).toContain('CN=PID Provider');
    expect(Math.abs(r.evidence.verified_at - now())).toBeLessThan(5);
    expect(r.claims).toEqual({ givenName: 'Erika', familyName: 'Mustermann', birthDate: '1964-08-12', nationality: 'DE', countryOfResidence: 'DE' });
    expect(r.satisfies).toEqual(['document_verification']);
    expect(r.recheck.expiresAt).toBeGreaterThan(now());
  });

  it('verifies a PID whose key comes from JWT VC Issuer Metadata of a listed iss', async () => {
    const nonce = 'n-meta';
    const cred = await sdJwtVcIssuer(metaKey.privateJwk, { typ: 'dc+sd-jwt', kid: 'k1' }).issue({
      ...PID,
      iss: META_ISS,
      iat: now(),
      exp: now() + 3600,
      cnf: { jwk: holder.publicJwk },
    });
    const d = deps();
    const r = await verifySdJwtVcPresentation(await presentSdJwtVc(cred, holder.privateJwk, { aud: CLIENT_ID, nonce }), metaEntry(), context(nonce), d);
    expect(r.evidence.issuer).toBe(META_ISS);
    expect(d.asked).toEqual(['https://issuer.example.org/.well-known/jwt-vc-issuer/pid']);
    // Metadata naming another issuer is refused.
    const lying = new Map(table);
    lying.set(
      'https://issuer.example.org/.well-known/jwt-vc-issuer/pid',
      JSON.stringify({ issuer: 'https://evil.example', jwks: { keys: [metaKey.publicJwk] } }),
    );
    expect(
      await refused(
        verifySdJwtVcPresentation(await presentSdJwtVc(cred, holder.privateJwk, { aud: CLIENT_ID, nonce }), metaEntry(), context(nonce), deps(lying)),
      ),
    ).toEqual(['the issuer metadata at https://issuer.example.org/.well-known/jwt-vc-issuer/pid is not for https://issuer.example.org/pid']);
  });

  it('refuses an untrusted issuer: another CA, an unlisted iss (nothing fetched), a certificate not naming iss', async () => {
    const nonce = 'n1';
    const stranger = await makeLeaf(otherCa, 'CN=Stranger, C=FR', { sanUrl: ISS });
    const vp = await presentSdJwtVc(await pidWithX5c({}, stranger), holder.privateJwk, { aud: CLIENT_ID, nonce });
    expect((await refused(verifySdJwtVcPresentation(vp, pidEntry(), context(nonce), deps())))[0]).toMatch(
      /^issuer https:\/\/pid\.example\.eu is not trusted: the chain does not end at a trusted anchor/,
    );

    const d = deps();
    const unlisted = await sdJwtVcIssuer(metaKey.privateJwk, { typ: 'dc+sd-jwt' }).issue({
      ...PID,
      iss: 'https://unknown.example',
      iat: now(),
      cnf: { jwk: holder.publicJwk },
    });
    expect(
      await refused(verifySdJwtVcPresentation(await presentSdJwtVc(unlisted, holder.privateJwk, { aud: CLIENT_ID, nonce }), metaEntry(), context(nonce), d)),
    ).toEqual(['issuer https://unknown.example is not trusted for urn:eudi:pid:1']);
    expect(d.asked).toEqual([]);

    const misnamed = await pidWithX5c({ iss: 'https://other.example' });
    expect(
      await refused(
        verifySdJwtVcPresentation(await presentSdJwtVc(misnamed, holder.privateJwk, { aud: CLIENT_ID, nonce }), pidEntry(), context(nonce), deps()),
      ),
    ).toEqual(['the x5c certificate does not name the issuer https://other.example']);
    const notHttps = await pidWithX5c({ iss: 'urn:example:pid-provider' });
    expect(
      await refused(
        verifySdJwtVcPresentation(await presentSdJwtVc(notHttps, holder.privateJwk, { aud: CLIENT_ID, nonce }), pidEntry(), context(nonce), deps()),
      ),
    ).toEqual(['with an x5c chain, iss must be an https URL']);
  });

  it('refuses a broken issuer signature and an expired PID', async () => {
    const nonce = 'n2';
    const cred = await pidWithX5c();
    const [jwt, ...rest] = cred.split('~');
    const [h, p, s] = jwt.split('.');
    const forged = [`${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`, ...rest].join('~');
    expect(
      await refused(verifySdJwtVcPresentation(await presentSdJwtVc(forged, holder.privateJwk, { aud: CLIENT_ID, nonce }), pidEntry(), context(nonce), deps())),
    ).toEqual(['the issuer signature is invalid']);
    const expired = await pidWithX5c({ iat: now() - 7200, exp: now() - 3600 });
    expect(
      await refused(verifySdJwtVcPresentation(await presentSdJwtVc(expired, holder.privateJwk, { aud: CLIENT_ID, nonce }), pidEntry(), context(nonce), deps())),
    ).toEqual(['the SD-JWT VC has expired']);
  });

  it('refuses a missing KB-JWT, one over another nonce or audience, a stale one, one by another key', async () => {
    const nonce = 'n3';
    const cred = await pidWithX5c();
    const check = async (vp: string) => refused(verifySdJwtVcPresentation(vp, pidEntry(), context(nonce), deps()));
    expect(await check(await presentSdJwtVc(cred, holder.privateJwk, undefined))).toEqual(['the SD-JWT VC has no Key Binding JWT']);
    expect(await check(await presentSdJwtVc(cred, holder.privateJwk, { aud: CLIENT_ID, nonce: 'another' }))).toEqual([
      'the Key Binding JWT nonce is not this request’s',
    ]);
    expect(await check(await presentSdJwtVc(cred, holder.privateJwk, { aud: 'did:web:other-verifier.example', nonce }))).toEqual([
      'the Key Binding JWT aud is not this PFI',
    ]);
    expect(await check(await presentSdJwtVc(cred, holder.privateJwk, { aud: CLIENT_ID, nonce, iat: now() - 3600 }))).toEqual([
      'the Key Binding JWT iat is not fresh',
    ]);
    // Bound to another holder: the thief's KB-JWT is not by the cnf key.
    const thief = await makeHolderKey();
    expect(await check(await presentSdJwtVc(cred, thief.privateJwk, { aud: CLIENT_ID, nonce }))).toEqual([
      'the Key Binding JWT is not signed by the holder key (cnf)',
    ]);
    // No holder binding at all.
    const unbound = await pidWithX5c({ cnf: undefined });
    expect(await check(await presentSdJwtVc(unbound, holder.privateJwk, { aud: CLIENT_ID, nonce }))).toEqual([
      'the SD-JWT VC is bound to no holder key (cnf.jwk)',
    ]);
  });

  it('refuses an altered or added disclosure, whether or not the KB-JWT is re-signed over it', async () => {
    const nonce = 'n4';
    const cred = await pidWithX5c();
    const vp = await presentSdJwtVc(cred, holder.privateJwk, { aud: CLIENT_ID, nonce });
    const parts = vp.split('~');
    const i = parts.findIndex((d, j) => j > 0 && Buffer.from(d, 'base64url').toString().includes('"given_name"'));
    const altered = [...parts];
    altered[i] = Buffer.from(JSON.stringify([JSON.parse(Buffer.from(parts[i], 'base64url').toString())[0], 'given_name', 'Mallory'])).toString('base64url');
    expect(await refused(verifySdJwtVcPresentation(altered.join('~'), pidEntry(), context(nonce), deps()))).toEqual([
      'the Key Binding JWT sd_hash does not match the presentation',
    ]);

    // A holder who signs a KB-JWT over the altered or an added disclosure (jose; the library's holder
    // side drops disclosures the credential does not reference): the digest check refuses both.
    const kbOver = async (withoutKb: string) => {
      const sdHash = Buffer.from(nodeCrypto.sha256(withoutKb)).toString('base64url');
      const kb = await new SignJWT({ aud: CLIENT_ID, nonce, iat: now(), sd_hash: sdHash })
        .setProtectedHeader({ alg: 'ES256', typ: 'kb+jwt' })
        .sign(await importJWK(holder.privateJwk, 'ES256'));
      return `${withoutKb}${kb}`;
    };
    const alteredWithoutKb = `${altered.slice(0, -1).join('~')}~`;
    const addedWithoutKb = `${parts.slice(0, -1).join('~')}~${Buffer.from(JSON.stringify(['c2FsdA', 'nationalities', ['FR']])).toString('base64url')}~`;
    for (const candidate of [await kbOver(alteredWithoutKb), await kbOver(addedWithoutKb)]) {
      expect(await refused(verifySdJwtVcPresentation(candidate, pidEntry(), context(nonce), deps()))).toEqual([
        'a disclosure is not referenced by the credential (altered or added)',
      ]);
    }
    // The digest check itself, on the decoded parts.
    const payload = JSON.parse(Buffer.from(cred.split('~')[0].split('.')[1], 'base64url').toString());
    const digest = (s: string) => Buffer.from(nodeCrypto.sha256(s)).toString('base64url');
    expect(unreferencedDisclosures(payload, cred.split('~').slice(1, -1), digest)).toBeUndefined();
    expect(unreferencedDisclosures(payload, [...cred.split('~').slice(1, -1), altered[i]], digest)).toBe(
      'a disclosure is not referenced by the credential (altered or added)',
    );
    expect(unreferencedDisclosures(payload, [cred.split('~')[1], cred.split('~')[1]], digest)).toBe('a disclosure is presented twice');
  });

  it('checks the IETF Token Status List: valid, revoked, suspended; a list not by the issuer is refused', async () => {
    const nonce = 'n5';
    const status = new Map(table);
    status.set(STATUS_URI, await statusListToken(STATUS_URI, [0, 1, 2, 0], provider.privateJwk, ISS, { x5c: [Buffer.from(provider.der).toString('base64')] }));
    const at = async (idx: number, fetchTable = status) => {
      const cred = await pidWithX5c({ status: { status_list: { idx, uri: STATUS_URI } } });
      return verifySdJwtVcPresentation(await presentSdJwtVc(cred, holder.privateJwk, { aud: CLIENT_ID, nonce }), pidEntry(), context(nonce), deps(fetchTable));
    };
    const ok = await at(0);
    expect(ok.recheck.status).toEqual({ status_list: { idx: 0, uri: STATUS_URI } });
    // Re-checked when the application is redeemed: still valid; revoked since; expired since.
    expect(await presentedCredentialRecheckProblem(ok.recheck, deps(status))).toBeUndefined();
    const revokedSince = new Map(table);
    revokedSince.set(STATUS_URI, await statusListToken(STATUS_URI, [1, 1, 2, 0], provider.privateJwk, ISS));
    expect(await presentedCredentialRecheckProblem(ok.recheck, deps(revokedSince))).toBe('revoked');
    const forgedSince = new Map(table);
    forgedSince.set(STATUS_URI, await statusListToken(STATUS_URI, [0, 0, 0, 0], metaKey.privateJwk, ISS));
    expect(await presentedCredentialRecheckProblem({ ...ok.recheck, status: { status_list: { idx: 1, uri: STATUS_URI } } }, deps(forgedSince))).toBe(
      'the status list could not be verified',
    );
    expect(await presentedCredentialRecheckProblem(ok.recheck, { ...deps(status), clock: () => Date.now() + 2 * 86400_000 })).toBe(
      'the presented credential has expired',
    );
    expect(JSON.stringify(ok.recheck)).not.toContain('Erika');
    expect(await refused(at(1))).toEqual(['revoked']);
    expect(await refused(at(2))).toEqual(['suspended']);
    const forgedList = new Map(table);
    forgedList.set(STATUS_URI, await statusListToken(STATUS_URI, [0, 0, 0, 0], metaKey.privateJwk, ISS));
    expect(await refused(at(1, forgedList))).toEqual(['the status list is not signed by the issuer']);
    const otherSub = new Map(table);
    otherSub.set(STATUS_URI, await statusListToken('https://pid.example.eu/status/2', [0, 0], provider.privateJwk, ISS));
    expect(await refused(at(0, otherSub))).toEqual(['the status list sub is not the URI referenced']);
    expect(await refused(at(0, new Map()))).toEqual([`the status list could not be fetched: 404 ${STATUS_URI}`]);
  });

  it('refuses another vct than the entry’s', async () => {
    const nonce = 'n6';
    const cred = await pidWithX5c({ vct: 'urn:example:loyalty-card' });
    expect(
      await refused(verifySdJwtVcPresentation(await presentSdJwtVc(cred, holder.privateJwk, { aud: CLIENT_ID, nonce }), pidEntry(), context(nonce), deps())),
    ).toEqual(['vct urn:example:loyalty-card is not urn:eudi:pid:1']);
  });
});
