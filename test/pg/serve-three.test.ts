/**
 * Many `serve mint` processes on one PostgreSQL (issue 39, deliverable 3; docs/serve.md,
 * "Many processes, one PostgreSQL"): the built CLI's services, spawned, behind a small
 * proxy written here (node:http), and users paying through it with `--peer`.
 *
 * Each service seals the nonces it issues under its own key (src/lib/store/pg/mint-store.ts,
 * the restore rule), so the proxy routes by contract: it hashes the Offchain-Contract header
 * (which --peer sends) to a service, as nginx's `hash $http_offchain_contract consistent`
 * would — its slot's service, or while that one is down a 502 (the user's --peer sends the same
 * bytes again), or once a whole machine is gone the contract hashed among the live ones.
 *
 * Three services: at a seeded payment the proxy kills the service it just handed that request
 * to (SIGKILL, a seeded few ms after forwarding it) and a new one is started in its slot; the
 * request in flight is a 502 to its user, whose --peer sends it again. The new service holds
 * no key for its predecessor's nonces: each of the slot's users pays on after one automatic
 * abandon (E_NONCE_ELSEWHERE absorbed by sign-update --peer).
 *
 * Two machines (services 0 and 1 on one, 2 on the other): the first machine killed whole, a
 * payment in flight; its contracts hash to the survivor, which serves their next payments after
 * one automatic abandon each.
 *
 * And the window of a COMMIT made to happen: a service killed -9 while its COMMIT is held on
 * the wire (commit-proxy.ts); the server rolls it back, the nonce the request opened dies with
 * the service's key, the request's retry reaches its successor, which refuses that nonce, and
 * the user pays on after one automatic abandon — nothing signed twice.
 *
 * What must hold, from what the test saw and raw SQL over the store's tables:
 * - every payment completes: each user's last balance is the sum of its payments;
 * - no user command fails, and its stderr names no error code but --peer's E_NONCE_ELSEWHERE
 *   recovery note, at most once per contract that lost its service;
 * - no nonce is consumed twice: every state the store's records hold was signed against a
 *   nonce the store shows consumed, each public nonce once in `nonces`, and no two of the
 *   users' receipts name one nonce as their next;
 * - the store's contracts hold exactly the users' final states.
 *
 * Re-staged from host epochs (gone): the services of one host shared the host's key, so the
 * proxy routed at random and a killed service cost nobody an abandon.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { hex } from '@scure/base';
import { afterAll, expect, it } from 'vitest';
import { ROOT, seeded } from '../helpers.ts';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { BIN, assertFreshBuild, cleanEnv, type Run } from '../e2e/cli.ts';
import { runAsync } from '../e2e/process.ts';
import { runInProcess } from '../e2e/in-process.ts';
import { MINT_KEY, MINT_PUB, PAYOUT, REFUND, fundingPsbt } from '../e2e/stream-credit.ts';
import { CommitProxy } from './commit-proxy.ts';
import { describePostgres } from './fixture.ts';

type Msg = Record<string, any>;
/** The seed of the test's own choices (the kill's moment, amounts, routing): `seeded` (mulberry32, test/helpers.ts). */
const SEED = Number(process.env['OFFCHAIN_SERVE_SEED'] ?? 39);

type Service = { child: ChildProcess; url: URL; exited: Promise<number | null>; stderr: () => string };

/** `offchain serve mint` on the store, `--listen 127.0.0.1:0`: resolves once its serve/listening line is read. */
async function serveMint(hostDir: string, env: Record<string, string>, level = 'warn', extra: string[] = []): Promise<Service> {
  assertFreshBuild();
  const child = spawn(process.execPath, [BIN, 'serve', 'mint', '--key-env', 'MINT_KEY', '--state-dir', hostDir, '--tip-height', '1000', '--confirmations', '1', '--listen', '127.0.0.1:0', '--rate-limit', '0', '--log-level', level, ...extra], {
    env: cleanEnv({ ...env, MINT_KEY }), cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-20_000)));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const line = await new Promise<string>((res, rej) => {
    createInterface({ input: child.stdout! }).once('line', res);
    child.once('exit', (code) => rej(new Error(`serve mint exited ${code} before listening: ${stderr}`)));
    setTimeout(() => rej(new Error(`serve mint did not listen within 60 s: ${stderr}`)), 60_000);
  });
  const listening = JSON.parse(line) as Msg;
  expect(listening.type).toBe('serve/listening');
  return { child, url: new URL(String(listening.public)), exited, stderr: () => stderr };
}

async function stop(s: Service, signal: NodeJS.Signals): Promise<number | null> {
  if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill(signal);
  return s.exited;
}

/**
 * The proxy: each request to the backend `pick` names (a slot of `backends`, undefined when
 * down), its body and headers passed on, the answer passed back; a backend that cannot be
 * reached or drops the connection is a 502 to the client (which --peer retries). `onForward` sees each forwarded request (the kill's trigger).
 */
class Proxy {
  readonly backends: (Service | undefined)[] = [];
  private server!: http.Server;
  url!: URL;
  forwarded = 0;
  failed = 0;
  /** Milliseconds from forwarding a payment request to its 200 answer (the services' own time, for the report). */
  readonly served: number[] = [];
  constructor(
    private readonly pick: (req: http.IncomingMessage, backends: (Service | undefined)[]) => number | undefined,
    readonly onForward: (slot: number, req: http.IncomingMessage) => void = () => undefined,
  ) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const slot = this.pick(req, this.backends);
        const bad = () => {
          this.failed++;
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway\n');
          else res.destroy();
        };
        if (slot === undefined || !this.backends[slot]) return bad(); // its service is down: the client sends it again
        const to = this.backends[slot]!.url;
        const sent = performance.now();
        const up = http.request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host, connection: 'close' }, agent: false }, (answer) => {
          if (req.url === '/v1/credit/update' && answer.statusCode === 200) this.served.push(performance.now() - sent);
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on('error', bad);
        });
        up.on('error', (e: NodeJS.ErrnoException) => {
          // Connection refused: the backend is down — taken out until it is replaced (a
          // proxy's passive health check, as nginx's max_fails or HAProxy's observe).
          if (e.code === 'ECONNREFUSED' && this.backends[slot]?.url === to) this.backends[slot] = undefined;
          bad();
        });
        up.end(Buffer.concat(chunks));
        this.forwarded++;
        this.onForward(slot!, req);
      });
    });
    await new Promise<void>((res) => this.server.listen(0, '127.0.0.1', res));
    this.url = new URL(`http://127.0.0.1:${(this.server.address() as AddressInfo).port}`);
  }

  close(): Promise<void> {
    return new Promise((res) => this.server.close(() => res()));
  }
}

type Payer = { index: number; key: string; dir: string; psbt: string; contractId?: string; paid: number; last?: Msg; stderr: string[]; waits: number[]; starts: number[]; spawned: boolean };

function payers(root: string, label: string, count: number, spawned: (i: number) => boolean): Payer[] {
  return Array.from({ length: count }, (_, index) => {
    const key = hex.encode(createHash('sha256').update(`offchain serve-three ${label} ${index}`).digest());
    const out = musigTaprootOutput([publicKeyOf(hex.decode(key)), MINT_PUB]);
    const dir = join(root, `${label}-user-${index}`);
    mkdirSync(dir, { recursive: true });
    const psbt = join(dir, '..', `${label}-funding-${index}.psbt`);
    writeFileSync(psbt, fundingPsbt(out.script, `serve-three ${label} ${index}`));
    return { index, key, dir, psbt, paid: 0, stderr: [], waits: [], starts: [], spawned: spawned(index) };
  });
}

/** One user command through the proxy: in this process, or as a process (`spawned`). */
async function userRuns(u: Payer, proxy: Proxy, ...args: string[]): Promise<Run> {
  const argv = [...args, '--key-env', 'USER_KEY', '--state-dir', u.dir, '--peer', proxy.url.origin];
  const t0 = performance.now();
  u.starts.push(t0);
  const r = u.spawned ? await runAsync(argv, { env: { USER_KEY: u.key } }) : await runInProcess(argv, { env: { USER_KEY: u.key } });
  u.waits.push(performance.now() - t0);
  u.stderr.push(r.stderr);
  return r;
}

function answer(r: Run, type: string, what: string): Msg {
  expect(r.status, `${what}: ${r.stderr}`).toBe(0);
  const msg = JSON.parse(r.stdout) as Msg;
  expect(msg.type, `${what}: ${r.stdout}`).toBe(type);
  return msg;
}

async function open(u: Payer, proxy: Proxy): Promise<void> {
  const m = answer(await userRuns(u, proxy, 'open-credit', '--role', 'user', '--tip-height', '1000', '--expiry', '+4320', '--refund-address', REFUND, '--in', u.psbt), 'credit/opened', `user ${u.index} opens`);
  u.contractId = String(m.contract_id);
}

async function pay(u: Payer, proxy: Proxy, amount: number): Promise<void> {
  const b = answer(await userRuns(u, proxy, 'sign-update', '--role', 'user', '--amount', String(amount)), 'credit/balance', `user ${u.index} pays ${amount}`);
  u.paid += amount;
  u.last = b;
  expect(b.cumulative_sat, `user ${u.index}'s balance after paying ${amount}`).toBe(u.paid);
}

/** `lanes` of users paying `rounds` times each, concurrently; the in-process users share one lane (runs queue in this process anyway). */
async function payAll(users: Payer[], proxy: Proxy, rounds: number, rnd: () => number): Promise<number> {
  const t0 = performance.now();
  const amounts = users.map(() => Array.from({ length: rounds }, () => 1000 + Math.floor(rnd() * 9000)));
  const inProcess = users.filter((u) => !u.spawned);
  const lane = async (group: Payer[]) => {
    for (let r = 0; r < rounds; r++) for (const u of group) await pay(u, proxy, amounts[u.index]![r]!);
  };
  await Promise.all([lane(inProcess), ...users.filter((u) => u.spawned).map((u) => lane([u]))]);
  return performance.now() - t0;
}

const CODE = /\bE_[A-Z][A-Z0-9_]{2,}\b/g;
/** How long each payment that met a 502 took in all (its --peer warned of a retry). */
const retried = (users: Payer[]) => users.flatMap((u) => u.waits.filter((_, i) => /sending the same message again/.test(u.stderr[i]!))).map((w) => w.toFixed(0)).join(', ') || 'none';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
/** Payments slower than 5 s, with what their user's --peer said (a figure to explain, not an assertion). */
const slow = (users: Payer[]) => users.forEach((u) => u.waits.forEach((w, i) => w > 5000 && console.log(`user ${u.index} step ${i} took ${w.toFixed(0)} ms: ${u.stderr[i]!.trim()}`)));
const codes = (u: Payer) => u.stderr.flatMap((s) => s.match(CODE) ?? []);

/** The slot a contract hashes to, of `n` (the first byte of sha256 of its id), as the proxy routes it. */
const slotOf = (contract: string, n: number) => createHash('sha256').update(contract).digest()[0]! % n;

/** The Offchain-Contract header of a request, when --peer sent one. */
const contractOf = (req: http.IncomingMessage) => (typeof req.headers['offchain-contract'] === 'string' ? req.headers['offchain-contract'] : undefined);

/**
 * The codes a user's commands printed, against what losing its service at `lostAt` (ms, the
 * test's clock) costs: none for a contract whose service lived; for one whose service was lost,
 * one E_NONCE_ELSEWHERE (--peer's automatic abandon) when the user paid after it, at most one
 * otherwise (its payment in flight may have been kept before the kill).
 */
function expectCodes(u: Payer, lost: boolean, lostAt: number | undefined): void {
  const what = `user ${u.index}: ${u.stderr.join('')}`;
  if (!lost) return void expect(codes(u), what).toEqual([]);
  const after = u.starts.some((t) => lostAt !== undefined && t > lostAt);
  if (after) expect(codes(u), what).toEqual(['E_NONCE_ELSEWHERE']);
  else expect(codes(u).filter((c) => c !== 'E_NONCE_ELSEWHERE'), what).toEqual([]);
  expect(codes(u).length, what).toBeLessThanOrEqual(1);
}

/** Raw SQL over the store: its contracts' latest states, and the nonce table's facts. */
async function storeFacts(server: { host: string; port: number; user: string; password: string }, database: string) {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database });
  await c.connect();
  try {
    const contracts = (await c.query<{ contract_id: string; record: string }>('SELECT contract_id, record FROM contracts ORDER BY contract_id')).rows.map((r) => ({ id: r.contract_id, record: JSON.parse(r.record) as Msg }));
    const nonces = (await c.query<{ id: string; context: string | null; pubnonce: string | null; consumed: boolean }>('SELECT id, context, pubnonce, consumed FROM nonces')).rows;
    return { contracts, nonces };
  } finally {
    await c.end();
  }
}

describePostgres('serve mint: many processes, one PostgreSQL, behind a proxy', (pgf) => {
  const services: Service[] = [];
  const proxies: Proxy[] = [];
  afterAll(async () => {
    for (const p of proxies) await p.close().catch(() => undefined);
    await Promise.all(services.map((s) => stop(s, 'SIGTERM')));
  }, 30_000);

  async function mintOn(database: string): Promise<Record<string, string>> {
    const url = await pgf.server.createDatabase(database);
    const env = { OFFCHAIN_STORE_URL: url, OFFCHAIN_STORE_PASSWORD: pgf.server.password };
    const offer = await runInProcess(['open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--key-env', 'MINT_KEY', '--state-dir', join(pgf.root, `${database}-publisher`)], { env: { ...env, MINT_KEY } });
    answer(offer, 'credit/offer', 'the offer');
    return env;
  }

  async function started(hostDir: string, env: Record<string, string>, level?: string, extra?: string[]): Promise<Service> {
    const s = await serveMint(hostDir, env, level, extra);
    services.push(s);
    return s;
  }

  it(`three services hashed by Offchain-Contract, one killed -9 mid-payment and restarted in its slot; nothing lost, its users pay on after one automatic abandon (seed ${SEED})`, async () => {
    const rnd = seeded(SEED);
    const env = await mintOn('three');
    const hostDir = join(pgf.root, 'host-one');
    const killAt = 10 + Math.floor(rnd() * 12); // the Nth of the 32 payment requests forwarded
    const killAfterMs = Math.floor(rnd() * 12);
    let updates = 0;
    let killed: { slot: number; at: number; restartedAt?: number; signal?: string | null } | undefined;
    const proxy: Proxy = new Proxy(
      (req) => {
        const contract = contractOf(req);
        return contract === undefined ? 0 : slotOf(contract, 3);
      },
      (slot, req) => {
        if (req.url !== '/v1/credit/update' || ++updates !== killAt || killed) return;
        const victim = proxy.backends[slot]!;
        killed = { slot, at: performance.now() };
        setTimeout(() => {
          victim.child.kill('SIGKILL');
          // The slot answers 502 (its user sends the same bytes again) until its successor listens.
          proxy.backends[slot] = undefined;
          void victim.exited.then(async () => {
            killed!.signal = victim.child.signalCode;
            proxy.backends[slot] = await started(hostDir, env);
            killed!.restartedAt = performance.now();
          });
        }, killAfterMs);
      },
    );
    proxies.push(proxy);
    for (let i = 0; i < 3; i++) proxy.backends.push(await started(hostDir, env));
    await proxy.start();

    const users = payers(pgf.root, 'one', 8, (i) => i >= 6);
    for (const u of users) await open(u, proxy);
    expect(new Set(users.map((u) => slotOf(u.contractId!, 3))).size, 'the contracts hash to more than one service').toBeGreaterThan(1);
    const ms = await payAll(users, proxy, 4, rnd);
    const payments = users.length * 4;
    slow(users);
    console.log(`serve-three, three services (seed ${SEED}): ${payments} payments through the proxy in ${(ms / 1000).toFixed(2)} s = ${(payments / (ms / 1000)).toFixed(1)}/s; proxy 502s ${proxy.failed}; payments retried after a 502 took ${retried(users)} ms (median payment ${median(users.flatMap((u) => u.waits.slice(1))).toFixed(0)} ms, of which the service ${median(proxy.served).toFixed(0)} ms); killed at update ${killAt} +${killAfterMs} ms, successor listening after ${killed?.restartedAt !== undefined ? (killed.restartedAt - killed.at).toFixed(0) : '?'} ms`);

    expect(killed?.signal, 'a service was killed -9 mid-run').toBe('SIGKILL');
    expect(killed?.restartedAt, 'and restarted').toBeDefined();
    if (users.some((u) => codes(u).length > 0)) for (const s of services) console.log(`service ${s.child.pid} (${s.child.signalCode ?? 'running'}): ${s.stderr().split('\n').filter((l) => /E_[A-Z]/.test(l)).slice(0, 5).join('\n')}`);
    for (const u of users) {
      expect(u.last!.cumulative_sat).toBe(u.paid);
      expectCodes(u, slotOf(u.contractId!, 3) === killed!.slot, killed!.at);
    }
    await checkStore('three', users);
  }, 240_000);

  it(`two machines (services 0 and 1, service 2), hashed by Offchain-Contract; the first machine killed whole, the survivor serves its contracts after one automatic abandon each (seed ${SEED})`, async () => {
    const rnd = seeded(SEED + 1);
    const env = await mintOn('two');
    const dirs = [join(pgf.root, 'host-a'), join(pgf.root, 'host-b')];
    const machineOf = [0, 0, 1];
    let killAt = Infinity; // the Nth payment request forwarded to machine A in the first two rounds: set once its users are known
    let toA = 0;
    let machineDown: { at: number } | undefined;
    const proxy: Proxy = new Proxy(
      (req, backends) => {
        const contract = contractOf(req);
        if (contract === undefined) return 0;
        const home = slotOf(contract, 3);
        if (backends[home] || !machineDown) return home; // its service (a 502 while it is merely restarting)
        // Its machine is gone: hashed among the live services.
        const live = backends.map((b, i) => (b ? i : -1)).filter((i) => i >= 0);
        return live[slotOf(contract, live.length)];
      },
      (slot, req) => {
        if (req.url !== '/v1/credit/update' || machineOf[slot] !== 0 || ++toA !== killAt || machineDown) return;
        // Machine A lost whole, a payment it was just handed in flight.
        setTimeout(() => {
          machineDown = { at: performance.now() };
          proxy.backends.forEach((b, i) => {
            if (machineOf[i] === 0) {
              b?.child.kill('SIGKILL');
              proxy.backends[i] = undefined;
            }
          });
        }, Math.floor(rnd() * 12));
      },
    );
    proxies.push(proxy);
    for (const m of machineOf) proxy.backends.push(await started(dirs[m]!, env));
    const onA = proxy.backends.filter((_, i) => machineOf[i] === 0) as Service[];
    await proxy.start();

    const users = payers(pgf.root, 'two', 8, (i) => i === 7);
    for (const u of users) await open(u, proxy);
    const machine = (u: Payer) => machineOf[slotOf(u.contractId!, 3)]!;
    expect(new Set(users.map(machine)).size, 'the users\' contracts hash to both machines').toBe(2);
    // Within the first two rounds (machine A takes 2 × nA payment requests in them), so each of
    // its users pays again after it is gone, in the last two.
    const nA = users.filter((u) => machine(u) === 0).length;
    killAt = 1 + Math.floor(rnd() * 2 * nA);
    const ms = (await payAll(users, proxy, 2, rnd)) + (await payAll(users, proxy, 2, rnd));
    expect(machineDown, 'machine A was killed mid-run').toBeDefined();
    expect(await Promise.all(onA.map((s) => s.exited.then(() => s.child.signalCode)))).toEqual(['SIGKILL', 'SIGKILL']);

    const payments = users.length * 4;
    const recoveries = users.filter((u) => machine(u) === 0).map((u) => Math.max(...u.waits.filter((_, i) => /E_NONCE_ELSEWHERE/.test(u.stderr[i]!))));
    console.log(`serve-three two machines (seed ${SEED}): ${payments} payments in ${(ms / 1000).toFixed(2)} s; machine A killed at its update ${killAt}; its users' payment with the abandon took ${recoveries.map((w) => w.toFixed(0)).join(', ')} ms; payments retried after a 502 took ${retried(users)} ms; proxy 502s ${proxy.failed}`);
    for (const u of users) {
      expect(u.last!.cumulative_sat).toBe(u.paid);
      // Machine B's users never met machine A; each of A's users recovered once, automatically.
      expectCodes(u, machine(u) === 0, machineDown!.at);
    }
    await checkStore('two', users);
  }, 240_000);

  it('a service killed -9 while its COMMIT is held on the wire: the server rolls it back, the request\'s retry reaches its successor, which holds no key for that nonce; the user pays on after one automatic abandon, nothing signed twice', async () => {
    // The window made to happen: every service reaches the store through a proxy that holds the
    // next COMMIT it is armed for (the ledger settled and the epoch ticked just before it); the
    // service is killed while it waits.
    const env = await mintOn('window');
    const hostDir = join(pgf.root, 'host-window');
    const commits = new CommitProxy(pgf.server.port);
    await commits.start();
    const held = new URL(env.OFFCHAIN_STORE_URL!);
    held.port = String(commits.port);
    const viaCommits = { ...env, OFFCHAIN_STORE_URL: held.href };
    const proxy = new Proxy((req) => {
      const contract = contractOf(req);
      return contract === undefined ? 0 : slotOf(contract, 3);
    });
    proxies.push(proxy);
    try {
      for (let i = 0; i < 3; i++) proxy.backends.push(await started(hostDir, viaCommits));
      await proxy.start();
      const users = payers(pgf.root, 'window', 4, () => false);
      for (const u of users) await open(u, proxy);
      for (const u of users) await pay(u, proxy, 1000 + u.index);
      expect(users.flatMap(codes)).toEqual([]);

      const victimUser = users[0]!;
      const slot = slotOf(victimUser.contractId!, 3);
      const victim = proxy.backends[slot]!;
      commits.armed = 'held';
      const paying = pay(victimUser, proxy, 2000);
      await commits.fires();
      const killedAt = performance.now();
      proxy.backends[slot] = undefined; // 502 until its successor listens
      victim.child.kill('SIGKILL');
      await victim.exited;
      proxy.backends[slot] = await started(hostDir, viaCommits);
      await paying;
      for (const u of users.slice(1)) await pay(u, proxy, 2000 + u.index);

      for (const u of users) {
        expect(u.last!.cumulative_sat).toBe(u.paid);
        expectCodes(u, slotOf(u.contractId!, 3) === slot, killedAt);
      }
      expect(codes(victimUser), 'the killed request was not kept: its nonce died with the service, abandoned once').toEqual(['E_NONCE_ELSEWHERE']);
      console.log(`serve-three COMMIT window: the killed service's user waited ${victimUser.waits.at(-1)!.toFixed(0)} ms; the others' next payment ${users.slice(1).map((u) => u.waits.at(-1)!.toFixed(0)).join(', ')} ms`);
      await checkStore('window', users);
    } finally {
      await commits.stop();
    }
  }, 240_000);

  it('the store down: a payment is answered 503 with Retry-After (not a dropped connection) once --step-timeout passes, and --peer waits the outage out', async () => {
    const env = await mintOn('outage');
    // --request-timeout below --step-timeout (the defaults are 10 and 30): a step waiting for
    // the store must still get its 503 E_STEP_TIMEOUT, not the socket closed under it.
    const svc = await started(join(pgf.root, 'host-outage'), env, 'warn', ['--request-timeout', '2', '--step-timeout', '4']);
    const proxy = new Proxy(() => 0);
    proxies.push(proxy);
    proxy.backends.push(svc);
    await proxy.start();
    const [u] = payers(pgf.root, 'outage', 1, () => false);
    await open(u!, proxy);
    await pay(u!, proxy, 1000);
    await pgf.server.pause();
    let resumed: Promise<void> | undefined;
    try {
      const req = await runInProcess(['sign-update', '--role', 'user', '--amount', '500', '--key-env', 'USER_KEY', '--state-dir', u!.dir], { env: { USER_KEY: u!.key } });
      answer(req, 'credit/update-request', 'the payment request');
      const t0 = performance.now();
      const r = await fetch(`${svc.url.origin}/v1/credit/update`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: req.stdout }).catch((e: Error) => e);
      expect(r instanceof Error ? `no answer after ${(performance.now() - t0).toFixed(0)} ms: ${r.message} (${String((r as { cause?: unknown }).cause)})` : r.status).toBe(503);
      const res = r as Response;
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      const body = (await res.json()) as Msg;
      expect(body).toMatchObject({ type: 'credit/error', exit_code: 1 });
      expect(['E_STEP_TIMEOUT', 'E_STORE_UNREACHABLE']).toContain(body.code);
      // The store back 3 s later: the same payment, run again through --peer, is answered.
      resumed = new Promise((res) => setTimeout(res, 3000)).then(() => pgf.server.resume());
      await pay(u!, proxy, 500);
    } finally {
      await (resumed ?? pgf.server.resume());
    }
    expect(u!.last!.cumulative_sat).toBe(1500);
    // What the user saw of the outage: --peer's retry notes (a 503's code), nothing else.
    const lines = u!.stderr.join('').split('\n').filter((l) => /\bE_[A-Z][A-Z0-9_]{2,}\b/.test(l));
    expect(lines.filter((l) => !/^offchain: warning: .*: E_(STEP_TIMEOUT|STORE_UNREACHABLE) \(HTTP 503\); sending the same message again/.test(l))).toEqual([]);
  }, 120_000);

  async function checkStore(database: string, users: Payer[]): Promise<void> {
    const { contracts, nonces } = await storeFacts(pgf.server, database);
    // The store holds exactly the users' contracts, each at the user's final state.
    expect(contracts.map((c) => c.id).sort()).toEqual(users.map((u) => u.contractId!).sort());
    for (const u of users) {
      const rec = contracts.find((c) => c.id === u.contractId)!.record;
      expect({ state: rec.latest?.state, cumulative_sat: rec.latest?.cumulative_sat }, `contract of user ${u.index}`).toEqual({ state: u.last!.state, cumulative_sat: u.paid });
    }
    // One signature per nonce, counted: each payment consumed the nonce it was signed
    // against and each abandon burned one (E_NONCE_ELSEWHERE's note on the user's stderr),
    // so consumed rows = payments + abandons — fewer would mean two signings on one nonce
    // (the row's trigger keeps a consumed nonce consumed); each contract holds exactly one
    // unused nonce, its latest receipt's next, and no two contracts the same one.
    const payments = users.reduce((n, u) => n + u.waits.length - 1, 0);
    const abandons = users.reduce((n, u) => n + codes(u).filter((c) => c === 'E_NONCE_ELSEWHERE').length, 0);
    expect(nonces.filter((n) => n.consumed).length, 'consumed nonces = payments + abandons').toBe(payments + abandons);
    const unused = nonces.filter((n) => !n.consumed);
    expect(unused.map((n) => n.pubnonce).sort()).toEqual(contracts.map((c) => String(c.record.latest.receipt.next_nonce.pubnonce)).sort());
    expect(new Set(unused.map((n) => n.pubnonce)).size).toBe(users.length);
  }
}, { prefix: 'offchain-serve-three-' });
