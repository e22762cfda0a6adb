/**
 * The penalty (justice) transaction of BOLT 5 "Revoked Transaction Close Handling", on
 * BOLT 3's scripts: when a counterparty broadcasts a commitment it has revoked, the
 * other party takes every output the revocation key can spend — `to_local`, every
 * offered and received HTLC output, and the outputs of any HTLC-timeout / HTLC-success
 * transaction already confirmed (the same `to_local`-style script) — in one transaction
 * to its own script.
 *
 *     to_local / second-stage input witness:  <revocation_sig> 1 <witness script>
 *     HTLC input witness:                     <revocation_sig> <revocationpubkey> <witness script>
 *
 * The revocation secret is `revocationprivkey` (./keys.ts): our revocation basepoint
 * secret combined with the per-commitment secret the cheater revealed when it revoked
 * that commitment. A secret that is not the commitment's (its point differs) is refused
 * before anything is signed (`E_BAD_PER_COMMITMENT_SECRET`). The anchors and
 * `to_remote` are not taken: `to_remote` is ours already, anchors are anyone's.
 *
 * The fee is `feerate_per_kw × weight / 1000` with the weight counted for 73-byte
 * signatures (the largest), so the real feerate is never below the one asked for.
 */
import { equalBytes, toHex } from '../bytes.ts';
import { RefusedError } from '../errors.ts';
import { dustThreshold } from '../tx/policy.ts';
import type { CommitmentTransaction } from './commitment.ts';
import { NOBLE, type Bolt3Backend } from './backend.ts';
import { derFromCompact } from './ecdsa.ts';
import { feeFromWeight } from './formats.ts';
import { deriveRevocationPrivkey, pointOf } from './keys.ts';
import { SIGHASH_ALL, segwitV0Sighash } from './sighash.ts';
import { serializeTx, txid, weight, type Tx } from './tx.ts';

/** An output of a second-stage (HTLC-timeout / HTLC-success) transaction of the revoked commitment. */
export type SecondStageOutput = { txid: string; vout: number; amountSat: bigint };

export type PenaltyRequest = {
  /** The revoked commitment, built from the cheater's side (local = the cheater). */
  revoked: CommitmentTransaction;
  /**
   * Which of the revoked commitment's outputs to take (their vouts); all revocable
   * ones when absent, none when empty (a second-stage-only penalty).
   */
  outputs?: readonly number[];
  /** Second-stage outputs the cheater already confirmed, if any. */
  secondStage?: readonly SecondStageOutput[];
  /** The per-commitment secret the cheater revealed for this commitment. */
  perCommitmentSecret: Uint8Array;
  /** Our revocation basepoint secret (the revoked commitment's remote revocation basepoint). */
  revocationBasepointSecret: Uint8Array;
  /** Where the penalty pays. */
  destinationScript: Uint8Array;
  feeratePerKw: number;
};

export type PenaltyInput = {
  txid: string;
  vout: number;
  amountSat: bigint;
  kind: 'to_local' | 'offered_htlc' | 'received_htlc' | 'second_stage';
  witnessScript: Uint8Array;
};

export type PenaltyTransaction = {
  tx: Tx;
  hex: string;
  txid: string;
  inputs: PenaltyInput[];
  feeSat: bigint;
  /** Weight counted for the fee (73-byte signatures); the signed tx weighs at most this. */
  weight: number;
};

/** Core's largest standard transaction (MAX_STANDARD_TX_WEIGHT, policy/policy.h): a heavier justice transaction is never relayed. */
export const MAX_STANDARD_TX_WEIGHT = 400_000;

/** BIP-125 replaceable, so the penalty can be fee-bumped while the race is on. */
const PENALTY_SEQUENCE = 0xfffffffd;
const MAX_SIGNATURE = new Uint8Array(73);

function witnessFor(input: PenaltyInput, signature: Uint8Array, revocationPubkey: Uint8Array): Uint8Array[] {
  // to_local: 1 selects OP_IF <revocationpubkey>; an HTLC: the key whose HASH160 the script checks.
  const selector = input.kind === 'to_local' || input.kind === 'second_stage' ? Uint8Array.of(1) : revocationPubkey;
  return [signature, selector, input.witnessScript];
}

const compactSizeLength = (n: number) => (n < 0xfd ? 1 : n <= 0xffff ? 3 : 5);

/** The weight one input adds to a justice transaction, counted as the fee is (a 73-byte signature). */
export function justiceInputWeight(input: Pick<PenaltyInput, 'kind' | 'witnessScript'>): number {
  const witness = witnessFor(input as PenaltyInput, MAX_SIGNATURE, new Uint8Array(33));
  // Outpoint, empty scriptSig and sequence (41 bytes, ×4), then the witness once.
  return 4 * 41 + compactSizeLength(witness.length) + witness.reduce((a, w) => a + compactSizeLength(w.length) + w.length, 0);
}

/** A justice transaction's weight without its inputs (version, counts up to 65,535 inputs, its one output, locktime, segwit marker). */
export function justiceBaseWeight(destinationScript: Uint8Array): number {
  return 4 * (4 + 3 + 1 + 8 + compactSizeLength(destinationScript.length) + destinationScript.length + 4) + 2;
}

/** The outputs of a commitment the revocation key can take: to_local and every HTLC output. */
export function revocableOutputs(revoked: CommitmentTransaction): PenaltyInput[] {
  return revoked.outputs.flatMap((o) =>
    (o.kind === 'to_local' || o.kind === 'offered_htlc' || o.kind === 'received_htlc') && o.witnessScript
      ? [{ txid: revoked.txid, vout: o.index, amountSat: o.amountSat, kind: o.kind, witnessScript: o.witnessScript }]
      : [],
  );
}

/** The signed penalty transaction taking the chosen (default: every) revocable output of `request.revoked`. */
export function penaltyTransaction(request: PenaltyRequest, backend: Bolt3Backend = NOBLE): PenaltyTransaction {
  const { revoked } = request;
  const keys = revoked.keys;
  if (!equalBytes(pointOf(request.perCommitmentSecret, 'per_commitment_secret', backend.ec), keys.perCommitmentPoint)) {
    throw new RefusedError(
      'E_BAD_PER_COMMITMENT_SECRET',
      `the per-commitment secret is not the one of commitment ${revoked.txid} (its point is not ${toHex(keys.perCommitmentPoint)})`,
    );
  }
  const revocationPrivkey = deriveRevocationPrivkey(request.revocationBasepointSecret, request.perCommitmentSecret, backend.ec);
  if (!equalBytes(pointOf(revocationPrivkey, 'revocationprivkey', backend.ec), keys.revocationPubkey)) {
    throw new RefusedError('E_WRONG_SIGNING_KEY', 'the revocation basepoint secret is not the one this commitment\'s revocationpubkey was derived from');
  }

  const revocable = revocableOutputs(revoked);
  const chosen = request.outputs === undefined ? revocable : request.outputs.map((vout) => {
    const input = revocable.find((i) => i.vout === vout);
    if (!input) throw new RefusedError('E_NOT_REVOCABLE', `output ${vout} of commitment ${revoked.txid} is not one the revocation key can take`, { vout });
    return input;
  });
  const inputs: PenaltyInput[] = [...chosen];
  if (request.secondStage?.length) {
    const second = revoked.params.format.secondStage(keys, revoked.params.toSelfDelay).witnessScript!;
    for (const s of request.secondStage) inputs.push({ ...s, kind: 'second_stage', witnessScript: second });
  }
  if (inputs.length === 0) throw new RefusedError('E_PENALTY_NOTHING_TO_TAKE', `commitment ${revoked.txid} has no output the revocation key can take`);

  const total = inputs.reduce((a, i) => a + i.amountSat, 0n);
  const unsigned: Tx = {
    version: 2,
    lockTime: 0,
    inputs: inputs.map((i) => ({ txid: i.txid, vout: i.vout, sequence: PENALTY_SEQUENCE })),
    outputs: [{ amount: total, script: request.destinationScript }],
  };
  const estimated = weight({ ...unsigned, inputs: unsigned.inputs.map((x, n) => ({ ...x, witness: witnessFor(inputs[n]!, MAX_SIGNATURE, keys.revocationPubkey) })) });
  const feeSat = feeFromWeight(request.feeratePerKw, estimated);
  const amount = total - feeSat;
  const dust = dustThreshold(request.destinationScript);
  if (amount < dust) {
    throw new RefusedError('E_PENALTY_BELOW_DUST', `the penalty would pay ${amount} sat after a ${feeSat} sat fee, below the ${dust} sat dust threshold`);
  }
  const tx: Tx = { ...unsigned, outputs: [{ amount, script: request.destinationScript }] };
  const signedInputs = tx.inputs.map((input, n) => {
    const spent = inputs[n]!;
    const digest = segwitV0Sighash(tx, n, spent.witnessScript, spent.amountSat, SIGHASH_ALL);
    const signature = Uint8Array.from([...derFromCompact(backend.ecdsa.signCompact(digest, revocationPrivkey)), SIGHASH_ALL]);
    return { ...input, witness: witnessFor(spent, signature, keys.revocationPubkey) };
  });
  const signed: Tx = { ...tx, inputs: signedInputs };
  return { tx: signed, hex: toHex(serializeTx(signed)), txid: txid(signed), inputs, feeSat, weight: estimated };
}
