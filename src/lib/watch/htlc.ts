/**
 * The payer's refund of an HTLC or a PTLC it funded, as a watcher keeps it (docs/watch.md,
 * docs/htlc.md, docs/ptlc.md): the output registered with its funding outpoint (`htlc
 * watch-add`, `ptlc watch-add`), spent back through the refund path once its absolute locktime
 * L is final — Core's rule: from the tip at L, so mined in block L + 1 at the earliest. Pure:
 * the chain's facts come in already asked (src/topics/watch/htlc.ts).
 *
 * The race: the recipient's claim (the preimage, or the adaptor secret t) has no lock, the
 * refund has no deadline of its own; both spend the one output, and whichever a block takes
 * first stands. A claim in the mempool means the payment is paid: it is never replaced.
 *
 * INVARIANTS (test/lib/watch/htlc.test.ts, property tests):
 * - Nothing is sent before the refund is final (tip < L), nor while the node does not know the
 *   funding transaction (nothing to spend), nor over a spend of the output in the mempool (the
 *   recipient's claim: the payment is paid; the payer's own refund; a cooperative key path).
 * - From the tip at L, a funded and unspent output is refunded: `refund` the first time,
 *   `rebroadcast` when the node lost the last one (evicted, un-mined by a reorganisation).
 * - `done` only when the output is spent in a block by anything but the watcher's last refund
 *   (the claim, or an earlier refund), or by that refund FINAL_DEPTH deep; short of it, `wait`.
 * - A key that is not the payer's sends nothing: `hold`, its error E_WRONG_KEY, when a refund is due;
 *   nor does a record the watcher's key did not sign (edited in the database): `hold`, E_STATE_CORRUPT.
 * - An output the node shows with another script or amount than the record's: `hold`, E_UTXO_MISMATCH, every round.
 * - The payer's refund in the mempool, from the tip at L: `rebid` (the command decides whether the
 *   next block's estimate asks more than it pays, and replaces it within the budget — only a
 *   refund, never a claim). Only the payer's key signs the refund path, so a refund there is the
 *   payer's whatever txid the watcher stored last: a watcher killed between storing its bid and
 *   sending it, or whose send the node refused, finds its earlier refund there and bids again
 *   (it waited on it for good before).
 */
import { Transaction } from '@scure/btc-signer';
import { equalBytes, toHex } from '../bytes.ts';
import { FINAL_DEPTH, type Decision } from './decision.ts';

/** Which contract: an HTLC (seed or taproot) or a PTLC, kept by its payer. */
export type PayerKind = 'htlc-payer' | 'ptlc-payer';

/** A registered output: its contract (the funding outpoint, `txid:vout`) and the refund's locktime L (a block height). */
export type PayerRow = { kind: PayerKind; contract: string; locktime: number };

/** Through which path a transaction spends the output: the recipient's claim, the payer's refund, or another (a cooperative key path). */
export type SpendPath = 'claim' | 'refund' | 'other';

/** Who spends the output: nobody, a transaction in the node's mempool (by its path), or one in a block. */
export type OutputSpend = { where: 'none' } | { where: 'mempool'; txid: string; path: SpendPath } | { where: 'block' };

export type PayerFacts = {
  tip: number;
  /** The funding transaction's confirmations (0: in the mempool; null: the node does not know it). */
  funding: number | null;
  output: OutputSpend;
  /** The refund this watcher sent last, and its confirmations (null: unknown to the node). */
  refund?: { txid: string; confirmations: number | null };
  /** The watcher's key is not the payer's ("E_WRONG_KEY: …"). */
  wrongKey?: string;
  /** The record is not signed by the watcher's key ("E_STATE_CORRUPT: …"). */
  corrupt?: string;
  /** The node's output (gettxout) has another script or amount than the record's ("E_UTXO_MISMATCH: …"). */
  mismatch?: string;
};

export function decidePayer(row: PayerRow, f: PayerFacts): Decision {
  const base = { kind: row.kind, contract: row.contract, deadline: row.locktime, blocks_left: row.locktime - f.tip };
  const mined = f.refund && f.refund.confirmations !== null && f.refund.confirmations >= 1 ? f.refund : undefined;
  if (mined) {
    return mined.confirmations! >= FINAL_DEPTH
      ? { ...base, action: 'done', reason: `refunded (${mined.confirmations} confirmations)`, txid: mined.txid }
      : { ...base, action: 'wait', reason: `the refund is mined: ${mined.confirmations} confirmation(s) so far`, txid: mined.txid };
  }
  if (f.funding === null) return { ...base, action: 'none', reason: 'the node does not know the funding transaction (not sent yet, or dropped): nothing to refund' };
  if (f.output.where === 'block') return { ...base, action: 'done', reason: 'the output is spent in a block by another transaction than the last refund: the recipient\'s claim (the payment is paid) or an earlier refund' };
  if (f.mismatch !== undefined) return { ...base, action: 'hold', reason: 'the node\'s output is not the one registered (another script or amount): nothing signed', error: f.mismatch };
  const own = f.output.where === 'mempool' && f.output.path === 'refund';
  if (own && f.tip >= row.locktime && f.wrongKey === undefined && f.corrupt === undefined) {
    return { ...base, action: 'rebid', reason: 'the payer\'s refund is in the mempool, not mined yet: bid again within the budget if the next block asks more than it pays', txid: (f.output as { txid: string }).txid };
  }
  if (f.output.where === 'mempool') {
    const who = f.output.path === 'claim' ? 'the recipient\'s claim (the payment is paid)' : f.output.path === 'refund' ? 'the payer\'s refund' : 'a cooperative key-path spend';
    return { ...base, action: 'wait', reason: `the output is spent in the mempool by ${who}`, txid: f.output.txid };
  }
  if (f.tip < row.locktime) return { ...base, action: 'none', reason: `the refund is final from the tip at ${row.locktime}` };
  if (f.wrongKey !== undefined) return { ...base, action: 'hold', reason: 'the refund is due, but this watcher\'s key is not the payer\'s: nothing sent', error: f.wrongKey };
  if (f.corrupt !== undefined) return { ...base, action: 'hold', reason: 'the refund is due, but the kept record is not signed by this watcher\'s key (edited in the database?): nothing signed', error: f.corrupt };
  return f.refund
    ? { ...base, action: 'rebroadcast', reason: 'the last refund is not in the node\'s mempool (evicted, un-mined by a reorganisation, or never sent): sent again' }
    : { ...base, action: 'refund', reason: 'the output is funded and unspent, and its refund is final: taken back' };
}

/**
 * The path by which `raw` spends `outpoint`: for a script path, the refund leaf (taproot) or
 * the refund branch's empty selector (the seed's P2WSH: `<sig> <> <script>`) is the refund; a
 * key path is a PTLC's claim, or a taproot HTLC's cooperative spend. `refundLeaf`: the output's
 * refund leaf (taproot), `keyPathIsClaim`: a PTLC.
 */
export function spendPath(raw: Uint8Array, outpoint: { txid: string; vout: number }, out: { refundLeaf?: Uint8Array; witnessScript?: Uint8Array; keyPathIsClaim: boolean }): SpendPath {
  const tx = Transaction.fromRaw(raw, { allowUnknownInputs: true, allowUnknownOutputs: true, disableScriptCheck: true });
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    if (toHex(input.txid!) !== outpoint.txid || input.index !== outpoint.vout) continue;
    const w = input.finalScriptWitness ?? [];
    if (out.witnessScript) {
      // <sig> <preimage> 1 <script> (claim) or <sig> <> <script> (refund).
      if (w.length === 0 || !equalBytes(w[w.length - 1]!, out.witnessScript)) return 'other';
      return w.length >= 2 && w[w.length - 2]!.length === 0 ? 'refund' : 'claim';
    }
    // Taproot: one element (a signature, maybe with an annex-free key path) is the key path.
    if (w.length === 1) return out.keyPathIsClaim ? 'claim' : 'other';
    const leaf = w.length >= 2 ? w[w.length - 2]! : undefined;
    if (leaf && out.refundLeaf && equalBytes(leaf, out.refundLeaf)) return 'refund';
    return 'claim';
  }
  return 'other';
}
