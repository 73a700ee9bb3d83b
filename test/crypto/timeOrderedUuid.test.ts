import { describe, expect, it } from 'vitest';
import { timeOrderedUuid } from '../../src/crypto/random';

describe('timeOrderedUuid (RFC 9562 UUIDv7)', () => {
  it('is a version 7, variant 10 UUID whose first 48 bits are the time in ms', () => {
    const at = Date.UTC(2026, 11, 7, 12, 0, 0, 123);
    const id = timeOrderedUuid(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at);
  });

  it('sorts by creation time and stays unique within one millisecond (74 random bits)', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => timeOrderedUuid(1_700_000_000_000 + Math.floor(i / 100)));
    expect(new Set(ids).size).toBe(ids.length);
    const byMs = ids.map((id) => id.slice(0, 13));
    expect([...byMs].sort()).toEqual(byMs);
  });
});
