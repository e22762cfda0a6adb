/**
 * The command-line contract (BRIEF §2) checked from the outside, on the built CLI as
 * operators' scripts meet it: how input is read (slowly, from files, never from a
 * terminal), what malformed input and bad invocations produce (one coded line on
 * stderr, the right exit code, nothing on stdout), the network and test-seed rules,
 * byte-stable output, colour only on a terminal, secrets never prompted for in a pipe
 * nor written out, and a reader closing the pipe early.
 *
 * Tests that need a pseudo-terminal use util-linux `script`; without it they are
 * reported as skipped, not passed.
 *
 * Where a check is a rule of what a command answers (a malformed input's code, a usage
 * error, the network rule, key order, a key file's mode) a spawned sample of each command
 * and error class crosses the process boundary and the rest run the same built bundle's
 * `main` in this process (in-process.ts, ~10 ms instead of a ~0.15 CPU-s node process).
 * `psbt decode` always runs spawned: bin/run.js answers it through its own small bundles
 * (src/fast-decode/), which `main` does not go through.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { hex } from '@scure/base';
import { Transaction, WIF, TEST_NETWORK } from '@scure/btc-signer';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { tempDir } from '../helpers.ts';
import { cleanEnv, pipeline, type Run, type Stage } from './cli.ts';
import { pipelineInProcess, runInProcess } from './in-process.ts';
import { CLI, hasPtyScript, linesOf, runAsync, runInPty, runShellAsync, runSlowly, shellQuote } from './process.ts';
import { ALICE, ALICE_KEY, BOB, BOB_KEY, NONCES_MESSAGE, UNSIGNED, fixturePath, fixtureText } from './fixtures.ts';

const PTY = hasPtyScript();
const NEEDS_PTY = PTY ? '' : ' [SKIPPED: util-linux `script` not available]';

/**
 * Run the CLI as an operator's shell would: NODE_ENV unset (oclif changes its output
 * under NODE_ENV=test, which vitest sets; see the NODE_ENV=development test below). Asynchronous,
 * so the test worker stays responsive while the child runs.
 */
const OPERATOR = { NODE_ENV: '' };
function run(args: string[], opts: { input?: string | Uint8Array; env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  return runAsync(args, { input: opts.input, env: { ...OPERATOR, ...opts.env }, cwd: opts.cwd, timeoutMs: 60_000 });
}

/**
 * The same, in this process (in-process.ts), as the operator's shell would run it. One at a
 * time: runs asked for concurrently (it.concurrent) wait their turn.
 */
let inProcessQueue: Promise<unknown> = Promise.resolve();
function queued<T>(work: () => Promise<T>): Promise<T> {
  const next = inProcessQueue.then(work);
  inProcessQueue = next.catch(() => undefined);
  return next;
}
function runHere(args: string[], opts: { input?: string | Uint8Array; env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  return queued(() => runInProcess(args, { input: opts.input, env: { ...OPERATOR, ...opts.env }, cwd: opts.cwd }));
}

/** Drop ANSI escape sequences (what a terminal shows, as text). */
const plainText = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

const ERROR_LINE = /^offchain: error (E_[A-Z0-9_]+): \S/;
const STACK_FRAME = /^\s+at /m;
const ESC = '\x1b[';

let tmp: { path: string; cleanup: () => void };
let n = 0;
/** A fresh path under this file's temp dir. */
const fresh = (name: string) => join(tmp.path, `${++n}-${name}`);
/** What a state directory holds that a signer's nonces live in: any state.sqlite (and its WAL files) under it, by path; none when it was never made. */
const stateFiles = (state: string) => (existsSync(state) ? readdirSync(state, { recursive: true }).map(String).filter((f) => /(^|\/)state\.sqlite(-wal|-shm)?$/.test(f)) : []);

beforeAll(() => {
  tmp = tempDir('offchain-contract-');
});
afterAll(() => tmp.cleanup());

/** The coded error line of a failed run, after checking it is the only thing printed. */
function expectOneErrorLine(r: Run, exitCode: number, code?: string | RegExp): string {
  expect(r.status, `stderr: ${r.stderr}`).toBe(exitCode);
  expect(r.stdout).toBe('');
  const lines = linesOf(r.stderr);
  expect(lines, `stderr: ${r.stderr}`).toHaveLength(1);
  const line = lines[0]!;
  expect(line).toMatch(ERROR_LINE);
  expect(r.stderr).not.toMatch(STACK_FRAME);
  if (code !== undefined) expect(line.match(ERROR_LINE)![1]).toMatch(typeof code === 'string' ? new RegExp(`^${code}$`) : code);
  return line;
}

function expectOk(r: Run): string {
  expect(r.status, `stderr: ${r.stderr}`).toBe(0);
  expect(r.stdout).not.toBe('');
  return r.stdout;
}

/** `n` pieces of roughly equal size. */
function split<T extends string | Uint8Array>(whole: T, pieces: number): T[] {
  const size = Math.ceil(whole.length / pieces);
  const out: T[] = [];
  for (let at = 0; at < whole.length; at += size) out.push(whole.slice(at, at + size) as T);
  return out;
}

/** Deterministic pseudo-random bytes (SHA-256 in counter mode). */
function noise(seed: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0, at = 0; at < length; i++, at += 32) {
    out.set(createHash('sha256').update(`${seed}/${i}`).digest().subarray(0, Math.min(32, length - at)), at);
  }
  return out;
}

const concat = (...parts: (Uint8Array | string)[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

const BINARY = new Uint8Array(Buffer.from(UNSIGNED, 'base64'));

/**
 * The output of a plain, successful run (no state, no seed: the same bytes every time),
 * run once per file and shared by the tests that compare against it.
 */
const outputs = new Map<string, Promise<string>>();
function outputOf(args: string[], input: string): Promise<string> {
  const key = JSON.stringify([args, input]);
  if (!outputs.has(key)) outputs.set(key, run(args, { input }).then(expectOk));
  return outputs.get(key)!;
}
const MAGIC = 'psbt\xff';
const nonces = () => JSON.parse(NONCES_MESSAGE) as Record<string, unknown>;
const compact = (v: unknown) => JSON.stringify(v);

describe('reading input', () => {
  const oneGo = () => outputOf(['psbt', 'decode'], UNSIGNED);

  it('reads a base64 PSBT written in 4 chunks 150 ms apart exactly as if written at once', async () => {
    const expected = await oneGo();
    const chunks = split(UNSIGNED, 4);
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    const slow = await runSlowly(['psbt', 'decode'], chunks, { gapMs: 150 });
    expect(slow.status, slow.stderr).toBe(0);
    expect(slow.stdout).toBe(expected);
  });

  it('reads a binary PSBT trickling in 3 chunks 200 ms apart', async () => {
    const expected = await oneGo();
    const slow = await runSlowly(['psbt', 'decode'], split(BINARY, 3), { gapMs: 200 });
    expect(slow.status, slow.stderr).toBe(0);
    expect(slow.stdout).toBe(expected);
  });

  it('reads a JSON message (psbt analyze) written in 5 chunks 150 ms apart', async () => {
    const expected = await outputOf(['psbt', 'analyze'], NONCES_MESSAGE);
    const slow = await runSlowly(['psbt', 'analyze'], split(NONCES_MESSAGE, 5), { gapMs: 150 });
    expect(slow.status, slow.stderr).toBe(0);
    expect(slow.stdout).toBe(expected);
    expect(JSON.parse(slow.stdout).type).toBe('psbt/analysis');
  });

  it('--in FILE gives the same output as standard input, and --in - reads standard input', async () => {
    const expected = await oneGo();
    expect(expectOk(await run(['psbt', 'decode', '--in', fixturePath('psbt/musig-keypath-unsigned.psbt')]))).toBe(expected);
    expect(expectOk(await run(['psbt', 'decode', '--in', '-'], { input: UNSIGNED }))).toBe(expected);
    const message = fresh('nonces.json');
    writeFileSync(message, NONCES_MESSAGE);
    expect(expectOk(await run(['psbt', 'analyze', '--in', message]))).toBe(expectOk(await run(['psbt', 'analyze', '--in', '-'], { input: NONCES_MESSAGE })));
  });

  it('--in a file that does not exist: exit 2 E_INPUT_FILE naming the file', async () => {
    const missing = fresh('no-such.psbt');
    const line = expectOneErrorLine(await run(['psbt', 'decode', '--in', missing], { input: UNSIGNED }), 2, 'E_INPUT_FILE');
    expect(line).toContain(missing);
  });

  it(`stdin a terminal and no --in: exit 2 at once instead of waiting for typing${NEEDS_PTY}`, async (ctx) => {
    if (!PTY) return ctx.skip();
    const out = fresh('stdout');
    // stdin and stderr are the terminal; stdout goes to a file so it can be checked empty.
    const r = await runInPty(`${CLI} psbt decode > ${shellQuote(out)}`, { timeoutMs: 20_000 });
    // Had it waited for typing, the 20 s limit would have rejected the run (KilledError).
    expect(r.status, r.output).toBe(2);
    expect(plainText(r.output)).toMatch(/offchain: error E_NO_INPUT: .*(--in|standard input)/);
    expect(readFileSync(out, 'utf8')).toBe('');
  });
});

describe('malformed input: exit 3, one coded line on stderr, nothing on stdout', () => {
  const hexPsbt = hex.encode(BINARY);
  const inputs: [string, string | Uint8Array][] = [
    ['empty input', ''],
    ['only whitespace', ' \n\t \r\n'],
    ['garbage text', 'hello, this is not a PSBT\n'],
    ['a base64 PSBT truncated on a quantum boundary', UNSIGNED.slice(0, 60)],
    ['a base64 PSBT truncated mid-quantum', UNSIGNED.slice(0, 61)],
    ['a base64 PSBT missing its last byte', Buffer.from(BINARY.subarray(0, -1)).toString('base64')],
    ['a hex PSBT truncated', hexPsbt.slice(0, 100)],
    ['a hex PSBT with an odd number of digits', hexPsbt.slice(0, 101)],
    ['a binary PSBT truncated', BINARY.subarray(0, Math.floor(BINARY.length / 2))],
    ['a binary PSBT followed by garbage', concat(BINARY, noise('tail', 16))],
    ['binary garbage after the PSBT magic', concat(MAGIC, noise('garbage', 64))],
    ['the PSBT magic then 0xff bytes', concat(MAGIC, new Uint8Array(40).fill(0xff))],
    ['the PSBT magic then an empty global map', concat(MAGIC, new Uint8Array([0]))],
    ['the PSBT magic alone', concat(MAGIC)],
    ['broken JSON', '{"type": "psbt/updated", "version": '],
    ['a JSON array', '[1, 2, 3]'],
    ['JSON null', 'null'],
    ['a JSON object with no psbt', compact({ type: 'psbt/updated', version: 1, network: 'regtest' })],
    ['a JSON message of a wrong version', compact({ ...nonces(), version: 2 })],
    ['a JSON message with no type', compact({ ...nonces(), type: undefined })],
    ['a JSON message naming an unknown network', compact({ ...nonces(), network: 'moonnet' })],
    ['a JSON message whose psbt is not base64', compact({ ...nonces(), psbt: 'cHNidP8!!!' })],
    ['a JSON message whose psbt is a number', compact({ ...nonces(), psbt: 5 })],
    ['a JSON message whose psbt is truncated', compact({ ...nonces(), psbt: String(nonces().psbt).slice(0, 80) })],
    ['two messages as JSON Lines', `${compact(nonces())}\n${compact(nonces())}\n`],
  ];

  const consumers: [string, (state: string) => { args: string[]; env?: Record<string, string> }][] = [
    ['psbt decode', () => ({ args: ['psbt', 'decode'] })],
    ['psbt analyze', () => ({ args: ['psbt', 'analyze'] })],
    ['psbt finalize', () => ({ args: ['psbt', 'finalize'] })],
    ['psbt extract', () => ({ args: ['psbt', 'extract'] })],
    ['musig init', () => ({ args: ['musig', 'init', '--participant', ALICE, '--participant', BOB] })],
    ['musig nonce', (state) => ({ args: ['musig', 'nonce', '--key-env', 'ALICE_KEY', '--state-dir', state], env: { ALICE_KEY } })],
    ['musig sign', (state) => ({ args: ['musig', 'sign', '--key-env', 'ALICE_KEY', '--state-dir', state], env: { ALICE_KEY } })],
  ];

  // Every input once, the consumers in turn (each gets 3 or 4): the CLI's refusal path for each kind of
  // input and for each command. The whole matrix is library-level: detectFormat on any bytes
  // (test/lib/cli/input.test.ts), message decoding (test/lib/message.test.ts), PSBT parsing (test/lib/psbt/).
  // Spawned: each consumer's first input, and every psbt decode (bin/run.js's own decoder); the rest in this process.
  const sample = inputs.map(([what, input], k) => {
    const [name, invocation] = consumers[k % consumers.length]!;
    return [name, what, k < consumers.length || name === 'psbt decode' ? 'spawned' : 'in-process', input, invocation] as const;
  });
  it('the sample covers every input and every consumer, each consumer spawned at least once', () => {
    expect(new Set(sample.map((s) => s[0])).size).toBe(consumers.length);
    expect(new Set(sample.filter((s) => s[2] === 'spawned').map((s) => s[0])).size).toBe(consumers.length);
    expect(sample).toHaveLength(inputs.length);
  });
  it.concurrent.each(sample)('%s: %s (%s)', async (_name, _what, how, input, invocation) => {
    const state = fresh('state');
    const { args, env } = invocation(state);
    const line = expectOneErrorLine(await (how === 'spawned' ? run : runHere)(args, { input, env }), 3);
    expect(line).not.toMatch(/E_INTERNAL/);
    // Refused before any state was touched: no nonce was issued or consumed (no state database was even made).
    expect(stateFiles(state)).toEqual([]);
  });

  it('prints the stack trace after the coded line only with --debug', async () => {
    const r = await run(['psbt', 'decode', '--debug'], { input: concat(MAGIC, noise('debug', 64)) });
    expect(r.status).toBe(3);
    expect(r.stdout).toBe('');
    expect(linesOf(r.stderr)[0]).toMatch(ERROR_LINE);
    expect(r.stderr).toMatch(STACK_FRAME);
  });
});

describe('usage errors: exit 2, one coded line', () => {
  const cases: [string, string[]][] = [
    ['an unknown flag', ['psbt', 'decode', '--bogus']],
    ['a bad --network value (named, with the allowed networks)', ['psbt', 'decode', '--network', 'moonnet']],
    ['--network without a value', ['psbt', 'decode', '--network']],
    ['--in without a value', ['psbt', 'decode', '--in']],
    ['a missing required flag (musig init --participant, named)', ['musig', 'init']],
    ['a bad option value (key new --format pem)', ['key', 'new', '--format', 'pem', '--out', '@OUT@']],
    ['a missing required flag (key new --out)', ['key', 'new']],
    ['an unknown flag on a key command', ['key', 'show', '--secret', ALICE_KEY]],
  ];

  // Spawned: psbt decode's (bin/run.js's own decoder) and the first of each other command group
  // (musig init, key new); the rest in this process.
  const spawnedUsage = new Set([0, 1, 2, 3, 4, 5]);
  it.concurrent.each(cases.map(([what, template], i) => [what, spawnedUsage.has(i) ? 'spawned' : 'in-process', template] as const))('%s (%s)', async (_what, how, template) => {
    const out = fresh('never.key');
    const args = template.map((a) => (a === '@OUT@' ? out : a));
    const r = await (how === 'spawned' ? run : runHere)(args, { input: UNSIGNED, env: { ALICE_KEY } });
    const line = expectOneErrorLine(r, 2);
    expect(line).not.toContain(ALICE_KEY); // an argv secret is not echoed back either
    expect(existsSync(out)).toBe(false);
    // The bad value is named with the allowed networks; a missing required flag is reported by name.
    if (args.includes('moonnet')) {
      expect(line).toMatch(/^offchain: error E_USAGE: /);
      expect(line).toContain('moonnet');
      expect(line).toContain('signet');
    }
    if (args.join(' ') === 'musig init') {
      expect(line).toMatch(/^offchain: error E_USAGE: /);
      expect(line).toMatch(/participant/);
    }
  });

  it('with NODE_ENV=development (or test) a usage error is still exactly one line (no oclif "did not parse" warning)', async () => {
    const r = await run(['psbt', 'decode', '--bogus'], { input: UNSIGNED, env: { NODE_ENV: 'development' } });
    expectOneErrorLine(r, 2, 'E_USAGE');
  });

  it('an unknown command (or a stray argument) gets one coded offchain error line', async () => {
    for (const args of [['psbt', 'decod'], ['psbt', 'decode', 'stray']]) {
      expectOneErrorLine(await run(args, { input: UNSIGNED }), 2);
    }
  });
});

describe('the network rule and the test seed', () => {
  const regtestMessage = NONCES_MESSAGE;

  // psbt decode spawned (the error class's sample, through bin/run.js's own decoder); the others in this process.
  it.each([
    ['psbt decode', ['psbt', 'decode']],
    ['psbt analyze', ['psbt', 'analyze']],
    ['psbt finalize', ['psbt', 'finalize']],
    ['musig init', ['musig', 'init', '--participant', ALICE, '--participant', BOB]],
    ['musig sign', ['musig', 'sign', '--key-env', 'BOB_KEY', '--deterministic', '--state-dir', '@STATE@']],
  ])('%s: a regtest message with --network signet is refused (exit 4 E_NETWORK_MISMATCH)', async (name, template) => {
    const state = fresh('state');
    const args = template.map((a) => (a === '@STATE@' ? state : a));
    const line = expectOneErrorLine(await (name === 'psbt decode' ? run : runHere)([...args, '--network', 'signet'], { input: regtestMessage, env: { BOB_KEY } }), 4, 'E_NETWORK_MISMATCH');
    expect(line).toMatch(/regtest/);
    expect(line).toMatch(/signet/);
    expect(existsSync(join(state, 'signet'))).toBe(false);
  });

  it('psbt combine: a regtest message with --network signet is refused (exit 4 E_NETWORK_MISMATCH)', async () => {
    const r = await runHere(['psbt', 'combine', '--in', fixturePath('psbt/musig-keypath-init.json'), '--in', fixturePath('psbt/musig-keypath-signed.psbt'), '--network', 'signet']);
    expectOneErrorLine(r, 4, 'E_NETWORK_MISMATCH');
  });

  it('psbt combine of messages naming different networks exits 4 like every other E_NETWORK_MISMATCH', async () => {
    const signet = fresh('init-signet.json');
    writeFileSync(signet, compact({ ...(JSON.parse(fixtureText('psbt/musig-keypath-init.json')) as object), network: 'signet' }));
    const r = await runHere(['psbt', 'combine', '--in', fixturePath('psbt/musig-keypath-init.json'), '--in', signet]);
    expectOneErrorLine(r, 4, 'E_NETWORK_MISMATCH');
  });

  it('musig nonce: the mismatch is refused before any nonce is issued', async () => {
    const state = fresh('state');
    const r = await runHere(['musig', 'nonce', '--key-env', 'ALICE_KEY', '--state-dir', state, '--network', 'signet'], { input: regtestMessage, env: { ALICE_KEY } });
    expectOneErrorLine(r, 4, 'E_NETWORK_MISMATCH');
    expect(stateFiles(state)).toEqual([]);
  });

  it('accepts the message\'s own network, and a bare PSBT takes --network', async () => {
    expect(JSON.parse(expectOk(await run(['psbt', 'decode', '--network', 'regtest'], { input: regtestMessage }))).network).toBe('regtest');
    expect(JSON.parse(expectOk(await run(['psbt', 'decode', '--network', 'signet'], { input: UNSIGNED }))).network).toBe('signet');
  });

  it('OFFCHAIN_TEST_SEED with --network mainnet is refused (exit 4 E_TEST_SEED_MAINNET), and no key file is written', async () => {
    const env = { OFFCHAIN_TEST_SEED: 'x' };
    expectOneErrorLine(await run(['psbt', 'decode', '--network', 'mainnet'], { input: UNSIGNED, env }), 4, 'E_TEST_SEED_MAINNET');
    const out = fresh('mainnet.key');
    expectOneErrorLine(await runHere(['key', 'new', '--network', 'mainnet', '--out', out], { env }), 4, 'E_TEST_SEED_MAINNET');
    expect(existsSync(out)).toBe(false);
  });

  it('OFFCHAIN_TEST_SEED is refused for a mainnet message even without --network', async () => {
    const mainnet = compact({ ...nonces(), network: 'mainnet' });
    expect((await run(['psbt', 'decode'], { input: mainnet })).status).toBe(0); // control: fine without the seed
    const r = await run(['psbt', 'decode'], { input: mainnet, env: { OFFCHAIN_TEST_SEED: 'x' } });
    expect(r.status).toBe(4);
    expect(r.stdout).toBe('');
    // The seed warning is printed before the message (and its network) is read; then the refusal.
    const lines = linesOf(r.stderr);
    expect(lines.at(-1)).toMatch(/^offchain: error E_TEST_SEED_MAINNET: /);
    for (const line of lines.slice(0, -1)) expect(line).toMatch(/^offchain: warning: /);
  });

  it('OFFCHAIN_TEST_SEED on regtest warns loudly on stderr and leaves stdout clean', async () => {
    const plain = await outputOf(['psbt', 'decode'], UNSIGNED);
    const seeded = await run(['psbt', 'decode'], { input: UNSIGNED, env: { OFFCHAIN_TEST_SEED: 'x' } });
    expect(seeded.status).toBe(0);
    expect(seeded.stdout).toBe(plain);
    expect(seeded.stderr).toMatch(/warning/i);
    expect(seeded.stderr).toContain('OFFCHAIN_TEST_SEED');
    expect(seeded.stderr).toMatch(/DETERMINISTIC/);

    const out = fresh('seeded.key');
    const key = await runHere(['key', 'new', '--out', out], { env: { OFFCHAIN_TEST_SEED: 'x' } });
    expect(key.status, key.stderr).toBe(0);
    expect(key.stderr).toContain('OFFCHAIN_TEST_SEED');
    expect(JSON.parse(key.stdout).type).toBe('key/public');
  });
});

describe('determinism and stable output', () => {
  /**
   * The whole two-party flow up to both partial signatures, in fresh state dirs; with
   * `stages` 3, up to both public nonces (Bob's musig nonce prints them both). Through real
   * processes and pipes, or (`here`) in this process: each comparison below sets a spawned
   * flow against an in-process one, the same bytes (or not) whichever way it runs.
   */
  async function musigFlow(env: Record<string, string>, stages = 5, here = false): Promise<string> {
    const a = fresh('alice');
    const b = fresh('bob');
    const results = await (here ? (st: Stage[], input: string) => queued(() => pipelineInProcess(st, input)) : pipeline)(
      [
        { args: ['musig', 'init', '--participant', ALICE, '--participant', BOB], env },
        { args: ['musig', 'nonce', '--key-env', 'ALICE_KEY', '--state-dir', a], env: { ...env, ALICE_KEY } },
        { args: ['musig', 'nonce', '--key-env', 'BOB_KEY', '--state-dir', b], env: { ...env, BOB_KEY } },
        { args: ['musig', 'sign', '--key-env', 'ALICE_KEY', '--state-dir', a], env: { ...env, ALICE_KEY } },
        { args: ['musig', 'sign', '--key-env', 'BOB_KEY', '--state-dir', b], env: { ...env, BOB_KEY } },
      ].slice(0, stages),
      UNSIGNED,
    );
    results.forEach((r, i) => expect(r.status, `stage ${i}: ${r.stderr}`).toBe(0));
    return results.at(-1)!.stdout;
  }

  const FLOW_TIMEOUT = 180_000; // five processes per flow, several flows: slow on a loaded 2-core machine
  let seeded: string;

  it('the same OFFCHAIN_TEST_SEED gives byte-identical musig output (fresh state dirs)', async () => {
    const seed = { OFFCHAIN_TEST_SEED: 'ci-snapshot' };
    seeded = await musigFlow(seed);
    expect(JSON.parse(seeded).type).toBe('psbt/updated');
    expect(await musigFlow(seed, 5, true)).toBe(seeded);
  }, FLOW_TIMEOUT);

  it('another seed gives other nonces', async () => {
    expect(JSON.parse(seeded).type, 'the seeded flow of the test above ran').toBe('psbt/updated');
    expect(await musigFlow({ OFFCHAIN_TEST_SEED: 'another' }, 5, true)).not.toBe(seeded);
  }, FLOW_TIMEOUT);

  // Compared where the nonces are made: after both musig nonce steps (partial signing adds nothing random).
  it('without a seed two runs differ (nonces are random)', async () => {
    const [first, second] = await Promise.all([musigFlow({}, 3), musigFlow({}, 3, true)]);
    expect(JSON.parse(first).type).toBe('psbt/updated');
    expect(first).not.toBe(second);
  }, FLOW_TIMEOUT);

  it('the same OFFCHAIN_TEST_SEED gives the same key from key new', async () => {
    const outputs: string[] = [];
    for (const [dir, how] of [[fresh('k1'), run], [fresh('k2'), runHere]] as const) {
      mkdirSync(dir);
      outputs.push(expectOk(await how(['key', 'new', '--out', 'k.key'], { cwd: dir, env: { OFFCHAIN_TEST_SEED: 'ci-snapshot' } })));
    }
    expect(outputs[1]).toBe(outputs[0]);
  });

  /** type, version, network first (in that order, those present), every other key sorted — at every level. */
  function checkKeyOrder(value: unknown, path: string): void {
    if (Array.isArray(value)) return value.forEach((v, i) => checkKeyOrder(v, `${path}[${i}]`));
    if (value === null || typeof value !== 'object') return;
    const keys = Object.keys(value);
    const header = ['type', 'version', 'network'].filter((k) => keys.includes(k));
    const rest = keys.filter((k) => !header.includes(k));
    expect(keys, `key order at ${path}`).toEqual([...header, ...[...rest].sort()]);
    for (const k of keys) checkKeyOrder((value as Record<string, unknown>)[k], `${path}.${k}`);
  }

  it.each([
    ['psbt decode', ['psbt', 'decode'], NONCES_MESSAGE],
    ['psbt analyze', ['psbt', 'analyze'], NONCES_MESSAGE],
    ['musig init', ['musig', 'init', '--participant', BOB, '--participant', ALICE], UNSIGNED],
    ['key show', ['key', 'show', '--key-env', 'ALICE_KEY'], ''],
  ])('%s prints type, version, network first, then sorted keys, recursively', async (_name, args, input) => {
    const out = args[0] === 'psbt' ? await outputOf(args, input) : expectOk(await runHere(args, { input, env: { ALICE_KEY } }));
    const value = JSON.parse(out) as Record<string, unknown>;
    expect(Object.keys(value).slice(0, 3)).toEqual(['type', 'version', 'network']);
    checkKeyOrder(value, '$');
    // One canonical rendering: 2-space indent and a final newline, nothing else.
    expect(out).toBe(JSON.stringify(value, null, 2) + '\n');
  });

  it('psbt decode output really is nested (the recursive check above is not vacuous)', async () => {
    const value = JSON.parse(await outputOf(['psbt', 'decode'], NONCES_MESSAGE));
    expect(value.inputs[0].musig2_pubnonces.length).toBe(2);
    expect(Object.keys(value.inputs[0]).length).toBeGreaterThan(2);
  });
});

describe('colour', () => {
  const failing = ['psbt', 'decode', '--in', '/nonexistent/offchain.psbt'];

  it('none on stderr when it is not a terminal, even with a colour terminal type', async () => {
    const env = { TERM: 'xterm-256color', COLORTERM: 'truecolor' };
    const err = await run(failing, { env });
    expect(err.status).toBe(2);
    expect(err.stderr).toMatch(/offchain: error/);
    expect(err.stderr).not.toContain(ESC);
    const warned = await run(['psbt', 'decode'], { input: UNSIGNED, env: { ...env, OFFCHAIN_TEST_SEED: 'x' } });
    expect(warned.stderr).toMatch(/warning/);
    expect(warned.stderr).not.toContain(ESC);
    expect(warned.stdout).not.toContain(ESC);
  });

  it(`an error line on a terminal is coloured, unless NO_COLOR is set${NEEDS_PTY}`, async (ctx) => {
    if (!PTY) return ctx.skip();
    const cmd = `${CLI} ${failing.join(' ')}`;
    const coloured = await runInPty(cmd);
    expect(coloured.status).toBe(2);
    expect(plainText(coloured.output)).toMatch(/offchain: error E_INPUT_FILE/);
    expect(coloured.output).toContain(`${ESC}31moffchain: error`); // red, as the base command paints it
    const plain = await runInPty(cmd, { env: { NO_COLOR: '1' } });
    expect(plain.status).toBe(2);
    expect(plain.output).toMatch(/offchain: error E_INPUT_FILE/);
    expect(plain.output).not.toContain(ESC);
  });

  it(`JSON on stdout is never coloured, even when stdout is a terminal${NEEDS_PTY}`, async (ctx) => {
    if (!PTY) return ctx.skip();
    const r = await runInPty(`${CLI} psbt decode --in ${shellQuote(fixturePath('psbt/musig-keypath-unsigned.psbt'))}`);
    expect(r.status).toBe(0);
    expect(r.output).toContain('"type": "psbt/decoded"');
    expect(r.output).not.toContain(ESC);
  });
});

describe('secrets', () => {
  const copyKey = (mode: number) => {
    const path = fresh('alice.key');
    copyFileSync(fixturePath('keys/alice.key'), path);
    chmodSync(path, mode);
    return path;
  };

  it('key show --key-file refuses a file others can read (0644, 0640, 0604) and accepts 0600', async () => {
    // 0644 spawned, the other modes in this process
    for (const mode of [0o644, 0o640, 0o604]) {
      const line = expectOneErrorLine(await (mode === 0o644 ? run : runHere)(['key', 'show', '--key-file', copyKey(mode)]), 4, 'E_KEY_FILE_PERMISSIONS');
      expect(line).toMatch(/chmod 600/);
    }
    const ok = JSON.parse(expectOk(await runHere(['key', 'show', '--key-file', copyKey(0o600)])));
    expect(ok.public_key).toBe(ALICE);
  });

  it('no key anywhere with stdin a pipe: exit 2 E_NO_KEY at once, no prompt', async () => {
    // stdin stays open: a prompt would wait on it until the timeout.
    const r = await runAsync(['key', 'show'], { timeoutMs: 20_000, keepStdinOpen: true });
    // Had it prompted, it would have waited on the open pipe and hit the 20 s limit (KilledError).
    const line = expectOneErrorLine(r, 2, 'E_NO_KEY');
    expect(line).toMatch(/--key-file/);
    expect(r.stderr).not.toMatch(/Secret key/);
  });

  it('a PSBT on stdin and no key: exit 2 E_NO_KEY, nothing issued', async () => {
    const state = fresh('state');
    expectOneErrorLine(await run(['musig', 'nonce', '--state-dir', state], { input: NONCES_MESSAGE }), 2, 'E_NO_KEY');
    expectOneErrorLine(await runHere(['musig', 'sign', '--key-env', 'UNSET_KEY_VAR', '--state-dir', state], { input: NONCES_MESSAGE }), 2, 'E_NO_KEY');
    expect(stateFiles(state)).toEqual([]);
  });

  it(`at a terminal with stdout redirected to a file, the key is asked; the file gets only the result${NEEDS_PTY}`, async (ctx) => {
    if (!PTY) return ctx.skip();
    const out = fresh('stdout');
    const r = await runInPty(`${CLI} key show > ${shellQuote(out)}`, { timeoutMs: 30_000, answer: { prompt: /Secret key/, text: `${ALICE_KEY}\r` } });
    expect(r.status, r.output).toBe(0);
    expect(plainText(r.output)).toMatch(/Secret key/);
    expect(JSON.parse(readFileSync(out, 'utf8')).public_key).toBe(ALICE);
    expect(readFileSync(out, 'utf8')).not.toMatch(/Secret key/);
    expect(r.output.toLowerCase() + readFileSync(out, 'utf8').toLowerCase()).not.toContain(ALICE_KEY);
  });

  it(`stdout and stderr both redirected to files: the key is asked on the controlling terminal (/dev/tty), as ssh does${NEEDS_PTY}`, async (ctx) => {
    if (!PTY) return ctx.skip();
    const out = fresh('stdout');
    const err = fresh('stderr');
    const r = await runInPty(`${CLI} key show > ${shellQuote(out)} 2> ${shellQuote(err)}`, { timeoutMs: 30_000, answer: { prompt: /Secret key/, text: `${ALICE_KEY}\r` } });
    expect(r.status, r.output).toBe(0);
    expect(plainText(r.output)).toMatch(/Secret key/);
    expect(JSON.parse(readFileSync(out, 'utf8')).public_key).toBe(ALICE);
    expect(readFileSync(err, 'utf8')).toBe('');
  });

  it(`at a terminal, stdout a pipe: never a prompt, exit 2 E_NO_KEY at once (a pipeline step never waits for a person)${NEEDS_PTY}`, async (ctx) => {
    if (!PTY) return ctx.skip();
    const out = fresh('stdout');
    // Had it prompted, it would have waited for the answer and hit the 20 s limit (KilledError).
    const r = await runInPty(`${CLI} key show | cat > ${shellQuote(out)}; exit \${PIPESTATUS[0]}`, { timeoutMs: 20_000 });
    expect(r.status, r.output).toBe(2);
    expect(plainText(r.output)).toMatch(/E_NO_KEY/);
    expect(plainText(r.output)).not.toMatch(/Secret key/);
    expect(readFileSync(out, 'utf8')).toBe('');
  });

  it(`at a terminal, stdin a pipe: never a prompt, exit 2 E_NO_KEY at once${NEEDS_PTY}`, async (ctx) => {
    if (!PTY) return ctx.skip();
    const out = fresh('stdout');
    const r = await runInPty(`true | ${CLI} key show > ${shellQuote(out)}`, { timeoutMs: 20_000 });
    expect(r.status, r.output).toBe(2);
    expect(plainText(r.output)).toMatch(/E_NO_KEY/);
    expect(plainText(r.output)).not.toMatch(/Secret key/);
    expect(readFileSync(out, 'utf8')).toBe('');
  });

  it(`on a terminal, the key is asked with a hidden prompt and never echoed${NEEDS_PTY}`, async (ctx) => {
    if (!PTY) return ctx.skip();
    const r = await runInPty(`${CLI} key show`, { timeoutMs: 30_000, answer: { prompt: /Secret key/, text: `${ALICE_KEY}\r` } });
    expect(r.status, r.output).toBe(0);
    expect(plainText(r.output)).toMatch(/Secret key/);
    expect(plainText(r.output)).toContain(`"public_key": "${ALICE}"`);
    expect(r.output.toLowerCase()).not.toContain(ALICE_KEY);
  });

  it('key new writes a 0600 file, prints only public data, and never overwrites', async () => {
    const dir = fresh('keys');
    mkdirSync(dir);
    const out = join(dir, 'user.key');
    const r = await run(['key', 'new', '--out', out]);
    const message = JSON.parse(expectOk(r));
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const secretHex = readFileSync(out, 'utf8').trim();
    expect(secretHex).toMatch(/^[0-9a-f]{64}$/);
    expect(message.public_key).toBe(hex.encode(secp256k1.getPublicKey(hex.decode(secretHex), true)));
    expect(r.stdout.toLowerCase()).not.toContain(secretHex);
    expect(r.stderr.toLowerCase()).not.toContain(secretHex);
    expect(readdirSync(dir)).toEqual(['user.key']); // no temp file left behind

    const again = await runHere(['key', 'new', '--out', out]);
    expectOneErrorLine(again, 4, 'E_FILE_EXISTS');
    expect(readFileSync(out, 'utf8').trim()).toBe(secretHex);
    expect(readdirSync(dir)).toEqual(['user.key']);
  });

  it('key new --format wif keeps the WIF secret out of stdout too', async () => {
    const out = fresh('user.wif');
    const r = await run(['key', 'new', '--format', 'wif', '--out', out]);
    const message = JSON.parse(expectOk(r));
    const wif = readFileSync(out, 'utf8').trim();
    const secret = WIF(TEST_NETWORK).decode(wif);
    expect(message.public_key).toBe(hex.encode(secp256k1.getPublicKey(secret, true)));
    for (const secretText of [wif, hex.encode(secret)]) {
      expect(r.stdout).not.toContain(secretText);
      expect(r.stderr).not.toContain(secretText);
    }
  });
});

describe('a reader that closes the pipe early (EPIPE)', () => {
  let big: string;
  beforeAll(() => {
    // ~560 KB of decode output: far more than a pipe buffer, so writes hit the closed pipe.
    const tx = new Transaction();
    tx.addInput({ txid: new Uint8Array(32).fill(0xe0), index: 0, witnessUtxo: { script: hex.decode(`0014${'11'.repeat(20)}`), amount: 100_000_000n } });
    for (let i = 0; i < 2000; i++) tx.addOutput({ script: hex.decode(`0014${(i % 256).toString(16).padStart(2, '0').repeat(20)}`), amount: 1000n });
    big = fresh('big.psbt');
    writeFileSync(big, Buffer.from(tx.toPSBT()).toString('base64'));
  });

  it('psbt decode | head -c 10: the first bytes arrive, no stack trace, exit 0', async () => {
    const r = await runShellAsync(`( ${CLI} psbt decode --in ${shellQuote(big)}; echo "offchain-exit=$?" >&2 ) | head -c 10`, { shell: 'sh', env: cleanEnv(OPERATOR) });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('{\n  "type"');
    expect(r.stderr).not.toMatch(STACK_FRAME);
    expect(r.stderr).not.toMatch(/Error|E_INTERNAL/);
    expect(r.stderr.trim()).toBe('offchain-exit=0');
  });

  it('a reader gone before the first write (| true): no stack trace, exit 0', async () => {
    const r = await runShellAsync(`( ${CLI} psbt decode --in ${shellQuote(big)}; echo "offchain-exit=$?" >&2 ) | true`, { shell: 'sh', env: cleanEnv(OPERATOR) });
    expect(r.stderr).not.toMatch(STACK_FRAME);
    expect(r.stderr.trim()).toBe('offchain-exit=0');
  });
});
