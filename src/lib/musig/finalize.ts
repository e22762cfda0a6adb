/**
 * BIP-174 Input Finalizer for PSBTs that may hold MuSig2 key-path inputs: aggregate
 * each MuSig2 input's partial signatures into its `tapKeySig` (verifying every one and
 * the result), then let btc-signer build every input's final witness. All or nothing:
 * an input that cannot be finalized stops the whole step with its reason.
 */
import type { Transaction } from '@scure/btc-signer';
import { RefusedError, isOffchainError } from '../errors.ts';
import { aggregateMusigInput, isMusigInput, readMusigInput } from './psbt-keypath.ts';

export function finalizeAll(tx: Transaction): void {
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    if (input.finalScriptWitness || input.finalScriptSig) continue;
    if (isMusigInput(tx, i) && !input.tapKeySig) aggregateMusigInput(tx, readMusigInput(tx, i));
    try {
      tx.finalizeIdx(i);
    } catch (e) {
      if (isOffchainError(e)) throw e;
      throw new RefusedError('E_PSBT_INCOMPLETE', `input ${i} cannot be finalized yet: ${(e as Error).message}`);
    }
  }
}
