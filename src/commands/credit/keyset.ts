import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CreditCommand, ecashSeedFlags } from '../../lib/cli/credit-command.ts';

export default class CreditKeyset extends CreditCommand<typeof CreditKeyset> {
  static override summary = 'The mint\'s active ecash keyset, as a NUT-01 GET /v1/keys answer.';
  static override description =
    'Derived from the ecash seed exactly as Nutshell derives its own (BIP-32 from the seed string\'s UTF-8 bytes, PATH/i\' for the key ' +
    'of amount 2^i, i < 64), so the Cashu mint run with the same seed serves these keys and redeems the tokens. The keys object ' +
    '(amount → compressed public key) is what a Cashu wallet verifies DLEQ proofs against; keysets[0].id is the NUT-02 v00 id. ' +
    'The seed comes from the environment or a 0600 file, never from the command line.';
  static override examples = [
    { description: 'The keyset of Nutshell\'s test seed TEST_PRIVATE_KEY (id 009a1f293253e41e)', command: 'export ECASH_SEED=$(cat fixtures/credit/ecash-seed.txt); <%= config.bin %> credit keyset --ecash-seed-env ECASH_SEED' },
  ];
  static override flags = { ...ecashSeedFlags };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    const keyset = (await this.ecashKeyset(true))!;
    const { keysAnswer } = await import('../../lib/ecash/nut01.ts');
    return { message: { type: 'credit/keyset', version: 1, network, ...keysAnswer(keyset) } };
  }
}
