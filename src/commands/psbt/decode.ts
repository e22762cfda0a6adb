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
    const doc = await this.readDocument();
    const { decodedMessage, psbtNetworkHint } = await import('../../lib/psbt/decode.ts');
    const { psbtBytesOf } = await import('../../lib/cli/psbt-input.ts');
    const { network: messageNetwork } = psbtBytesOf(doc);
    let { tx, network, bytes } = await this.readPsbt(doc);
    // Its extended keys name the network (xpub / tpub): used when nothing else names one,
    // a warning when --network says otherwise (the addresses shown follow --network).
    const hint = psbtNetworkHint(bytes);
    const flag = this.flags.network;
    if (hint === 'mainnet' && flag === undefined && messageNetwork === undefined) network = 'mainnet';
    else if (flag !== undefined && hint !== undefined && (hint === 'mainnet') !== (flag === 'mainnet')) {
      this.term.warn(`the PSBT's extended public keys are ${hint === 'mainnet' ? 'mainnet (xpub)' : 'test-network (tpub)'} keys, but --network is ${flag}: addresses are shown for ${flag}`);
    }
    return { message: decodedMessage(tx, network, bytes) };
  }
}
