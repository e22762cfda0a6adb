/**
 * `serve mint` (the built CLI, spawned) stopping: SIGTERM in the middle of 50 concurrent
 * payments, and kill -9 at seeded points.
 *
 * SIGTERM: 10 contracts, each payment sent 5 times at once (50 POSTs on 50 connections); the
 * signal is sent as soon as the first answer arrives. Every request the service accepted is
 * answered — 200 with its receipt, or 503 E_DRAINING — never a reset; /healthz is 503
 * {"status":"draining"} and a payment whose body comes after the signal 503 E_DRAINING with
 * Retry-After (both begun on connections opened before the signal); a request after that
 * finds the listener closed (connection refused, nothing accepted); the process exits 0; and
 * the store holds exactly the answered states (`credit list`), every answered receipt
 * accepted by its user.
 *
 * kill -9 (modelled on mint-stream-crash.test.ts, real randomness): users pay in rounds, the
 * service is killed at a seeded delay after the round's requests went out, restarted on the
 * same state directory, and every request of the round is sent again until all are answered.
 * Any answer for a request whose receipt was released before must be byte-identical to it;
 * after the last round a restarted service gets every request ever sent: each contract's latest
 * request its released receipt byte for byte, every older one a refusal (never another receipt).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freshExchange, tempDir, seeded, until } from '../helpers.ts';
import { runInProcess } from './in-process.ts';
import { MINT_KEY, PAY_FLAGS, type Msg, type Parties } from './stream-credit.ts';
import { applyReceiptHere, openContractsHere, payRequestHere } from './stream-credit-here.ts';
import { ServeMintProcess } from './serve-process.ts';

type Outcome = { status: number; text: string } | { error: string };

/** One POST on a connection of its own (no pool): a reset is told apart from a refused connection. */
function post(url: string, path: string, body: string): Promise<Outcome> {
  return freshExchange(new URL(path, url).href, 'POST', body).catch((e: NodeJS.ErrnoException) => ({ error: e.code ?? e.message }));
}

const mintList = async (p: Parties): Promise<Msg> => {
  const r = await runInProcess(['credit', 'list', '--key-env', 'MINT_KEY', '--state-dir', p.mintDir, '--tip-height', '1001'], { env: { ...p.env, MINT_KEY } });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Msg;
};

// 50 connections at once from 127.0.0.1: past --max-connections-per-address's default (16), so no cap here.
const serveArgs = (p: Parties) => ['--key-env', 'MINT_KEY', '--state-dir', p.mintDir, ...PAY_FLAGS, '--drain-timeout', '30', '--max-connections-per-address', '0'];

const CONTRACTS = 10;
const COPIES = 5;

describe('serve mint: SIGTERM in the middle of 50 concurrent payments', () => {
  let dir: { path: string; cleanup: () => void };
  let p: Parties;
  beforeAll(async () => {
    dir = tempDir('offchain-serve-drain-');
    p = await openContractsHere(dir.path, CONTRACTS, { OFFCHAIN_TEST_SEED: 'serve-drain' }, 'serve-drain');
  }, 120_000);
  afterAll(() => dir?.cleanup());

  it('every accepted request answered (200 or 503), healthz 503 while draining, exit 0, the store holds exactly the answered states', async () => {
    const requests = await Promise.all(p.users.map(async (u) => ({ user: u, ...(await payRequestHere(u, 1000 + u.index, p.env)) })));
    // Its log at info: the test waits for its "draining" line (below).
    const svc = await ServeMintProcess.start([...serveArgs(p), '--log-level', 'info'], { ...p.env, MINT_KEY });
    const { port } = new URL(svc.url);
    // A health check begun before the signal, finished after it: its connection is in use, so the drain answers it.
    const health = connect(Number(port), '127.0.0.1');
    let healthAnswer = '';
    health.setEncoding('utf8').on('data', (d: string) => (healthAnswer += d));
    await new Promise<void>((res) => health.once('connect', () => res()));
    health.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    // A payment begun before the signal, its body sent after it: refused E_DRAINING (503, coded), never a reset.
    const body = requests[0]!.line;
    const latePay = connect(Number(port), '127.0.0.1');
    let latePayAnswer = '';
    latePay.setEncoding('utf8').on('data', (d: string) => (latePayAnswer += d));
    await new Promise<void>((res) => latePay.once('connect', () => res()));
    latePay.write(`POST /v1/credit/update HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`);

    let signalled = false;
    const answeredAfterSignal: number[] = [];
    const sent = requests.flatMap((r) => Array.from({ length: COPIES }, () => r)).map((r, i) => post(svc.url, '/v1/credit/update', r.line).then((o) => {
      if (!signalled) {
        signalled = true;
        svc.child.kill('SIGTERM');
      } else if ('status' in o && o.status === 200) answeredAfterSignal.push(i);
      return { r, o };
    }));
    const outcomes = await Promise.all(sent);
    // The health check ends only once the service is draining: a fixed pause was a race on a
    // loaded machine (the signal and the last bytes arriving in one turn of its event loop: 200).
    await until(() => /"msg":"draining"/.test(svc.stderr), 10_000, () => `no "draining" line in its log: ${svc.stderr.slice(-600)}`);
    health.write('\r\n');
    await new Promise<void>((res) => health.once('close', () => res()));
    expect(healthAnswer).toMatch(/^HTTP\/1\.1 503 /);
    expect(healthAnswer).toContain('{"status":"draining"}');
    latePay.write(`\r\n${body}`);
    await new Promise<void>((res) => latePay.once('close', () => res()));
    expect(latePayAnswer).toMatch(/^HTTP\/1\.1 503 /);
    expect(latePayAnswer).toMatch(/retry-after: 1\r\n/i);
    expect(JSON.parse(latePayAnswer.slice(latePayAnswer.indexOf('\r\n\r\n') + 4))).toMatchObject({ type: 'credit/error', code: 'E_DRAINING', exit_code: 1 });
    // The listener is closed: nothing more is accepted.
    const late = await post(svc.url, '/v1/credit/update', requests[0]!.line);
    expect(late).toEqual({ error: 'ECONNREFUSED' });
    const exit = await svc.exited;
    expect(exit, svc.stderr).toEqual({ status: 0, signal: null });

    const answered = new Map<string, string>();
    for (const { r, o } of outcomes) {
      expect('status' in o, JSON.stringify(o)).toBe(true); // never a reset: each accepted request got an answer
      if (!('status' in o)) continue;
      if (o.status === 200) {
        const receipt = JSON.parse(o.text) as Msg;
        expect(receipt).toMatchObject({ type: 'credit/receipt', contract_id: r.user.contractId, state: r.msg.state });
        const before = answered.get(r.user.contractId);
        if (before !== undefined) expect(o.text).toBe(before); // the same request twice: the same receipt
        answered.set(r.user.contractId, o.text);
      } else {
        expect(o.status, o.text).toBe(503);
        expect(JSON.parse(o.text)).toMatchObject({ code: 'E_DRAINING' });
      }
    }
    // The signal came in the middle of the run: answers were still released after it.
    expect(answeredAfterSignal.length).toBeGreaterThan(0);
    const list = await mintList(p);
    for (const u of p.users) {
      const row = (list.contracts as Msg[]).find((c) => c.contract_id === u.contractId)!;
      const receipt = answered.get(u.contractId);
      expect(row.state, u.contractId).toBe(receipt === undefined ? 0 : JSON.parse(receipt).state);
      if (receipt !== undefined) expect((await applyReceiptHere(u, receipt, p.env)).type).toBe('credit/balance');
    }
    console.log(`serve-mint-drain: ${answered.size} of ${CONTRACTS} contracts paid, ${answeredAfterSignal.length} answers released after SIGTERM`);
  }, 120_000);
});

const SEED = Number(process.env.SERVE_CRASH_SEED ?? 0x5e4e39);

describe(`serve mint: kill -9 at seeded points (SERVE_CRASH_SEED=${SEED})`, () => {
  const random = seeded(SEED);
  let dir: { path: string; cleanup: () => void };
  let p: Parties;
  let svc: ServeMintProcess | undefined;
  /** Every request ever sent, and the receipt released for it (by request text). */
  const released = new Map<string, string>();
  const sentLines: { contract: string; state: number; line: string }[] = [];
  let kills = 0;
  beforeAll(async () => {
    dir = tempDir('offchain-serve-crash-');
    p = await openContractsHere(dir.path, 4, {}, 'serve-crash');
  }, 120_000);
  afterAll(async () => {
    await svc?.kill();
    dir?.cleanup();
  });

  const start = async () => (svc = await ServeMintProcess.start(serveArgs(p), { ...p.env, MINT_KEY }));

  /** Send `lines`; every 200 must agree with what was released before for the same request. */
  async function send(lines: string[]): Promise<Map<string, Outcome>> {
    const out = new Map<string, Outcome>();
    await Promise.all(lines.map(async (line) => {
      const o = await post(svc!.url, '/v1/credit/update', line);
      out.set(line, o);
      if ('status' in o && o.status === 200) {
        const before = released.get(line);
        if (before !== undefined) expect(o.text, 'a released receipt answered differently').toBe(before);
        released.set(line, o.text);
      }
    }));
    return out;
  }

  it('3 rounds, a kill -9 in each: every released receipt comes back byte for byte', async () => {
    await start();
    for (let round = 0; round < 3; round++) {
      const reqs = await Promise.all(p.users.map(async (u) => ({ u, ...(await payRequestHere(u, 100 + Math.floor(random() * 900), p.env)) })));
      for (const r of reqs) sentLines.push({ contract: r.u.contractId, state: r.msg.state, line: r.line });
      const lines = reqs.map((r) => r.line);
      const first = send(lines);
      await new Promise((res) => setTimeout(res, Math.floor(random() * 60)));
      await svc!.kill();
      kills++;
      await first;
      await start();
      // Until every request of the round is answered (a retry is the same bytes).
      for (let attempt = 0; lines.some((l) => !released.has(l)); attempt++) {
        expect(attempt).toBeLessThan(3);
        const again = await send(lines);
        for (const [l, o] of again) expect('status' in o && o.status, `${l.slice(0, 60)}: ${JSON.stringify(o)}`).toBe(200);
      }
      for (const r of reqs) expect((await applyReceiptHere(r.u, released.get(r.line)!, p.env)).type).toBe('credit/balance');
    }
    // A last restart, every request ever sent: the latest per contract its receipt again, the older ones refused.
    await svc!.kill();
    await start();
    const latest = new Map<string, number>();
    for (const s of sentLines) latest.set(s.contract, Math.max(latest.get(s.contract) ?? 0, s.state));
    const all = await send(sentLines.map((s) => s.line));
    for (const s of sentLines) {
      const o = all.get(s.line)!;
      expect('status' in o, JSON.stringify(o)).toBe(true);
      if (!('status' in o)) continue;
      if (s.state === latest.get(s.contract)) {
        expect(o.status).toBe(200);
        expect(o.text).toBe(released.get(s.line));
      } else {
        expect(o.status, o.text).toBe(409);
        expect(JSON.parse(o.text).code, 'an older state again: its nonce is spent').toBe('E_NONCE_USED');
      }
    }
    expect((await svc!.stop()).status).toBe(0);
    console.log(`serve-mint-crash (seed ${SEED}): ${kills} kills, ${released.size} receipts released`);
  }, 180_000);
});
