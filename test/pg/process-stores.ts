/**
 * Library-level "commands" on a PostgreSQL mint store for the host-epoch tests: each opens
 * the store as a one-shot mint command of the host whose --state-dir is `hostDir` would,
 * runs one step, and closes it — separate connections, as separate processes have.
 */
import { randomBytes } from 'node:crypto';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { resolvePgTarget, type PgTarget } from '../../src/lib/store/pg/connect.ts';
import type pg from 'pg';
import type { Postgres } from '../setup/postgres.ts';

export type Rec = { contract_id: string; status: string };

/** A fresh database on `server`: its store target (password from the environment, as the CLI) and URL. */
export async function storeTarget(server: Postgres, name: string): Promise<{ t: PgTarget; url: string }> {
  const url = await server.createDatabase(name);
  return { url, t: resolvePgTarget({}, { OFFCHAIN_STORE_URL: url, OFFCHAIN_STORE_PASSWORD: server.password })! };
}

/** A made-up secret nonce and its public nonce (the store seals the secret; it never parses either). */
export const nonce = () => ({ sec: new Uint8Array(randomBytes(97)), pub: Uint8Array.from([0x02, ...randomBytes(32), 0x03, ...randomBytes(32)]) });

/** One one-shot command of the host whose --state-dir is `hostDir`: open, one step, close. */
export async function command<T>(t: PgTarget, hostDir: string, fn: (s: PgMintStore<Rec>) => Promise<T>): Promise<T> {
  const s = await PgMintStore.open<Rec>(t, 'regtest', { hostDir });
  try {
    const r = await s.step(() => fn(s));
    await s.close();
    return r;
  } finally {
    await s.abandon();
  }
}

/** A command that issues one nonce for `ctx`: the nonce, secret and public. */
export async function issue(t: PgTarget, hostDir: string, ctx: string): Promise<{ sec: Uint8Array; pub: Uint8Array }> {
  const n = nonce();
  await command(t, hostDir, (s) => s.issue(ctx, () => ({ secnonce: Uint8Array.from(n.sec), pubnonce: n.pub })));
  return n;
}

/** The nonce tables as the database's administrator sees them. */
export type NonceTables = { e: unknown[]; n: unknown[] };

/**
 * The DBA's snapshot of the nonce tables (epochs, nonces) and its restore, as a backup restored
 * is: rows put back whole, the single-use trigger not fired (session_replication_role = replica).
 */
export function nonceTables(admin: pg.Client): { snapshot: () => Promise<NonceTables>; restore: (s: NonceTables) => Promise<void> } {
  return {
    snapshot: async () => (await admin.query<{ s: unknown }>("SELECT json_build_object('e', (SELECT coalesce(json_agg(e), '[]') FROM epochs e), 'n', (SELECT coalesce(json_agg(n), '[]') FROM nonces n)) AS s")).rows[0]!.s as NonceTables,
    restore: async (s) => {
      await admin.query('BEGIN');
      await admin.query('SET LOCAL session_replication_role = replica');
      await admin.query('DELETE FROM nonces');
      await admin.query('DELETE FROM epochs');
      await admin.query('INSERT INTO epochs SELECT * FROM json_populate_recordset(null::epochs, $1::json)', [JSON.stringify(s.e)]);
      await admin.query('INSERT INTO nonces SELECT * FROM json_populate_recordset(null::nonces, $1::json)', [JSON.stringify(s.n)]);
      await admin.query('COMMIT');
    },
  };
}
