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

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A cache key for a list of byte strings of fixed lengths. */
export function keyOf(parts: readonly Uint8Array[]): string {
  let s = '';
  for (const p of parts) for (let i = 0; i < p.length; i++) s += HEX[p[i]!];
  return s;
}
