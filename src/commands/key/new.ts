import { Flags } from '@oclif/core';
import { OffchainCommand, type CommandResult } from '../../lib/cli/base-command.ts';
import { UsageError } from '../../lib/errors.ts';

export default class KeyNew extends OffchainCommand<typeof KeyNew> {
  static override summary = 'Create a secret key file (mode 0600) and print its public key.';
  static override description =
    'Draws a fresh secp256k1 key, writes it to --out (never overwriting an existing file) and prints only the public data. ' +
    'The secret never appears on stdout, stderr or the command line.';
  static override examples = [
    {
      description: 'A new user key, and the credit-contract address it would have with the demo mint\'s published offer',
      command:
        'D=$(mktemp -d); <%= config.bin %> key new --out $D/user.key > /dev/null ' +
        '&& <%= config.bin %> open-credit --role user --key-file $D/user.key --state-dir $D/user-state --in fixtures/credit/offer.json',
    },
    { description: 'Deterministic key for CI snapshots (refused on mainnet)', command: 'D=$(mktemp -d); OFFCHAIN_TEST_SEED=demo <%= config.bin %> key new --out $D/demo.key' },
  ];
  static override flags = {
    out: Flags.string({ description: 'where to write the secret key (must not exist)', helpValue: 'FILE', required: true }),
    format: Flags.string({ description: 'encoding of the secret in the file', options: ['hex', 'wif'], default: 'hex' }),
  };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    if (this.flags.out === '-') {
      // Elsewhere "-" means standard output; a secret key is never written there.
      throw new UsageError('E_USAGE', 'key new never prints the secret key: give --out a file name (it is created with mode 0600)');
    }
    const { newKeyFile } = await import('../../lib/store/key-file.ts');
    const pair = newKeyFile(this.flags.out, this.flags.format === 'wif' ? 'wif' : 'hex', network, this.random);
    const { publicKeyMessage } = await import('../../lib/keys/messages.ts');
    return { message: publicKeyMessage(pair, network, this.flags.out) };
  }
}
