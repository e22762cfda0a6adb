/**
 * `psbt decode`'s second shortcut reader (dist/psbt-decode.cjs; the front is ./front.ts): any
 * PSBT, through `parsePsbt` — btc-signer and the selected secp256k1 backend loaded — as the
 * full CLI reads it. A PSBT whose xpubs name a network is left to the full CLI, which infers
 * the network from them or warns (src/commands/psbt/decode.ts).
 */
import { setBasePointWindow } from '../lib/curve.ts';
import { stringifyMessage } from '../lib/json.ts';
import { resolveNetwork, type Network } from '../lib/network.ts';
import { decodedMessage, psbtNetworkHint } from '../lib/psbt/decode.ts';
import { splitPsbtMaps } from '../lib/psbt/maps.ts';
import { parsePsbt } from '../lib/psbt/parse.ts';
import { runShortcut, type FastResult } from './front.ts';

export type { FastResult };

/** `write`: how the answer is written (a test's collector; standard output otherwise). */
export function main(argv: readonly string[], write?: (text: string) => Promise<void>): Promise<FastResult> {
  return runShortcut(argv, readWithSigner, write);
}

function readWithSigner(psbt: Uint8Array, flagNetwork: Network | undefined, messageNetwork: Network | undefined): string | undefined {
  setBasePointWindow(baseWindowFor(psbt));
  const tx = parsePsbt(psbt);
  if (psbtNetworkHint(psbt) !== undefined) return undefined;
  return stringifyMessage(decodedMessage(tx, resolveNetwork(flagNetwork, messageNetwork), psbt));
}

/**
 * noble's window for k·G while this PSBT is read. Reading takes one base multiplication to set up
 * the secp256k1 engine and one per P2TR input whose taproot commitment it checks (read.ts): never
 * more than one plus its input count. The 4-bit table the full CLI uses for one-shot commands
 * (520 points) pays off only from about 8 of them (callgrind, P2TR inputs with internal keys:
 * 7 inputs 317 M instructions without a table, 333 M with; 10 inputs 423 M, 383 M); below, each
 * multiplication without one costs less than building it — a signed single-input MuSig2 PSBT
 * 269 M → 176 M instructions. Window 1 is no table. The same points either way.
 */
function baseWindowFor(psbt: Uint8Array): number {
  // Its input and output maps together bound its inputs.
  return splitPsbtMaps(psbt).length - 1 <= 8 ? 1 : 4;
}

