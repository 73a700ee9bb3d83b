import { CoseKey, type MdocContext } from '@owf/mdoc';
import { X509Certificate } from './certificate';
import type { DigestsAndRandom } from '../../crypto/keys';
import { verifyCertificateChain, publicJwkOf } from './x509';

/**
 * The verifier-side crypto @owf/mdoc delegates to: Web Crypto (both runtimes) for digests and
 * COSE_Sign1 ECDSA/EdDSA verification (COSE signatures are raw r‖s, as Web Crypto's), and
 * ./certificate.ts for certificates. MACs (deviceMac, needing a reader key the OID4VP redirect
 * flow does not have) and signing are not offered: a credential authenticated by a MAC is refused.
 */
export function mdocVerifierContext(crypto: Pick<DigestsAndRandom, 'randomBytes'>): MdocContext {
  return {
    crypto: {
      random: (length) => crypto.randomBytes(length),
      digest: async ({ digestAlgorithm, bytes }) => new Uint8Array(await globalThis.crypto.subtle.digest(digestAlgorithm, new Uint8Array(bytes))),
      calculateEphemeralMacKey: () => {
        throw new Error('device MAC authentication is not supported');
      },
    },
    cose: {
      sign1: {
        sign: () => {
          throw new Error('signing is not offered by the verifier context');
        },
        verify: async ({ key, sign1 }) => verifyCoseSignature(key, sign1.signatureAlgorithmName, sign1.toBeSigned, sign1.signature),
      },
      mac0: {
        sign: () => {
          throw new Error('device MAC authentication is not supported');
        },
        verify: () => false,
      },
    },
    x509: {
      // Used for the DS certificate's country (C) and state (ST): ISO 18013-5 §7.2.1 compares
      // issuing_country / issuing_jurisdiction with the DS certificate's subject.
      getIssuerNameField: ({ certificate, field }) => new X509Certificate(new Uint8Array(certificate)).subjectName.getField(field),
      getPublicKey: async ({ certificate }) =>
        CoseKey.fromJwk((await publicJwkOf(new X509Certificate(new Uint8Array(certificate)))) as Record<string, unknown>),
      verifyCertificateChain: async ({ trustedCertificates, x5chain, now }) => {
        await verifyCertificateChain(x5chain, trustedCertificates, now ?? new Date(0));
      },
      getCertificateData: async ({ certificate }) => {
        const cert = new X509Certificate(new Uint8Array(certificate));
        const thumbprint = await cert.thumbprint();
        return {
          issuerName: cert.issuer,
          subjectName: cert.subject,
          serialNumber: cert.serialNumber,
          thumbprint: [...thumbprint].map((b) => b.toString(16).padStart(2, '0')).join(''),
          notBefore: cert.notBefore,
          notAfter: cert.notAfter,
          pem: cert.toPem(),
        };
      },
    },
  };
}

const ECDSA: Record<string, { hash: string; curve: string }> = {
  ES256: { hash: 'SHA-256', curve: 'P-256' },
  ES384: { hash: 'SHA-384', curve: 'P-384' },
  ES512: { hash: 'SHA-512', curve: 'P-521' },
};

/** COSE_Sign1 verification (RFC 9052 §4.4) with a public COSE key; the key's curve must fit the algorithm. */
export async function verifyCoseSignature(key: CoseKey, alg: string, toBeSigned: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const { d: _private, ...jwk } = key.jwk as Record<string, unknown> & { d?: unknown };
  delete jwk.key_ops;
  delete jwk.alg;
  const subtle = globalThis.crypto.subtle;
  try {
    if (alg === 'EdDSA') {
      if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519') return false;
      const k = await subtle.importKey('jwk', jwk as JsonWebKey, { name: 'Ed25519' }, false, ['verify']);
      return await subtle.verify({ name: 'Ed25519' }, k, new Uint8Array(signature), new Uint8Array(toBeSigned));
    }
    const ec = ECDSA[alg];
    if (!ec || jwk.kty !== 'EC' || jwk.crv !== ec.curve) return false;
    const k = await subtle.importKey('jwk', jwk as JsonWebKey, { name: 'ECDSA', namedCurve: ec.curve }, false, ['verify']);
    return await subtle.verify({ name: 'ECDSA', hash: ec.hash }, k, new Uint8Array(signature), new Uint8Array(toBeSigned));
  } catch {
    return false;
  }
}
