/**
 * BOLT 3 "Bitcoin Transaction and Script Formats": the public API the `commitment` and
 * `htlc` commands build on. Typical flow:
 *
 *     const c = buildCommitment(params, state);          // ./commitment.ts
 *     const htlcTxs = buildHtlcTransactions(c);          // ./htlc-tx.ts
 *     const sig = signCommitment(c, fundingSecretKey);   // ./sign.ts
 *     finalizeCommitment(c, localSig, remoteSig);        // broadcastable
 *     sweepDelayedOutputs({ commitment, outputs, … })   // ./sweep.ts, after to_self_delay
 *     penaltyTransaction({ revoked, perCommitmentSecret, … })  // ./penalty.ts
 *
 * Library only: no I/O, no JSON (the CLI decodes into these types), amounts as bigint.
 */
export { type Bolt3Backend, NOBLE, bolt3Backend } from './backend.ts';
export {
  type AnchorOutput, type ChannelParameters, type ChannelPublicKeys, type CommitmentFormat, type CommitmentFormatName, type CommitmentKeys, type CommitmentState, type Htlc,
  Channel, channelFundingOutput, checkCommitmentInputs, commitmentKeys, counterpartyView, fundingOutput, obscuredCommitmentNumber, obscuringFactor,
} from './channel.ts';
export { type CommitmentOutput, type CommitmentOutputKind, type CommitmentTransaction, buildCommitment, isTrimmed } from './commitment.ts';
export {
  ANCHORS, ANCHOR_OUTPUT_SAT, COMMITMENT_FORMATS, LEGACY, P2A_MAX_SAT, WEIGHTS, ZERO_FEE, commitmentFormat, feeFromWeight,
} from './formats.ts';
export { type HtlcTransaction, type HtlcTransactionKind, buildHtlcTransaction, buildHtlcTransactions } from './htlc-tx.ts';
export { derivePrivkey, derivePubkey, deriveRevocationPrivkey, deriveRevocationPubkey, pointOf } from './keys.ts';
export { MAX_INDEX, commitmentOfIndex, generateFromSeed, indexOfCommitment, perCommitmentPoint } from './per-commitment.ts';
export { type PenaltyInput, type PenaltyRequest, type PenaltyTransaction, type SecondStageOutput, penaltyTransaction, revocableOutputs } from './penalty.ts';
export { type Bolt3Script, decodeBolt3Script } from './script-decode.ts';
export { P2A_SCRIPT, hash160, p2wpkh, p2wsh } from './script.ts';
export {
  type HtlcScriptKeys, anchorScript, fundingScript, offeredHtlcScript, receivedHtlcScript, sortedFundingPubkeys, toLocalScript, toRemoteAnchorsScript,
} from './scripts.ts';
export { type DelayedOutput, type DelayedSweep, type DelayedSweepRequest, sweepDelayedOutputs, toLocalOutput } from './sweep.ts';
export { PerCommitmentSecretStore, type StoredSecret, whereToPutSecret } from './secret-store.ts';
export { SIGHASH_ALL, SIGHASH_ANYONECANPAY, SIGHASH_SINGLE, segwitV0Sighash } from './sighash.ts';
export {
  type Party, type SignedTransaction,
  ProvenKey, commitmentSighash, finalizeCommitment, finalizeHtlcTransaction, htlcSighash, signCommitment, signCounterpartyCommitment, signHtlcTransaction,
  verifyCommitmentSignature, verifyHtlcSignature,
} from './sign.ts';
export {
  type EcdsaSigner, type NativeSecp256k1Ecdsa, compactFromDer, derFromCompact, nativeEcdsa, nobleEcdsa,
} from './ecdsa.ts';
// ./psbt.ts (commitmentPsbt, htlcPsbt) imports @scure/btc-signer: import it directly, lazily.
export { type OutPoint, type Tx, type TxInput, type TxOutput, serializeTx, txid, weight } from './tx.ts';
