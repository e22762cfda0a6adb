import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { OffchainCommand } from '../../lib/cli/base-command.ts';
import { fromHex, toHex } from '../../lib/bytes.ts';
import { UsageError } from '../../lib/errors.ts';
import { inputFlags } from '../../lib/cli/flags.ts';
export default class OnionBuild extends OffchainCommand<typeof OnionBuild> {
  /** ECDH and a blinding at each hop: base-command.ts `curveWork`. */
  protected override curveWork = true;
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

  protected async execute(): Promise<CommandResult> {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new UsageError('E_EXPECTED_MESSAGE', 'expected an onion/route JSON message');
    const { decodeMessage } = await import('../../lib/message.ts');
    const { OnionRouteSchema } = await import('../../lib/onion/schemas.ts');
    const fromPlan = (doc.value as { type?: unknown })?.type === 'route/plan';
    if (!fromPlan && (this.flags['payment-hash'] !== undefined || this.flags['payment-secret'] !== undefined)) {
      throw new UsageError('E_USAGE', '--payment-hash and --payment-secret go with a route/plan input; an onion/route carries its associated_data and payloads itself');
    }
    const { onionRouteFromPlan } = await import('../../topics/onion/route-plan.ts');
    const route = fromPlan ? await onionRouteFromPlan(doc.value, this.flags['payment-hash'], this.flags['payment-secret']) : decodeMessage(OnionRouteSchema, doc.value);
    const network = this.network(route.network);
    const { routeHops } = await import('../../lib/onion/route.ts');
    const { buildOnion } = await import('../../lib/onion/sphinx.ts');
    const { onionBackend } = await import('../../lib/onion/backend.ts');
    const hops = routeHops(route as import('../../lib/onion/route.ts').OnionRoute);
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
