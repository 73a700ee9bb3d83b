import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's root directory (where package.json, drizzle/ and drizzle-pg/ are), found by
 * walking up from the calling module: the same from src/runtime/*.ts under tsx and from the
 * bundles in dist/ (dist/server.js, dist/chunks/*.js), whose depth differs.
 */
export function packageRoot(moduleUrl: string): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'kcc-issuer') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`kcc-issuer's package.json not found above ${fileURLToPath(moduleUrl)}`);
    dir = parent;
  }
}
