/**
 * Read-only views of a parsed PSBT's input and output maps, for checks on hot paths:
 * btc-signer's `getInput` / `getOutput` deep-copy the whole map on every call (~12 µs for
 * the input of a credit update, several times per update), where a check reads a field or
 * two. A view is the Transaction's own object, typed read-only: never write through it (a
 * change goes through `updateInput` / `updateOutput`, which validate), and do not keep it
 * past a change to the Transaction.
 */
import type { Transaction } from '@scure/btc-signer';
import { toHex } from '../bytes.ts';
import { hash256 } from '../hash.ts';

export type InputView = Readonly<ReturnType<Transaction['getInput']>>;
export type OutputView = Readonly<ReturnType<Transaction['getOutput']>>;

type Maps = { inputs: InputView[]; outputs: OutputView[] };
/** A parsed PSBT: btc-signer's Transaction, or one ./plain.ts read (its maps held alike). */
type Parsed = Pick<Transaction, 'inputsLength' | 'outputsLength'>;

/** Input `index`'s map, uncopied; the same refusal as `getInput` for an index out of range. */
export function inputView(tx: Parsed, index: number): InputView {
  if (!Number.isSafeInteger(index) || index < 0 || index >= tx.inputsLength) throw new Error(`Wrong input index=${index}`);
  return (tx as unknown as Maps).inputs[index]!;
}

/** Output `index`'s map, uncopied; the same refusal as `getOutput` for an index out of range. */
export function outputView(tx: Parsed, index: number): OutputView {
  if (!Number.isSafeInteger(index) || index < 0 || index >= tx.outputsLength) throw new Error(`Wrong output index=${index}`);
  return (tx as unknown as Maps).outputs[index]!;
}

function u32le(out: Uint8Array, at: number, n: number): number {
  out[at] = n & 0xff;
  out[at + 1] = (n >>> 8) & 0xff;
  out[at + 2] = (n >>> 16) & 0xff;
  out[at + 3] = (n >>> 24) & 0xff;
  return at + 4;
}

function compactSize(out: Uint8Array | undefined, at: number, n: number): number {
  const size = n < 0xfd ? 1 : n <= 0xffff ? 3 : 5;
  if (out) {
    if (size === 1) out[at] = n;
    else if (size === 3) (out[at] = 0xfd), (out[at + 1] = n & 0xff), (out[at + 2] = n >>> 8);
    else (out[at] = 0xfe), u32le(out, at + 1, n);
  }
  return at + size;
}

/**
 * The unsigned transaction's network bytes, as btc-signer's `unsignedTx` gives them (empty
 * scriptSigs, no witness), written straight from the maps: btc-signer re-encodes the whole
 * transaction through its generic coder (~20 µs for a credit state) each time it is asked.
 */
export function unsignedTxBytes(tx: Transaction): Uint8Array {
  const { inputs, outputs } = tx as unknown as Maps;
  // version, input count, inputs (outpoint 36, empty scriptSig 1, sequence 4), output count, outputs, lock time
  let size = compactSize(undefined, 4, inputs.length) + 41 * inputs.length;
  size = compactSize(undefined, size, outputs.length);
  for (const o of outputs) {
    if (o.amount === undefined || !o.script) throw new Error('unsignedTxBytes: an output without amount or script');
    size = compactSize(undefined, size + 8, o.script.length) + o.script.length;
  }
  size += 4;
  const out = new Uint8Array(size);
  let at = u32le(out, 0, tx.version);
  at = compactSize(out, at, inputs.length);
  for (const i of inputs) {
    if (!i.txid || i.index === undefined) throw new Error('unsignedTxBytes: an input without its outpoint');
    for (let k = 0; k < 32; k++) out[at + k] = i.txid[31 - k]!;
    at = u32le(out, at + 32, i.index);
    out[at++] = 0; // empty scriptSig
    at = u32le(out, at, i.sequence ?? 0xffffffff);
  }
  at = compactSize(out, at, outputs.length);
  for (const o of outputs) {
    new DataView(out.buffer, at, 8).setBigUint64(0, o.amount!, true);
    at = compactSize(out, at + 8, o.script!.length);
    out.set(o.script!, at);
    at += o.script!.length;
  }
  u32le(out, at, tx.lockTime);
  return out;
}

/**
 * btc-signer's `tx.id`, from unsignedTxBytes where they are the same bytes (no input carries a
 * final scriptSig, which the id counts and the unsigned bytes leave out): `tx.id` re-encodes
 * the whole transaction through btc-signer's generic coder (~40–180 µs for a credit state on
 * this VM) each time it is asked.
 */
export function txidOf(tx: Transaction): string {
  const { inputs } = tx as unknown as Maps;
  if (inputs.some((i) => i.finalScriptSig !== undefined && i.finalScriptSig.length > 0)) return tx.id;
  return toHex(hash256(unsignedTxBytes(tx)).reverse());
}
