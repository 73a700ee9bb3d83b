/**
 * The JSONPath subset DIF Presentation Exchange 2.0 uses in `constraints.fields[*].path` and
 * `descriptor_map[*].path` (PE 2.0 §"JSONPath Syntax Definition"; RFC 9535 semantics for
 * these selectors): root `$`, member names (`.name`, `['name']`, `["name"]`), array indices
 * (`[0]`, `[-1]`), wildcards (`.*`, `[*]`) and recursive descent (`..name`).
 * Filter expressions (`[?(...)]`) and slices are refused: a PD that needs them gets a clear error.
 */
export class JsonPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonPathError';
  }
}

type Segment =
  | { kind: 'name'; name: string; descendant: boolean }
  | { kind: 'index'; index: number; descendant: boolean }
  | { kind: 'wildcard'; descendant: boolean };

const MAX_PATH_LENGTH = 512;
const cache = new Map<string, Segment[]>();

export function parseJsonPath(path: string): Segment[] {
  const hit = cache.get(path);
  if (hit) return hit;
  if (typeof path !== 'string' || path.length > MAX_PATH_LENGTH || path[0] !== '$') throw new JsonPathError(`unsupported JSONPath ${JSON.stringify(path)}`);
  const segments: Segment[] = [];
  let i = 1;
  while (i < path.length) {
    let descendant = false;
    if (path.startsWith('..', i)) {
      descendant = true;
      i += 2;
      if (path[i] !== '[') {
        const m = /^(\*|[A-Za-z_$@][\w$@-]*)/.exec(path.slice(i));
        if (!m) throw new JsonPathError(`bad JSONPath after '..' in ${path}`);
        segments.push(m[1] === '*' ? { kind: 'wildcard', descendant } : { kind: 'name', name: m[1], descendant });
        i += m[1].length;
        continue;
      }
    } else if (path[i] === '.') {
      const m = /^(\*|[A-Za-z_$@][\w$@-]*)/.exec(path.slice(i + 1));
      if (!m) throw new JsonPathError(`bad JSONPath member in ${path}`);
      segments.push(m[1] === '*' ? { kind: 'wildcard', descendant } : { kind: 'name', name: m[1], descendant });
      i += 1 + m[1].length;
      continue;
    }
    if (path[i] !== '[') throw new JsonPathError(`bad JSONPath ${path}`);
    const close = findBracketEnd(path, i);
    const inner = path.slice(i + 1, close).trim();
    i = close + 1;
    if (inner === '*') segments.push({ kind: 'wildcard', descendant });
    else if (/^-?\d+$/.test(inner)) segments.push({ kind: 'index', index: Number(inner), descendant });
    else if (/^'(?:[^'\\]|\\.)*'$/.test(inner) || /^"(?:[^"\\]|\\.)*"$/.test(inner)) {
      const body = inner.slice(1, -1).replace(/\\(.)/g, '$1');
      segments.push({ kind: 'name', name: body, descendant });
    } else throw new JsonPathError(`unsupported JSONPath selector [${inner}] (filters and slices are not supported)`);
  }
  if (cache.size > 1000) cache.clear();
  cache.set(path, segments);
  return segments;
}

function findBracketEnd(path: string, open: number): number {
  let quote: string | null = null;
  for (let j = open + 1; j < path.length; j++) {
    const ch = path[j];
    if (quote) {
      if (ch === '\\') j++;
      else if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === ']') return j;
  }
  throw new JsonPathError(`unclosed [ in JSONPath ${path}`);
}

function children(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (value && typeof value === 'object') return Object.values(value);
  return [];
}

function descendantsAndSelf(value: unknown, out: unknown[] = []): unknown[] {
  out.push(value);
  for (const child of children(value)) descendantsAndSelf(child, out);
  return out;
}

function select(value: unknown, s: Segment): unknown[] {
  if (s.kind === 'wildcard') return children(value);
  if (s.kind === 'index') {
    if (!Array.isArray(value)) return [];
    const i = s.index < 0 ? value.length + s.index : s.index;
    return i >= 0 && i < value.length ? [value[i]] : [];
  }
  if (value && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, s.name)) {
    return [(value as Record<string, unknown>)[s.name]];
  }
  return [];
}

/** Every value the path selects in `document` (an empty array when it selects nothing). */
export function queryJsonPath(document: unknown, path: string): unknown[] {
  let nodes: unknown[] = [document];
  for (const s of parseJsonPath(path)) {
    const next: unknown[] = [];
    for (const node of nodes) {
      const bases = s.descendant ? descendantsAndSelf(node) : [node];
      for (const base of bases) next.push(...select(base, s));
    }
    nodes = next;
    if (nodes.length === 0) break;
  }
  return nodes;
}
