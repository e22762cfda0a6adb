/**
 * `onion build` on route plan's output: a route/plan, checked as `route check` checks it,
 * as an onion/route — its payloads, plus --payment-hash (the associated data) and
 * --payment-secret (the final hop's payment_data, total_msat = final_amount_msat).
 */
import { fromHex } from '../../lib/bytes.ts';
import { UsageError } from '../../lib/errors.ts';
import { flagValue } from '../../lib/cli/flags.ts';

export async function onionRouteFromPlan(value: unknown, hash: string | undefined, secret: string | undefined) {
  const { decodeMessage } = await import('../../lib/message.ts');
  const { RoutePlanSchema } = await import('../../lib/route/schemas.ts');
  const plan = decodeMessage(RoutePlanSchema, value);
  // The same checks as `route check`: no onion for a plan whose hops break a forwarding rule
  // or whose summary and payloads contradict its hops.
  const { checkPlan } = await import('../../lib/route/messages.ts');
  checkPlan(value);
  if (hash === undefined) throw new UsageError('E_USAGE', 'a route/plan input needs --payment-hash (the associated data)');
  flagValue(() => fromHex(hash, '--payment-hash', 32));
  if (secret !== undefined) flagValue(() => fromHex(secret, '--payment-secret', 32));
  const last = plan.hops.length - 1;
  // A plan from an invoice (route plan --invoice) carries the payee's payment_data already: a different secret is a mistake.
  const carried = plan.hops[last]!.payload.payment_data;
  if (carried !== undefined && secret !== undefined && secret.toLowerCase() !== carried.payment_secret.toLowerCase()) {
    throw new UsageError('E_USAGE', `--payment-secret differs from the plan's payment_data (${carried.payment_secret}, from its invoice): drop the flag`);
  }
  return {
    type: 'onion/route' as const, version: 1 as const, network: plan.network, associated_data: hash.toLowerCase(),
    hops: plan.hops.map((h, i) => ({
      node_id: h.node_id,
      payload: { ...h.payload, ...(i === last && secret !== undefined ? { payment_data: { payment_secret: secret.toLowerCase(), total_msat: plan.final_amount_msat } } : {}) },
    })),
  };
}
