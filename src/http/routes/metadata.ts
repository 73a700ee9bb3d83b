import { Hono } from 'hono';
import kccSchema from '../../../schemas/kcc.schema.json';
import { buildAuthorizationServerMetadata, buildCredentialIssuerMetadata } from '../../protocol/oid4vci/metadata';
import type { AppDeps, AppEnv } from '../context';
import { credentialConfigurations, sdJwtCredentialConfigurations, sdJwtVcSettingsOf } from '../../issuance/credentialConfigurations';
import { PATHS, issuerUrls } from '../../paths';
import { describeRoute, doc } from '../openapi';
import { AuthorizationServerMetadata, CredentialIssuerMetadata, Health } from '../apiBodies';
import { z } from 'zod';

/**
 * Discovery documents: the PFI DID document (did:web), OID4VCI Credential Issuer Metadata,
 * RFC 8414 Authorization Server Metadata, and the KCC JSON schema the credentials name.
 */
const PUBLIC_CACHE = 'public, max-age=300';
/** Public documents are readable from browsers (web wallets, verifiers): CORS only here. */
const PUBLIC_HEADERS = { 'Cache-Control': PUBLIC_CACHE, 'Access-Control-Allow-Origin': '*' };

export function credentialIssuerMetadata(deps: AppDeps) {
  const urls = issuerUrls(deps.config.publicUrl);
  const registry = credentialConfigurations(deps.config);
  const sdJwt = sdJwtVcSettingsOf(deps.config);
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
    configurations: registry.all,
    // SDJWT_VC_OFFERED: the dc+sd-jwt configurations, encryption and batches (docs/formats.md).
    ...(sdJwt.offered
      ? {
          sdJwt: {
            configurations: sdJwtCredentialConfigurations(registry, sdJwt.vct),
            signingAlgs: [deps.issuer.sdJwtSigner.alg],
            batchSize: sdJwt.batchSize,
            encryptionRequired: sdJwt.encryptionRequired,
          },
        }
      : {}),
  });
}

export function authorizationServerMetadata(deps: AppDeps) {
  const urls = issuerUrls(deps.config.publicUrl);
  return buildAuthorizationServerMetadata({ issuer: urls.credentialIssuer, tokenEndpoint: urls.token });
}

/** The three discovery documents as the bytes we serve. */
export interface DiscoveryDocuments {
  didDocument: string;
  credentialIssuerMetadata: string;
  authorizationServerMetadata: string;
}

/**
 * The discovery documents, serialized once per issuer identity instead of built and stringified
 * on every request (each wallet fetches all three per flow; docs/performance.md). The config of
 * an app never changes; its identity is replaced as a whole when keys reload (SIGHUP), which is
 * what invalidates them.
 */
export function createDiscoveryDocuments(): (deps: AppDeps) => DiscoveryDocuments {
  let identity: AppDeps['issuer'] | undefined;
  let documents: DiscoveryDocuments | undefined;
  return (deps) => {
    if (!documents || identity !== deps.issuer) {
      documents = {
        didDocument: JSON.stringify(deps.issuer.didDocument),
        credentialIssuerMetadata: JSON.stringify(credentialIssuerMetadata(deps)),
        authorizationServerMetadata: JSON.stringify(authorizationServerMetadata(deps)),
      };
      identity = deps.issuer;
    }
    return documents;
  };
}

const publicDocument = (body: string, contentType: string, cacheControl = PUBLIC_CACHE) =>
  new Response(body, { headers: { 'Content-Type': contentType, 'Cache-Control': cacheControl, 'Access-Control-Allow-Origin': '*' } });

/** The DID document, at the did:web location for PUBLIC_URL (see src/did/pfi.ts). */
export const didDocumentResponse = (documents: DiscoveryDocuments): Response => publicDocument(documents.didDocument, 'application/did+json');
export const credentialIssuerMetadataResponse = (documents: DiscoveryDocuments): Response =>
  publicDocument(documents.credentialIssuerMetadata, 'application/json');
export const authorizationServerMetadataResponse = (documents: DiscoveryDocuments): Response =>
  publicDocument(documents.authorizationServerMetadata, 'application/json');

/** The metadata routes over one app's documents (see createDiscoveryDocuments). */
export function metadataRoutes(documents: (deps: AppDeps) => DiscoveryDocuments): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get(
    PATHS.credentialIssuerMetadata,
    describeRoute({ summary: 'OID4VCI Credential Issuer Metadata', tags: ['metadata'], responses: { 200: doc.json('Metadata', CredentialIssuerMetadata) } }),
  );
  routes.get(PATHS.credentialIssuerMetadata, (c) => credentialIssuerMetadataResponse(documents(c.get('deps'))));
  routes.get(
    PATHS.authorizationServerMetadata,
    describeRoute({
      summary: 'RFC 8414 Authorization Server Metadata',
      tags: ['metadata'],
      responses: { 200: doc.json('Metadata', AuthorizationServerMetadata) },
    }),
  );
  routes.get(PATHS.authorizationServerMetadata, (c) => authorizationServerMetadataResponse(documents(c.get('deps'))));
  routes.get(
    PATHS.kccSchema,
    describeRoute({
      summary: 'The KCC JSON Schema',
      tags: ['metadata'],
      responses: { 200: doc.json('JSON Schema', z.looseObject({ $schema: z.string().optional() })) },
    }),
  );
  routes.get(PATHS.kccSchema, (c) => c.json(kccSchema, 200, { ...PUBLIC_HEADERS, 'Cache-Control': 'public, max-age=86400' }));
  routes.get(PATHS.health, describeRoute({ summary: 'Liveness', tags: ['ops'], responses: { 200: doc.json('Alive', Health) } }));
  routes.get(PATHS.health, (c) => c.json({ status: 'ok' }));
  return routes;
}
