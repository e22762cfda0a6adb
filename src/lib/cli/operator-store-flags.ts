/**
 * `--store URL` and `--store-password-file FILE` on the statechain operator's commands: the
 * operator's records move from --state-dir to a PostgreSQL server (issue 29). Resolution —
 * the URL from the flag or $OFFCHAIN_STORE_URL, the password only from
 * $OFFCHAIN_STORE_PASSWORD, a 0600 file or libpq's own PGPASSWORD/~/.pgpass, never argv —
 * is src/lib/store/pg/connect.ts's. The mint's commands define the same two flags with the
 * mint's wording (src/lib/cli/store-flags.ts on the mint's branch); one definition taking
 * whose state moves can serve both once merged.
 */
import { Flags } from '@oclif/core';

/** The two flags; `what` says whose state moves (e.g. "operator: the coins' records"). */
export function storeFlags(what: string) {
  return {
    store: Flags.string({
      description: `${what} in PostgreSQL instead of --state-dir: postgres://USER@HOST:PORT/DATABASE[?sslmode=verify-full] (or $OFFCHAIN_STORE_URL); no password in it on argv`,
      helpValue: 'URL',
      helpGroup: 'STATE',
    }),
    'store-password-file': Flags.string({
      description: 'the store\'s password, from a 0600 file (or $OFFCHAIN_STORE_PASSWORD_FILE, or $OFFCHAIN_STORE_PASSWORD)',
      helpValue: 'FILE',
      helpGroup: 'STATE',
    }),
  };
}
