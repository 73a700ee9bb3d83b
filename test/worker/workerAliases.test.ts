// @ts-expect-error pako ships no type declarations.
import { deflate as pakoDeflate, inflate as pakoInflate } from 'pako';
import * as zod from 'zod';
import { describe, expect, it } from 'vitest';
import * as workerPako from '../../src/runtime/workerPako';
import { createErrorMap, fromError } from '../../src/runtime/workerZodValidationError';
import * as workerZod from '../../src/runtime/workerZod/index';
import { OMITTED_ZOD_MEMBERS } from '../helpers/workerd';

/**
 * The modules the Workers build bundles in place of zod and pako (wrangler.toml `[alias]`):
 * zod's own modules minus the members listed here, pako's own inflate. A zod upgrade that adds or
 * moves a member fails here instead of leaving a dependency with `undefined` in the worker.
 * test/worker/worker.test.ts checks that no bundled module uses what is left out.
 */

/** Module namespaces (`z`, `iso`, `coerce`, …) are rebuilt by the shim, so compared by their members. */
const isNamespace = (v: unknown) => Object.prototype.toString.call(v) === '[object Module]';

describe('the Workers build’s zod', () => {
  it('exports what zod exports, the omitted members aside, as the same values', () => {
    const expected = Object.keys(zod).filter((k) => !OMITTED_ZOD_MEMBERS.includes(k));
    expect(Object.keys(workerZod).sort()).toEqual(expected.sort());
    for (const k of expected) {
      const [mine, theirs] = [(workerZod as Record<string, unknown>)[k], (zod as Record<string, unknown>)[k]];
      if (!isNamespace(theirs)) expect(mine, k).toBe(theirs);
      else if (k !== 'z' && k !== 'default') expect(Object.keys(mine as object), k).toEqual(Object.keys(theirs as object));
    }
    expect(Object.keys(workerZod.z).sort()).toEqual(
      Object.keys(zod.z)
        .filter((k) => !OMITTED_ZOD_MEMBERS.includes(k))
        .sort(),
    );
    expect(workerZod.default).toBe(workerZod.z);
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

describe('the Workers build’s pako', () => {
  it('inflates as pako does, and has no deflate', () => {
    const data = new TextEncoder().encode('status list '.repeat(500));
    const compressed = pakoDeflate(data, { level: 9 });
    expect(compressed.length).toBeLessThan(data.length / 10);
    expect(workerPako.inflate(compressed)).toEqual(pakoInflate(compressed));
    expect(workerPako.inflate(compressed)).toEqual(data);
    expect(() => workerPako.deflate()).toThrow(/not in the Workers build/);
  });
});

describe('the Workers build’s zod-validation-error', () => {
  it("leaves zod's messages and lists the issues with their paths, as @owf/mdoc formats them", () => {
    const schema = zod.z.object({ doc: zod.z.object({ n: zod.z.number() }), s: zod.z.string() });
    const failed = schema.safeParse({ doc: { n: 'x' }, s: 1 }, { error: createErrorMap() });
    expect(failed.success).toBe(false);
    const message = fromError(failed.error, { prefix: '', prefixSeparator: '✖ ', issueSeparator: '\n✖ ' }).message;
    expect(message).toBe(failed.error?.issues.map((i) => `${i.message} at "${i.path.join('.')}"`).join('\n✖ '));
    expect(message).toContain('at "doc.n"');
    expect(message).toContain('at "s"');
    expect(fromError(new Error('plain')).message).toBe('Validation error: plain');
  });
});
