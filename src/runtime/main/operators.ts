import { processEnv } from '../../config';
import { runOperatorsCli } from '../operatorsCli';

// The production build's `operators` entry (dist/operators.js).
runOperatorsCli(process.argv.slice(2), processEnv(), { out: (l) => console.log(l), err: (l) => console.error(l) })
  .then((code) => process.exit(code))
  .catch((e) => {
    console.error(String(e?.message ?? e));
    process.exit(1);
  });
