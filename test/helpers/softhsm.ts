import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throwaway SoftHSM2 token per test run (Debian's `softhsm2`, installed by .ci/run): its own
 * token directory in a temp dir, named by SOFTHSM2_CONF before the module is first loaded in
 * this process (vitest runs each file in its own process: pool 'forks').
 */
export const SOFTHSM_MODULE = process.env.SOFTHSM2_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so';

/** Why the HSM tests cannot run here, or undefined. Under CI the module must be present. */
export function softHsmUnavailable(): string | undefined {
  if (existsSync(SOFTHSM_MODULE)) return undefined;
  const reason = `SoftHSM2 module not found at ${SOFTHSM_MODULE} (apt-get install softhsm2)`;
  if (process.env.CI === 'true') throw new Error(`${reason}: CI must run the HSM tests`);
  return reason;
}

export interface SoftHsmToken {
  dir: string;
  tokenLabel: string;
  pin: string;
  soPin: string;
  close(): void;
}

/** Initialises one token (label `kcc-test`) in a fresh directory and points SOFTHSM2_CONF at it. */
export function createSoftHsmToken(tokenLabel = 'kcc-test'): SoftHsmToken {
  const dir = mkdtempSync(join(tmpdir(), 'kcc-softhsm-'));
  mkdirSync(join(dir, 'tokens'));
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  process.env.SOFTHSM2_CONF = conf;
  const pin = '246810';
  const soPin = '13579111';
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', tokenLabel, '--so-pin', soPin, '--pin', pin], {
    env: { ...process.env, SOFTHSM2_CONF: conf },
    stdio: 'pipe',
  });
  return { dir, tokenLabel, pin, soPin, close: () => rmSync(dir, { recursive: true, force: true }) };
}
