import { base64urlDecode, base64urlEncode } from '../crypto/base64url';
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
 * Packed and compressed here (ZLIB through CompressionStream('deflate'), on Node and Workers, as
 * the Bitstring lists use it for GZIP), which keeps pako's deflate out of the Workers bundle; read
 * back by our own capped inflate (a status list from elsewhere must not decompress without bound).
 * The tests decode what this builds with @sd-jwt/jwt-status-list.
 */
export const TOKEN_STATUS = { VALID: 0, INVALID: 1, SUSPENDED: 2 } as const;
export const TOKEN_STATUS_BITS = 2;
export const STATUS_LIST_JWT_TYP = 'statuslist+jwt';
export const STATUS_LIST_JWT_MEDIA_TYPE = 'application/statuslist+jwt';

/** A Token Status List's statuses, packed (§4.1): `bits` per status, index 0 in the least significant bits of byte 0. */
export interface TokenStatusList {
  bits: number;
  bytes: Uint8Array;
}

/** The status list of `size` entries with the revoked and suspended indices set. */
export function buildTokenStatusList(size: number, revoked: Iterable<number>, suspended: Iterable<number>): TokenStatusList {
  const bytes = new Uint8Array(Math.ceil((size * TOKEN_STATUS_BITS) / 8));
  const set = (index: number, status: number) => {
    if (!Number.isInteger(index) || index < 0 || index >= size) throw new RangeError(`index ${index} is outside the status list`);
    const bit = index * TOKEN_STATUS_BITS;
    const shift = bit & 7;
    bytes[bit >> 3] = (bytes[bit >> 3] & ~(((1 << TOKEN_STATUS_BITS) - 1) << shift)) | (status << shift);
  };
  for (const i of suspended) set(i, TOKEN_STATUS.SUSPENDED);
  // After suspension: revocation is final and wins.
  for (const i of revoked) set(i, TOKEN_STATUS.INVALID);
  return { bits: TOKEN_STATUS_BITS, bytes };
}

/** ZLIB (RFC 1950) of `bytes`, base64url: `status_list.lst` (§4.2). */
export async function encodeTokenStatusList(bytes: Uint8Array): Promise<string> {
  return base64urlEncode(await through(new CompressionStream('deflate'), bytes, Infinity));
}

// 'deflate' is ZLIB (RFC 1950), as §4.1 asks; 'deflate-raw' would be RFC 1951.
async function through(stream: CompressionStream | DecompressionStream, data: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  const writer = stream.writable.getWriter();
  void writer
    .write(data as Uint8Array<ArrayBuffer>)
    .then(() => writer.close())
    .catch(() => undefined);
  return readStreamCapped(stream.readable as ReadableStream<Uint8Array>, maxBytes, () => new RangeError('status list is too large'));
}

/**
 * The Status List Token (§5.1): `sub` is the list's URI (the `uri` KCCs carry), `iat`, `exp`,
 * `ttl` (§5.1: how long a relying party may cache it), `iss` the Credential Issuer, signed by the
 * PFI's current key (`kid` in the JWT VC Issuer Metadata and the DID document).
 */
export async function signTokenStatusList(
  signer: CredentialSigner,
  input: { uri: string; issuer: string; list: TokenStatusList; issuedAt: number; expiresAt: number; ttlSeconds: number },
): Promise<string> {
  const payload = {
    iss: input.issuer,
    sub: input.uri,
    iat: input.issuedAt,
    exp: input.expiresAt,
    ttl: input.ttlSeconds,
    status_list: { bits: input.list.bits, lst: await encodeTokenStatusList(input.list.bytes) },
  };
  return signJwt(signer, payload, { typ: STATUS_LIST_JWT_TYP });
}

/** Largest decompressed list accepted from others (bytes), as for Bitstring lists. */
export const MAX_TOKEN_STATUS_LIST_BYTES = 16 * 1024 * 1024;

/** Decodes `status_list.lst` (base64url of ZLIB) with a cap on the inflated size. */
export async function decodeTokenStatusList(lst: string, maxBytes = MAX_TOKEN_STATUS_LIST_BYTES): Promise<Uint8Array> {
  return through(new DecompressionStream('deflate'), base64urlDecode(lst), maxBytes);
}

/** The status at `index` (§4.1: index 0 is in the least significant bits of the first byte). */
export function tokenStatusAt(bytes: Uint8Array, bits: number, index: number): number {
  const bit = index * bits;
  const byte = bit >> 3;
  if (byte >= bytes.length) throw new RangeError(`index ${index} is outside the status list`);
  return (bytes[byte] >> (bit & 7)) & ((1 << bits) - 1);
}
