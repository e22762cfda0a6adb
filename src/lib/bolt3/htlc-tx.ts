/**
 * BOLT 3 "HTLC-timeout and HTLC-success Transactions": the second-stage transactions
 * through which the holder of a commitment takes an HTLC output — an offered HTLC by
 * HTLC-timeout once its cltv_expiry is reached (nLockTime = cltv_expiry), a received
 * HTLC by HTLC-success with the payment preimage. Both need the remote party's
 * signature, given in advance (commitment_signed), so the holder can only ever pay the
 * HTLC into the same delayed, revocable `to_local`-style output: a revoked commitment's
 * HTLCs stay punishable after the second stage too.
 *
 *     version: the format's; locktime: 0 (success) or cltv_expiry (timeout)
 *     input: the commitment's HTLC output, nSequence = the format's HTLC CSV (0 or 1)
 *     output: HTLC amount - the format's HTLC-tx fee, to the second-stage script
 */
import type { ChannelParameters, CommitmentKeys, Htlc, OutputTemplate } from './channel.ts';
import type { CommitmentOutput, CommitmentTransaction } from './commitment.ts';
import type { Tx } from './tx.ts';

export type HtlcTransactionKind = 'htlc-timeout' | 'htlc-success';

export type HtlcTransaction = {
  kind: HtlcTransactionKind;
  htlc: Htlc;
  /** The commitment output this transaction spends. */
  commitmentOutputIndex: number;
  /** Its amount and witness script: what the signatures commit to (BIP-143). */
  spentAmountSat: bigint;
  spentWitnessScript: Uint8Array;
  keys: CommitmentKeys;
  /** The sighash type of the remote party's signature (the local one is SIGHASH_ALL). */
  remoteSighashType: number;
  /** The unsigned transaction; ./sign.ts adds the witness. */
  tx: Tx;
  /** The witness script of the second-stage output. */
  outputWitnessScript: Uint8Array;
  feeSat: bigint;
};

/** The HTLC transaction spending one HTLC output of `commitment`. */
export function buildHtlcTransaction(
  params: ChannelParameters,
  commitment: CommitmentTransaction,
  output: CommitmentOutput,
  second: OutputTemplate = params.format.secondStage(commitment.keys, params.toSelfDelay),
): HtlcTransaction {
  const { format } = params;
  const htlc = output.htlc;
  if (!htlc || !output.witnessScript) throw new RangeError(`commitment output ${output.index} is not an HTLC output`);
  const kind: HtlcTransactionKind = htlc.direction === 'offered' ? 'htlc-timeout' : 'htlc-success';
  const feeSat = format.htlcTxFee(kind, commitment.state.feeratePerKw);
  if (!second.witnessScript) throw new RangeError(`the ${format.name} format has no witness script for the second stage`);
  const tx: Tx = {
    version: format.htlcTxVersion,
    lockTime: kind === 'htlc-timeout' ? htlc.cltvExpiry : 0,
    inputs: [{ txid: commitment.txid, vout: output.index, sequence: format.htlcCsv }],
    outputs: [{ amount: output.amountSat - feeSat, script: second.script }],
  };
  return {
    kind,
    htlc,
    commitmentOutputIndex: output.index,
    spentAmountSat: output.amountSat,
    spentWitnessScript: output.witnessScript,
    keys: commitment.keys,
    remoteSighashType: format.remoteHtlcSighash,
    tx,
    outputWitnessScript: second.witnessScript,
    feeSat,
  };
}

/** Every HTLC transaction of `commitment`, in commitment output order (the order of commitment_signed's htlc_signature). */
export function buildHtlcTransactions(commitment: CommitmentTransaction): HtlcTransaction[] {
  const { params } = commitment;
  const second = params.format.secondStage(commitment.keys, params.toSelfDelay); // one script for all of them
  return commitment.outputs.filter((o) => o.htlc !== undefined).map((o) => buildHtlcTransaction(params, commitment, o, second));
}
