import { OffchainCommand, type CommandResult } from '../../lib/cli/base-command.ts';
import { keyFlags } from '../../lib/cli/flags.ts';

export default class KeyShow extends OffchainCommand<typeof KeyShow> {
  static override summary = 'Print the public key of a secret key file.';
  static override description = 'Reads the secret from --key-file, $OFFCHAIN_KEY (or --key-env) or a hidden prompt, and prints only public data.';
  static override examples = [
    { description: 'Public key of the demo key in $ALICE_KEY', command: 'ALICE_KEY=$(cat fixtures/keys/alice.key) <%= config.bin %> key show --key-env ALICE_KEY' },
    { description: 'From a key file (must be mode 0600)', command: '<%= config.bin %> key show --key-file ~/.offchain/mint.key' },
  ];
  static override flags = { ...keyFlags };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    const pair = await this.keyPair(network);
    const { publicKeyMessage } = await import('../../lib/keys/messages.ts');
    const message = publicKeyMessage(pair, network, this.flags['key-file']);
    pair.secretKey.fill(0);
    return { message };
  }
}
