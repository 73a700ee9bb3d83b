import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluateDescriptor, evaluateSubmission, parsePresentationSubmission, type PresentationDefinition } from '../../src/protocol/pe/evaluate';
import { FilterError, matchesFilter } from '../../src/protocol/pe/filter';
import { JsonPathError, queryJsonPath } from '../../src/protocol/pe/jsonPath';
import { decodeStatusList, encodeStatusList, getBit, setBit } from '../../src/protocol/statusList';

// Copies of the reference material (test/fixtures/README.md).
const REF = new URL('../fixtures', import.meta.url).pathname;
const example = JSON.parse(readFileSync(`${REF}/kcc-example-credential.decoded.json`, 'utf8')).payload;
const pd1: PresentationDefinition = JSON.parse(readFileSync(`${REF}/kcc-presentation-definition.example-1.json`, 'utf8'));
const pd2: PresentationDefinition = JSON.parse(readFileSync(`${REF}/kcc-presentation-definition.example-2.json`, 'utf8'));

describe('JSONPath subset', () => {
  const doc = { a: { b: [1, 2, { c: 'x' }] }, 'odd key': 5, list: [{ k: 1 }, { k: 2 }] };
  it('selects members, indices, wildcards and descendants', () => {
    expect(queryJsonPath(doc, '$')).toEqual([doc]);
    expect(queryJsonPath(doc, '$.a.b[0]')).toEqual([1]);
    expect(queryJsonPath(doc, '$.a.b[-1].c')).toEqual(['x']);
    expect(queryJsonPath(doc, "$['odd key']")).toEqual([5]);
    expect(queryJsonPath(doc, '$["a"]["b"][1]')).toEqual([2]);
    expect(queryJsonPath(doc, '$.list[*].k')).toEqual([1, 2]);
    expect(queryJsonPath(doc, '$.list.*.k')).toEqual([1, 2]);
    expect(queryJsonPath(doc, '$..k')).toEqual([1, 2]);
    expect(queryJsonPath(doc, '$..c')).toEqual(['x']);
    expect(queryJsonPath(doc, '$.missing.x')).toEqual([]);
    expect(queryJsonPath(doc, '$.a.b[9]')).toEqual([]);
  });
  it('refuses filters, slices and garbage', () => {
    expect(() => queryJsonPath(doc, '$.list[?(@.k==1)]')).toThrow(JsonPathError);
    expect(() => queryJsonPath(doc, '$.list[0:1]')).toThrow(JsonPathError);
    expect(() => queryJsonPath(doc, 'a.b')).toThrow(JsonPathError);
    expect(() => queryJsonPath(doc, '$.a[')).toThrow(JsonPathError);
  });
});

describe('filters (JSON Schema subset)', () => {
  it('evaluates the keywords PE uses', () => {
    expect(matchesFilter('KnownCustomerCredential', { type: 'string', pattern: 'KnownCustomer' })).toBe(true);
    expect(matchesFilter('US', { type: 'string', const: 'US' })).toBe(true);
    expect(matchesFilter('GB', { type: 'string', const: 'US' })).toBe(false);
    expect(matchesFilter(3, { type: 'string' })).toBe(false);
    expect(matchesFilter(3, { type: 'number', minimum: 3, maximum: 4 })).toBe(true);
    expect(matchesFilter(3, { exclusiveMinimum: 3 })).toBe(false);
    expect(matchesFilter('b', { enum: ['a', 'b'] })).toBe(true);
    expect(matchesFilter(['a', 'b'], { type: 'array', contains: { const: 'b' } })).toBe(true);
    expect(matchesFilter('2026-01-01', { type: 'string', format: 'date', formatMinimum: '2025-01-01' })).toBe(true);
    expect(matchesFilter('2024-01-01', { format: 'date', formatMinimum: '2025-01-01' })).toBe(false);
    expect(matchesFilter('x', { not: { const: 'x' } })).toBe(false);
    expect(matchesFilter('x', { anyOf: [{ const: 'y' }, { const: 'x' }] })).toBe(true);
  });
  it('fails closed on keywords it does not implement', () => {
    expect(() => matchesFilter('x', { $ref: '#/a' })).toThrow(FilterError);
    expect(() => matchesFilter('x', { pattern: '(' })).toThrow(FilterError);
  });
});

describe('Presentation Definition evaluation', () => {
  it('evaluates the reference definitions against the example KCC', () => {
    // Example 1 asks for type KnownCustomerCredential and a did:dht issuer; the example has neither.
    const r1 = evaluateDescriptor(pd1.input_descriptors[0], example.vc, { format: 'jwt_vc', alg: 'EdDSA', definitionFormat: pd1.format, payload: example });
    expect(r1.ok).toBe(false);
    expect(r1.reasons.join()).toContain('$.type[*]');
    expect(r1.reasons.join()).toContain('$.issuer');
    // Example 2 with the issuer changed to the example's: every other field matches.
    const pd = structuredClone(pd2);
    pd.input_descriptors[0].constraints!.fields![3].filter = { type: 'string', const: example.iss };
    expect(evaluateDescriptor(pd.input_descriptors[0], example.vc, { format: 'jwt_vc_json', alg: 'EdDSA', definitionFormat: pd.format }).ok).toBe(true);
    // Format: ES256K/EdDSA only.
    expect(evaluateDescriptor(pd.input_descriptors[0], example.vc, { format: 'jwt_vc_json', alg: 'ES256', definitionFormat: pd.format }).ok).toBe(false);
    expect(evaluateDescriptor(pd.input_descriptors[0], example.vc, { format: 'ldp_vc', alg: 'EdDSA', definitionFormat: pd.format }).ok).toBe(false);
  });

  it('evaluates submissions: definition id, unknown descriptors, submission requirements', () => {
    const pd: PresentationDefinition = {
      id: 'pd',
      submission_requirements: [{ rule: 'pick', count: 1, from: 'A' }],
      input_descriptors: [
        { id: 'one', group: ['A'], constraints: { fields: [{ path: ['$.x'], filter: { const: 1 } }] } },
        { id: 'two', group: ['A'], constraints: { fields: [{ path: ['$.x'], filter: { const: 2 } }] } },
      ],
    };
    const locate = () => ({ credential: { x: 2 }, format: 'jwt_vc_json' });
    const sub = (id: string, definition = 'pd') =>
      parsePresentationSubmission({ id: 's', definition_id: definition, descriptor_map: [{ id, format: 'jwt_vc_json', path: '$' }] });
    expect(evaluateSubmission(pd, sub('two'), locate).ok).toBe(true);
    expect(evaluateSubmission(pd, sub('one'), locate).ok).toBe(false);
    expect(evaluateSubmission(pd, sub('three'), locate).reasons.join()).toContain('unknown input descriptor');
    expect(evaluateSubmission(pd, sub('two', 'other'), locate).ok).toBe(false);
    expect(evaluateSubmission({ ...pd, submission_requirements: [{ rule: 'all', from: 'A' }] }, sub('two'), locate).ok).toBe(false);
    expect(() => parsePresentationSubmission('{')).toThrow();
    expect(() => parsePresentationSubmission({ id: 's' })).toThrow();
  });
});

describe('Bitstring Status List encoding', () => {
  it('round-trips through GZIP + multibase base64url with index 0 as the left-most bit', async () => {
    const bits = new Uint8Array(131_072 / 8);
    setBit(bits, 0);
    setBit(bits, 7);
    setBit(bits, 131_071);
    expect(bits[0]).toBe(0b1000_0001);
    const encoded = await encodeStatusList(bits);
    expect(encoded.startsWith('u')).toBe(true);
    expect(encoded.length).toBeLessThan(400); // a sparse 16 KiB list compresses to a few hundred bytes
    const decoded = await decodeStatusList(encoded);
    expect(decoded).toEqual(bits);
    expect(getBit(decoded, 131_071)).toBe(true);
    expect(getBit(decoded, 1)).toBe(false);
  });
  it('decodes the W3C spec example of an empty 131,072-entry list', async () => {
    // Bitstring Status List v1.0 §2.2 example encodedList (all zeros).
    const bits = await decodeStatusList('uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA');
    expect(bits.length).toBe(16_384);
    expect(bits.every((b) => b === 0)).toBe(true);
  });
});
