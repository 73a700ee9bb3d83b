import { createCipheriv, createDecipheriv, createHash, createSecretKey, type KeyObject } from 'node:crypto';
import { base64urlDecode, base64urlEncode } from '../crypto/base64url';
import type { PiiVault } from '../idv/piiVault';
import { pooledRandomBytes } from './nodeCrypto';

/**
 * The PII vault on node:crypto: the same AES-256-GCM records as src/idv/piiVault.ts
 * (base64url(iv ‖ ciphertext ‖ tag), application id as additional data, key id = first 6 bytes
 * of the key's SHA-256), but synchronous: Web Crypto's AES-GCM on Node goes through the libuv
 * thread pool, a round trip that cost ~2 ms of latency per form submission under load.
 */
function keyIdOf(rawKey: Uint8Array): string {
  return base64urlEncode(new Uint8Array(createHash('sha256').update(rawKey).digest()).slice(0, 6));
}

export function createNodePiiVault(rawKey: Uint8Array, retiredKeys: Uint8Array[] = []): PiiVault {
  if (rawKey.length !== 32) throw new TypeError('the PII data key must be 32 bytes (AES-256)');
  const currentId = keyIdOf(rawKey);
  // Keys imported once (a raw key given to createCipheriv is imported on every call).
  const current = createSecretKey(rawKey);
  const byId = new Map<string, KeyObject>([[currentId, current]]);
  for (const raw of retiredKeys) {
    if (raw.length !== 32) throw new TypeError('a retired PII data key must be 32 bytes (AES-256)');
    if (!byId.has(keyIdOf(raw))) byId.set(keyIdOf(raw), createSecretKey(raw));
  }
  // IVs from a pool (a CSPRNG call per IV cost more than the sealing).
  const randomBytes = pooledRandomBytes();
  return {
    keyId: currentId,
    has: (keyId) => byId.has(keyId),
    async seal(applicationId, value) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current, iv);
      cipher.setAAD(Buffer.from(applicationId, 'utf8'));
      const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return base64urlEncode(new Uint8Array(Buffer.concat([iv, ct])));
    },
    async open(applicationId, sealed, keyId = currentId) {
      const key = byId.get(keyId);
      if (!key) throw new Error('the PII data key for this record is not configured');
      const bytes = base64urlDecode(sealed);
      if (bytes.length < 12 + 16) throw new Error('sealed PII record is truncated');
      const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
      decipher.setAAD(Buffer.from(applicationId, 'utf8'));
      decipher.setAuthTag(bytes.subarray(bytes.length - 16));
      const pt = Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]);
      return JSON.parse(pt.toString('utf8'));
    },
  };
}
