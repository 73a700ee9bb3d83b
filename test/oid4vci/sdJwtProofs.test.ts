import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { createDidJwkResolver } from '../../src/did/jwk';
import { createDidResolver } from '../../src/did/resolver';
import { InvalidProof } from '../../src/protocol/errors';
import { verifyProofJwt, verifyProofJwts } from '../../src/protocol/oid4vci/verifyProofJwt';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { Holder } from '../../src/wallet/holder';

/**
 * Proofs for SD-JWT VC copies: a bare `jwk` header (ES256 as most OID4VCI 1.0 wallets send, or
 * EdDSA), accepted only when the caller allows it; a batch verified as one (same nonce, a key
 * per proof). DID-bound proofs also yield the key an SD-JWT VC binds.
 */
const AUD = 'https://pfi.example';
const now = () => Math.floor(Date.now() / 1000);

async function jwkProof(alg: 'ES256' | 'EdDSA', nonce: string, header: Record<string, unknown> = {}) {
  const { publicKey, privateKey } =
    alg === 'ES256' ? await generateKeyPair('ES256', { extractable: true }) : await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(publicKey);
  const jwt = await new SignJWT({ aud: AUD, iat: now(), nonce }).setProtectedHeader({ alg, typ: 'openid4vci-proof+jwt', jwk, ...header }).sign(privateKey);
  return { jwt, jwk };
}

function base(applicantDid: string) {
  return {
    applicantDid,
    audiences: [AUD],
    resolver: createDidResolver({ registry: createDidJwkResolver() }),
    verifier: createNodeCryptoProvider(),
    now: now(),
    skewSeconds: 60,
    maxAgeSeconds: 300,
    requireIss: false,
  };
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidProof);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('jwk proofs for SD-JWT VC copies', () => {
  it('accepts an ES256 or EdDSA jwk proof only when allowed, and returns its key', async () => {
    const holder = await Holder.create();
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const { jwt, jwk } = await jwkProof(alg, 'n1');
      const proof = await verifyProofJwt({ ...base(holder.did), jwt, allowJwkProof: true });
      expect(proof).toMatchObject({ holderDid: holder.did, nonce: 'n1', didBound: false });
      expect(proof.holderJwk).toEqual(alg === 'ES256' ? { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y } : { kty: 'OKP', crv: 'Ed25519', x: jwk.x });
      // As before for jwt_vc_json: a key named by kid only.
      expect(await refusal(verifyProofJwt({ ...base(holder.did), jwt }))).toMatch(
        alg === 'ES256' ? /alg must be EdDSA or ES256K/ : /proof kid must be a DID URL/,
      );
    }
    // A DID-bound proof yields the DID key.
    const didProof = await verifyProofJwt({ ...base(holder.did), jwt: await holder.createProofJwt({ audience: AUD, nonce: 'n2' }), allowJwkProof: true });
    expect(didProof).toMatchObject({ didBound: true, kid: holder.kid, holderJwk: { kty: 'OKP', crv: 'Ed25519', x: holder.privateJwk.x } });
  });

  it('refuses kid and jwk together, a private jwk, alg confusion, a bad signature, an iss other than the applicant', async () => {
    const holder = await Holder.create();
    const allowed = { ...base(holder.did), allowJwkProof: true };
    expect(await refusal(verifyProofJwt({ ...allowed, jwt: (await jwkProof('ES256', 'n', { kid: 'k' })).jwt }))).toMatch(/one of kid or jwk/);
    const { jwt } = await jwkProof('ES256', 'n');
    const [h, p, s] = jwt.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString());
    const reheader = (changes: Record<string, unknown>) => [Buffer.from(JSON.stringify({ ...header, ...changes })).toString('base64url'), p, s].join('.');
    expect(await refusal(verifyProofJwt({ ...allowed, jwt: reheader({ jwk: { ...header.jwk, d: 'AAAA' } }) }))).toMatch(/public key/);
    expect(await refusal(verifyProofJwt({ ...allowed, jwt: reheader({ alg: 'EdDSA' }) }))).toMatch(/alg does not match the key type/);
    expect(
      await refusal(
        verifyProofJwt({
          ...allowed,
          jwt: [h, p, Buffer.from(Buffer.from(s, 'base64url').map((b, i) => (i === 0 ? b ^ 1 : b))).toString('base64url')].join('.'),
        }),
      ),
    ).toMatch(/signature verification failed/);
    const noIss = await jwkProof('ES256', 'n');
    expect((await verifyProofJwt({ ...allowed, jwt: noIss.jwt })).didBound).toBe(false);
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const foreign = await new SignJWT({ iss: 'did:example:other', aud: AUD, iat: now(), nonce: 'n' })
      .setProtectedHeader({ alg: 'ES256', typ: 'openid4vci-proof+jwt', jwk: await exportJWK(publicKey) })
      .sign(privateKey);
    expect(await refusal(verifyProofJwt({ ...allowed, jwt: foreign }))).toMatch(/iss must be the applicant DID/);
  });

  it('a batch: five proofs, five keys, one nonce; a second nonce or a repeated key is refused', async () => {
    const holder = await Holder.create();
    const allowed = { ...base(holder.did), allowJwkProof: true };
    const five = await Promise.all(Array.from({ length: 5 }, () => jwkProof('ES256', 'batch-nonce')));
    const proofs = await verifyProofJwts({ ...allowed, jwts: five.map((f) => f.jwt) });
    expect(proofs.map((p) => p.holderJwk.x)).toEqual(five.map((f) => f.jwk.x));
    expect(new Set(proofs.map((p) => p.nonce))).toEqual(new Set(['batch-nonce']));
    const other = await jwkProof('ES256', 'another-nonce');
    expect(await refusal(verifyProofJwts({ ...allowed, jwts: [five[0].jwt, other.jwt] }))).toMatch(/same nonce/);
    expect(await refusal(verifyProofJwts({ ...allowed, jwts: [five[0].jwt, five[0].jwt] }))).toMatch(/its own key/);
  });
});
