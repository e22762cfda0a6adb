/**
 * Byte-level mutations for fuzzing decoders (fast-check): flip a bit, truncate, insert,
 * delete, set a byte (length prefixes and compact sizes are the interesting values),
 * and optionally append. Each test chooses the byte values it cares about.
 */
import fc from 'fast-check';

export type ByteMutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'set'; at: number; value: number };

export function byteMutation(opts: { setValues: readonly number[]; append?: boolean }): fc.Arbitrary<ByteMutation> {
  const kinds: fc.Arbitrary<ByteMutation>[] = [
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  ];
  if (opts.append) kinds.push(fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }));
  kinds.push(
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.constantFrom(...opts.setValues) }),
  );
  return fc.oneof(...kinds);
}

export function applyMutations(seed: Uint8Array, mutations: readonly ByteMutation[]): Uint8Array {
  let b = seed.slice();
  for (const m of mutations) {
    const at = 'at' in m ? m.at % (b.length + 1) : 0;
    if (m.kind === 'flip' && at < b.length) b[at]! ^= 1 << m.bit;
    else if (m.kind === 'truncate') b = b.slice(0, at);
    else if (m.kind === 'append') b = new Uint8Array([...b, ...m.bytes]);
    else if (m.kind === 'insert') b = new Uint8Array([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]);
    else if (m.kind === 'delete') b = new Uint8Array([...b.subarray(0, at), ...b.subarray(at + m.count)]);
    else if (m.kind === 'set' && at < b.length) b[at] = m.value;
  }
  return b;
}
