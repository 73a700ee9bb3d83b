/**
 * Every path the issuer serves, relative to the base path of PUBLIC_URL, and the absolute
 * URLs it hands out. One place, so metadata, offers and routes never disagree.
 */
export const PATHS = {
  initiate: '/idv/siopv2/initiate',
  siopResponse: '/idv/siopv2/response',
  idvForm: '/idv/form/:token',
  idvFinish: '/idv/finish.html',
  idvFinishApproved: '/idv/approved/finish.html',
  idvFinishReview: '/idv/review/finish.html',
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
  existingCustomerStart: '/idv/form/:token/existing-customer',
  existingCustomerCallback: '/idv/existing-customer/callback',
  console: '/console',
  /** The review console's workforce sign-in (src/issuance/operatorSso.ts): started here, answered at the callback. */
  consoleSsoStart: '/console/sso/start',
  consoleSsoCallback: '/console/sso/callback',
  health: '/healthz',
  ready: '/readyz',
  metrics: '/metrics',
  openapi: '/openapi.json',
  presentationDefinitions: '/presentation-definitions',
  presentationDefinition: '/presentation-definitions/:id',
  statusList: '/status/:listId/:purpose',
  /** IETF Token Status List of a list id (the SD-JWT VC KCCs' `status.status_list.uri`). */
  tokenStatusList: '/token-status/:listId',
  /** JWT VC Issuer Metadata (SD-JWT VC §5); with a path in PUBLIC_URL also served at the host's well-known (src/http/app.ts). */
  jwtVcIssuerMetadata: '/.well-known/jwt-vc-issuer',
  /** SD-JWT VC Type Metadata of the default `vct` (src/protocol/sdJwtVc/settings.ts). */
  kccTypeMetadata: '/vct/known-customer-credential',
  /** Know Your Agent token endpoint (docs/kya.md). */
  kyaToken: '/kya/token',
} as const;

export function basePathOf(publicUrl: string): string {
  return new URL(publicUrl).pathname.replace(/\/+$/, '');
}

/**
 * The absolute URLs under one PUBLIC_URL. A class, not an object literal of closures: it is built
 * on every request that hands out a URL, and its methods live once on the prototype.
 */
export class IssuerUrls {
  readonly credentialIssuer: string;
  readonly initiate: string;
  readonly siopResponse: string;
  readonly idvFinish: string;
  readonly idvFinishApproved: string;
  readonly idvFinishReview: string;
  readonly idvCss: string;
  readonly token: string;
  readonly credential: string;
  readonly deferredCredential: string;
  readonly nonce: string;
  readonly notification: string;
  readonly kccSchema: string;
  readonly kyaToken: string;

  constructor(publicUrl: string) {
    const base = publicUrl.replace(/\/+$/, '');
    this.credentialIssuer = base;
    this.initiate = base + PATHS.initiate;
    this.siopResponse = base + PATHS.siopResponse;
    this.idvFinish = base + PATHS.idvFinish;
    this.idvFinishApproved = base + PATHS.idvFinishApproved;
    this.idvFinishReview = base + PATHS.idvFinishReview;
    this.idvCss = base + PATHS.idvCss;
    this.token = base + PATHS.token;
    this.credential = base + PATHS.credential;
    this.deferredCredential = base + PATHS.deferredCredential;
    this.nonce = base + PATHS.nonce;
    this.notification = base + PATHS.notification;
    this.kccSchema = base + PATHS.kccSchema;
    this.kyaToken = base + PATHS.kyaToken;
  }

  idvForm(token: string): string {
    return `${this.credentialIssuer}/idv/form/${token}`;
  }

  /** "I already bank with <PFI> — sign in": the POST that starts the bank login (under the form path: its CSRF cookie applies). */
  existingCustomerStart(token: string): string {
    return `${this.credentialIssuer}/idv/form/${token}/existing-customer`;
  }

  /** The redirect_uri registered at the bank's OpenID Connect provider. */
  get existingCustomerCallback(): string {
    return `${this.credentialIssuer}${PATHS.existingCustomerCallback}`;
  }

  /** The redirect_uri registered at the PFI's workforce OpenID Connect provider (docs/operator-sso.md). */
  get consoleSsoCallback(): string {
    return `${this.credentialIssuer}${PATHS.consoleSsoCallback}`;
  }

  /** An OIDC vendor's redirect_uri (register it exactly so at the vendor). */
  idvCallback(provider: string): string {
    return `${this.credentialIssuer}/idv/callback/${encodeURIComponent(provider)}`;
  }

  presentationDefinition(id: string): string {
    return `${this.credentialIssuer}/presentation-definitions/${encodeURIComponent(id)}`;
  }

  statusList(listId: number, purpose: string): string {
    return `${this.credentialIssuer}/status/${listId}/${purpose}`;
  }

  tokenStatusList(listId: number): string {
    return `${this.credentialIssuer}/token-status/${listId}`;
  }
}

export function issuerUrls(publicUrl: string): IssuerUrls {
  return new IssuerUrls(publicUrl);
}
