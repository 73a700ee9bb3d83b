import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeJwt, JwtError } from '../../src/crypto/jwt';

/** RFC 7515 §5.2 / RFC 8725 §3.6: a JWT whose header or payload repeats a member name is refused. */
const jws = (header: string, payload: string) => `${Buffer.from(header).toString('base64url')}.${Buffer.from(payload).toString('base64url')}.c2ln`;
const refused = (payload: string) => {
  try {
    decodeJwt(jws('{"alg":"EdDSA"}', payload));
    return false;
  } catch (e) {
    if (e instanceof JwtError) return true;
    throw e;
  }
};

describe('duplicate member names in a JWT', () => {
  it('are found in every position, including keys that differ only in escaping', () => {
    expect(refused('{"a":1,"a":2}')).toBe(true);
    expect(refused('{"a":1,"\\u0061":2}')).toBe(true); // the same name, escaped
    expect(refused('{"x":{"k":1,"k":2}}')).toBe(true); // nested
    expect(refused('{"x":[{"k":1},{"k":2,"k":3}]}')).toBe(true); // inside an array
    expect(refused('{"a\\"b":1,"a\\"b":2}')).toBe(true); // an escaped quote in the name
    expect(refused('{"a\\\\":1,"a\\\\":2}')).toBe(true); // a name ending in a backslash
  });

  it('are not invented from values, arrays or escapes', () => {
    expect(refused('{"a":"a","b":"a"}')).toBe(false);
    expect(refused('{"a":{"a":1},"b":{"a":1}}')).toBe(false); // the same name in sibling objects
    expect(refused('{"a":["a","a"],"b":1}')).toBe(false);
    expect(refused('{"a":"x\\"a\\":1,\\"a","b":"\\\\","c":"\\\\\\""}')).toBe(false); // quotes and backslashes inside values
    expect(refused('{"a\\\\":1,"a":2}')).toBe(false); // `a\` and `a` differ
  });

  it('match the member lists random objects were written from', () => {
    const key = fc.constantFrom('a', 'b', 'a"', 'a\\', '\\"', '\u00e9', 'k');
    // Objects (one level of nesting) as lists of members, serialized by hand so that names may repeat.
    const members = fc.array(fc.tuple(key, fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.array(fc.tuple(key, fc.integer()), { maxLength: 3 }))), {
      maxLength: 5,
    });
    fc.assert(
      fc.property(members, (list) => {
        const text = `{${list.map(([k, v]) => `${JSON.stringify(k)}:${Array.isArray(v) ? `{${v.map(([k2, v2]) => `${JSON.stringify(k2)}:${v2}`).join(',')}}` : JSON.stringify(v)}`).join(',')}}`;
        const duplicated =
          new Set(list.map(([k]) => k)).size < list.length || list.some(([, v]) => Array.isArray(v) && new Set(v.map(([k2]) => k2)).size < v.length);
        expect(refused(text)).toBe(duplicated);
      }),
      { numRuns: 500 },
    );
  });
});
