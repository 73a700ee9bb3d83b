/**
 * Every path the issuer serves, relative to the base path of PUBLIC_URL, and the absolute
 * URLs it hands out. One place, so metadata, offers and routes never disagree.
 */
export const PATHS = {
  initiate: '/idv/siopv2/initiate',
  siopResponse: '/idv/siopv2/response',
  idvForm: '/idv/form/:token',
  idvFinish: '/idv/finish.html',
  idvCss: '/idv/form.css',
  credentialIssuerMetadata: '/.well-known/openid-credential-issuer',
  authorizationServerMetadata: '/.well-known/oauth-authorization-server',
  token: '/oauth2/token',
  credential: '/oid4vci/credential',
  deferredCredential: '/oid4vci/deferred-credential',
  nonce: '/oid4vci/nonce',
  notification: '/oid4vci/notification',
  kccSchema: '/schemas/kcc.schema.json',
  admin: '/admin',
  idvWebhook: '/idv/webhooks/:provider',
  idvCallback: '/idv/callback/:provider',
  console: '/console',
  health: '/healthz',
  ready: '/readyz',
  metrics: '/metrics',
  openapi: '/openapi.json',
  presentationDefinitions: '/presentation-definitions',
  presentationDefinition: '/presentation-definitions/:id',
  statusList: '/status/:listId/:purpose',
} as const;

export function basePathOf(publicUrl: string): string {
  return new URL(publicUrl).pathname.replace(/\/+$/, '');
}

export function issuerUrls(publicUrl: string) {
  const base = publicUrl.replace(/\/+$/, '');
  return {
    credentialIssuer: base,
    initiate: base + PATHS.initiate,
    siopResponse: base + PATHS.siopResponse,
    idvForm: (token: string) => `${base}/idv/form/${token}`,
    idvFinish: base + PATHS.idvFinish,
    idvCss: base + PATHS.idvCss,
    /** An OIDC vendor's redirect_uri (register it exactly so at the vendor). */
    idvCallback: (provider: string) => `${base}/idv/callback/${encodeURIComponent(provider)}`,
    token: base + PATHS.token,
    credential: base + PATHS.credential,
    deferredCredential: base + PATHS.deferredCredential,
    nonce: base + PATHS.nonce,
    notification: base + PATHS.notification,
    kccSchema: base + PATHS.kccSchema,
    presentationDefinition: (id: string) => `${base}/presentation-definitions/${encodeURIComponent(id)}`,
    statusList: (listId: number, purpose: string) => `${base}/status/${listId}/${purpose}`,
  };
}
