import { Hono } from 'hono';
import kccSchema from '../../../schemas/kcc.schema.json';
import { buildAuthorizationServerMetadata, buildCredentialIssuerMetadata } from '../../protocol/oid4vci/metadata';
import type { AppDeps, AppEnv } from '../context';
import { credentialConfigurations } from '../../issuance/credentialConfigurations';
import { PATHS, issuerUrls } from '../../paths';

/**
 * Discovery documents: the PFI DID document (did:web), OID4VCI Credential Issuer Metadata,
 * RFC 8414 Authorization Server Metadata, and the KCC JSON schema the credentials name.
 */
export const metadataRoutes = new Hono<AppEnv>();

const PUBLIC_CACHE = 'public, max-age=300';
/** Public documents are readable from browsers (web wallets, verifiers): CORS only here. */
const PUBLIC_HEADERS = { 'Cache-Control': PUBLIC_CACHE, 'Access-Control-Allow-Origin': '*' };

export function credentialIssuerMetadata(deps: AppDeps) {
  const urls = issuerUrls(deps.config.publicUrl);
  return buildCredentialIssuerMetadata({
    endpoints: {
      credentialIssuer: urls.credentialIssuer,
      tokenEndpoint: urls.token,
      credentialEndpoint: urls.credential,
      deferredCredentialEndpoint: urls.deferredCredential,
      nonceEndpoint: urls.nonce,
      notificationEndpoint: urls.notification,
    },
    displayName: deps.config.clientName,
    credentialSigningAlgs: [deps.issuer.signer.alg],
    configurations: credentialConfigurations(deps.config).all,
  });
}

export function authorizationServerMetadata(deps: AppDeps) {
  const urls = issuerUrls(deps.config.publicUrl);
  return buildAuthorizationServerMetadata({ issuer: urls.credentialIssuer, tokenEndpoint: urls.token });
}

metadataRoutes.get(PATHS.credentialIssuerMetadata, (c) => c.json(credentialIssuerMetadata(c.get('deps')), 200, PUBLIC_HEADERS));
metadataRoutes.get(PATHS.authorizationServerMetadata, (c) => c.json(authorizationServerMetadata(c.get('deps')), 200, PUBLIC_HEADERS));
metadataRoutes.get(PATHS.kccSchema, (c) => c.json(kccSchema, 200, { ...PUBLIC_HEADERS, 'Cache-Control': 'public, max-age=86400' }));
metadataRoutes.get(PATHS.health, (c) => c.json({ status: 'ok' }));

/** The DID document, at the did:web location for PUBLIC_URL (see src/did/pfi.ts). */
export function didDocumentResponse(deps: AppDeps): Response {
  return new Response(JSON.stringify(deps.issuer.didDocument), {
    headers: { 'Content-Type': 'application/did+json', 'Cache-Control': PUBLIC_CACHE, 'Access-Control-Allow-Origin': '*' },
  });
}
