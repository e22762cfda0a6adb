/**
 * Renamed flags (issue 28 item 3, docs/cli.md "Renamed flags"), through the built CLI:
 *
 *   - an old spelling still works — its value is read, the output is the new spelling's —
 *     and prints exactly one stderr line naming the new flag;
 *   - statechain-deposit --confirmations (the terms' floor, now --min-confirmations) is
 *     refused with E_FLAG_RENAMED, exit 2, nothing written: under the one vocabulary
 *     --confirmations asserts a coin's confirmations, so an old script's value is never
 *     read as the other meaning;
 *   - statechain-deposit --initial-lock takes +N; a bare N means the same, with a warning.
 *
 * The tables of refused values run the built bundle in this process (in-process.ts): what
 * they check is the flag's parsing; the runs around them cross the process boundary.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.ts';
import { cleanEnv, run, type Run } from './cli.ts';
import { fixture, fixturePath } from './fixtures.ts';
import { runInProcess } from './in-process.ts';

const SEED = { OFFCHAIN_TEST_SEED: 'renamed-flags' };
const SEED_LINE = 'offchain: warning: OFFCHAIN_TEST_SEED is set: all randomness is DETERMINISTIC (tests only). Never use this with real funds.';
/** stderr without the test-seed notice, as lines. */
const warnings = (r: Run) => r.stderr.split('\n').filter((l) => l !== '' && l !== SEED_LINE);

describe('statechain: --deposit-confirmations is now --confirmations', () => {
  const dir = tempDir('offchain-renamed-sc-');
  afterAll(() => dir.cleanup());
  const verify = (flag: string[]) => {
    const state = join(dir.path, `bob-${Math.random().toString(16).slice(2)}`);
    cpSync(fixturePath('statechain/state/bob-receiving'), state, { recursive: true });
    return run(['statechain-verify', '--key-env', 'BOB_KEY', '--state-dir', state, '--tip-height', '200', ...flag, '--in', 'fixtures/statechain/transfer-package.json'], {
      env: { BOB_KEY: fixture('keys/bob.key') },
    });
  };

  it('the old spelling (both forms) gives the new one\'s output and one warning line naming --confirmations', () => {
    const now = verify(['--confirmations', '3']);
    expect(now.status, now.stderr).toBe(0);
    expect(now.stderr).toBe('');
    expect(JSON.parse(now.stdout)).toMatchObject({ type: 'statechain/verified', confirmations: 3 });
    for (const old of [['--deposit-confirmations', '3'], ['--deposit-confirmations=3']]) {
      const r = verify(old);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe(now.stdout);
      expect(r.stderr).toBe('offchain: warning: --deposit-confirmations is deprecated: it is now --confirmations (same value, same meaning)\n');
    }
  });

  it('the old spelling\'s value is read: 0 confirmations is refused as with --confirmations 0', () => {
    const now = verify(['--confirmations', '0']);
    const old = verify(['--deposit-confirmations', '0']);
    for (const r of [now, old]) {
      expect(r.status).toBe(4);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^(offchain: warning: --deposit-confirmations is deprecated[^\n]*\n)?offchain: error E_DEPOSIT_UNCONFIRMED: the deposit has 0 confirmation/);
    }
  });
});

describe('credit: --funding-confirmations is now --confirmations', () => {
  const dir = tempDir('offchain-renamed-credit-');
  const env = { MINT_KEY: fixture('keys/mint.key'), USER_KEY: fixture('keys/user.key'), ...SEED };
  let request = '';
  beforeAll(() => {
    const r = spawnSync('sh', [join(ROOT, 'fixtures/credit/open-demo.sh')], { env: cleanEnv({ OFFCHAIN_DEMO_DIR: dir.path }), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const u = run(['sign-update', '--role', 'user', '--amount', '1000', '--key-env', 'USER_KEY', '--state-dir', join(dir.path, 'user')], { env });
    expect(u.status, u.stderr).toBe(0);
    request = u.stdout;
  });
  afterAll(() => dir.cleanup());
  const mint = (flag: string[]) => run(['sign-update', '--role', 'mint', '--key-env', 'MINT_KEY', '--state-dir', join(dir.path, 'mint'), '--tip-height', '1001', ...flag], { env, input: request });

  it('the old spelling\'s value is read (0: E_FUNDING_UNCONFIRMED), then it signs, warning once; the new spelling gets the same stored receipt, silently', () => {
    const unconfirmed = mint(['--funding-confirmations', '0']);
    expect(unconfirmed.status).toBe(4);
    expect(warnings(unconfirmed)).toEqual([
      'offchain: warning: --funding-confirmations is deprecated: it is now --confirmations (same value, same meaning)',
      expect.stringMatching(/^offchain: error E_FUNDING_UNCONFIRMED: /),
    ]);
    const old = mint(['--funding-confirmations', '1']);
    expect(old.status, old.stderr).toBe(0);
    expect(warnings(old)).toEqual(['offchain: warning: --funding-confirmations is deprecated: it is now --confirmations (same value, same meaning)']);
    expect(JSON.parse(old.stdout)).toMatchObject({ type: 'credit/receipt' });
    const now = mint(['--confirmations', '1']);
    expect(now.status, now.stderr).toBe(0);
    expect(warnings(now)).toEqual([]);
    expect(now.stdout).toBe(old.stdout);
  });
});

describe('statechain-deposit: --min-confirmations and --initial-lock +N; the old --confirmations is refused', () => {
  const dir = tempDir('offchain-renamed-deposit-');
  afterAll(() => dir.cleanup());
  const env = { OPERATOR_KEY: fixture('keys/mint.key'), ALICE_KEY: fixture('keys/alice.key'), ...SEED };
  let n = 0;
  const operator = (flags: string[]) => {
    const state = join(dir.path, `op-${n++}`);
    return { state, r: run(['statechain-deposit', '--key-env', 'OPERATOR_KEY', '--state-dir', state, '--tip-height', '200', ...flags, '--in', 'fixtures/statechain/deposit-request.json'], { env }) };
  };
  /** The same step in this process: for the tables of refusals. */
  const operatorInProcess = async (flags: string[]) => {
    const state = join(dir.path, `op-${n++}`);
    return { state, r: await runInProcess(['statechain-deposit', '--key-env', 'OPERATOR_KEY', '--state-dir', state, '--tip-height', '200', ...flags, '--in', 'fixtures/statechain/deposit-request.json'], { env }) };
  };
  const terms = (r: Run) => (JSON.parse(r.stdout) as { statement: { terms: { initial_lock: number; confirmations: number } } }).statement.terms;

  it('--min-confirmations N and --initial-lock +N set the terms; the defaults are 3 and +12960', () => {
    const { r } = operator(['--min-confirmations', '6', '--initial-lock', '+100']);
    expect(r.status, r.stderr).toBe(0);
    expect(warnings(r)).toEqual([]);
    expect(terms(r)).toMatchObject({ confirmations: 6, initial_lock: 100 });
    const d = operator([]).r;
    expect(d.status, d.stderr).toBe(0);
    expect(terms(d)).toMatchObject({ confirmations: 3, initial_lock: 12_960 });
  });

  it('a bare --initial-lock N (the old spelling) means the same as +N, with one warning', () => {
    const plus = operator(['--initial-lock', '+100']).r;
    const bare = operator(['--initial-lock', '100']).r;
    expect(bare.status, bare.stderr).toBe(0);
    expect(bare.stdout).toBe(plus.stdout);
    expect(warnings(bare)).toEqual(['offchain: warning: --initial-lock 100 without "+" is deprecated: write --initial-lock +100 (same meaning: 100 blocks after the tip)']);
  });

  it.each([['0'], ['+0'], ['-5'], ['+100001'], ['12abc'], ['+ 5'], ['0x10'], ['']])('--initial-lock %j: E_USAGE, exit 2, nothing written', async (value) => {
    // The first through the built CLI as a process, the others in this process.
    const { state, r } = value === '0' ? operator(['--initial-lock', value]) : await operatorInProcess(['--initial-lock', value]);
    expect(r.stdout).toBe('');
    expect(warnings(r)).toEqual([expect.stringMatching(/^offchain: error E_USAGE: --initial-lock must be \+N, a number of blocks after the tip from 1 to 100000/)]);
    expect(r.status).toBe(2);
    expect(existsSync(state)).toBe(false);
  });

  it.each([
    ['step 2, the operator', ['--confirmations', '6']],
    ['step 2, with --min-confirmations too', ['--min-confirmations', '2', '--confirmations', '6']],
    ['step 2, --confirmations=6', ['--confirmations=6']],
  ])('--confirmations (%s): E_FLAG_RENAMED naming both flags, exit 2, nothing written', async (label, flags) => {
    // The first through the built CLI as a process, the others in this process.
    const { state, r } = label === 'step 2, the operator' ? operator(flags) : await operatorInProcess(flags);
    expect(r.stdout).toBe('');
    expect(warnings(r)).toEqual([
      'offchain: error E_FLAG_RENAMED: statechain-deposit --confirmations is retired: the confirmations the operator\'s terms require are now --min-confirmations N; --confirmations, which elsewhere asserts a coin\'s confirmations offline, is read by no deposit step: drop it',
    ]);
    expect(r.status).toBe(2);
    expect(existsSync(state)).toBe(false);
  });

  it('--confirmations at step 1 (--start) is refused before the owner\'s share is made: nothing written', () => {
    const state = join(dir.path, 'alice');
    const r = run(['statechain-deposit', '--start', '--operator-key', fixture('statechain/operator.pub'), '--key-env', 'ALICE_KEY', '--state-dir', state, '--confirmations', '3'], { env });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/offchain: error E_FLAG_RENAMED: /);
    expect(existsSync(state)).toBe(false);
  });

  it('--deposit-confirmations, which no deposit step reads, is still accepted and ignored, with one warning', () => {
    const plain = operator([]).r;
    const old = operator(['--deposit-confirmations', '3']).r;
    expect(old.status, old.stderr).toBe(0);
    expect(old.stdout).toBe(plain.stdout);
    expect(warnings(old)).toEqual(['offchain: warning: --deposit-confirmations is deprecated and ignored by statechain-deposit (no deposit step reads the deposit\'s confirmations); elsewhere it is now --confirmations']);
  });
});
