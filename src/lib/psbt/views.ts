/**
 * Read-only views of a parsed PSBT's input and output maps, for checks on hot paths:
 * btc-signer's `getInput` / `getOutput` deep-copy the whole map on every call (~12 µs for
 * the input of a credit update, several times per update), where a check reads a field or
 * two. A view is the Transaction's own object, typed read-only: never write through it (a
 * change goes through `updateInput` / `updateOutput`, which validate), and do not keep it
 * past a change to the Transaction.
 */
import type { Transaction } from '@scure/btc-signer';

export type InputView = Readonly<ReturnType<Transaction['getInput']>>;
export type OutputView = Readonly<ReturnType<Transaction['getOutput']>>;

type Maps = { inputs: InputView[]; outputs: OutputView[] };

/** Input `index`'s map, uncopied; the same refusal as `getInput` for an index out of range. */
export function inputView(tx: Transaction, index: number): InputView {
  if (!Number.isSafeInteger(index) || index < 0 || index >= tx.inputsLength) throw new Error(`Wrong input index=${index}`);
  return (tx as unknown as Maps).inputs[index]!;
}

/** Output `index`'s map, uncopied; the same refusal as `getOutput` for an index out of range. */
export function outputView(tx: Transaction, index: number): OutputView {
  if (!Number.isSafeInteger(index) || index < 0 || index >= tx.outputsLength) throw new Error(`Wrong output index=${index}`);
  return (tx as unknown as Maps).outputs[index]!;
}
