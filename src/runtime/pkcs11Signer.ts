import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { PKCS11 as Pkcs11Module, Template } from 'pkcs11js';
import { readSettings, type Environment, type Settings } from '../config';
import { base64urlEncode } from '../crypto/base64url';
import { ecdsaSignatureToJose } from '../crypto/ecdsaSignature';
import type { ExternalIssuerKey } from '../crypto/issuerKeys';
import type { ExternalKeyRef, KeyCustody } from '../crypto/keyCustody';
import type { JwsAlgorithm, PublicJwk, Signer } from '../crypto/keys';

/**
 * Issuer signing keys in a hardware security module through PKCS#11 (pkcs11js, an optional
 * native dependency). The private key is generated in the token as sensitive and
 * non-extractable and never leaves it: `sign` hands the token the data (EdDSA, CKM_EDDSA) or
 * its SHA-256 digest (ES256K, CKM_ECDSA) and gets the signature back. The public key is read
 * from the token's public key object for the DID document. docs/hsm.md has the settings, the
 * key ceremony and the measured throughput.
 */
export interface Pkcs11Settings {
  /** ISSUER_PKCS11_MODULE: path of the vendor's PKCS#11 library (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so). */
  modulePath: string;
  /** ISSUER_PKCS11_TOKEN_LABEL: the token, by label (preferred: slot ids can change when tokens are added). */
  tokenLabel?: string;
  /** ISSUER_PKCS11_SLOT: the token, by slot id (decimal), when it has no usable label. */
  slot?: string;
  /** ISSUER_PKCS11_PIN or the content of ISSUER_PKCS11_PIN_FILE: the user (CKU_USER) PIN. Never logged. */
  pin: string;
  /** ISSUER_PKCS11_KEY_LABEL: signing key labels, the first signs, all are published (no key file). */
  keyLabels?: string[];
  /** ISSUER_PKCS11_SESSIONS: sessions signing at once (each a signing operation in flight on libuv's thread pool); default 4. */
  sessions?: number;
}

// PKCS#11 v3.0 constants pkcs11js 2.1 does not export.
const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
const CKM_EDDSA = 0x1057;
const CKK_EC_EDWARDS = 0x40;
// CKA_EC_PARAMS: DER OIDs (and the printable-string name v3.0 also allows for Ed25519).
const OID_ED25519 = Buffer.from('06032b6570', 'hex'); // 1.3.101.112
const NAME_ED25519 = Buffer.concat([Buffer.from([0x13, 12]), Buffer.from('edwards25519')]);
const OID_SECP256K1 = Buffer.from('06052b8104000a', 'hex'); // 1.3.132.0.10

/**
 * The PKCS#11 settings (the `keys.pkcs11` section of the settings table, read through it);
 * undefined when ISSUER_PKCS11_MODULE is unset. Errors name the setting, never the PIN.
 */
export function pkcs11SettingsFromEnv(env: Environment): Pkcs11Settings | undefined {
  return pkcs11SettingsFrom(readSettings(env, 'node').keys);
}

export function pkcs11SettingsFrom(keys: Settings['keys']): Pkcs11Settings | undefined {
  const { module: modulePath, tokenLabel, slot, pinFile, keyLabels, sessions } = keys.pkcs11;
  if (!modulePath) return undefined;
  if (!tokenLabel && !slot) throw new Error('ISSUER_PKCS11_MODULE is set: ISSUER_PKCS11_TOKEN_LABEL (or ISSUER_PKCS11_SLOT) must name the token');
  let pin = keys.pkcs11.pin;
  if (!pin && pinFile) {
    try {
      pin = readFileSync(pinFile, 'utf8').replace(/\r?\n$/, '');
    } catch {
      throw new Error(`ISSUER_PKCS11_PIN_FILE cannot be read (${pinFile})`);
    }
  }
  if (!pin) throw new Error('ISSUER_PKCS11_MODULE is set: ISSUER_PKCS11_PIN (or ISSUER_PKCS11_PIN_FILE) must hold the token user PIN');
  if (keyLabels && keys.privateJwk) throw new Error('ISSUER_PKCS11_KEY_LABEL and ISSUER_PRIVATE_JWK are both set: the signing keys come from one of them');
  return { modulePath, tokenLabel, slot, pin, keyLabels, sessions };
}

export interface Pkcs11Custody extends KeyCustody {
  /** Logs out, closes the sessions and finalizes the module. */
  close(): void;
}

type Pkcs11js = typeof import('pkcs11js');

/**
 * Opens the token the settings name and logs in: a {@link KeyCustody} for createIssuerIdentity,
 * loadOrCreateKeys and rotateKeys. Every misconfiguration is an error naming the setting.
 */
export function openPkcs11Custody(settings: Pkcs11Settings): Pkcs11Custody {
  let lib: Pkcs11js;
  try {
    lib = createRequire(import.meta.url)('pkcs11js') as Pkcs11js;
  } catch {
    throw new Error(
      'ISSUER_PKCS11_MODULE is set but the optional dependency pkcs11js is not installed (it is compiled by npm install; it needs a C++ toolchain)',
    );
  }
  const mod: Pkcs11Module = new lib.PKCS11();
  try {
    mod.load(settings.modulePath);
  } catch (e) {
    throw new Error(`ISSUER_PKCS11_MODULE: cannot load ${settings.modulePath} (${(e as Error).message})`);
  }
  let initialized = false;
  try {
    // OS locking: signatures run on libuv's thread pool, several sessions at once.
    mod.C_Initialize({ flags: lib.CKF_OS_LOCKING_OK });
    initialized = true;
  } catch (e) {
    if (!/CKR_CRYPTOKI_ALREADY_INITIALIZED/.test(String((e as Error).message))) {
      mod.close();
      throw new Error(`ISSUER_PKCS11_MODULE: C_Initialize failed (${(e as Error).message})`);
    }
  }
  const fail = (message: string): never => {
    if (initialized) mod.C_Finalize();
    mod.close();
    throw new Error(message);
  };

  const slot =
    findSlot(mod, settings) ??
    fail(
      settings.tokenLabel
        ? `ISSUER_PKCS11_TOKEN_LABEL: no token labelled "${settings.tokenLabel}" in ${settings.modulePath}`
        : `ISSUER_PKCS11_SLOT: no token in slot ${settings.slot} of ${settings.modulePath}`,
    );
  const openSession = () => mod.C_OpenSession(slot, lib.CKF_SERIAL_SESSION | lib.CKF_RW_SESSION);
  // The login state is the application's, shared by every session it opens on the token; logging
  // in again after the HSM dropped it (a restart, a failover) is how a session is recovered.
  const login = (session: Buffer) => {
    try {
      mod.C_Login(session, lib.CKU_USER, settings.pin);
    } catch (e) {
      const code = ckr(e) ?? 'error';
      if (code !== 'CKR_USER_ALREADY_LOGGED_IN') throw new Error(`ISSUER_PKCS11_PIN was refused by the token (${code})`);
    }
  };
  let admin = openSession();
  try {
    login(admin);
  } catch (e) {
    fail((e as Error).message);
  }
  const freshSession = () => {
    const session = openSession();
    login(session);
    return session;
  };
  /** Runs `fn` on the admin session, once more on a fresh one if the token lost it. */
  const withAdmin = <T>(fn: (session: Buffer) => T): T => {
    try {
      return fn(admin);
    } catch (e) {
      if (!RECOVERABLE.test(ckr(e) ?? '')) throw e;
      admin = freshSession();
      return fn(admin);
    }
  };
  const idle = Array.from({ length: Math.max(1, settings.sessions ?? 4) }, openSession);
  const waiting: ((session: Buffer) => void)[] = [];
  const acquire = (): Promise<Buffer> => (idle.length > 0 ? Promise.resolve(idle.pop()!) : new Promise((ok) => waiting.push(ok)));
  const release = (session: Buffer) => {
    const next = waiting.shift();
    if (next) next(session);
    else idle.push(session);
  };

  const findOne = (cls: number, label: string): Buffer | undefined => {
    const found = withAdmin((session) => {
      mod.C_FindObjectsInit(session, [
        { type: lib.CKA_CLASS, value: cls },
        { type: lib.CKA_LABEL, value: label },
      ]);
      try {
        return mod.C_FindObjects(session, 2);
      } finally {
        mod.C_FindObjectsFinal(session);
      }
    });
    if (found.length > 1)
      throw new Error(`PKCS#11 token holds two ${cls === lib.CKO_PRIVATE_KEY ? 'private' : 'public'} keys labelled "${label}": labels must be unique`);
    return found[0];
  };

  const describe = async (ref: ExternalKeyRef): Promise<{ alg: JwsAlgorithm; publicJwk: PublicJwk }> => {
    const pub = findOne(lib.CKO_PUBLIC_KEY, ref.label);
    if (!pub) throw new Error(`ISSUER_PKCS11_KEY_LABEL: no public key labelled "${ref.label}" in the token (the DID document needs it)`);
    const [keyType, params, point] = withAdmin((session) =>
      mod.C_GetAttributeValue(session, pub, [{ type: lib.CKA_KEY_TYPE }, { type: lib.CKA_EC_PARAMS }, { type: lib.CKA_EC_POINT }]),
    );
    return publicJwkFromToken(readUlong(keyType.value as Buffer), params.value as Buffer, point.value as Buffer, lib.CKK_EC, ref.label);
  };

  const privateKey = (ref: ExternalKeyRef): Buffer => {
    const key = findOne(lib.CKO_PRIVATE_KEY, ref.label);
    if (!key) throw new Error(`ISSUER_PKCS11_KEY_LABEL: no private key labelled "${ref.label}" in the token`);
    // The promise this adapter makes: a key that could leave the token is refused, not used.
    const [sensitive, extractable, canSign] = withAdmin((session) =>
      mod.C_GetAttributeValue(session, key, [{ type: lib.CKA_SENSITIVE }, { type: lib.CKA_EXTRACTABLE }, { type: lib.CKA_SIGN }]),
    );
    if (!readBool(sensitive.value as Buffer) || readBool(extractable.value as Buffer)) {
      throw new Error(`PKCS#11 key "${ref.label}" is extractable or not sensitive: generate the issuer key in the token (npm run keys -- rotate, docs/hsm.md)`);
    }
    if (!readBool(canSign.value as Buffer)) throw new Error(`PKCS#11 key "${ref.label}" may not sign (CKA_SIGN is false)`);
    return key;
  };

  return {
    custody: 'pkcs11',
    describe,
    async createSigner(ref, kid): Promise<Signer> {
      const { alg, publicJwk } = await describe(ref);
      let key = privateKey(ref);
      const mechanism = { mechanism: alg === 'EdDSA' ? CKM_EDDSA : lib.CKM_ECDSA };
      const signOn = async (session: Buffer, input: Buffer) => {
        mod.C_SignInit(session, mechanism, key);
        return mod.C_SignAsync(session, input, Buffer.alloc(alg === 'EdDSA' ? 64 : 80));
      };
      const sign = async (data: Uint8Array): Promise<Uint8Array> => {
        // ES256K signs SHA-256(data) (RFC 8812 §3.2); CKM_ECDSA takes the digest, not the data.
        const input = alg === 'EdDSA' ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : createHash('sha256').update(data).digest();
        let session = await acquire();
        try {
          let out: Buffer;
          try {
            out = await signOn(session, input);
          } catch (e) {
            // The token lost the session or the login (HSM restart, failover): once more on a
            // fresh session, the key looked up again (its handle may have changed). The session
            // that failed is dropped either way: it may be stuck in an unfinished operation.
            const recoverable = RECOVERABLE.test(ckr(e) ?? '');
            const failed = session;
            session = openSession();
            try {
              mod.C_CloseSession(failed);
            } catch {
              // already gone
            }
            if (!recoverable) throw e;
            login(session);
            key = privateKey(ref);
            out = await signOn(session, input);
          }
          return alg === 'EdDSA' ? new Uint8Array(out) : ecdsaSignatureToJose(new Uint8Array(out));
        } finally {
          release(session);
        }
      };
      return { alg, kid, publicJwk, sign };
    },
    async generateKeyPair(alg, label): Promise<ExternalKeyRef> {
      if (findOne(lib.CKO_PRIVATE_KEY, label) || findOne(lib.CKO_PUBLIC_KEY, label)) throw new Error(`PKCS#11 token already holds a key labelled "${label}"`);
      const id = createHash('sha256').update(label).digest().subarray(0, 16);
      const common: Template = [
        { type: lib.CKA_TOKEN, value: true },
        { type: lib.CKA_LABEL, value: label },
        { type: lib.CKA_ID, value: id },
      ];
      withAdmin((session) =>
        mod.C_GenerateKeyPair(
          session,
          { mechanism: alg === 'EdDSA' ? CKM_EC_EDWARDS_KEY_PAIR_GEN : lib.CKM_EC_KEY_PAIR_GEN },
          [...common, { type: lib.CKA_EC_PARAMS, value: alg === 'EdDSA' ? OID_ED25519 : OID_SECP256K1 }, { type: lib.CKA_VERIFY, value: true }],
          [
            ...common,
            { type: lib.CKA_PRIVATE, value: true },
            { type: lib.CKA_SIGN, value: true },
            { type: lib.CKA_SENSITIVE, value: true },
            { type: lib.CKA_EXTRACTABLE, value: false },
          ],
        ),
      );
      return { custody: 'pkcs11', label };
    },
    close() {
      for (const session of idle.splice(0)) {
        try {
          mod.C_CloseSession(session);
        } catch {
          // already gone (the token dropped it)
        }
      }
      try {
        mod.C_CloseSession(admin);
      } catch {
        // already gone (the token dropped it)
      }
      // The login and the library are the process's: only the custody that initialized them ends
      // them (C_Finalize logs out), so a second one in the same process (a test) leaves the first signing.
      if (initialized) mod.C_Finalize();
      mod.close();
    },
  };
}

/**
 * The issuer keys ISSUER_PKCS11_KEY_LABEL names (the first signs, all are published), their
 * algorithms read from the token. Like ISSUER_PRIVATE_JWK, no key file: every instance
 * configured alike signs with the same keys (DATABASE_URL).
 */
export async function pkcs11IssuerKeys(custody: KeyCustody, labels: string[]): Promise<ExternalIssuerKey[]> {
  const keys: ExternalIssuerKey[] = [];
  for (const [i, label] of labels.entries()) {
    const external: ExternalKeyRef = { custody: 'pkcs11', label };
    const { alg } = await custody.describe(external);
    // The label is the verification method fragment when it can be one; createdAt orders them (first newest).
    const id = /^[A-Za-z0-9._-]{1,64}$/.test(label) ? label : `key-${i + 1}`;
    keys.push({ id, alg, createdAt: new Date(Date.UTC(2000, 0, 1) - i * 1000).toISOString(), external });
  }
  if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new Error('ISSUER_PKCS11_KEY_LABEL names the same key twice');
  return keys;
}

function findSlot(mod: Pkcs11Module, settings: Pkcs11Settings): Buffer | undefined {
  for (const slot of mod.C_GetSlotList(true)) {
    if (settings.slot !== undefined) {
      if (readUlong(slot).toString() === settings.slot) return slot;
      continue;
    }
    if (mod.C_GetTokenInfo(slot).label.trim() === settings.tokenLabel) return slot;
  }
  return undefined;
}

/** Errors after which a fresh session (and login) may succeed. */
const RECOVERABLE =
  /^CKR_(SESSION_HANDLE_INVALID|SESSION_CLOSED|USER_NOT_LOGGED_IN|DEVICE_REMOVED|DEVICE_ERROR|TOKEN_NOT_PRESENT|KEY_HANDLE_INVALID|OBJECT_HANDLE_INVALID)$/;

/** The CKR_ code of a pkcs11js error, if it carries one. */
function ckr(e: unknown): string | undefined {
  return /CKR_\w+/.exec(String((e as Error)?.message))?.[0];
}

/** A CK_ULONG / handle as pkcs11js returns it: the platform's little-endian bytes. */
function readUlong(b: Buffer): bigint {
  return b.length >= 8 ? b.readBigUInt64LE(0) : BigInt(b.readUInt32LE(0));
}

function readBool(b: Buffer): boolean {
  return b.length > 0 && b[0] !== 0;
}

/** The JWK of a token's public key object (CKA_EC_POINT is a DER OCTET STRING, PKCS#11 v2.40 §2.3.3; some tokens give the raw point). */
export function publicJwkFromToken(
  keyType: bigint,
  params: Buffer,
  ecPoint: Buffer,
  ckkEc: number,
  label: string,
): { alg: JwsAlgorithm; publicJwk: PublicJwk } {
  if (keyType === BigInt(CKK_EC_EDWARDS) && (params.equals(OID_ED25519) || params.equals(NAME_ED25519))) {
    const raw = unwrapOctetString(ecPoint, 32);
    if (raw.length !== 32) throw new Error(`PKCS#11 key "${label}": Ed25519 public key is not 32 bytes`);
    return { alg: 'EdDSA', publicJwk: { kty: 'OKP', crv: 'Ed25519', x: base64urlEncode(raw) } };
  }
  if (keyType === BigInt(ckkEc) && params.equals(OID_SECP256K1)) {
    const raw = unwrapOctetString(ecPoint, 65);
    if (raw.length !== 65 || raw[0] !== 0x04) throw new Error(`PKCS#11 key "${label}": secp256k1 public key is not an uncompressed point`);
    return { alg: 'ES256K', publicJwk: { kty: 'EC', crv: 'secp256k1', x: base64urlEncode(raw.subarray(1, 33)), y: base64urlEncode(raw.subarray(33)) } };
  }
  throw new Error(`PKCS#11 key "${label}" is neither Ed25519 nor secp256k1 (the spec allows only EdDSA and ES256K)`);
}

function unwrapOctetString(b: Buffer, rawLength: number): Buffer {
  return b.length === rawLength + 2 && b[0] === 0x04 && b[1] === rawLength ? b.subarray(2) : b;
}
