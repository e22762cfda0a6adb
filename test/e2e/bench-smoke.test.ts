/**
 * Every benchmark `npm run bench` runs (bench/all.mjs BENCHES) runs once here at tiny sizes, so
 * that a bench cannot silently break again (issue 73: bench/ecash-run.mjs had stopped running and
 * nobody saw it). Each must exit 0 and print its rows' labels; the rows it reports to bench/all.mjs
 * (bench/rows.mjs) must carry their ids. Nothing here is about speed: at these sizes the figures
 * mean nothing. Each bench's sizes are its own environment variables (their defaults are the
 * real run's), chosen to keep the file's CPU small.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.ts';
import { assertFreshBuild, environmentOutsideRuns } from './cli.ts';
import { findNutshell } from '../nutshell/nutshell.ts';

const NUTSHELL = findNutshell(environmentOutsideRuns());

type Smoke = { env: Record<string, string>; labels: RegExp[]; rows?: RegExp };

/** Per bench: its tiny sizes, the labels of the rows it prints, and the ids of the rows it reports. */
const BENCHES: Record<string, Smoke> = {
  'run.mjs': {
    env: { BENCH_RUNS: '1', BENCH_WARMUP: '0', BENCH_SECONDS: '0.02', BENCH_NODE_LINES: '24' },
    labels: [/^cold start \(load [\d.]+ → [\d.]+\)/m, /^offchain psbt decode \(fixture\) +[\d.]+ +[\d.]+×/m, /^node 24: offchain --version/m, /two-party MuSig2 key-path signing/, /^MuSig2 per backend.*\(load/m, /^PTLC presign \+ adapt \+ extract.*\(load/m],
    rows: /^cold\/psbt-decode$/,
  },
  'credit-run.mjs': {
    env: { BENCH_CONTRACTS: '2', BENCH_PAYMENTS: '2', BENCH_ROUNDS: '1', BENCH_BACKENDS: 'noble' },
    labels: [/^ {2}noble +first 4 .*updates per CPU-s.*ceiling.*ratio.*load/m, /one update, part by part/, /sum of the parts/, /one piped payment/],
    rows: /^mint\//,
  },
  'ecash-run.mjs': {
    env: { BENCH_CONTRACTS: '2', BENCH_PAYMENTS: '1', BENCH_RUNS: '1', BENCH_BACKENDS: 'noble', BENCH_BLIND_SIGNATURES: '5' },
    labels: [/without ecash \(anchor\) +with ecash \(5 outputs\)/, /^ {2}noble +[\d.]+ ms CPU, [\d.]+ ms wall +[\d.]+ ms CPU, [\d.]+ ms wall +\+-?[\d.]+ ms CPU.* [\d.]+ → [\d.]+$/m, /one blind signature \(noble, in process\)/],
  },
  'ecash-sign.ts': {
    env: { BENCH_ECASH_SIGN_PAYMENTS: '2', BENCH_ROUNDS: '1', BENCH_BACKENDS: 'noble,libsecp256k1' },
    labels: [/^ecash: decode 5 B_ \+ signOutputs/m, /^noble +[\d.]+ ms \[[\d.]+–[\d.]+\] +load/m, /^libsecp256k1 +([\d.]+ ms \[|SKIPPED: )/m],
  },
  'ecash-serve.ts': {
    env: { BENCH_ECASH_ROUNDS: '1', BENCH_ECASH_OPS: '3', BENCH_ECASH_WARM: '2', ...(NUTSHELL ? { NUTSHELL } : {}) },
    labels: [
      /^ {2}serve mint, a payment with 5 ecash outputs +server CPU +[\d.]+ ms .* wall +[\d.]+ ms .*load [\d.]+ → [\d.]+/m,
      NUTSHELL ? /^ {2}ratio, serve mint ÷ Nutshell +server CPU +[\d.]+×/m : /^ {2}Nutshell 0\.20\.3 POST \/v1\/swap, 5 proofs +skipped: NUTSHELL not set$/m,
    ],
    rows: /^ecash\/serve-mint/,
  },
  'openassets-run.mjs': { env: { BENCH_OA_TXS: '50' }, labels: [/tx per CPU-second/, /tx per wall-second/] },
  'onion.ts': {
    env: { BENCH_SECONDS: '0.02', BENCH_ROUNDS: '1', BENCH_WARMUP: '1', BENCH_BACKENDS: 'native' },
    labels: [/^BOLT 4 onions: .*load average/m, /5-hop build +20-hop build +peel/, /^ {2}native +\d+ \( *\d+\)/m, /the point arithmetic alone/],
    rows: /^onion\/(build5|build20|peel)\/native$/,
  },
  'bolt3.ts': {
    env: { BENCH_SECONDS: '0.05', BENCH_ROUNDS: '1', BENCH_BACKENDS: 'native' },
    labels: [/^BOLT 3: .*load average/m, /^ {2}legacy +native +\d+ \( *\d+\) +signing alone/m, /^ {2}anchors +native/m],
    rows: /^bolt3\//,
  },
  'statechain.ts': {
    env: { BENCH_SECONDS: '0.02', BENCH_ROUNDS: '1', BENCH_BACKENDS: 'native', BENCH_STATECHAIN_BACKUPS: '3' },
    labels: [/^ {2}native +operator transfer \(co-sign \+ rotate\): \d+ per CPU-s/m, /^ {2}native +receiver, 3 backups verified: [\d.]+ ms of CPU/m, /load average .* at the end/],
    rows: /^statechain-(operator|receiver)\/native$/,
  },
  'truc.ts': { env: { BENCH_SECONDS: '0.02' }, labels: [/^TRUC: /m, /built\+signed\+checked +\d+\/s/, /checked only +\d+\/s/] },
  'device.ts': { env: { BENCH_ROUNDS: '2' }, labels: [/^device ↔ gateway/m, /^ {2}device pay +[\d.]+/m, /^ {2}gateway complete +[\d.]+/m, /settled \d+ sat/] },
  'device-serve.ts': {
    // One profiled toll for the parts; the Core Lightning row skipped (its world takes a minute): its SKIPPED line is still printed.
    env: { BENCH_DEVICE_SERVE_TOLLS: '2', BENCH_DEVICE_SERVE_PIPED: '2', BENCH_DEVICE_SERVE_PROFILES: '1', BENCH_DEVICE_SERVE_CLN_TOLLS: '0' },
    labels: [
      /anchor: node -e 0 +wall p50 +\d+ ms/, /device pay --peer, pay → receipt, 1 process +wall p50/,
      /device CPU part by part \(V8 profiles of 1 more, ms p50\): start-up \d+, curve \d+, store \d+, HTTP \d+, .*waiting \d+ ms/,
      /device pay --stream, one process, per toll +wall p50 +\d+ ms .*device CPU mean +\d+ ms +\(n=2, the first 3 left out/,
      /today's pipes, 6 processes per toll/, /Core Lightning regtest \(the payment included\): SKIPPED: BENCH_DEVICE_SERVE_CLN_TOLLS=0/, /load average .* at the end/,
    ],
  },
  'pg.ts': {
    env: { BENCH_PG_CONTRACTS: '2', BENCH_PG_PAYMENTS: '1' },
    labels: [/^ {2}SQLite, 1 process +\d+ updates\/s/m, /^ {2}PostgreSQL, 4 processes +\d+ updates\/s/m, /load average .* at the end/],
  },
  'serve.ts': {
    env: { BENCH_SERVE_RUNS: '1', BENCH_SERVE_SCALE: '0.01', BENCH_SERVE_USERS: '1,8' },
    labels: [/^ {2}SQLite, 1 process, 8 users .* updates\/s \(autocannon says \d+\) .*service CPU .*× the engine's/m, /^ {4}its engine, sign-update --role mint --stream fed the same requests/m, /^ {2}SQLite, 1 process, 8 users paced .* updates\/s .*offered .*after the first \d+ p50 [\d.]+ ms, p99 [\d.]+ ms/m, /one-shot sign-update --role mint/, /PostgreSQL rows: bench\/pg-scale\.ts/, /load average .* at the end/],
    rows: /^serve\/sqlite-8-paced$/,
  },
  'pg-scale.ts': {
    // At these sizes the SQLite anchor's CPU (/proc, 10 ms ticks) is often under one tick: its ratio is then printed null.
    env: { BENCH_PGSCALE_CONTRACTS: '2', BENCH_PGSCALE_PAYMENTS: '2', BENCH_PGSCALE_RUNS: '1', BENCH_PGSCALE_STATEMENTS: '20' },
    labels: [/"figure":"pg_statements_alone","placement":"as the mint runs","updates":20,"client_ms":[\d.]+,"client_sys_ms":[\d.]+,"server_ms":[\d.]+/, /"figure":"sqlite_row".*"rate":[\d.]+/, /"figure":"pg_row","processes":2,.*"cpu_ms_per_update":\{"mint":[\d.]+,"postgres":[\d.]+/, /"figure":"pg_vs_sqlite".*"ratio":([\d.]+|null)/],
    rows: /^pg\/cpu-vs-sqlite$/,
  },
  'watch.ts': {
    env: { BENCH_WATCH_SIZES: '10', BENCH_WATCH_ROUNDS: '1', BENCH_WATCH_NODE_ROUNDS: '1' },
    labels: [/^offchain watch, one block's evaluation/m],
  },
};

/** The list bench/all.mjs runs, read from it: a bench added there and not here fails the first test. */
const listed = (): string[] => {
  const text = readFileSync(join(ROOT, 'bench', 'all.mjs'), 'utf8');
  const list = /const BENCHES = \[([^\]]*)\]/.exec(text)?.[1] ?? '';
  return [...list.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
};

let rowsDir: string;
beforeAll(() => {
  assertFreshBuild();
  rowsDir = mkdtempSync(join(tmpdir(), 'offchain-bench-smoke-'));
});
afterAll(() => rmSync(rowsDir, { recursive: true, force: true }));

describe('every benchmark runs at tiny sizes and prints its rows', () => {
  it('this file smokes every bench bench/all.mjs runs, and no other', () => {
    expect(Object.keys(BENCHES).sort()).toEqual(listed().sort());
  });

  for (const [file, smoke] of Object.entries(BENCHES)) {
    it(`bench/${file}`, () => {
      const rows = join(rowsDir, `${file}.jsonl`);
      const args = file.endsWith('.ts') ? ['--import', 'tsx', join('bench', file)] : [join('bench', file)];
      const env: NodeJS.ProcessEnv = { ...environmentOutsideRuns(), ...smoke.env, OFFCHAIN_BENCH_ROWS: rows };
      delete env.NODE_ENV;
      if (!smoke.env.NUTSHELL) delete env.NUTSHELL;
      const r = spawnSync(process.execPath, args, { cwd: ROOT, env, encoding: 'utf8', timeout: 110_000 });
      const said = `exit ${r.status ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
      expect(r.status, said).toBe(0);
      for (const label of smoke.labels) expect(r.stdout, said).toMatch(label);
      if (smoke.rows) {
        const reported = readFileSync(rows, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; value: number; load: number });
        expect(reported.filter((row) => smoke.rows!.test(row.id) && Number.isFinite(row.value) && Number.isFinite(row.load)).length, said).toBeGreaterThan(0);
      }
    });
  }
});
