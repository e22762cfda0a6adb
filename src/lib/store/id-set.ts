/**
 * A set of nonce ids (32 hex digits, 16 bytes: store/nonce-journal.ts ID_RE) that only grows:
 * what a nonce ledger must remember for as long as its process lives. Kept as the ids' bytes in
 * one open-addressed table (four 32-bit words a slot, half full at most: 32 bytes an id, against
 * ~60 for a Set of strings), exact — no fingerprint, so never a false "seen" for an honest id.
 */
export class IdSet {
  private words = new Uint32Array(4 * 64);
  private used = new Uint8Array(64);
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(id: string): void {
    const w = IdSet.parse(id);
    if (this.find(w) >= 0) return;
    if (2 * (this.count + 1) > this.used.length) this.grow();
    this.insert(w);
    this.count++;
  }

  has(id: string): boolean {
    return this.find(IdSet.parse(id)) >= 0;
  }

  private static parse(id: string): [number, number, number, number] {
    if (!/^[0-9a-f]{32}$/.test(id)) throw new Error('IdSet: an id is 32 lowercase hex digits');
    return [parseInt(id.slice(0, 8), 16), parseInt(id.slice(8, 16), 16), parseInt(id.slice(16, 24), 16), parseInt(id.slice(24), 16)];
  }

  private slot(w: readonly number[]): number {
    const mask = this.used.length - 1;
    return Math.imul(w[0]! ^ w[1]! ^ w[2]! ^ w[3]!, 0x9e3779b1) >>> 0 & mask;
  }

  /** The slot holding `w`, or -1. */
  private find(w: readonly number[]): number {
    const mask = this.used.length - 1;
    for (let i = this.slot(w); this.used[i]; i = (i + 1) & mask) {
      const o = 4 * i;
      if (this.words[o] === w[0] && this.words[o + 1] === w[1] && this.words[o + 2] === w[2] && this.words[o + 3] === w[3]) return i;
    }
    return -1;
  }

  private insert(w: readonly number[]): void {
    const mask = this.used.length - 1;
    let i = this.slot(w);
    while (this.used[i]) i = (i + 1) & mask;
    this.used[i] = 1;
    this.words.set(w, 4 * i);
  }

  private grow(): void {
    const { words, used } = this;
    this.words = new Uint32Array(words.length * 2);
    this.used = new Uint8Array(used.length * 2);
    for (let i = 0; i < used.length; i++) if (used[i]) this.insert(Array.from(words.subarray(4 * i, 4 * i + 4)));
  }
}
