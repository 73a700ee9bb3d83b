import { processEnv } from '../../config';
import { runKeysCli } from '../keysCli';

// The production build's `keys` entry (dist/keys.js): `node dist/keys.js rotate` and so on.
runKeysCli(process.argv.slice(2), processEnv(), { out: (l) => console.log(l), err: (l) => console.error(l) })
  .then((code) => process.exit(code))
  .catch((e) => {
    console.error(String(e?.message ?? e));
    process.exit(1);
  });
