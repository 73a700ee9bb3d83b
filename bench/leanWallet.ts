import { createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { SAMPLE_IDENTITY } from '../src/wallet/flow';
import type { LeanHttp, LeanResponse } from './leanHttp';

/**
 * A lean wallet for load generation (`npm run bench`): the same complete KCC flow the reference
 * wallet runs (src/wallet/flow.ts applyForKcc with src/wallet/client.ts and holder.ts), request
 * for request, with real Ed25519 signatures and a check of every answer the flow relies on, but
 * without the reference wallet's generality (DID resolvers, Web Crypto, WHATWG fetch objects),
 * so the load generator spends little CPU and the server under test gets the machine.
 *
 * One flow (fresh holder each time, nothing cached but the PFI's public key, which is still
 * fetched and compared every flow):
 *   GET  /.well-known/did.json                  discovery: the first `IDV` service (as DIDPay)
 *   GET  <IDV endpoint>                          SIOPv2 request: the signed `request` JAR, verified
 *   POST <response_uri>                          id_token as JSON (as DIDPay and the reference wallet)
 *   GET  <IDV form url>                          the CSRF cookie and hidden csrf_token
 *   POST <IDV form url>                          consent and the identity fields → 303 to finish.html
 *   GET  <finish.html>
 *   GET  /.well-known/oauth-authorization-server and /.well-known/openid-credential-issuer
 *   POST <token_endpoint>                        pre-authorized_code grant, client_id = holder DID
 *   POST <credential_endpoint>                   proof JWT (typ openid4vci-proof+jwt, aud PFI DID, c_nonce)
 * and the credential JWT that comes back must be issued by the PFI DID to the holder DID (iss, sub,
 * kid an assertionMethod of the PFI); `verifyCredentialSignature` also checks its signature (the
 * reference wallet's flow does not; the bench leaves it off, the tests turn it on).
 *
 * Node only (node:crypto; HTTP through bench/leanHttp.ts): bench and test code, never part of the issuer.
 */

/** A flow that did not end with a credential: which step, why, and what the server said. */
export class LeanFlowError extends Error {
  constructor(
    readonly step: string,
    message: string,
    readonly status?: number,
    readonly body?: string,
  ) {
    super(`${step}: ${message}${status !== undefined ? ` (HTTP ${status})` : ''}${body ? ` ${body.slice(0, 300)}` : ''}`);
    this.name = 'LeanFlowError';
  }
}

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function decodeJws(jws: unknown, step: string): { header: Record<string, unknown>; payload: Record<string, any>; signingInput: Buffer; signature: Buffer } {
  if (typeof jws !== 'string') throw new LeanFlowError(step, 'not a compact JWS');
  const parts = jws.split('.');
  if (parts.length !== 3) throw new LeanFlowError(step, 'not a compact JWS');
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString());
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
    if (!header || typeof header !== 'object' || !payload || typeof payload !== 'object') throw new Error();
    return { header, payload, signingInput: Buffer.from(`${parts[0]}.${parts[1]}`), signature: Buffer.from(parts[2], 'base64url') };
  } catch {
    throw new LeanFlowError(step, 'JWS header or payload is not base64url JSON');
  }
}

function parseJson(res: LeanResponse, step: string): any {
  try {
    return JSON.parse(res.body.toString());
  } catch {
    throw new LeanFlowError(step, 'response is not JSON', res.status, res.body.toString());
  }
}

function expectStatus(res: LeanResponse, status: number, step: string) {
  if (res.status !== status) throw new LeanFlowError(step, `expected HTTP ${status}`, res.status, res.body.toString());
}

/** A fresh holder: an Ed25519 key and its did:jwk (src/did/jwk.ts encoding: crv, kty, x in that order; kid `#0`). */
export interface LeanHolder {
  did: string;
  kid: string;
  /** A compact JWS with the header members in the reference Holder's order (typ, alg, kid). */
  signJwt(payload: Record<string, unknown>, typ: string): string;
}

export function createLeanHolder(): LeanHolder {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const { x } = publicKey.export({ format: 'jwk' });
  const did = `did:jwk:${b64json({ crv: 'Ed25519', kty: 'OKP', x })}`;
  const kid = `${did}#0`;
  return {
    did,
    kid,
    signJwt(payload, typ) {
      const signingInput = `${b64json({ typ, alg: 'EdDSA', kid })}.${b64json(payload)}`;
      return `${signingInput}.${sign(null, Buffer.from(signingInput), privateKey).toString('base64url')}`;
    },
  };
}

/**
 * The PFI's public keys, imported once per run (by kid, re-imported if the DID document ever
 * publishes different key material under the same kid).
 */
export class PfiKeyCache {
  private readonly keys = new Map<string, { material: string; key: KeyObject; alg: string }>();

  get(kid: string, jwk: Record<string, unknown>): { key: KeyObject; alg: string } {
    const material = `${jwk.kty}|${jwk.crv}|${jwk.x}|${jwk.y ?? ''}`;
    let entry = this.keys.get(kid);
    if (!entry || entry.material !== material) {
      let alg: string;
      if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') alg = 'EdDSA';
      else if (jwk.kty === 'EC' && jwk.crv === 'secp256k1') alg = 'ES256K';
      else throw new LeanFlowError('pfi_key', `unsupported PFI key type ${String(jwk.kty)}/${String(jwk.crv)}`);
      const key = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, ...(jwk.y ? { y: jwk.y } : {}) } as any, format: 'jwk' });
      entry = { material, key, alg };
      this.keys.set(kid, entry);
    }
    return entry;
  }
}

interface PfiDocument {
  did: string;
  idvEndpoint: string;
  document: { verificationMethod?: { id: string; publicKeyJwk?: Record<string, unknown> }[]; authentication?: unknown[]; assertionMethod?: unknown[] };
}

/**
 * Checks a JWS is signed by the PFI with a key of `relationship` in its DID document (DID Core
 * §5.3): kid, listed relationship, key, alg; and unless `checkSignature` is false, the signature.
 */
function verifyPfiJws(
  pfi: PfiDocument,
  keys: PfiKeyCache,
  jws: ReturnType<typeof decodeJws>,
  relationship: 'authentication' | 'assertionMethod',
  step: string,
  checkSignature = true,
) {
  const kid = jws.header.kid;
  if (typeof kid !== 'string' || !kid.startsWith(`${pfi.did}#`)) throw new LeanFlowError(step, 'not signed by the PFI DID');
  const fragment = kid.slice(pfi.did.length);
  const listed = (pfi.document[relationship] ?? []).some((e) => {
    const id = typeof e === 'string' ? e : (e as { id?: string })?.id;
    return id === kid || id === fragment;
  });
  if (!listed) throw new LeanFlowError(step, `signing key is not an ${relationship} method of the PFI DID`);
  const vm = pfi.document.verificationMethod?.find((v) => v.id === kid || v.id === fragment);
  if (!vm?.publicKeyJwk) throw new LeanFlowError(step, 'signing key is not in the PFI DID document');
  const { key, alg } = keys.get(kid, vm.publicKeyJwk);
  if (jws.header.alg !== alg) throw new LeanFlowError(step, 'alg does not match the PFI key');
  if (!checkSignature) return;
  const ok =
    alg === 'EdDSA'
      ? jws.signature.length === 64 && verify(null, jws.signingInput, key, jws.signature)
      : verify('sha256', jws.signingInput, { key, dsaEncoding: 'ieee-p1363' }, jws.signature);
  if (!ok) throw new LeanFlowError(step, 'signature verification failed');
}

/** The identity the IDV form gets (the sandbox approves it): the reference wallet's sample. */
export const LEAN_IDENTITY: Record<string, string> = SAMPLE_IDENTITY;

export interface LeanFlowOptions {
  /** The issuer's base URL (http): its DID document is at /.well-known/did.json. */
  issuer: string;
  http: LeanHttp;
  keys: PfiKeyCache;
  identity?: Record<string, string>;
  /** Also verify the credential's signature with the PFI key (about 0.3 ms CPU here). */
  verifyCredentialSignature?: boolean;
  /** Tests only: claims merged over the ones the wallet signs, to prove the server refuses them. */
  tamper?: { idToken?: Record<string, unknown>; proof?: Record<string, unknown> };
}

export interface LeanFlowResult {
  holderDid: string;
  pfiDid: string;
  credential: string;
  credentialPayload: Record<string, any>;
}

const PRE_AUTHORIZED_CODE = 'urn:ietf:params:oauth:grant-type:pre-authorized_code';
const CSRF_FIELD = /name="csrf_token" value="([^"]+)"/;

/** One complete KCC application, from discovery to the holder's credential; throws LeanFlowError. */
export async function runLeanFlow(options: LeanFlowOptions): Promise<LeanFlowResult> {
  return runLeanIssuance(await runLeanOffer(options), options);
}

/** What a wallet holds once the IDV form is done and the metadata read: the offer to redeem. */
export interface LeanOffer {
  holder: LeanHolder;
  pfi: PfiDocument;
  code: string;
  tokenEndpoint: string;
  credentialEndpoint: string;
}

/** The application up to its redeemable offer: discovery, SIOPv2, the IDV form, metadata. */
export async function runLeanOffer(options: LeanFlowOptions): Promise<LeanOffer> {
  const { http, keys } = options;
  const holder = createLeanHolder();

  // Discovery (spec "Initiate Application"; as DIDPay): the first service of type IDV.
  const base = options.issuer.replace(/\/+$/, '');
  const didRes = await http.send('GET', `${base}/.well-known/did.json`);
  expectStatus(didRes, 200, 'discover');
  const document = parseJson(didRes, 'discover');
  if (typeof document?.id !== 'string' || !document.id.startsWith('did:web:')) throw new LeanFlowError('discover', 'the PFI DID document has no did:web id');
  const service = Array.isArray(document.service) ? document.service.find((s: { type?: unknown }) => s?.type === 'IDV') : undefined;
  if (typeof service?.serviceEndpoint !== 'string') throw new LeanFlowError('discover', 'the PFI DID document has no IDV service');
  const pfi: PfiDocument = { did: document.id, idvEndpoint: service.serviceEndpoint, document };

  // SIOPv2 Authorization Request: only the signed request object counts (as DIDPay).
  const initRes = await http.send('GET', pfi.idvEndpoint);
  expectStatus(initRes, 200, 'siop_request');
  const requestObject = new URLSearchParams(initRes.body.toString()).get('request');
  if (!requestObject) throw new LeanFlowError('siop_request', 'no signed request object');
  const jar = decodeJws(requestObject, 'siop_request');
  verifyPfiJws(pfi, keys, jar, 'authentication', 'siop_request');
  const siop = jar.payload;
  const now = Math.floor(Date.now() / 1000);
  if (siop.client_id !== pfi.did) throw new LeanFlowError('siop_request', 'client_id is not the PFI DID');
  if (siop.response_mode !== 'direct_post' || typeof siop.response_type !== 'string' || !siop.response_type.includes('id_token')) {
    throw new LeanFlowError('siop_request', 'unsupported SIOPv2 request');
  }
  if (typeof siop.nonce !== 'string' || !siop.nonce) throw new LeanFlowError('siop_request', 'no nonce');
  if (typeof siop.response_uri !== 'string') throw new LeanFlowError('siop_request', 'no response_uri');
  if (typeof siop.exp === 'number' && siop.exp <= now) throw new LeanFlowError('siop_request', 'request object has expired');

  // SIOPv2 Authorization Response (direct_post, JSON as DIDPay): the self-issued ID token.
  const idToken = holder.signJwt(
    { iss: holder.did, sub: holder.did, aud: siop.client_id, nonce: siop.nonce, iat: now, exp: now + 300, ...options.tamper?.idToken },
    'JWT',
  );
  const siopRes = await http.send('POST', siop.response_uri, { 'content-type': 'application/json' }, JSON.stringify({ id_token: idToken }));
  expectStatus(siopRes, 200, 'siop_response');
  const idvRequest = parseJson(siopRes, 'siop_response');
  const offer = idvRequest?.credential_offer;
  const code = offer?.grants?.[PRE_AUTHORIZED_CODE]?.['pre-authorized_code'];
  if (typeof idvRequest?.url !== 'string' || typeof offer?.credential_issuer !== 'string' || typeof code !== 'string') {
    throw new LeanFlowError('siop_response', 'not an IDV Request with a pre-authorized credential offer', siopRes.status, siopRes.body.toString());
  }
  // A fresh applicant presented nothing: the PFI must send it through IDV, never straight to finish.html.
  if (idvRequest.url.split('?')[0].endsWith('finish.html')) throw new LeanFlowError('siop_response', 'IDV was skipped for a fresh applicant');

  // The IDV form, as the webview: load it (CSRF cookie + hidden token), submit, follow the 303.
  const formLabel = 'GET /idv/form/:token';
  const formRes = await http.send('GET', idvRequest.url, {}, undefined, formLabel);
  expectStatus(formRes, 200, 'idv_form');
  const csrf = CSRF_FIELD.exec(formRes.body.toString())?.[1];
  if (!csrf) throw new LeanFlowError('idv_form', 'the form has no csrf_token field');
  const setCookie = formRes.headers['set-cookie'];
  const cookie = (Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []).map((c) => c.split(';')[0]).join('; ');
  const submitRes = await http.send(
    'POST',
    idvRequest.url,
    { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    new URLSearchParams({ csrf_token: csrf, consent: 'accept', ...(options.identity ?? LEAN_IDENTITY) }).toString(),
    'POST /idv/form/:token',
  );
  expectStatus(submitRes, 303, 'idv_submit');
  const location = submitRes.headers.location;
  if (typeof location !== 'string' || !location.endsWith('finish.html'))
    throw new LeanFlowError('idv_submit', `redirected to ${String(location).slice(0, 100)}, not finish.html`);
  const finishUrl = location.startsWith('http://')
    ? location
    : location.startsWith('/')
      ? `${idvRequest.url.slice(0, idvRequest.url.indexOf('/', 7))}${location}`
      : undefined;
  if (!finishUrl) throw new LeanFlowError('idv_submit', 'unexpected relative Location');
  const finishRes = await http.send('GET', finishUrl);
  expectStatus(finishRes, 200, 'idv_finish');

  // OID4VCI metadata of the offer's credential issuer (both at once, as the reference wallet).
  const issuerId: string = offer.credential_issuer;
  const [asRes, ciRes] = await Promise.all([
    http.send('GET', `${issuerId}/.well-known/oauth-authorization-server`),
    http.send('GET', `${issuerId}/.well-known/openid-credential-issuer`),
  ]);
  expectStatus(asRes, 200, 'metadata');
  expectStatus(ciRes, 200, 'metadata');
  const as = parseJson(asRes, 'metadata');
  const ci = parseJson(ciRes, 'metadata');
  if (typeof as?.token_endpoint !== 'string') throw new LeanFlowError('metadata', 'no token_endpoint');
  if (typeof ci?.credential_endpoint !== 'string') throw new LeanFlowError('metadata', 'no credential_endpoint');
  if (ci.credential_issuer !== issuerId) throw new LeanFlowError('metadata', 'credential_issuer does not match the offer');
  return { holder, pfi, code, tokenEndpoint: as.token_endpoint, credentialEndpoint: ci.credential_endpoint };
}

/** The OID4VCI part: token, then the credential with its proof of possession. */
export async function runLeanIssuance(
  offer: LeanOffer,
  options: Pick<LeanFlowOptions, 'http' | 'keys' | 'verifyCredentialSignature' | 'tamper'>,
): Promise<LeanFlowResult> {
  const { http, keys } = options;
  const { holder, pfi, code } = offer;
  const as = { token_endpoint: offer.tokenEndpoint };
  const ci = { credential_endpoint: offer.credentialEndpoint };

  // Token (pre-authorized_code grant; client_id = holder DID, JSON as DIDPay).
  const tokenRes = await http.send(
    'POST',
    as.token_endpoint,
    { 'content-type': 'application/json' },
    JSON.stringify({ grant_type: PRE_AUTHORIZED_CODE, 'pre-authorized_code': code, client_id: holder.did }),
  );
  expectStatus(tokenRes, 200, 'token');
  const token = parseJson(tokenRes, 'token');
  if (typeof token?.access_token !== 'string' || typeof token.c_nonce !== 'string') throw new LeanFlowError('token', 'no access_token or c_nonce');

  // Credential, with a proof of possession bound to the c_nonce; aud = the PFI DID (as DIDPay).
  const proof = holder.signJwt(
    { iss: holder.did, aud: pfi.did, iat: Math.floor(Date.now() / 1000), nonce: token.c_nonce, ...options.tamper?.proof },
    'openid4vci-proof+jwt',
  );
  const credRes = await http.send(
    'POST',
    ci.credential_endpoint,
    { 'content-type': 'application/json', authorization: `Bearer ${token.access_token}` },
    JSON.stringify({ format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt: proof } }),
  );
  expectStatus(credRes, 200, 'credential');
  const credential = parseJson(credRes, 'credential')?.credential;
  const vc = decodeJws(credential, 'credential');
  verifyPfiJws(pfi, keys, vc, 'assertionMethod', 'credential', options.verifyCredentialSignature ?? false);
  if (vc.payload.iss !== pfi.did) throw new LeanFlowError('credential', 'the credential is not issued by the PFI DID');
  if (vc.payload.sub !== holder.did) throw new LeanFlowError('credential', 'the credential subject is not the holder DID');
  return { holderDid: holder.did, pfiDid: pfi.did, credential, credentialPayload: vc.payload };
}
