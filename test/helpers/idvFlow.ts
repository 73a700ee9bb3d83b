import type { WalletClient } from '../../src/wallet/client';

/** The wallet's side up to the IDV Request: discover → SIOPv2 → IDV Request. */
export async function openApplication(client: WalletClient, issuer: string) {
  const pfi = await client.discover(issuer);
  const request = await client.initiate(pfi.idvEndpoint, pfi);
  const idvRequest = await client.respond(request);
  return { pfi, idvRequest };
}

/** Token, then the credential request: `{ credential }` at once or `{ transaction_id }` (deferred). */
export async function requestCredential(client: WalletClient, pfiDid: string, idvRequest: Awaited<ReturnType<WalletClient['respond']>>) {
  const offer = idvRequest.credential_offer;
  const { authorizationServer, credentialIssuer } = await client.metadata(offer.credential_issuer);
  const token = await client.token(
    authorizationServer.token_endpoint,
    offer.grants['urn:ietf:params:oauth:grant-type:pre-authorized_code']['pre-authorized_code'],
  );
  const first = await client.credential(credentialIssuer.credential_endpoint, token.access_token, pfiDid, token.c_nonce);
  const deferred = () => client.deferred(credentialIssuer.deferred_credential_endpoint, token.access_token, first.transaction_id as string);
  return { first, deferred, accessToken: token.access_token };
}
