/**
 * The command-line habits of bitcoin-cli and hal users (issue 7 item 6): `-h`,
 * `help [command]`, `version` and `-V` do what they expect, flags may come before the
 * subcommand, a configuration file saves repeating --network, `--out -` never prints a
 * secret, and the key prompt re-asks on an empty entry and exits 130 on Ctrl-C —
 * through the built CLI.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { BIN, cleanEnv, pipeline } from './cli.ts';
import { normalizeArgv } from '../../src/cli.ts';
import { join } from 'node:path';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { CLI, hasPtyScript, runInPty } from './process.ts';
import { ROOT, tempDir } from '../helpers.ts';
import { runInProcess } from './in-process.ts';

const runIn = (env: Record<string, string>, ...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { env: cleanEnv(env), cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
const run = (...args: string[]) => runIn({}, ...args);

describe('help and version as the field types them', () => {
  it('normalizeArgv: -h → --help, help X → X --help, version / -V → --version, nothing after -- touched', () => {
    expect(normalizeArgv(['-h'])).toEqual(['--help']);
    expect(normalizeArgv(['help'])).toEqual(['--help']);
    expect(normalizeArgv(['help', 'credit', 'list'])).toEqual(['credit', 'list', '--help']);
    expect(normalizeArgv(['sign-update', '-h'])).toEqual(['credit', 'sign-update', '--help']); // an alias becomes its command's words (docs/cli.md, "Commands")
    expect(normalizeArgv(['version'])).toEqual(['--version']);
    expect(normalizeArgv(['-V'])).toEqual(['--version']);
    expect(normalizeArgv(['psbt', 'decode', '--', '-h'])).toEqual(['psbt', 'decode', '--', '-h']);
    expect(normalizeArgv(['psbt', 'decode', '--in', 'version'])).toEqual(['psbt', 'decode', '--in', 'version']);
  });

  it('`help sign-update`, `sign-update -h` and `sign-update --help` print the same help, exit 0', () => {
    const reference = run('sign-update', '--help');
    expect(reference.status).toBe(0);
    expect(reference.stdout).toContain('USAGE');
    for (const args of [['help', 'sign-update'], ['sign-update', '-h']]) {
      const r = run(...args);
      expect({ status: r.status, stdout: r.stdout }, args.join(' ')).toEqual({ status: 0, stdout: reference.stdout });
    }
  });

  it('`-h` and `help` alone print the top-level help, exit 0', () => {
    const reference = run('--help');
    for (const args of [['-h'], ['help']]) {
      const r = run(...args);
      expect({ status: r.status, stdout: r.stdout }, args.join(' ')).toEqual({ status: 0, stdout: reference.stdout });
    }
    expect(reference.stdout).toContain('COMMANDS');
  });

  it('`version`, `-V`, `-v` and `--version` print the same line, exit 0', () => {
    const outs = ['version', '-V', '-v', '--version'].map((a) => run(a));
    for (const r of outs) expect(r.status).toBe(0);
    expect(new Set(outs.map((r) => r.stdout)).size).toBe(1);
    expect(outs[0]!.stdout).toMatch(/^offchain\/\d+\.\d+\.\d+ \S+ node-v\d+/);
  });
});

describe('$OFFCHAIN_NETWORK', () => {
  it('sets the network when --network is absent; --network wins; a bad value is a usage error (exit 2)', () => {
    const dir = tempDir('offchain-habits-');
    try {
      const fromEnv = runIn({ OFFCHAIN_NETWORK: 'signet' }, 'key', 'new', '--out', join(dir.path, 'a.key'));
      expect(fromEnv.status, fromEnv.stderr).toBe(0);
      expect(JSON.parse(fromEnv.stdout)).toMatchObject({ type: 'key/public', network: 'signet' });
      const flagWins = runIn({ OFFCHAIN_NETWORK: 'signet' }, 'key', 'new', '--out', join(dir.path, 'b.key'), '--network', 'testnet4');
      expect(JSON.parse(flagWins.stdout)).toMatchObject({ network: 'testnet4' });
      const bad = runIn({ OFFCHAIN_NETWORK: 'bogus' }, 'key', 'new', '--out', join(dir.path, 'c.key'));
      expect({ status: bad.status, stdout: bad.stdout }).toEqual({ status: 2, stdout: '' });
      expect(bad.stderr).toMatch(/^offchain: error E_USAGE: .*bogus/);
    } finally {
      dir.cleanup();
    }
  });
});

describe('an empty input in a pipeline', () => {
  it('says the previous step printed nothing (stdin), or names the empty --in file; E_EMPTY_INPUT, exit 3, nothing on stdout', async () => {
    // `false | offchain psbt decode`: the first step fails and prints nothing.
    const [first, second] = await pipeline([{ args: ['psbt', 'decode', '--in', '/nonexistent/offchain'] }, { args: ['psbt', 'decode'] }], '');
    expect(first!.status).toBe(2);
    expect({ status: second!.status, stdout: second!.stdout }).toEqual({ status: 3, stdout: '' });
    expect(second!.stderr.trim()).toBe('offchain: error E_EMPTY_INPUT: no input: the previous step printed nothing (did it fail?); expected a JSON message or a PSBT on standard input');
    const dir = tempDir('offchain-habits-empty-');
    try {
      const file = join(dir.path, 'empty.psbt');
      writeFileSync(file, '\n');
      const r = run('psbt', 'decode', '--in', file);
      expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 3, stdout: '' });
      expect(r.stderr.trim()).toBe(`offchain: error E_EMPTY_INPUT: --in ${file} is empty: expected a JSON message or a PSBT`);
    } finally {
      dir.cleanup();
    }
  });
});

describe('an input given as an argument', () => {
  it('is refused with a message naming --in and standard input (E_USAGE, exit 2); an unknown command stays E_UNKNOWN_COMMAND', () => {
    const r = run('psbt', 'decode', 'fixtures/credit/funding.psbt');
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 2, stdout: '' });
    expect(r.stderr.trim()).toBe('offchain: error E_USAGE: psbt decode takes no argument "fixtures/credit/funding.psbt": pass a file with --in fixtures/credit/funding.psbt, or pipe it on standard input');
    const u = run('frobnicate');
    expect({ status: u.status, stderr: u.stderr.trim() }).toEqual({ status: 2, stderr: 'offchain: error E_UNKNOWN_COMMAND: "frobnicate" is not an offchain command; see offchain --help' });
  });
});

describe('global flags before the subcommand', () => {
  it('normalizeArgv moves leading flags after the command words, values included, and leaves the rest alone', () => {
    expect(normalizeArgv(['--network', 'mainnet', 'credit', 'list', '--tip-height', '5'])).toEqual(['credit', 'list', '--network', 'mainnet', '--tip-height', '5']);
    expect(normalizeArgv(['--debug', '--network=testnet', 'key', 'show'])).toEqual(['key', 'show', '--debug', '--network=testnet']);
    expect(normalizeArgv(['--state-dir', '/x', 'rollover', '--role', 'user'])).toEqual(['credit', 'rollover', '--state-dir', '/x', '--role', 'user']);
    expect(normalizeArgv(['--network', 'mainnet', '-h'])).toEqual(['--network', 'mainnet', '--help']);
    expect(normalizeArgv(['key', 'show', '--network', 'mainnet'])).toEqual(['key', 'show', '--network', 'mainnet']);
  });

  it('`offchain --network testnet key show` works as `offchain key show --network testnet`', () => {
    const env = { K: '11'.repeat(32) };
    const before = runIn(env, '--network', 'testnet', 'key', 'show', '--key-env', 'K');
    const after = runIn(env, 'key', 'show', '--key-env', 'K', '--network', 'testnet');
    expect(before.status, before.stderr).toBe(0);
    expect(before.stdout).toBe(after.stdout);
    expect(JSON.parse(before.stdout).network).toBe('testnet');
  });
});

describe('the configuration file', () => {
  const K = '11'.repeat(32);
  const networkOf = (r: { status: number | null; stdout: string; stderr: string }) => (r.status === 0 ? (JSON.parse(r.stdout) as { network: string }).network : `exit ${r.status}: ${r.stderr}`);
  /** The same invocation, the built bundle in this process (in-process.ts): the precedence rules after the first, spawned, run. */
  const inProcess = (env: Record<string, string>, ...args: string[]) => runInProcess(args, { env });

  it('$OFFCHAIN_CONFIG or ~/.offchain/config sets the network; the environment and a flag win over it', async () => {
    const dir = tempDir('offchain-config-');
    const file = join(dir.path, 'offchain.conf');
    writeFileSync(file, '# operator settings\nnetwork=testnet\nrpc_url=http://127.0.0.1:1/\n');
    expect(networkOf(runIn({ K, OFFCHAIN_CONFIG: file }, 'key', 'show', '--key-env', 'K'))).toBe('testnet');
    expect(networkOf(await inProcess({ K, OFFCHAIN_CONFIG: file, OFFCHAIN_NETWORK: 'signet' }, 'key', 'show', '--key-env', 'K'))).toBe('signet');
    expect(networkOf(await inProcess({ K, OFFCHAIN_CONFIG: file }, 'key', 'show', '--key-env', 'K', '--network', 'regtest'))).toBe('regtest');
    // The default place, found through HOME.
    const home = join(dir.path, 'home');
    mkdirSync(join(home, '.offchain'), { recursive: true });
    writeFileSync(join(home, '.offchain', 'config'), 'network=signet\n');
    expect(networkOf(runIn({ K, HOME: home, OFFCHAIN_CONFIG: '' }, 'key', 'show', '--key-env', 'K'))).toBe('signet');
    dir.cleanup();
  });

  it('a bad line, an unknown key, a bad network or a missing named file: E_CONFIG, exit 2, nothing on stdout', async () => {
    const dir = tempDir('offchain-config-');
    const file = join(dir.path, 'offchain.conf');
    for (const [text, says] of [
      ['network mainnet\n', 'line 1: expected key=value'],
      ['# fine\nrpcpassword=x\n', 'line 2: unknown key "rpcpassword"'],
      ['network=bitcoin\n', 'line 1: network: Expected --network=bitcoin to be one of'],
    ] as const) {
      writeFileSync(file, text);
      // The first through the built CLI as a process, the others in this process.
      const r = text === 'network mainnet\n' ? runIn({ K, OFFCHAIN_CONFIG: file }, 'key', 'show', '--key-env', 'K') : await inProcess({ K, OFFCHAIN_CONFIG: file }, 'key', 'show', '--key-env', 'K');
      expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 2, stdout: '' });
      expect(r.stderr).toMatch(/^offchain: error E_CONFIG: /);
      expect(r.stderr).toContain(says);
    }
    const missing = await inProcess({ K, OFFCHAIN_CONFIG: join(dir.path, 'nope') }, 'key', 'show', '--key-env', 'K');
    expect({ status: missing.status, stdout: missing.stdout }).toEqual({ status: 2, stdout: '' });
    expect(missing.stderr).toMatch(/E_CONFIG: cannot read the configuration file .*nope/);
    dir.cleanup();
  });
});

describe('`--out -` and secrets', () => {
  it('key new --out - is refused (a secret key never goes to stdout) and writes no file', () => {
    const dir = tempDir('offchain-out-');
    const r = spawnSync(process.execPath, [BIN, 'key', 'new', '--out', '-'], { env: cleanEnv(), cwd: dir.path, encoding: 'utf8' });
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 2, stdout: '' });
    expect(r.stderr).toMatch(/E_USAGE: key new never prints the secret key/);
    expect(readdirSync(dir.path)).toEqual([]);
    dir.cleanup();
  });
});

describe.skipIf(!hasPtyScript())('the hidden key prompt', () => {
  it('an empty entry asks again; Ctrl-C exits 130 with one line, no E_INTERNAL, no output', async () => {
    // The prompt needs stdin, stdout and stderr on the terminal: the terminal shows everything.
    const r = await runInPty(`${CLI} key show`, {
      timeoutMs: 20_000,
      answer: [
        { prompt: /Secret key/, text: '\r' },
        { prompt: /Nothing was entered/, text: '\x03' },
      ],
    });
    expect(r.status).toBe(130);
    const shown = r.output.replace(/\x1b\[[0-9;]*[A-Za-z]/g, ''); // the terminal's colours and cursor moves
    expect(shown).toMatch(/Nothing was entered/);
    expect(shown).toMatch(/offchain: error E_INTERRUPTED: interrupted at the key prompt/);
    expect(shown).not.toMatch(/E_INTERNAL|public_key|\{/);
  });
});
