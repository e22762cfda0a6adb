/**
 * src/lib/lru.ts: the caches' map. What an exact least-recently-used map of the same capacity
 * (written out here, one ordered list) would still hold, the Lru holds too, with the same
 * value — whatever the sequence of reads and writes — and it never holds more than twice its
 * capacity. keyOf: one character per byte, parts concatenated.
 */
import { describe, expect, it } from 'vitest';
import { Lru, keyOf } from '../../src/lib/lru.ts';

/** The reference: an exact LRU, most recently used last. */
class ExactLru {
  private readonly order: [string, number][] = [];
  constructor(private readonly capacity: number) {}
  get(key: string): number | undefined {
    const at = this.order.findIndex(([k]) => k === key);
    if (at < 0) return undefined;
    const [entry] = this.order.splice(at, 1);
    this.order.push(entry!);
    return entry![1];
  }
  set(key: string, value: number): void {
    const at = this.order.findIndex(([k]) => k === key);
    if (at >= 0) this.order.splice(at, 1);
    this.order.push([key, value]);
    if (this.order.length > this.capacity) this.order.shift();
  }
}

/** A small deterministic generator (xorshift32): the sequences repeat run after run. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('Lru', () => {
  it('holds whatever an exact LRU of its capacity holds, with the same value, in at most twice the entries', () => {
    let largest = 0;
    for (const capacity of [1, 2, 3, 8, 64]) {
      for (let seed = 1; seed <= 40; seed++) {
        const next = random(seed * 7919 + capacity);
        const lru = new Lru<number>(capacity);
        const exact = new ExactLru(capacity);
        const keys = Math.max(2, Math.floor(capacity * (0.5 + 3 * next())));
        for (let step = 0; step < 2000; step++) {
          const key = `k${Math.floor(next() * keys)}`;
          if (next() < 0.6) {
            const want = exact.get(key);
            const got = lru.get(key);
            if (want !== undefined && got !== want) expect({ capacity, seed, step, key, got }).toEqual({ capacity, seed, step, key, got: want });
            // Held longer than the exact LRU would: the reference takes it back (the same value).
            if (got !== undefined && want === undefined) exact.set(key, got);
            if (got === undefined && want === undefined) {
              const value = step;
              lru.set(key, value);
              exact.set(key, value);
            }
          } else {
            const value = step;
            lru.set(key, value);
            exact.set(key, value);
          }
          largest = Math.max(largest, lru.size / capacity);
        }
      }
    }
    expect(largest).toBeLessThanOrEqual(2);
  });

  it('keeps a working set of its capacity, used round-robin, entirely (a mint cycling through its contracts)', () => {
    const lru = new Lru<number>(250);
    for (let i = 0; i < 250; i++) lru.set(`c${i}`, i);
    for (let round = 0; round < 5; round++) for (let i = 0; i < 250; i++) expect(lru.get(`c${i}`)).toBe(i);
  });

  it('forgets the least recently used beyond its bound', () => {
    const lru = new Lru<number>(4);
    for (let i = 0; i < 100; i++) lru.set(`k${i}`, i);
    expect(lru.get('k0')).toBeUndefined();
    expect(lru.get('k99')).toBe(99);
    expect(lru.size).toBeLessThanOrEqual(8);
  });
});

describe('keyOf', () => {
  it('is one latin1 character per byte, the parts concatenated', () => {
    const a = Uint8Array.of(0, 1, 0x7f, 0x80, 0xff);
    const b = new Uint8Array(8).fill(0xab).subarray(2, 5);
    expect(keyOf([a, b])).toBe('\u0000\u0001\u007f\u0080\u00ff\u00ab\u00ab\u00ab');
    expect(keyOf([])).toBe('');
  });
});
