/**
 * `device pay`'s own bundle (dist/device-pay.cjs, src/fast-toll/) answers exactly as the full
 * CLI: for every invocation below — a payment printed for the pipe, one through a gateway that
 * refuses or cannot be reached, refusals of the policy and the state, flag errors, --help and a
 * configuration file (which it hands back) — the built CLI with the shortcut and with
 * OFFCHAIN_FAST_PATHS=0, each on its own copy of the same demo channel, print the same stdout and
 * stderr, exit the same way and leave the same files and the same rows in the device's store.
 * A probe loaded before bin/run.js tells which bundle answered: the shortcut for what it takes,
 * the full CLI for what it hands back.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.ts';
import { BIN, assertFreshBuild, cleanEnv } from './cli.ts';
import { NO_NODE } from './bad-input-cases.ts';
import { openDemoChannel } from './fixtures.ts';
import { USER_KEY } from './fixture-files.ts';

const work = mkdtempSync(join(tmpdir(), 'offchain-fast-device-pay-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Written at exit by a module preloaded into the CLI's process: which bundle ran (the full CLI
// registers itself as globalThis[Symbol.for('offchain.bundle')], bin/run.js).
const PROBE = join(work, 'probe.cjs');
writeFileSync(PROBE, "process.on('exit', () => require('node:fs').writeFileSync(process.env.PROBE_OUT, globalThis[Symbol.for('offchain.bundle')] ? 'full' : 'shortcut'));\n");

const fx = (p: string) => join(ROOT, 'fixtures', p);
const PAY = ['device', 'pay', '--invoice', fx('device/toll.bolt11'), '--policy', fx('policies/device.json'), '--terms', fx('policies/gateway-terms.json'), '--now', '1800000000', '--tip-height', '1000', '--key-env', 'USER_KEY'];

type Outcome = { status: number; stdout: string; stderr: string; files: string[]; rows: Record<string, unknown[]>; bundle: string };

/** Every table's rows of each SQLite store under `dir`, bytes as hex. */
function storeRows(dir: string, files: string[]): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const f of files.filter((f) => f.endsWith('.sqlite'))) {
    const db = new Database(join(dir, f), { readonly: true });
    try {
      for (const { name } of db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]) {
        out[`${f}:${name}`] = (db.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[])
          .map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v]))))
          .sort();
      }
    } finally {
      db.close();
    }
  }
  return out;
}

const listFiles = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();

let serial = 0;
/** The time a refused --peer attempt took (E_PEER_UNREACHABLE's "1 attempts over 0.1 s"): the clock's, not the bundle's — 0.1 and 0.2 s in CI's loaded run. */
const ELAPSED = / over \d+(?:\.\d+)? s \(/;

/** One run on its own copy of the demo channel (after `before`'s runs on it, if any): what it printed, exited with and left. */
function runOn(fast: boolean, args: (state: string) => string[], opts: { input?: string; env?: Record<string, string>; before?: (state: string) => string[][] } = {}): Outcome {
  assertFreshBuild();
  const dir = join(work, `channel-${++serial}`);
  openDemoChannel(dir);
  const state = join(dir, 'user');
  const env = cleanEnv({ USER_KEY, ...(fast ? {} : { OFFCHAIN_FAST_PATHS: '0' }), ...opts.env });
  for (const earlier of opts.before?.(state) ?? []) {
    const r = spawnSync(process.execPath, [BIN, ...earlier], { cwd: ROOT, env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`setup ${earlier.join(' ')}: ${r.stderr}`);
  }
  const probe = join(dir, 'probe-out');
  const r = spawnSync(process.execPath, ['--require', PROBE, BIN, ...args(state)], { cwd: ROOT, env: { ...env, PROBE_OUT: probe }, input: opts.input ?? '', encoding: 'utf8', timeout: 60_000 });
  if (r.status === null) throw new Error(`killed: ${r.signal}`);
  const files = listFiles(state);
  return { status: r.status, stdout: r.stdout.replaceAll(dir, '$D'), stderr: r.stderr.replaceAll(dir, '$D').replace(ELAPSED, ' over T s ('), files, rows: storeRows(state, files), bundle: readFileSync(probe, 'utf8') };
}

/** A gateway that refuses every request (400, a coded error): its own process, since spawnSync blocks this one's event loop. */
let refusing: ChildProcess;
let refusingUrl = '';
beforeAll(async () => {
  const server = "require('node:http').createServer((q, s) => { q.resume(); q.on('end', () => { s.writeHead(400, { 'content-type': 'application/json' }); s.end(JSON.stringify({ error: { code: 'E_USAGE', message: 'this gateway refuses every request' } })); }); }).listen(0, '127.0.0.1', function () { console.log(this.address().port); })";
  refusing = spawn(process.execPath, ['-e', server], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((res) => refusing.stdout!.once('data', (d) => res(String(d).trim())));
  refusingUrl = `http://127.0.0.1:${port}`;
});
afterAll(() => {
  refusing.kill();
});

const home = join(work, 'home');
mkdirSync(join(home, '.offchain'), { recursive: true });
writeFileSync(join(home, '.offchain', 'config'), 'network = regtest\n', { mode: 0o600 });

type Case = [name: string, args: (state: string) => string[], opts?: Parameters<typeof runOn>[2], bundle?: 'shortcut' | 'full'];
const withState = (extra: string[] = []) => (state: string) => [...PAY, '--state-dir', state, ...extra];
const cases: Case[] = [
  ['a payment, printed for the pipe', withState()],
  ['the invoice on standard input', (state) => [...PAY.map((a) => (a === fx('device/toll.bolt11') ? '-' : a)), '--state-dir', state], { input: readFileSync(fx('device/toll.bolt11'), 'utf8') }],
  ['--flag=value forms', (state) => ['device', 'pay', `--invoice=${fx('device/toll.bolt11')}`, `--policy=${fx('policies/device.json')}`, `--terms=${fx('policies/gateway-terms.json')}`, '--now=1800000000', '--tip-height=1000', '--key-env=USER_KEY', `--state-dir=${state}`]],
  ['a second payment while one is in flight (refused)', withState(), { before: (state) => [[...PAY, '--state-dir', state]] }],
  ['--peer: a gateway that refuses the payment', (state) => [...PAY, '--state-dir', state, '--peer', refusingUrl, '--peer-timeout', '0']],
  ['--peer: no gateway at the URL', (state) => [...PAY, '--state-dir', state, '--peer', NO_NODE, '--peer-timeout', '0']],
  ['--resend with nothing in flight', (state) => ['device', 'pay', '--resend', '--key-env', 'USER_KEY', '--state-dir', state]],
  ['--resend of the payment in flight', (state) => ['device', 'pay', '--resend', '--key-env', 'USER_KEY', '--state-dir', state], { before: (state) => [[...PAY, '--state-dir', state]] }],
  ['no --invoice', (state) => ['device', 'pay', '--policy', fx('policies/device.json'), '--terms', fx('policies/gateway-terms.json'), '--key-env', 'USER_KEY', '--state-dir', state]],
  ['an unknown flag', withState(['--frobnicate'])],
  ['a mistyped flag', (state) => withState()(state).map((a) => (a === '--policy' ? '--polcy' : a))],
  ['--invoice and --resend together', withState(['--resend'])],
  ['a policy file that does not exist', (state) => withState()(state).map((a) => (a === fx('policies/device.json') ? fx('policies/none.json') : a))],
  ['a policy that refuses the payee', (state) => withState()(state).map((a) => (a === fx('policies/device.json') ? fx('policies/gateway-terms.json') : a))],
  ['the key variable unset', withState(), { env: { USER_KEY: '' } }],
  ['--network mainnet against a regtest channel', withState(['--network', 'mainnet'])],
  ['an empty state directory', () => [...PAY, '--state-dir', join(work, 'empty-state')]],
  ['--help (the full CLI answers)', () => ['device', 'pay', '--help'], {}, 'full'],
  ['--print-config (the full CLI answers)', withState(['--print-config']), {}, 'full'],
  ['a configuration file (the full CLI answers)', withState(), { env: { HOME: home, OFFCHAIN_CONFIG: '' } }, 'full'],
];

describe('device pay: its own bundle and the full CLI answer alike', () => {
  it.each(cases)('%s', (_name, args, opts, bundle = 'shortcut') => {
    const fast = runOn(true, args, opts);
    const full = runOn(false, args, opts);
    expect(full.bundle).toBe('full');
    expect(fast.bundle).toBe(bundle);
    expect({ ...fast, bundle: undefined }).toEqual({ ...full, bundle: undefined });
  });

  // Port 1: no test's server can take it between the two runs (a port bound and released at
  // load time could be, by another file's server on port 0).
  it('--peer with no gateway at the URL is E_PEER_UNREACHABLE on both paths, nothing on stdout', () => {
    for (const fast of [true, false]) {
      const r = runOn(fast, (state) => [...PAY, '--state-dir', state, '--peer', NO_NODE, '--peer-timeout', '0']);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^offchain: error E_PEER_UNREACHABLE: [^\n]*ECONNREFUSED[^\n]*\n$/);
    }
  });

  it('pays through the shortcut as the full CLI does: the device/pay message, signed, and its record', () => {
    const fast = runOn(true, withState());
    expect(fast.status).toBe(0);
    expect(fast.stderr).toBe('');
    expect(JSON.parse(fast.stdout)).toMatchObject({ type: 'device/pay', network: 'regtest', htlc: { amount_sat: 2506 } });
    expect(fast.files).toContain(join('regtest', 'state.sqlite'));
  });

  it('the bundle is written already wrapped as a CommonJS module, and bin/run.js compiles it as it is', () => {
    // One copy of its 1 MB text, not Module.wrap's second for V8 to flatten (scripts/build.mjs MODULE_WRAPPER);
    // were bin/run.js to wrap it again, its main would be missing and the full CLI would answer (the probe above).
    assertFreshBuild();
    const text = readFileSync(join(ROOT, 'dist', 'device-pay.cjs'), 'utf8');
    expect(text.startsWith('(function (exports, require, module, __filename, __dirname) { ')).toBe(true);
    expect(text.replace(/\n\/\/# sourceMappingURL=.*\n?$/, '').endsWith('\n});')).toBe(true);
    expect(runOn(true, withState()).bundle).toBe('shortcut');
  });

  it('OFFCHAIN_FAST_PATHS=0 leaves it to the full CLI; a missing bundle too', () => {
    expect(runOn(false, withState()).bundle).toBe('full');
    const kit = join(work, 'kit');
    mkdirSync(join(kit, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'bin'), join(kit, 'bin'), { recursive: true });
    for (const f of ['package.json', 'oclif.manifest.json']) cpSync(join(ROOT, f), join(kit, f));
    symlinkSync(join(ROOT, 'node_modules'), join(kit, 'node_modules'));
    for (const f of readdirSync(join(ROOT, 'dist'))) if (!f.startsWith('device-pay.') && !f.startsWith('bench')) cpSync(join(ROOT, 'dist', f), join(kit, 'dist', f));
    const dir = join(work, 'kit-channel');
    openDemoChannel(dir);
    const r = spawnSync(process.execPath, [join(kit, 'bin', 'run.js'), ...PAY, '--state-dir', join(dir, 'user')], { cwd: ROOT, env: cleanEnv({ USER_KEY }), encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ type: 'device/pay' });
  });
});
