/** The JSON edge of ./plan.ts: `route/request` in, `route/plan` out and back in for `route check`. */
import type { Static } from '@sinclair/typebox';
import { fromHex, toHex } from '../bytes.ts';
import { validatePublicKey } from '../keys/keys.ts';
import { decodeMessage } from '../message.ts';
import type { Network } from '../network.ts';
import { type ChannelPolicy, type PlannedHop, type RouteHop, checkRoute, planRoute } from './plan.ts';
import { RoutePlanSchema, RouteRequestSchema } from './schemas.ts';

type JsonPolicy = Static<typeof RouteRequestSchema>['hops'][number]['policy'];
const policyOf = (p: JsonPolicy): ChannelPolicy => ({ feeBaseMsat: BigInt(p.fee_base_msat), feeProportionalMillionths: BigInt(p.fee_proportional_millionths), cltvExpiryDelta: p.cltv_expiry_delta });
const nodeId = (hex: string, i: number) => validatePublicKey(fromHex(hex, `hops[${i}].node_id`, 33), `hops[${i}].node_id`);

export function planFromRequest(value: unknown): { network: Network; message: Record<string, unknown> } {
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
        payload: { amt_to_forward: h.amtToForward.toString(), outgoing_cltv_value: h.outgoingCltvValue, ...(h.outgoingShortChannelId ? { short_channel_id: h.outgoingShortChannelId } : {}) },
      })),
    },
  };
}

/** `route check`: every hop's rules on a plan as given (someone else's, or edited). */
export function checkPlan(value: unknown): { network: Network; hops: number; totalFeeMsat: string } {
  const m = decodeMessage(RoutePlanSchema, value);
  const hops: PlannedHop[] = m.hops.map((h, i) => ({
    nodeId: nodeId(h.node_id, i),
    amountMsat: BigInt(h.amount_msat),
    cltvExpiry: h.cltv_expiry,
    amtToForward: BigInt(h.payload.amt_to_forward),
    outgoingCltvValue: h.payload.outgoing_cltv_value,
    feeMsat: BigInt(h.fee_msat),
  }));
  checkRoute(hops, m.hops.map((h) => policyOf(h.policy)));
  return { network: m.network, hops: hops.length, totalFeeMsat: (hops[0]!.amountMsat - hops.at(-1)!.amtToForward).toString() };
}
