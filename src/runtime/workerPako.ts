/**
 * What the Workers build bundles for `pako` (wrangler.toml `[alias]`): pako's own inflate and no
 * deflate (8 KiB of the bundle's gzip). The one caller left in the worker is @sd-jwt/sd-jwt-vc's
 * status check of a presented SD-JWT VC (getListFromStatusListJWT inflates the list); the issuer's
 * own Token Status Lists are compressed with CompressionStream (src/protocol/tokenStatusList.ts),
 * and @sd-jwt/jwt-status-list's StatusList.compressStatusList, the only deflate caller, is never
 * called here. test/worker/workerAliases.test.ts checks both halves.
 */
// @ts-expect-error pako ships no type declarations (the issuer itself never imports it).
export { inflate } from 'pako/lib/inflate.js';

/** Not in the Workers build: throws. */
export function deflate(): never {
  throw new Error('pako deflate is not in the Workers build; src/protocol/tokenStatusList.ts compresses with CompressionStream');
}
