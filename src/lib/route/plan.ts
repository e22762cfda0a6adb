/**
 * Multi-hop route arithmetic (BOLT 7 "Recommendations for Routing", BOLT 4 payloads):
 * given the nodes a payment passes (each with the channel that reaches it and that
 * channel's forwarding policy, set by the node before it), the amount and CLTV expiry
 * the payee must receive, work backwards to what every HTLC carries.
 *
 *     fee(channel, amount)  = fee_base_msat + ⌊amount × fee_proportional_millionths / 1 000 000⌋
 *     incoming amount       = outgoing amount + fee of the outgoing channel's policy
 *     incoming cltv_expiry  = outgoing cltv + cltv_expiry_delta of the outgoing channel
 *
 * (floor division, as LND and Core Lightning compute it). A forwarding node checks the
 * same two rules before it forwards (`checkRoute`): `cltv_expiry − cltv_expiry_delta ≥
 * outgoing_cltv_value` and the amount received covers the amount forwarded plus its fee.
 *
 * Invariants: along the route amounts never increase and expiries strictly decrease by
 * at least each hop's delta; every intermediate node is paid at least its fee; the payee
 * receives exactly the final amount at exactly the final expiry; each hop is checked by
 * its own rule (not only the first), and a forwarding node checks with its own policy,
 * never the sender's copy; every summary field of a plan is a function of its hops and
 * is recomputed, never trusted (./messages.ts `checkPlan`). Amounts are msat
 * bigints (they exceed 2^53 msat above ~90 BTC).
 */
import { MalformedInputError, RefusedError } from '../errors.ts';

/** The most msat that exist: 21 million BTC. */
export const MAX_MSAT = 21_000_000n * 100_000_000n * 1000n;
/** A 1300-byte onion carries at most 27 minimal hop payloads (BOLT 4): the route limit. */
export const MAX_HOPS = 27;

export type ChannelPolicy = { feeBaseMsat: bigint; feeProportionalMillionths: bigint; cltvExpiryDelta: number };

export type RouteHop = {
  nodeId: Uint8Array;
  /** The channel from the previous node (the sender for the first hop) to this one. */
  shortChannelId?: string;
  /** That channel's policy in that direction, set by the previous node: what it charges to forward. */
  policy: ChannelPolicy;
};

export type PlannedHop = {
  nodeId: Uint8Array;
  shortChannelId?: string;
  /** The HTLC this node receives. */
  amountMsat: bigint;
  cltvExpiry: number;
  /** Its BOLT 4 payload: what it forwards (the payee: what it must be paid). */
  amtToForward: bigint;
  outgoingCltvValue: number;
  /** Intermediate nodes: the channel to forward on, and the fee they keep. */
  outgoingShortChannelId?: string;
  feeMsat: bigint;
};

export function channelFee(policy: ChannelPolicy, amountMsat: bigint): bigint {
  return policy.feeBaseMsat + (amountMsat * policy.feeProportionalMillionths) / 1_000_000n;
}

/** The route from the payee backwards: every HTLC's amount and expiry, every payload. */
export function planRoute(hops: readonly RouteHop[], finalAmountMsat: bigint, finalCltvExpiry: number): { hops: PlannedHop[]; totalFeeMsat: bigint } {
  if (hops.length === 0) throw new MalformedInputError('E_ROUTE_EMPTY', 'a route needs at least the payee');
  if (hops.length > MAX_HOPS) throw new RefusedError('E_ROUTE_TOO_LONG', `${hops.length} hops do not fit a 1300-byte onion; at most ${MAX_HOPS}`);
  if (finalAmountMsat <= 0n || finalAmountMsat > MAX_MSAT) throw new MalformedInputError('E_BAD_AMOUNT', `the final amount must be 1 to ${MAX_MSAT} msat`);
  checkCltv(finalCltvExpiry, 'the final cltv expiry');
  const out: PlannedHop[] = new Array(hops.length);
  let amount = finalAmountMsat;
  let cltv = finalCltvExpiry;
  out[hops.length - 1] = { nodeId: hops.at(-1)!.nodeId, ...scid(hops.at(-1)!), amountMsat: amount, cltvExpiry: cltv, amtToForward: amount, outgoingCltvValue: cltv, feeMsat: 0n };
  for (let i = hops.length - 2; i >= 0; i--) {
    const next = hops[i + 1]!;
    const fee = channelFee(next.policy, amount);
    const incoming = amount + fee;
    const incomingCltv = cltv + next.policy.cltvExpiryDelta;
    if (incoming > MAX_MSAT) throw new RefusedError('E_ROUTE_AMOUNT_OVERFLOW', 'the route\'s fees push the first HTLC past 21 million BTC: check the channels\' fee policies');
    checkCltv(incomingCltv, `hop ${i}'s cltv expiry`);
    out[i] = {
      nodeId: hops[i]!.nodeId, ...scid(hops[i]!), amountMsat: incoming, cltvExpiry: incomingCltv,
      amtToForward: amount, outgoingCltvValue: cltv, ...(next.shortChannelId ? { outgoingShortChannelId: next.shortChannelId } : {}), feeMsat: fee,
    };
    amount = incoming;
    cltv = incomingCltv;
  }
  return { hops: out, totalFeeMsat: out[0]!.amountMsat - finalAmountMsat };
}

/**
 * What each forwarding node checks before it forwards: the expiry margin and its fee.
 * `hops` as planRoute returns them (possibly edited by someone else); `policies[i]` is the
 * policy of the channel into hop i.
 */
export function checkRoute(hops: readonly PlannedHop[], policies: readonly ChannelPolicy[]): void {
  for (let i = 0; i + 1 < hops.length; i++) {
    const h = hops[i]!;
    const next = hops[i + 1]!;
    const policy = policies[i + 1]!;
    if (h.amtToForward !== next.amountMsat || h.outgoingCltvValue !== next.cltvExpiry) {
      throw new RefusedError('E_ROUTE_MISMATCH', `hop ${i} forwards ${h.amtToForward} msat at ${h.outgoingCltvValue}, but hop ${i + 1} receives ${next.amountMsat} msat at ${next.cltvExpiry}`);
    }
    if (h.cltvExpiry - policy.cltvExpiryDelta < h.outgoingCltvValue) {
      throw new RefusedError('E_ROUTE_CLTV_SHORT', `hop ${i}: cltv_expiry ${h.cltvExpiry} − cltv_expiry_delta ${policy.cltvExpiryDelta} < outgoing_cltv_value ${h.outgoingCltvValue}`);
    }
    const fee = channelFee(policy, h.amtToForward);
    if (h.amountMsat < h.amtToForward + fee) {
      throw new RefusedError('E_ROUTE_FEE_SHORT', `hop ${i} receives ${h.amountMsat} msat to forward ${h.amtToForward}: short of its ${fee} msat fee`);
    }
  }
  const last = hops.at(-1)!;
  if (last.amountMsat !== last.amtToForward || last.cltvExpiry !== last.outgoingCltvValue) {
    throw new RefusedError('E_ROUTE_MISMATCH', 'the payee\'s HTLC is not what its payload says it must receive');
  }
}

function scid(h: RouteHop): { shortChannelId?: string } {
  return h.shortChannelId ? { shortChannelId: h.shortChannelId } : {};
}

function checkCltv(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 1 || v >= 500_000_000) throw new RefusedError('E_BAD_CLTV', `${what} must be a block height below 500000000, got ${v}`);
}
