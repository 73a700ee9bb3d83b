import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { CryptoProvider, JwsAlgorithm } from '../crypto/keys';
import { signingKeysNewestFirst, type IssuerKey } from '../issuer';

/**
 * The issuer's signing keys, persisted in DATA_DIR/issuer-keys.json (mode 0600) and
 * generated on first start when none is configured. Key material is never logged.
 * With ISSUER_DID_METHOD=dht the file also holds the did:dht Identity Key
 * (`role: did-dht-identity`, id `0`), created once and never rotated.
 */
export async function loadOrCreateKeys(
  file: string,
  crypto: CryptoProvider,
  alg: JwsAlgorithm,
  options: { didDhtIdentity?: boolean; now?: () => number } = {},
): Promise<IssuerKey[]> {
  const now = options.now ?? Date.now;
  let keys: IssuerKey[];
  let changed = false;
  if (existsSync(file)) {
    keys = readKeys(file);
  } else {
    keys = [{ id: 'key-1', alg, privateJwk: await crypto.generateKeyPair(alg), createdAt: new Date(now()).toISOString() }];
    changed = true;
  }
  if (options.didDhtIdentity && !keys.some((k) => k.role === 'did-dht-identity')) {
    keys = [...keys, await newDidDhtIdentityKey(crypto, now)];
    changed = true;
  }
  if (changed) saveKeys(file, keys);
  return keys;
}

export function readKeys(file: string): IssuerKey[] {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { keys: IssuerKey[] };
  if (!Array.isArray(parsed.keys) || parsed.keys.length === 0) throw new Error(`${file} holds no keys`);
  if (signingKeysNewestFirst(parsed.keys).length === 0) throw new Error(`${file} holds no signing key`);
  return parsed.keys;
}

export async function newDidDhtIdentityKey(crypto: CryptoProvider, now: () => number = Date.now): Promise<IssuerKey> {
  return { id: '0', alg: 'EdDSA', privateJwk: await crypto.generateKeyPair('EdDSA'), createdAt: new Date(now()).toISOString(), role: 'did-dht-identity' };
}

/** Writes atomically (temp file + rename) so a crash never leaves a half-written key file. */
export function saveKeys(file: string, keys: IssuerKey[]): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ keys }, null, 2), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** `key-<n+1>` after the highest `key-<n>` in the list. */
export function nextKeyId(keys: IssuerKey[]): string {
  const n = keys.reduce((max, k) => Math.max(max, /^key-(\d+)$/.exec(k.id) ? Number(k.id.slice(4)) : 0), 0);
  return `key-${n + 1}`;
}

/**
 * Rotation: appends a new signing key (the newest signs from the next start or reload);
 * earlier keys stay published so what they signed keeps verifying until they are retired.
 */
export async function rotateKeys(
  keys: IssuerKey[],
  crypto: CryptoProvider,
  alg: JwsAlgorithm,
  now: () => number = Date.now,
): Promise<{ keys: IssuerKey[]; added: IssuerKey }> {
  const newest = signingKeysNewestFirst(keys)[0];
  // createdAt orders keys: never let a new key sort before the current one (clock steps back).
  let createdAt = new Date(now()).toISOString();
  if (newest && createdAt <= newest.createdAt) createdAt = new Date(Date.parse(newest.createdAt) + 1000).toISOString();
  const added: IssuerKey = { id: nextKeyId(keys), alg, privateJwk: await crypto.generateKeyPair(alg), createdAt };
  return { keys: [...keys, added], added };
}

/** Removes a signing key: it is no longer published, so tokens and KCCs it signed stop verifying. */
export function retireKey(keys: IssuerKey[], id: string): IssuerKey[] {
  const key = keys.find((k) => k.id === id);
  if (!key) throw new Error(`no key with id ${id}`);
  if (key.role === 'did-dht-identity') throw new Error('the did:dht identity key cannot be retired (the DID is derived from it)');
  const rest = keys.filter((k) => k.id !== id);
  if (signingKeysNewestFirst(rest).length === 0) throw new Error('cannot retire the only signing key');
  return rest;
}
