/**
 * State directories through the built CLI (docs/state.md):
 *
 *   - a read-only step, or a step on a contract that must already exist, never creates
 *     state: a mistyped --state-dir is refused (exit 2, E_NO_MINT_POLICY for the mint,
 *     E_NO_STATE for the user) and leaves nothing behind — `credit list`, `exit-credit`,
 *     `sign-update --stream`, `open-credit --role mint --publish` without a payout
 *     address, `refund-credit`, `sign-update --role user`;
 *   - a file given as --state-dir, or a path under one, is E_STATE_NOT_DIR naming the
 *     path as it was given (exit 2);
 *   - a directory this process may not write is E_STATE_ACCESS (exit 2), not E_INTERNAL;
 *   - `state_dir=~/x` in the configuration file is under $HOME, not a directory named `~`.
 */
import { mkdirSync, readdirSync, rmdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.ts';
import { fixture } from './fixtures.ts';
import { run, type Run } from './cli.ts';

const MINT_KEY = fixture('keys/mint.key');
const USER_KEY = fixture('keys/user.key');
const PAYOUT = 'bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte';

function refused(r: Run, exitCode: number, code: string): string {
  expect(r.stdout).toBe('');
  expect(r.status, r.stderr).toBe(exitCode);
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('offchain: error'));
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^offchain: error ${code}: `));
  return lines[0]!;
}

describe('state directories', () => {
  let dir: { path: string; cleanup: () => void };
  beforeAll(() => {
    dir = tempDir('offchain-state-dirs-');
  });
  afterAll(() => dir?.cleanup());

  const mint = { MINT_KEY };
  const user = { USER_KEY };
  const readers: [string, string[], Record<string, string>, string][] = [
    ['credit list', ['credit', 'list', '--tip-height', '1000'], {}, 'E_NO_MINT_POLICY'],
    ['exit-credit', ['exit-credit', '--fee-rate', '3', '--key-env', 'MINT_KEY'], mint, 'E_NO_MINT_POLICY'],
    ['exit-credit --dry-run', ['exit-credit', '--fee-rate', '3', '--dry-run', '--key-env', 'MINT_KEY'], mint, 'E_NO_MINT_POLICY'],
    ['sign-update --role mint --stream', ['sign-update', '--role', 'mint', '--stream', '--key-env', 'MINT_KEY'], mint, 'E_NO_MINT_POLICY'],
    ['open-credit --role mint --publish (print the stored offer)', ['open-credit', '--role', 'mint', '--publish', '--key-env', 'MINT_KEY'], mint, 'E_NO_MINT_POLICY'],
    ['refund-credit', ['refund-credit', '--tip-height', '1000'], {}, 'E_NO_STATE'],
    ['sign-update --role user', ['sign-update', '--role', 'user', '--amount', '1000', '--key-env', 'USER_KEY'], user, 'E_NO_STATE'],
    ['close-credit --role user --start', ['close-credit', '--role', 'user', '--start', '--key-env', 'USER_KEY'], user, 'E_NO_STATE'],
  ];

  it.each(readers)('%s on a mistyped --state-dir: exit 2, its code, and nothing is created', (_name, args, env, code) => {
    const parent = join(dir.path, `typo-parent-${code}-${args.join('-').replace(/[^a-z-]/g, '')}`);
    mkdirSync(parent);
    const line = refused(run([...args, '--state-dir', join(parent, 'typo')], { env }), 2, code);
    expect(line).toContain('nothing was created');
    expect(readdirSync(parent)).toEqual([]);
  });

  it('a file as --state-dir: E_STATE_NOT_DIR naming the path as given, exit 2; a path under a file names the file', () => {
    const file = join(dir.path, 'a-file');
    writeFileSync(file, 'not a directory\n');
    const line = refused(run(['credit', 'list', '--tip-height', '1000', '--state-dir', file]), 2, 'E_STATE_NOT_DIR');
    expect(line).toBe(`offchain: error E_STATE_NOT_DIR: --state-dir ${file} is a file, not a directory`);
    const under = refused(run(['open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--key-env', 'MINT_KEY', '--state-dir', join(file, 'sub')], { env: mint }), 2, 'E_STATE_NOT_DIR');
    expect(under).toBe(`offchain: error E_STATE_NOT_DIR: --state-dir ${join(file, 'sub')} lies under ${file}, which is a file, not a directory`);
  });

  it('a directory this process may not write: E_STATE_ACCESS, exit 2 (not E_INTERNAL), naming it', () => {
    // As root, permissions do not stop a write; sysfs refuses new entries to everyone (EPERM).
    let target: string;
    if (process.getuid?.() === 0) {
      target = '/sys/offchain-state-dirs-test';
      let refusedByKernel = false;
      try {
        mkdirSync(target);
        rmdirSync(target);
      } catch {
        refusedByKernel = true;
      }
      expect(refusedByKernel, 'this test needs a directory the process cannot write: /sys refused nothing').toBe(true);
    } else {
      target = join(dir.path, 'read-only');
      mkdirSync(target);
      chmodSync(target, 0o500);
    }
    const line = refused(run(['open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--key-env', 'MINT_KEY', '--state-dir', target], { env: mint }), 2, 'E_STATE_ACCESS');
    expect(line).toContain(`cannot write the state directory ${target}`);
    expect(line).toMatch(/\((EACCES|EPERM|EROFS)\)/);
  });

  it('state_dir=~/x in the configuration file is under $HOME, not a directory named "~"', () => {
    const home = join(dir.path, 'home');
    const cwd = join(dir.path, 'cwd');
    mkdirSync(home);
    mkdirSync(cwd);
    const config = join(dir.path, 'offchain.conf');
    writeFileSync(config, 'state_dir=~/offchain-state\n');
    const r = run(['open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--key-env', 'MINT_KEY'], { env: { ...mint, HOME: home, OFFCHAIN_CONFIG: config }, cwd });
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(join(home, 'offchain-state', 'regtest'))).toEqual(['state.sqlite']);
    expect(readdirSync(cwd)).toEqual([]);
  });
});
