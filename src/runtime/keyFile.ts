import { closeSync, existsSync, fchmodSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { KeyCustody } from '../crypto/keyCustody';
import type { CredentialAlgorithm, CryptoProvider, JwsAlgorithm } from '../crypto/keys';
import { signingKeysNewestFirst, type IssuerKey } from '../issuer';

/** The setting that names the issuer key file, for error messages. */
const KEYS_SETTING = 'ISSUER_KEYS_FILE (default DATA_DIR/issuer-keys.json)';

/**
 * A key file that exists but cannot be used. Its message is one line naming the file and the
 * setting; the file is left as it is (a key file is never rewritten with a new key, since what the
 * old key signed or sealed would be lost with it).
 */
export class KeyFileError extends Error {
  constructor(file: string, setting: string, problem: string) {
    super(`key file ${file} (${setting}) ${problem}: the issuer will not start and will not write a new key over it; restore the file from a backup`);
    this.name = 'KeyFileError';
  }
}

/**
 * Reads a key file's text; an empty or whitespace-only one (what a crash soon after a
 * non-durable write leaves) is refused with a KeyFileError.
 */
export function readKeyFileText(file: string, setting: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new KeyFileError(file, setting, `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (text.trim() === '') throw new KeyFileError(file, setting, 'is empty (truncated by a crash?)');
  return text;
}

/**
 * Writes a file so that it survives a crash of the machine: a temporary file beside it is
 * written and fsynced, then renamed over `file` (or, with `exclusive`, linked to it, which fails
 * if `file` exists: a new key never replaces an existing one), then the directory is fsynced so
 * the new name is durable too. Without the fsyncs a crash shortly after the rename can leave an
 * empty file under the new name (ext4 commits the rename before the data blocks).
 */
export function writeFileDurably(file: string, data: string, options: { mode?: number; exclusive?: boolean } = {}): void {
  try {
    writeDurably(file, data, options);
  } catch (e) {
    // One line naming the file (node's write and fsync errors do not): ENOSPC, EROFS, EEXIST, …
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).name;
    const why = code === 'EEXIST' ? 'it appeared meanwhile; not replaced' : code;
    throw new Error(`cannot write ${file} (${why})`, { cause: e });
  }
}

function writeDurably(file: string, data: string, options: { mode?: number; exclusive?: boolean }): void {
  const mode = options.mode ?? 0o600;
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    const bytes = Buffer.from(data, 'utf8');
    fchmodSync(fd, mode); // a stale temp file of a crashed run may have another mode
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  try {
    if (options.exclusive) {
      linkSync(tmp, file);
      unlinkSync(tmp);
    } else renameSync(tmp, file);
  } catch (e) {
    if (existsSync(tmp)) unlinkSync(tmp);
    throw e;
  }
  const dir = openSync(dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

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
  options: { didDhtIdentity?: boolean; now?: () => number; custody?: KeyCustody; sdJwtVcSigningAlg?: CredentialAlgorithm } = {},
): Promise<IssuerKey[]> {
  const keys = await loadOrCreateSigningKeys(file, crypto, alg, options);
  return addSdJwtVcKey(file, keys, crypto, options);
}

/**
 * SDJWT_VC_SIGNING_ALG names an algorithm no key in the file has (ES256 on a file of Ed25519
 * keys): a key of it is generated and added once (`<alg>-1`, e.g. `es256-1`); the others stay.
 */
async function addSdJwtVcKey(
  file: string,
  keys: IssuerKey[],
  crypto: CryptoProvider,
  options: { now?: () => number; custody?: KeyCustody; sdJwtVcSigningAlg?: CredentialAlgorithm },
): Promise<IssuerKey[]> {
  const alg = options.sdJwtVcSigningAlg;
  if (!alg || signingKeysNewestFirst(keys).some((k) => k.alg === alg)) return keys;
  if (options.custody)
    throw new Error(`SDJWT_VC_SIGNING_ALG=${alg}: generate the ${alg} key in the HSM and list it (docs/hsm.md); none is made in the key file`);
  const next = [...keys, await newSigningKey(`${alg.toLowerCase()}-1`, alg, new Date((options.now ?? Date.now)()).toISOString(), crypto)];
  saveKeys(file, next);
  return next;
}

async function loadOrCreateSigningKeys(
  file: string,
  crypto: CryptoProvider,
  alg: JwsAlgorithm,
  options: { didDhtIdentity?: boolean; now?: () => number; custody?: KeyCustody },
): Promise<IssuerKey[]> {
  const now = options.now ?? Date.now;
  if (!existsSync(file)) {
    let keys: IssuerKey[] = [await newSigningKey('key-1', alg, new Date(now()).toISOString(), crypto, options.custody)];
    if (options.didDhtIdentity) keys = [...keys, await newDidDhtIdentityKey(crypto, now)];
    // Exclusive: if another process created the file meanwhile, fail rather than replace its key.
    writeFileDurably(file, serializeKeys(keys), { exclusive: true });
    return keys;
  }
  let keys = readKeys(file);
  if (options.didDhtIdentity && !keys.some((k) => k.role === 'did-dht-identity')) {
    // Adds a key; every key already in the file is kept.
    keys = [...keys, await newDidDhtIdentityKey(crypto, now)];
    saveKeys(file, keys);
  }
  return keys;
}

/**
 * A new signing key: generated here, or (with a custodian, e.g. an HSM) generated inside it,
 * non-extractable, and kept in the file only as a reference by label (docs/hsm.md).
 */
async function newSigningKey(id: string, alg: CredentialAlgorithm, createdAt: string, crypto: CryptoProvider, custody?: KeyCustody): Promise<IssuerKey> {
  if (!custody) return { id, alg, privateJwk: await crypto.generateKeyPair(alg), createdAt };
  if (alg === 'ES256') throw new Error('ES256 keys are not generated in an HSM here (docs/hsm.md)');
  const label = `kcc-issuer-${id}-${createdAt.replace(/[-:]|\.\d+/g, '')}`;
  return { id, alg, createdAt, external: await custody.generateKeyPair(alg, label) };
}

/**
 * Reads and checks the key file; an empty, truncated or unparsable one, or one without a usable
 * signing key, is refused with a one-line KeyFileError naming the file and ISSUER_KEYS_FILE.
 */
export function readKeys(file: string, setting: string = KEYS_SETTING): IssuerKey[] {
  const text = readKeyFileText(file, setting);
  let parsed: { keys?: unknown };
  try {
    parsed = JSON.parse(text) as { keys?: unknown };
  } catch {
    throw new KeyFileError(file, setting, `is not valid JSON (${text.length} bytes; truncated by a crash?)`);
  }
  const keys = parsed?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new KeyFileError(file, setting, 'holds no keys');
  for (const k of keys as IssuerKey[]) {
    if (
      !k ||
      typeof k.id !== 'string' ||
      typeof k.createdAt !== 'string' ||
      (k.external ? typeof k.external.label !== 'string' : typeof k.privateJwk?.d !== 'string')
    ) {
      throw new KeyFileError(file, setting, 'holds a key without an id, a date, private key material or an HSM reference');
    }
  }
  if (signingKeysNewestFirst(keys as IssuerKey[]).length === 0) throw new KeyFileError(file, setting, 'holds no signing key');
  return keys as IssuerKey[];
}

function serializeKeys(keys: IssuerKey[]): string {
  return JSON.stringify({ keys }, null, 2);
}

export async function newDidDhtIdentityKey(crypto: CryptoProvider, now: () => number = Date.now): Promise<IssuerKey> {
  return { id: '0', alg: 'EdDSA', privateJwk: await crypto.generateKeyPair('EdDSA'), createdAt: new Date(now()).toISOString(), role: 'did-dht-identity' };
}

/**
 * Replaces the key file (rotation, retirement) durably: temp file, fsync, rename, fsync of the
 * directory (writeFileDurably), mode 0600. A crash leaves either the old list or the new one.
 */
export function saveKeys(file: string, keys: IssuerKey[]): void {
  writeFileDurably(file, serializeKeys(keys));
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
  custody?: KeyCustody,
): Promise<{ keys: IssuerKey[]; added: IssuerKey }> {
  const newest = signingKeysNewestFirst(keys)[0];
  // createdAt orders keys: never let a new key sort before the current one (clock steps back).
  let createdAt = new Date(now()).toISOString();
  if (newest && createdAt <= newest.createdAt) createdAt = new Date(Date.parse(newest.createdAt) + 1000).toISOString();
  const added = await newSigningKey(nextKeyId(keys), alg, createdAt, crypto, custody);
  return { keys: [...keys, added], added };
}

/**
 * Removes a signing key: it is no longer published, so tokens and KCCs it signed stop verifying.
 * A key held in an HSM stays in the token (destroying it is the key custodian's ceremony).
 */
export function retireKey(keys: IssuerKey[], id: string): IssuerKey[] {
  const key = keys.find((k) => k.id === id);
  if (!key) throw new Error(`no key with id ${id}`);
  if (key.role === 'did-dht-identity') throw new Error('the did:dht identity key cannot be retired (the DID is derived from it)');
  const rest = keys.filter((k) => k.id !== id);
  if (signingKeysNewestFirst(rest).length === 0) throw new Error('cannot retire the only signing key');
  return rest;
}
