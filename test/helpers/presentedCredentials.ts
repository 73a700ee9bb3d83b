import { createHash, randomBytes } from 'node:crypto';
import {
  CoseKey,
  DeviceKey,
  DeviceRequest,
  DeviceResponse,
  DocRequest,
  Issuer,
  ItemsRequest,
  SessionTranscript,
  SignatureAlgorithm,
  type IssuerSigned,
  type MdocContext,
} from '@owf/mdoc';
import { StatusList, createHeaderAndPayload } from '@sd-jwt/jwt-status-list';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import * as x509 from '@peculiar/x509';
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { mdocVerifierContext } from '../../src/verifier/presented/mdocContext';

/**
 * Test issuers and holders of credentials people already hold, made with the libraries' own
 * issuer and holder sides: X.509 CAs and leaves by @peculiar/x509, SD-JWT VCs (the EU PID) by
 * @sd-jwt/sd-jwt-vc with Token Status Lists by @sd-jwt/jwt-status-list, mDLs by @owf/mdoc.
 * Keys are generated in the test; nothing is hand-assembled.
 */
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface Ca {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  pem: string;
  der: Uint8Array;
}

let serial = 1;
const nextSerial = () => (serial++).toString(16).padStart(4, '0');

/** A CA certificate (an IACA root, a PID provider CA). */
export async function makeCa(name: string, options: { notBefore?: Date; notAfter?: Date } = {}): Promise<Ca> {
  const keys = (await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name,
    notBefore: options.notBefore ?? new Date(Date.now() - 86400_000),
    notAfter: options.notAfter ?? new Date(Date.now() + 10 * 365 * 86400_000),
    keys,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  return { cert, keys, pem: cert.toString('pem'), der: new Uint8Array(cert.rawData) };
}

export interface Leaf {
  cert: x509.X509Certificate;
  der: Uint8Array;
  privateJwk: JWK;
  publicJwk: JWK;
}

/** A leaf certificate (a document signer, an SD-JWT VC issuer) signed by `ca`. */
export async function makeLeaf(ca: Ca, subject: string, options: { sanUrl?: string; sanDns?: string; notBefore?: Date; notAfter?: Date } = {}): Promise<Leaf> {
  const keys = (await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const names = [
    ...(options.sanUrl ? [{ type: 'url' as const, value: options.sanUrl }] : []),
    ...(options.sanDns ? [{ type: 'dns' as const, value: options.sanDns }] : []),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(),
    subject,
    issuer: ca.cert.subject,
    notBefore: options.notBefore ?? new Date(Date.now() - 3600_000),
    notAfter: options.notAfter ?? new Date(Date.now() + 365 * 86400_000),
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: EC,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      ...(names.length ? [new x509.SubjectAlternativeNameExtension(names)] : []),
    ],
  });
  const privateJwk = (await crypto.subtle.exportKey('jwk', keys.privateKey)) as JWK;
  const publicJwk = (await crypto.subtle.exportKey('jwk', keys.publicKey)) as JWK;
  for (const k of [privateJwk, publicJwk]) {
    delete k.key_ops;
    delete k.ext;
  }
  return { cert, der: new Uint8Array(cert.rawData), privateJwk, publicJwk };
}

export const sha256 = (data: string | Uint8Array) => new Uint8Array(createHash('sha256').update(data).digest());

/** A holder (wallet) key pair as JWKs. */
export async function makeHolderKey(): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateJwk: { ...(await exportJWK(privateKey)), alg: 'ES256' }, publicJwk: await exportJWK(publicKey) };
}

function joseSigner(jwk: JWK, alg = 'ES256') {
  return async (data: string) => {
    const key = await importJWK(jwk, alg);
    const sig = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key as CryptoKey, new TextEncoder().encode(data)));
    return Buffer.from(sig).toString('base64url');
  };
}

/** An SD-JWT VC issuer (the EU PID provider) and the holder's presentation, both through @sd-jwt/sd-jwt-vc. */
export function sdJwtVcIssuer(signingJwk: JWK, header: Record<string, unknown>) {
  const instance = new SDJwtVcInstance({
    signer: joseSigner(signingJwk),
    signAlg: 'ES256',
    hasher: (data) => sha256(typeof data === 'string' ? data : new Uint8Array(data)),
    hashAlg: 'sha-256',
    saltGenerator: () => randomBytes(16).toString('base64url'),
  });
  return {
    /** Issues a PID: every personal claim selectively disclosable. */
    issue: (payload: Record<string, unknown>, sd: string[] = ['given_name', 'family_name', 'birthdate', 'nationalities', 'address', 'birth_place']) =>
      instance.issue(payload as never, { _sd: sd } as never, { header }),
  };
}

/** The holder's side: disclose `claims` and bind with a KB-JWT over `nonce` for `aud`. */
export async function presentSdJwtVc(
  credential: string,
  holderJwk: JWK,
  kb: { aud: string; nonce: string; iat?: number } | undefined,
  claims: string[] = ['given_name', 'family_name', 'birthdate', 'nationalities', 'address'],
) {
  const holder = new SDJwtVcInstance({
    hasher: (data) => sha256(typeof data === 'string' ? data : new Uint8Array(data)),
    kbSigner: joseSigner(holderJwk),
    kbSignAlg: 'ES256',
  });
  const frame = Object.fromEntries(claims.map((c) => [c, true]));
  return holder.present(
    credential,
    frame as never,
    kb ? { kb: { payload: { aud: kb.aud, nonce: kb.nonce, iat: kb.iat ?? Math.floor(Date.now() / 1000) } } } : undefined,
  );
}

/** A Token Status List token (statuslist+jwt) with `statuses` (0 valid, 1 revoked, 2 suspended), signed by `jwk`. */
export async function statusListToken(uri: string, statuses: number[], jwk: JWK, iss: string, header: Record<string, unknown> = {}): Promise<string> {
  const list = new StatusList(statuses, 2);
  const { header: h, payload } = createHeaderAndPayload(list, { iss, sub: uri, iat: Math.floor(Date.now() / 1000) }, { alg: 'ES256', typ: 'statuslist+jwt' });
  return new SignJWT(payload as never).setProtectedHeader({ ...h, ...header } as never).sign(await importJWK(jwk, 'ES256'));
}

/** The verifier context plus signing, for the test's mdoc issuer and holder. */
export function mdocSigningContext(): MdocContext {
  const verify = mdocVerifierContext({ randomBytes: (n) => new Uint8Array(randomBytes(n)) });
  return {
    ...verify,
    cose: {
      ...verify.cose,
      sign1: {
        ...verify.cose.sign1,
        sign: async ({ toBeSigned, key }) => {
          const k = await crypto.subtle.importKey(
            'jwk',
            { ...(key.jwk as JsonWebKey), key_ops: undefined, alg: undefined },
            { name: 'ECDSA', namedCurve: 'P-256' },
            false,
            ['sign'],
          );
          return new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, k, new Uint8Array(toBeSigned)));
        },
      },
    },
  };
}

/** Issues an mDL with @owf/mdoc's Issuer: the document signer `ds` (with its certificate in x5chain), bound to `deviceJwk`. */
export async function issueMdl(
  ds: Leaf,
  devicePublicJwk: JWK,
  elements: Record<string, unknown>,
  validity: { validFrom?: Date; validUntil?: Date; signed?: Date } = {},
): Promise<IssuerSigned> {
  const issuer = new Issuer('org.iso.18013.5.1.mDL', mdocSigningContext());
  issuer.addIssuerNamespace('org.iso.18013.5.1', elements);
  return issuer.sign({
    signingKey: CoseKey.fromJwk({ ...ds.privateJwk, alg: 'ES256' } as Record<string, unknown>),
    algorithm: SignatureAlgorithm.ES256,
    digestAlgorithm: 'SHA-256',
    validityInfo: {
      signed: validity.signed ?? new Date(Date.now() - 60_000),
      validFrom: validity.validFrom ?? new Date(Date.now() - 60_000),
      validUntil: validity.validUntil ?? new Date(Date.now() + 365 * 86400_000),
    },
    deviceKeyInfo: { deviceKey: DeviceKey.fromJwk(devicePublicJwk as Record<string, unknown>) as DeviceKey },
    certificates: [ds.der],
  });
}

/** The wallet's OID4VP response for an mDL: a DeviceResponse signed by the device key over the OpenID4VPHandover transcript. */
export async function presentMdl(
  issuerSigned: IssuerSigned,
  deviceJwk: JWK,
  handover: { clientId: string; nonce: string; responseUri: string },
  elements: string[] = ['given_name', 'family_name', 'birth_date', 'nationality', 'resident_country', 'issuing_country'],
): Promise<string> {
  const ctx = mdocSigningContext();
  const deviceRequest = DeviceRequest.create({
    docRequests: [
      DocRequest.create({
        itemsRequest: ItemsRequest.create({
          docType: 'org.iso.18013.5.1.mDL',
          namespaces: { 'org.iso.18013.5.1': Object.fromEntries(elements.map((e) => [e, true])) },
        }),
      }),
    ],
  });
  const sessionTranscript = await SessionTranscript.forOid4Vp(handover, ctx);
  const response = await DeviceResponse.createWithDeviceRequest(
    {
      deviceRequest,
      sessionTranscript,
      issuerSigned: [issuerSigned],
      signature: { signingKey: CoseKey.fromJwk({ ...deviceJwk, alg: 'ES256' } as Record<string, unknown>) },
    },
    ctx,
  );
  return response.encodedForOid4Vp;
}

/** A fetch port over a table of URL → body (the test's issuer metadata and status lists); counts what was asked. */
export function tableFetch(table: Map<string, string>) {
  const asked: string[] = [];
  const fetch = async (url: string) => {
    asked.push(url);
    const body = table.get(url);
    if (body === undefined) throw new Error(`404 ${url}`);
    return body;
  };
  return { fetch, asked };
}
