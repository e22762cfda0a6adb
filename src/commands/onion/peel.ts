import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { OffchainCommand } from '../../lib/cli/base-command.ts';
import { flagValue, inputFlags, keyFlags } from '../../lib/cli/flags.ts';
import { fromHex } from '../../lib/bytes.ts';
import { UsageError } from '../../lib/errors.ts';

export default class OnionPeel extends OffchainCommand<typeof OnionPeel> {
  /** ECDH and the next blinding: base-command.ts `curveWork`. */
  protected override curveWork = true;
  static override summary = 'Process one layer of a BOLT 4 onion with this node\'s key: the payload, and what to forward or that this hop is final.';
  static override description =
    'Reads an onion/packet (or the onion/peeled a previous hop printed, whose packet is the one to forward) and prints onion/peeled. ' +
    'Checked in order: version 0 (E_ONION_VERSION, exit 3), the ephemeral key is a valid point (E_ONION_EPHEMERAL_KEY, exit 3), ' +
    'the HMAC in constant time (E_ONION_HMAC, exit 4: wrong key, wrong associated data or corrupted), the payload length (E_ONION_PAYLOAD_LENGTH, exit 3) ' +
    'and the TLV payload (E_ONION_TLV, exit 3). Final when the next HMAC is all zero. ' +
    'In a blinded path (BOLT 4 route blinding) the hop also decrypts its encrypted_recipient_data and prints it with the next_path_key to send on: ' +
    'the introduction node finds its path_key in the payload (current_path_key), every later blinded hop is given the path_key that came with the HTLC (--path-key) and peels with its blinded key.';
  static override examples = [
    { description: 'Peel the fixture packet at its first hop', command: '<%= config.bin %> onion-peel --in fixtures/onion/packet.json --key-file fixtures/onion/hop1.key' },
    { description: 'The introduction node of the fixture\'s blinded path reads its recipient data', command: '<%= config.bin %> onion-peel --in fixtures/onion/blinded-packet.json --key-file fixtures/onion/hop2.key' },
  ];
  static override flags = {
    ...inputFlags,
    'path-key': Flags.string({ description: 'in a blinded path after the introduction node: the path_key that came with the HTLC (update_add_htlc)', helpValue: 'PUBKEY' }),
    ...keyFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new UsageError('E_EXPECTED_MESSAGE', 'expected an onion/packet or onion/peeled JSON message');
    const { decodeMessage } = await import('../../lib/message.ts');
    const { OnionPacketSchema, OnionPeeledSchema } = await import('../../lib/onion/schemas.ts');
    const v = doc.value as { type?: unknown };
    let packetHex: string, adHex: string, msgNetwork;
    if (v && v.type === 'onion/peeled') {
      const m = decodeMessage(OnionPeeledSchema, doc.value);
      if (m.final || m.packet === undefined) throw new UsageError('E_ONION_FINAL', 'this onion/peeled is final: there is nothing left to forward (this node is the recipient: its payload is in it)');
      [packetHex, adHex, msgNetwork] = [m.packet, m.associated_data, m.network];
    } else {
      const m = decodeMessage(OnionPacketSchema, doc.value);
      [packetHex, adHex, msgNetwork] = [m.packet, m.associated_data, m.network];
    }
    const network = this.network(msgNetwork);
    const { peelHop } = await import('../../lib/onion/peel.ts');
    const { onionBackend } = await import('../../lib/onion/backend.ts');
    const ec = await onionBackend();
    // The flag's value checked whole (a point) before the node's key is read: a malformed flag is exit 2.
    const given = this.flags['path-key'] === undefined ? undefined : flagValue(() => fromHex(this.flags['path-key']!, '--path-key', 33));
    if (given && ec.pointFromBytes(given) === undefined) throw new UsageError('E_ONION_PATH_KEY', '--path-key is not a valid compressed point: give the path_key that came with the HTLC');
    const key = await this.keyPair(network);
    return { message: { type: 'onion/peeled', version: 1, network, ...peelHop(ec, key.secretKey, packetHex, adHex, given) } };
  }
}
