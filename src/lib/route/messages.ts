/** The JSON edge of ./plan.ts: `route/request` in, `route/plan` out and back in for `route check`. */
import type { Static } from '@sinclair/typebox';
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import { RefusedError, UsageError } from '../errors.ts';
import { validatePublicKey } from '../keys/keys.ts';
import { decodeMessage } from '../message.ts';
import type { Network } from '../network.ts';
import { type ChannelPolicy, type PlannedHop, type RouteHop, MAX_HOPS, checkRoute, planRoute } from './plan.ts';
import { RoutePlanSchema, RouteRequestSchema } from './schemas.ts';

type JsonPolicy = Static<typeof RouteRequestSchema>['hops'][number]['policy'];
const policyOf = (p: JsonPolicy): ChannelPolicy => ({ feeBaseMsat: BigInt(p.fee_base_msat), feeProportionalMillionths: BigInt(p.fee_proportional_millionths), cltvExpiryDelta: p.cltv_expiry_delta });
/**
 * A route longer than an onion holds is refused before the rest of the message is
 * validated (measured: 150,000 hops, 30 MB, took 12 s to refuse after checking each hop).
 */
function refuseLongRoute(value: unknown): void {
  const hops = (value as { hops?: unknown } | null)?.hops;
  if (Array.isArray(hops) && hops.length > MAX_HOPS) throw new RefusedError('E_ROUTE_TOO_LONG', `${hops.length} hops do not fit a 1300-byte onion; at most ${MAX_HOPS}`);
}
const nodeId = (hex: string, i: number) => validatePublicKey(fromHex(hex, `hops[${i}].node_id`, 33), `hops[${i}].node_id`);

export function planFromRequest(value: unknown): { network: Network; message: Record<string, unknown> } {
  refuseLongRoute(value);
  const m = decodeMessage(RouteRequestSchema, value);
  const hops: RouteHop[] = m.hops.map((h, i) => ({ nodeId: nodeId(h.node_id, i), ...(h.short_channel_id ? { shortChannelId: h.short_channel_id } : {}), policy: policyOf(h.policy) }));
  const plan = planRoute(hops, BigInt(m.final_amount_msat), m.final_cltv_expiry);
  const first = plan.hops[0]!;
  return {
    network: m.network,
    message: {
      type: 'route/plan',
      version: 1,
      network: m.network,
      final_amount_msat: m.final_amount_msat,
      final_cltv_expiry: m.final_cltv_expiry,
      total_fee_msat: plan.totalFeeMsat.toString(),
      first_htlc: { amount_msat: first.amountMsat.toString(), cltv_expiry: first.cltvExpiry, ...(first.shortChannelId ? { short_channel_id: first.shortChannelId } : {}) },
      hops: plan.hops.map((h, i) => ({
        node_id: toHex(h.nodeId),
        ...(h.shortChannelId ? { short_channel_id: h.shortChannelId } : {}),
        policy: m.hops[i]!.policy,
        amount_msat: h.amountMsat.toString(),
        cltv_expiry: h.cltvExpiry,
        fee_msat: h.feeMsat.toString(),
        payload: {
          amt_to_forward: h.amtToForward.toString(),
          outgoing_cltv_value: h.outgoingCltvValue,
          ...(h.outgoingShortChannelId ? { short_channel_id: h.outgoingShortChannelId } : {}),
          // The payee's alone: a forwarding node that saw the secret could probe or claim as the payee.
          ...(i === plan.hops.length - 1 && m.payment_data ? { payment_data: { payment_secret: m.payment_data.payment_secret.toLowerCase(), total_msat: m.payment_data.total_msat } } : {}),
        },
      })),
    },
  };
}

/** A forwarding node's own view for `route check --node-id --policy`: its id and its channel_update's terms for the outgoing channel. */
export type OwnPolicy = { nodeId: Uint8Array; policy: ChannelPolicy };

/**
 * `route check`: every hop's rules on a plan as given (someone else's, or edited), and
 * every field that is a function of the hops recomputed from them — the summary
 * (`first_htlc`, `total_fee_msat`, `final_amount_msat`, `final_cltv_expiry`), each hop's
 * `fee_msat` and each payload's `short_channel_id` (the next hop's channel) — so a plan
 * whose summary or payloads contradict its hops is refused (E_ROUTE_MISMATCH, naming the
 * field), not passed on to an onion builder. With `own`, the hop of that node is checked
 * against its own policy (its channel_update), not the plan's copy of it.
 */
export function checkPlan(value: unknown, own?: OwnPolicy): { network: Network; hops: number; totalFeeMsat: string } {
  refuseLongRoute(value);
  const m = decodeMessage(RoutePlanSchema, value);
  const hops: PlannedHop[] = m.hops.map((h, i) => ({
    nodeId: nodeId(h.node_id, i),
    amountMsat: BigInt(h.amount_msat),
    cltvExpiry: h.cltv_expiry,
    amtToForward: BigInt(h.payload.amt_to_forward),
    outgoingCltvValue: h.payload.outgoing_cltv_value,
    feeMsat: BigInt(h.fee_msat),
  }));
  const policies = m.hops.map((h) => policyOf(h.policy));
  if (own) {
    const at = hops.flatMap((h, i) => (equalBytes(h.nodeId, own.nodeId) ? [i] : []));
    if (at.length !== 1) throw new RefusedError('E_ROUTE_NODE', `node ${toHex(own.nodeId)} appears ${at.length} times in this plan; a forwarding node checks its own hop, exactly once`);
    const i = at[0]!;
    if (i === hops.length - 1) throw new UsageError('E_USAGE', '--policy is a forwarding node\'s: this node is the payee, which forwards nothing');
    // The plan's policies[i + 1] is the sender's copy of this node's outgoing channel_update.
    policies[i + 1] = own.policy;
  }
  checkRoute(hops, policies);
  checkDerivedFields(m, hops);
  return { network: m.network, hops: hops.length, totalFeeMsat: (hops[0]!.amountMsat - hops.at(-1)!.amtToForward).toString() };
}

/** Every field of a plan that the hops determine, recomputed from them. */
function checkDerivedFields(m: Static<typeof RoutePlanSchema>, hops: readonly PlannedHop[]): void {
  const mismatch = (field: string, given: unknown, fromHops: unknown): never => {
    throw new RefusedError('E_ROUTE_MISMATCH', `${field} is ${String(given)}, but the hops give ${String(fromHops)}: refusing a plan whose fields contradict its hops`);
  };
  const first = hops[0]!;
  const last = hops.at(-1)!;
  if (BigInt(m.final_amount_msat) !== last.amtToForward) mismatch('final_amount_msat', m.final_amount_msat, last.amtToForward);
  if (m.final_cltv_expiry !== last.outgoingCltvValue) mismatch('final_cltv_expiry', m.final_cltv_expiry, last.outgoingCltvValue);
  if (BigInt(m.first_htlc.amount_msat) !== first.amountMsat) mismatch('first_htlc.amount_msat', m.first_htlc.amount_msat, first.amountMsat);
  if (m.first_htlc.cltv_expiry !== first.cltvExpiry) mismatch('first_htlc.cltv_expiry', m.first_htlc.cltv_expiry, first.cltvExpiry);
  if (m.first_htlc.short_channel_id !== m.hops[0]!.short_channel_id) mismatch('first_htlc.short_channel_id', m.first_htlc.short_channel_id, m.hops[0]!.short_channel_id);
  const totalFee = first.amountMsat - last.amtToForward;
  if (BigInt(m.total_fee_msat) !== totalFee) mismatch('total_fee_msat', m.total_fee_msat, totalFee);
  m.hops.forEach((h, i) => {
    const fee = hops[i]!.amountMsat - hops[i]!.amtToForward;
    if (BigInt(h.fee_msat) !== fee) mismatch(`hops[${i}].fee_msat`, h.fee_msat, fee);
    // The channel a hop forwards on is the one that reaches the next hop; the payee forwards on none.
    const next = m.hops[i + 1]?.short_channel_id;
    if (h.payload.short_channel_id !== next) mismatch(`hops[${i}].payload.short_channel_id`, h.payload.short_channel_id ?? 'absent', next ?? 'absent');
    // payment_data is the payee's (BOLT 4): never on a forwarding hop, and never promising less than the payee is paid.
    const pd = h.payload.payment_data;
    if (pd !== undefined && i < m.hops.length - 1) mismatch(`hops[${i}].payload.payment_data`, 'present', 'absent on a forwarding hop (the payee\'s secret)');
    if (pd !== undefined && BigInt(pd.total_msat) < hops[i]!.amtToForward) mismatch(`hops[${i}].payload.payment_data.total_msat`, pd.total_msat, `at least amt_to_forward ${hops[i]!.amtToForward}`);
  });
}
