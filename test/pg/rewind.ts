/**
 * The attacker of issue 38, Found 1, as test code: the database's superuser copies a mint
 * nonce's row and a contract's row and puts them back later, past the single-use trigger
 * (`session_replication_role = replica` for its transaction — a table owner could as well
 * `ALTER TABLE nonces DISABLE TRIGGER`); a colluding user keeps a copy of its state
 * directory from before the payment. And the witnesses of "nothing written": every row
 * of the mint's tables, every file under a directory.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type pg from 'pg';
import type { Postgres } from '../setup/postgres.ts';
import type { PgUser } from './mint-cluster.ts';

/** The database's superuser: what a DBA, a managed database's staff or a table owner can do. */
export async function dba(server: Postgres, url: string): Promise<pg.Client> {
  const { default: pgm } = await import('pg');
  const c = new pgm.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: new URL(url).pathname.slice(1) });
  await c.connect();
  return c;
}

export type Saved = { nonce: Record<string, unknown>; record: string };

/** Copy the mint nonce's row (found by its public nonce) and the contract's row. */
export async function save(c: pg.Client, contractId: string, pubnonce: string): Promise<Saved> {
  const nonce = (await c.query('SELECT * FROM nonces WHERE pubnonce = $1', [pubnonce])).rows[0] as Record<string, unknown> | undefined;
  expect(nonce, 'the nonce row').toBeDefined();
  expect(nonce!['consumed']).toBe(false);
  const record = (await c.query<{ record: string }>('SELECT record FROM contracts WHERE contract_id = $1', [contractId])).rows[0]!.record;
  return { nonce: nonce!, record };
}

/** Put both rows back as they were, past the single-use trigger. */
export async function rewind(c: pg.Client, contractId: string, saved: Saved): Promise<void> {
  const n = saved.nonce;
  await c.query('BEGIN');
  await c.query('SET LOCAL session_replication_role = replica');
  const r = await c.query('UPDATE nonces SET consumed = $2, sealed = $3, context = $4, pubnonce = $5, epoch = $6 WHERE id = $1', [n['id'], n['consumed'], n['sealed'], n['context'], n['pubnonce'], n['epoch']]);
  const k = await c.query('UPDATE contracts SET record = $2 WHERE contract_id = $1', [contractId, saved.record]);
  await c.query('COMMIT');
  expect([r.rowCount, k.rowCount]).toEqual([1, 1]);
  expect((await c.query('SELECT consumed FROM nonces WHERE id = $1', [n['id']])).rows[0]).toEqual({ consumed: false });
}

/** Every row of the mint's tables, as the superuser reads them. */
export async function rows(c: pg.Client): Promise<string> {
  const out: string[] = [];
  for (const t of ['meta', 'contracts', 'funding', 'epochs', 'nonces', 'blind_signatures']) out.push(JSON.stringify((await c.query(`SELECT * FROM ${t} ORDER BY 1`)).rows));
  out.push(JSON.stringify((await c.query('SELECT last_value FROM nonce_counter')).rows));
  return out.join('\n');
}

/** Every file under `dir`, with its bytes. */
export function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[p] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/** The colluding user's state directory, copied now / put back later. */
export function snapshotUser(user: PgUser): () => void {
  const copy = `${user.dir}.copy`;
  rmSync(copy, { recursive: true, force: true });
  execFileSync('cp', ['-a', user.dir, copy]);
  const nonce = user.nonce;
  return () => {
    rmSync(user.dir, { recursive: true, force: true });
    execFileSync('cp', ['-a', copy, user.dir]);
    user.nonce = nonce;
  };
}

