import { WalletClient, WalletError, type Fetch, type IdvRequest } from '../../src/wallet/client';
import { SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import type { JwsAlgorithm } from '../../src/crypto/keys';

export const PRE_AUTH_GRANT = 'urn:ietf:params:oauth:grant-type:pre-authorized_code';

/**
 * The part of a KCC application our reference wallet does before any OID4VCI client takes over:
 * discover the PFI, SIOPv2, submit the IDV form. The sandbox decides on family_name
 * ("Review" → manual review, "Declined" → rejected, anything else → approved).
 */
export async function applyUntilOffer(
  issuer: string,
  fetch: Fetch,
  options: { familyName?: string; alg?: JwsAlgorithm } = {},
): Promise<{ client: WalletClient; holder: Holder; pfiDid: string; idvRequest: IdvRequest; preAuthorizedCode: string }> {
  const holder = await Holder.create({ alg: options.alg });
  const client = new WalletClient(holder, fetch);
  const pfi = await client.discover(issuer);
  const request = await client.initiate(pfi.idvEndpoint, pfi);
  const idvRequest = await client.respond(request);
  const form = await client.submitIdvForm(idvRequest.url, { ...SAMPLE_IDENTITY, family_name: options.familyName ?? SAMPLE_IDENTITY.family_name });
  if (form.status !== 200 || !form.location?.endsWith('finish.html')) throw new WalletError('IDV form was not completed', form.status);
  const preAuthorizedCode = idvRequest.credential_offer.grants[PRE_AUTH_GRANT]['pre-authorized_code'];
  return { client, holder, pfiDid: pfi.did, idvRequest, preAuthorizedCode };
}

/** The credential offer as a wallet receives it by value (OID4VCI §4.1.1). */
export function credentialOfferUri(offer: unknown): string {
  return `openid-credential-offer://?credential_offer=${encodeURIComponent(JSON.stringify(offer))}`;
}
