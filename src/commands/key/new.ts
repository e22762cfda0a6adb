import { Flags } from '@oclif/core';
import { OffchainCommand, type CommandResult } from '../../lib/cli/base-command.ts';
import { keyPair, encodeWif } from '../../lib/keys/keys.ts';
import { toHex } from '../../lib/bytes.ts';
import { publicKeyMessage } from '../../lib/keys/messages.ts';
import { writeNewFile } from '../../lib/store/exclusive.ts';

export default class KeyNew extends OffchainCommand<typeof KeyNew> {
  static override summary = 'Create a secret key file (mode 0600) and print its public key.';
  static override description =
    'Draws a fresh secp256k1 key, writes it to --out (never overwriting an existing file) and prints only the public data. ' +
    'The secret never appears on stdout, stderr or the command line.';
  static override examples = [
    { description: 'A key for the user side of a credit contract', command: '<%= config.bin %> key new --out user.key' },
    { description: 'Deterministic key for CI snapshots (never on mainnet)', command: 'OFFCHAIN_TEST_SEED=demo <%= config.bin %> key new --out mint.key' },
  ];
  static override flags = {
    out: Flags.string({ description: 'where to write the secret key (must not exist)', helpValue: 'FILE', required: true }),
    format: Flags.string({ description: 'encoding of the secret in the file', options: ['hex', 'wif'], default: 'hex' }),
  };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    let secret: Uint8Array;
    do secret = this.random.bytes(32, 'key/new');
    while (!isValidScalar(secret));
    const pair = keyPair(secret);
    const text = this.flags.format === 'wif' ? encodeWif(secret, network) : toHex(secret);
    writeNewFile(this.flags.out, text + '\n', 0o600);
    secret.fill(0);
    return { message: publicKeyMessage(pair, network, this.flags.out) };
  }
}

function isValidScalar(b: Uint8Array): boolean {
  try {
    keyPair(b);
    return true;
  } catch {
    return false;
  }
}
