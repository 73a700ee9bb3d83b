import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64urlDecode, base64urlEncode } from '../../src/crypto/base64url';
import { decodeJwt, signJwt } from '../../src/crypto/jwt';
import { toPublicJwk } from '../../src/crypto/keys';
import { didJwkFromPublicJwk } from '../../src/did/jwk';
import { createDidWebResolver } from '../../src/did/web';
import { isCountryOfResidence } from '../../src/issuance/kccClaims';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { WalletError } from '../../src/wallet/client';
import { TIERS, makeTieredIssuer, vcOf } from '../helpers/tiers';

/**
 * A presented KCC is attacker-controlled input: before it is trusted and its signature checked,
 * nothing in it may make the issuer connect anywhere (its issuer DID, its credentialStatus URLs),
 * and every claim taken from it is validated like the form's.
 */
const crypto = createNodeCryptoProvider();
const DAY = 24 * 60 * 60;

let listener: Server;
let hits: string[] = [];
let base: string;
beforeAll(async () => {
  listener = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.writeHead(404).end();
  });
  listener.on('connection', () => hits.push('connection'));
  await new Promise<void>((ok) => listener.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((ok) => listener.close(() => ok())));

/** An issuer that trusts itself for kcc-basic renewals, resolving did:web and fetching status lists over the real network. */
async function issuer() {
  return makeTieredIssuer({
    tiers: [TIERS[0], { ...TIERS[1], acceptsPriorCredentialsFrom: ['self'] }],
    didMethods: createDidWebResolver({ fetch: (u, i) => fetch(u, i), allowHttp: true, allowIpHosts: true }),
    statusListFetch: async (url) => (await fetch(url)).text(),
  });
}

async function kccBy(
  signerKid: string,
  privateJwk: Parameters<typeof crypto.createSigner>[0],
  issuerDid: string,
  subject: string,
  now: number,
  extra: Record<string, unknown> = {},
) {
  const signer = await crypto.createSigner(privateJwk, signerKid);
  const id = `urn:uuid:${globalThis.crypto.randomUUID()}`;
  const entry = (purpose: string, n: number) => ({
    id: `${base}/s/${n}#1`,
    type: 'BitstringStatusListEntry',
    statusPurpose: purpose,
    statusListIndex: '1',
    statusListCredential: `${base}/s/${n}`,
  });
  return signJwt(
    signer,
    {
      iss: issuerDid,
      sub: subject,
      jti: id,
      iat: now,
      nbf: now,
      exp: now + 300 * DAY,
      vc: {
        '@context': ['https://www.w3.org/2018/credentials/v1'],
        type: ['VerifiableCredential', 'KnownCustomerCredential'],
        id,
        issuer: issuerDid,
        issuanceDate: new Date(now * 1000).toISOString().replace('.000Z', 'Z'),
        credentialSubject: { id: subject, countryOfResidence: 'US', tier: 'Basic' },
        evidence: [{ kind: 'document_verification', checks: ['passport'], verifiedAt: new Date(now * 1000).toISOString() }],
        credentialStatus: [entry('revocation', 1), entry('suspension', 2), ...Array.from({ length: 20 }, (_, i) => entry('revocation', 10 + i))],
        ...extra,
      },
    },
    { typ: 'JWT' },
  );
}

async function refused(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(WalletError);
    expect((e as WalletError).status).toBe(400);
    return ((e as WalletError).body as { error_description: string }).error_description;
  }
  throw new Error('expected a refusal');
}

describe('presented credentials: no outbound connection before trust and signature', () => {
  it('an untrusted issuer (did:jwk, or a did:web on the listener) makes no connection at all', async () => {
    const t = await issuer();
    const alice = await t.wallet();
    const now = Math.floor(t.clock() / 1000);
    const attacker = await crypto.generateKeyPair('EdDSA');
    const did = didJwkFromPublicJwk(toPublicJwk(attacker));
    hits = [];
    expect(await refused(t.apply(alice, 'kcc-enhanced', [await kccBy(`${did}#0`, attacker, did, alice.holder.did, now)]))).toContain('not trusted');
    const webDid = `did:web:${encodeURIComponent(new URL(base).host)}`;
    expect(await refused(t.apply(alice, 'kcc-enhanced', [await kccBy(`${webDid}#key-1`, attacker, webDid, alice.holder.did, now)]))).toContain('not trusted');
    expect(hits).toEqual([]);
  });

  it('a KCC naming our own (trusted) DID but signed by another key makes no connection to its status URLs', async () => {
    const t = await issuer();
    const alice = await t.wallet();
    const now = Math.floor(t.clock() / 1000);
    const forger = await crypto.generateKeyPair('EdDSA');
    hits = [];
    const forged = await kccBy(t.deps.issuer.signer.kid, forger, t.deps.issuer.did, alice.holder.did, now);
    expect(await refused(t.apply(alice, 'kcc-enhanced', [forged]))).toMatch(/signature/);
    expect(hits).toEqual([]);
  });

  it('a genuine KCC tampered after signing is refused without a connection', async () => {
    const t = await issuer();
    const alice = await t.wallet();
    const genuine = (await t.apply(alice, 'kcc-basic')).credential as string;
    const [h, p, s] = genuine.split('.');
    const payload = JSON.parse(new TextDecoder().decode(base64urlDecode(p)));
    payload.vc.credentialStatus = [
      { id: `${base}/x#1`, type: 'BitstringStatusListEntry', statusPurpose: 'revocation', statusListIndex: '1', statusListCredential: `${base}/x` },
    ];
    hits = [];
    expect(await refused(t.apply(alice, 'kcc-enhanced', [`${h}.${base64urlEncode(JSON.stringify(payload))}.${s}`]))).toMatch(/signature/);
    expect(hits).toEqual([]);
  });

  it('a trusted, well-signed KCC with more status entries than the cap is refused unfetched', async () => {
    const t = await issuer();
    const alice = await t.wallet();
    const genuine = (await t.apply(alice, 'kcc-basic')).credential as string;
    const payload = decodeJwt(genuine).payload as { vc: Record<string, unknown> };
    payload.vc.credentialStatus = Array.from({ length: 50 }, (_, i) => ({
      id: `${base}/s/${i}#1`,
      type: 'BitstringStatusListEntry',
      statusPurpose: 'revocation',
      statusListIndex: '1',
      statusListCredential: `${base}/s/${i}`,
    }));
    hits = [];
    expect(await refused(t.apply(alice, 'kcc-enhanced', [await signJwt(t.deps.issuer.signer, payload, { typ: 'JWT' })]))).toMatch(
      /50 credentialStatus entries/,
    );
    expect(hits).toEqual([]);
  });
});

describe('presented credentials: typ and nested duplicate members', () => {
  it('refuses a presented VC whose typ is another token kind', async () => {
    const t = await issuer();
    const alice = await t.wallet();
    const genuine = (await t.apply(alice, 'kcc-basic')).credential as string;
    // Re-signed by us as an access-token-typed JWT: same key, same claims, wrong kind.
    const resigned = await signJwt(t.deps.issuer.signer, decodeJwt(genuine).payload, { typ: 'at+jwt' });
    expect(await refused(t.apply(alice, 'kcc-enhanced', [resigned]))).toMatch(/typ at\+jwt/);
  });

  it('refuses a VC with duplicate member names inside vc', async () => {
    const t = await issuer();
    const alice = await t.wallet();
    const genuine = (await t.apply(alice, 'kcc-basic')).credential as string;
    const payload = decodeJwt(genuine).payload as { vc: { credentialSubject: Record<string, unknown> } };
    const text = JSON.stringify(payload).replace('"countryOfResidence":"US"', '"countryOfResidence":"US","countryOfResidence":"KP"');
    expect(text).toContain('"countryOfResidence":"KP"');
    const signer = t.deps.issuer.signer;
    const header = base64urlEncode(JSON.stringify({ typ: 'JWT', alg: signer.alg, kid: signer.kid }));
    const body = base64urlEncode(text);
    const sig = base64urlEncode(await signer.sign(new TextEncoder().encode(`${header}.${body}`)));
    expect(await refused(t.apply(alice, 'kcc-enhanced', [`${header}.${body}.${sig}`]))).toMatch(/duplicate member names/);
  });
});

describe('presented credentials: claims validated like the form', () => {
  it('a trusted, well-signed KCC with countryOfResidence "Narnia" does not become the new KCC\'s country', async () => {
    expect(isCountryOfResidence('Narnia')).toBe(false);
    const t = await issuer();
    const alice = await t.wallet();
    const genuine = (await t.apply(alice, 'kcc-basic')).credential as string;
    // Our own key signs it (a trusted issuer that got the claim wrong, or was fed it).
    const payload = decodeJwt(genuine).payload as { vc: { credentialSubject: Record<string, unknown> } };
    payload.vc.credentialSubject.countryOfResidence = 'Narnia';
    const kcc = await signJwt(t.deps.issuer.signer, payload, { typ: 'JWT' });
    const outcome = await t.apply(alice, 'kcc-enhanced', [kcc]).then(
      (r) => ({ ok: true as const, country: r.credential ? vcOf(r.credential).credentialSubject.countryOfResidence : undefined }),
      (e: WalletError) => ({ ok: false as const, description: (e.body as { error_description?: string })?.error_description ?? '' }),
    );
    if (outcome.ok) expect(outcome.country).not.toBe('Narnia');
    else expect(outcome.description).toMatch(/country/i);
  });
});
