import { OffchainCommand, type CommandResult } from '../../lib/cli/base-command.ts';
import { keyFlags } from '../../lib/cli/flags.ts';
import { OffchainError } from '../../lib/errors.ts';

export default class KeyShow extends OffchainCommand<typeof KeyShow> {
  static override summary = 'Print the public key of a secret key file.';
  static override description =
    'Reads the secret from --key-file, $OFFCHAIN_KEY (or --key-env) or a hidden prompt, and prints only public data. ' +
    'A WIF key names its network: without --network a mainnet WIF is shown as mainnet; a --network it contradicts is refused (E_NETWORK_MISMATCH).';
  static override examples = [
    { description: 'Public key of the demo key in $ALICE_KEY', command: 'ALICE_KEY=$(cat fixtures/keys/alice.key) <%= config.bin %> key show --key-env ALICE_KEY' },
    { description: 'From a key file (must be mode 0600)', command: '<%= config.bin %> key show --key-file ~/.offchain/mint.key' },
  ];
  static override flags = { ...keyFlags };

  protected async execute(): Promise<CommandResult> {
    let network = this.network();
    let pair;
    try {
      pair = await this.keyPair(network);
    } catch (e) {
      // A mainnet WIF names its network: without --network (or $OFFCHAIN_NETWORK), show it
      // as mainnet rather than refuse. Only from a file or the environment, never by asking twice.
      const named = this.flags.network !== undefined;
      const given = this.flags['key-file'] !== undefined || process.env[this.flags['key-env'] ?? 'OFFCHAIN_KEY'] !== undefined;
      if (named || !given || !(e instanceof OffchainError) || e.code !== 'E_NETWORK_MISMATCH' || !/ is a mainnet WIF key /.test(e.message)) throw e;
      network = 'mainnet';
      pair = await this.keyPair(network);
    }
    const { publicKeyMessage } = await import('../../lib/keys/messages.ts');
    const message = publicKeyMessage(pair, network, this.flags['key-file']);
    pair.secretKey.fill(0);
    return { message };
  }
}
