/**
 * The JSON Schema subset Presentation Exchange filters use (PE 2.0 §"Input Descriptor Object",
 * `filter` is a JSON Schema descriptor): type, const, enum, pattern, minLength, maxLength,
 * minimum, maximum, exclusiveMinimum, exclusiveMaximum, format (date, date-time), contains,
 * items, minItems, maxItems, not, allOf, anyOf, oneOf. An unknown keyword is refused (fail
 * closed) rather than ignored, so a filter never matches more than its author meant.
 * No code generation (runs on Workers, where `new Function` is not allowed).
 */
export class FilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterError';
  }
}

type Schema = Record<string, unknown>;

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', '$comment', 'examples', 'default']);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(v: unknown, t: string): boolean {
  const actual = typeOf(v);
  return actual === t || (t === 'number' && actual === 'integer');
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => deepEqual(x, (b as unknown[])[i]));
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Schema)[k], (b as Schema)[k]));
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;
const patternCache = new Map<string, RegExp>();

function regex(pattern: string): RegExp {
  let re = patternCache.get(pattern);
  if (!re) {
    try {
      // JSON Schema patterns are ECMA-262 regexes, unanchored; `u` as JSON Schema 2020-12 asks.
      re = new RegExp(pattern, 'u');
    } catch {
      throw new FilterError(`filter pattern ${JSON.stringify(pattern)} is not a valid regular expression`);
    }
    if (patternCache.size > 500) patternCache.clear();
    patternCache.set(pattern, re);
  }
  return re;
}

/** True when `value` satisfies the filter. Throws FilterError on a keyword outside the subset. */
export function matchesFilter(value: unknown, schema: unknown): boolean {
  if (schema === true || schema === undefined) return true;
  if (schema === false) return false;
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) throw new FilterError('filter must be a JSON Schema object');
  const s = schema as Schema;
  for (const [keyword, arg] of Object.entries(s)) {
    if (ANNOTATIONS.has(keyword)) continue;
    switch (keyword) {
      case 'type': {
        const types = Array.isArray(arg) ? arg : [arg];
        if (!types.some((t) => typeof t === 'string' && typeMatches(value, t))) return false;
        break;
      }
      case 'const':
        if (!deepEqual(value, arg)) return false;
        break;
      case 'enum':
        if (!Array.isArray(arg) || !arg.some((e) => deepEqual(value, e))) return false;
        break;
      case 'pattern':
        if (typeof value === 'string' && !regex(String(arg)).test(value)) return false;
        break;
      case 'minLength':
        if (typeof value === 'string' && [...value].length < Number(arg)) return false;
        break;
      case 'maxLength':
        if (typeof value === 'string' && [...value].length > Number(arg)) return false;
        break;
      case 'minimum':
        if (typeof value === 'number' && value < Number(arg)) return false;
        break;
      case 'maximum':
        if (typeof value === 'number' && value > Number(arg)) return false;
        break;
      case 'exclusiveMinimum':
        if (typeof value === 'number' && value <= Number(arg)) return false;
        break;
      case 'exclusiveMaximum':
        if (typeof value === 'number' && value >= Number(arg)) return false;
        break;
      case 'format':
        if (typeof value === 'string') {
          if (arg === 'date' && !(DATE.test(value) && !Number.isNaN(Date.parse(value)))) return false;
          if (arg === 'date-time' && !(DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)))) return false;
          // Other formats are annotations (JSON Schema 2020-12 default).
        }
        break;
      case 'formatMinimum':
      case 'formatMaximum':
      case 'formatExclusiveMinimum':
      case 'formatExclusiveMaximum': {
        // PE 2.0 examples compare dates with these (ajv-formats keywords).
        if (typeof value !== 'string' || typeof arg !== 'string') return false;
        const a = Date.parse(value);
        const b = Date.parse(arg);
        if (Number.isNaN(a) || Number.isNaN(b)) return false;
        if (keyword === 'formatMinimum' && !(a >= b)) return false;
        if (keyword === 'formatMaximum' && !(a <= b)) return false;
        if (keyword === 'formatExclusiveMinimum' && !(a > b)) return false;
        if (keyword === 'formatExclusiveMaximum' && !(a < b)) return false;
        break;
      }
      case 'contains':
        if (Array.isArray(value) && !value.some((v) => matchesFilter(v, arg))) return false;
        break;
      case 'items':
        if (Array.isArray(value) && !value.every((v) => matchesFilter(v, arg))) return false;
        break;
      case 'minItems':
        if (Array.isArray(value) && value.length < Number(arg)) return false;
        break;
      case 'maxItems':
        if (Array.isArray(value) && value.length > Number(arg)) return false;
        break;
      case 'not':
        if (matchesFilter(value, arg)) return false;
        break;
      case 'allOf':
        if (!Array.isArray(arg) || !arg.every((sub) => matchesFilter(value, sub))) return false;
        break;
      case 'anyOf':
        if (!Array.isArray(arg) || !arg.some((sub) => matchesFilter(value, sub))) return false;
        break;
      case 'oneOf':
        if (!Array.isArray(arg) || arg.filter((sub) => matchesFilter(value, sub)).length !== 1) return false;
        break;
      default:
        throw new FilterError(`filter keyword ${keyword} is not supported`);
    }
  }
  return true;
}
