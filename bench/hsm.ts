import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JwsAlgorithm, Signer } from '../src/crypto/keys';
import { createNodeCryptoProvider } from '../src/runtime/nodeCrypto';
import { openPkcs11Custody } from '../src/runtime/pkcs11Signer';

/**
 * `npx tsx bench/hsm.ts`: issuer signatures per second, node:crypto / noble (file keys) against a
 * SoftHSM2 token through PKCS#11 (src/runtime/pkcs11Signer.ts), one at a time and with 8 in
 * flight (4 token sessions). The input is a KCC-sized signing input (~1.5 KiB). docs/hsm.md.
 */
const MODULE = process.env.SOFTHSM2_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const data = new TextEncoder().encode('e'.repeat(1500));

async function rate(signer: Signer, inFlight: number): Promise<number> {
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  const worker = async () => {
    while (performance.now() < end) {
      await signer.sign(data);
      n++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return n / SECONDS;
}

const dir = mkdtempSync(join(tmpdir(), 'kcc-hsm-bench-'));
mkdirSync(join(dir, 'tokens'));
process.env.SOFTHSM2_CONF = join(dir, 'softhsm2.conf');
writeFileSync(process.env.SOFTHSM2_CONF, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'bench', '--so-pin', '12345678', '--pin', '123456'], { stdio: 'pipe' });
const crypto = createNodeCryptoProvider();
const custody = openPkcs11Custody({ modulePath: MODULE, tokenLabel: 'bench', pin: '123456', sessions: 4 });
try {
  const rows: Record<string, string | number>[] = [];
  for (const alg of ['EdDSA', 'ES256K'] as JwsAlgorithm[]) {
    const file = await crypto.createSigner(await crypto.generateKeyPair(alg), 'k');
    const hsm = await custody.createSigner(await custody.generateKeyPair(alg, `bench-${alg}`), 'k');
    for (const inFlight of [1, 8]) {
      rows.push({
        alg,
        inFlight,
        'file key (node:crypto / noble) /s': Math.round(await rate(file, inFlight)),
        'SoftHSM2 via PKCS#11 /s': Math.round(await rate(hsm, inFlight)),
      });
    }
  }
  console.table(rows);
} finally {
  custody.close();
  rmSync(dir, { recursive: true, force: true });
}
