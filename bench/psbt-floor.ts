/**
 * The floor under `psbt decode`'s cold start (bench/run.mjs): @scure/btc-signer loaded and
 * nothing else — the library every PSBT we read goes through (src/lib/psbt/parse.ts), whose
 * module initialisation (its coders, @noble/curves' secp256k1, @scure/base) any decode pays
 * before reading a byte — bundled, code-cached and loaded as bin/run.js loads the decode
 * shortcut (bench/psbt-floor-run.cjs). Its `fromPSBT` is not timed: our reader hands it less
 * than the whole PSBT (src/lib/psbt/read.ts reads the key records itself), so btc-signer's
 * reading of the fixture alone can cost more than our whole decode. Bundled by bench/run.mjs.
 */
import { Transaction } from '@scure/btc-signer';
import { writeSync } from 'node:fs';

/** One short line, naming what was loaded (so the bundle keeps it). */
export function main(): void {
  writeSync(1, `@scure/btc-signer loaded: Transaction.fromPSBT is a ${typeof Transaction.fromPSBT}\n`);
}
