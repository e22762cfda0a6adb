/** A small least-recently-used map, for caches of public values (never secrets). */
export class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly capacity: number) {}

  get(key: string): V | undefined {
    const hit = this.map.get(key);
    if (hit !== undefined) {
      this.map.delete(key);
      this.map.set(key, hit);
    }
    return hit;
  }

  set(key: string, value: V): V {
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
    return value;
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
  for (const p of parts) s += Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('latin1');
  return s;
}
