import type { CommandResult } from '../../../lib/cli/base-command.ts';
import { StatechainCommand } from '../../../topics/statechain/command.ts';
import { keyFlags, stateFlags } from '../../../lib/cli/flags.ts';
import { migrateTarget, migrateTargetFlags } from '../../../lib/cli/store-flags.ts';
import { UsageError } from '../../../lib/errors.ts';

export default class StatechainStoreMigrate extends StatechainCommand<typeof StatechainStoreMigrate> {
  /** Tables copied, no curve arithmetic: noble (base-command.ts `curveWork`). */
  protected override curveWork = false;
  static override summary = 'Move a statechain operator\'s coins from --state-dir into PostgreSQL, erasing each file copy of a share.';
  static override description =
    'Every op-<coin>.json under the operator\'s state directory becomes the coin\'s rows in the database named by --to — its record, its share ' +
    'sealed under the operator\'s key (hence --key-env/--key-file: the operator\'s own), and the ledger its history implies (owner nonces, ' +
    'backups, transfers, the withdrawal) — and then the file is overwritten and unlinked, so no coin has two live stores that could each sign ' +
    'for it. Run it with every operator process stopped; it holds the state directory\'s lock. Every record is first checked to be this ' +
    'operator\'s (a key other than its statements\' operator_auth: E_KEY_MISMATCH, nothing moved). A coin the database holds exactly as a killed ' +
    'run committed it has its file erased; one it holds otherwise is refused (E_COIN_EXISTS) and its file kept; the coins before it stay moved, ' +
    'so a rerun carries on. The directory is then marked: operator steps on its files are refused (E_STORE_MIGRATED), and so is a ' +
    'migration of it to another database. Then serve with --store on the operator\'s steps. ' +
    'The password from $OFFCHAIN_STORE_PASSWORD or --store-password-file, never the URL (docs/deployment.md).';
  static override examples = [
    {
      description: 'The fixture operator, and a migration to a server that is not there: refused (E_STORE_UNREACHABLE), its state.sqlite kept',
      command:
        'D=$(mktemp -d); cp -r fixtures/statechain/state/operator $D/sc-op && export OPERATOR_KEY=$(cat fixtures/keys/mint.key) && ' +
        '{ <%= config.bin %> statechain store migrate --key-env OPERATOR_KEY --state-dir $D/sc-op --to postgres://op@127.0.0.1:1/op 2>&1 || true; } | grep -o E_STORE_UNREACHABLE >&2 && ls $D/sc-op/regtest | grep -c "^state.sqlite$"',
    },
    {
      description: 'The real thing: the password in a 0600 file, then the operator\'s steps with --store',
      command: '<%= config.bin %> statechain store migrate --key-env OPERATOR_KEY --state-dir /srv/operator --to postgres://op@db.internal:5432/statechain --store-password-file /etc/offchain/db.pass',
    },
  ];
  static override flags = {
    ...keyFlags,
    ...stateFlags,
    ...migrateTargetFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    const target = await migrateTarget(this.flags);
    const key = await this.keyPair(network);
    const db = await this.state(network, { create: false });
    if (db === undefined) throw new UsageError('E_NO_STATE', `no statechain state in ${this.stateDir(network)}: check --state-dir and --network`);
    const from = db.dir;
    const { PgOperatorStore } = await import('../../../lib/store/pg/operator-store.ts');
    const { VersionWitness } = await import('../../../lib/store/pg/witness.ts');
    const { migrateOperatorState } = await import('../../../lib/store/pg/operator-migrate.ts');
    const { Sealer } = await import('../../../lib/store/seal.ts');
    const store = new PgOperatorStore(target, { network, operatorSecret: key.secretKey, witness: new VersionWitness((create) => this.state(network, { create }), this.stateDir(network)) });
    let coins: string[];
    try {
      ({ coins } = await migrateOperatorState(db, Sealer.fromSecret(key.secretKey), store));
    } finally {
      await store.close();
    }
    return {
      message: {
        type: 'statechain/store-migrated', version: 1, network, from, to: target.url, coins,
        next: `serve the operator's steps with --store ${target.url}; the owners' files stay where they are`,
      },
    };
  }
}
