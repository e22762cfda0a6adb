import { Flags } from '@oclif/core';
import type { CommandResult } from '../../../lib/cli/base-command.ts';
import { OffchainCommand } from '../../../lib/cli/base-command.ts';
import { keyFlags } from '../../../lib/cli/flags.ts';
import { fromHex, toHex } from '../../../lib/bytes.ts';
import { MalformedInputError, OffchainError, UsageError } from '../../../lib/errors.ts';

export default class OnionErrorCreate extends OffchainCommand<typeof OnionErrorCreate> {
  /** ECDH with the sender's ephemeral key: base-command.ts `curveWork`. */
  protected override curveWork = true;
  static override summary = 'As the failing hop: create the error onion returned for a packet this node received.';
  static override description =
    'Peels the onion given with --onion (an onion/packet or onion/peeled) with this node\'s key to get its shared secret, ' +
    'encodes the failure by its BOLT 4 name with its data fields (--field NAME=VALUE), pads failuremsg to 256 bytes, adds the um HMAC and the ammag layer, and prints onion/error. ' +
    'With --hold-time it also starts the attribution data (BOLT 4 attributable failures): this node\'s hold time and HMACs, so the sender can tell which hop garbled the error and how long each held the HTLC.';
  static override examples = [
    { description: 'The fixture route\'s last hop says the payment details are wrong', command: '<%= config.bin %> onion-error create --onion fixtures/onion/at-hop3.json --key-file fixtures/onion/hop3.key --failure incorrect_or_unknown_payment_details --field htlc_msat=14000 --field height=800000' },
    { description: 'The same, with attribution data: it held the HTLC 0.3 s', command: '<%= config.bin %> onion-error create --onion fixtures/onion/at-hop3.json --key-file fixtures/onion/hop3.key --failure incorrect_or_unknown_payment_details --field htlc_msat=14000 --field height=800000 --hold-time 3' },
  ];
  static override flags = {
    onion: Flags.string({ description: 'the onion/packet (or onion/peeled) this node received (default: standard input)', helpValue: 'FILE' }),
    failure: Flags.string({ description: 'BOLT 4 failure name, e.g. temporary_channel_failure, unknown_next_peer, fee_insufficient', helpValue: 'NAME', required: true }),
    field: Flags.string({ description: 'a data field of the failure, NAME=VALUE (msat as decimal, bytes as hex)', helpValue: 'NAME=VALUE', multiple: true }),
    'hold-time': Flags.integer({ description: 'add attribution data: how long this node held the HTLC, in units of 100 ms (0 = not measured)', helpValue: 'N', min: 0, max: 0xffffffff }),
    ...keyFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const { readJsonFile } = await import('../../../topics/onion/read-json-file.ts');
    const { decodeMessage } = await import('../../../lib/message.ts');
    const { OnionPacketSchema, OnionPeeledSchema } = await import('../../../lib/onion/schemas.ts');
    // --onion FILE, or the message on standard input (the hop's onion-peel piped in).
    let raw: { type?: string };
    if (this.flags.onion === undefined) {
      const doc = await this.readDocument();
      if (doc.format !== 'json') throw new MalformedInputError('E_EXPECTED_MESSAGE', 'expected the onion/packet or onion/peeled this node received');
      raw = doc.value as { type?: string };
    } else raw = readJsonFile(this.flags.onion, '--onion') as { type?: string };
    const m = raw?.type === 'onion/peeled' ? decodeMessage(OnionPeeledSchema, raw) : decodeMessage(OnionPacketSchema, raw);
    if (m.packet === undefined) throw new UsageError('E_ONION_FINAL', '--onion is a final onion/peeled: give the packet this node received');
    const network = this.network(m.network);
    const fields: Record<string, string> = {};
    for (const f of this.flags.field ?? []) {
      const i = f.indexOf('=');
      if (i <= 0) throw new UsageError('E_USAGE', `--field ${f}: expected NAME=VALUE`);
      fields[f.slice(0, i)] = f.slice(i + 1);
    }
    const { encodeFailure } = await import('../../../lib/onion/failure.ts');
    let failure: Uint8Array;
    try {
      failure = encodeFailure(this.flags.failure, fields);
    } catch (e) {
      // An unknown --failure name is the flag's value: a usage error (exit 2), not a refusal.
      if (e instanceof OffchainError && e.code === 'E_ONION_FAILURE_NAME') throw new UsageError(e.code, `--failure: ${e.message}`);
      // A value out of its field's range came from --field: a usage error (exit 2).
      if (e instanceof MalformedInputError && e.code === 'E_ONION_FAILURE_VALUE') throw new UsageError(e.code, `--field ${e.message}`);
      throw e;
    }
    const key = await this.keyPair(network);
    const { peelOnion } = await import('../../../lib/onion/sphinx.ts');
    const { onionBackend } = await import('../../../lib/onion/backend.ts');
    const { createErrorPacket, wrapError } = await import('../../../lib/onion/error.ts');
    const { sharedSecret } = peelOnion(await onionBackend(), key.secretKey, fromHex(m.packet, 'packet'), fromHex(m.associated_data, 'associated_data', 32));
    const packet = createErrorPacket(sharedSecret, failure);
    const message: Record<string, unknown> = { type: 'onion/error', version: 1, network, error_packet: toHex(packet) };
    if (this.flags['hold-time'] !== undefined) {
      const { addAttribution } = await import('../../../lib/onion/attribution.ts');
      // The HMACs cover the packet as this node passes it to its ammag layer: the raw packet.
      message.attribution_data = toHex(addAttribution(sharedSecret, wrapError(sharedSecret, packet), this.flags['hold-time']));
    }
    return { message };
  }
}
