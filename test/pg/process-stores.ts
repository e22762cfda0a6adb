/**
 * Library-level mint processes on a PostgreSQL mint store, for the tests of the restore and
 * ledger rules (src/lib/store/pg/mint-store.ts): each `PgMintStore.open` is one mint process
 * (`serve mint`, `serve gateway`, `sign-update --stream`) as it opens the store — its own epoch
 * row, its own random key in memory, its own ledger — on its own connection, as separate
 * processes have. Nothing of a process is kept on disk, so "killing" one is dropping its store.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { resolvePgTarget, type PgTarget } from '../../src/lib/store/pg/connect.ts';
import type pg from 'pg';
import type { Postgres } from '../setup/postgres.ts';
import type { PgFixture } from './fixture.ts';

export type Rec = { contract_id: string; status: string };

/** A fresh database on `server`: its store target (password from the environment, as the CLI) and URL. */
export async function storeTarget(server: Postgres, name: string): Promise<{ t: PgTarget; url: string }> {
  const url = await server.createDatabase(name);
  return { url, t: resolvePgTarget({}, { OFFCHAIN_STORE_URL: url, OFFCHAIN_STORE_PASSWORD: server.password })! };
}

/** A made-up secret nonce and its public nonce (the store seals the secret; it never parses either). */
export const nonce = () => ({ sec: new Uint8Array(randomBytes(97)), pub: Uint8Array.from([0x02, ...randomBytes(32), 0x03, ...randomBytes(32)]) });
export type Nonce = ReturnType<typeof nonce>;

/** A mint process's store (a process epoch), with the alarms it raised. */
export async function mintProcess(t: PgTarget): Promise<PgMintStore<Rec> & { alarms: { message: string; refused: boolean }[] }> {
  const alarms: { message: string; refused: boolean }[] = [];
  const s = await PgMintStore.open<Rec>(t, 'regtest', { alarm: (message, refused) => alarms.push({ message, refused }) });
  return Object.assign(s, { alarms });
}

/** Process `s` issues one nonce for `ctx` in a step of its own: the nonce, secret and public. */
export async function issueOn(s: PgMintStore<Rec>, ctx: string): Promise<Nonce> {
  const n = nonce();
  await s.step(() => s.issue(ctx, () => ({ secnonce: Uint8Array.from(n.sec), pubnonce: n.pub })));
  return n;
}

export const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** A signing session's digest, made up (the ledger compares them byte for byte). */
export const session = (k: number) => new Uint8Array(32).fill(k);

/** Process `s` takes `n` for `ctx` (and `sessionOf`) in a step of its own: the secret's hex, or "refused CODE". */
export function takeOn(s: PgMintStore<Rec>, n: { pub: Uint8Array }, ctx: string, sessionOf?: Uint8Array): Promise<string> {
  return s.step(() => s.take(n.pub, ctx, sessionOf)).then(hexOf, (e: { code?: string }) => `refused ${e.code}`);
}

/** The database's superuser on its own connection (the DBA: every row writable). */
export async function admin(server: Postgres, url: string): Promise<pg.Client> {
  const { default: pgm } = await import('pg');
  const c = new pgm.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: new URL(url).pathname.slice(1) });
  c.on('error', () => {}); // a test that restarts the server ends this connection too
  await c.connect();
  return c;
}

/** An epoch's counter as the database holds it (undefined: no row). */
export async function counterOf(c: pg.Client, epoch: string): Promise<number | undefined> {
  const row = (await c.query<{ counter: string }>('SELECT counter FROM epochs WHERE epoch = $1', [epoch])).rows[0];
  return row ? Number(row.counter) : undefined;
}

/** The nonce tables as the database's administrator sees them. */
export type NonceTables = { e: unknown[]; n: unknown[] };

/**
 * The DBA's snapshot of the nonce tables (epochs, nonces) and its restore, as a backup restored
 * is: rows put back whole, the single-use trigger not fired (session_replication_role = replica).
 */
export function nonceTables(c: pg.Client): { snapshot: () => Promise<NonceTables>; restore: (s: NonceTables) => Promise<void> } {
  return {
    snapshot: async () => (await c.query<{ s: unknown }>("SELECT json_build_object('e', (SELECT coalesce(json_agg(e), '[]') FROM epochs e), 'n', (SELECT coalesce(json_agg(n), '[]') FROM nonces n)) AS s")).rows[0]!.s as NonceTables,
    restore: async (s) => {
      await c.query('BEGIN');
      await c.query('SET LOCAL session_replication_role = replica');
      await c.query('DELETE FROM nonces');
      await c.query('DELETE FROM epochs');
      await c.query('INSERT INTO epochs SELECT * FROM json_populate_recordset(null::epochs, $1::json)', [JSON.stringify(s.e)]);
      await c.query('INSERT INTO nonces SELECT * FROM json_populate_recordset(null::nonces, $1::json)', [JSON.stringify(s.n)]);
      await c.query('COMMIT');
    },
  };
}

/** The server's data directory copied while it is stopped (a base backup's worth): where the copy is. */
export async function backupData(fx: PgFixture, name: string): Promise<string> {
  await fx.server.pause();
  const to = join(fx.root, name);
  execFileSync('cp', ['-a', fx.server.dataDir, to]); // -a: as root the server's files belong to postgres
  await fx.server.resume();
  return to;
}

/** The backup `from` put back in the server's place (a restore, or a lagging standby promoted), the server started on it. */
export async function restoreData(fx: PgFixture, from: string): Promise<void> {
  await fx.server.pause();
  rmSync(fx.server.dataDir, { recursive: true, force: true });
  execFileSync('cp', ['-a', from, fx.server.dataDir]);
  await fx.server.resume();
}

/**
 * A step of a store that lived through a server restart: its first use may meet the lost
 * connection (E_STORE_UNREACHABLE, nothing kept); the same step once more meets the checks.
 */
export function retrying<T>(s: PgMintStore<Rec>, fn: () => Promise<T>): Promise<T> {
  return s.step(fn).catch(async (e: { code?: string }) => {
    if (e.code === 'E_STORE_UNREACHABLE') return s.step(fn);
    throw e;
  });
}
