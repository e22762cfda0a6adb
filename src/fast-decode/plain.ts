/**
 * `psbt decode`'s first shortcut reader (dist/psbt-decode-plain.cjs; the front is ./front.ts):
 * a PSBT that carries no key, read by src/lib/psbt/plain.ts — the reader parsePsbt itself uses
 * for them — and rendered by the same decodePsbt, with btc-signer and the secp256k1 curve never
 * loaded: issue 40's cold start (≤ 1.2× bare node) is out of reach once they are (loading
 * btc-signer alone costs ~1.15–1.3× bare node, bench/run.mjs).
 *
 * scripts/build.mjs bundles this file with every import of @scure/btc-signer resolved to
 * ./signer-absent.ts, whose exports throw when touched and say so afterwards: decodePsbt reaches
 * btc-signer only for what this reader does not take (a script holding a key, OP_RETURN's push
 * check, a previous transaction, leaf scripts), sometimes inside a try that would swallow the
 * throw — so the answer is thrown away whenever btc-signer was touched while it was made, and
 * ./signer.ts reads the PSBT instead. The build refuses a bundle holding btc-signer or
 * @noble/curves.
 */
import { stringifyMessage } from '../lib/json.ts';
import { resolveNetwork, type Network } from '../lib/network.ts';
import { amountProblem } from '../lib/psbt/amounts.ts';
import { decodedMessage } from '../lib/psbt/decode.ts';
import { looksLikePsbt, splitPsbtMaps } from '../lib/psbt/maps.ts';
import { readPlainPsbt } from '../lib/psbt/plain.ts';
import { runShortcut, type FastResult } from './front.ts';
import { signerTouched } from './signer-absent.ts';

export type { FastResult };

/** `write`: how the answer is written (a test's collector; standard output otherwise). */
export function main(argv: readonly string[], write?: (text: string) => Promise<void>): Promise<FastResult> {
  return runShortcut(argv, readPlain, write);
}

/** The decode of a PSBT that carries no key, as parsePsbt and decodePsbt give it; undefined for any other. */
export function readPlain(psbt: Uint8Array, flagNetwork: Network | undefined, messageNetwork: Network | undefined): string | undefined {
  if (!looksLikePsbt(psbt)) return undefined;
  const plain = readPlainPsbt(splitPsbtMaps(psbt));
  // An impossible amount: parsePsbt refuses it, in its words.
  if (!plain || amountProblem(plain)) return undefined;
  const touched = signerTouched();
  const text = stringifyMessage(decodedMessage(plain, resolveNetwork(flagNetwork, messageNetwork), psbt));
  return signerTouched() === touched ? text : undefined;
}
