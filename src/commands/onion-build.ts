import { Flags } from '@oclif/core';
import type { CommandResult } from '../lib/cli/base-command.ts';
import { OffchainCommand } from '../lib/cli/base-command.ts';
import { fromHex, toHex } from '../lib/bytes.ts';
import { UsageError } from '../lib/errors.ts';
import { inputFlags } from '../lib/cli/flags.ts';

export default class OnionBuild extends OffchainCommand<typeof OnionBuild> {
  static override summary = 'Wrap a route in a BOLT 4 onion packet (1366 bytes, TLV hop payloads).';
  static override description =
    'Reads an onion/route message (hop node ids with their payloads, and the associated data = payment hash) and prints an onion/packet. ' +
    'The session key comes from --session-key-file (0600) or is fresh random (deterministic under OFFCHAIN_TEST_SEED). ' +
    'The per-hop shared secrets, needed later to read a returned error, are written only to the NEW 0600 file named by --secrets-out, never to stdout. ' +
    'A route whose payloads do not fit in 1300 bytes is refused (E_ONION_ROUTE_TOO_LARGE, exit 4).';
  static override examples = [
    { description: 'The 3-hop fixture route', command: '<%= config.bin %> onion-build --in fixtures/onion/route.json --session-key-file fixtures/onion/session.key' },
  ];
  static override flags = {
    ...inputFlags,
    'session-key-file': Flags.string({ description: 'file holding the 32-byte session key (hex or WIF, mode 0600); default: fresh random', helpValue: 'FILE' }),
    'secrets-out': Flags.string({ description: 'new file (created 0600, never overwritten) for the per-hop shared secrets', helpValue: 'FILE' }),
  };

  protected async execute(): Promise<CommandResult> {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new UsageError('E_EXPECTED_MESSAGE', 'expected an onion/route JSON message');
    const { decodeMessage } = await import('../lib/message.ts');
    const { OnionRouteSchema } = await import('../lib/onion/schemas.ts');
    const route = decodeMessage(OnionRouteSchema, doc.value);
    const network = this.network(route.network);
    const { payloadFromJson } = await import('../lib/onion/json.ts');
    const { encodeHopPayload } = await import('../lib/onion/payload.ts');
    const { buildOnion } = await import('../lib/onion/sphinx.ts');
    const { onionBackend } = await import('../lib/onion/backend.ts');
    const hops = route.hops.map((h, i) => ({ pubkey: fromHex(h.node_id, `hops[${i}].node_id`, 33), payload: encodeHopPayload(payloadFromJson(h.payload, `hops[${i}].payload`)) }));
    let sessionKey: Uint8Array;
    if (this.flags['session-key-file'] !== undefined) {
      const { loadKeyPair } = await import('../lib/cli/secrets.ts');
      sessionKey = (await loadKeyPair({ keyFile: this.flags['session-key-file'], keyEnv: undefined, env: {}, network, interactive: false, prompt: async () => '' })).secretKey;
    } else sessionKey = this.random.bytes(32, 'onion session key');
    const ad = fromHex(route.associated_data, 'associated_data', 32);
    const built = buildOnion(await onionBackend(), sessionKey, hops, ad);
    if (this.flags['secrets-out'] !== undefined) {
      const { writeNewFile } = await import('../lib/store/exclusive.ts');
      const secrets = { type: 'onion/secrets', version: 1, network, associated_data: route.associated_data, node_ids: route.hops.map((h) => h.node_id), shared_secrets: built.sharedSecrets.map(toHex) };
      writeNewFile(this.flags['secrets-out'], JSON.stringify(secrets, null, 2) + '\n', 0o600);
    }
    return { message: { type: 'onion/packet', version: 1, network, packet: toHex(built.packet), associated_data: route.associated_data } };
  }
}
