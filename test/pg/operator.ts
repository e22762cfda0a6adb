/**
 * The statechain operator on a PostgreSQL store, driven through the built CLI (test/pg):
 * every party its own process with its own key and --state-dir; operators (one name per
 * host, each its own --state-dir, all the same key) add `--store URL` and get the password
 * from OFFCHAIN_STORE_PASSWORD — never argv. Also a snapshot of every operator table, for
 * "nothing was written".
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { Client } from 'pg';
import { run } from '../e2e/cli.ts';
import { runAsync } from '../e2e/process.ts';
import { KEYS, OPERATOR_PUB, depositThrough, fundingTo, ok, partyArgs, type Flow } from '../e2e/statechain-flow.ts';
import type { Postgres } from '../setup/postgres.ts';
import type { PgFixture } from './fixture.ts';

export const OFFLINE = ['--tip-height', '200', '--confirmations', '3'];

/** Receivers beyond the fixture parties: R0_KEY … */
export const RECEIVER_KEYS: Record<string, string> = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`R${i}_KEY`, (0x21 + i).toString(16).repeat(32)]));

/** An operator host: a name starting OPERATOR, the operator's key under it. */
export const isOperator = (who: string) => who.startsWith('OPERATOR');

/** A party's argv and environment in a PostgreSQL run: an operator gets the operator's key, the store and its password. */
export function pgParty(dir: string, server: Postgres, url: string, keys: Record<string, string> = {}) {
  return {
    env: (who: string) => ({ ...KEYS, ...RECEIVER_KEYS, ...keys, ...(isOperator(who) ? { [who]: KEYS.OPERATOR_KEY!, OFFCHAIN_STORE_PASSWORD: server.password } : {}) }),
    args: (who: string, a: string[]) => [...partyArgs(dir, () => OFFLINE, who, a), ...(isOperator(who) ? ['--store', url] : [])],
  };
}

export function pgFlow(dir: string, server: Postgres, url: string, keys: Record<string, string> = {}): Flow {
  const { env, args } = pgParty(dir, server, url, keys);
  return {
    dir,
    chain: () => OFFLINE,
    as: (who, a, input) => run(args(who, a), { input, env: env(who) }),
    asAsync: (who, a, input) => runAsync(args(who, a), { input, env: env(who) }),
  };
}

export async function connect(server: Postgres, database: string): Promise<Client> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database });
  await c.connect();
  return c;
}

const TABLES: [string, string][] = [
  ['statechain_operator_coins', 'coin_id'],
  ['statechain_operator_shares', 'coin_id'],
  ['statechain_operator_nonces', 'coin_id, ordinal'],
  ['statechain_operator_backups', 'coin_id, n'],
  ['statechain_operator_transfers', 'coin_id, transfer_id'],
  ['statechain_operator_withdrawals', 'coin_id'],
  ['statechain_operator_offers', 'request'],
];

/** Every operator row, in a stable order (updated_at / signed_at left out: they are not state). */
export async function snapshot(db: Client): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const [t, order] of TABLES) {
    if ((await db.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [t])).rows[0]!.t === null) continue; // not created (yet)
    const rows = (await db.query(`SELECT * FROM ${t} ORDER BY ${order}`)).rows as Record<string, unknown>[];
    out[t] = rows.map(({ updated_at: _u, signed_at: _s, ...r }) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('hex') : v])));
  }
  return out;
}

export async function count(db: Client, table: string, where = 'TRUE', params: unknown[] = []): Promise<number> {
  return Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM statechain_operator_${table} WHERE ${where}`, params)).rows[0]!.n);
}

/**
 * The operator's database on the file's server (test/pg/fixture.ts): created and connected
 * before the file's tests, the connection ended after them; `temp()` a fresh directory per
 * test under the fixture's root.
 */
export function operatorDatabase(fx: PgFixture): { readonly url: string; readonly db: Client; temp: () => string; reconnect: () => Promise<void> } {
  let url: string | undefined;
  let db: Client | undefined;
  beforeAll(async () => {
    url = await fx.server.createDatabase('operator');
    db = await connect(fx.server, 'operator');
  });
  afterAll(async () => {
    await db?.end();
  });
  return {
    get url() {
      return url!;
    },
    get db() {
      return db!;
    },
    temp: () => mkdtempSync(join(fx.root, 'op-')),
    /** A new connection (the server was restarted under the old one). */
    reconnect: async () => {
      db = await connect(fx.server, 'operator');
    },
  };
}

/**
 * A coin Alice deposited on a fresh flow of this store, and her transfer to Bob signed by
 * her (in the flow's directory `dir`): `sign` is the message the operator's next step takes. `version()` reads the coin's
 * row version as the database has it.
 */
export function aliceSignedTransfer(fx: PgFixture, pgdb: { url: string; db: Client; temp: () => string }) {
  const dir = pgdb.temp();
  const f = pgFlow(dir, fx.server, pgdb.url);
  const d = depositThrough(f, 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
  const request = ok(f.as('BOB_KEY', ['statechain-transfer', '--start', '--coin', d.coinId, '--operator-key', OPERATOR_PUB]));
  const sign = ok(f.as('ALICE_KEY', ['statechain-transfer'], request));
  const version = async () => Number((await pgdb.db.query<{ version: string }>('SELECT version FROM statechain_operator_coins WHERE coin_id = $1', [d.coinId])).rows[0]!.version);
  return { dir, f, d, sign, version };
}
