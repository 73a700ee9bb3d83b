import * as peculiar from '@peculiar/x509';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CertificateParseError, X509Certificate } from '../../src/verifier/presented/certificate';

/**
 * src/verifier/presented/certificate.ts (the verifier's own DER X.509 reader) against
 * @peculiar/x509 as the oracle: certificates made by @peculiar/x509 with keys made here, read by
 * both, every field compared; signatures checked by both; malformed DER refused.
 */
type Made = { cert: peculiar.X509Certificate; keys: CryptoKeyPair };

const ALGS = {
  p256: { gen: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } },
  p384: { gen: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } },
  p521: { gen: { name: 'ECDSA', namedCurve: 'P-521' }, sign: { name: 'ECDSA', hash: 'SHA-512' } },
  ed25519: { gen: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
  rsa: {
    gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    sign: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  },
} as const;
type AlgName = keyof typeof ALGS;

async function keysFor(alg: AlgName): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(ALGS[alg].gen as never, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function makeRoot(name: string, alg: AlgName, pathLength?: number): Promise<Made> {
  const keys = await keysFor(alg);
  const cert = await peculiar.X509CertificateGenerator.createSelfSigned({
    serialNumber: '00ff01',
    name,
    notBefore: new Date('2024-01-02T03:04:05Z'),
    notAfter: new Date('2051-06-07T08:09:10Z'), // after 2049: a GeneralizedTime
    keys,
    signingAlgorithm: ALGS[alg].sign as never,
    extensions: [new peculiar.BasicConstraintsExtension(true, pathLength, true)],
  });
  return { cert, keys };
}

async function makeChild(parent: Made, subject: string, alg: AlgName, extensions: peculiar.Extension[] = []): Promise<Made> {
  const keys = await keysFor(alg);
  const signAlg = parent.cert.publicKey.algorithm as { name: string; namedCurve?: string };
  const family = (Object.keys(ALGS) as AlgName[]).find((a) => {
    const g = ALGS[a].gen as { name: string; namedCurve?: string };
    return g.name === signAlg.name && g.namedCurve === signAlg.namedCurve;
  })!;
  const cert = await peculiar.X509CertificateGenerator.create({
    serialNumber: '7f3a',
    subject,
    issuer: parent.cert.subject,
    notBefore: new Date('2025-01-01T00:00:00Z'),
    notAfter: new Date('2030-01-01T00:00:00Z'),
    publicKey: keys.publicKey,
    signingKey: parent.keys.privateKey,
    signingAlgorithm: ALGS[family].sign as never,
    extensions,
  });
  return { cert, keys };
}

function sameAsOracle(mine: X509Certificate, theirs: peculiar.X509Certificate) {
  expect(mine.subject).toBe(theirs.subject);
  expect(mine.issuer).toBe(theirs.issuer);
  expect(mine.serialNumber).toBe(theirs.serialNumber);
  expect(mine.notBefore.toISOString()).toBe(theirs.notBefore.toISOString());
  expect(mine.notAfter.toISOString()).toBe(theirs.notAfter.toISOString());
  expect(mine.toPem().replace(/\r/g, '')).toBe(theirs.toString('pem').replace(/\r/g, ''));
  const bc = theirs.getExtension(peculiar.BasicConstraintsExtension);
  expect(mine.basicConstraints()).toEqual(bc ? { ca: bc.ca, ...(bc.pathLength !== undefined ? { pathLength: bc.pathLength } : {}) } : undefined);
  for (const field of ['CN', 'O', 'C', 'ST', 'OU', '2.5.4.3']) expect(mine.subjectName.getField(field)).toEqual(theirs.subjectName.getField(field));
}

let roots: Record<AlgName, Made>;

beforeAll(async () => {
  const entries = await Promise.all(
    (Object.keys(ALGS) as AlgName[]).map(async (alg) => [alg, await makeRoot(`CN=Root ${alg}, O=Test, C=US`, alg, alg === 'p256' ? 1 : undefined)] as const),
  );
  roots = Object.fromEntries(entries) as Record<AlgName, Made>;
}, 60_000);

describe('X.509 certificates read from DER', () => {
  it('reads every field as @peculiar/x509 does, for ECDSA P-256/384/521, Ed25519 and RSA roots', async () => {
    for (const [alg, root] of Object.entries(roots)) {
      const mine = new X509Certificate(new Uint8Array(root.cert.rawData));
      sameAsOracle(mine, root.cert);
      expect(await mine.isSignedBy(mine), alg).toBe(true);
      expect(await root.cert.verify({ signatureOnly: true }), alg).toBe(true);
      expect(Buffer.from(await mine.thumbprint()).toString('hex')).toBe(Buffer.from(await root.cert.getThumbprint('SHA-256')).toString('hex'));
      const jwkMine = await crypto.subtle.exportKey('jwk', await mine.publicKey('SHA-256', true));
      const jwkTheirs = await crypto.subtle.exportKey('jwk', await root.cert.publicKey.export());
      expect({ ...jwkMine, alg: undefined, key_ops: undefined }).toEqual({ ...jwkTheirs, alg: undefined, key_ops: undefined });
    }
  });

  it('reads names with multi-valued RDNs, escaped characters and non-ASCII text, and subjectAltName entries', async () => {
    const leaf = await makeChild(roots.p256, 'CN=Doe\\, Jane+OU=Unit, O=Caf\u00e9 \\"Bleu\\", L=M\u00fcnchen, ST=BY, C=DE', 'p384', [
      new peculiar.SubjectAlternativeNameExtension([
        { type: 'url', value: 'https://pid.example.eu' },
        { type: 'dns', value: 'pid.example.eu' },
        { type: 'email', value: 'ca@example.eu' },
      ]),
      new peculiar.BasicConstraintsExtension(false),
    ]);
    const mine = new X509Certificate(new Uint8Array(leaf.cert.rawData));
    sameAsOracle(mine, leaf.cert);
    expect(mine.subjectAltNames()).toEqual([
      { type: 'url', value: 'https://pid.example.eu' },
      { type: 'dns', value: 'pid.example.eu' },
      { type: 'email', value: 'ca@example.eu' },
    ]);
    expect(mine.subjectName.getField('L')).toEqual(['M\u00fcnchen']);
    expect(await mine.isSignedBy(new X509Certificate(new Uint8Array(roots.p256.cert.rawData)))).toBe(true);
  });

  it('verifies a signature only with the issuer’s key, over the bytes signed', async () => {
    for (const alg of Object.keys(ALGS) as AlgName[]) {
      const root = new X509Certificate(new Uint8Array(roots[alg].cert.rawData));
      const child = await makeChild(roots[alg], `CN=Leaf of ${alg}`, 'p256');
      const der = new Uint8Array(child.cert.rawData);
      expect(await new X509Certificate(der).isSignedBy(root), alg).toBe(true);
      const other = new X509Certificate(new Uint8Array(roots[alg === 'p256' ? 'p384' : 'p256'].cert.rawData));
      expect(await new X509Certificate(der).isSignedBy(other), alg).toBe(false);
      // One byte of the subject's CN changed: the signature no longer covers it.
      const tampered = der.slice();
      const at = Buffer.from(tampered).indexOf(Buffer.from(`Leaf of ${alg}`));
      tampered[at] ^= 0x01;
      expect(await new X509Certificate(tampered).isSignedBy(root), alg).toBe(false);
    }
  });

  it('refuses what is not a DER certificate', () => {
    const der = new Uint8Array(roots.p256.cert.rawData);
    const refuse = (bytes: Uint8Array) => expect(() => new X509Certificate(bytes)).toThrow(CertificateParseError);
    refuse(new Uint8Array());
    refuse(der.subarray(0, der.length - 1)); // truncated
    refuse(new Uint8Array([...der, 0])); // bytes after it
    const indefinite = der.slice();
    indefinite[1] = 0x80; // indefinite length (BER, not DER)
    refuse(indefinite);
    // The same length in a longer form than needed.
    const len = der.length - 4;
    refuse(new Uint8Array([0x30, 0x83, 0, len >> 8, len & 0xff, ...der.subarray(4)]));
    refuse(new TextEncoder().encode('-----BEGIN CERTIFICATE-----'));
  });

  it('throws nothing but CertificateParseError on any corruption of a certificate', () => {
    const der = new Uint8Array(roots.rsa.cert.rawData);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(der.length - 1), fc.nat(255)), { minLength: 1, maxLength: 6 }), fc.nat(der.length), (edits, cut) => {
        const bytes = der.slice(0, Math.max(1, cut));
        for (const [i, b] of edits) if (i < bytes.length) bytes[i] = b;
        try {
          const c = new X509Certificate(bytes);
          c.basicConstraints();
          c.subjectAltNames();
        } catch (e) {
          if (!(e instanceof CertificateParseError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
