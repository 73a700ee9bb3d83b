/**
 * The layering rules (ARCHITECTURE.md), checked by `npm test` (test/architecture.test.ts):
 *   runtime/ + src/issuer.ts + CLIs  →  http/  →  issuance/  →  protocol/ did/ crypto/ store/ idv/ verifier/  →  ports/, config, paths
 * Each layer imports only from the layers below it; nothing imports in a cycle.
 */
const LOWER = '^src/(ports|crypto|did|protocol|store|idv|verifier|config)/|^src/(config|paths|readCapped)\\.ts$';
const ENTRY_POINTS = '^src/(verifier|wallet)/cli\\.ts$|^src/wallet/demo\\.ts$';

module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', comment: 'Import cycles hide the layering.', from: {}, to: { circular: true } },
    {
      name: 'lower-layers-stay-below-use-cases',
      severity: 'error',
      comment: 'protocol, did, crypto, store, idv, verifier and the shared ports know nothing of the lifecycle, HTTP or runtimes.',
      from: { path: LOWER, pathNot: ENTRY_POINTS },
      to: { path: '^src/(issuance|http|runtime|wallet)/|^src/issuer\\.ts$' },
    },
    {
      name: 'ports-are-the-floor',
      severity: 'error',
      comment: 'Shared ports (clock, logger, issuer identity), config and paths import only types of crypto and did.',
      from: { path: '^src/(ports|config)/|^src/(config|paths)\\.ts$' },
      to: { path: '^src/(protocol|store|idv|verifier)/' },
    },
    {
      name: 'use-cases-below-http',
      severity: 'error',
      comment: 'The credential lifecycle (src/issuance) runs without HTTP: routes call it, never the reverse.',
      from: { path: '^src/issuance/' },
      to: { path: '^src/(http|runtime|wallet)/|^src/issuer\\.ts$' },
    },
    {
      name: 'use-cases-without-hono',
      severity: 'error',
      from: { path: '^src/(issuance|protocol|did|crypto|store|idv|verifier|ports)/' },
      to: { path: '(^|/)node_modules/hono/|^hono(/|$)' },
    },
    {
      name: 'http-below-runtime',
      severity: 'error',
      from: { path: '^src/http/' },
      to: { path: '^src/(runtime|wallet)/|^src/issuer\\.ts$' },
    },
    {
      name: 'wallet-is-a-client',
      severity: 'error',
      comment: 'The reference wallet speaks to the issuer over HTTP only.',
      from: { path: '^src/wallet/', pathNot: ENTRY_POINTS },
      to: { path: '^src/(issuance|http|store|idv|runtime)/|^src/issuer\\.ts$' },
    },
    {
      name: 'node-modules-only-in-runtime',
      severity: 'error',
      comment: 'node: built-ins only in src/runtime and the CLIs: everything else runs on Workers too.',
      from: { path: '^src/', pathNot: `^src/runtime/|${ENTRY_POINTS}` },
      to: { dependencyTypes: ['core'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
