/**
 * An HTLC transaction as it went on chain after a wallet funded it: anchors and zero-fee
 * HTLC transactions carry no fee of their own, the peer signs them SIGHASH_SINGLE|
 * ANYONECANPAY, and the holder adds a wallet's inputs and change (or a TRUC child bumps
 * it) — so the transaction mined has another txid than the one BOLT 3 builds. This module
 * recognises such a transaction as one of a commitment's HTLC transactions, so its output
 * can be swept (`commitment sweep --htlc-tx`).
 *
 * Invariant: it is taken only when what the peer's signature covers is exactly BOLT 3's —
 * the same version and locktime, input 0 spending the same commitment output with the same
 * nSequence, output 0 the same script and amount (the revocable second-stage output this
 * module's caller sweeps); any other input or output is the wallet's business. Anything
 * else is E_UNKNOWN_HTLC_TX (exit 4). Pure.
 */
import { RefusedError } from '../errors.ts';
import { equalBytes, toHex } from '../bytes.ts';
import { measureTx } from '../truc/transaction.ts';
import type { HtlcTransaction } from './htlc-tx.ts';

export function matchFundedHtlcTx(htlcTxs: readonly HtlcTransaction[], raw: Uint8Array, commitmentTxid: string): { htlc: HtlcTransaction; txid: string } {
  const m = measureTx(raw, 'the HTLC transaction');
  const input = m.tx.inputs[0];
  const output = m.tx.outputs[0];
  const htlc = htlcTxs.find((h) => {
    const [i, o] = [h.tx.inputs[0]!, h.tx.outputs[0]!];
    return input !== undefined && output !== undefined
      && toHex(input.txid) === i.txid && input.index === i.vout && input.sequence === i.sequence
      && m.tx.version === h.tx.version && m.tx.lockTime === h.tx.lockTime
      && equalBytes(output.script, o.script) && output.amount === o.amount;
  });
  if (!htlc) {
    throw new RefusedError('E_UNKNOWN_HTLC_TX', `${m.txid} is not an HTLC transaction of commitment ${commitmentTxid}: its input 0, output 0, version and locktime must be BOLT 3's (a wallet may only add inputs and outputs after them)`);
  }
  return { htlc, txid: m.txid };
}
