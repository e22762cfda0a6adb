/**
 * BOLT 3 transactions as BIP-174 PSBTs (v0), for the CLI's PSBT output and the
 * project's `psbt` commands: each input carries its witness_utxo and P2WSH
 * witness_script, and the signatures given so far as partial_sigs (each signature
 * keeps its own sighash byte: an anchors HTLC transaction carries the remote's
 * SINGLE|ANYONECANPAY and the local's ALL on one input, so no per-input
 * PSBT_IN_SIGHASH_TYPE is written). The final witnesses of BOLT 3's scripts are built by
 * ./sign.ts (finalizeCommitment, finalizeHtlcTransaction), not by a generic finalizer.
 *
 * Imports @scure/btc-signer: the CLI loads this module lazily.
 */
import { Transaction } from '@scure/btc-signer';
import { channelFundingOutput } from './channel.ts';
import type { CommitmentTransaction } from './commitment.ts';
import type { HtlcTransaction } from './htlc-tx.ts';
import { SIGHASH_ALL } from './sighash.ts';
import { p2wsh } from './script.ts';
import type { Tx } from './tx.ts';

export type PsbtSpent = { amount: bigint; witnessScript: Uint8Array; partialSigs?: [pubkey: Uint8Array, signatureWithHashType: Uint8Array][] };

/** A PSBT of `tx` whose inputs spend P2WSH outputs described by `spent` (one per input). */
export function psbtOf(tx: Tx, spent: readonly PsbtSpent[]): Uint8Array {
  if (spent.length !== tx.inputs.length) throw new RangeError(`${spent.length} spent outputs for ${tx.inputs.length} inputs`);
  const psbt = new Transaction({ version: tx.version, lockTime: tx.lockTime, allowUnknownOutputs: true, allowUnknownVersion: true });
  tx.inputs.forEach((input, i) => {
    const s = spent[i]!;
    psbt.addInput({
      txid: input.txid,
      index: input.vout,
      sequence: input.sequence,
      witnessUtxo: { script: p2wsh(s.witnessScript), amount: s.amount },
      witnessScript: s.witnessScript,
    });
  });
  for (const o of tx.outputs) psbt.addOutput({ script: o.script, amount: o.amount });
  // Signatures last: the transaction is complete, nothing is added after them.
  spent.forEach((s, i) => {
    if (s.partialSigs?.length) psbt.updateInput(i, { partialSig: s.partialSigs }, true);
  });
  return psbt.toPSBT(0);
}

/** The commitment as a PSBT spending the funding output, with the funding signatures given (DER, no sighash byte). */
export function commitmentPsbt(c: CommitmentTransaction, signatures: { local?: Uint8Array; remote?: Uint8Array } = {}): Uint8Array {
  const funding = channelFundingOutput(c.params);
  const partialSigs: [Uint8Array, Uint8Array][] = [];
  if (signatures.local) partialSigs.push([c.params.local.fundingPubkey, Uint8Array.from([...signatures.local, SIGHASH_ALL])]);
  if (signatures.remote) partialSigs.push([c.params.remote.fundingPubkey, Uint8Array.from([...signatures.remote, SIGHASH_ALL])]);
  return psbtOf(c.tx, [{ amount: funding.amount, witnessScript: funding.witnessScript, partialSigs }]);
}

/** An HTLC transaction as a PSBT spending its commitment output, with the HTLC signatures given. */
export function htlcPsbt(h: HtlcTransaction, signatures: { local?: Uint8Array; remote?: Uint8Array } = {}): Uint8Array {
  const partialSigs: [Uint8Array, Uint8Array][] = [];
  if (signatures.local) partialSigs.push([h.keys.localHtlcPubkey, Uint8Array.from([...signatures.local, SIGHASH_ALL])]);
  if (signatures.remote) partialSigs.push([h.keys.remoteHtlcPubkey, Uint8Array.from([...signatures.remote, h.remoteSighashType])]);
  return psbtOf(h.tx, [{ amount: h.spentAmountSat, witnessScript: h.spentWitnessScript, partialSigs }]);
}
