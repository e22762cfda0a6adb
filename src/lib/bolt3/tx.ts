/**
 * The transactions BOLT 3 builds, as plain values, and their network serialization
 * (BIP-144 when any input carries a witness), txid and weight. Lean on purpose: a
 * commitment with 20 HTLCs means 21 transactions to build and sign, many times a
 * second, so no PSBT or script-interpreting object is created on this path. PSBT
 * output for the CLI is made from these values at the edge.
 */
import { hash256 } from '../hash.ts';
import { fromHex, toHex } from '../bytes.ts';

export type OutPoint = { txid: string; vout: number };
export type TxInput = OutPoint & { sequence: number; scriptSig?: Uint8Array; witness?: Uint8Array[] };
export type TxOutput = { amount: bigint; script: Uint8Array };
export type Tx = { version: number; lockTime: number; inputs: TxInput[]; outputs: TxOutput[] };

class Writer {
  buf: Uint8Array;
  length = 0;
  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
  }
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    bigger.set(this.buf.subarray(0, this.length));
    this.buf = bigger;
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  u8(n: number): void {
    this.room(1);
    this.buf[this.length++] = n;
  }
  u32(n: number): void {
    this.room(4);
    const b = this.buf;
    const at = this.length;
    b[at] = n & 0xff;
    b[at + 1] = (n >>> 8) & 0xff;
    b[at + 2] = (n >>> 16) & 0xff;
    b[at + 3] = (n >>> 24) & 0xff;
    this.length += 4;
  }
  u64(n: bigint): void {
    this.u32(Number(n & 0xffffffffn));
    this.u32(Number((n >> 32n) & 0xffffffffn));
  }
  varint(n: number): void {
    if (n < 0xfd) this.u8(n);
    else if (n <= 0xffff) {
      this.u8(0xfd);
      this.u8(n & 0xff);
      this.u8(n >>> 8);
    } else {
      this.u8(0xfe);
      this.u32(n);
    }
  }
  varBytes(b: Uint8Array): void {
    this.varint(b.length);
    this.bytes(b);
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** The 32 txid bytes as serialized (little-endian, the reverse of the displayed hex). */
export function txidBytes(txid: string): Uint8Array {
  return fromHex(txid, 'txid', 32).reverse();
}

// The HTLC transactions of a commitment all spend the same txid: decode it once.
let lastTxid = '';
let lastTxidBytes: Uint8Array = new Uint8Array(32);

function writeOutpoint(w: Writer, input: OutPoint): void {
  if (input.txid !== lastTxid) [lastTxidBytes, lastTxid] = [txidBytes(input.txid), input.txid];
  w.bytes(lastTxidBytes);
  w.u32(input.vout);
}

/** The 36-byte outpoint: txid (little-endian) then vout. */
export function serializeOutpoint(input: OutPoint): Uint8Array {
  const w = new Writer();
  writeOutpoint(w, input);
  return w.done();
}

/** One output as serialized: amount (8 bytes LE) then the length-prefixed script. */
export function serializeOutput(output: TxOutput): Uint8Array {
  const w = new Writer();
  w.u64(output.amount);
  w.varBytes(output.script);
  return w.done();
}

function hasWitness(tx: Tx): boolean {
  return tx.inputs.some((i) => i.witness !== undefined && i.witness.length > 0);
}

/** At least the serialized size (varints counted at 5 bytes): one buffer, never grown. */
function sizeBound(tx: Tx, segwit: boolean): number {
  let n = 4 + 2 + 5 + 5 + 4;
  for (const i of tx.inputs) {
    n += 36 + 5 + (i.scriptSig?.length ?? 0) + 4;
    if (segwit) for (const item of i.witness ?? []) n += 5 + item.length;
    n += 5;
  }
  for (const o of tx.outputs) n += 8 + 5 + o.script.length;
  return n;
}

/** Network serialization; `withWitness: false` gives the txid form. */
export function serializeTx(tx: Tx, withWitness = true): Uint8Array {
  const segwit = withWitness && hasWitness(tx);
  const w = new Writer(sizeBound(tx, segwit));
  w.u32(tx.version);
  if (segwit) {
    w.u8(0x00);
    w.u8(0x01);
  }
  w.varint(tx.inputs.length);
  for (const input of tx.inputs) {
    writeOutpoint(w, input);
    w.varBytes(input.scriptSig ?? new Uint8Array(0));
    w.u32(input.sequence);
  }
  w.varint(tx.outputs.length);
  for (const o of tx.outputs) {
    w.u64(o.amount);
    w.varBytes(o.script);
  }
  if (segwit) {
    for (const input of tx.inputs) {
      const items = input.witness ?? [];
      w.varint(items.length);
      for (const item of items) w.varBytes(item);
    }
  }
  w.u32(tx.lockTime);
  return w.done();
}

export { hash256 };

/** The txid as displayed (big-endian hex). */
export function txid(tx: Tx): string {
  return toHex(hash256(serializeTx(tx, false)).reverse());
}

/** BIP-141 weight: 3 × stripped size + total size. */
export function weight(tx: Tx): number {
  return 3 * serializeTx(tx, false).length + serializeTx(tx, true).length;
}

/** Internal helpers shared with ./sighash.ts. */
export const internal = { Writer, writeOutpoint };
