import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { OffchainCommand } from '../../lib/cli/base-command.ts';
import { fromHex, toHex } from '../../lib/bytes.ts';
import { UsageError } from '../../lib/errors.ts';
import { flagValue, inputFlags } from '../../lib/cli/flags.ts';
import type { Static } from '@sinclair/typebox';
import type { HopPayloadJson, OnionRouteSchema } from '../../lib/onion/schemas.ts';
import type { HopPayload } from '../../lib/onion/payload.ts';

type OnionRoute = Static<typeof OnionRouteSchema>;

/**
 * A recipient's blinded path as hops after the clear ones (BOLT 4 route blinding): the
 * introduction node under its real id with current_path_key, the others under their blinded
 * ids, each with its encrypted_recipient_data; the last also carries blinded_payload.
 */
function blindedHops(
  route: OnionRoute,
  encode: (p: HopPayload) => Uint8Array,
  fromJson: (j: HopPayloadJson, where: string) => HopPayload,
): { pubkey: Uint8Array; payload: Uint8Array }[] {
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
    return { pubkey: fromHex(nodeId, `blinded_path.hops[${i}]`, 33), payload: encode(fromJson(payload, `blinded_path.hops[${i}]`)) };
  });
}

export default class OnionBuild extends OffchainCommand<typeof OnionBuild> {
  /** Also `onion-build`: its name before the topic form (docs/cli.md, "Commands"), kept as a plain alias. */
  static override aliases = ['onion-build'];
  static override summary = 'Wrap a route in a BOLT 4 onion packet (1366 bytes, TLV hop payloads).';
  static override description =
    'Reads an onion/route message (hop node ids with their payloads, and the associated data = payment hash), or route plan\'s route/plan with --payment-hash (and --payment-secret for the final payment_data), and prints an onion/packet. ' +
    'A route/plan is first checked as route check checks it (E_ROUTE_*, exit 4). ' +
    'The session key comes from --session-key-file (0600) or is fresh random (deterministic under OFFCHAIN_TEST_SEED). ' +
    'The per-hop shared secrets, needed later to read a returned error, are written only to the NEW 0600 file named by --secrets-out, never to stdout. ' +
    'A route whose payloads do not fit in 1300 bytes is refused (E_ONION_ROUTE_TOO_LARGE, exit 4). ' +
    'A recipient\'s blinded path (onion-blind\'s output) goes under blinded_path, after the clear hops, with blinded_payload (amount, CLTV and total for the recipient).';
  static override examples = [
    { description: 'The 3-hop fixture route', command: '<%= config.bin %> onion-build --in fixtures/onion/route.json --session-key-file fixtures/onion/session.key' },
    { description: 'A payer\'s route ending in a recipient\'s blinded path (blinded_path + blinded_payload)', command: '<%= config.bin %> onion-build --in fixtures/onion/blinded-route.json --session-key-file fixtures/onion/session.key' },
    { description: 'Straight from route plan\'s output', command: '<%= config.bin %> onion-build --in fixtures/route/seed-plan.json --payment-hash 4242424242424242424242424242424242424242424242424242424242424242 --payment-secret 2424242424242424242424242424242424242424242424242424242424242424' },
  ];
  static override flags = {
    ...inputFlags,
    'session-key-file': Flags.string({ description: 'file holding the 32-byte session key (hex or WIF, mode 0600); default: fresh random', helpValue: 'FILE' }),
    'payment-hash': Flags.string({ description: 'with a route/plan input: the associated data (payment hash), hex', helpValue: 'HEX' }),
    'payment-secret': Flags.string({ description: 'with a route/plan input: the final hop\'s payment_secret, hex (adds payment_data with total_msat = final_amount_msat)', helpValue: 'HEX' }),
    'secrets-out': Flags.string({ description: 'new file (created 0600, never overwritten) for the per-hop shared secrets', helpValue: 'FILE' }),
  };

  /** A route/plan (route plan's output) as an onion/route: its payloads, plus --payment-hash and --payment-secret. */
  private async fromPlan(value: unknown) {
    const { decodeMessage } = await import('../../lib/message.ts');
    const { RoutePlanSchema } = await import('../../lib/route/schemas.ts');
    const plan = decodeMessage(RoutePlanSchema, value);
    // The same checks as `route check`: no onion for a plan whose hops break a forwarding rule
    // or whose summary and payloads contradict its hops.
    const { checkPlan } = await import('../../lib/route/messages.ts');
    checkPlan(value);
    const hash = this.flags['payment-hash'];
    if (hash === undefined) throw new UsageError('E_USAGE', 'a route/plan input needs --payment-hash (the associated data)');
    flagValue(() => fromHex(hash, '--payment-hash', 32));
    const secret = this.flags['payment-secret'];
    if (secret !== undefined) flagValue(() => fromHex(secret, '--payment-secret', 32));
    const last = plan.hops.length - 1;
    return {
      type: 'onion/route' as const, version: 1 as const, network: plan.network, associated_data: hash.toLowerCase(),
      hops: plan.hops.map((h, i) => ({
        node_id: h.node_id,
        payload: { ...h.payload, ...(i === last && secret !== undefined ? { payment_data: { payment_secret: secret.toLowerCase(), total_msat: plan.final_amount_msat } } : {}) },
      })),
    };
  }

  protected async execute(): Promise<CommandResult> {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new UsageError('E_EXPECTED_MESSAGE', 'expected an onion/route JSON message');
    const { decodeMessage } = await import('../../lib/message.ts');
    const { OnionRouteSchema } = await import('../../lib/onion/schemas.ts');
    const fromPlan = (doc.value as { type?: unknown })?.type === 'route/plan';
    if (!fromPlan && (this.flags['payment-hash'] !== undefined || this.flags['payment-secret'] !== undefined)) {
      throw new UsageError('E_USAGE', '--payment-hash and --payment-secret go with a route/plan input; an onion/route carries its associated_data and payloads itself');
    }
    const route = fromPlan ? await this.fromPlan(doc.value) : decodeMessage(OnionRouteSchema, doc.value);
    const network = this.network(route.network);
    const { payloadFromJson } = await import('../../lib/onion/json.ts');
    const { encodeHopPayload } = await import('../../lib/onion/payload.ts');
    const { buildOnion } = await import('../../lib/onion/sphinx.ts');
    const { onionBackend } = await import('../../lib/onion/backend.ts');
    const clear = route.hops.map((h, i) => ({ pubkey: fromHex(h.node_id, `hops[${i}].node_id`, 33), payload: encodeHopPayload(payloadFromJson(h.payload, `hops[${i}].payload`)) }));
    const hops = [...clear, ...blindedHops(route as OnionRoute, encodeHopPayload, payloadFromJson)];
    if (hops.length === 0) throw new UsageError('E_USAGE', 'the route has no hops: give hops, or a blinded_path');
    let sessionKey: Uint8Array;
    if (this.flags['session-key-file'] !== undefined) {
      const { loadKeyPair } = await import('../../lib/cli/secrets.ts');
      sessionKey = (await loadKeyPair({ keyFile: this.flags['session-key-file'], keyFileFlag: '--session-key-file', keyEnv: undefined, env: {}, network, interactive: false, prompt: async () => '' })).secretKey;
    } else sessionKey = this.random.bytes(32, 'onion session key');
    const ad = fromHex(route.associated_data, 'associated_data', 32);
    const built = buildOnion(await onionBackend(), sessionKey, hops, ad);
    if (this.flags['secrets-out'] !== undefined) {
      const { writeNewFile } = await import('../../lib/store/exclusive.ts');
      const nodeIds = hops.map((h) => toHex(h.pubkey));
      const secrets = { type: 'onion/secrets', version: 1, network, associated_data: route.associated_data, node_ids: nodeIds, shared_secrets: built.sharedSecrets.map(toHex) };
      writeNewFile(this.flags['secrets-out'], JSON.stringify(secrets, null, 2) + '\n', 0o600);
    }
    return { message: { type: 'onion/packet', version: 1, network, packet: toHex(built.packet), associated_data: route.associated_data } };
  }
}
