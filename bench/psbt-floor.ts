/**
 * The floor under `psbt decode`'s cold start (bench/run.mjs): what @scure/btc-signer costs a
 * process by itself — its code loaded, and its `fromPSBT` of the bench's fixture with the
 * options `psbt decode` reads with (INSPECT_TX_OPTS) — bundled, code-cached and loaded as
 * bin/run.js loads the decode shortcut (bench/psbt-floor-run.cjs). Nothing of ours runs: no
 * format detection, no view, no JSON, one short line out. Bundled by bench/run.mjs at each run.
 */
import { Transaction } from '@scure/btc-signer';
import { readFileSync, writeSync } from 'node:fs';
import { INSPECT_TX_OPTS } from '../src/lib/psbt/tx-opts.ts';

/** Parse the base64 PSBT in `file`; write its input and output counts. */
export function main(file: string): void {
  const tx = Transaction.fromPSBT(Buffer.from(readFileSync(file, 'latin1').trim(), 'base64'), INSPECT_TX_OPTS);
  writeSync(1, `${tx.inputsLength} inputs, ${tx.outputsLength} outputs\n`);
}
