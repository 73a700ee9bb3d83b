import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { CryptoProvider, JwsAlgorithm } from '../crypto/keys';
import type { IssuerKey } from '../issuer';

/**
 * The issuer's signing keys, persisted in DATA_DIR/issuer-keys.json (mode 0600) and
 * generated on first start when none is configured. Key material is never logged.
 */
export async function loadOrCreateKeys(file: string, crypto: CryptoProvider, alg: JwsAlgorithm): Promise<IssuerKey[]> {
  if (existsSync(file)) {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { keys: IssuerKey[] };
    if (!Array.isArray(parsed.keys) || parsed.keys.length === 0) throw new Error(`${file} holds no keys`);
    return parsed.keys;
  }
  const keys: IssuerKey[] = [{ id: 'key-1', alg, privateJwk: await crypto.generateKeyPair(alg), createdAt: new Date().toISOString() }];
  saveKeys(file, keys);
  return keys;
}

export function saveKeys(file: string, keys: IssuerKey[]): void {
  writeFileSync(file, JSON.stringify({ keys }, null, 2), { mode: 0o600 });
  chmodSync(file, 0o600);
}
