import { X509Certificate } from './certificate';

/**
 * Certificate chains of presented credentials (an SD-JWT VC's `x5c`, an mdoc's `x5chain`) to a
 * configured trust anchor (an IACA root, a PID provider CA), read by ./certificate.ts and
 * checked with Web Crypto:
 * every certificate within its validity at `now`, each signed by the next, the last signed by
 * (or equal to) an anchor, every certificate above the leaf a CA (basicConstraints cA, path
 * length respected). Revocation (CRLs of the IACA) is not checked (docs/credentials-as-input.md).
 */
export class CertificateChainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateChainError';
  }
}

const MAX_CHAIN = 5;

function parse(der: Uint8Array, what: string): X509Certificate {
  try {
    return new X509Certificate(new Uint8Array(der));
  } catch {
    throw new CertificateChainError(`${what} is not an X.509 certificate`);
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function withinValidity(cert: X509Certificate, now: Date, what: string): void {
  if (now < cert.notBefore) throw new CertificateChainError(`${what} is not valid before ${cert.notBefore.toISOString()}`);
  if (now > cert.notAfter) throw new CertificateChainError(`${what} expired on ${cert.notAfter.toISOString()}`);
}

function caPathLength(cert: X509Certificate): { ca: boolean; pathLength?: number } {
  const bc = cert.basicConstraints();
  return { ca: !!bc?.ca, pathLength: bc?.pathLength };
}

async function signedBy(child: X509Certificate, parent: X509Certificate): Promise<boolean> {
  if (child.issuer !== parent.subject) return false;
  return child.isSignedBy(parent);
}

/**
 * Verifies `chain` (DER, leaf first) up to one of `anchors` (DER) and returns the leaf.
 * @throws CertificateChainError with the reason.
 */
export async function verifyCertificateChain(chain: readonly Uint8Array[], anchors: readonly Uint8Array[], now: Date): Promise<X509Certificate> {
  if (chain.length === 0) throw new CertificateChainError('no certificate');
  if (chain.length > MAX_CHAIN) throw new CertificateChainError(`a chain of ${chain.length} certificates is too long`);
  if (anchors.length === 0) throw new CertificateChainError('no trust anchor is configured');
  const certs = chain.map((der, i) => parse(der, i === 0 ? 'the leaf certificate' : `certificate ${i}`));
  for (const [i, c] of certs.entries()) withinValidity(c, now, i === 0 ? 'the leaf certificate' : `certificate ${i}`);
  for (let i = 0; i + 1 < certs.length; i++) {
    const { ca, pathLength } = caPathLength(certs[i + 1]);
    if (!ca) throw new CertificateChainError(`certificate ${i + 1} is not a CA`);
    if (pathLength !== undefined && i > pathLength) throw new CertificateChainError(`certificate ${i + 1} allows a path of ${pathLength}`);
    if (!(await signedBy(certs[i], certs[i + 1]))) throw new CertificateChainError(`certificate ${i} is not signed by certificate ${i + 1}`);
  }
  const top = certs[certs.length - 1];
  const topDer = chain[chain.length - 1];
  for (const anchorDer of anchors) {
    if (bytesEqual(anchorDer, topDer)) {
      if (certs.length === 1) throw new CertificateChainError('the leaf certificate is itself a trust anchor');
      return certs[0];
    }
    const anchor = parse(anchorDer, 'a trust anchor');
    const { ca, pathLength } = caPathLength(anchor);
    if (!ca) continue;
    if (pathLength !== undefined && certs.length - 1 > pathLength) continue;
    if (await signedBy(top, anchor)) {
      withinValidity(anchor, now, 'the trust anchor');
      return certs[0];
    }
  }
  throw new CertificateChainError('the chain does not end at a trusted anchor');
}

/** The leaf's public key as a JWK (Web Crypto export), for JOSE verification. */
export async function publicJwkOf(cert: X509Certificate): Promise<JsonWebKey> {
  const key = await cert.publicKey('SHA-256', true);
  const jwk = await crypto.subtle.exportKey('jwk', key);
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, ...(jwk.n ? { n: jwk.n, e: jwk.e } : {}) };
}

/**
 * SD-JWT VC draft §3.5: with an x5c header and an https `iss`, the leaf must name that issuer
 * (a SAN URI equal to `iss`, or a SAN DNS name equal to its host).
 */
export function certificateNamesIssuer(cert: X509Certificate, iss: string): boolean {
  const san = cert.subjectAltNames();
  if (san.length === 0) return false;
  let host: string | undefined;
  try {
    host = new URL(iss).hostname;
  } catch {
    host = undefined;
  }
  return san.some((n) => (n.type === 'url' && n.value === iss) || (host !== undefined && n.type === 'dns' && n.value.toLowerCase() === host.toLowerCase()));
}

export { bytesEqual };
