import { Flags } from '@oclif/core';
import type { CommandResult } from '../../../lib/cli/base-command.ts';
import { CreditCommand, noMint } from '../../../topics/credit/command.ts';
import { keyFlags, stateFlags } from '../../../lib/cli/flags.ts';
import { migrateTarget, migrateTargetFlags } from '../../../lib/cli/store-flags.ts';

export default class CreditStoreMigrate extends CreditCommand<typeof CreditStoreMigrate> {
  /** Tables copied, no curve arithmetic: noble (base-command.ts `curveWork`). */
  protected override curveWork = false;
  static override summary = 'Move a mint\'s state from its SQLite store (--state-dir) to an empty PostgreSQL database, once.';
  static override description =
    'Copies the contracts, the funding-outpoint index, the blind signatures, the offer and the consumed nonces in one PostgreSQL ' +
    'transaction into an empty database (E_STORE_NOT_EMPTY otherwise; E_STORE_MIGRATING while another migration into it runs). Unused secret nonces are never copied — a second copy of a ' +
    'single-use secret is a second chance to sign with it: they are burned in the source, and each user whose next request was ' +
    'signed against one is refused once (E_NONCE_ELSEWHERE) and recovers with "credit abandon". From the moment it starts the source ' +
    'refuses every use (E_STORE_MIGRATED), also a mint streaming on it; an interrupted migration is finished by running it again ' +
    'with the same --to, and a finished one run again says there is nothing left (exit 0). The password from $OFFCHAIN_STORE_PASSWORD or --store-password-file, never the URL (docs/postgres.md).';
  static override examples = [
    {
      description: 'A demo mint, and a migration to a server that is not there: refused (E_STORE_UNREACHABLE) before anything in the source is touched',
      command:
        'D=$(mktemp -d); export MINT_KEY=$(cat fixtures/keys/mint.key) USER_KEY=$(cat fixtures/keys/user.key); OFFCHAIN_DEMO_DIR=$D sh fixtures/credit/open-demo.sh && ' +
        '{ <%= config.bin %> credit store migrate --state-dir $D/mint --to postgres://mint@127.0.0.1:1/mint 2>&1 || true; } | grep -o E_STORE_UNREACHABLE >&2 && ' +
        '<%= config.bin %> credit list --state-dir $D/mint --tip-height 1001',
    },
    {
      description: 'The real thing: the password in a 0600 file, then serve the same mint from PostgreSQL',
      command: '<%= config.bin %> credit store migrate --state-dir /srv/mint --to postgres://mint@db.internal:5432/mint --store-password-file /etc/offchain/db.pass',
    },
  ];
  static override flags = {
    ...stateFlags,
    ...keyFlags,
    from: Flags.string({ description: 'the SQLite mint\'s state directory (holding state.sqlite); default: --state-dir\'s directory for --network', helpValue: 'DIR', helpGroup: 'STATE' }),
    ...migrateTargetFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    const target = await migrateTarget(this.flags);
    // The network's state directory (an older layout there imported first); --from names another one.
    const from = this.flags.from ?? (await this.state(network, { create: false }))?.dir;
    if (from === undefined) throw noMint(this.stateDir(network));
    this.closeState(); // the migration opens the database itself
    const { migrateMintStore } = await import('../../../lib/store/migrate.ts');
    // The mint's key only seals states an older offchain stored in the clear (without it, such a source is refused).
    const f = this.flags as { 'key-file'?: string; 'key-env'?: string };
    let key: import('../../../lib/store/migrate.ts').MigrationKey | undefined;
    if (f['key-file'] !== undefined || f['key-env'] !== undefined) {
      const mint = await this.keyPair(network);
      const { toHex } = await import('../../../lib/bytes.ts');
      key = { secret: mint.secretKey, publicKey: toHex(mint.publicKey) };
    }
    const { nothingLeft, ...report } = await migrateMintStore(from, target, network, {}, key);
    return {
      message: {
        type: 'credit/store-migrated', version: 1, network, ...report,
        next: nothingLeft
          ? `nothing left to do: this migration (${report.migration_id}) had finished and ${report.to} holds it; serve the mint with --store ${report.to}`
          : `serve the mint with --store ${report.to} (sign-update --stream); users whose next request was signed against a burned nonce are refused once with E_NONCE_ELSEWHERE and recover with "credit abandon"`,
      },
    };
  }
}
