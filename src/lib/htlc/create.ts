/**
 * `htlc create` from its textual options: parse and check every key and number, build
 * the output, refuse an amount the output could not carry (dust), and say what to write
 * where. Writes nothing itself: the caller writes the preimage file last.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import { RefusedError, UsageError } from '../errors.ts';
import { parsePublicKey } from '../keys/keys.ts';
import type { Network } from '../network.ts';
import { dustThreshold } from '../tx/policy.ts';
import { htlcOutput, type HtlcKind, type HtlcSpec } from './htlc.ts';
import { createdMessage } from './messages.ts';

export type CreateOptions = {
  kind: HtlcKind;
  paymentHash?: string;
  /** A fresh preimage: its hash is the payment hash. */
  preimage?: Uint8Array;
  payer?: string;
  recipient?: string;
  locktime: number;
  bare?: boolean;
  amountSat?: bigint;
  revocationPubkey?: string;
  localHtlcPubkey?: string;
  remoteHtlcPubkey?: string;
  anchors?: boolean;
  toSelfDelay?: number;
  localDelayedPubkey?: string;
  feeratePerKw?: number;
};

export function createHtlc(o: CreateOptions, network: Network): { message: Record<string, unknown>; preimageFile?: string } {
  const paymentHash = o.preimage ? sha256(o.preimage) : fromHex(o.paymentHash ?? '', '--payment-hash', 32);
  const key = (text: string | undefined, flag: string) => {
    if (text === undefined) throw new UsageError('E_USAGE', `a ${o.kind} HTLC needs ${flag}`);
    return parsePublicKey(text, flag);
  };
  const notFor = (flags: Record<string, unknown>) => {
    for (const [flag, v] of Object.entries(flags)) {
      if (v !== undefined && v !== false) throw new UsageError('E_USAGE', `${flag} does not apply to a ${o.kind} HTLC`);
    }
  };
  let spec: HtlcSpec;
  if (o.kind === 'seed' || o.kind === 'taproot') {
    notFor({
      '--revocation-pubkey': o.revocationPubkey, '--local-htlc-pubkey': o.localHtlcPubkey, '--remote-htlc-pubkey': o.remoteHtlcPubkey,
      '--anchors': o.anchors, '--to-self-delay': o.toSelfDelay, '--local-delayed-pubkey': o.localDelayedPubkey, '--feerate-per-kw': o.feeratePerKw,
      ...(o.kind === 'taproot' ? { '--bare': o.bare } : {}),
    });
    const payer = key(o.payer, '--payer');
    const recipient = key(o.recipient, '--recipient');
    const same = o.kind === 'taproot' ? equalBytes(payer.subarray(1), recipient.subarray(1)) : equalBytes(payer, recipient);
    if (same) throw new UsageError('E_USAGE', 'payer and recipient are the same key: an HTLC needs two parties');
    spec = o.kind === 'seed'
      ? { kind: 'seed', paymentHash, payer, recipient, locktime: o.locktime, sizeCheck: !o.bare }
      : { kind: 'taproot', paymentHash, payer, recipient, locktime: o.locktime };
  } else {
    notFor({ '--payer': o.payer, '--recipient': o.recipient, '--bare': o.bare });
    if (o.toSelfDelay === undefined || o.feeratePerKw === undefined) {
      throw new UsageError('E_USAGE', `a ${o.kind} HTLC needs --to-self-delay and --feerate-per-kw (its second-stage transaction)`);
    }
    spec = {
      kind: o.kind,
      paymentHash,
      revocationPubkey: key(o.revocationPubkey, '--revocation-pubkey'),
      localHtlcPubkey: key(o.localHtlcPubkey, '--local-htlc-pubkey'),
      remoteHtlcPubkey: key(o.remoteHtlcPubkey, '--remote-htlc-pubkey'),
      cltvExpiry: o.locktime,
      anchors: Boolean(o.anchors),
      secondStage: { toSelfDelay: o.toSelfDelay, localDelayedPubkey: key(o.localDelayedPubkey, '--local-delayed-pubkey'), feeratePerKw: o.feeratePerKw },
    };
    if (equalBytes(spec.localHtlcPubkey, spec.remoteHtlcPubkey)) throw new UsageError('E_USAGE', 'local and remote HTLC keys are the same key');
  }
  const out = htlcOutput(spec);
  if (o.amountSat !== undefined) {
    const dust = dustThreshold(out.scriptPubKey);
    if (o.amountSat < dust) {
      throw new RefusedError('E_DUST_AMOUNT', `${o.amountSat} sat is below the ${dust} sat dust limit of this ${out.taproot ? 'P2TR' : 'P2WSH'} output: nobody could spend it`);
    }
  }
  return {
    message: createdMessage(out, network, o.amountSat),
    ...(o.preimage ? { preimageFile: toHex(o.preimage) + '\n' } : {}),
  };
}
