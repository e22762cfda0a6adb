/**
 * `npm run bench`, `offchain watch` at scale (issue 71 item 8): one block's evaluation over a
 * state directory of N contracts, in CPU time per block (the aim: ≤ 1 s on one core at
 * N = 100,000) and per contract as the store grows. Printed, never asserted.
 *
 * The stores (setup, not timed). One base state directory (regtest, "N = 0"): the mint's offer
 * (safety margin 144 blocks) and eight real contracts, each opened straight in the store (as
 * bench/credit-closed-loop.ts does) and all but one paid once through the mint's own
 * acceptUpdate, so that each holds a signed, sealed latest state; at the measured tip H, four
 * are within the safety margin (expiry H+10, H+40, H+90, H+140) and two are `exiting` (frozen by
 * the exit's own frozenForExit), so each round builds six exit packages (dry run) — the few
 * contracts a block brings near a deadline. Plus the demo user's contract
 * (fixtures/credit/open-demo.sh, the built CLI) as a `credit-user` record. For each N, a copy
 * of it gets N more contracts written raw through better-sqlite3 (as bench/store-growth.ts
 * fills its store), each a copy of a real record with fresh random ids (contract, funding
 * outpoint, state txid), its expiry drawn at random from H+145 … H+4464 (outside the margin:
 * nothing else is near a deadline), the ids random so that the rows of `ORDER BY contract_id`
 * lie scattered through the table:
 *   90% mint contracts (`contracts`, and their `funding` rows), of them
 *       80% paid (the paid record, its sealed state kept: a view never opens it),
 *       10% funded and never paid, 10% closing (a close signed, as acceptClose leaves the record);
 *   10% credit-user contracts (`records`, kind credit-user), 10% of those closed, and two past
 *       expiry (the tip is at or after it: the user's refund is final).
 * Each row's watch height (src/lib/watch/ports.ts) is SQLite's, computed from the record as for
 * any write (schema version 3). Not written: the nonce table (a watcher reads no nonce;
 * bench/store-growth.ts measures it).
 *
 * Timed, per N, alternately (offline, one untimed warm-up of each first):
 *   watch   the built CLI, spawned: `offchain watch --once --dry-run --key-env MINT_KEY
 *           --state-dir DIR --tip-height H` (offline: every decision, no node; its watch/report
 *           to a file). CPU: the process's user + system at its exit (bench/cpu-at-exit.cjs),
 *           start-up included, and the system share; wall: spawn to exit.
 *   floor   the anchor, the same way: one node process that opens the same state.sqlite with
 *           better-sqlite3, reads through their indexes (the watcher's queries, which name
 *           none: the planner's choice) the rows due at H (the mint's whose
 *           watch height is at most H + the margin, the user's at most H), JSON.parses them and
 *           counts the rest (the report's `idle`) — what any evaluation of the store that reads
 *           no contract it cannot need must at least do.
 *   read-all  the floor before the watch heights, kept as a reference: the same process reading
 *           and JSON.parsing every contract row, the mint's in the store's own order and the
 *           user's — what a round that reads the whole store must at least do (the round of
 *           before cost 2.5× this at N = 100,000).
 * Medians of the rounds. Per block and per contract (µs/contract), the ratio watch ÷ floor, and
 * the slope between consecutive sizes (the difference of the medians ÷ the contracts added):
 * what one more contract costs per block, start-up and the six exit builds taken out — whether
 * it grows with the store.
 *
 * Every round reads one slice of the mint's store besides (src/topics/watch/audit.ts, the rolling
 * audit: at tip T slice T mod 48, a key range of the ids — 48 a third of the margin): it hashes
 * each record's terms to its id and checks the rule against the index's read — the filler writes
 * each copy under the id its terms hash to. The round at H read slice H mod 48; then, per N, the
 * worst `--once` round: the same `watch` at the tip below H whose slice holds the most records.
 * A `(!)` line says the audit reported an error. Then, per N, a long-running watcher in this
 * process (bench/watch-long.ts): one store view and one audit over 96 consecutive blocks, the CPU
 * of each block's read of the mint's store (the index's read and the slice) — its mean, first,
 * worst and median — beside the index's read alone; and the CPU of a record's write (put) with
 * the watch height's index kept.
 *
 * With a node (BITCOIND, else `bitcoind` on PATH; skipped, visibly, without one): a throw-away
 * `bitcoind -regtest -debug=rpc -debug=http` (test/regtest/bitcoind.ts: 127.0.0.1, a temp
 * datadir) mined to H, then the same stores with `--rpc-url … --dry-run` in place of
 * --tip-height (no warm-up): the RPCs a round makes (counted by method from the node's
 * debug.log), the HTTP POSTs they took (a JSON-RPC batch is one), and the node's own CPU per
 * block (its /proc stat), beside the watcher's. Then, at the largest N, `credit list` with the
 * node: the runbook's view of every contract, which asks the node about every close in flight
 * (10% of the mint's contracts) — in batches. Stopped and removed after.
 *
 *   node --import tsx bench/watch.ts
 *   BENCH_WATCH_SIZES=1000,10000,100000  BENCH_WATCH_ROUNDS=5  BENCH_WATCH_NODE_ROUNDS=3
 *   BENCH_WATCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR'   node flags for the watch process
 *                                        (the profile of each of its runs)
 *   BENCH_WATCH_KEEP=1                   keep the work directory (its path on stderr)
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { fromHex, toHex } from '../src/lib/bytes.ts';
import { termsId, termsToJson, type CreditTermsJson } from '../src/lib/credit/codec.ts';
import { frozenForExit } from '../src/lib/credit/exit.ts';
import { acceptUpdate } from '../src/lib/credit/mint.ts';
import type { MintContractRecord } from '../src/lib/credit/ports.ts';
import { UpdateRequestSchema } from '../src/lib/credit/schemas.ts';
import { issueStateNonce } from '../src/lib/credit/signing.ts';
import { makeContract } from '../src/lib/credit/terms.ts';
import { OfflineChainSource } from '../src/lib/chain/offline.ts';
import { keyPair } from '../src/lib/keys/keys.ts';
import { decodeMessage } from '../src/lib/message.ts';
import { deterministicRandom } from '../src/lib/random.ts';
import { taprootOutput } from '../src/lib/taproot/taproot.ts';
import { scriptAddress } from '../src/lib/address.ts';
import { auditEvery, auditSlice, mintDueUpTo, userDueUpTo } from '../src/lib/watch/ports.ts';
import { longRunning, puts } from './watch-long.ts';
import { MINT_KEY, mint, request, type Ct } from './credit-closed-loop.ts';
import { openMint } from './stores.ts';
import { findBitcoind, startBitcoind, type Bitcoind } from '../test/regtest/bitcoind.ts';
import { cpuSeconds } from './procs.ts';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'run.js');
const CPU_HOOK = join(ROOT, 'bench', 'cpu-at-exit.cjs');
const SIZES = (process.env.BENCH_WATCH_SIZES ?? '1000,10000,100000').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_WATCH_ROUNDS ?? 5);
const NODE_ROUNDS = Number(process.env.BENCH_WATCH_NODE_ROUNDS ?? 3);
const NODE_ARGS = (process.env.BENCH_WATCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
/** The measured tip, and the tip the working contracts were paid at (their expiry is > 144 blocks from it). */
const TIP = 400;
const PAID_AT = 100;
const MARGIN = 144;
/** Blocks from the tip to the expiry of the working contracts within the margin, and of the two the mint is exiting. */
const NEAR = [10, 40, 90, 140];
const EXITING = [1000, 1500];
const AIM_S = 1;

const work = mkdtempSync(join(tmpdir(), 'offchain-bench-watch-'));
process.on('exit', () => {
  if (process.env.BENCH_WATCH_KEEP === '1') process.stderr.write(`bench/watch: work directory kept: ${work}\n`);
  else rmSync(work, { recursive: true, force: true });
});

/** A child's environment: no OFFCHAIN_ setting of the shell's, no configuration file, no NODE_EXTRA_CA_CERTS (every Node process would parse it at start: bench/run.mjs). */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('OFFCHAIN_')) delete env[k];
  delete env.NODE_ENV;
  delete env.NODE_EXTRA_CA_CERTS;
  return { ...env, OFFCHAIN_CONFIG: '/dev/null', MINT_KEY, ...extra };
}

const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rnd = (bytes: number) => randomBytes(bytes).toString('hex');
const int = (x: number) => Math.round(x).toLocaleString('en-US');

// ——— the base state directory: the working contracts and the demo user's ———

type Templates = { paid: MintContractRecord; unpaid: MintContractRecord; user: Record<string, unknown> & { contract_id: string } };

async function baseDir(dir: string): Promise<Templates> {
  const net = join(dir, 'regtest');
  const store = await openMint<MintContractRecord>(net, mint.secretKey);
  const payout = scriptAddress(taprootOutput(mint.xOnly).script, 'regtest')!;
  const offer = {
    type: 'credit/offer', version: 1, network: 'regtest', mint_pubkey: toHex(mint.publicKey), payout_address: payout, min_fee_rate: 1,
    safety_margin_blocks: MARGIN, min_confirmations: 1, min_expiry_blocks: 100, max_expiry_blocks: 100_000, default_expiry_blocks: 4320,
  };
  await store.writeDoc('offer', offer);
  const openAccept = JSON.parse(readFileSync(join(ROOT, 'fixtures/credit/open-accept.json'), 'utf8')) as Record<string, unknown>;
  const random = deterministicRandom('bench-watch');
  // The near ones, the exiting ones, one far paid (the filler's template) and one far never paid.
  const expiries = [...NEAR, ...EXITING, 3000, 3000].map((b) => TIP + b);
  const cts: Ct[] = [];
  for (const [i, expiryHeight] of expiries.entries()) {
    const user = keyPair(fromHex((i + 1).toString(16).padStart(64, '7')));
    const c = makeContract({
      network: 'regtest', userPubkey: user.publicKey, mintPubkey: mint.publicKey, capacity: 1_000_000n,
      funding: { txid: toHex(random.bytes(32, 'txid')), vout: 0 }, expiryHeight,
      refundScript: taprootOutput(user.xOnly).script, changeScript: taprootOutput(user.xOnly).script, payoutScript: taprootOutput(mint.xOnly).script, feeRate: 2,
    });
    await store.put({ contract_id: c.id, network: 'regtest', contract: termsToJson(c), status: 'open', next_state: 1, open_accept: { ...openAccept, contract_id: c.id }, opened_at_height: PAID_AT - 10, funding_seen: true });
    await store.bindFunding(`${c.funding.txid}:${c.funding.vout}`, { contract_id: c.id, kind: 'open' });
    cts.push({ c, user, state: 1, nonce: await issueStateNonce(store, random, mint, c, 1), sentAt: 0 });
  }
  await store.commit();
  // One payment each but the last (a state signed and sealed, as after real use), at the tip PAID_AT.
  const { type: _t, version: _v, network: _n, ...policy } = offer;
  const chain = new OfflineChainSource({ tipHeight: PAID_AT, utxos: cts.map(({ c }) => ({ txid: c.funding.txid, vout: c.funding.vout, value: c.capacity, scriptPubKey: c.script, confirmations: 1 })) });
  const ctx = { network: 'regtest', mint, policy, records: store, funding: store, nonces: store, chain, random } as unknown as Parameters<typeof acceptUpdate>[0];
  for (const ct of cts.slice(0, -1)) await store.step(() => acceptUpdate(ctx, decodeMessage(UpdateRequestSchema, JSON.parse(request(ct)))));
  // The two the mint is exiting: frozen on their latest state, as exit-credit leaves them.
  for (const ct of cts.slice(NEAR.length, NEAR.length + EXITING.length)) {
    await store.step(async () => store.put(frozenForExit((await store.get(ct.c.id))!, rnd(8))));
  }
  await store.commit();
  const raw = (id: string) => JSON.parse(store.db.sql.prepare<[string], { record: string }>('SELECT record FROM contracts WHERE contract_id = ?').get(id)!.record) as MintContractRecord;
  const templates = { paid: raw(cts.at(-2)!.c.id), unpaid: raw(cts.at(-1)!.c.id) };
  await store.close();

  // The demo user's contract (fixtures/credit/open-demo.sh, the built CLI), into this directory's records.
  const demo = join(work, 'demo');
  const r = spawnSync('sh', [join(ROOT, 'fixtures/credit/open-demo.sh')], { env: childEnv({ OFFCHAIN_DEMO_DIR: demo }), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench/watch: open-demo.sh failed: ${r.stderr}`);
  const demoDb = new Database(join(demo, 'user', 'regtest', 'state.sqlite'), { readonly: true });
  const userRow = demoDb.prepare<[], { id: string; body: string }>("SELECT id, body FROM records WHERE kind = 'credit-user'").get()!;
  demoDb.close();
  const db = new Database(join(net, 'state.sqlite'));
  db.prepare('INSERT INTO records (kind, id, body) VALUES (?, ?, ?)').run('credit-user', userRow.id, userRow.body);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { ...templates, user: JSON.parse(userRow.body) };
}

// ——— N other contracts, raw ———

type Mix = { paid: number; unpaid: number; closing: number; user: number; userClosed: number; userFinal: number };

/** Copy `tpl` as a new contract: a fresh funding outpoint, its expiry set, and the id those terms hash to (a watcher's audit checks it) replaced everywhere in its text. */
function copyOf(tpl: { contract_id: string; contract: CreditTermsJson }, text: string, expiry: number, also: [string, string][] = []): { id: string; text: string } {
  const funding = rnd(32);
  const id = termsId({ ...tpl.contract, funding: { ...tpl.contract.funding, txid: funding }, expiry_height: expiry }, 'regtest');
  let out = text.replaceAll(tpl.contract_id, id).replaceAll(tpl.contract.funding.txid, funding).replaceAll(`"expiry_height":${tpl.contract.expiry_height}`, `"expiry_height":${expiry}`);
  for (const [from, to] of also) out = out.replaceAll(from, to);
  return { id, text: out };
}

function fill(dir: string, n: number, t: Templates): Mix & { db_mb: number; fill_s: number } {
  const t0 = performance.now();
  const db = new Database(join(dir, 'regtest', 'state.sqlite'));
  db.pragma('journal_mode = WAL');
  const users = Math.round(n * 0.1);
  const mints = n - users;
  const mix: Mix = { paid: 0, unpaid: 0, closing: 0, user: users, userClosed: 0, userFinal: Math.min(2, users) };
  const texts = { paid: JSON.stringify(t.paid), unpaid: JSON.stringify(t.unpaid), user: JSON.stringify(t.user) };
  const closedFixture = JSON.parse(readFileSync(join(ROOT, 'fixtures/credit/closed.json'), 'utf8')) as Record<string, unknown>;
  const latest = t.paid.latest!;
  const expiry = () => TIP + MARGIN + 1 + Math.floor(Math.random() * 4320);
  const putContract = db.prepare('INSERT INTO contracts (contract_id, record, unfunded_since) VALUES (?, ?, NULL)');
  const putFunding = db.prepare("INSERT INTO funding (outpoint, contract_id, kind) VALUES (?, ?, 'open')");
  const putRecord = db.prepare("INSERT INTO records (kind, id, body) VALUES ('credit-user', ?, ?)");
  db.transaction(() => {
    for (let i = 0; i < mints; i++) {
      const u = i % 10;
      let id: string;
      let text: string;
      if (u === 0) {
        mix.unpaid++;
        ({ id, text } = copyOf(t.unpaid, texts.unpaid, expiry()));
      } else if (u === 1) {
        // A close signed (credit/mint.ts acceptClose's record), its transaction not yet mined.
        mix.closing++;
        const txid = rnd(32);
        const copy = copyOf(t.paid, texts.paid, expiry(), [[latest.txid, rnd(32)]]);
        id = copy.id;
        const rec = JSON.parse(copy.text) as MintContractRecord;
        text = JSON.stringify({ ...rec, status: 'closing', next_state: latest.state + 1, settlement: { kind: 'close', state: latest.state, txid, response: { ...closedFixture, contract_id: id, cumulative_sat: latest.cumulative_sat, txid } } });
      } else {
        mix.paid++;
        ({ id, text } = copyOf(t.paid, texts.paid, expiry(), [[latest.txid, rnd(32)]]));
      }
      const record = JSON.parse(text) as MintContractRecord;
      putContract.run(id, text);
      putFunding.run(`${record.contract.funding.txid}:0`, id);
    }
    const userTpl = t.user as unknown as { contract_id: string; contract: CreditTermsJson; refund: { txid: string } };
    for (let i = 0; i < users; i++) {
      const final = i < mix.userFinal;
      const copy = copyOf(userTpl, texts.user, final ? TIP - 1 - i : expiry(), [[userTpl.refund.txid, rnd(32)]]);
      const id = copy.id;
      let text = copy.text;
      if (!final && i % 10 === 5) {
        mix.userClosed++;
        text = text.replace('"status":"open"', '"status":"closed"');
      }
      putRecord.run(id, text);
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { ...mix, db_mb: statSync(join(dir, 'regtest', 'state.sqlite')).size / 2 ** 20, fill_s: (performance.now() - t0) / 1000 };
}

// ——— the timed processes ———

type Run = { cpu: number; sys: number; wall: number; out?: string };

/** One node process: its CPU (user + system at its exit, seconds) and wall (spawn to exit, seconds); stdout to a file. */
function timed(args: string[], env: NodeJS.ProcessEnv, label: string): Run {
  const cpuFile = join(work, 'cpu.json');
  const outFile = join(work, 'out.json');
  const out = openSync(outFile, 'w');
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, {
    env: { ...env, BENCH_CPU_FILE: cpuFile, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${CPU_HOOK}` },
    stdio: ['ignore', out, 'pipe'], encoding: 'utf8', timeout: 300_000, maxBuffer: 64 * 2 ** 20,
  });
  const wall = (performance.now() - t0) / 1000;
  closeSync(out);
  if (r.status !== 0) throw new Error(`bench/watch: ${label} exited ${r.status ?? r.signal}: ${String(r.stderr).slice(0, 2000)}`);
  const used = JSON.parse(readFileSync(cpuFile, 'utf8')) as { user: number; system: number };
  return { cpu: (used.user + used.system) / 1e6, sys: used.system / 1e6, wall, out: outFile };
}

type Summary = { contracts: number; idle?: number; pending: number; errors: number; actions: Record<string, number> };

function watchRun(dir: string, chainArgs: string[]): Run & { summary: Summary } {
  const r = timed([...NODE_ARGS, BIN, 'watch', '--once', '--dry-run', '--key-env', 'MINT_KEY', '--state-dir', dir, ...chainArgs], childEnv(), 'watch');
  const report = JSON.parse(readFileSync(r.out!, 'utf8')) as { summary: Summary; decisions: { action: string }[] };
  const actions: Record<string, number> = {};
  for (const d of report.decisions) actions[d.action] = (actions[d.action] ?? 0) + 1;
  return { ...r, summary: { ...report.summary, actions } };
}

/**
 * The anchor: open the state database, read through their indexes the rows due at the tip (the
 * mint's within the margin or in flight, the user's from their expiry: src/lib/watch/ports.ts's
 * bounds, passed in), JSON.parse them, count the rest.
 */
const FLOOR = `
const Database = require('better-sqlite3');
const db = new Database(process.env.BENCH_DB);
let n = 0;
for (const r of db.prepare('SELECT record FROM contracts WHERE watch_height <= ?').all(Number(process.env.BENCH_MINT_UP_TO))) n += JSON.parse(r.record).contract_id ? 1 : 0;
for (const r of db.prepare("SELECT id, body FROM records WHERE kind = 'credit-user' AND watch_height <= ?").all(Number(process.env.BENCH_USER_UP_TO))) n += JSON.parse(r.body).contract_id ? 1 : 0;
const all = db.prepare('SELECT COUNT(*) AS n FROM contracts').get().n + db.prepare("SELECT COUNT(*) AS n FROM records WHERE kind = 'credit-user'").get().n;
db.close();
process.stdout.write(JSON.stringify({ n, idle: all - n }));
`;

/** The reference (the floor before the watch heights): read and JSON.parse every contract row (the mint's in the store's order, the user's). */
const READ_ALL = `
const Database = require('better-sqlite3');
const db = new Database(process.env.BENCH_DB);
let n = 0;
for (const r of db.prepare('SELECT record FROM contracts ORDER BY contract_id').all()) n += JSON.parse(r.record).contract_id ? 1 : 0;
for (const r of db.prepare("SELECT id, body FROM records WHERE kind = 'credit-user' ORDER BY id").all()) n += JSON.parse(r.body).contract_id ? 1 : 0;
db.close();
process.stdout.write(JSON.stringify({ n, idle: 0 }));
`;

function floorRun(dir: string, script: string): Run & { n: number; idle: number } {
  const env = childEnv({ BENCH_DB: join(dir, 'regtest', 'state.sqlite'), BENCH_MINT_UP_TO: String(mintDueUpTo(TIP, MARGIN)), BENCH_USER_UP_TO: String(userDueUpTo(TIP)) });
  const r = timed(['-e', script], env, 'floor');
  return { ...r, ...(JSON.parse(readFileSync(r.out!, 'utf8')) as { n: number; idle: number }) };
}

type Measured = {
  n: number; watch: Run[]; floor: Run[]; readAll: Run[]; summary: Summary;
  /** What the floor read and left (its count of the others), and what the reference read. */
  rows: { due: number; idle: number; all: number };
  node?: { cpu: number; rpcs: Record<string, number>; posts: number }[];
};

/** Warm-up of each (offline; with a node, the rounds alone: the median absorbs a cold first), then `rounds` alternating pairs. */
function measure(dir: string, n: number, rounds: number, chainArgs: string[], withFloor: boolean, node?: Bitcoind): Measured {
  const nodePid = node ? Number(readFileSync(join(node.datadir, 'regtest', 'bitcoind.pid'), 'utf8')) : 0;
  const m: Measured = { n, watch: [], floor: [], readAll: [], summary: undefined as unknown as Summary, rows: { due: 0, idle: 0, all: 0 }, ...(node ? { node: [] } : {}) };
  if (!node) m.summary = watchRun(dir, chainArgs).summary;
  if (withFloor) {
    const f = floorRun(dir, FLOOR);
    m.rows = { due: f.n, idle: f.idle, all: floorRun(dir, READ_ALL).n };
  }
  for (let r = 0; r < rounds; r++) {
    const logBefore = node ? debugLogSize(node) : 0;
    const nodeCpu0 = node ? cpuSeconds([nodePid]) : 0;
    const w = watchRun(dir, chainArgs);
    m.summary ??= w.summary;
    if (node) m.node!.push({ cpu: cpuSeconds([nodePid]) - nodeCpu0, ...rpcsSince(node, logBefore) });
    m.watch.push(w);
    if (withFloor) {
      m.floor.push(floorRun(dir, FLOOR));
      m.readAll.push(floorRun(dir, READ_ALL));
    }
  }
  return m;
}

// ——— the node ———

const debugLog = (node: Bitcoind) => join(node.datadir, 'regtest', 'debug.log');
const debugLogSize = (node: Bitcoind) => statSync(debugLog(node)).size;
/**
 * The RPCs the node logged (-debug=rpc: one "ThreadRPCServer method=…" line each, a batch's
 * calls each theirs) since `offset`, by method; and the HTTP POSTs that carried them
 * (-debug=http: "Received a POST request", a batch one).
 */
function rpcsSince(node: Bitcoind, offset: number): { rpcs: Record<string, number>; posts: number } {
  const text = readFileSync(debugLog(node)).subarray(offset).toString('utf8');
  const rpcs: Record<string, number> = {};
  for (const m of text.matchAll(/ThreadRPCServer method=(\w+)/g)) rpcs[m[1]!] = (rpcs[m[1]!] ?? 0) + 1;
  return { rpcs, posts: [...text.matchAll(/Received a POST request/g)].length };
}

// ——— the report ———

const ms = (s: number) => `${int(s * 1000)} ms`;
const med = (rs: Run[], k: 'cpu' | 'sys' | 'wall') => median(rs.map((r) => r[k]));

function line(label: string, m: Measured, contracts: number) {
  const wc = med(m.watch, 'cpu');
  const ww = med(m.watch, 'wall');
  const per = (s: number) => (m.n > 0 ? `${((s * 1e6) / contracts).toFixed(1)} µs` : '—');
  const range = `${ms(Math.min(...m.watch.map((r) => r.cpu)))}–${ms(Math.max(...m.watch.map((r) => r.cpu)))}`;
  let text = `  ${label.padEnd(11)} watch CPU ${ms(wc).padStart(9)} (${range}, sys ${Math.round((100 * med(m.watch, 'sys')) / wc)}%)  wall ${ms(ww).padStart(9)}  ${per(wc).padStart(9)}/contract`;
  if (m.floor.length) {
    const fc = med(m.floor, 'cpu');
    const fw = med(m.floor, 'wall');
    const rc = med(m.readAll, 'cpu');
    text += `  │ floor CPU ${ms(fc).padStart(8)}  wall ${ms(fw).padStart(8)}  │ watch ÷ floor: CPU ${(wc / fc).toFixed(2)}×  wall ${(ww / fw).toFixed(2)}×`;
    text += `  │ read-all CPU ${ms(rc).padStart(8)}  wall ${ms(med(m.readAll, 'wall')).padStart(8)}  ${per(rc).padStart(8)}/contract  │ watch ÷ read-all: CPU ${(wc / rc).toFixed(2)}×`;
  }
  if (m.node) {
    const { rpcs, posts } = m.node[0]!;
    const total = Object.values(rpcs).reduce((a, b) => a + b, 0);
    text += `  │ bitcoind CPU ${ms(median(m.node.map((x) => x.cpu))).padStart(8)}  │ RPCs ${int(total)} in ${int(posts)} POSTs: ${Object.entries(rpcs).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${int(v)}`).join(', ')}`;
  }
  console.log(text);
}

/** What one more contract costs per block between two sizes: the difference of the medians ÷ the contracts added. */
function slopes(ms: Map<number, Measured>) {
  const sizes = [...ms.keys()].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 1; i < sizes.length; i++) {
    const a = ms.get(sizes[i - 1]!)!;
    const b = ms.get(sizes[i]!)!;
    const d = b.n - a.n;
    const per = (xs: Run[], ys: Run[], k: 'cpu' | 'wall') => (((med(ys, k) - med(xs, k)) / d) * 1e6).toFixed(1);
    let p = `${int(a.n)}→${int(b.n)}: watch ${per(a.watch, b.watch, 'cpu')} µs CPU (wall ${per(a.watch, b.watch, 'wall')})`;
    if (a.floor.length) p += `, floor ${per(a.floor, b.floor, 'cpu')} µs (wall ${per(a.floor, b.floor, 'wall')}), read-all ${per(a.readAll, b.readAll, 'cpu')} µs (wall ${per(a.readAll, b.readAll, 'wall')})`;
    parts.push(p);
  }
  console.log(`  one more contract, per block (the slope between sizes):\n    ${parts.join('\n    ')}`);
}

// ——— run ———

const git = (...args: string[]) => spawnSync('git', ['-C', ROOT, ...args], { encoding: 'utf8' }).stdout.trim();
const dirty = git('status', '--porcelain', '--', 'src') !== '';
const built = statSync(join(ROOT, 'dist', 'offchain.cjs')).mtime.toISOString().slice(0, 19).replace('T', ' ');
console.log(`\noffchain watch, one block's evaluation (bench/watch.ts): node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, commit ${git('rev-parse', '--short', 'HEAD')}${dirty ? ' (src/ modified)' : ''}, dist built ${built} UTC, load average ${load()} at start`);
const t0 = performance.now();
const base = join(work, 'base');
const templates = await baseDir(base);
const BASE_CONTRACTS = NEAR.length + EXITING.length + 2 + 1;
console.log(`  N = 0, the base directory: ${BASE_CONTRACTS} real contracts — ${NEAR.length} within the ${MARGIN}-block margin at tip ${TIP}, ${EXITING.length} exiting (6 exit packages built per round), 2 far, the demo user's — made in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const dirs = new Map<number, string>();
for (const n of SIZES) {
  const dir = join(work, `n${n}`);
  cpSync(base, dir, { recursive: true });
  const f = fill(dir, n, templates);
  dirs.set(n, dir);
  console.log(`  N = ${int(n).padStart(7)} more: mint ${int(f.paid)} paid, ${int(f.unpaid)} never paid, ${int(f.closing)} closing; user ${int(f.user)} (${int(f.userClosed)} closed, ${f.userFinal} past expiry); state.sqlite ${f.db_mb.toFixed(0)} MB, written in ${f.fill_s.toFixed(1)} s`);
}

console.log(`\n  offline: watch --once --dry-run --tip-height ${TIP} (the built CLI, spawned; its watch/report to a file) beside the floor (one process: open state.sqlite, read + JSON.parse the rows due at ${TIP} through their indexes, count the rest) and the read-all reference (the same, every contract row); CPU = user + system of the process, start-up included; medians of ${ROUNDS}`);
const offline = new Map<number, Measured>();
offline.set(0, measure(base, 0, ROUNDS, ['--tip-height', String(TIP)], true));
line('N = 0', offline.get(0)!, BASE_CONTRACTS);
for (const n of SIZES) {
  const m = measure(dirs.get(n)!, n, ROUNDS, ['--tip-height', String(TIP)], true);
  offline.set(n, m);
  line(`N = ${int(n)}`, m, n + BASE_CONTRACTS);
  const reported = m.summary.contracts + (m.summary.idle ?? 0);
  console.log(`    read: the watcher ${int(m.summary.contracts)} (idle ${int(m.summary.idle ?? 0)}), the floor ${int(m.rows.due)} (idle ${int(m.rows.idle)})`);
  if (reported !== n + BASE_CONTRACTS || m.rows.due + m.rows.idle !== n + BASE_CONTRACTS || m.rows.all !== n + BASE_CONTRACTS) console.log(`    (!) the report counts ${reported} contracts, the floor ${m.rows.due + m.rows.idle}, the read-all ${m.rows.all}; the store holds ${n + BASE_CONTRACTS}`);
}
// The rolling audit (src/topics/watch/audit.ts): every round reads its tip's slice of the mint's store — at TIP above, slice TIP mod
// EVERY — so the worst --once round is the one whose slice holds the most records: the tip below TIP (within EVERY) that names it,
// where the same contracts are due (none of the N more is within the margin yet).
const EVERY = auditEvery(MARGIN);
const sliceSizes = (dir: string) => {
  const db = new Database(join(dir, 'regtest', 'state.sqlite'), { readonly: true });
  const count = (i: number) => {
    const r = auditSlice(i, EVERY);
    return (r.to === undefined ? db.prepare('SELECT COUNT(*) AS n FROM contracts WHERE contract_id >= ?').get(r.from) : db.prepare('SELECT COUNT(*) AS n FROM contracts WHERE contract_id >= ? AND contract_id < ?').get(r.from, r.to)) as { n: number };
  };
  const sizes = Array.from({ length: EVERY }, (_, i) => count(i).n);
  db.close();
  return sizes;
};
console.log(`  the rolling audit's worst --once round: the same at the tip below ${TIP} whose slice of the mint's store (1 of ${EVERY}: a third of the ${MARGIN}-block margin) holds the most records — each read, its terms hashed to its id, the rule checked against the index's read; medians of ${ROUNDS}`);
for (const n of [0, ...SIZES]) {
  const dir = n === 0 ? base : dirs.get(n)!;
  const sizes = sliceSizes(dir);
  const worst = sizes.indexOf(Math.max(...sizes));
  const tip = TIP - ((TIP - worst + EVERY) % EVERY);
  const m = measure(dir, n, ROUNDS, ['--tip-height', String(tip)], false);
  line(`N = ${int(n)}`, m, n + BASE_CONTRACTS);
  console.log(`    at tip ${tip}: slice ${worst}, ${int(sizes[worst]!)} records (the slices hold ${int(Math.min(...sizes))}–${int(Math.max(...sizes))}; the round at ${TIP} read slice ${TIP % EVERY}, ${int(sizes[TIP % EVERY]!)})`);
  if (m.summary.errors > 0) console.log(`    (!) the audit reported ${m.summary.errors} error(s): a record the filler wrote does not check`);
}
// A long-running watcher (serve mint's, offchain watch without --once), in this process: one view and one audit over 2 × EVERY blocks.
console.log(`  a long-running watcher's read of the mint's store, in this process (bench/watch-long.ts): ${2 * EVERY} consecutive blocks from ${TIP}, each the index's read and the audit's slice (terms hashed again only when changed) — CPU per block, beside the index's read alone; then a write of a record (put, a view's: JSON + the UPDATE, its watch-height index kept)`);
for (const n of SIZES) {
  const run = await longRunning(dirs.get(n)!, EVERY, MARGIN, TIP, 2 * EVERY);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const write = await puts(dirs.get(n)!, 2_000);
  console.log(`  N = ${int(n).padStart(7)}: per block ${ms(mean(run.perBlock))} (first ${ms(run.perBlock[0]!)}, worst ${ms(Math.max(...run.perBlock))}, median ${ms(median(run.perBlock))})  │ the index's read alone ${ms(mean(run.indexOnly))}  │ put ${(write * 1e6).toFixed(1)} µs a record  (load average ${load()})`);
}
const biggest = Math.max(...SIZES);
const actions = (m: Measured) => `${Object.entries(m.summary.actions).map(([k, v]) => `${k} ${int(v)}`).join(', ')}, not read ${int(m.summary.idle ?? 0)} (pending ${m.summary.pending}, errors ${m.summary.errors})`;
console.log(`  decisions at N = ${int(biggest)}: ${actions(offline.get(biggest)!)}`);
slopes(offline);
const aim = (m: Measured, what: string) => {
  const cpu = med(m.watch, 'cpu');
  console.log(`  N = ${int(m.n)}${what}: ${cpu.toFixed(2)} s of the watcher's CPU per block — the aim (≤ ${AIM_S} s on one core) is ${cpu <= AIM_S ? 'met' : 'NOT met'} here (${(cpu / AIM_S).toFixed(1)}× it; load average ${load()})`);
};
if (offline.has(100_000)) aim(offline.get(100_000)!, ', offline');

const BITCOIND = findBitcoind();
if (!BITCOIND || !existsSync(BITCOIND)) {
  console.log('\n  with a node — SKIPPED: no bitcoind on PATH and BITCOIND is unset');
} else {
  const node = await startBitcoind(BITCOIND, ['-debug=rpc', '-debug=http', '-logtimestamps=0']);
  try {
    const payout = scriptAddress(taprootOutput(mint.xOnly).script, 'regtest')!;
    await node.rpc.call('generatetoaddress', [TIP, payout]);
    const chainArgs = ['--rpc-url', node.config.url, '--rpc-cookie', node.cookieFile];
    const version = (await node.rpc.call<{ subversion: string }>('getnetworkinfo')).subversion;
    console.log(`\n  with bitcoind -regtest (${version}, -txindex, 127.0.0.1, mined to ${TIP}): watch --once --dry-run --rpc-url … on the same stores; bitcoind's own CPU per block from its /proc stat, the RPCs of a round from its debug.log (-debug=rpc); medians of ${NODE_ROUNDS}`);
    const withNode = new Map<number, Measured>();
    withNode.set(0, measure(base, 0, NODE_ROUNDS, chainArgs, false, node));
    line('N = 0', withNode.get(0)!, BASE_CONTRACTS);
    for (const n of SIZES) {
      const m = measure(dirs.get(n)!, n, NODE_ROUNDS, chainArgs, false, node);
      withNode.set(n, m);
      line(`N = ${int(n)}`, m, n + BASE_CONTRACTS);
    }
    console.log(`  decisions at N = ${int(biggest)}: ${actions(withNode.get(biggest)!)}`);
    slopes(withNode);
    if (withNode.has(100_000)) aim(withNode.get(100_000)!, `, with the node (+ ${median(withNode.get(100_000)!.node!.map((x) => x.cpu)).toFixed(2)} s of bitcoind's)`);
    // credit list, the runbook's view of every contract: it asks about every close in flight — in batches.
    const list: { run: Run; rpcs: Record<string, number>; posts: number; cpu: number }[] = [];
    for (let r = 0; r < NODE_ROUNDS; r++) {
      const logBefore = debugLogSize(node);
      const nodeCpu0 = cpuSeconds([Number(readFileSync(join(node.datadir, 'regtest', 'bitcoind.pid'), 'utf8'))]);
      const run = timed([BIN, 'credit', 'list', '--state-dir', dirs.get(biggest)!, ...chainArgs], childEnv(), 'credit list');
      list.push({ run, ...rpcsSince(node, logBefore), cpu: cpuSeconds([Number(readFileSync(join(node.datadir, 'regtest', 'bitcoind.pid'), 'utf8'))]) - nodeCpu0 });
    }
    const lr = list.map((x) => x.run);
    const calls = list[0]!.rpcs.getrawtransaction ?? 0;
    console.log(`  credit list --rpc-url at N = ${int(biggest)} (every contract; the node asked about each close in flight): CPU ${ms(med(lr, 'cpu'))}  wall ${ms(med(lr, 'wall'))}  │ bitcoind CPU ${ms(median(list.map((x) => x.cpu)))}  │ getrawtransaction ${int(calls)} in ${int(list[0]!.posts)} POSTs (all RPCs ${int(Object.values(list[0]!.rpcs).reduce((a, b) => a + b, 0))}); medians of ${NODE_ROUNDS}`);
  } finally {
    await node.stop();
  }
}
console.log(`  load average ${load()} at the end; ${((performance.now() - t0) / 1000).toFixed(0)} s in all`);
