#!/usr/bin/env node
// `kcc verify <jwt>`: the relying-party KCC verifier (src/verifier/cli.ts), run through tsx.
import { register } from 'tsx/esm/api';
register();
const { runCli } = await import('../src/verifier/cli.ts');
process.exitCode = await runCli(process.argv.slice(2), { out: (l) => console.log(l), err: (l) => console.error(l) });
