import { readStreamCapped } from '../readCapped';
import { base64urlDecode, base64urlEncode } from '../crypto/base64url';

/**
 * W3C Bitstring Status List v1.0: the bitstring, its encoding (GZIP then multibase base64url,
 * §4.1 `encodedList`, prefix "u"), the status list credential and the credentialStatus entries.
 * Bit order (§4.1): index 0 is the left-most bit of the first byte.
 * GZIP uses CompressionStream, present on Node ≥ 18 and Workers.
 */
export const STATUS_PURPOSES = ['revocation', 'suspension'] as const;
export type StatusPurpose = (typeof STATUS_PURPOSES)[number];
/** VCDM 1.1 context for BitstringStatusListEntry / BitstringStatusListCredential terms. */
export const STATUS_CONTEXT = 'https://www.w3.org/ns/credentials/status/v1';

export function setBit(bits: Uint8Array, index: number): void {
  bits[index >> 3] |= 0x80 >> (index & 7);
}

export function getBit(bits: Uint8Array, index: number): boolean {
  return (bits[index >> 3] & (0x80 >> (index & 7))) !== 0;
}

async function pipe(data: Uint8Array, stream: CompressionStream | DecompressionStream, limit = Infinity): Promise<Uint8Array> {
  const writer = stream.writable.getWriter();
  void writer
    .write(data as Uint8Array<ArrayBuffer>)
    .then(() => writer.close())
    .catch(() => undefined);
  return readStreamCapped(stream.readable as ReadableStream<Uint8Array>, limit, () => new RangeError('status list is too large'));
}

/** `encodedList` for a bitstring: multibase ("u") base64url, no padding, of its GZIP. */
export async function encodeStatusList(bits: Uint8Array): Promise<string> {
  return `u${base64urlEncode(await pipe(bits, new CompressionStream('gzip')))}`;
}

/** Largest decoded list accepted from others (bytes): 16 MiB = 134M entries. */
export const MAX_DECODED_LIST_BYTES = 16 * 1024 * 1024;

export async function decodeStatusList(encodedList: string): Promise<Uint8Array> {
  // Multibase base64url ("u"); tolerate the prefix-less form older issuers emit.
  const text = encodedList.startsWith('u') ? encodedList.slice(1) : encodedList;
  const gz = base64urlDecode(text.replace(/=+$/, ''));
  return pipe(gz, new DecompressionStream('gzip'), MAX_DECODED_LIST_BYTES);
}

export interface StatusListEntry {
  id: string;
  type: 'BitstringStatusListEntry';
  statusPurpose: StatusPurpose;
  statusListIndex: string;
  statusListCredential: string;
}

/** The credentialStatus entries of one KCC (§2.1): same index in the revocation and suspension lists. */
export function credentialStatusEntries(listUrl: (purpose: StatusPurpose) => string, index: number): StatusListEntry[] {
  return STATUS_PURPOSES.map((purpose) => ({
    id: `${listUrl(purpose)}#${index}`,
    type: 'BitstringStatusListEntry',
    statusPurpose: purpose,
    statusListIndex: String(index),
    statusListCredential: listUrl(purpose),
  }));
}

function isoSeconds(t: number): string {
  return new Date(t * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The status list credential (§2.2) as jwt_vc_json claims (VCDM 1.1 JWT encoding). */
export function buildStatusListCredentialPayload(input: {
  url: string;
  issuerDid: string;
  purpose: StatusPurpose;
  encodedList: string;
  issuedAt: number;
  expiresAt: number;
}) {
  return {
    iss: input.issuerDid,
    sub: input.url,
    jti: input.url,
    iat: input.issuedAt,
    nbf: input.issuedAt,
    exp: input.expiresAt,
    vc: {
      '@context': ['https://www.w3.org/2018/credentials/v1', STATUS_CONTEXT],
      id: input.url,
      type: ['VerifiableCredential', 'BitstringStatusListCredential'],
      issuer: input.issuerDid,
      issuanceDate: isoSeconds(input.issuedAt),
      expirationDate: isoSeconds(input.expiresAt),
      credentialSubject: {
        id: `${input.url}#list`,
        type: 'BitstringStatusList',
        statusPurpose: input.purpose,
        encodedList: input.encodedList,
      },
    },
  };
}

/** Picks a uniformly random index in [0, size) (herd privacy, §6.1). */
export function randomIndex(size: number, randomBytes: (length: number) => Uint8Array = (n) => crypto.getRandomValues(new Uint8Array(n))): number {
  // Rejection sampling: no modulo bias.
  const limit = Math.floor(0x1_0000_0000 / size) * size;
  for (;;) {
    const b = randomBytes(4);
    const value = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
    if (value < limit) return value % size;
  }
}
