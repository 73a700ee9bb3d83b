/**
 * What the Workers build bundles for `zod-validation-error` (wrangler.toml `[alias]`): the two
 * functions @owf/mdoc imports, in a few lines instead of the package's 10 KiB (minified). mdoc
 * installs `createErrorMap()` as zod's global error map and formats a ValidationError's zod issues
 * with `fromError`; here the map leaves zod's own English messages and `fromError` joins the
 * issues with their paths. Node uses the package itself. test/worker/workerAliases.test.ts.
 */

interface Issue {
  path?: readonly PropertyKey[];
  message: string;
}

interface FromErrorOptions {
  prefix?: string;
  prefixSeparator?: string;
  issueSeparator?: string;
}

/** A zod error map that defers to zod's default message for every issue. */
export function createErrorMap(): () => undefined {
  return () => undefined;
}

/** An Error whose message lists the zod issues (`message at "a.b"`), as the package's does. */
export function fromError(error: unknown, options: FromErrorOptions = {}): Error {
  const issues = (error as { issues?: Issue[] } | undefined)?.issues;
  const text = Array.isArray(issues)
    ? issues.map((i) => (i.path?.length ? `${i.message} at "${i.path.map(String).join('.')}"` : i.message)).join(options.issueSeparator ?? '; ')
    : String((error as Error | undefined)?.message ?? error);
  const prefix = options.prefix ?? 'Validation error';
  return new Error(prefix ? `${prefix}${options.prefixSeparator ?? ': '}${text}` : text);
}
