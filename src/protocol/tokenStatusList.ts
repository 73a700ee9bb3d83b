import { StatusList, createHeaderAndPayload } from '@sd-jwt/jwt-status-list';
import { base64urlDecode } from '../crypto/base64url';
import { signJwt } from '../crypto/jwt';
import type { CredentialSigner } from '../crypto/keys';
import { readStreamCapped } from '../readCapped';

/**
 * IETF Token Status List (draft-ietf-oauth-status-list): the `statuslist+jwt` that SD-JWT VC KCCs
 * reference by `status.status_list {idx, uri}`. It is built from the SAME status bits as the
 * W3C Bitstring lists of the same list id (src/protocol/statusList.ts): one list id, one index per
 * credential, two encodings. Two bits per status (§4.1, `bits: 2`), so the one list carries both
 * purposes:
 *   0x00 VALID, 0x01 INVALID (revoked: final), 0x02 SUSPENDED (§7.1);
 * a revoked credential is INVALID whether or not it was also suspended.
 * Built with @sd-jwt/jwt-status-list (ZLIB, §4.1); read back by our own capped inflate (a
 * status list from elsewhere must not decompress without bound).
 */
export const TOKEN_STATUS = { VALID: 0, INVALID: 1, SUSPENDED: 2 } as const;
export const TOKEN_STATUS_BITS = 2;
export const STATUS_LIST_JWT_TYP = 'statuslist+jwt';
export const STATUS_LIST_JWT_MEDIA_TYPE = 'application/statuslist+jwt';

/** The status list of `size` entries with the revoked and suspended indices set. */
export function buildTokenStatusList(size: number, revoked: Iterable<number>, suspended: Iterable<number>): StatusList {
  const statuses = new Array<number>(size).fill(TOKEN_STATUS.VALID);
  for (const i of suspended) statuses[i] = TOKEN_STATUS.SUSPENDED;
  // After suspension: revocation is final and wins.
  for (const i of revoked) statuses[i] = TOKEN_STATUS.INVALID;
  return new StatusList(statuses, TOKEN_STATUS_BITS);
}

/**
 * The Status List Token (§5.1): `sub` is the list's URI (the `uri` KCCs carry), `iat`, `exp`,
 * `ttl` (§5.1: how long a relying party may cache it), `iss` the Credential Issuer, signed by the
 * PFI's current key (`kid` in the JWT VC Issuer Metadata and the DID document).
 */
export async function signTokenStatusList(
  signer: CredentialSigner,
  input: { uri: string; issuer: string; list: StatusList; issuedAt: number; expiresAt: number; ttlSeconds: number },
): Promise<string> {
  const { header, payload } = createHeaderAndPayload(
    input.list,
    { iss: input.issuer, sub: input.uri, iat: input.issuedAt, exp: input.expiresAt, ttl: input.ttlSeconds },
    { alg: signer.alg, typ: STATUS_LIST_JWT_TYP },
  );
  return signJwt(signer, payload, { typ: header.typ });
}

/** Largest decompressed list accepted from others (bytes), as for Bitstring lists. */
export const MAX_TOKEN_STATUS_LIST_BYTES = 16 * 1024 * 1024;

/** Decodes `status_list.lst` (base64url of ZLIB) with a cap on the inflated size. */
export async function decodeTokenStatusList(lst: string, maxBytes = MAX_TOKEN_STATUS_LIST_BYTES): Promise<Uint8Array> {
  const compressed = base64urlDecode(lst);
  const stream = new DecompressionStream('deflate'); // 'deflate' is ZLIB (RFC 1950), as §4.1 asks
  const writer = stream.writable.getWriter();
  void writer
    .write(compressed as Uint8Array<ArrayBuffer>)
    .then(() => writer.close())
    .catch(() => undefined);
  return readStreamCapped(stream.readable as ReadableStream<Uint8Array>, maxBytes, () => new RangeError('status list is too large'));
}

/** The status at `index` (§4.1: index 0 is in the least significant bits of the first byte). */
export function tokenStatusAt(bytes: Uint8Array, bits: number, index: number): number {
  const bit = index * bits;
  const byte = bit >> 3;
  if (byte >= bytes.length) throw new RangeError(`index ${index} is outside the status list`);
  return (bytes[byte] >> (bit & 7)) & ((1 << bits) - 1);
}
