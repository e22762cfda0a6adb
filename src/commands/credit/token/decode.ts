import { Flags } from '@oclif/core';
import type { CommandResult } from '../../../lib/cli/base-command.ts';
import { CreditCommand } from '../../../lib/cli/credit-command.ts';
import { inputFlags } from '../../../lib/cli/flags.ts';

export default class CreditTokenDecode extends CreditCommand<typeof CreditTokenDecode> {
  static override summary = 'Decode a Cashu token (cashuA/cashuB) and verify every proof\'s DLEQ against a keyset.';
  static override description =
    'Reads the token from standard input or --in. Each proof is checked offline (NUT-12, with the blinding factor the token carries): ' +
    'it was signed with the keyset\'s key for its amount. Prints credit/token (no secrets: each proof is shown by Y = hash_to_curve(secret)) ' +
    'when every proof verifies; else E_BAD_DLEQ (exit 4) naming the first that does not. A token in another unit than the keyset\'s, or naming another mint than the offer\'s, is E_TOKEN_MISMATCH (exit 4). --keyset takes the output of "credit keyset", ' +
    'a credit/offer with ecash, or a mint\'s /v1/keys answer.';
  static override examples = [
    {
      description: 'Check a token against the keyset of Nutshell\'s test seed',
      command: '<%= config.bin %> credit token decode --keyset fixtures/credit/keyset.json --in fixtures/credit/token.txt',
    },
  ];
  static override flags = {
    ...inputFlags,
    keyset: Flags.string({ description: 'the keyset: credit/keyset, a credit/offer with ecash, or a NUT-01 /v1/keys answer', helpValue: 'FILE', required: true }),
  };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    const { inputFrom, readInputBytes } = await import('../../../lib/cli/input.ts');
    const text = new TextDecoder().decode(await readInputBytes(inputFrom(this.flags.in)));
    const { decodeToken } = await import('../../../lib/ecash/token.ts');
    const { keysetFromDocument, tokenMessage } = await import('../../../lib/credit/ecash-view.ts');
    const keyset = keysetFromDocument(await this.readFileDocument(this.flags.keyset, '--keyset'));
    return { message: tokenMessage(network, text.trim(), decodeToken(text), keyset) };
  }
}
