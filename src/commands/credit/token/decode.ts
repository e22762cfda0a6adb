import { Flags } from '@oclif/core';
import type { CommandResult } from '../../../lib/cli/base-command.ts';
import { CreditCommand } from '../../../topics/credit/command.ts';
import { inputFlags } from '../../../lib/cli/flags.ts';

export default class CreditTokenDecode extends CreditCommand<typeof CreditTokenDecode> {
  /** A token decoded, no curve arithmetic: noble (base-command.ts `curveWork`). */
  protected override curveWork = false;
  static override summary = 'Decode a Cashu token (cashuA/cashuB); with --keyset, verify every proof\'s DLEQ against its keyset.';
  static override description =
    'Reads the token from standard input or --in and prints credit/token (no secrets: each proof is shown by Y = hash_to_curve(secret)). ' +
    'Without --keyset it is decoded as a wallet reads it — structure, amounts, keyset ids — and marked "verified": false. ' +
    'With --keyset each proof is checked offline (NUT-12, with the blinding factor the token carries): it was signed with its keyset\'s key for its amount; ' +
    'else E_BAD_DLEQ (exit 4) naming the first that is not. A proof under a keyset --keyset does not hold, a token in another unit, or naming another mint than the offer\'s, ' +
    'is E_TOKEN_MISMATCH (exit 4). A token repeating a proof (the same Y) is E_DUPLICATE_PROOF (exit 4); one of more than 1000 proofs E_TOKEN_TOO_LARGE (exit 3). ' +
    '--keyset takes the output of "credit keyset", a credit/offer with ecash, or a mint\'s GET /v1/keys answer (keyset ids version 00 or 01).';
  static override examples = [
    {
      description: 'Check a token against the keyset of Nutshell\'s test seed',
      command: '<%= config.bin %> credit token decode --keyset fixtures/credit/keyset.json --in fixtures/credit/token.txt',
    },
    {
      description: 'Read a token without its keyset (nothing verified)',
      command: '<%= config.bin %> credit token decode --in fixtures/credit/token.txt',
    },
  ];
  static override flags = {
    ...inputFlags,
    keyset: Flags.string({ description: 'verify against these keysets: credit/keyset, a credit/offer with ecash, or a mint\'s NUT-01 GET /v1/keys answer (without it: decoded, not verified)', helpValue: 'FILE' }),
  };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    const { inputFrom, readInputBytes } = await import('../../../lib/cli/input.ts');
    const text = new TextDecoder().decode(await readInputBytes(inputFrom(this.flags.in)));
    const { decodeToken } = await import('../../../lib/ecash/token.ts');
    const { keysetFromDocument, tokenMessage } = await import('../../../lib/credit/ecash-view.ts');
    const keyset = this.flags.keyset === undefined ? undefined : keysetFromDocument(await this.readFileDocument(this.flags.keyset, '--keyset'));
    return { message: tokenMessage(network, text.trim(), decodeToken(text), keyset) };
  }
}
