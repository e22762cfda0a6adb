/**
 * A bounded map for caches of public values (never secrets), least recently used out, in two
 * generations of up to `capacity` entries: a hit in the young one is one Map.get (an exact
 * LRU's delete-and-set on every hit cost ~1 µs, a dozen times per mint update); a hit in the
 * old one moves it to the young; when the young is full it becomes the old, and the old goes.
 * What an exact LRU of `capacity` would still hold, this holds too — a value used again within
 * `capacity` insertions is there (test/lib/lru.test.ts) — in at most twice the entries.
 */
import { latin1Of } from './bytes.ts';

export class Lru<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  constructor(private readonly capacity: number) {}

  get(key: string): V | undefined {
    const hit = this.young.get(key);
    if (hit !== undefined) return hit;
    const aged = this.old.get(key);
    if (aged !== undefined) this.set(key, aged);
    return aged;
  }

  set(key: string, value: V): V {
    if (this.young.size >= this.capacity && !this.young.has(key)) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
    return value;
  }

  /** Entries held (tests: the bound). */
  get size(): number {
    return this.young.size + this.old.size;
  }
}

/**
 * A cache key for a list of byte strings of fixed lengths: one latin1 character per byte,
 * decoded natively into a flat string (a hex string built two characters at a time is a
 * rope that Map.get flattens and hashes again: ~7 µs per 132-byte key against ~1.5 µs).
 * A key, not a name: never print it (toHex for messages).
 */
export function keyOf(parts: readonly Uint8Array[]): string {
  let s = '';
  for (const p of parts) s += latin1Of(p);
  return s;
}
