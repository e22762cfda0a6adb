/**
 * What the tests read of a state directory, and how they tamper with it: `<state-dir>/<network>/state.sqlite`
 * (src/lib/store/sqlite/database.ts), one database for every role. Each helper opens the database, does one
 * thing and closes it, so a test never holds the file open under the CLI it runs next.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { StateDb, STATE_DB_FILE } from '../src/lib/store/sqlite/database.ts';
import { SqliteMintStore } from '../src/lib/store/sqlite/mint.ts';
import { Sealer } from '../src/lib/store/seal.ts';
import { OWNER_SECRETS, Records, type RecordKind } from '../src/lib/store/sqlite/records.ts';
import { OPERATOR_SECRETS } from '../src/lib/store/sqlite/operator.ts';
import { TABLES } from '../src/lib/store/sqlite/schema.ts';
import { VersionWitness } from '../src/lib/store/pg/witness.ts';

/** `<state-dir>/<network>`: where a party's database lives (regtest by default). */
export function networkDir(stateDir: string, network = 'regtest'): string {
  return join(stateDir, network);
}

/** The database file of a party's network directory. */
export function dbFile(dir: string): string {
  return join(dir, STATE_DB_FILE);
}

/** Whether the directory holds a database. */
export function hasState(dir: string): boolean {
  return existsSync(dbFile(dir));
}

/** Run `fn` on the directory's database (which must exist), closed after. */
export function withStateDb<T>(dir: string, fn: (db: StateDb) => T): T {
  const db = StateDb.open(dir, { create: false });
  if (db === undefined) throw new Error(`no ${STATE_DB_FILE} in ${dir}`);
  try {
    const out = fn(db);
    if (out instanceof Promise) throw new Error('withStateDb takes a synchronous function; use withMintStore for the mint');
    return out;
  } finally {
    db.close();
  }
}

/** The mint's store on the directory's database: with the mint's secret key its sealed states are opened, without it they stay sealed (a view). */
export async function withMintStore<R extends { contract_id: string }, T>(dir: string, key: Uint8Array | undefined, fn: (store: SqliteMintStore<R>) => Promise<T> | T): Promise<T> {
  const db = StateDb.open(dir, { create: false });
  if (db === undefined) throw new Error(`no ${STATE_DB_FILE} in ${dir}`);
  try {
    const store = new SqliteMintStore<R>(db, key ? { sealer: Sealer.fromSecret(key) } : {});
    try {
      return await fn(store);
    } finally {
      store.abandon();
    }
  } finally {
    db.close();
  }
}

/** A mint's contract record (its states opened with `key`, else left sealed). */
export async function mintRecord<R extends { contract_id: string } = { contract_id: string } & Record<string, unknown>>(dir: string, id: string, key?: Uint8Array): Promise<R | undefined> {
  return withMintStore<R, R | undefined>(dir, key, (s) => s.get(id));
}

/** Every record of `kind` (the operator's and the statechain owner's with their shares opened under `key`, when given). */
export function records<R = Record<string, unknown>>(dir: string, kind: RecordKind, key?: Uint8Array): { id: string; record: R }[] {
  if (!hasState(dir)) return [];
  const fields = kind === 'statechain-operator' ? OPERATOR_SECRETS : kind === 'statechain' ? OWNER_SECRETS : [];
  return withStateDb(dir, (db) => new Records<R>(db, kind, key && fields.length > 0 ? { fields, sealer: Sealer.fromSecret(key) } : { fields: [] }).list());
}

/** One record of `kind`, or undefined. */
export function record<R = Record<string, unknown>>(dir: string, kind: RecordKind, id: string, key?: Uint8Array): R | undefined {
  return records<R>(dir, kind, key).find((r) => r.id === id)?.record;
}

/** How many nonces the database holds, unused and consumed. */
export function nonceCounts(dir: string): { unused: number; consumed: number } {
  if (!hasState(dir)) return { unused: 0, consumed: 0 };
  return withStateDb(dir, (db) => {
    const row = db.sql.prepare<[], { unused: number; consumed: number }>('SELECT COALESCE(SUM(consumed = 0), 0) AS unused, COALESCE(SUM(consumed = 1), 0) AS consumed FROM nonces').get()!;
    return { unused: row.unused, consumed: row.consumed };
  });
}

/**
 * A raw connection to the database, for a test that plays its writer (an edited row, a rewound nonce):
 * SQLite's own driver, not the store's, closed by the caller. It waits for a writer up to 10 s.
 */
export function rawDb(dir: string): Database.Database {
  const db = new Database(dbFile(dir));
  db.pragma('busy_timeout = 10000');
  return db;
}

/** SQL on the database as its writer would (one statement, or several separated by `;`). */
export function tamper(dir: string, sql: string, ...params: unknown[]): void {
  const db = rawDb(dir);
  try {
    if (params.length > 0) db.prepare(sql).run(...params);
    else db.exec(sql);
  } finally {
    db.close();
  }
}

/**
 * SHA-256 over every row of every table of the directory's database (schema.ts TABLES), as this process
 * sees them: through its own open connection when it has one (a test world's mint: its uncommitted batch
 * included), else a fresh one. Undefined when there is no database. A refused step leaves it unchanged.
 */
export function stateDigest(dir: string): string | undefined {
  if (!hasState(dir)) return undefined;
  return withStateDb(dir, (db) => {
    const h = createHash('sha256');
    for (const table of TABLES) {
      for (const row of db.sql.prepare(`SELECT * FROM ${table} ORDER BY 1`).all()) h.update(`${table}:${JSON.stringify(row, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v))}\n`);
    }
    return h.digest('hex');
  });
}

/**
 * The statechain operator host's rollback witness on the directory's state.sqlite
 * (src/lib/store/pg/witness.ts, records of kind `statechain-witness`), made as the operator's
 * commands make it; `witnessSeen` reads what it keeps for a coin.
 */
export function versionWitness(dir: string): VersionWitness {
  return new VersionWitness(async (create) => StateDb.open(dir, { create }), dir);
}

/** What the host's witness keeps for `id` (its version, and the fingerprint of the row it saw), or undefined. */
export function witnessSeen(dir: string, id: string): { version: number; fingerprint?: string } | undefined {
  return record<{ version: number; fingerprint?: string }>(dir, 'statechain-witness', id);
}
