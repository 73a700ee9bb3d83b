import { OpenID4VCIClientV1_0_13 } from '@sphereon/oid4vci-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { signJwt } from '../../src/crypto/jwt';
import type { Holder } from '../../src/wallet/holder';
import { applyUntilOffer, credentialOfferUri } from '../helpers/application';
import { approveReviewOverHttp, hasTransaction, startHttpIssuer, verifyKccIndependently, waitFor, type HttpIssuer } from '../helpers/httpIssuer';

/**
 * Interop with Sphereon's @sphereon/oid4vci-client 0.19.0 (OpenID4VCIClientV1_0_13: OID4VCI
 * draft 13), over real HTTP. Our reference wallet does SIOPv2 + the IDV form (the library has
 * no part in them), then hands the credential offer to the library, which does metadata, token,
 * proof, credential and deferred polling on its own. The KCC is verified with did-jwt-vc.
 */
let issuer: HttpIssuer;

beforeAll(async () => {
  issuer = await startHttpIssuer();
  // The library console.logs whole responses (tokens included); keep the test output clean.
  vi.spyOn(console, 'log').mockImplementation(() => {});
});
afterAll(async () => {
  vi.restoreAllMocks();
  await issuer?.close();
});

/** The library builds header and payload of the proof; the holder's key signs them. */
function proofCallbacks(holder: Holder) {
  return {
    signCallback: async (jwt: { header?: Record<string, unknown>; payload?: Record<string, unknown> }) => {
      const { alg: _alg, kid: _kid, ...header } = jwt.header ?? {};
      return signJwt(holder.signer, jwt.payload ?? {}, header);
    },
  };
}

async function sphereonClient(offer: unknown, holder: Holder) {
  const client = await OpenID4VCIClientV1_0_13.fromURI({ uri: credentialOfferUri(offer), kid: holder.kid, alg: 'EdDSA', retrieveServerMetadata: true });
  expect(client.getCredentialEndpoint()).toBe(`${issuer.url}/oid4vci/credential`);
  // Client bug (0.19.0): OpenID4VCIClientV1_0_13.getDeferredCredentialEndpoint() returns the
  // credential_endpoint. The request client it builds uses deferred_credential_endpoint from the
  // metadata correctly, so we assert on the metadata instead of the getter.
  expect(client.endpointMetadata.deferred_credential_endpoint).toBe(`${issuer.url}/oid4vci/deferred-credential`);
  return client;
}

describe('Sphereon oid4vci-client 0.19.0 (draft 13)', () => {
  it('immediate issuance', async () => {
    const { holder, idvRequest } = await applyUntilOffer(issuer.url, issuer.fetch);
    const client = await sphereonClient(idvRequest.credential_offer, holder);
    // Sends a form body with client_id = the DID of its kid, and empty user_pin/tx_code.
    const token = await client.acquireAccessToken();
    expect(token.access_token).toBeTypeOf('string');
    expect(token.c_nonce).toBeTypeOf('string');
    const res = await client.acquireCredentials({
      credentialTypes: ['VerifiableCredential', 'KnownCustomerCredential'],
      format: 'jwt_vc_json',
      proofCallbacks: proofCallbacks(holder),
      kid: holder.kid,
      alg: 'EdDSA',
    });
    expect(res.credential).toBeTypeOf('string');
    await verifyKccIndependently(issuer, res.credential as string, holder.did);

    // What the library put on the wire: a draft-13 token request and credential request.
    const tokenRequest = issuer.requests.find((r) => r.path === '/oauth2/token' && r.body?.includes(holder.did.slice(0, 40)));
    expect(tokenRequest?.contentType).toContain('application/x-www-form-urlencoded');
    const credentialRequest = issuer.requests.filter((r) => r.path === '/oid4vci/credential').at(-1);
    const sent = JSON.parse(credentialRequest?.body ?? '{}');
    expect(sent.format).toBe('jwt_vc_json');
    expect(sent.credential_configuration_id).toBeUndefined();
    expect(sent.proof.proof_type).toBe('jwt');
  });

  it('deferred issuance: polls through issuance_pending until an operator approves', async () => {
    const { holder, idvRequest } = await applyUntilOffer(issuer.url, issuer.fetch, { familyName: 'Review' });
    const client = await sphereonClient(idvRequest.credential_offer, holder);
    await client.acquireAccessToken();
    const pending = client.acquireCredentials({
      credentialTypes: ['VerifiableCredential', 'KnownCustomerCredential'],
      format: 'jwt_vc_json',
      proofCallbacks: proofCallbacks(holder),
      kid: holder.kid,
      alg: 'EdDSA',
      deferredCredentialAwait: true,
      deferredCredentialIntervalInMS: 100,
    });
    // Let the library get its 202 and poll a few times, then decide the review.
    expect(await waitFor(() => hasTransaction(issuer, holder.did))).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    await approveReviewOverHttp(issuer, holder.did);
    const res = await pending;
    expect(res.credential).toBeTypeOf('string');
    const polls = issuer.requests.filter((r) => r.path === '/oid4vci/deferred-credential');
    expect(polls.length).toBeGreaterThanOrEqual(2);
    expect(polls.slice(0, -1).every((r) => r.status === 400 && r.response?.includes('issuance_pending'))).toBe(true);
    expect(polls.at(-1)?.status).toBe(200);
    await verifyKccIndependently(issuer, res.credential as string, holder.did);
  });
});
