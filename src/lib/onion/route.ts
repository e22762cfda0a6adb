/**
 * An onion/route's hops as Sphinx hops (./sphinx.ts's `Hop`): the clear hops with their
 * encoded payloads, then a recipient's blinded path (BOLT 4 route blinding). Pure. Not
 * here: the packet itself (./sphinx.ts buildOnion), the session key.
 */
import type { Static } from '@sinclair/typebox';
import { fromHex } from '../bytes.ts';
import { UsageError } from '../errors.ts';
import { payloadFromJson } from './json.ts';
import { encodeHopPayload } from './payload.ts';
import type { HopPayloadJson, OnionRouteSchema } from './schemas.ts';

export type OnionRoute = Static<typeof OnionRouteSchema>;

/** Every hop of the route, clear then blinded; a route with none is refused. */
export function routeHops(route: OnionRoute): { pubkey: Uint8Array; payload: Uint8Array }[] {
  const clear = route.hops.map((h, i) => ({ pubkey: fromHex(h.node_id, `hops[${i}].node_id`, 33), payload: encodeHopPayload(payloadFromJson(h.payload, `hops[${i}].payload`)) }));
  const hops = [...clear, ...blindedHops(route)];
  if (hops.length === 0) throw new UsageError('E_USAGE', 'the route has no hops: give hops, or a blinded_path');
  return hops;
}

/**
 * A recipient's blinded path as hops after the clear ones (BOLT 4 route blinding): the
 * introduction node under its real id with current_path_key, the others under their blinded
 * ids, each with its encrypted_recipient_data; the last also carries blinded_payload.
 */
function blindedHops(route: OnionRoute): { pubkey: Uint8Array; payload: Uint8Array }[] {
  const path = route.blinded_path;
  if (!path) {
    if (route.blinded_payload) throw new UsageError('E_USAGE', 'blinded_payload without blinded_path');
    return [];
  }
  if (!route.blinded_payload) throw new UsageError('E_USAGE', 'a blinded_path needs blinded_payload (amt_to_forward, outgoing_cltv_value, total_amount_msat for the recipient)');
  const last = path.hops.length - 1;
  return path.hops.map((h, i) => {
    const payload: HopPayloadJson = { encrypted_recipient_data: h.encrypted_recipient_data };
    if (i === 0) payload.current_path_key = path.path_key;
    if (i === last) Object.assign(payload, route.blinded_payload);
    const nodeId = i === 0 ? path.introduction_node_id : h.blinded_node_id;
    return { pubkey: fromHex(nodeId, `blinded_path.hops[${i}]`, 33), payload: encodeHopPayload(payloadFromJson(payload, `blinded_path.hops[${i}]`)) };
  });
}
