import { OffchainCommand, type CommandResult } from '../../lib/cli/base-command.ts';
import { inputFlags } from '../../lib/cli/flags.ts';

export default class PsbtDecode extends OffchainCommand<typeof PsbtDecode> {
  static override summary = 'Show everything in a PSBT as JSON, MuSig2 (BIP-373) and taproot fields included.';
  static override description =
    'Reads a PSBT (base64, hex or binary, or a message carrying one) and prints it with Bitcoin Core decodepsbt key names; amounts are integer satoshis.';
  static override examples = [
    { description: 'Decode the two-party MuSig2 fixture', command: '<%= config.bin %> psbt decode --in fixtures/psbt/musig-keypath-unsigned.psbt' },
    { description: 'Decode what the other party sent', command: 'ssh peer cat offer.psbt | <%= config.bin %> psbt decode' },
  ];
  static override flags = { ...inputFlags };

  protected async execute(): Promise<CommandResult> {
    const { tx, network, bytes } = await this.readPsbt();
    const { decodedMessage } = await import('../../lib/psbt/decode.ts');
    return { message: decodedMessage(tx, network, bytes) };
  }
}
