import type { CommandResult } from '../../../lib/cli/base-command.ts';
import { CreditCommand } from '../../../topics/credit/command.ts';
import { ecashSeedFlags, ecashSettingsFlags } from '../../../topics/credit/flags.ts';
import { UsageError } from '../../../lib/errors.ts';

export default class CreditEcashCheck extends CreditCommand<typeof CreditEcashCheck> {
  static override summary = 'Before going live: does the credit mint\'s own derivation reproduce the ecash mint\'s active keyset?';
  static override description =
    'Reads the running ecash mint\'s GET /v1/keysets and /v1/keys (--ecash-keysets URL, or saved answers: --ecash-keysets FILE ' +
    '--ecash-keys FILE) and derives its active keyset from the seed and the settings you name (--ecash-path, --ecash-input-fee-ppk, ' +
    '--ecash-id-version, --ecash-amounts; unnamed ones are taken from the mint). Equal: prints credit/ecash-check, the keyset the ' +
    'credit mint will issue under. Not equal: E_ECASH_KEYSET_MISMATCH (exit 4) naming the setting that differs — seed, path, index, ' +
    'unit, fee, final expiry, amounts or id version — and what the mint has instead. Writes nothing.';
  static override examples = [
    {
      description: 'A fresh Nutshell 0.20.3 with its default settings, from its saved answers: equal',
      command: 'export ECASH_SEED=$(cat fixtures/credit/ecash-seed.txt); <%= config.bin %> credit ecash check --ecash-seed-env ECASH_SEED --ecash-keysets fixtures/credit/nutshell/keysets.json --ecash-keys fixtures/credit/nutshell/keys.json',
    },
    {
      description: 'The same mint after "mint-cli next-keyset sat 100": its keyset index 1 (from its saved answers)',
      command: 'export ECASH_SEED=$(cat fixtures/credit/ecash-seed.txt); <%= config.bin %> credit ecash check --ecash-seed-env ECASH_SEED --ecash-path "m/0\'/0\'/1\'" --ecash-keysets fixtures/credit/nutshell/rotated-keysets.json --ecash-keys fixtures/credit/nutshell/rotated-keys.json',
    },
    {
      description: 'A running mint, by its URL, insisting on a fee of 0: where the mint charges 100, refused with "fee: …" (E_ECASH_KEYSET_MISMATCH, exit 4)',
      command: '<%= config.bin %> credit ecash check --ecash-seed-file mint.seed --ecash-input-fee-ppk 0 --ecash-keysets http://127.0.0.1:3338',
    },
  ];
  static override flags = { ...ecashSeedFlags, ...ecashSettingsFlags };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    if (this.flags['ecash-keysets'] === undefined) throw new UsageError('E_USAGE', 'the check needs the running ecash mint: --ecash-keysets URL, or --ecash-keysets FILE --ecash-keys FILE (its saved /v1/keysets and /v1/keys answers)');
    const { keyset, live } = (await this.ecashKeyset(true))!;
    const { recordOf } = await import('../../../lib/credit/ecash-keysets.ts');
    const { keys: _keys, ...kept } = recordOf(keyset);
    // The keyset is the one the credit mint would issue under: at the named path, or the mint's newest active one above it.
    const others = live!.keysets.filter((k) => k.active && k.unit === keyset.unit && k.id !== keyset.id).map((k) => k.id);
    return { message: { type: 'credit/ecash-check', version: 1, network, source: live!.source, equal: true, keyset: kept, also_active: others } };
  }
}
