// `npm test`: the dependency rules beside the build, then the type check beside the suite —
// the whole suite on Node 24, then the stores, native modules and the CLI's exit codes
// (SUBSET) on each other Node.js line offchain supports (22 and 26).
//
// The type check (tsc, one thread, ~22 CPU-s) used to run alone before the suite, leaving the
// second core idle for its ~25 s; the suite does not need it (vitest runs the TypeScript
// sources through esbuild, and dist/ is the build's), so both now run at once. The run fails if
// either does: tsc's report is held and printed after vitest's, with its exit status, so a type
// error is the last thing on screen and never lost in the suite's output. Arguments go to
// vitest (`npm test -- test/lib/x.test.ts`), on Node 24 alone.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installedNode, LINES, NODE_FLOOR, supported } from './node-lines.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** A devDependency's command, as npm puts it on PATH for a script. */
const bin = (name) => join(ROOT, 'node_modules', '.bin', name);

/**
 * What runs on every line: every store (SQLite for each role, PostgreSQL), every native module
 * (better-sqlite3, the secp256k1 binding, koffi and the system's libsecp256k1, WASM), and the
 * CLI's exit codes for the steps that touch a store, on success, refusal, crash and signal.
 */
const SUBSET = [
  'test/lib/store/',
  'test/pg/a-nonce-signs-once-on-postgres.test.ts',
  'test/pg/statechain-migrate.test.ts',
  'test/setup/backends.test.ts',
  'test/lib/musig/engine-backends.test.ts',
  'test/lib/musig/libsecp256k1-backend.test.ts',
  'test/e2e/node-lines.test.ts',
  'test/e2e/version-line.test.ts',
];
/** Set by .ci/run where the Node packages install (linux-x64): a line without its Node fails the run rather than skip. */
const LINES_REQUIRED = process.env.OFFCHAIN_NODE_LINES_REQUIRED === '1';
const thisSupported = supported(process.versions.node);

/**
 * A line's Node (scripts/node-lines.mjs: the whole suite on the first, SUBSET on the others):
 * the one npm ci installed, or this one when it is of that line (and supported).
 */
function nodeOf(line) {
  return installedNode(line) ?? (Number(process.versions.node.split('.')[0]) === line.major && thisSupported ? process.execPath : undefined);
}

const gone = SUBSET.filter((p) => !existsSync(join(ROOT, p)));
if (gone.length) {
  console.error(`npm test: scripts/test.mjs names test paths that are not there: ${gone.join(', ')}`);
  process.exit(1);
}
const main = nodeOf(LINES[0]) ?? (thisSupported ? process.execPath : undefined);
if (main === undefined) {
  console.error(`npm test: no supported Node.js to run the suite on: this is ${process.version}, and node_modules/${LINES[0].pkg} (Node.js ${LINES[0].major}, which npm ci installs on linux-x64) is not there: install Node.js ${LINES[0].major} LTS (or ${NODE_FLOOR.join('.')}+)`);
  process.exit(1);
}
if (LINES_REQUIRED) {
  const missing = LINES.filter((l) => nodeOf(l) === undefined).map((l) => `node_modules/${l.pkg} (Node.js ${l.major})`);
  if (missing.length) {
    console.error(`npm test: OFFCHAIN_NODE_LINES_REQUIRED=1, and npm ci did not install ${missing.join(', ')}`);
    process.exit(1);
  }
}

const children = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const c of children) c.kill(signal);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

/** Runs `command args…` from the repository root; resolves with its exit status and, if held, its output. */
function run(command, args, { hold = false, env = process.env } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: hold ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    children.add(child);
    let output = '';
    if (hold) {
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
    }
    child.on('error', (e) => {
      output += `${e.message}\n`;
      resolve({ status: 1, output });
    });
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ status: code ?? (signal ? 1 : 0), output });
    });
  });
}

// The dependency rules and the build side by side too: neither needs the other, and each
// is mostly one thread (~3 and ~2 CPU-s, ~5 s of wall each on a loaded 2-core machine), so
// one after the other left a core idle. Both must pass before the suite starts; depcruise's
// report is held and printed after the build's line, so the two never interleave.
const rules = run(bin('depcruise'), ['src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err-long'], { hold: true });
const built = await run(main, [join(ROOT, 'scripts', 'build.mjs')]);
const cruised = await rules;
process.stdout.write(cruised.output);
if (cruised.status !== 0) {
  console.error(`npm test: the dependency rules (depcruise) failed (exit ${cruised.status})`);
  process.exit(cruised.status);
}
if (built.status !== 0) {
  console.error(`npm test: the build failed (exit ${built.status})`);
  process.exit(built.status);
}
const typecheck = run(bin('tsc'), ['-p', 'tsconfig.json'], { hold: true });
// The suite runs without NODE_EXTRA_CA_CERTS. Where it is set (a machine that trusts its
// system's certificate bundle so, as this project's development VM does with 144 of them),
// every Node process parses that file at start-up: ~50-60 ms of CPU each (bare `node -e 0`
// ~26 ms of CPU without it, ~80 ms with it), and the suite starts a few thousand — the CLI
// it runs as a child, the peers' helpers. Nothing the suite does trusts a certificate: every
// peer it talks to (bitcoind, lightningd, Nutshell, PostgreSQL) listens on 127.0.0.1 without
// TLS. Two e2e files measured so: 25.2 -> 22.5 CPU-s.
const suiteEnv = { ...process.env };
delete suiteEnv.NODE_EXTRA_CA_CERTS;

/**
 * vitest on `node`. An installed line's Node goes first on PATH: what the suite spawns as `node`
 * (scripts/demo.sh, the fixtures' scripts) is it too. This process's own Node is left where PATH
 * has it (its folder may be /usr/bin: put first, it would reorder every other tool).
 */
async function vitestOn(node, args) {
  const env = node === process.execPath ? suiteEnv : { ...suiteEnv, PATH: `${dirname(node)}${delimiter}${suiteEnv.PATH ?? ''}` };
  rmSync(FAILURES, { force: true });
  const r = await run(node, [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...args], { env: { ...env, OFFCHAIN_FAILURES_FILE: FAILURES } });
  let failed = [];
  try {
    failed = readFileSync(FAILURES, 'utf8').split('\n').filter((l) => l !== '');
  } catch {}
  rmSync(FAILURES, { force: true });
  if (r.status !== 0 || failed.length) recap.push({ node: versionOf(node), status: r.status, failed });
  return r;
}

/**
 * What failed, run by run, printed again as the last lines of `npm test` (CI shows the tail:
 * a failure on the first line would otherwise scroll away behind the others' green reports).
 * Each run's failures come from test/setup/failure-recap.ts, through this file.
 */
const FAILURES = join(tmpdir(), `offchain-failures-${process.pid}.txt`);
const recap = [];
function printRecap() {
  if (recap.length === 0) return;
  const lines = ['', 'npm test: what failed, run by run (each run\'s report above has the details):'];
  for (const { node, status, failed } of recap) {
    lines.push(`  on Node.js ${node} (vitest exit ${status}):${failed.length ? '' : ' no test failed (an error outside the tests: see its report above)'}`);
    for (const f of failed.slice(0, 30)) lines.push(`    ${f}`);
    if (failed.length > 30) lines.push(`    … and ${failed.length - 30} more`);
  }
  console.error(lines.join('\n'));
}

/** The version a Node binary says it is. */
const versionOf = (node) => (node === process.execPath ? process.version : spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim());

const args = process.argv.slice(2);
console.log(`npm test: the ${args.length ? 'tests asked for' : 'whole suite'} on Node.js ${versionOf(main)}${nodeOf(LINES[0]) === undefined ? ` (no Node.js ${LINES[0].major} here)` : ''}`);
let status = (await vitestOn(main, args)).status;
// Each other line: the stores, native modules and exit codes, one after the other (each vitest keeps both cores busy).
if (args.length === 0) {
  for (const line of LINES.slice(1)) {
    const node = nodeOf(line);
    if (node === undefined) {
      console.log(`npm test: skipped on Node.js ${line.major}: no node_modules/${line.pkg} here (npm ci installs it on linux-x64)`);
      continue;
    }
    console.log(`npm test: the stores, native modules and exit codes (${SUBSET.length} paths) on Node.js ${versionOf(node)}`);
    const r = await vitestOn(node, SUBSET);
    if (r.status !== 0) {
      console.error(`npm test: the subset failed on Node.js ${line.major} (exit ${r.status})`);
      if (status === 0) status = r.status;
    }
  }
}
const types = await typecheck;
printRecap();
if (types.status !== 0) {
  process.stderr.write(types.output);
  console.error(`npm test: the type check (tsc -p tsconfig.json) failed (exit ${types.status})`);
}
process.exit(status !== 0 ? status : types.status);
