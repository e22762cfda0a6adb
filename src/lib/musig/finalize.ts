/**
 * BIP-174 Input Finalizer for PSBTs that may hold MuSig2 key-path inputs: aggregate
 * each MuSig2 input's partial signatures into its `tapKeySig` (verifying every one and
 * the result), check a `tapKeySig` that was already there against the taproot output
 * key, then let btc-signer build every input's final witness. All or nothing: an input
 * that cannot be finalized stops the whole step with its reason.
 */
import type { Transaction } from '@scure/btc-signer';
import { RefusedError, isOffchainError } from '../errors.ts';
import { keyPathSighash, SIGHASH_DEFAULT } from '../taproot/taproot.ts';
import { bip340Verify } from './bip327.ts';
import { aggregateMusigInput, isMusigInput, readMusigInput } from './psbt-keypath.ts';

/** A key-path signature found in the PSBT is finalized only if it verifies for the spent P2TR output. */
function checkTapKeySig(tx: Transaction, i: number, tapKeySig: Uint8Array): void {
  const utxo = tx.getInput(i).witnessUtxo;
  const script = utxo?.script;
  if (!script || script.length !== 34 || script[0] !== 0x51 || script[1] !== 0x20) return; // not key-path taproot: btc-signer decides
  const hashType = tapKeySig.length === 65 ? tapKeySig[64]! : SIGHASH_DEFAULT;
  const ok = (tapKeySig.length === 64 || (tapKeySig.length === 65 && hashType !== SIGHASH_DEFAULT))
    && bip340Verify(tapKeySig.subarray(0, 64), keyPathSighash(tx, i, hashType), script.subarray(2));
  if (!ok) throw new RefusedError('E_BAD_SIGNATURE', `input ${i}: its tap_key_sig does not verify against the output key it spends`);
}

export function finalizeAll(tx: Transaction): void {
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    if (input.finalScriptWitness || input.finalScriptSig) continue;
    if (input.tapKeySig) checkTapKeySig(tx, i, input.tapKeySig);
    else if (isMusigInput(tx, i)) aggregateMusigInput(tx, readMusigInput(tx, i));
    try {
      tx.finalizeIdx(i);
    } catch (e) {
      if (isOffchainError(e)) throw e;
      throw new RefusedError('E_PSBT_INCOMPLETE', `input ${i} cannot be finalized yet: ${(e as Error).message}`);
    }
  }
}
