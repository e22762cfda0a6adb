import { Flags } from '@oclif/core';
import type { CommandResult } from '../../../lib/cli/base-command.ts';
import { OffchainCommand } from '../../../lib/cli/base-command.ts';
import { inputFlags, keyFlags } from '../../../lib/cli/flags.ts';
import { fromHex, toHex } from '../../../lib/bytes.ts';
import { UsageError } from '../../../lib/errors.ts';

export default class OnionErrorWrap extends OffchainCommand<typeof OnionErrorWrap> {
  static override summary = 'As a hop on the way back: add this node\'s ammag layer to a returned error onion.';
  static override description =
    'Reads onion/error and prints it XORed with this node\'s ammag stream; the shared secret comes from peeling, with this node\'s key, the onion it had received (--onion). ' +
    'When the error carries attribution data, this node adds its layer (its hold time, --hold-time, default 0, and its HMACs); --hold-time on an error without it starts the attribution data here.';
  static override examples = [
    { description: 'Hop 2 of the fixture route wraps the error hop 3 returned', command: '<%= config.bin %> onion-error wrap --in fixtures/onion/error-hop3.json --onion fixtures/onion/peeled.json --key-file fixtures/onion/hop2.key' },
  ];
  static override flags = {
    ...inputFlags,
    onion: Flags.string({ description: 'the onion/packet (or onion/peeled) this node received', helpValue: 'FILE', required: true }),
    'hold-time': Flags.integer({ description: 'attribution data: how long this node held the HTLC, in units of 100 ms (default 0 = not measured)', helpValue: 'N', min: 0, max: 0xffffffff }),
    ...keyFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new UsageError('E_EXPECTED_MESSAGE', 'expected an onion/error JSON message');
    const { readJsonFile } = await import('../../../topics/onion/read-json-file.ts');
    const { decodeMessage } = await import('../../../lib/message.ts');
    const { OnionErrorSchema, OnionPacketSchema, OnionPeeledSchema } = await import('../../../lib/onion/schemas.ts');
    const err = decodeMessage(OnionErrorSchema, doc.value);
    const raw = readJsonFile(this.flags.onion, '--onion') as { type?: string };
    const m = raw?.type === 'onion/peeled' ? decodeMessage(OnionPeeledSchema, raw) : decodeMessage(OnionPacketSchema, raw);
    if (m.packet === undefined) throw new UsageError('E_ONION_FINAL', '--onion is a final onion/peeled: give the packet this node received');
    const network = this.network(err.network);
    this.network(m.network);
    const key = await this.keyPair(network);
    const { peelOnion } = await import('../../../lib/onion/sphinx.ts');
    const { onionBackend } = await import('../../../lib/onion/backend.ts');
    const { wrapError } = await import('../../../lib/onion/error.ts');
    const { sharedSecret } = peelOnion(await onionBackend(), key.secretKey, fromHex(m.packet, 'packet'), fromHex(m.associated_data, 'associated_data', 32));
    const received = fromHex(err.error_packet, 'error_packet');
    const message: Record<string, unknown> = { type: 'onion/error', version: 1, network, error_packet: toHex(wrapError(sharedSecret, received)) };
    if (err.attribution_data !== undefined || this.flags['hold-time'] !== undefined) {
      const { addAttribution } = await import('../../../lib/onion/attribution.ts');
      const downstream = err.attribution_data === undefined ? undefined : fromHex(err.attribution_data, 'attribution_data', 920);
      message.attribution_data = toHex(addAttribution(sharedSecret, received, this.flags['hold-time'] ?? 0, downstream));
    }
    return { message };
  }
}
