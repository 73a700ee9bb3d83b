#!/usr/bin/env node
// `npm run build`: the production build. Each entry point (the server and the CLIs) is bundled by
// esbuild into dist/ as plain ESM JavaScript. Packages stay external, so `npm ci --omit=dev`
// supplies exactly the production dependencies; JSON files (schemas/, the migration journals) are
// bundled, and the SQL migrations (drizzle/, drizzle-pg/) are read from the package root at run
// time (src/runtime/packageRoot.ts). Each entry is a small main module (src/runtime/main/) that
// starts unconditionally: code shared between entries lands in chunks, where an
// `import.meta.url === argv[1]` check would never match.
// Usage: node scripts/build.mjs [--outdir DIR]
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const at = process.argv.indexOf('--outdir');
const outdir = at > 0 ? resolve(process.argv[at + 1]) : join(root, 'dist');

/** dist/<name>.js ← src/<path>: the server (npm run start:prod) and the command-line tools. */
export const ENTRY_POINTS = {
  server: 'src/runtime/main/server.ts',
  keys: 'src/runtime/main/keys.ts',
  operators: 'src/runtime/main/operators.ts',
  verify: 'src/runtime/main/verify.ts',
};

rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: Object.fromEntries(Object.entries(ENTRY_POINTS).map(([name, path]) => [name, join(root, path)])),
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
  chunkNames: 'chunks/[name]-[hash]',
});
console.log(
  `built ${Object.keys(ENTRY_POINTS)
    .map((n) => `dist/${n}.js`)
    .join(', ')}${at > 0 ? ` in ${outdir}` : ''}`,
);
