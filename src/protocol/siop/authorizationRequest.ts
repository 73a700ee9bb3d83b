import { signJwt } from '../../crypto/jwt';
import type { Signer } from '../../crypto/keys';

/**
 * The SIOPv2 Authorization Request the PFI returns to the initiation GET
 * (spec, "Initiate Application": client_id, scope, response_type, response_uri,
 * response_mode=direct_post, nonce, client_metadata, optional presentation_definition).
 */
export interface ClientMetadata {
  subject_syntax_types_supported: string[];
  client_name?: string;
  client_uri?: string;
  logo_uri?: string;
  tos_uri?: string;
  policy_uri?: string;
  contacts?: string[];
  /** SIOPv2 §9 (RP metadata): the ID token algorithms the PFI accepts (EdDSA, ES256K). */
  id_token_signing_alg_values_supported?: string[];
  /** OIDC Dynamic Client Registration §2: the alg of the signed request object. */
  request_object_signing_alg?: string;
}

export interface AuthorizationRequest {
  client_id: string;
  scope: 'openid';
  response_type: 'id_token' | 'id_token vp_token';
  response_uri: string;
  response_mode: 'direct_post';
  nonce: string;
  client_metadata: ClientMetadata;
  presentation_definition?: Record<string, unknown>;
  /** OpenID4VP 1.0 §5.1: a DCQL query instead of the presentation definition (never both). */
  dcql_query?: Record<string, unknown>;
}

export function buildAuthorizationRequest(input: {
  clientId: string;
  responseUri: string;
  nonce: string;
  clientMetadata: ClientMetadata;
  presentationDefinition?: Record<string, unknown>;
  dcqlQuery?: Record<string, unknown>;
}): AuthorizationRequest {
  if (input.presentationDefinition && input.dcqlQuery) throw new TypeError('a request carries a presentation definition or a DCQL query, not both');
  const request: AuthorizationRequest = {
    client_id: input.clientId,
    scope: 'openid',
    // spec: MUST include id_token; MUST include vp_token when presentation_definition (or a DCQL query) is present.
    response_type: input.presentationDefinition || input.dcqlQuery ? 'id_token vp_token' : 'id_token',
    response_uri: input.responseUri,
    response_mode: 'direct_post',
    nonce: input.nonce,
    client_metadata: input.clientMetadata,
  };
  if (input.presentationDefinition) request.presentation_definition = input.presentationDefinition;
  if (input.dcqlQuery) request.dcql_query = input.dcqlQuery;
  return request;
}

/**
 * The same parameters as a signed Request Object (JAR, RFC 9101 §4: parameters as top-level
 * claims, `typ: oauth-authz-req+jwt`). DIDPay reads only this and verifies it against the
 * PFI DID (docs/wallet-behaviour.md).
 */
export async function signRequestObject(signer: Signer, request: AuthorizationRequest, now: number, ttlSeconds: number): Promise<string> {
  return signJwt(
    signer,
    { ...request, iss: request.client_id, aud: 'https://self-issued.me/v2', iat: now, exp: now + ttlSeconds },
    { typ: 'oauth-authz-req+jwt' },
  );
}

/**
 * URI encoding (spec, "URI Encoding"): the query-parameter portion only, no
 * authorization_endpoint; JSON-valued parameters are JSON strings.
 */
export function encodeAuthorizationRequest(request: AuthorizationRequest, requestObject?: string): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(request)) {
    if (value === undefined) continue;
    params.set(name, typeof value === 'string' ? value : JSON.stringify(value));
  }
  if (requestObject) params.set('request', requestObject);
  return params.toString();
}
