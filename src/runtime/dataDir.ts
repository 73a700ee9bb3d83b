import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** DATA_DIR is unusable: one line naming the setting, the path and why. */
export class DataDirError extends Error {
  constructor(dir: string, why: string) {
    super(`DATA_DIR (${dir}) ${why}`);
    this.name = 'DataDirError';
  }
}

const REASONS: Record<string, string> = {
  EACCES: 'is not writable (permission denied)',
  EPERM: 'is not writable (operation not permitted)',
  EROFS: 'is on a read-only file system',
  ENOSPC: 'is on a full disk',
  EDQUOT: 'is over its disk quota',
  ENOTDIR: 'is not a directory (a part of its path is a file)',
};

/**
 * Makes sure DATA_DIR is a writable directory before anything is written to it: creates it when
 * its parent exists (like `mkdir`, not `mkdir -p`: a typo in a parent is refused rather than
 * silently created), then writes and removes a probe file. Every failure is one line naming
 * DATA_DIR instead of a raw EEXIST / EROFS / ENOENT from whichever write came first.
 */
export function ensureDataDir(dir: string): void {
  const code = (e: unknown) => (e as NodeJS.ErrnoException).code ?? 'error';
  let exists = false;
  try {
    const stat = statSync(dir);
    if (!stat.isDirectory()) throw new DataDirError(dir, 'is not a directory (it is a file)');
    exists = true;
  } catch (e) {
    if (e instanceof DataDirError) throw e;
    if (code(e) !== 'ENOENT') throw new DataDirError(dir, REASONS[code(e)] ?? `cannot be read (${code(e)})`);
  }
  if (!exists) {
    try {
      mkdirSync(dir);
    } catch (e) {
      if (code(e) === 'ENOENT') throw new DataDirError(dir, `cannot be created: its parent directory ${dirname(dir)} does not exist`);
      throw new DataDirError(dir, `cannot be created: ${REASONS[code(e)] ?? code(e)}`);
    }
  }
  const probe = join(dir, `.write-probe-${process.pid}`);
  try {
    writeFileSync(probe, '');
  } catch (e) {
    throw new DataDirError(dir, REASONS[code(e)] ?? `is not writable (${code(e)})`);
  } finally {
    rmSync(probe, { force: true });
  }
}
