import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { processEnv, readSettings, settingsGiven, type Environment, type Settings } from '../config';
import type { JwsAlgorithm } from '../crypto/keys';
import { publishPfiDidDht } from '../did/pfi';
import { createIssuerIdentity, didDhtIdentityKey, signingKeysNewestFirst, type IssuerKey } from '../issuer';
import { loadOrCreateKeys, readKeys, retireKey, rotateKeys, saveKeys } from './keyFile';
import { createNodeCryptoProvider } from './nodeCrypto';
import type { KeyCustody } from '../crypto/keyCustody';
import { openPkcs11Custody, pkcs11IssuerKeys, pkcs11SettingsFrom } from './pkcs11Signer';

/**
 * `npm run keys -- <command>`: the issuer's key file (DATA_DIR/issuer-keys.json) from the
 * command line. Reads the same settings as `npm start` (src/config/settings.ts: PUBLIC_URL, PORT,
 * DATA_DIR, ISSUER_KEYS_FILE, ISSUER_DID_METHOD, ISSUER_KEY_ALG, DID_DHT_GATEWAY). Prints JSON on
 * stdout — public keys and the DID document, never private key material.
 *
 *   show                          the DID, the keys (ids, algs, dates) and the DID document
 *   rotate [--alg EdDSA|ES256K]   add a new signing key (the newest signs); older keys stay published
 *   retire <key-id>               stop publishing a key (what it signed no longer verifies)
 *   publish                       did:dht: sign and PUT the DNS packet to DID_DHT_GATEWAY
 *   --no-publish                  rotate/retire without republishing did:dht
 *
 * The running issuer picks the change up on SIGHUP (or a restart).
 *
 * With ISSUER_PKCS11_MODULE (docs/hsm.md) new keys are generated inside the HSM token and the key
 * file keeps only their labels; with ISSUER_PKCS11_KEY_LABEL there is no key file: `rotate`
 * generates a key in the token and prints the new ISSUER_PKCS11_KEY_LABEL to configure.
 */
export interface KeysCliIo {
  out(line: string): void;
  err(line: string): void;
  /** fetch for publishing did:dht (defaults to the platform fetch). */
  fetch?: typeof fetch;
  now?: () => number;
}

const USAGE = 'usage: npm run keys -- show | rotate [--alg EdDSA|ES256K] | retire <key-id> | publish [--no-publish]';

export async function runKeysCli(args: string[], env: Environment, io: KeysCliIo): Promise<number> {
  let custody: ReturnType<typeof openPkcs11Custody> | undefined;
  let labels: string[] | undefined;
  try {
    const pkcs11 = pkcs11SettingsFrom(readSettings(env, 'node').keys);
    custody = pkcs11 ? openPkcs11Custody(pkcs11) : undefined;
    labels = pkcs11?.keyLabels;
  } catch (e) {
    io.err((e as Error).message);
    return 2;
  }
  try {
    return custody && labels ? await labelledKeysCommand(args, env, io, custody, labels) : await keysCommand(args, env, io, custody);
  } finally {
    custody?.close();
  }
}

/** ISSUER_PKCS11_KEY_LABEL: the keys are the labels configured; rotation adds one to the token and says what to configure. */
async function labelledKeysCommand(args: string[], env: Environment, io: KeysCliIo, custody: KeyCustody, labels: string[]): Promise<number> {
  const [command, ...rest] = args;
  const now = io.now ?? Date.now;
  const settings = readSettings(env, 'node');
  const givenAlg = settingsGiven(env, 'node').keys?.alg;
  const publicUrl = (settings.issuer.publicUrl || `http://localhost:${settings.server.port}`).replace(/\/+$/, '');
  try {
    const method = settings.issuer.didMethod;
    if (method === 'dht')
      throw new Error('ISSUER_PKCS11_KEY_LABEL with did:dht: manage the identity key with ISSUER_DID_DHT_IDENTITY_JWK; this command handles web and jwk');
    const keys = await pkcs11IssuerKeys(custody, labels);
    if (command === 'rotate') {
      const alg = (rest.includes('--alg') ? rest[rest.indexOf('--alg') + 1] : (givenAlg ?? keys[0].alg)) as JwsAlgorithm;
      if (alg !== 'EdDSA' && alg !== 'ES256K') throw new Error('--alg must be EdDSA or ES256K');
      const label = `kcc-issuer-${new Date(now()).toISOString().replace(/[-:]|\.\d+/g, '')}`;
      const ref = await custody.generateKeyPair(alg, label);
      const { publicJwk } = await custody.describe(ref);
      io.out(JSON.stringify({ generated: { label, alg, publicJwk }, ISSUER_PKCS11_KEY_LABEL: [label, ...labels].join(',') }, null, 2));
      io.err('set ISSUER_PKCS11_KEY_LABEL as printed on every instance and restart them: the new key signs, the old ones stay published');
      return 0;
    }
    if (command !== 'show')
      throw new Error(`with ISSUER_PKCS11_KEY_LABEL: ${command === 'retire' ? 'retire a key by removing its label from ISSUER_PKCS11_KEY_LABEL' : USAGE}`);
    const identity = await createIssuerIdentity(publicUrl, keys, createNodeCryptoProvider(), { method, custody });
    io.out(
      JSON.stringify(
        {
          did: identity.did,
          method,
          signingKid: identity.signer.kid,
          signingAlg: identity.signer.alg,
          keys: keys.map((k) => ({ id: k.id, alg: k.alg, label: k.external.label })),
          didDocument: identity.didDocument,
        },
        null,
        2,
      ),
    );
    return 0;
  } catch (e) {
    io.err((e as Error).message);
    return 1;
  }
}

async function keysCommand(args: string[], env: Environment, io: KeysCliIo, custody?: KeyCustody): Promise<number> {
  const [command, ...rest] = args;
  const flags = new Set(rest.filter((a) => a.startsWith('--')));
  const now = io.now ?? Date.now;
  if (!command || !['show', 'rotate', 'retire', 'publish'].includes(command)) {
    io.err(USAGE);
    return 2;
  }
  let settings: Settings;
  let givenAlg: JwsAlgorithm | undefined;
  try {
    settings = readSettings(env, 'node');
    givenAlg = settingsGiven(env, 'node').keys?.alg;
  } catch (e) {
    io.err((e as Error).message);
    return 2;
  }
  if (settings.keys.privateJwk) {
    io.err('ISSUER_PRIVATE_JWK is set: keys come from the environment, not the key file; rotate by changing the variable');
    return 2;
  }
  const method = settings.issuer.didMethod;
  const publicUrl = (settings.issuer.publicUrl || `http://localhost:${settings.server.port}`).replace(/\/+$/, '');
  const file = settings.keys.file || join(resolve(settings.storage.dataDir), 'issuer-keys.json');
  const defaultAlg = settings.keys.alg;
  const crypto = createNodeCryptoProvider();
  if (!existsSync(dirname(file))) mkdirSync(dirname(file), { recursive: true });

  let keys: IssuerKey[] = existsSync(file)
    ? readKeys(file)
    : await loadOrCreateKeys(file, crypto, defaultAlg, { didDhtIdentity: method === 'dht', now, custody });
  if (method === 'dht' && !didDhtIdentityKey(keys)) keys = await loadOrCreateKeys(file, crypto, defaultAlg, { didDhtIdentity: true, now, custody });
  let change: Record<string, unknown> | undefined;
  try {
    if (command === 'rotate') {
      const algFlag = rest[rest.indexOf('--alg') + 1];
      const alg = (rest.includes('--alg') ? algFlag : (givenAlg ?? signingKeysNewestFirst(keys)[0]?.alg ?? defaultAlg)) as JwsAlgorithm;
      if (alg !== 'EdDSA' && alg !== 'ES256K') throw new Error('--alg must be EdDSA or ES256K');
      const rotated = await rotateKeys(keys, crypto, alg, now, custody);
      // Check the result is publishable (did:dht packets are capped at 1000 bytes) before saving.
      await createIssuerIdentity(publicUrl, rotated.keys, crypto, { method, custody });
      keys = rotated.keys;
      saveKeys(file, keys);
      change = { rotated: { id: rotated.added.id, alg: rotated.added.alg, createdAt: rotated.added.createdAt } };
      if (method === 'jwk') io.err('note: did:jwk holds a single key, so the issuer DID changes with the signing key');
    } else if (command === 'retire') {
      const id = rest.find((a) => !a.startsWith('--'));
      if (!id) throw new Error('retire needs a key id (see `show`)');
      keys = retireKey(keys, id);
      saveKeys(file, keys);
      change = { retired: id };
    }
  } catch (e) {
    io.err((e as Error).message);
    return 1;
  }

  const identity = await createIssuerIdentity(publicUrl, keys, crypto, { method, custody });
  let published: Record<string, unknown> | undefined;
  const wantPublish = method === 'dht' && (command === 'publish' || ((command === 'rotate' || command === 'retire') && !flags.has('--no-publish')));
  if (command === 'publish' && method !== 'dht') {
    io.err('publish applies to ISSUER_DID_METHOD=dht only');
    return 2;
  }
  if (wantPublish) {
    const gatewayUrl = settings.did.dhtGateway;
    try {
      const r = await publishPfiDidDht({
        document: identity.didDocument,
        identityPrivateJwk: didDhtIdentityKey(keys)!.privateJwk,
        crypto,
        gatewayUrl,
        fetch: io.fetch ?? globalThis.fetch,
        now: now(),
      });
      published = { gateway: gatewayUrl, seq: r.seq.toString(), bytes: r.bytes };
    } catch (e) {
      io.err(`did:dht publish failed: ${(e as Error).message}`);
      io.out(JSON.stringify({ did: identity.did, ...change, published: false }, null, 2));
      return 1;
    }
  }
  io.out(
    JSON.stringify(
      {
        did: identity.did,
        method,
        keyFile: file,
        signingKid: identity.signer.kid,
        signingAlg: identity.signer.alg,
        keys: keys.map((k) => ({
          id: k.id,
          alg: k.alg,
          createdAt: k.createdAt,
          ...(k.role ? { role: k.role } : {}),
          ...(k.external ? { label: k.external.label } : {}),
        })),
        ...change,
        ...(published ? { published } : {}),
        didDocument: identity.didDocument,
      },
      null,
      2,
    ),
  );
  if (change) io.err('send SIGHUP to the running issuer (or restart it) to sign with the current keys');
  return 0;
}

// Run from source only (tsx): in the production build this module is bundled into an entry
// (src/runtime/main/) that starts it itself, and would otherwise start twice.
if (import.meta.url.endsWith('.ts') && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runKeysCli(process.argv.slice(2), processEnv(), { out: (l) => console.log(l), err: (l) => console.error(l) })
    .then((code) => process.exit(code))
    .catch((e) => {
      console.error(String(e?.message ?? e));
      process.exit(1);
    });
}
