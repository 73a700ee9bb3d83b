import { base64urlDecode, base64urlEncode } from '../crypto/base64url';

/**
 * PII at rest: AES-256-GCM via Web Crypto (Node and Workers alike). The data key comes from
 * configuration (PII_DATA_KEY, 32 bytes base64url); Node generates one in DATA_DIR for
 * development (src/runtime/node.ts). Each record has a fresh 96-bit IV; the application id is
 * the additional authenticated data, so a ciphertext moved to another row does not decrypt.
 * Stored as base64url(iv ‖ ciphertext ‖ tag), with the key id (a digest prefix of the key) so
 * keys can be rotated.
 */
export interface PiiVault {
  /** Id of the key that seals new records. */
  keyId: string;
  seal(applicationId: string, value: unknown): Promise<string>;
  /** Opens a record sealed under `keyId` (the current key or a retired one still configured). */
  open(applicationId: string, sealed: string, keyId?: string): Promise<unknown>;
  /** Can this vault open records sealed under `keyId`? */
  has(keyId: string): boolean;
}

const encoder = new TextEncoder();

async function importDataKey(rawKey: Uint8Array) {
  if (rawKey.length !== 32) throw new TypeError('the PII data key must be 32 bytes (AES-256)');
  const key = await crypto.subtle.importKey('raw', rawKey as Uint8Array<ArrayBuffer>, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', rawKey as Uint8Array<ArrayBuffer>));
  return { key, keyId: base64urlEncode(digest.slice(0, 6)) };
}

/** `rawKey` seals; `retiredKeys` (rotation: PII_DATA_KEYS_RETIRED) only open older records. */
export async function createPiiVault(rawKey: Uint8Array, retiredKeys: Uint8Array[] = []): Promise<PiiVault> {
  const current = await importDataKey(rawKey);
  const byId = new Map<string, CryptoKey>([[current.keyId, current.key]]);
  for (const raw of retiredKeys) {
    const k = await importDataKey(raw);
    if (!byId.has(k.keyId)) byId.set(k.keyId, k.key);
  }
  return {
    keyId: current.keyId,
    has: (keyId) => byId.has(keyId),
    async seal(applicationId, value) {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const ct = new Uint8Array(
        await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: encoder.encode(applicationId) }, current.key, encoder.encode(JSON.stringify(value))),
      );
      const out = new Uint8Array(iv.length + ct.length);
      out.set(iv);
      out.set(ct, iv.length);
      return base64urlEncode(out);
    },
    async open(applicationId, sealed, keyId = current.keyId) {
      const key = byId.get(keyId);
      if (!key) throw new Error('the PII data key for this record is not configured');
      const bytes = base64urlDecode(sealed);
      const pt = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: bytes.slice(0, 12), additionalData: encoder.encode(applicationId) },
        key,
        bytes.slice(12) as Uint8Array<ArrayBuffer>,
      );
      return JSON.parse(new TextDecoder().decode(pt));
    },
  };
}

/** Parses PII_DATA_KEY (base64url, 32 bytes). */
export function parseDataKey(text: string): Uint8Array {
  const key = base64urlDecode(text.trim());
  if (key.length !== 32) throw new Error('PII_DATA_KEY must be 32 bytes, base64url');
  return key;
}
