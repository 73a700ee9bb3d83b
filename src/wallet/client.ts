import { decodeJwt, verifyJwtSignature } from '../crypto/jwt';
import { parsePublicJwk, type CryptoProvider } from '../crypto/keys';
import { createWebCryptoProvider } from '../crypto/webCrypto';
import { createDidJwkResolver } from '../did/jwk';
import { createDidKeyResolver } from '../did/key';
import { createDidResolver, type DidResolver } from '../did/resolver';
import type { DIDDocument } from '../did/types';
import type { Holder } from './holder';

/**
 * The reference wallet's protocol client: discovery, SIOPv2, IDV form, OID4VCI token,
 * credential and deferred calls. `fetch` is injected, so tests wire it straight into
 * `app.request` and the CLI uses the real network.
 */
export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

export class WalletError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'WalletError';
  }
}

export interface IdvRequest {
  url: string;
  credential_offer: {
    credential_issuer: string;
    credential_configuration_ids: string[];
    grants: Record<string, { 'pre-authorized_code': string }>;
  };
}

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  c_nonce: string;
  c_nonce_expires_in: number;
}

export interface SiopRequest {
  client_id: string;
  nonce: string;
  response_uri: string;
  response_mode: string;
  response_type: string;
  scope: string;
  client_metadata: Record<string, unknown>;
  presentation_definition?: { id: string; input_descriptors: { id: string }[] };
}

async function json(res: Response): Promise<any> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** did:web → the URL of its DID document (W3C did:web §3.2); http for loopback hosts. */
export function didWebDocumentUrl(did: string): string {
  const parts = did.split(':').slice(2).map(decodeURIComponent);
  const host = parts[0];
  const scheme = /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(host) ? 'http' : 'https';
  return parts.length > 1 ? `${scheme}://${host}/${parts.slice(1).join('/')}/did.json` : `${scheme}://${host}/.well-known/did.json`;
}

export class WalletClient {
  readonly crypto: CryptoProvider;
  /** Resolves PFI DIDs other than did:web (did:dht through a gateway, did:jwk); default did:jwk and did:key. */
  readonly resolver: DidResolver;
  /** Seconds since the epoch for the tokens we sign (tests inject the issuer's clock). */
  readonly now?: () => number;
  constructor(
    readonly holder: Holder,
    readonly fetch: Fetch,
    options: { crypto?: CryptoProvider; resolver?: DidResolver; now?: () => number } = {},
  ) {
    this.crypto = options.crypto ?? createWebCryptoProvider();
    this.resolver = options.resolver ?? createDidResolver({ registry: { ...createDidJwkResolver(), ...createDidKeyResolver() } });
    this.now = options.now;
  }

  /**
   * Finds the PFI's IDV endpoint: the first service of type IDV in its DID document (as DIDPay
   * does). A did:web DID or an issuer URL is fetched over https (the URL's did:web location);
   * other DIDs are resolved. A document served at the URL for a non-did:web DID is only a hint:
   * its DID is resolved through its own method (e.g. the did:dht gateway) and that is used.
   */
  async discover(issuerUrlOrDid: string): Promise<{ did: string; document: DIDDocument; idvEndpoint: string }> {
    let document: DIDDocument;
    if (issuerUrlOrDid.startsWith('did:') && !issuerUrlOrDid.startsWith('did:web:')) {
      document = await this.resolvePfiDid(issuerUrlOrDid);
    } else {
      let docUrl: string;
      if (issuerUrlOrDid.startsWith('did:web:')) docUrl = didWebDocumentUrl(issuerUrlOrDid);
      else {
        const u = new URL(issuerUrlOrDid);
        const path = u.pathname.replace(/\/+$/, '');
        docUrl = path ? `${u.origin}${path}/did.json` : `${u.origin}/.well-known/did.json`;
      }
      const res = await this.fetch(docUrl);
      if (!res.ok) throw new WalletError(`DID document not found at ${docUrl}`, res.status);
      document = (await res.json()) as DIDDocument;
      if (typeof document?.id !== 'string') throw new WalletError('the PFI DID document has no id');
      if (!document.id.startsWith('did:web:')) document = await this.resolvePfiDid(document.id);
    }
    const service = document.service?.find((s) => s.type === 'IDV');
    if (!service || typeof service.serviceEndpoint !== 'string') {
      const hint = document.id.startsWith('did:jwk:') ? ' (did:jwk has no services: start from the IDV endpoint URL)' : '';
      throw new WalletError(`the PFI DID document has no IDV service${hint}`);
    }
    return { did: document.id, document, idvEndpoint: service.serviceEndpoint };
  }

  private async resolvePfiDid(did: string): Promise<DIDDocument> {
    const r = await this.resolver.resolve(did).catch(() => undefined);
    if (!r || r.didResolutionMetadata?.error || !r.didDocument) {
      throw new WalletError(`the PFI DID could not be resolved: ${r?.didResolutionMetadata?.message ?? r?.didResolutionMetadata?.error ?? 'error'}`);
    }
    if (r.didDocument.id !== did) throw new WalletError('the PFI DID document id does not match the DID');
    return r.didDocument;
  }

  /**
   * GETs the IDV endpoint and verifies the signed request object against the PFI DID document.
   * Without `pfi` (did:jwk issuers, which publish no service: the wallet starts from the IDV
   * endpoint URL), the PFI DID is the request's client_id, resolved before the signature is checked.
   */
  async initiate(idvEndpoint: string, pfi?: { did: string; document: DIDDocument }, options: { presentationDefinitionId?: string } = {}): Promise<SiopRequest> {
    const url = options.presentationDefinitionId
      ? `${idvEndpoint}${idvEndpoint.includes('?') ? '&' : '?'}presentation_definition_id=${encodeURIComponent(options.presentationDefinitionId)}`
      : idvEndpoint;
    const res = await this.fetch(url);
    const text = await res.text();
    if (!res.ok) throw new WalletError('initiation failed', res.status, text);
    const params = new URLSearchParams(text);
    const requestObject = params.get('request');
    if (!requestObject) throw new WalletError('the SIOPv2 request has no signed request object');
    const jwt = decodeJwt(requestObject);
    if (!pfi) {
      const clientId = jwt.payload.client_id;
      if (typeof clientId !== 'string' || !clientId.startsWith('did:')) throw new WalletError('client_id is not a DID');
      pfi = { did: clientId, document: await this.resolvePfiDid(clientId) };
    }
    const kid = jwt.header.kid ?? '';
    if (!kid.startsWith(`${pfi.did}#`)) throw new WalletError('request object is not signed by the PFI DID');
    // The signing key must be one the PFI DID uses for authentication (DID Core §5.3.1).
    const fragment = kid.slice(pfi.did.length);
    const authenticates = (pfi.document.authentication ?? []).some((e) => {
      const id = typeof e === 'string' ? e : e.id;
      return id === kid || id === fragment;
    });
    if (!authenticates) throw new WalletError('request object key is not an authentication method of the PFI DID');
    const vm = pfi.document.verificationMethod?.find((v) => v.id === kid || v.id === fragment);
    const jwk = parsePublicJwk(vm?.publicKeyJwk);
    if (!jwk) throw new WalletError('request object key is not in the PFI DID document');
    await verifyJwtSignature(jwt, jwk, this.crypto);
    const claims = jwt.payload as unknown as SiopRequest;
    if (claims.client_id !== pfi.did) throw new WalletError('client_id is not the PFI DID');
    if (claims.response_mode !== 'direct_post' || !claims.response_type?.includes('id_token')) throw new WalletError('unsupported SIOPv2 request');
    return claims;
  }

  /** POSTs the SIOPv2 Authorization Response (JSON, as DIDPay does) and returns the IDV Request. */
  async respond(request: SiopRequest, options: { contentType?: 'json' | 'form'; credentials?: string[] } = {}): Promise<IdvRequest> {
    const params = await this.authorizationResponse(request, options.credentials);
    const init: RequestInit =
      options.contentType === 'form'
        ? {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams(Object.entries(params).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])).toString(),
          }
        : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params) };
    const res = await this.fetch(request.response_uri, init);
    const body = await json(res);
    if (res.status !== 200) throw new WalletError('SIOPv2 response was refused', res.status, body);
    return body as IdvRequest;
  }

  /**
   * The Authorization Response parameters: the ID token, and when the request carries a
   * presentation_definition and we hold credentials, a jwt_vp_json vp_token with a
   * presentation_submission mapping the first input descriptor to each credential.
   */
  async authorizationResponse(request: SiopRequest, credentials?: string[]): Promise<Record<string, unknown>> {
    const idToken = await this.holder.createIdToken({ clientId: request.client_id, nonce: request.nonce, now: this.now?.() });
    const pd = request.presentation_definition;
    if (!pd || !credentials?.length || !request.response_type.includes('vp_token')) return { id_token: idToken };
    const vpToken = await this.holder.createPresentation({ credentials, audience: request.client_id, nonce: request.nonce, now: this.now?.() });
    const descriptor = pd.input_descriptors[0]?.id ?? 'credential';
    return {
      id_token: idToken,
      vp_token: vpToken,
      presentation_submission: {
        id: crypto.randomUUID(),
        definition_id: pd.id,
        descriptor_map: credentials.map((_, i) => ({
          id: descriptor,
          format: 'jwt_vp_json',
          path: '$',
          path_nested: { id: descriptor, format: 'jwt_vc_json', path: `$.verifiableCredential[${i}]` },
        })),
      },
    };
  }

  /** Submits identity data to the IDV form as the webview would; returns the final page's URL. */
  async submitIdvForm(url: string, fields: Record<string, string>): Promise<{ status: number; location?: string; body: string }> {
    // Like the webview: load the form's consent step first, keep its CSRF cookie, send the hidden
    // token back with the consent (`consent: decline` in `fields` withdraws the application).
    const page = await this.fetch(url, { redirect: 'manual' });
    const pageBody = await page.text();
    const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0];
    const csrf = /name="csrf_token" value="([^"]+)"/.exec(pageBody)?.[1];
    const res = await this.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
      body: new URLSearchParams({ ...(csrf ? { csrf_token: csrf } : {}), consent: 'accept', ...fields }).toString(),
      redirect: 'manual',
    });
    const location = res.headers.get('location') ?? undefined;
    const body = await res.text();
    if (res.status === 303 && location) {
      const finish = await this.fetch(new URL(location, url).toString());
      return { status: finish.status, location, body: await finish.text() };
    }
    return { status: res.status, location, body };
  }

  async metadata(credentialIssuer: string) {
    const [as, ci] = await Promise.all([
      this.fetch(`${credentialIssuer}/.well-known/oauth-authorization-server`).then(json),
      this.fetch(`${credentialIssuer}/.well-known/openid-credential-issuer`).then(json),
    ]);
    return { authorizationServer: as, credentialIssuer: ci };
  }

  async token(tokenEndpoint: string, preAuthorizedCode: string): Promise<TokenResponse> {
    const res = await this.fetch(tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'urn:ietf:params:oauth:grant-type:pre-authorized_code',
        'pre-authorized_code': preAuthorizedCode,
        client_id: this.holder.did,
      }),
    });
    const body = await json(res);
    if (res.status !== 200) throw new WalletError('token request was refused', res.status, body);
    return body as TokenResponse;
  }

  /** Requests the KCC; returns `{ credential }` (200) or `{ transaction_id }` (202). */
  async credential(credentialEndpoint: string, accessToken: string, proofAudience: string, cNonce: string) {
    const jwt = await this.holder.createProofJwt({ audience: proofAudience, nonce: cNonce, now: this.now?.() });
    const res = await this.fetch(credentialEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({ format: 'jwt_vc_json', proof: { proof_type: 'jwt', jwt } }),
    });
    const body = await json(res);
    if (res.status !== 200 && res.status !== 202) throw new WalletError('credential request was refused', res.status, body);
    return { status: res.status, ...(body as { credential?: string; transaction_id?: string }) };
  }

  /** One deferred request: `{ credential }`, or `{ pending: true }` while issuance_pending. */
  async deferred(deferredEndpoint: string, accessToken: string, transactionId: string): Promise<{ credential?: string; pending?: boolean }> {
    const res = await this.fetch(deferredEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({ transaction_id: transactionId }),
    });
    const body = await json(res);
    if (res.status === 200) return { credential: body.credential };
    if (res.status === 400 && body?.error === 'issuance_pending') return { pending: true };
    throw new WalletError('deferred credential request was refused', res.status, body);
  }
}
