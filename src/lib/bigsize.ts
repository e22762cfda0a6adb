/**
 * BigSize (BOLT 1): 1, 3, 5 or 9 bytes, big-endian, minimally encoded. Decoding a
 * non-minimal encoding is refused, as BOLT 1 requires.
 */
export class BigSizeError extends Error {}

export function encodeBigSize(value: bigint): Uint8Array {
  if (value < 0n || value > 0xffffffffffffffffn) throw new RangeError(`BigSize out of range: ${value}`);
  if (value < 0xfdn) return Uint8Array.of(Number(value));
  if (value <= 0xffffn) return Uint8Array.of(0xfd, Number(value >> 8n), Number(value & 0xffn));
  if (value <= 0xffffffffn) {
    const b = new Uint8Array(5);
    b[0] = 0xfe;
    new DataView(b.buffer).setUint32(1, Number(value));
    return b;
  }
  const b = new Uint8Array(9);
  b[0] = 0xff;
  new DataView(b.buffer).setBigUint64(1, value);
  return b;
}

/** Decode a BigSize at `offset`: [value, bytes read]. Throws BigSizeError when truncated or not minimal. */
export function decodeBigSize(bytes: Uint8Array, offset = 0): [bigint, number] {
  if (offset >= bytes.length) throw new BigSizeError('BigSize truncated');
  const first = bytes[offset]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (first < 0xfd) return [BigInt(first), 1];
  if (first === 0xfd) {
    if (offset + 3 > bytes.length) throw new BigSizeError('BigSize truncated');
    const v = view.getUint16(offset + 1);
    if (v < 0xfd) throw new BigSizeError('BigSize not minimally encoded');
    return [BigInt(v), 3];
  }
  if (first === 0xfe) {
    if (offset + 5 > bytes.length) throw new BigSizeError('BigSize truncated');
    const v = view.getUint32(offset + 1);
    if (v <= 0xffff) throw new BigSizeError('BigSize not minimally encoded');
    return [BigInt(v), 5];
  }
  if (offset + 9 > bytes.length) throw new BigSizeError('BigSize truncated');
  const v = view.getBigUint64(offset + 1);
  if (v <= 0xffffffffn) throw new BigSizeError('BigSize not minimally encoded');
  return [v, 9];
}
