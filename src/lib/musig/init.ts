/**
 * The BIP-373 updater step for key-path MuSig2 inputs: given the participants' keys,
 * mark every input that spends their aggregate key's P2TR output (or the inputs named).
 */
import type { Transaction } from '@scure/btc-signer';
import { equalBytes, toHex } from '../bytes.ts';
import { RefusedError, UsageError } from '../errors.ts';
import { parsePublicKey } from '../keys/keys.ts';
import { musigKey } from './keyagg.ts';
import { setMusigParticipants } from './psbt-keypath.ts';

export function setParticipantsWhereMatching(tx: Transaction, participantsHex: readonly string[], only?: readonly number[]): number[] {
  const pubkeys = participantsHex.map((p, i) => parsePublicKey(p, `--participant ${i + 1}`));
  const key = musigKey(pubkeys);
  const indices = only?.length ? [...only] : [];
  if (!only?.length) {
    for (let i = 0; i < tx.inputsLength; i++) {
      const utxo = tx.getInput(i).witnessUtxo;
      if (utxo && equalBytes(utxo.script, key.output.script)) indices.push(i);
    }
    if (indices.length === 0) {
      throw new RefusedError('E_KEY_MISMATCH', `no input spends the P2TR output of these participants' aggregate key ${toHex(key.output.outputKey)}`);
    }
  }
  for (const i of indices) {
    if (i >= tx.inputsLength) throw new UsageError('E_USAGE', `--input ${i}: the PSBT has only ${tx.inputsLength} inputs`);
    setMusigParticipants(tx, i, pubkeys);
  }
  return indices;
}
