import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CreditCommand } from '../../topics/credit/command.ts';
import { ecashSeedFlags, ecashSettingsFlags } from '../../topics/credit/flags.ts';

export default class CreditKeyset extends CreditCommand<typeof CreditKeyset> {
  static override summary = 'The ecash keyset the credit mint issues under, as a NUT-01 GET /v1/keys answer.';
  static override description =
    'Derived from the ecash seed exactly as Nutshell derives its own (BIP-32 from the seed string\'s UTF-8 bytes, PATH/i\' for the key ' +
    'of amount 2^i), with the ecash mint\'s settings: --ecash-path (MINT_DERIVATION_PATH), --ecash-input-fee-ppk (MINT_INPUT_FEE_PPK), ' +
    '--ecash-id-version (01 for a keyset Nutshell 0.20 created, 00 for one kept from 0.19), --ecash-amounts; unnamed ones are a fresh ' +
    'Nutshell 0.20.3\'s defaults, or with --ecash-keysets what the running mint announces, checked (E_ECASH_KEYSET_MISMATCH names the ' +
    'setting that differs). The keys object is what a Cashu wallet verifies DLEQ proofs against. The seed comes from the environment ' +
    'or a 0600 file, never from the command line.';
  static override examples = [
    { description: 'A fresh Nutshell 0.20.3\'s keyset for its test seed TEST_PRIVATE_KEY (id 01884a74…: fee 100 in the id)', command: 'export ECASH_SEED=$(cat fixtures/credit/ecash-seed.txt); <%= config.bin %> credit keyset --ecash-seed-env ECASH_SEED' },
    { description: 'The same seed on a mint upgraded from Nutshell 0.19 (id 009a1f293253e41e)', command: 'export ECASH_SEED=$(cat fixtures/credit/ecash-seed.txt); <%= config.bin %> credit keyset --ecash-seed-env ECASH_SEED --ecash-id-version 00' },
  ];
  static override flags = { ...ecashSeedFlags, ...ecashSettingsFlags };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    const { keyset } = (await this.ecashKeyset(true))!;
    const { keysAnswer } = await import('../../lib/ecash/nut01.ts');
    return { message: { type: 'credit/keyset', version: 1, network, ...keysAnswer(keyset) } };
  }
}
