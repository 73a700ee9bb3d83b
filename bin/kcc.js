#!/usr/bin/env node
// `kcc verify <jwt>`: the relying-party KCC verifier. From the production build (dist/verify.js,
// `npm run build`) when there is one, else from the sources through tsx (a development checkout).
import { existsSync } from 'node:fs';

const built = new URL('../dist/verify.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { runCli } = await import('../src/verifier/cli.ts');
  process.exitCode = await runCli(process.argv.slice(2), { out: (l) => console.log(l), err: (l) => console.error(l) });
}
