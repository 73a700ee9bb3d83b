import { type WalletClient, WalletError, type IdvRequest } from './client';

/**
 * The whole KCC application as a wallet runs it (spec "Credential Application Flow"):
 * discover → SIOPv2 → IDV form → token → credential (→ deferred polling).
 */
export interface FlowStep {
  step: string;
  detail?: Record<string, unknown>;
}

export interface ApplyOptions {
  /** Issuer URL or DID of the PFI (did:web, did:dht: discovered through the `#idv` service). */
  issuer?: string;
  /**
   * The IDV endpoint itself, when there is nothing to discover (a did:jwk PFI has no services):
   * the PFI DID is then the signed request's client_id.
   */
  idvEndpoint?: string;
  /** Identity data the webview submits (the sandbox decides on family_name). */
  identity: Record<string, string>;
  onStep?: (s: FlowStep) => void;
  /** Deferred polling: how often and for how long (defaults 1 s, 30 s); 0 attempts to skip. */
  pollIntervalMs?: number;
  pollAttempts?: number;
  /** Called once while deferred, e.g. to have an operator approve in a demo. */
  whilePending?: () => Promise<void>;
  /** The KCC tier to apply for (presentation_definition_id); default: the PFI chooses. */
  presentationDefinitionId?: string;
  /** KCCs we already hold, presented when the PFI asks (upgrade, renewal). */
  credentials?: string[];
}

export interface ApplyResult {
  credential?: string;
  transactionId?: string;
  accessToken: string;
  idvRequest: IdvRequest;
  deferred: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function applyForKcc(client: WalletClient, options: ApplyOptions): Promise<ApplyResult> {
  const step = (s: string, detail?: Record<string, unknown>) => options.onStep?.({ step: s, detail });
  let request: Awaited<ReturnType<typeof client.initiate>>;
  if (options.idvEndpoint) {
    request = await client.initiate(options.idvEndpoint, undefined, { presentationDefinitionId: options.presentationDefinitionId });
  } else {
    if (!options.issuer) throw new WalletError('issuer or idvEndpoint is required');
    const pfi = await client.discover(options.issuer);
    step('discovered', { pfiDid: pfi.did, idvEndpoint: pfi.idvEndpoint });
    request = await client.initiate(pfi.idvEndpoint, pfi, { presentationDefinitionId: options.presentationDefinitionId });
  }
  const pfi = { did: request.client_id };
  step('siop_request_verified', { client_id: request.client_id, response_uri: request.response_uri });
  const idvRequest = await client.respond(request, { credentials: options.credentials });
  step('idv_request', { url: idvRequest.url, credential_offer: idvRequest.credential_offer });
  if (new URL(idvRequest.url).pathname.endsWith('finish.html')) {
    // Presented credentials covered every check: nothing to fill in (DIDPay closes the webview here).
    step('idv_skipped', { finish: idvRequest.url });
  } else {
    const form = await client.submitIdvForm(idvRequest.url, options.identity);
    if (form.status !== 200 || !form.location?.endsWith('finish.html'))
      throw new WalletError('IDV form was not completed', form.status, form.body.slice(0, 500));
    step('idv_submitted', { finish: form.location });
  }
  const offer = idvRequest.credential_offer;
  const { authorizationServer, credentialIssuer } = await client.metadata(offer.credential_issuer);
  step('metadata', { token_endpoint: authorizationServer.token_endpoint, credential_endpoint: credentialIssuer.credential_endpoint });
  const code = offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'];
  const token = await client.token(authorizationServer.token_endpoint, code);
  step('token', { token_type: token.token_type, expires_in: token.expires_in, c_nonce_expires_in: token.c_nonce_expires_in });
  // DIDPay sets the proof aud to the PFI DID (docs/wallet-behaviour.md).
  const first = await client.credential(credentialIssuer.credential_endpoint, token.access_token, pfi.did, token.c_nonce);
  if (first.credential) {
    step('credential', { status: first.status });
    return { credential: first.credential, accessToken: token.access_token, idvRequest, deferred: false };
  }
  const transactionId = first.transaction_id as string;
  step('deferred', { status: first.status, transaction_id: transactionId });
  if (options.whilePending) await options.whilePending();
  const attempts = options.pollAttempts ?? 30;
  for (let i = 0; i < attempts; i++) {
    const r = await client.deferred(credentialIssuer.deferred_credential_endpoint, token.access_token, transactionId);
    if (r.credential) {
      step('credential', { deferred: true, polls: i + 1 });
      return { credential: r.credential, transactionId, accessToken: token.access_token, idvRequest, deferred: true };
    }
    step('issuance_pending', { poll: i + 1 });
    await sleep(options.pollIntervalMs ?? 1000);
  }
  return { transactionId, accessToken: token.access_token, idvRequest, deferred: true };
}

export const SAMPLE_IDENTITY = {
  given_name: 'Alice',
  family_name: 'Doe',
  birthdate: '1990-04-01',
  country_of_residence: 'US',
  document_type: 'passport',
  document_number: 'X1234567',
};
