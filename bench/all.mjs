#!/usr/bin/env node
/**
 * `npm run bench`: every benchmark in turn, each a child process printing its own report,
 * then issue 40's rows gathered from them (bench/rows.mjs) as one table: each figure on
 * CPU and wall time beside its anchor or limit measured in the same run, the ratio, the
 * target and the load average. Benchmarks print; nothing asserts.
 *
 *   npm run bench                        all of them (tens of minutes)
 *   npm run bench -- --only onion,bolt3  the named ones (file names without extension)
 *   npm run bench -- --readme            the benchmarks that report rows (ROW_BENCHES), then
 *                                        the README's table rewritten between its bench-rows
 *                                        markers from this run alone
 *   node bench/all.mjs --summary FILE    the table of a rows file an earlier run kept
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROWS_ENV, meetsTarget } from './rows.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** In the order they run; `tsx` for the TypeScript ones. */
const BENCHES = [
  'run.mjs', 'credit-run.mjs', 'ecash-run.mjs', 'ecash-sign.ts', 'ecash-serve.ts', 'openassets-run.mjs', 'onion.ts', 'bolt3.ts', 'statechain.ts',
  'truc.ts', 'device.ts', 'device-serve.ts', 'pg.ts', 'serve.ts', 'pg-scale.ts', 'watch.ts',
];

/** The benchmarks that report issue 40's rows: what `--readme` runs (the table is theirs alone). */
const ROW_BENCHES = ['run.mjs', 'credit-run.mjs', 'ecash-serve.ts', 'onion.ts', 'bolt3.ts', 'statechain.ts', 'serve.ts', 'pg-scale.ts', 'device-serve.ts'];

const README_BEGIN = '<!-- bench-rows:begin (npm run bench -- --readme writes this table) -->';
const README_END = '<!-- bench-rows:end -->';

function parseArgs(argv) {
  const opts = { only: undefined, readme: false, summary: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--readme') opts.readme = true;
    else if (a === '--only') opts.only = (argv[++i] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--summary') opts.summary = argv[++i];
    else {
      console.error(`bench: unknown argument ${a} (expected --only a,b | --readme | --summary FILE)`);
      process.exit(2);
    }
  }
  if (opts.readme && opts.only) {
    console.error(`bench: --readme rewrites the whole table, so it runs every benchmark that reports a row (${ROW_BENCHES.join(', ')}); drop --only`);
    process.exit(2);
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

function selected() {
  if (opts.readme) return ROW_BENCHES;
  if (!opts.only) return BENCHES;
  const known = new Map(BENCHES.map((f) => [f.replace(/\.(mjs|ts)$/, ''), f]));
  return opts.only.map((name) => {
    const file = known.get(name);
    if (!file) {
      console.error(`bench: no benchmark named ${name} (known: ${[...known.keys()].join(', ')})`);
      process.exit(2);
    }
    return file;
  });
}

/** Runs the benchmarks into a fresh rows file; returns its path (the caller removes its dir). */
function runBenches(files) {
  const dir = mkdtempSync(join(tmpdir(), 'offchain-bench-rows-'));
  const rowsFile = join(dir, 'rows.jsonl');
  writeFileSync(rowsFile, '');
  const failed = [];
  for (const file of files) {
    const args = file.endsWith('.ts') ? ['--import', 'tsx', join('bench', file)] : [join('bench', file)];
    console.log(`\n━━ bench/${file}`);
    const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, [ROWS_ENV]: rowsFile } });
    if (r.status !== 0) failed.push(`${file} (exit ${r.status ?? r.signal})`);
  }
  return { dir, rowsFile, failed };
}

function readRows(file) {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

const fmt = (x) => {
  // A row's NaN (a figure not measured: bench/onion.ts without Electrum) reaches here as JSON's null.
  if (x === undefined || x === null || Number.isNaN(x)) return '—';
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
};

function targetText(t) {
  if (!t) return '';
  const on = t.on === 'ratio' ? 'ratio' : '';
  const parts = [];
  if (t.atLeast !== undefined) parts.push(`≥ ${fmt(t.atLeast)}`);
  if (t.atMost !== undefined) parts.push(`≤ ${fmt(t.atMost)}`);
  return `${on ? `${on} ` : ''}${parts.join(', ')}`;
}

/** The rows as a Markdown table, in the order measured. */
function table(rows) {
  const lines = [
    '| row | CPU (rounds\' range) | wall | anchor or limit, same run | ratio | target | met | load | what bounds it, same run |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const range = r.range ? ` (${fmt(r.range[0])}–${fmt(r.range[1])})` : '';
    const ratioRange = r.ratioRange ? ` (${fmt(r.ratioRange[0])}–${fmt(r.ratioRange[1])})` : '';
    const met = meetsTarget(r);
    lines.push(
      `| ${r.label} | ${fmt(r.value)} ${r.unit}${range} | ${r.wall === undefined ? '—' : fmt(r.wall)} | ` +
        `${r.anchor ? `${r.anchor.label}: ${fmt(r.anchor.value)}` : '—'} | ${r.ratio === undefined ? '—' : `${fmt(r.ratio)}${ratioRange}`} | ` +
        `${targetText(r.target)} | ${met === undefined ? '' : met ? 'yes' : '**no**'} | ${r.load} | ${(r.bound ?? '').replaceAll('|', '\\|')} |`,
    );
  }
  return lines.join('\n');
}

function rewriteReadme(rows) {
  const path = join(root, 'README.md');
  const text = readFileSync(path, 'utf8');
  const begin = text.indexOf(README_BEGIN);
  const end = text.indexOf(README_END);
  if (begin < 0 || end < begin) {
    console.error(`bench: README.md has no table between "${README_BEGIN}" and "${README_END}"; not rewritten`);
    process.exit(1);
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const stamp = `Generated by \`npm run bench -- --readme\` on ${new Date().toISOString().slice(0, 10)}: node ${process.version}, ${cpus().length} × ${cpu}.`;
  const block = `${README_BEGIN}\n${stamp}\n\n${table(rows)}\n${README_END}`;
  writeFileSync(path, text.slice(0, begin) + block + text.slice(end + README_END.length));
  console.log('\nREADME.md: the bench-rows table rewritten from this run');
}

if (opts.summary) {
  if (!existsSync(opts.summary)) {
    console.error(`bench: no rows file ${opts.summary}`);
    process.exit(2);
  }
  console.log(table(readRows(opts.summary)));
} else {
  const { dir, rowsFile, failed } = runBenches(selected());
  try {
    const rows = readRows(rowsFile);
    console.log(`\n━━ issue 40's rows, this run (${rows.length}): CPU beside the anchor measured in the same run\n`);
    console.log(table(rows));
    if (failed.length) console.log(`\nnot complete: ${failed.join(', ')} did not finish`);
    if (opts.readme) {
      if (failed.length) {
        console.error('bench: a benchmark failed, so the README was left as it was');
        process.exitCode = 1;
      } else rewriteReadme(rows);
    }
    if (process.env.OFFCHAIN_BENCH_KEEP_ROWS) {
      writeFileSync(process.env.OFFCHAIN_BENCH_KEEP_ROWS, readFileSync(rowsFile));
      console.log(`rows kept in ${process.env.OFFCHAIN_BENCH_KEEP_ROWS}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (failed.length) process.exitCode = 1;
}
