/**
 * Where a mint or a statechain operator keeps its state: the embedded store under
 * --state-dir (default), or a PostgreSQL database named by --store URL / $OFFCHAIN_STORE_URL,
 * shared by any number of processes (docs/postgres.md, docs/deployment.md). The password only
 * from $OFFCHAIN_STORE_PASSWORD or a 0600 file (--store-password-file /
 * $OFFCHAIN_STORE_PASSWORD_FILE), never argv. One definition for both roles: `storeFlagsFor`
 * says whose state moves.
 */
import { Flags } from '@oclif/core';
import type { PgTarget } from '../store/pg/connect.ts';

/** The two flags; `what` says whose state moves (e.g. "mint: keep the mint's state"). */
export function storeFlagsFor(what: string) {
  return {
    store: Flags.string({
      description: `${what} in this PostgreSQL database instead of --state-dir: postgres://USER@HOST:PORT/DB[?sslmode=verify-full] (or $OFFCHAIN_STORE_URL); the password from $OFFCHAIN_STORE_PASSWORD or --store-password-file, never the URL on argv`,
      helpValue: 'URL',
      helpGroup: 'STATE',
    }),
    'store-password-file': Flags.string({
      description: 'file (mode 0600) holding the --store database password (or $OFFCHAIN_STORE_PASSWORD_FILE)',
      helpValue: 'FILE',
      helpGroup: 'STATE',
    }),
  };
}

/** The mint's commands (and the gateway's, which keeps the mint's store). */
export const storeFlags = storeFlagsFor('mint: keep the mint\'s state');

/** The PostgreSQL store these flags (or the environment) name, or undefined for the embedded one. */
export async function storeTarget(flags: Record<string, unknown>): Promise<PgTarget | undefined> {
  const { resolvePgTarget } = await import('../store/pg/connect.ts');
  const { readSecretText } = await import('./secret-file.ts');
  const store = flags.store as string | undefined;
  const passwordFile = flags['store-password-file'] as string | undefined;
  return resolvePgTarget({ ...(store !== undefined ? { store } : {}), ...(passwordFile !== undefined ? { passwordFile } : {}) }, process.env, readSecretText);
}

/** The target of a `store migrate` command: --to (the database) and its password file. */
export const migrateTargetFlags = {
  to: Flags.string({ description: 'the PostgreSQL database to move into: postgres://USER@HOST:PORT/DB (or $OFFCHAIN_STORE_URL); never with a password in it', helpValue: 'URL', helpGroup: 'STATE' }),
  'store-password-file': Flags.string({ description: 'file (mode 0600) holding the --to database password (or $OFFCHAIN_STORE_PASSWORD / $OFFCHAIN_STORE_PASSWORD_FILE)', helpValue: 'FILE', helpGroup: 'STATE' }),
};

/** The database --to names, resolved as --store is (its errors speak of --to); E_USAGE when none is named. */
export async function migrateTarget(flags: { to?: string; 'store-password-file'?: string }): Promise<PgTarget> {
  const { OffchainError, UsageError } = await import('../errors.ts');
  let target: PgTarget | undefined;
  try {
    target = await storeTarget({ store: flags.to, 'store-password-file': flags['store-password-file'] });
  } catch (e) {
    if (e instanceof OffchainError) throw new OffchainError(e.code, e.message.replaceAll('--store ', '--to ').replace(/^--store\b/, '--to'), e.exitCode);
    throw e;
  }
  if (!target) throw new UsageError('E_USAGE', 'name the PostgreSQL database to migrate to: --to postgres://USER@HOST:PORT/DB (or $OFFCHAIN_STORE_URL)');
  return target;
}
