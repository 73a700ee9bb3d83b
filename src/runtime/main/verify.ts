import { runCli } from '../../verifier/cli';

// The production build's verifier entry (dist/verify.js): `node dist/verify.js verify <jwt>`.
runCli(process.argv.slice(2), { out: (l) => console.log(l), err: (l) => console.error(l) }).then(
  (code) => process.exit(code),
  (e) => {
    console.error(`error: ${(e as Error).message}`);
    process.exit(2);
  },
);
