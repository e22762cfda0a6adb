import { Flags } from '@oclif/core';
import { OffchainCommand, type CommandResult } from '../../lib/cli/base-command.ts';

export default class KeyNew extends OffchainCommand<typeof KeyNew> {
  static override summary = 'Create a secret key file (mode 0600) and print its public key.';
  static override description =
    'Draws a fresh secp256k1 key, writes it to --out (never overwriting an existing file) and prints only the public data. ' +
    'The secret never appears on stdout, stderr or the command line.';
  static override examples = [
    { description: 'A key for the user side of a credit contract', command: '<%= config.bin %> key new --out user.key' },
    { description: 'Deterministic key for CI snapshots (refused on mainnet)', command: 'OFFCHAIN_TEST_SEED=demo <%= config.bin %> key new --out /tmp/offchain-demo-$$.key' },
  ];
  static override flags = {
    out: Flags.string({ description: 'where to write the secret key (must not exist)', helpValue: 'FILE', required: true }),
    format: Flags.string({ description: 'encoding of the secret in the file', options: ['hex', 'wif'], default: 'hex' }),
  };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    const { newKeyFile } = await import('../../lib/keys/key-file.ts');
    const pair = newKeyFile(this.flags.out, this.flags.format === 'wif' ? 'wif' : 'hex', network, this.random);
    const { publicKeyMessage } = await import('../../lib/keys/messages.ts');
    return { message: publicKeyMessage(pair, network, this.flags.out) };
  }
}
