import * as zod from 'zod';
import { describe, expect, it } from 'vitest';
import * as workerZod from '../../src/runtime/workerZod/index';

/**
 * The zod the Workers build bundles (wrangler.toml `[alias]`, src/runtime/workerZod/): zod's own
 * modules minus the members listed here, so a zod upgrade that adds or moves a member fails here
 * instead of leaving a dependency with `undefined` in the worker.
 */
const OMITTED_ZOD_MEMBERS = ['locales', 'compile', 'withParser', 'ZodCompileAsyncError', 'ZodCompileUnsupportedError', 'fromJSONSchema'];
/** Module namespaces (`z`, `core`, `iso`, …) are rebuilt by the shim, so compared by their members. */
const isNamespace = (v: unknown) => Object.prototype.toString.call(v) === '[object Module]';
const OMITTED_CORE_MEMBERS = ['locales', 'compile', 'compileFn', 'withParser', 'ZodCompileAsyncError', 'ZodCompileUnsupportedError'];

describe('the Workers build’s zod', () => {
  it('exports what zod exports, the omitted members aside, as the same values', () => {
    const expected = Object.keys(zod).filter((k) => !OMITTED_ZOD_MEMBERS.includes(k));
    expect(Object.keys(workerZod).sort()).toEqual(expected.sort());
    for (const k of expected) {
      const [mine, theirs] = [(workerZod as Record<string, unknown>)[k], (zod as Record<string, unknown>)[k]];
      if (isNamespace(theirs)) expect(isNamespace(mine), k).toBe(true);
      else expect(mine, k).toBe(theirs);
    }
    expect(Object.keys(workerZod.z).sort()).toEqual(
      Object.keys(zod.z)
        .filter((k) => !OMITTED_ZOD_MEMBERS.includes(k))
        .sort(),
    );
    expect(workerZod.default).toBe(workerZod.z);
  });

  it('exports z.core as zod does, the omitted members aside', () => {
    const expected = Object.keys(zod.z.core).filter((k) => !OMITTED_CORE_MEMBERS.includes(k));
    expect(Object.keys(workerZod.z.core).sort()).toEqual(expected.sort());
    for (const k of expected) {
      const [mine, theirs] = [(workerZod.z.core as Record<string, unknown>)[k], (zod.z.core as Record<string, unknown>)[k]];
      if (isNamespace(theirs)) expect(Object.keys(mine as object), k).toEqual(Object.keys(theirs as object));
      else expect(mine, k).toBe(theirs);
    }
  });

  it('parses and reports in English as zod does', () => {
    const schema = workerZod.z.object({ n: workerZod.z.number().int() });
    expect(schema.parse({ n: 3 })).toEqual({ n: 3 });
    const failed = schema.safeParse({ n: 'x' });
    expect(failed.success).toBe(false);
    expect(failed.error?.issues[0]?.message).toBe(zod.z.object({ n: zod.z.number().int() }).safeParse({ n: 'x' }).error?.issues[0]?.message);
    expect(failed.error?.issues[0]?.message).toMatch(/^Invalid input: expected number/);
  });
});
