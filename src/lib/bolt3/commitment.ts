/**
 * BOLT 3 "Commitment Transaction Construction", step by step as the spec lists it:
 *
 *  1. the input (funding outpoint) and nLockTime / nSequence from the obscured number;
 *  2. which HTLCs are trimmed: an HTLC whose amount, less the fee of the second-stage
 *     transaction that would claim it, is below the holder's dust limit;
 *  3. the base fee from the number of untrimmed HTLC outputs;
 *  4. the fee (and the keyed anchors) subtracted from the opener, never below zero;
 *  5-6. an output per untrimmed offered / received HTLC;
 *  7-8. to_local and to_remote, each only if at least the dust limit;
 *  9. the format's anchors;
 * 10. BIP-69 order (amount, then scriptPubKey), HTLC outputs that tie ordered by
 *     cltv_expiry.
 *
 * Invariants: the outputs never pay more than the funding amount (the balance check in
 * ./channel.ts, then only subtractions; keyed anchors the opener cannot pay for are
 * refused, E_COMMITMENT_UNBALANCED); a trimmed amount goes to the fee (or, with
 * zero-fee commitments, up to 240 sat into the shared anchor); everything that differs
 * between formats is asked of `params.format` (./formats.ts).
 */
import { compareBytes } from '../bytes.ts';
import { RefusedError } from '../errors.ts';
import { NOBLE, type Bolt3Backend } from './backend.ts';
import {
  Channel, checkCommitmentState, obscuredCommitmentNumber, type AnchorKind, type ChannelParameters, type CommitmentKeys, type CommitmentState, type Htlc, type OutputTemplate,
} from './channel.ts';
import { txid, type Tx } from './tx.ts';

export type CommitmentOutputKind = 'to_local' | 'to_remote' | 'offered_htlc' | 'received_htlc' | AnchorKind;

export type CommitmentOutput = {
  /** Position in the transaction. */
  index: number;
  kind: CommitmentOutputKind;
  amountSat: bigint;
  /** scriptPubKey */
  script: Uint8Array;
  /** The P2WSH witness script (absent for P2WPKH to_remote and the P2A anchor). */
  witnessScript?: Uint8Array;
  /** For HTLC outputs: the HTLC. */
  htlc?: Htlc;
};

export type CommitmentTransaction = {
  params: ChannelParameters;
  state: CommitmentState;
  keys: CommitmentKeys;
  /** The unsigned transaction (empty witness); ./sign.ts adds the 2-of-2 witness. */
  tx: Tx;
  txid: string;
  /** Every output, in transaction order. */
  outputs: CommitmentOutput[];
  /** The 48-bit obscured commitment number carried in nLockTime and nSequence. */
  obscuredCommitmentNumber: number;
  /** BOLT 3's base fee (step 3), as computed: the opener may have had less to pay it with. */
  baseFeeSat: bigint;
  /** What the transaction actually leaves to miners: funding minus every output. */
  actualFeeSat: bigint;
  trimmedHtlcs: Htlc[];
};

/** Step 2: whether `htlc` is trimmed from a commitment with this format, feerate and dust limit. */
export function isTrimmed(params: ChannelParameters, feeratePerKw: number, htlc: Htlc): boolean {
  const kind = htlc.direction === 'offered' ? 'htlc-timeout' : 'htlc-success';
  return htlc.amountMsat / 1000n < params.dustLimitSatoshis + params.format.htlcTxFee(kind, feeratePerKw);
}

/** BIP-69 with BOLT 3's tie-break: amount, scriptPubKey, then cltv_expiry for HTLC outputs. */
function bip69(a: CommitmentOutput, b: CommitmentOutput): number {
  if (a.amountSat !== b.amountSat) return a.amountSat < b.amountSat ? -1 : 1;
  const byScript = compareBytes(a.script, b.script);
  if (byScript !== 0) return byScript;
  return (a.htlc?.cltvExpiry ?? 0) - (b.htlc?.cltvExpiry ?? 0);
}

/**
 * Build the commitment transaction held by `local` in `state`: of a Channel the caller holds
 * (its backend), or of plain parameters (on `backend`).
 */
export function buildCommitment(channel: Channel | ChannelParameters, state: CommitmentState, backend: Bolt3Backend = NOBLE): CommitmentTransaction {
  const ch = channel instanceof Channel ? channel : new Channel(channel, backend);
  const { params } = ch;
  checkCommitmentState(params, state);
  const { format } = params;
  format.checkFeerate(state.feeratePerKw);
  // Points used as they are (funding script, obscuring factor) must be points too.
  ch.point(params.local.fundingPubkey, 'local funding_pubkey');
  ch.point(params.remote.fundingPubkey, 'remote funding_pubkey');
  ch.point(params.local.paymentBasepoint, 'local payment_basepoint');
  const keys = ch.commitmentKeys(state.perCommitmentPoint);

  // 1. input and locktime
  const obscured = obscuredCommitmentNumber(ch, state.commitmentNumber);

  // 2. trimming
  const untrimmed: Htlc[] = [];
  const trimmedHtlcs: Htlc[] = [];
  for (const h of state.htlcs) (isTrimmed(params, state.feeratePerKw, h) ? trimmedHtlcs : untrimmed).push(h);

  // 3-4. base fee and anchors, from the opener's balance, never below zero
  const baseFeeSat = format.commitmentFee(state.feeratePerKw, untrimmed.length);
  let toLocalSat = state.toLocalMsat / 1000n;
  let toRemoteSat = state.toRemoteMsat / 1000n;
  const openerOwes = baseFeeSat + format.openerAnchorCostSat;
  if (params.opener === 'local') toLocalSat = toLocalSat > openerOwes ? toLocalSat - openerOwes : 0n;
  else toRemoteSat = toRemoteSat > openerOwes ? toRemoteSat - openerOwes : 0n;

  // 5-6. HTLC outputs (each object made once, in its final shape: `index` is set after sorting)
  const outputs: CommitmentOutput[] = untrimmed.map((htlc) => {
    const { script, witnessScript } = htlc.direction === 'offered' ? format.offeredHtlc(keys, htlc) : format.receivedHtlc(keys, htlc);
    return { index: 0, kind: htlc.direction === 'offered' ? 'offered_htlc' : 'received_htlc', amountSat: htlc.amountMsat / 1000n, script, witnessScript, htlc };
  });
  const output = (kind: CommitmentOutputKind, amountSat: bigint, { script, witnessScript }: OutputTemplate): CommitmentOutput =>
    witnessScript ? { index: 0, kind, amountSat, script, witnessScript } : { index: 0, kind, amountSat, script };

  // 7-8. to_local and to_remote above the dust limit
  const hasToLocal = toLocalSat >= params.dustLimitSatoshis && toLocalSat > 0n;
  const hasToRemote = toRemoteSat >= params.dustLimitSatoshis && toRemoteSat > 0n;
  if (hasToLocal) outputs.push(output('to_local', toLocalSat, format.toLocal(keys, params.toSelfDelay)));
  if (hasToRemote) outputs.push(output('to_remote', toRemoteSat, ch.toRemote));

  // 9. anchors
  let assigned = 0n;
  for (const o of outputs) assigned += o.amountSat;
  for (const anchor of format.anchors({
    localFundingPubkey: params.local.fundingPubkey,
    remoteFundingPubkey: params.remote.fundingPubkey,
    hasToLocal,
    hasToRemote,
    hasUntrimmedHtlcs: untrimmed.length > 0,
    unassignedSat: params.fundingSatoshis - assigned,
  })) {
    outputs.push(output(anchor.kind, anchor.amountSat, anchor));
  }

  // 10. BIP-69 + CLTV order (Array.prototype.sort is stable: identical HTLC outputs keep input order)
  outputs.sort(bip69);
  outputs.forEach((o, index) => {
    o.index = index;
  });

  const tx: Tx = {
    version: format.commitmentTxVersion,
    lockTime: obscured.lockTime,
    inputs: [{ txid: params.fundingOutpoint.txid, vout: params.fundingOutpoint.vout, sequence: obscured.sequence }],
    outputs: outputs.map((o) => ({ amount: o.amountSat, script: o.script })),
  };
  const total = outputs.reduce((a, o) => a + o.amountSat, 0n);
  if (total > params.fundingSatoshis) {
    // Only anchors can do this: they are paid for whatever the opener had left. BOLT 2
    // forbids the state (the opener must afford fee and anchors); we refuse to write it.
    throw new RefusedError(
      'E_COMMITMENT_UNBALANCED',
      `the outputs would pay ${total} sat out of a ${params.fundingSatoshis} sat funding output: the opener cannot pay the ${baseFeeSat} sat fee and the anchors`,
      { outputsSat: total.toString(), fundingSat: params.fundingSatoshis.toString() },
    );
  }
  return {
    params,
    state,
    keys,
    tx,
    txid: txid(tx),
    outputs,
    obscuredCommitmentNumber: obscured.obscured,
    baseFeeSat,
    actualFeeSat: params.fundingSatoshis - total,
    trimmedHtlcs,
  };
}
