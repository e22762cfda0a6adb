import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { OffchainCommand } from '../../lib/cli/base-command.ts';
import { inputFlags } from '../../lib/cli/flags.ts';
import { fromHex, toHex } from '../../lib/bytes.ts';
import { UsageError } from '../../lib/errors.ts';

export default class OnionBlind extends OffchainCommand<typeof OnionBlind> {
  /** ECDH and a blinding at each hop: base-command.ts `curveWork`. */
  protected override curveWork = true;
  static override summary = 'As the recipient: blind a path (BOLT 4 route blinding) for payers, who learn only the introduction node.';
  static override description =
    'Reads an onion/blind message (each hop\'s real node id and the data only that hop may read: where to forward, fees and constraints, the recipient\'s path_id) and prints onion/blinded-path: ' +
    'the introduction node id, the first path_key, and for every hop its blinded node id and encrypted_recipient_data. ' +
    'The path\'s first private key comes from --session-key-file (0600) or is fresh random (deterministic under OFFCHAIN_TEST_SEED); it is never printed. ' +
    'A payer puts the hops into its onion/route (the introduction node under its real id with current_path_key = path_key); each blinded hop peels with onion-peel --path-key.';
  static override examples = [
    { description: 'Blind the fixture\'s two-hop path (the introduction node, then the recipient) with a fresh path key', command: '<%= config.bin %> onion-blind --in fixtures/onion/blind.json' },
    { description: 'The same from a fixed path key: fixtures/onion/blinded-path.json', command: '<%= config.bin %> onion-blind --in fixtures/onion/blind.json --session-key-file fixtures/onion/path.key' },
  ];
  static override flags = {
    ...inputFlags,
    'session-key-file': Flags.string({ description: 'file holding the path\'s first private key (hex or WIF, mode 0600); default: fresh random', helpValue: 'FILE' }),
  };

  protected async execute(): Promise<CommandResult> {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new UsageError('E_EXPECTED_MESSAGE', 'expected an onion/blind JSON message');
    const { decodeMessage } = await import('../../lib/message.ts');
    const { OnionBlindSchema } = await import('../../lib/onion/schemas.ts');
    const m = decodeMessage(OnionBlindSchema, doc.value);
    const network = this.network(m.network);
    const { encodeRecipientData } = await import('../../lib/onion/recipient-data.ts');
    const data = m.hops.map((h) => ({ nodeId: fromHex(h.node_id, 'node_id', 33), tlvs: encodeRecipientData(h.recipient_data) }));
    let pathKey: Uint8Array;
    if (this.flags['session-key-file'] !== undefined) {
      const { loadKeyPair } = await import('../../lib/cli/secrets.ts');
      pathKey = (await loadKeyPair({ keyFile: this.flags['session-key-file'], keyFileFlag: '--session-key-file', keyEnv: undefined, env: {}, network, interactive: false, prompt: async () => '' })).secretKey;
    } else pathKey = this.random.bytes(32, 'blinded path key');
    const { blindHop } = await import('../../lib/onion/blinding.ts');
    const { onionBackend } = await import('../../lib/onion/backend.ts');
    const ec = await onionBackend();
    const hops = [];
    let first: Uint8Array | undefined;
    for (const h of data) {
      const b = blindHop(ec, pathKey, h.nodeId, h.tlvs);
      first ??= b.pathKey;
      hops.push({ blinded_node_id: toHex(b.blindedNodeId), encrypted_recipient_data: toHex(b.encryptedData) });
      pathKey = b.nextPathPrivkey;
    }
    return { message: { type: 'onion/blinded-path', version: 1, network, introduction_node_id: m.hops[0]!.node_id.toLowerCase(), path_key: toHex(first!), hops } };
  }
}
