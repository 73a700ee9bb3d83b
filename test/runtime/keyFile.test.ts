import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOrCreateDataKey } from '../../src/runtime/idvNode';
import { KeyFileError, loadOrCreateKeys, readKeys, saveKeys, writeFileDurably } from '../../src/runtime/keyFile';
import { createNodeCryptoProvider } from '../../src/runtime/nodeCrypto';

const ROOT = resolve(__dirname, '..', '..');

/** `npm start` in a child process: resolves with the exit code and the lines it wrote, or kills it once it has started. */
function runIssuer(dataDir: string): Promise<{ code: number | null; stdout: string[]; stderr: string[]; started: boolean }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/runtime/node.ts'], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', WEBHOOK_DISPATCH_INTERVAL_MS: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let started = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (d) => {
      out += d;
      if (!started && out.includes('"issuer_started"')) {
        started = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('error', fail);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '');
      done({ code, stdout: lines(out), stderr: lines(err), started });
    });
  });
}

describe('key files (src/runtime/keyFile.ts, src/runtime/idvNode.ts)', () => {
  it('a key file truncated between runs: the next start refuses in one line naming the file and the setting, and leaves it untouched', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kcc-keyfile-'));
    try {
      const first = await runIssuer(dataDir);
      expect(first.started).toBe(true);
      const keysFile = join(dataDir, 'issuer-keys.json');
      const dataKeyFile = join(dataDir, 'pii-data-key');
      const keysText = readFileSync(keysFile, 'utf8');
      const dataKeyText = readFileSync(dataKeyFile, 'utf8');
      expect(statSync(keysFile).mode & 0o777).toBe(0o600);
      expect(statSync(dataKeyFile).mode & 0o777).toBe(0o600);
      expect(readdirSync(dataDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);

      // What a crash soon after a non-durable write left: an empty file.
      truncateSync(keysFile, 0);
      const empty = await runIssuer(dataDir);
      expect(empty.started).toBe(false);
      expect(empty.code).toBe(1);
      expect(empty.stderr).toHaveLength(1);
      const refusal = JSON.parse(empty.stderr[0]) as { event: string; message: string };
      expect(refusal.event).toBe('startup_failed');
      expect(refusal.message).toContain(keysFile);
      expect(refusal.message).toContain('ISSUER_KEYS_FILE');
      expect(refusal.message).toContain('empty');
      expect(statSync(keysFile).size).toBe(0); // no new key written over it

      // Half a file: not JSON any more.
      writeFileSync(keysFile, keysText.slice(0, Math.floor(keysText.length / 2)));
      const half = await runIssuer(dataDir);
      expect(half.code).toBe(1);
      expect(half.stderr).toHaveLength(1);
      expect(JSON.parse(half.stderr[0]).message).toMatch(/issuer-keys\.json \(ISSUER_KEYS_FILE.*\) is not valid JSON/);
      expect(readFileSync(keysFile, 'utf8')).toBe(keysText.slice(0, Math.floor(keysText.length / 2)));

      // The PII data key file likewise.
      writeFileSync(keysFile, keysText);
      truncateSync(dataKeyFile, 10);
      const pii = await runIssuer(dataDir);
      expect(pii.code).toBe(1);
      expect(pii.stderr).toHaveLength(1);
      const piiMessage = JSON.parse(pii.stderr[0]).message as string;
      expect(piiMessage).toContain(dataKeyFile);
      expect(piiMessage).toContain('PII_DATA_KEY');
      expect(readFileSync(dataKeyFile, 'utf8')).toBe(dataKeyText.slice(0, 10));

      // Restored from the backup: starts again with the same keys.
      writeFileSync(dataKeyFile, dataKeyText);
      const restored = await runIssuer(dataDir);
      expect(restored.started).toBe(true);
      expect(readFileSync(keysFile, 'utf8')).toBe(keysText);
      expect(readFileSync(dataKeyFile, 'utf8')).toBe(dataKeyText);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('SDJWT_VC_SIGNING_ALG=ES256 adds one P-256 key (es256-1) to a key file that has none, keeping every key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kcc-keyfile-'));
    try {
      const crypto = createNodeCryptoProvider();
      const file = join(dir, 'issuer-keys.json');
      const [first] = await loadOrCreateKeys(file, crypto, 'EdDSA');
      const keys = await loadOrCreateKeys(file, crypto, 'EdDSA', { sdJwtVcSigningAlg: 'ES256' });
      expect(keys.map((k) => [k.id, k.alg])).toEqual([
        ['key-1', 'EdDSA'],
        ['es256-1', 'ES256'],
      ]);
      expect(keys[0]).toEqual(first);
      expect(keys[1].privateJwk).toMatchObject({ kty: 'EC', crv: 'P-256', x: expect.any(String), y: expect.any(String), d: expect.any(String) });
      expect(readKeys(file)).toEqual(keys);
      // Once there, it is used as is.
      expect(await loadOrCreateKeys(file, crypto, 'EdDSA', { sdJwtVcSigningAlg: 'ES256' })).toEqual(keys);
      expect(statSync(file).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses unusable key files in process too, and never overwrites an existing file with a new key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kcc-keyfile-'));
    try {
      const crypto = createNodeCryptoProvider();
      const file = join(dir, 'issuer-keys.json');
      const keys = await loadOrCreateKeys(file, crypto, 'EdDSA');
      expect(readKeys(file)).toEqual(keys);
      for (const bad of [
        '',
        '   \n',
        '{"keys":[]}',
        '{"keys":[{"id":"key-1"}]}',
        '{"keys":[{"id":"0","role":"did-dht-identity","createdAt":"x","privateJwk":{"d":"x"}}]}',
      ]) {
        writeFileSync(file, bad);
        await expect(loadOrCreateKeys(file, crypto, 'EdDSA')).rejects.toBeInstanceOf(KeyFileError);
        expect(readFileSync(file, 'utf8')).toBe(bad);
      }
      // The one-line message (startup_failed prints it as is).
      writeFileSync(file, '');
      await expect(loadOrCreateKeys(file, crypto, 'EdDSA')).rejects.toThrow(/^key file .*issuer-keys\.json \(ISSUER_KEYS_FILE[^\n]*$/);
      // Rotation still replaces the file (the list with every key kept).
      saveKeys(file, keys);
      expect(readKeys(file)).toEqual(keys);
      // Creating never replaces: a file that appeared meanwhile is kept, in one line naming it.
      const before = readFileSync(file, 'utf8');
      expect(() => writeFileDurably(file, '{"keys":"new"}', { exclusive: true })).toThrow(`cannot write ${file} (it appeared meanwhile; not replaced)`);
      expect(readFileSync(file, 'utf8')).toBe(before);

      const dataKeyFile = join(dir, 'pii-data-key');
      const key = loadOrCreateDataKey(dataKeyFile);
      expect(loadOrCreateDataKey(dataKeyFile)).toEqual(key);
      writeFileSync(dataKeyFile, 'not-a-key');
      expect(() => loadOrCreateDataKey(dataKeyFile)).toThrow(KeyFileError);
      expect(readFileSync(dataKeyFile, 'utf8')).toBe('not-a-key');
      // PII_DATA_KEY set: the file is not read.
      expect(loadOrCreateDataKey(dataKeyFile, Buffer.from(key).toString('base64url'))).toEqual(key);
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!existsSync('/usr/bin/strace'))(
    'writes durably: the temp file is fsynced before the rename, the directory after it',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'kcc-keyfile-'));
      try {
        const trace = join(dir, 'trace');
        const script = `import { writeFileDurably } from './src/runtime/keyFile.ts';
        writeFileDurably(${JSON.stringify(join(dir, 'k.json'))}, '{"keys":[]}', { exclusive: true });
        writeFileDurably(${JSON.stringify(join(dir, 'k.json'))}, '{"keys":[1]}');`;
        const r = spawnSync(
          'strace',
          [
            '-f',
            '-e',
            'trace=openat,fsync,rename,renameat,renameat2,link,linkat',
            '-o',
            trace,
            process.execPath,
            '--import',
            'tsx',
            '--input-type=module',
            '-e',
            script,
          ],
          { cwd: ROOT, encoding: 'utf8' },
        );
        expect(r.status, r.stderr).toBe(0);
        // Only the calls on our files, in order; fds resolved from the openat lines.
        const fds = new Map<string, string>();
        const events: string[] = [];
        for (const line of readFileSync(trace, 'utf8').split('\n')) {
          const open = /openat\(AT_FDCWD, "([^"]+)".*\) = (\d+)$/.exec(line);
          if (open?.[1].startsWith(dir)) fds.set(open[2], open[1] === dir ? 'dir' : open[1].endsWith('.tmp') ? 'tmp' : open[1]);
          const sync = /fsync\((\d+)\)/.exec(line);
          if (sync && fds.has(sync[1])) events.push(`fsync ${fds.get(sync[1])}`);
          if (/(link|rename)(at2?)?\(.*k\.json/.test(line)) events.push(/link/.test(line) ? 'link' : 'rename');
        }
        expect(events).toEqual(['fsync tmp', 'link', 'fsync dir', 'fsync tmp', 'rename', 'fsync dir']);
        expect(readFileSync(join(dir, 'k.json'), 'utf8')).toBe('{"keys":[1]}');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );
});
