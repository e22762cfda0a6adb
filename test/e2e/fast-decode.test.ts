/**
 * `psbt decode`'s shortcuts (src/fast-decode/: dist/psbt-decode-plain.cjs for a PSBT that
 * carries no key, then dist/psbt-decode.cjs for any other) answer exactly as the full CLI: for
 * every invocation below — the forms they take and the ones they hand back, inputs good and bad,
 * keyless and keyed, from a file and from standard input — the built CLI with the shortcuts and
 * with OFFCHAIN_FAST_PATHS=0 print the same stdout and stderr and exit the same way. In
 * process, each reader is shown to answer the common forms itself and to hand back everything
 * else — the first one as built, without btc-signer, leaving every PSBT whose rendering would
 * reach for it to the second.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { runInThisContext } from 'node:vm';
import { Transaction, p2tr, p2wpkh } from '@scure/btc-signer';
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ROOT } from '../helpers.ts';
import { BIN, assertFreshBuild, cleanEnv, run } from './cli.ts';
import { main as signerMain, type FastResult } from '../../src/fast-decode/signer.ts';
import { main as plainMain } from '../../src/fast-decode/plain.ts';

const PSBT = 'fixtures/psbt/musig-keypath-unsigned.psbt';
const SIGNED = 'fixtures/psbt/musig-keypath-signed.psbt';
const REQUEST = 'fixtures/credit/update-request.json';
const text = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const binary = (path: string) => Buffer.from(text(path).trim(), 'base64');

const cases: [string, string[], (string | Uint8Array)?, Record<string, string>?][] = [
  ['--in FILE', ['psbt', 'decode', '--in', PSBT]],
  ['--in=FILE', ['psbt', 'decode', `--in=${SIGNED}`]],
  ['standard input, base64', ['psbt', 'decode'], text(PSBT)],
  ['standard input, binary', ['psbt', 'decode'], binary(SIGNED)],
  ['standard input, hex', ['psbt', 'decode'], binary(PSBT).toString('hex')],
  ['--in -', ['psbt', 'decode', '--in', '-'], text(PSBT)],
  ['--network regtest', ['psbt', 'decode', '--network', 'regtest', '--in', PSBT]],
  ['--network=mainnet', ['psbt', 'decode', '--network=mainnet', '--in', PSBT]],
  ['$OFFCHAIN_NETWORK', ['psbt', 'decode', '--in', PSBT], undefined, { OFFCHAIN_NETWORK: 'signet' }],
  ['a message carrying a PSBT, on standard input', ['psbt', 'decode'], text(REQUEST)],
  ['a message whose network is not --network (refused)', ['psbt', 'decode', '--network', 'mainnet'], text(REQUEST)],
  ['a PSBT that does not parse, on standard input', ['psbt', 'decode'], 'cHNidP8BAAoCAAAAAAAAAAAAAA=='],
  ['bytes that are no PSBT', ['psbt', 'decode'], 'hello'],
  ['empty standard input', ['psbt', 'decode'], ''],
  ['a file that does not exist', ['psbt', 'decode', '--in', 'no/such/file.psbt']],
  ['an empty --in value', ['psbt', 'decode', '--in=']],
  ['an unknown flag', ['psbt', 'decode', '--frobnicate', '--in', PSBT]],
  ['--network of no network', ['psbt', 'decode', '--network', 'moon', '--in', PSBT]],
  ['$OFFCHAIN_NETWORK of no network', ['psbt', 'decode', '--in', PSBT], undefined, { OFFCHAIN_NETWORK: 'moon' }],
  ['--debug', ['psbt', 'decode', '--debug', '--in', PSBT]],
  ['--help', ['psbt', 'decode', '--help']],
  ['a flag given twice', ['psbt', 'decode', '--in', PSBT, '--in', SIGNED]],
  ['an argument', ['psbt', 'decode', PSBT]],
];

// A configuration file found through $HOME (the shortcut reads $HOME itself, as os.homedir() does).
const home = mkdtempSync(join(tmpdir(), 'offchain-home-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));
mkdirSync(join(home, '.offchain'));
writeFileSync(join(home, '.offchain', 'config'), 'network = signet\n');
cases.push(['the configuration file in $HOME', ['psbt', 'decode', '--in', PSBT], undefined, { HOME: home, OFFCHAIN_CONFIG: '' }]);

// Ten P2TR inputs, each with the internal key its output commits to: the reader checks eleven base
// multiplications' worth, which the shortcut runs on noble's table (baseWindowFor); the signed
// fixture above runs without one. The same points, so the same answer, either way.
const tapInputs = new Transaction();
for (let i = 0; i < 10; i++) {
  const internalKey = schnorr.getPublicKey(sha256(Uint8Array.of(i)));
  tapInputs.addInput({ txid: sha256(Uint8Array.of(i, 1)), index: 0, witnessUtxo: { script: p2tr(internalKey).script, amount: 10_000n }, tapInternalKey: internalKey });
}
tapInputs.addOutput({ script: p2tr(schnorr.getPublicKey(sha256(Uint8Array.of(99)))).script, amount: 90_000n });
cases.push(['ten P2TR inputs with internal keys', ['psbt', 'decode'], Buffer.from(tapInputs.toPSBT()).toString('base64')]);
const TAP_INPUTS = join(home, 'ten-p2tr-inputs.psbt');
writeFileSync(TAP_INPUTS, Buffer.from(tapInputs.toPSBT()).toString('base64'));

// PSBTs that carry no key (the first reader's), with every keyless output script, and ones that
// differ by one output whose rendering needs btc-signer (the second reader's).
const h = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const KEY = schnorr.getPublicKey(sha256(Uint8Array.of(7)));
const KEYLESS_OUTPUTS = [
  p2wpkh(Uint8Array.of(2, ...KEY)).script,
  h(`0020${'22'.repeat(32)}`), // P2WSH
  h(`a914${'33'.repeat(20)}87`), // P2SH
  h(`76a914${'44'.repeat(20)}88ac`), // P2PKH
  h('51024e73'), // P2A
  h(`5210${'55'.repeat(16)}`), // witness v2
  h(`0018${'66'.repeat(24)}`), // witness v0 of no standard length
];
function keylessPsbt(extraOutput?: Uint8Array): Transaction {
  const tx = new Transaction({ allowUnknownOutputs: true, disableScriptCheck: true, version: 2, lockTime: 800_000 });
  tx.addInput({ txid: sha256(Uint8Array.of(1)), index: 3, sequence: 0xfffffffd, witnessUtxo: { script: p2tr(KEY).script, amount: 50_000n } });
  tx.addInput({ txid: sha256(Uint8Array.of(2)), index: 0, witnessUtxo: { script: h(`a914${'77'.repeat(20)}87`), amount: 20_000n } });
  for (const [i, script] of KEYLESS_OUTPUTS.entries()) tx.addOutput({ script, amount: BigInt(1000 * (i + 1)) });
  if (extraOutput) tx.addOutput({ script: extraOutput, amount: 0n });
  return tx;
}
const b64 = (tx: Transaction) => Buffer.from(tx.toPSBT()).toString('base64');
const KEYLESS = b64(keylessPsbt());
const noFee = keylessPsbt();
noFee.addInput({ txid: sha256(Uint8Array.of(3)), index: 1 });
const WITH_OP_RETURN = b64(keylessPsbt(h('6a0568656c6c6f')));
const WITH_MULTISIG = b64(keylessPsbt(Uint8Array.of(0x51, 0x21, 2, ...KEY, 0x51, 0xae)));
cases.push(
  ['a keyless PSBT: every keyless output script', ['psbt', 'decode'], KEYLESS],
  ['a keyless PSBT, --network mainnet (base58 and bech32 prefixes)', ['psbt', 'decode', '--network', 'mainnet'], KEYLESS],
  ['a keyless PSBT, an input without witness_utxo (no fee)', ['psbt', 'decode', '--network=testnet'], b64(noFee)],
  ['a keyless PSBT but for an OP_RETURN output', ['psbt', 'decode'], WITH_OP_RETURN],
  ['a keyless PSBT but for a bare multisig output', ['psbt', 'decode'], WITH_MULTISIG],
  // --in naming a pipe: read once, by the full CLI (a shortcut reading it would drain it for the next)
  ['--in /dev/stdin, a signed PSBT piped', ['psbt', 'decode', '--in', '/dev/stdin'], text(SIGNED)],
  ['--in /dev/stdin, a keyless PSBT piped', ['psbt', 'decode', '--in', '/dev/stdin'], KEYLESS],
  ['--in /dev/stdin, bytes that are no PSBT', ['psbt', 'decode', '--in', '/dev/stdin'], 'garbage'],
  ['--in /dev/zero (no end: refused at the input cap)', ['psbt', 'decode', '--in', '/dev/zero']],
);

describe('the shortcut and the full CLI give the same answer', () => {
  /** Each case's exit code, as the runs above saw it (the count below needs no third run). */
  const statuses = new Map<string, number>();
  it.each(cases)('%s', (name, args, input, env) => {
    const fast = run(args, { input, env });
    const full = run(args, { input, env: { ...env, OFFCHAIN_FAST_PATHS: '0' } });
    expect(fast).toEqual(full);
    statuses.set(name, fast.status);
  });

  it('and the cases cover answers and refusals alike', () => {
    expect(statuses.size, 'every case above ran').toBe(cases.length);
    expect([...statuses.values()].filter((s) => s === 0).length).toBeGreaterThanOrEqual(9);
    expect([...statuses.values()].filter((s) => s !== 0).length).toBeGreaterThanOrEqual(9);
  });

  it('the configuration file in $HOME was read (its network, signet, names the addresses)', () => {
    const r = run(['psbt', 'decode', '--in', PSBT], { env: { HOME: home, OFFCHAIN_CONFIG: '' } });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).network).toBe('signet');
  });
});

/** A file the CLI's node preloads (NODE_OPTIONS=--require), holding `source`, in a temp dir removed after the block's tests. */
function preloadFile(name: string, source: string): string {
  const dir = mkdtempSync(join(tmpdir(), `offchain-${name}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, `${name}.cjs`);
  writeFileSync(path, source);
  return path;
}

describe('a shortcut bundle that cannot be loaded', () => {
  // A preload that makes reading the first shortcut's bundle fail, as a missing file would.
  const preload = preloadFile(
    'no-shortcut',
    "const fs = require('node:fs'); const read = fs.readFileSync;\n" +
      "fs.readFileSync = function (p, ...rest) { if (String(p).endsWith('psbt-decode-plain.cjs')) { const e = new Error('ENOENT: no such file'); e.code = 'ENOENT'; throw e; } return read.call(this, p, ...rest); };\n",
  );

  it.each([['a keyless PSBT', KEYLESS], ['a signed one', text(SIGNED)]])('leaves the answer to the next: %s', (_name, input) => {
    const fast = run(['psbt', 'decode'], { input, env: { NODE_OPTIONS: `--require ${preload}` } });
    expect(fast.status).toBe(0);
    expect(fast.stderr).toBe('');
    expect(fast.stdout).toBe(run(['psbt', 'decode'], { input, env: { OFFCHAIN_FAST_PATHS: '0' } }).stdout);
  });
});

describe('the shortcut carries no randomness (scripts/build.mjs defines globalThis.crypto away)', () => {
  // A preload that reports any read of globalThis.crypto — noble's start-up probe reads it in
  // every bundle that has it — on stderr, then serves the real one.
  const preload = preloadFile(
    'crypto-probe',
    "const real = globalThis.crypto;\n" +
      "Object.defineProperty(globalThis, 'crypto', { configurable: true, get() { process.stderr.write('crypto was read\\n'); return real; } });\n",
  );
  const env = { NODE_OPTIONS: `--require ${preload}` };

  it.each([PSBT, SIGNED])('a decode either reader answers never reads globalThis.crypto, and answers as the full CLI does: %s', (file) => {
    const fast = run(['psbt', 'decode', '--in', file], { env });
    expect(fast.stderr).toBe('');
    expect(fast.status).toBe(0);
    expect(fast.stdout).toBe(run(['psbt', 'decode', '--in', file], { env: { OFFCHAIN_FAST_PATHS: '0' } }).stdout);
  });

  it('an invocation handed to the full CLI does read it (the probe sees reads)', () => {
    const handed = run(['psbt', 'decode', '--debug', '--in', PSBT], { env });
    expect(handed.status).toBe(0);
    expect(handed.stderr).toContain('crypto was read');
  });
});

describe('the shortcut loads no node:crypto (~10 ms of its cold start: src/lib/hash.ts and taproot/sighash.ts load it at their first hash)', () => {
  // A preload that names, at exit, every internal crypto module Node loaded.
  const preload = preloadFile('modules-probe', "process.on('exit', () => { for (const m of process.moduleLoadList) if (/crypto/.test(m)) process.stderr.write(m + '\\n'); });\n");
  const env = { NODE_OPTIONS: `--require ${preload}` };

  it.each([PSBT, SIGNED])('a decode either reader answers loads none: %s', (file) => {
    const fast = run(['psbt', 'decode', '--in', file], { env });
    expect(fast.status).toBe(0);
    expect(fast.stderr).toBe('');
  });

  it('the full CLI does (the probe sees them)', () => {
    const handed = run(['psbt', 'decode', '--debug', '--in', PSBT], { env });
    expect(handed.status).toBe(0);
    expect(handed.stderr).toContain('internal/crypto');
  });
});

type Main = (argv: string[], write: (text: string) => Promise<void>) => Promise<FastResult>;

/** A built shortcut bundle, loaded as bin/run.js loads it (its file is a CommonJS wrapper function; Node's own modules its require). */
function built(name: string): Main {
  assertFreshBuild();
  const file = join(ROOT, 'dist', name);
  const mod = { exports: {} as { main: Main } };
  (runInThisContext(readFileSync(file, 'utf8'), { filename: file }) as (...a: unknown[]) => void)(mod.exports, process.getBuiltinModule, mod, file, join(ROOT, 'dist'));
  return mod.exports.main;
}

const inFile = (name: string, text: string) => {
  const file = join(home, name);
  writeFileSync(file, text);
  return file;
};

describe('in process: what each reader answers itself', () => {
  // As the spawned full CLI runs (cleanEnv): no configuration file.
  const config = process.env.OFFCHAIN_CONFIG;
  beforeAll(() => {
    process.env.OFFCHAIN_CONFIG = '/dev/null';
  });
  afterAll(() => {
    if (config === undefined) delete process.env.OFFCHAIN_CONFIG;
    else process.env.OFFCHAIN_CONFIG = config;
  });
  afterEach(() => {
    delete process.env.OFFCHAIN_NETWORK;
  });

  async function attempt(main: Main, argv: string[]) {
    const written: string[] = [];
    const result = await main(argv, async (text) => {
      written.push(text);
    });
    return { result, written: written.join('') };
  }

  const keyless: [string, string[]][] = [
    ['--in FILE', ['psbt', 'decode', '--in', join(ROOT, PSBT)]],
    ['--in=FILE --network=regtest', ['psbt', 'decode', `--in=${join(ROOT, PSBT)}`, '--network=regtest']],
    ['every keyless output script', ['psbt', 'decode', '--in', inFile('keyless.psbt', KEYLESS)]],
  ];
  const keyed: [string, string[]][] = [
    ['a signed MuSig2 PSBT (its commitment checked without a base-point table)', ['psbt', 'decode', '--in', join(ROOT, SIGNED)]],
    ['ten P2TR inputs with internal keys (on the table)', ['psbt', 'decode', '--in', TAP_INPUTS]],
    ['an OP_RETURN output (its push check is btc-signer\'s)', ['psbt', 'decode', '--in', inFile('op-return.psbt', WITH_OP_RETURN)]],
    ['a bare multisig output (its type is btc-signer\'s)', ['psbt', 'decode', '--in', inFile('multisig.psbt', WITH_MULTISIG)]],
  ];
  const handedBack: [string, string[]][] = [
    ['--help', ['psbt', 'decode', '--help']],
    ['--debug', ['psbt', 'decode', '--debug', '--in', join(ROOT, PSBT)]],
    ['another command', ['psbt', 'analyze', '--in', join(ROOT, PSBT)]],
    ['a missing file', ['psbt', 'decode', '--in', join(ROOT, 'no/such/file')]],
  ];
  // The full CLI's answer to each invocation, spawned once however many readers are held to it.
  const answers = new Map<string, string>();
  const full = (argv: string[]) => {
    const key = JSON.stringify(argv);
    if (!answers.has(key)) answers.set(key, run(argv, { env: { OFFCHAIN_FAST_PATHS: '0' } }).stdout);
    return answers.get(key)!;
  };

  it.each([...keyless, ...keyed])('the second reader (source) answers %s', async (_name, argv) => {
    const { result, written } = await attempt(signerMain, argv);
    expect(result).toEqual({ done: true });
    expect(written).toBe(full(argv));
  });

  it.each(keyless)('the first reader, as built, answers %s as the full CLI', async (_name, argv) => {
    const { result, written } = await attempt(built('psbt-decode-plain.cjs'), argv);
    expect(result).toEqual({ done: true });
    expect(written).toBe(full(argv));
  });

  it.each(keyed)('the first reader, as built, leaves the PSBT to the second: %s', async (_name, argv) => {
    const { result, written } = await attempt(built('psbt-decode-plain.cjs'), argv);
    expect(result).toEqual({ done: false, stdin: undefined, psbt: true });
    expect(written).toBe('');
    // and the second, as built, answers it
    const second = await attempt(built('psbt-decode.cjs'), argv);
    expect(second.result).toEqual({ done: true });
    expect(second.written).toBe(full(argv));
  });

  it.each(keyless)('the first reader from source (btc-signer importable there) answers %s alike', async (_name, argv) => {
    const { result, written } = await attempt(plainMain, argv);
    expect(result).toEqual({ done: true });
    expect(written).toBe(full(argv));
  });

  it('a configuration file that sets only the network is read; one that sets anything else is the full CLI\'s (docs/config.md)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'offchain-fast-config-'));
    const argv = ['psbt', 'decode', '--in', join(ROOT, PSBT)];
    try {
      const networkOnly = join(dir, 'network.conf');
      writeFileSync(networkOnly, '# the operator\'s\n[psbt decode]\nnetwork=regtest\n');
      process.env.OFFCHAIN_CONFIG = networkOnly;
      const answered = await attempt(signerMain, argv);
      expect(answered.result).toEqual({ done: true });
      expect(answered.written).toBe(run(argv, { env: { OFFCHAIN_FAST_PATHS: '0', OFFCHAIN_CONFIG: networkOnly } }).stdout);
      // A key the shortcut does not read, or a line the full CLI refuses: handed back, nothing written.
      for (const text of ['network=regtest\nmax_connections=5\n', 'networks=regtest\n', 'not a line\n']) {
        writeFileSync(networkOnly, text);
        for (const main of [signerMain, plainMain]) {
          const { result, written } = await attempt(main, argv);
          expect({ done: result.done, written }, text).toEqual({ done: false, written: '' });
        }
      }
    } finally {
      process.env.OFFCHAIN_CONFIG = '/dev/null';
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(handedBack)('each hands back %s to the full CLI, writing nothing', async (_name, argv) => {
    for (const main of [signerMain, plainMain, built('psbt-decode-plain.cjs')]) {
      const { result, written } = await attempt(main, argv);
      expect(result.done).toBe(false);
      expect(result).not.toHaveProperty('psbt');
      expect(written).toBe('');
    }
  });
});

/**
 * The shortcut writes its answer straight to descriptor 1; a descriptor its parent left
 * non-blocking refuses a write once the pipe is full (EAGAIN), and the rest must then still
 * arrive whole. The parent here (python3: Node's child_process always hands a child blocking
 * descriptors) makes the pipe non-blocking and reads nothing until the pipe is full, so the
 * child's writing meets EAGAIN on an answer of several times the pipe's 64 KiB.
 */
const PYTHON = spawnSync('python3', ['--version']).status === 0;
describe.skipIf(!PYTHON)('standard output a non-blocking pipe that fills (EAGAIN)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'offchain-eagain-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const PARENT = [
    'import fcntl, os, struct, subprocess, sys, termios, time',
    'r, w = os.pipe()',
    'os.set_blocking(w, False)',
    'child = subprocess.Popen(sys.argv[1:], stdout=w, stderr=subprocess.PIPE)',
    'os.close(w)',
    'def pending():',
    "    return struct.unpack('i', fcntl.ioctl(r, termios.FIONREAD, b'\\0\\0\\0\\0'))[0]",
    'while pending() < 65536 and child.poll() is None:',
    '    time.sleep(0.01)',
    "sys.stderr.write('full\\n' if pending() >= 65536 else 'never full\\n')",
    'out = []',
    'while True:',
    '    b = os.read(r, 1 << 16)',
    '    if not b:',
    '        break',
    '    out.append(b)',
    'err = child.stderr.read()',
    "sys.stdout.buffer.write(b''.join(out))",
    'sys.stderr.buffer.write(err)',
    'sys.exit(child.wait())',
  ].join('\n');

  it('the answer arrives whole, as the full CLI prints it', () => {
    // 700 inputs: a decoded answer of several hundred kB.
    const key = Uint8Array.from(Buffer.from('79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798', 'hex'));
    const script = Uint8Array.from([0x51, 0x20, ...key]);
    const tx = new Transaction();
    for (let i = 0; i < 700; i++) tx.addInput({ txid: new Uint8Array(32).fill(i % 251 + 1), index: i, witnessUtxo: { script, amount: 1000n } });
    tx.addOutput({ script, amount: 500n });
    const file = join(dir, 'wide.psbt');
    writeFileSync(file, Buffer.from(tx.toPSBT()).toString('base64'));
    assertFreshBuild();
    const fast = spawnSync('python3', ['-c', PARENT, process.execPath, BIN, 'psbt', 'decode', '--in', file], { env: cleanEnv(), cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 60_000 });
    const full = run(['psbt', 'decode', '--in', file], { env: { OFFCHAIN_FAST_PATHS: '0' } });
    expect(full.status).toBe(0);
    expect(full.stdout.length).toBeGreaterThan(4 * 65536);
    expect(fast.stderr).toBe('full\n');
    expect(fast.status).toBe(0);
    expect(fast.stdout === full.stdout, 'the same bytes').toBe(true);
  });
});
