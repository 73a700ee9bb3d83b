/**
 * What the Workers build bundles for `import … from 'zod'` (wrangler.toml `[alias]`): zod's own
 * modules, minus members nothing in the worker uses. zod's entry exports its whole namespace as a
 * value (`z`, also the default export), and every `import { z } from 'zod'` (ours, @owf/mdoc's,
 * @sd-jwt/sd-jwt-vc's) makes esbuild keep that object with every member it has, used or not:
 *  - `locales`: ~50 translations of every error message, 267 KB of a 1.6 MB bundle (the English
 *    messages zod configures by default stay);
 *  - `compile`/`withParser`/`ZodCompile*` (zod's schema compiler) and `fromJSONSchema`: 45 KB;
 *  - `core` (zod/v4/core as a namespace object: every member of it, used or not).
 * test/worker/workerAliases.test.ts checks that this module exports exactly what zod exports minus
 * these, and test/worker/worker.test.ts that no other bundled module names an omitted one.
 */
import * as z from './external';

export * from './external';
export { z, z as default };
