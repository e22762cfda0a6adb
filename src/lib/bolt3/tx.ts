/**
 * The transactions BOLT 3 builds, as plain values, and their network serialization
 * (BIP-144 when any input carries a witness), txid and weight. Lean on purpose: a
 * commitment with 20 HTLCs means 21 transactions to build and sign, many times a
 * second, so no PSBT or script-interpreting object is created on this path. PSBT
 * output for the CLI is made from these values at the edge.
 *
 * Serialization is sized exactly first, then written once into one buffer by the `put*`
 * functions below (./sighash.ts writes BIP-143 preimages with the same ones); the txid's
 * bytes go into a reused scratch buffer, hashed and never kept (public data only).
 */
import { hash256 } from '../hash.ts';
import { fromHex, scratchBuffer, toHex } from '../bytes.ts';
import { compactSizeLength } from '../tx/policy.ts';

export type OutPoint = { txid: string; vout: number };
export type TxInput = OutPoint & { sequence: number; scriptSig?: Uint8Array; witness?: Uint8Array[] };
export type TxOutput = { amount: bigint; script: Uint8Array };
export type Tx = { version: number; lockTime: number; inputs: TxInput[]; outputs: TxOutput[] };

/** Each put* writes at `at` and returns the offset after what it wrote. */
export function putU32(b: Uint8Array, at: number, n: number): number {
  b[at] = n & 0xff;
  b[at + 1] = (n >>> 8) & 0xff;
  b[at + 2] = (n >>> 16) & 0xff;
  b[at + 3] = (n >>> 24) & 0xff;
  return at + 4;
}

export function putU64(b: Uint8Array, at: number, n: bigint): number {
  // Amounts fit a double exactly (below 2^53): one conversion instead of two bigint operations and two.
  const x = Number(n);
  if (x >= 0 && x <= Number.MAX_SAFE_INTEGER) {
    putU32(b, at, x % 0x1_0000_0000);
    return putU32(b, at + 4, Math.floor(x / 0x1_0000_0000));
  }
  putU32(b, at, Number(n & 0xffffffffn));
  return putU32(b, at + 4, Number((n >> 32n) & 0xffffffffn));
}

export function putCompactSize(b: Uint8Array, at: number, n: number): number {
  if (n < 0xfd) {
    b[at] = n;
    return at + 1;
  }
  if (n <= 0xffff) {
    b[at] = 0xfd;
    b[at + 1] = n & 0xff;
    b[at + 2] = n >>> 8;
    return at + 3;
  }
  b[at] = 0xfe;
  return putU32(b, at + 1, n);
}

export function putBytes(b: Uint8Array, at: number, bytes: Uint8Array): number {
  b.set(bytes, at);
  return at + bytes.length;
}

/** Length-prefixed bytes (a script, a witness item). */
export function putVarBytes(b: Uint8Array, at: number, bytes: Uint8Array): number {
  return putBytes(b, putCompactSize(b, at, bytes.length), bytes);
}

/** The 32 txid bytes as serialized (little-endian, the reverse of the displayed hex). */
export function txidBytes(txid: string): Uint8Array {
  return fromHex(txid, 'txid', 32).reverse();
}

/**
 * The last two txids decoded (public values): a commitment spends the funding txid and its 20
 * HTLC transactions the commitment's, and a commitment_signed hashes both in turn — with one
 * kept, each commitment decoded both hex strings again.
 */
let lastTxid: { txid: string; bytes: Uint8Array } = { txid: '', bytes: new Uint8Array(32) };
let txidBefore = lastTxid;
function decodedTxid(txid: string): Uint8Array {
  if (lastTxid.txid !== txid) {
    [lastTxid, txidBefore] = txidBefore.txid === txid ? [txidBefore, lastTxid] : [{ txid, bytes: txidBytes(txid) }, lastTxid];
  }
  return lastTxid.bytes;
}

/** The 36-byte outpoint: txid (little-endian) then vout. */
export function putOutpoint(b: Uint8Array, at: number, input: OutPoint): number {
  b.set(decodedTxid(input.txid), at);
  return putU32(b, at + 32, input.vout);
}

/** One output as serialized: amount (8 bytes LE) then the length-prefixed script. */
export function putOutput(b: Uint8Array, at: number, output: TxOutput): number {
  return putVarBytes(b, putU64(b, at, output.amount), output.script);
}

export function outputLength(output: TxOutput): number {
  return 8 + compactSizeLength(output.script.length) + output.script.length;
}

function hasWitness(tx: Tx): boolean {
  return tx.inputs.some((i) => i.witness !== undefined && i.witness.length > 0);
}

function serializedLength(tx: Tx, segwit: boolean): number {
  let n = 4 + (segwit ? 2 : 0) + compactSizeLength(tx.inputs.length) + compactSizeLength(tx.outputs.length) + 4;
  for (const i of tx.inputs) {
    const sig = i.scriptSig?.length ?? 0;
    n += 36 + compactSizeLength(sig) + sig + 4;
    if (segwit) {
      const items = i.witness ?? [];
      n += compactSizeLength(items.length);
      for (const item of items) n += compactSizeLength(item.length) + item.length;
    }
  }
  for (const o of tx.outputs) n += outputLength(o);
  return n;
}

const EMPTY = new Uint8Array(0);

function putTx(b: Uint8Array, tx: Tx, segwit: boolean): number {
  let at = putU32(b, 0, tx.version);
  if (segwit) {
    b[at++] = 0x00;
    b[at++] = 0x01;
  }
  at = putCompactSize(b, at, tx.inputs.length);
  for (const input of tx.inputs) {
    at = putOutpoint(b, at, input);
    at = putVarBytes(b, at, input.scriptSig ?? EMPTY);
    at = putU32(b, at, input.sequence);
  }
  at = putCompactSize(b, at, tx.outputs.length);
  for (const o of tx.outputs) at = putOutput(b, at, o);
  if (segwit) {
    for (const input of tx.inputs) {
      const items = input.witness ?? [];
      at = putCompactSize(b, at, items.length);
      for (const item of items) at = putVarBytes(b, at, item);
    }
  }
  return putU32(b, at, tx.lockTime);
}

/** Network serialization; `withWitness: false` gives the txid form. */
export function serializeTx(tx: Tx, withWitness = true): Uint8Array {
  const segwit = withWitness && hasWitness(tx);
  const out = new Uint8Array(serializedLength(tx, segwit));
  putTx(out, tx, segwit);
  return out;
}

/**
 * Fresh zeroed arrays for public bytes that are kept (DER signatures, HTLC scripts), each a view
 * of its own range of a shared 8 KiB ArrayBuffer: V8 puts an array of more than 64 bytes outside
 * its heap — allocated, registered and swept later, one by one — which cost more than writing
 * the bytes. No range is handed out twice, so a view's bytes are its own; the ArrayBuffer lives
 * while any of its views does (as Node's Buffer pool). Never for secrets.
 */
export function publicSlab(): (n: number) => Uint8Array<ArrayBuffer> {
  const SIZE = 8192;
  let slab = new ArrayBuffer(0);
  let at = 0;
  return (n) => {
    if (n > SIZE / 4) return new Uint8Array(n);
    if (at + n > slab.byteLength) [slab, at] = [new ArrayBuffer(SIZE), 0];
    at += n;
    return new Uint8Array(slab, at - n, n);
  };
}

const txidScratch = scratchBuffer();

/** The txid as displayed (big-endian hex). */
export function txid(tx: Tx): string {
  const n = serializedLength(tx, false);
  const b = txidScratch(n);
  putTx(b, tx, false);
  return toHex(hash256(b.subarray(0, n)).reverse());
}

/** BIP-141 weight: 3 × stripped size + total size. */
export function weight(tx: Tx): number {
  return 3 * serializedLength(tx, false) + serializedLength(tx, hasWitness(tx));
}

export { hash256 };
