/**
 * Commitment formats: everything that differs between channel types, as one object per
 * format, so the commitment builder (./commitment.ts) and the HTLC transaction builder
 * (./htlc-tx.ts) never ask "which format is this?". A new format (a taproot channel,
 * another anchor scheme) is a new object here; the builders stay as they are.
 *
 * - `legacy`: option_static_remotekey (BOLT 3 Appendix C). The commitment fee is paid
 *   at signing time, HTLC transactions pay their own fee out of the HTLC, no anchors.
 * - `anchors`: option_anchors_zero_fee_htlc_tx (Appendix F). Two 330-sat keyed anchors
 *   for CPFP, paid by the opener; `to_remote` and HTLC outputs wait 1 block (CSV); HTLC
 *   transactions carry no fee and the remote signs them SIGHASH_SINGLE|ANYONECANPAY so
 *   the holder can attach fee inputs.
 * - `zero-fee`: option_zero_fee_commitments (bolts#1228). Version-3 (TRUC) commitment
 *   and HTLC transactions with no fee at all; one shared pay-to-anchor (P2A) output
 *   holding what trimming left unassigned, up to 240 sat; plain P2WPKH `to_remote` and
 *   no CSV on HTLC outputs (TRUC already limits the package).
 *
 * All three have option_static_remotekey: `remotepubkey` is the remote payment_basepoint.
 */
import { equalBytes } from '../bytes.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import type { AnchorOutput, CommitmentFormat, CommitmentFormatName, CommitmentKeys, Htlc, OutputTemplate } from './channel.ts';
import { P2A_SCRIPT, p2wpkh, p2wsh } from './script.ts';
import { anchorScript, offeredHtlcScript, receivedHtlcScript, toLocalScript, toRemoteAnchorsScript } from './scripts.ts';
import { SIGHASH_ALL, SIGHASH_ANYONECANPAY, SIGHASH_SINGLE } from './sighash.ts';

/** BOLT 3: `fee = feerate_per_kw * weight / 1000`, rounded down. */
export function feeFromWeight(feeratePerKw: number, weight: number): bigint {
  return (BigInt(feeratePerKw) * BigInt(weight)) / 1000n;
}

/** BOLT 3 "Appendix A: Expected Weights", per format. */
export const WEIGHTS = {
  legacy: { commitmentBase: 724, perHtlc: 172, htlcTimeout: 663, htlcSuccess: 703 },
  anchors: { commitmentBase: 1124, perHtlc: 172, htlcTimeout: 666, htlcSuccess: 706 },
} as const;

/** `to_local_anchor` / `to_remote_anchor` value. */
export const ANCHOR_OUTPUT_SAT = 330n;
/** The most a zero-fee commitment's shared P2A anchor may hold (larger would not be standard dust). */
export const P2A_MAX_SAT = 240n;

function wsh(witnessScript: Uint8Array): OutputTemplate {
  return { script: p2wsh(witnessScript), witnessScript };
}

/**
 * `to_local` and the second stage's output are one script of one commitment's keys: made once
 * for the commitment (its keys object, whose two key arrays are checked to be the ones it was
 * made of, as ./scripts.ts's HTLC templates are) and shared by its HTLC transactions.
 */
const toLocalOutputs = new WeakMap<CommitmentKeys, { revocationPubkey: Uint8Array; localDelayedPubkey: Uint8Array; toSelfDelay: number; output: OutputTemplate }>();
function toLocalOutput(keys: CommitmentKeys, toSelfDelay: number): OutputTemplate {
  const hit = toLocalOutputs.get(keys);
  if (hit && hit.revocationPubkey === keys.revocationPubkey && hit.localDelayedPubkey === keys.localDelayedPubkey && hit.toSelfDelay === toSelfDelay) {
    return { ...hit.output };
  }
  const output = wsh(toLocalScript(keys.revocationPubkey, toSelfDelay, keys.localDelayedPubkey));
  toLocalOutputs.set(keys, { revocationPubkey: keys.revocationPubkey, localDelayedPubkey: keys.localDelayedPubkey, toSelfDelay, output });
  return { ...output };
}

/**
 * An anchor output of a funding key: the same on every commitment of the channel, so kept by
 * the key's array (public; its copy compared first, so a key changed in place is not answered
 * with a stale script).
 */
const anchorOutputs = new WeakMap<Uint8Array, { of: Uint8Array; output: OutputTemplate }>();
function anchorOutput(fundingPubkey: Uint8Array): OutputTemplate {
  const hit = anchorOutputs.get(fundingPubkey);
  if (hit && equalBytes(hit.of, fundingPubkey)) return { ...hit.output };
  const output = wsh(anchorScript(fundingPubkey));
  anchorOutputs.set(fundingPubkey, { of: Uint8Array.from(fundingPubkey), output });
  return { ...output };
}

/** Outputs every segwit v0 format shares: only the CSV on HTLC outputs differs. */
function segwitV0Outputs(htlcCsv: number) {
  return {
    toLocal: toLocalOutput,
    offeredHtlc: (keys: CommitmentKeys, htlc: Htlc) => wsh(offeredHtlcScript(keys, htlc.paymentHash, htlcCsv)),
    receivedHtlc: (keys: CommitmentKeys, htlc: Htlc) => wsh(receivedHtlcScript(keys, htlc.paymentHash, htlc.cltvExpiry, htlcCsv)),
    secondStage: toLocalOutput,
  };
}

export const LEGACY: CommitmentFormat = {
  name: 'legacy',
  channelType: ['option_static_remotekey'],
  commitmentTxVersion: 2,
  htlcTxVersion: 2,
  checkFeerate: () => undefined,
  commitmentFee: (rate, n) => feeFromWeight(rate, WEIGHTS.legacy.commitmentBase + WEIGHTS.legacy.perHtlc * n),
  htlcTxFee: (kind, rate) => feeFromWeight(rate, kind === 'htlc-timeout' ? WEIGHTS.legacy.htlcTimeout : WEIGHTS.legacy.htlcSuccess),
  openerAnchorCostSat: 0n,
  htlcCsv: 0,
  remoteHtlcSighash: SIGHASH_ALL,
  ...segwitV0Outputs(0),
  toRemote: (remotePubkey) => ({ script: p2wpkh(remotePubkey) }),
  anchors: () => [],
};

export const ANCHORS: CommitmentFormat = {
  name: 'anchors',
  channelType: ['option_static_remotekey', 'option_anchors'],
  commitmentTxVersion: 2,
  htlcTxVersion: 2,
  checkFeerate: () => undefined,
  commitmentFee: (rate, n) => feeFromWeight(rate, WEIGHTS.anchors.commitmentBase + WEIGHTS.anchors.perHtlc * n),
  htlcTxFee: () => 0n,
  openerAnchorCostSat: 2n * ANCHOR_OUTPUT_SAT,
  htlcCsv: 1,
  remoteHtlcSighash: SIGHASH_SINGLE | SIGHASH_ANYONECANPAY,
  ...segwitV0Outputs(1),
  toRemote: (remotePubkey) => wsh(toRemoteAnchorsScript(remotePubkey)),
  anchors(ctx) {
    // Each anchor exists while its owner has something on this commitment to bump.
    const out: AnchorOutput[] = [];
    if (ctx.hasToLocal || ctx.hasUntrimmedHtlcs) {
      out.push({ kind: 'to_local_anchor', amountSat: ANCHOR_OUTPUT_SAT, ...anchorOutput(ctx.localFundingPubkey) });
    }
    if (ctx.hasToRemote || ctx.hasUntrimmedHtlcs) {
      out.push({ kind: 'to_remote_anchor', amountSat: ANCHOR_OUTPUT_SAT, ...anchorOutput(ctx.remoteFundingPubkey) });
    }
    return out;
  },
};

export const ZERO_FEE: CommitmentFormat = {
  name: 'zero-fee',
  channelType: ['option_static_remotekey', 'option_zero_fee_commitments'],
  commitmentTxVersion: 3,
  htlcTxVersion: 3,
  checkFeerate(rate) {
    if (rate !== 0) {
      throw new RefusedError('E_COMMITMENT_FEERATE', `a zero-fee commitment has no feerate (feerate_per_kw must be 0, got ${rate})`);
    }
  },
  commitmentFee: () => 0n,
  htlcTxFee: () => 0n,
  openerAnchorCostSat: 0n,
  htlcCsv: 0,
  remoteHtlcSighash: SIGHASH_SINGLE | SIGHASH_ANYONECANPAY,
  ...segwitV0Outputs(0),
  toRemote: (remotePubkey) => ({ script: p2wpkh(remotePubkey) }),
  // Always present, even at 0 sat: it is how the package's child pays for the parent.
  anchors: (ctx) => [{ kind: 'shared_anchor', amountSat: ctx.unassignedSat < P2A_MAX_SAT ? ctx.unassignedSat : P2A_MAX_SAT, script: P2A_SCRIPT }],
};

export const COMMITMENT_FORMATS: Readonly<Record<CommitmentFormatName, CommitmentFormat>> = {
  legacy: LEGACY,
  anchors: ANCHORS,
  'zero-fee': ZERO_FEE,
};

/** The format of a name as JSON carries it. */
export function commitmentFormat(name: string): CommitmentFormat {
  const format = (COMMITMENT_FORMATS as Record<string, CommitmentFormat | undefined>)[name];
  if (!format) {
    throw new MalformedInputError('E_UNKNOWN_COMMITMENT_FORMAT', `unknown commitment format "${name}" (known: ${Object.keys(COMMITMENT_FORMATS).join(', ')})`);
  }
  return format;
}
