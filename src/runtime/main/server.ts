import { main, reportStartupFailure } from '../node';

// The production build's server entry (dist/server.js): starts unconditionally, so bundles that
// share src/runtime/node.ts with the CLIs never start each other.
main().catch((e) => {
  reportStartupFailure(e);
  process.exit(1);
});
