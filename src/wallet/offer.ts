import qrcode from 'qrcode-terminal';
import type { IdvRequest } from './client';

/**
 * Handing a credential offer to another device: the `openid-credential-offer://` URI of
 * OID4VCI (draft 13 §4.1 and 1.0 §4.1: the offer by value in the `credential_offer` query
 * parameter) and a terminal QR code of it, for a phone wallet to scan.
 */
export type CredentialOffer = IdvRequest['credential_offer'];

export const CREDENTIAL_OFFER_SCHEME = 'openid-credential-offer://';

export function credentialOfferUri(offer: CredentialOffer): string {
  return `${CREDENTIAL_OFFER_SCHEME}?credential_offer=${encodeURIComponent(JSON.stringify(offer))}`;
}

/** The offer carried by value in a credential offer URI (the inverse of credentialOfferUri). */
export function parseCredentialOfferUri(uri: string): CredentialOffer {
  if (!uri.startsWith(CREDENTIAL_OFFER_SCHEME)) throw new Error('not an openid-credential-offer:// URI');
  const value = new URLSearchParams(uri.slice(uri.indexOf('?') + 1)).get('credential_offer');
  if (!value) throw new Error('the URI carries no credential_offer (credential_offer_uri is not supported here)');
  return JSON.parse(value) as CredentialOffer;
}

/**
 * The QR code of `text` as terminal text (half-block characters, two modules per line, no
 * colour escapes, so it survives copy and paste). Error correction level L: offers are long
 * and a terminal is a clean medium. The same text always gives the same picture.
 */
export function terminalQr(text: string): string {
  let out = '';
  qrcode.generate(text, { small: true }, (rendered) => {
    out = rendered;
  });
  return out;
}
