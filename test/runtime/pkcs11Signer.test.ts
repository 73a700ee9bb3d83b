import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { verifyCredential } from 'did-jwt-vc';
import { Resolver } from 'did-resolver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ecdsaSignatureToJose } from '../../src/crypto/ecdsaSignature';
import { decodeJwt, signJwt } from '../../src/crypto/jwt';
import { silentLogger } from '../../src/http/context';
import { createIssuerIdentity, type IssuerKey } from '../../src/issuer';
import { runKeysCli } from '../../src/runtime/keysCli';
import { readKeys } from '../../src/runtime/keyFile';
import { startNodeIssuer } from '../../src/runtime/node';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';
import { openPkcs11Custody, pkcs11IssuerKeys, pkcs11SettingsFromEnv, type Pkcs11Custody } from '../../src/runtime/pkcs11Signer';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { createSoftHsmToken, SOFTHSM_MODULE, softHsmUnavailable, type SoftHsmToken } from '../helpers/softhsm';

/**
 * Issuer keys in an HSM (PKCS#11), against a throwaway SoftHSM2 token: the private key is
 * generated in the token and never leaves it, KCCs it signs verify with did-jwt-vc (an
 * independent verifier), rotation through `npm run keys` works as with file keys, and every
 * misconfiguration names its setting.
 */
const unavailable = softHsmUnavailable();
if (unavailable) console.warn(`skipping the PKCS#11 tests: ${unavailable}`);
const crypto = createNodeCryptoProvider();
const N = secp256k1.Point.CURVE().n;

describe.skipIf(unavailable !== undefined)('PKCS#11 issuer keys (SoftHSM2)', () => {
  let token: SoftHsmToken;
  let env: Record<string, string>;
  beforeAll(() => {
    token = createSoftHsmToken();
    env = { ISSUER_PKCS11_MODULE: SOFTHSM_MODULE, ISSUER_PKCS11_TOKEN_LABEL: token.tokenLabel, ISSUER_PKCS11_PIN: token.pin };
  });
  afterAll(() => token?.close());

  function withCustody<T>(fn: (c: Pkcs11Custody) => Promise<T>, extra: Record<string, string> = {}): Promise<T> {
    const custody = openPkcs11Custody(pkcs11SettingsFromEnv({ ...env, ...extra })!);
    return fn(custody).finally(() => custody.close());
  }

  it('generates non-extractable keys in the token and signs EdDSA and ES256K (low-S r||s) that verify', async () => {
    await withCustody(async (custody) => {
      for (const alg of ['EdDSA', 'ES256K'] as const) {
        const ref = await custody.generateKeyPair(alg, `unit-${alg}`);
        const { alg: read, publicJwk } = await custody.describe(ref);
        expect(read).toBe(alg);
        const signer = await custody.createSigner(ref, `did:web:pfi.example#unit-${alg}`);
        expect(signer.publicJwk).toEqual(publicJwk);
        const signatures = await Promise.all(Array.from({ length: 40 }, (_, i) => signJwt(signer, { i })));
        for (const jwt of signatures) {
          const decoded = decodeJwt(jwt);
          expect(decoded.header).toMatchObject({ alg, kid: `did:web:pfi.example#unit-${alg}` });
          expect(decoded.signature).toHaveLength(64);
          expect(await crypto.verify(alg, publicJwk, decoded.signingInput, decoded.signature)).toBe(true);
          if (alg === 'ES256K') expect(bigint(decoded.signature.subarray(32)) <= N / 2n).toBe(true);
        }
        // A label is one key: generating another under it is refused.
        await expect(custody.generateKeyPair(alg, `unit-${alg}`)).rejects.toThrow(/already holds a key labelled/);
      }
    });
    // The private key never leaves the token: reading its value is refused by the token itself.
    const pkcs11 = createRequire(import.meta.url)('pkcs11js') as typeof import('pkcs11js');
    const mod = new pkcs11.PKCS11();
    mod.load(SOFTHSM_MODULE);
    mod.C_Initialize();
    try {
      const slot = mod.C_GetSlotList(true).find((s) => mod.C_GetTokenInfo(s).label.trim() === token.tokenLabel)!;
      const session = mod.C_OpenSession(slot, pkcs11.CKF_SERIAL_SESSION | pkcs11.CKF_RW_SESSION);
      mod.C_Login(session, pkcs11.CKU_USER, token.pin);
      mod.C_FindObjectsInit(session, [
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PRIVATE_KEY },
        { type: pkcs11.CKA_LABEL, value: 'unit-EdDSA' },
      ]);
      const [key] = mod.C_FindObjects(session, 1);
      mod.C_FindObjectsFinal(session);
      expect(key).toBeDefined();
      expect(() => mod.C_GetAttributeValue(session, key, [{ type: pkcs11.CKA_VALUE }])).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
      const [extractable, sensitive] = mod.C_GetAttributeValue(session, key, [{ type: pkcs11.CKA_EXTRACTABLE }, { type: pkcs11.CKA_SENSITIVE }]);
      expect([(extractable.value as Buffer)[0], (sensitive.value as Buffer)[0]]).toEqual([0, 1]);

      // A key someone imported as extractable is refused by the adapter, not used.
      mod.C_CreateObject(session, [
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PRIVATE_KEY },
        { type: pkcs11.CKA_KEY_TYPE, value: pkcs11.CKK_EC },
        { type: pkcs11.CKA_TOKEN, value: true },
        { type: pkcs11.CKA_LABEL, value: 'imported' },
        { type: pkcs11.CKA_SIGN, value: true },
        { type: pkcs11.CKA_SENSITIVE, value: false },
        { type: pkcs11.CKA_EXTRACTABLE, value: true },
        { type: pkcs11.CKA_EC_PARAMS, value: Buffer.from('06052b8104000a', 'hex') },
        { type: pkcs11.CKA_VALUE, value: Buffer.from(secp256k1.utils.randomSecretKey()) },
      ]);
      const pub = secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), false);
      mod.C_CreateObject(session, [
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PUBLIC_KEY },
        { type: pkcs11.CKA_KEY_TYPE, value: pkcs11.CKK_EC },
        { type: pkcs11.CKA_TOKEN, value: true },
        { type: pkcs11.CKA_LABEL, value: 'imported' },
        { type: pkcs11.CKA_EC_PARAMS, value: Buffer.from('06052b8104000a', 'hex') },
        { type: pkcs11.CKA_EC_POINT, value: Buffer.concat([Buffer.from([0x04, 65]), Buffer.from(pub)]) },
      ]);
      mod.C_CloseSession(session);
    } finally {
      mod.C_Finalize();
      mod.close();
    }
    await withCustody(async (custody) => {
      await expect(custody.createSigner({ custody: 'pkcs11', label: 'imported' }, 'did:web:pfi.example#x')).rejects.toThrow(/extractable or not sensitive/);
    });
  });

  it('a KCC signed in the token verifies with did-jwt-vc; rotation with `npm run keys` moves signing to a new token key', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kcc-hsm-'));
    const custody = openPkcs11Custody(pkcs11SettingsFromEnv(env)!);
    try {
      const issuer = await startNodeIssuer({ port: 0, dataDir, logger: silentLogger, keyCustody: custody, backgroundIntervalMs: 0 });
      try {
        // First start: key-1 was generated in the token; the key file holds only its label.
        const file = readFileSync(join(dataDir, 'issuer-keys.json'), 'utf8');
        expect(file).not.toMatch(/"d"\s*:/);
        const [key1] = readKeys(join(dataDir, 'issuer-keys.json')) as IssuerKey[];
        expect(key1).toMatchObject({ id: 'key-1', alg: 'EdDSA', external: { custody: 'pkcs11', label: expect.stringMatching(/^kcc-issuer-key-1-/) } });
        const did = issuer.deps.issuer.did;
        // The DID document publishes the public key read from the token.
        const fromToken = await custody.describe(key1.external!);
        expect(issuer.deps.issuer.didDocument.verificationMethod![0]).toMatchObject({ id: `${did}#key-1`, publicKeyJwk: fromToken.publicJwk });

        const resolver = localhostDidWebResolver();
        const holder = await Holder.create();
        const first = await applyForKcc(new WalletClient(holder, (u, i) => fetch(u, i)), { issuer: issuer.url, identity: SAMPLE_IDENTITY });
        expect(decodeJwt(first.credential!).header).toMatchObject({ alg: 'EdDSA', kid: `${did}#key-1` });
        const verified = await verifyCredential(first.credential!, resolver);
        expect(verified.verified).toBe(true);
        expect(verified.issuer).toBe(did);
        expect(verified.verifiableCredential.type).toContain('KnownCustomerCredential');
        // Not vacuous: one claim changed and did-jwt-vc refuses it.
        await expect(verifyCredential(tamper(first.credential!), resolver)).rejects.toThrow(/signature/i);

        // Rotation as with file keys: the CLI generates key-2 (ES256K) in the token, SIGHUP reloads.
        const out: string[] = [];
        const err: string[] = [];
        const cliEnv = { ...env, DATA_DIR: dataDir, PUBLIC_URL: issuer.url };
        expect(await runKeysCli(['rotate', '--alg', 'ES256K'], cliEnv, { out: (l) => out.push(l), err: (l) => err.push(l) })).toBe(0);
        const rotated = JSON.parse(out.join('\n'));
        expect(rotated).toMatchObject({ signingKid: `${did}#key-2`, signingAlg: 'ES256K', rotated: { id: 'key-2', alg: 'ES256K' } });
        expect(rotated.keys.map((k: { label?: string }) => k.label)).toEqual([
          expect.stringMatching(/^kcc-issuer-key-1-/),
          expect.stringMatching(/^kcc-issuer-key-2-/),
        ]);
        expect(out.join('\n')).not.toMatch(/"d"\s*:/);
        await issuer.reloadKeys();
        expect(issuer.deps.issuer.signer).toMatchObject({ alg: 'ES256K', kid: `${did}#key-2` });

        const second = await applyForKcc(new WalletClient(await Holder.create({ alg: 'ES256K' }), (u, i) => fetch(u, i)), {
          issuer: issuer.url,
          identity: SAMPLE_IDENTITY,
        });
        expect(decodeJwt(second.credential!).header).toMatchObject({ alg: 'ES256K', kid: `${did}#key-2` });
        expect((await verifyCredential(second.credential!, resolver)).verified).toBe(true);
        await expect(verifyCredential(tamper(second.credential!), resolver)).rejects.toThrow(/signature/i);
        // The KCC signed by key-1 keeps verifying while key-1 is published.
        expect((await verifyCredential(first.credential!, resolver)).verified).toBe(true);
        // Retiring key-1 stops publishing it (the key object stays in the token for the key ceremony).
        expect(await runKeysCli(['retire', 'key-1'], cliEnv, { out: () => {}, err: () => {} })).toBe(0);
        await issuer.reloadKeys();
        expect(issuer.deps.issuer.didDocument.verificationMethod!.map((v) => v.id)).toEqual([`${did}#key-2`]);
        await expect(verifyCredential(first.credential!, resolver)).rejects.toThrow();
        expect((await custody.describe(key1.external!)).alg).toBe('EdDSA');
      } finally {
        await issuer.close();
      }
    } finally {
      custody.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('ISSUER_PKCS11_KEY_LABEL names the keys (no key file, as with DATABASE_URL); the CLI rotates by printing the new list', async () => {
    await withCustody(async (custody) => {
      await custody.generateKeyPair('EdDSA', 'pfi-2026');
      const keys = await pkcs11IssuerKeys(custody, ['pfi-2026', 'unit-ES256K']);
      expect(keys.map((k) => [k.id, k.alg])).toEqual([
        ['pfi-2026', 'EdDSA'],
        ['unit-ES256K', 'ES256K'],
      ]);
      const identity = await createIssuerIdentity('https://pfi.example', keys, crypto, { custody });
      expect(identity.signer).toMatchObject({ alg: 'EdDSA', kid: 'did:web:pfi.example#pfi-2026' });
      expect(identity.publishedKeys.map((k) => k.kid)).toEqual(['did:web:pfi.example#pfi-2026', 'did:web:pfi.example#unit-ES256K']);
      // Without the custodian the key cannot sign, and the error says which setting is missing.
      await expect(createIssuerIdentity('https://pfi.example', keys, crypto)).rejects.toThrow(/ISSUER_PKCS11_MODULE/);
    });
    const out: string[] = [];
    const labelled = { ...env, ISSUER_PKCS11_KEY_LABEL: 'pfi-2026', PUBLIC_URL: 'https://pfi.example' };
    expect(await runKeysCli(['rotate', '--alg', 'ES256K'], labelled, { out: (l) => out.push(l), err: () => {}, now: () => Date.UTC(2026, 11, 7) })).toBe(0);
    expect(JSON.parse(out.join('\n'))).toMatchObject({
      generated: { label: 'kcc-issuer-20261207T000000Z', alg: 'ES256K' },
      ISSUER_PKCS11_KEY_LABEL: 'kcc-issuer-20261207T000000Z,pfi-2026',
    });
    out.length = 0;
    expect(
      await runKeysCli(['show'], { ...labelled, ISSUER_PKCS11_KEY_LABEL: 'kcc-issuer-20261207T000000Z,pfi-2026' }, { out: (l) => out.push(l), err: () => {} }),
    ).toBe(0);
    expect(JSON.parse(out.join('\n'))).toMatchObject({ signingKid: 'did:web:pfi.example#kcc-issuer-20261207T000000Z', signingAlg: 'ES256K' });
  });

  it('signing recovers when the token drops the sessions and the login (HSM restart, failover)', async () => {
    await withCustody(async (custody) => {
      const ref = await custody.generateKeyPair('ES256K', 'recover');
      const signer = await custody.createSigner(ref, 'did:web:pfi.example#recover');
      const check = async () => {
        const jwt = decodeJwt(await signJwt(signer, { at: Date.now() }));
        expect(await crypto.verify('ES256K', signer.publicJwk, jwt.signingInput, jwt.signature)).toBe(true);
      };
      await Promise.all([check(), check(), check()]);
      // Another handle on the same module closes every session of this process: the token
      // logs the application out, as after an HSM restart.
      const pkcs11 = createRequire(import.meta.url)('pkcs11js') as typeof import('pkcs11js');
      const mod = new pkcs11.PKCS11();
      mod.load(SOFTHSM_MODULE);
      const slot = mod.C_GetSlotList(true).find((s) => mod.C_GetTokenInfo(s).label.trim() === token.tokenLabel)!;
      mod.C_CloseAllSessions(slot);
      mod.close();
      // Every pooled session is gone; each signature reopens one and logs in again.
      await Promise.all(Array.from({ length: 8 }, check));
      expect((await custody.describe(ref)).publicJwk).toEqual(signer.publicJwk);
    });
  });

  it('`npm start` with ISSUER_PKCS11_* signs with the token key and publishes its public key; a wrong PIN stops the start naming the setting', async () => {
    const publicJwk = await withCustody(async (custody) => (await custody.describe(await custody.generateKeyPair('EdDSA', 'npm-start'))).publicJwk);
    const dataDir = mkdtempSync(join(tmpdir(), 'kcc-hsm-start-'));
    const start = (extra: Record<string, string>) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/runtime/node.ts'], {
        cwd: join(__dirname, '..', '..'),
        env: { ...process.env, ...env, ISSUER_PKCS11_KEY_LABEL: 'npm-start', PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...extra },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const started = new Promise<Record<string, string>>((ok, fail) => {
        child.stdout!.on('data', () => {
          const line = out.split('\n').find((l) => l.includes('"issuer_started"'));
          if (line) ok(JSON.parse(line));
        });
        child.on('exit', (code) => fail(new Error(`exited ${code}: ${err}`)));
      });
      return { child, started, output: () => out + err };
    };
    try {
      const ok = start({});
      try {
        const line = await ok.started;
        expect(line.signingKid).toMatch(/#npm-start$/);
        const doc = (await (await fetch(`${line.url}/.well-known/did.json`)).json()) as { verificationMethod: { id: string; publicKeyJwk: unknown }[] };
        expect(doc.verificationMethod).toEqual([expect.objectContaining({ id: line.signingKid, publicKeyJwk: publicJwk })]);
        expect(ok.output()).not.toContain(token.pin);
      } finally {
        const exited = new Promise((r) => ok.child.once('exit', r));
        ok.child.kill('SIGTERM');
        await exited;
      }
      const bad = start({ ISSUER_PKCS11_PIN: '000000' });
      await expect(bad.started).rejects.toThrow(/exited 1.*ISSUER_PKCS11_PIN was refused/s);
      expect(bad.output()).not.toContain('000000');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('every misconfiguration is an error naming its setting', async () => {
    const open = (extra: Record<string, string | undefined>) => () => openPkcs11Custody(pkcs11SettingsFromEnv({ ...env, ...extra })!);
    expect(open({ ISSUER_PKCS11_MODULE: '/nonexistent/libpkcs11.so' })).toThrow(/ISSUER_PKCS11_MODULE: cannot load/);
    expect(open({ ISSUER_PKCS11_TOKEN_LABEL: 'no-such-token' })).toThrow(/ISSUER_PKCS11_TOKEN_LABEL: no token labelled "no-such-token"/);
    expect(open({ ISSUER_PKCS11_TOKEN_LABEL: undefined })).toThrow(/ISSUER_PKCS11_TOKEN_LABEL \(or ISSUER_PKCS11_SLOT\)/);
    expect(open({ ISSUER_PKCS11_PIN: '000000' })).toThrow(/ISSUER_PKCS11_PIN was refused by the token \(CKR_PIN_INCORRECT\)/);
    expect(open({ ISSUER_PKCS11_PIN: undefined })).toThrow(/ISSUER_PKCS11_PIN \(or ISSUER_PKCS11_PIN_FILE\)/);
    expect(open({ ISSUER_PKCS11_SLOT: 'first', ISSUER_PKCS11_TOKEN_LABEL: undefined })).toThrow(/ISSUER_PKCS11_SLOT must be a decimal/);
    expect(open({ ISSUER_PKCS11_SESSIONS: '0' })).toThrow(/ISSUER_PKCS11_SESSIONS/);
    expect(open({ ISSUER_PKCS11_KEY_LABEL: 'k', ISSUER_PRIVATE_JWK: '{}' })).toThrow(/ISSUER_PKCS11_KEY_LABEL and ISSUER_PRIVATE_JWK/);
    // The messages never carry the PIN.
    try {
      open({ ISSUER_PKCS11_PIN: '987654' })();
    } catch (e) {
      expect(String((e as Error).message)).not.toContain('987654');
    }
    await withCustody(async (custody) => {
      await expect(pkcs11IssuerKeys(custody, ['no-such-key'])).rejects.toThrow(/ISSUER_PKCS11_KEY_LABEL: no public key labelled "no-such-key"/);
    });
    // The CLI reports the same errors without a stack.
    const err: string[] = [];
    expect(await runKeysCli(['show'], { ...env, ISSUER_PKCS11_TOKEN_LABEL: 'nope' }, { out: () => {}, err: (l) => err.push(l) })).toBe(2);
    expect(err.join('\n')).toMatch(/ISSUER_PKCS11_TOKEN_LABEL/);
  });
});

describe('ecdsaSignatureToJose (HSM and KMS signatures to JOSE r||s)', () => {
  const digest = new Uint8Array(32).fill(7);
  const secret = secp256k1.utils.randomSecretKey();
  const pub = secp256k1.getPublicKey(secret, false);

  it('turns DER into r||s and high S into low S, both still verifying', () => {
    for (let i = 0; i < 20; i++) {
      const sig = secp256k1.sign(
        digest.map((b) => b ^ i),
        secret,
        { prehash: false, lowS: true },
      );
      const r = bigint(sig.subarray(0, 32));
      const s = bigint(sig.subarray(32));
      const high = concat(bytes(r), bytes(N - s));
      const jose = ecdsaSignatureToJose(der(r, N - s));
      expect(jose).toEqual(sig);
      expect(ecdsaSignatureToJose(high)).toEqual(sig);
      expect(
        secp256k1.verify(
          jose,
          digest.map((b) => b ^ i),
          pub,
          { prehash: false },
        ),
      ).toBe(true);
    }
  });

  it('refuses what is neither', () => {
    expect(() => ecdsaSignatureToJose(new Uint8Array(63))).toThrow(/neither r\|\|s nor DER/);
    expect(() => ecdsaSignatureToJose(new Uint8Array(64))).toThrow(/out of range/);
    expect(() => ecdsaSignatureToJose(Uint8Array.from([0x30, 6, 2, 1, 1, 2, 1, 1, 0]))).toThrow();
  });
});

function bigint(b: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);
}
function bytes(v: bigint): Uint8Array {
  return Uint8Array.from(Buffer.from(v.toString(16).padStart(64, '0'), 'hex'));
}
function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  return Uint8Array.from([...a, ...b]);
}
function der(r: bigint, s: bigint): Uint8Array {
  const int = (v: bigint) => {
    let b = Buffer.from(v.toString(16).padStart(64, '0'), 'hex');
    while (b.length > 1 && b[0] === 0 && b[1] < 0x80) b = b.subarray(1);
    if (b[0] >= 0x80) b = Buffer.concat([Buffer.from([0]), b]);
    return Buffer.concat([Buffer.from([2, b.length]), b]);
  };
  const body = Buffer.concat([int(r), int(s)]);
  return Uint8Array.from(Buffer.concat([Buffer.from([0x30, body.length]), body]));
}

/** One payload claim changed, signature kept. */
function tamper(jwt: string): string {
  const [h, p, sig] = jwt.split('.');
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  payload.vc.credentialSubject.tier = 'Platinum';
  return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${sig}`;
}

/** did:web on http://localhost:<port> for did-jwt-vc (web-did-resolver insists on https). */
function localhostDidWebResolver(): Resolver {
  return new Resolver({
    web: async (_did, parsed) => {
      const host = decodeURIComponent(parsed.id);
      if (!/^localhost:\d+$/.test(host)) return { didDocument: null, didDocumentMetadata: {}, didResolutionMetadata: { error: 'notFound' } };
      const res = await fetch(`http://${host}/.well-known/did.json`);
      return {
        didDocument: res.ok ? await res.json() : null,
        didDocumentMetadata: {},
        didResolutionMetadata: res.ok ? { contentType: 'application/did+json' } : { error: 'notFound' },
      };
    },
  });
}
