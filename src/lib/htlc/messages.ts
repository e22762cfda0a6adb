/**
 * The JSON edge of the HTLC library: `htlc/created` to and from an HtlcSpec, and the
 * `htlc/spend` and `htlc/decoded` messages. A created message is trusted for nothing:
 * its parameters are decoded and the whole output rebuilt, and every derived field the
 * message carries (address, scripts, keys, control blocks, descriptor) must equal the
 * rebuilt one, else E_HTLC_MISMATCH — an edited address or script is never spent from.
 */
import { base64 } from '@scure/base';
import type { Static } from '@sinclair/typebox';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { fromHex, toHex } from '../bytes.ts';
import { scriptAddress } from '../address.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { validatePublicKey } from '../keys/keys.ts';
import { sameJson } from '../json.ts';
import { decodeMessage } from '../message.ts';
import type { Network } from '../network.ts';
import { tapLeafHash } from '../taproot/tree.ts';
import { htlcOutput, payerKey, recipientKey, timeoutOf, type HtlcOutput, type HtlcSpec } from './htlc.ts';
import { HtlcCreatedSchema } from './schemas.ts';

export type HtlcCreated = Static<typeof HtlcCreatedSchema>;

export function createdMessage(out: HtlcOutput, network: Network, amountSat?: bigint): Record<string, unknown> {
  const { spec } = out;
  const address = scriptAddress(out.scriptPubKey, network);
  if (!address) throw new Error('internal: an HTLC output without an address');
  const msg: Record<string, unknown> = {
    type: 'htlc/created',
    version: 1,
    network,
    kind: spec.kind,
    address,
    script_pubkey: toHex(out.scriptPubKey),
    payment_hash: toHex(spec.paymentHash),
    recipient: toHex(recipientKey(spec)),
    payer: toHex(payerKey(spec)),
    locktime: timeoutOf(spec),
  };
  if (amountSat !== undefined) msg.amount_sat = amountSat;
  if (out.witnessScript) {
    msg.witness_script = toHex(out.witnessScript);
    msg.payment_hash160 = toHex(ripemd160(spec.paymentHash));
  }
  if (spec.kind === 'seed') msg.size_check = spec.sizeCheck;
  if (spec.kind === 'offered' || spec.kind === 'received') {
    Object.assign(msg, {
      revocation_pubkey: toHex(spec.revocationPubkey),
      local_htlc_pubkey: toHex(spec.localHtlcPubkey),
      remote_htlc_pubkey: toHex(spec.remoteHtlcPubkey),
      anchors: spec.anchors,
      to_self_delay: spec.secondStage.toSelfDelay,
      local_delayed_pubkey: toHex(spec.secondStage.localDelayedPubkey),
      feerate_per_kw: spec.secondStage.feeratePerKw,
    });
  }
  if (out.taproot) {
    const t = out.taproot;
    Object.assign(msg, {
      internal_key: toHex(t.internalKey),
      participants: t.participants.map(toHex),
      merkle_root: toHex(t.merkleRoot),
      output_key: toHex(t.outputKey),
      leaves: {
        claim: { script: toHex(t.claimLeaf), control_block: toHex(t.claimControlBlock), leaf_hash: toHex(tapLeafHash(t.claimLeaf)) },
        refund: { script: toHex(t.refundLeaf), control_block: toHex(t.refundControlBlock), leaf_hash: toHex(tapLeafHash(t.refundLeaf)) },
      },
      descriptor: out.descriptor,
    });
  }
  return msg;
}

/** Decode and re-derive an `htlc/created` message; its network is returned for the network rule. */
export function htlcFromMessage(value: unknown): { htlc: HtlcOutput; network: Network; amountSat?: bigint; message: HtlcCreated } {
  const m = decodeMessage(HtlcCreatedSchema, value);
  const key = (field: keyof HtlcCreated) => {
    const v = m[field];
    if (typeof v !== 'string') throw new MalformedInputError('E_MALFORMED_MESSAGE', `htlc/created: a ${m.kind} HTLC needs ${String(field)}`);
    return validatePublicKey(fromHex(v, String(field), 33), String(field));
  };
  const paymentHash = fromHex(m.payment_hash, 'payment_hash', 32);
  let spec: HtlcSpec;
  switch (m.kind) {
    case 'seed':
      spec = { kind: 'seed', paymentHash, recipient: key('recipient'), payer: key('payer'), locktime: m.locktime, sizeCheck: m.size_check ?? true };
      break;
    case 'taproot':
      spec = { kind: 'taproot', paymentHash, recipient: key('recipient'), payer: key('payer'), locktime: m.locktime };
      break;
    default: {
      const need = <T>(v: T | undefined, field: string): T => {
        if (v === undefined) throw new MalformedInputError('E_MALFORMED_MESSAGE', `htlc/created: a ${m.kind} HTLC needs ${field}`);
        return v;
      };
      spec = {
        kind: m.kind as 'offered' | 'received',
        paymentHash,
        revocationPubkey: key('revocation_pubkey'),
        localHtlcPubkey: key('local_htlc_pubkey'),
        remoteHtlcPubkey: key('remote_htlc_pubkey'),
        cltvExpiry: m.locktime,
        anchors: need(m.anchors, 'anchors'),
        secondStage: {
          toSelfDelay: need(m.to_self_delay, 'to_self_delay'),
          localDelayedPubkey: key('local_delayed_pubkey'),
          feeratePerKw: need(m.feerate_per_kw, 'feerate_per_kw'),
        },
      };
    }
  }
  const htlc = htlcOutput(spec);
  const rebuilt = createdMessage(htlc, m.network, m.amount_sat === undefined ? undefined : BigInt(m.amount_sat));
  for (const [field, v] of Object.entries(m)) {
    if (!sameJson(rebuilt[field], v)) {
      throw new RefusedError('E_HTLC_MISMATCH', `htlc/created: ${field} is not what the HTLC's parameters give; refusing an edited description`);
    }
  }
  for (const field of Object.keys(rebuilt)) {
    if (!(field in m)) throw new MalformedInputError('E_MALFORMED_MESSAGE', `htlc/created: ${field} is missing`);
  }
  return { htlc, network: m.network, ...(m.amount_sat === undefined ? {} : { amountSat: BigInt(m.amount_sat) }), message: m };
}

export type SpendFields = {
  path: 'claim' | 'refund' | 'revoke' | 'htlc-timeout' | 'htlc-success' | 'cooperative';
  complete: boolean;
  txid: string;
  outpoint: { txid: string; vout: number };
  amountSat: bigint;
  feeSat: bigint;
  lockTime: number;
  sequence: number;
  hex?: string;
  psbt?: Uint8Array;
  missing?: string[];
};

export function spendMessage(created: HtlcCreated, f: SpendFields): Record<string, unknown> {
  const msg: Record<string, unknown> = {
    type: 'htlc/spend',
    version: 1,
    network: created.network,
    kind: created.kind,
    path: f.path,
    complete: f.complete,
    txid: f.txid,
    outpoint: f.outpoint,
    amount_sat: f.amountSat,
    fee_sat: f.feeSat,
    locktime: f.lockTime,
    sequence: f.sequence,
  };
  if (f.hex) msg.hex = f.hex;
  if (f.psbt) msg.psbt = base64.encode(f.psbt);
  if (!f.complete) {
    msg.missing = f.missing ?? [];
    msg.htlc = created; // the next signer needs the HTLC as well as the PSBT
  }
  return msg;
}
