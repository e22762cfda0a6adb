/**
 * The BIP-174 Combiner and Transaction Extractor roles, over @scure/btc-signer, with errors
 * that say which PSBT or which input is the problem.
 *
 * Combiner: merges PSBTs of the same unsigned transaction (any mix of versions 0 and 2).
 * btc-signer writes keys in lexicographic order, as BIP-174's own combiner vector expects;
 * Bitcoin Core orders partial signatures by HASH160 of the key instead, so a combined PSBT
 * can differ from Core's byte for byte while holding exactly the same records.
 *
 * Not here: creating, updating, signing or finalizing (protocol modules and the musig module).
 */
import type { Transaction } from '@scure/btc-signer';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../bytes.ts';
import { MalformedInputError, RefusedError, UsageError } from '../errors.ts';
import { analyzePsbt } from './analyze.ts';
import { knownFee } from './decode.ts';
import { libraryReason } from './diagnose.ts';
import { parsePsbt, serializePsbt } from './parse.ts';

/** BIP-174 Combiner: one PSBT holding every record of the given PSBTs. */
export function combinePsbts(list: Uint8Array[]): Uint8Array {
  if (list.length === 0) throw new UsageError('E_USAGE', 'give at least one PSBT to combine');
  const txs = list.map((bytes, i) => {
    try {
      return parsePsbt(bytes);
    } catch (e) {
      if (e instanceof MalformedInputError) {
        throw new MalformedInputError(e.code, `PSBT ${i + 1} of ${list.length}: ${e.message}`, { ...e.detail, position: i + 1 });
      }
      throw e;
    }
  });
  assertSameTransaction(txs);
  const combined = txs[0]!;
  for (let i = 1; i < txs.length; i++) {
    try {
      combined.combine(txs[i]!);
    } catch (e) {
      throw new RefusedError('E_PSBT_COMBINE', `PSBT ${i + 1} of ${txs.length} cannot be combined with the ones before it: ${libraryReason(e)}`, {
        position: i + 1,
      });
    }
  }
  return serializePsbt(combined);
}

/**
 * All PSBTs must carry the same unsigned transaction. The reference is the transaction most
 * of them agree on (the first one on a tie), so the message names the odd one out.
 */
function assertSameTransaction(txs: Transaction[]): void {
  const ids = txs.map((tx) => toHex(tx.unsignedTx));
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  let reference = ids[0]!;
  for (const [id, n] of counts) if (n > counts.get(reference)!) reference = id;
  const refIndex = ids.indexOf(reference);
  const odd = ids.findIndex((id) => id !== reference);
  if (odd < 0) return;
  const what = difference(txs[refIndex]!, txs[odd]!);
  throw new RefusedError(
    'E_PSBT_COMBINE',
    `PSBT ${odd + 1} of ${txs.length} is for a different transaction than PSBT ${refIndex + 1} (${what}); only PSBTs of the same unsigned transaction can be combined`,
    { position: odd + 1, reference: refIndex + 1 },
  );
}

/** The first visible difference between two unsigned transactions, for the error message. */
function difference(a: Transaction, b: Transaction): string {
  if (a.version !== b.version) return `version ${b.version} instead of ${a.version}`;
  if (a.lockTime !== b.lockTime) return `locktime ${b.lockTime} instead of ${a.lockTime}`;
  if (a.inputsLength !== b.inputsLength) return `${b.inputsLength} inputs instead of ${a.inputsLength}`;
  if (a.outputsLength !== b.outputsLength) return `${b.outputsLength} outputs instead of ${a.outputsLength}`;
  for (let i = 0; i < a.inputsLength; i++) {
    const x = a.getInput(i);
    const y = b.getInput(i);
    const outpoint = (t: typeof x) => `${toHex(t.txid ?? new Uint8Array(0))}:${t.index}`;
    if (outpoint(x) !== outpoint(y)) return `input ${i} spends ${outpoint(y)} instead of ${outpoint(x)}`;
    if (x.sequence !== y.sequence) return `input ${i} has sequence ${y.sequence} instead of ${x.sequence}`;
  }
  for (let o = 0; o < a.outputsLength; o++) {
    const x = a.getOutput(o);
    const y = b.getOutput(o);
    if (x.amount !== y.amount) return `output ${o} pays ${y.amount} sat instead of ${x.amount}`;
    if (toHex(x.script ?? new Uint8Array(0)) !== toHex(y.script ?? new Uint8Array(0))) return `output ${o} has a different scriptPubKey`;
  }
  return 'the unsigned transactions differ';
}

export type ExtractedTransaction = {
  /** The network serialization, ready for `sendrawtransaction`. */
  hex: Uint8Array;
  txid: string;
  /** Only when the transaction has witnesses (otherwise it equals txid). */
  wtxid?: string;
  vsize: number;
};

/** BIP-174 Transaction Extractor: the final network transaction of a fully finalized PSBT. */
export function extractTransaction(tx: Transaction): ExtractedTransaction {
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    if (!input.finalScriptSig?.length && !input.finalScriptWitness?.length) {
      const next = analyzePsbt(tx).inputs[i]?.next ?? 'finalizer';
      throw new RefusedError('E_PSBT_NOT_FINAL', `input ${i} is not finalized (it needs the ${next} next); only a fully finalized PSBT can be extracted`, {
        input: i,
        next,
      });
    }
  }
  if (tx.inputsLength === 0 || tx.outputsLength === 0) {
    throw new RefusedError('E_PSBT_EMPTY_TX', `the transaction has no ${tx.inputsLength === 0 ? 'inputs' : 'outputs'}; it cannot be broadcast`);
  }
  const fee = knownFee(tx);
  if (fee !== undefined && fee < 0n) {
    throw new RefusedError('E_PSBT_NEGATIVE_FEE', `the outputs spend ${-fee} sat more than the inputs hold`);
  }
  // Not tx.extract(): it insists on knowing every input's value, which an extractor does not
  // need (a PSBT finalized elsewhere may have dropped the UTXO records).
  const hex = tx.toBytes(true, true);
  const result: ExtractedTransaction = { hex, txid: tx.id, vsize: tx.vsize };
  if (tx.hasWitnesses) result.wtxid = toHex(sha256(sha256(hex)).reverse());
  return result;
}
