/**
 * Where a mint keeps its state: the embedded SQLite store under --state-dir (default), or
 * a PostgreSQL database named by --store URL / $OFFCHAIN_STORE_URL, shared by any number
 * of mint processes (docs/postgres.md). The password only from $OFFCHAIN_STORE_PASSWORD
 * or a 0600 file (--store-password-file / $OFFCHAIN_STORE_PASSWORD_FILE), never argv.
 */
import { Flags } from '@oclif/core';
import type { PgTarget } from '../store/pg/connect.ts';

export const storeFlags = {
  store: Flags.string({
    description: 'mint: keep the mint\'s state in this PostgreSQL database (postgres://USER@HOST:PORT/DB; or $OFFCHAIN_STORE_URL) instead of --state-dir; the password from $OFFCHAIN_STORE_PASSWORD or --store-password-file, never the URL on argv',
    helpValue: 'URL',
    helpGroup: 'STATE',
  }),
  'store-password-file': Flags.string({
    description: 'mint: file (mode 0600) holding the --store database password (or $OFFCHAIN_STORE_PASSWORD_FILE)',
    helpValue: 'FILE',
    helpGroup: 'STATE',
  }),
};

/** The PostgreSQL store these flags (or the environment) name, or undefined for the embedded one. */
export async function storeTarget(flags: Record<string, unknown>): Promise<PgTarget | undefined> {
  const { resolvePgTarget } = await import('../store/pg/connect.ts');
  const store = flags.store as string | undefined;
  const passwordFile = flags['store-password-file'] as string | undefined;
  return resolvePgTarget({ ...(store !== undefined ? { store } : {}), ...(passwordFile !== undefined ? { passwordFile } : {}) });
}
