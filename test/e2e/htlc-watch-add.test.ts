/**
 * `htlc watch-add` / `ptlc watch-add` and what a watcher then decides, offline (`watch --once
 * --dry-run --tip-height`): the payer's funded outputs kept in one state directory, a rerun that
 * prints the same answer, other terms for a kept outpoint refused (exit 5), a unix-time locktime
 * refused, the payer's refund decided from the tip at the locktime and not before, another key
 * refused at registration (E_WRONG_KEY) and, at run time, that output's `hold` only (the others go on). test/regtest/watch-htlc.test.ts runs the same against Core.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../helpers.ts';
import { run, type Run } from './cli.ts';

const key = (name: string) => readFileSync(join(ROOT, 'fixtures', 'keys', name), 'utf8').trim();
const ENV = { ALICE_KEY: key('alice.key'), BOB_KEY: key('bob.key') };
const TO = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';
const OTHER_TO = 'bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte';
const TXID = '5f'.repeat(32);
const fixture = (p: string) => readFileSync(join(ROOT, 'fixtures', p), 'utf8');

const refused = (r: Run, code: string, status: number) => {
  expect({ status: r.status, stdout: r.stdout, code: /error (E_[A-Z0-9_]+):/.exec(r.stderr)?.[1] }, r.stderr).toEqual({ status, stdout: '', code });
};
const ok = <T>(r: Run): T => {
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
};
type Report = { decisions: { kind: string; contract: string; action: string; blocks_left: number; error?: string }[] };

describe('a payer keeps its funded HTLC and PTLC for offchain watch', () => {
  it('kept once (a rerun prints the same), other terms refused; the watcher refunds both from the tip at 1100, not at 1099; another key refused', () => {
    const dir = tempDir('offchain-e2e-watch-add-');
    try {
      const add = (command: string, input: string, outpoint: string, to = TO) =>
        run([command, 'watch-add', '--key-env', 'ALICE_KEY', '--outpoint', outpoint, '--to', to, '--state-dir', dir.path], { input, env: ENV });
      const seed = fixture('htlc/seed.json');
      const first = add('htlc', seed, `${TXID}:0`);
      expect(ok(first)).toMatchObject({ type: 'htlc/watched', contract: `${TXID}:0`, amount_sat: 50000, locktime: 1100, to: TO });
      expect(add('htlc', seed, `${TXID}:0`).stdout).toBe(first.stdout);
      refused(add('htlc', seed, `${TXID}:0`, OTHER_TO), 'E_STATE_CONFLICT', 5);
      refused(add('ptlc', fixture('ptlc/created.json'), `${TXID}:0`), 'E_STATE_CONFLICT', 5);
      expect(ok(add('ptlc', fixture('ptlc/created.json'), `${TXID}:1`))).toMatchObject({ type: 'ptlc/watched', contract: `${TXID}:1` });

      const watch = (tip: number, keyEnv = 'ALICE_KEY') => run(['watch', '--once', '--dry-run', '--key-env', keyEnv, '--state-dir', dir.path, '--tip-height', String(tip)], { env: ENV });
      const actions = (r: Report) => r.decisions.map((d) => [d.kind, d.contract, d.action, d.blocks_left]);
      expect(actions(ok<Report>(watch(1099)))).toEqual([['htlc-payer', `${TXID}:0`, 'none', 1], ['ptlc-payer', `${TXID}:1`, 'none', 1]]);
      expect(actions(ok<Report>(watch(1100)))).toEqual([['htlc-payer', `${TXID}:0`, 'refund', 0], ['ptlc-payer', `${TXID}:1`, 'refund', 0]]);
      // Another key: each output's hold with E_WRONG_KEY, the watcher itself goes on.
      const bob = ok<Report>(watch(1100, 'BOB_KEY')).decisions;
      expect(bob.map((d) => [d.action, /^E_WRONG_KEY: /.test(d.error ?? '')])).toEqual([['hold', true], ['hold', true]]);
      refused(run(['htlc', 'watch-add', '--key-env', 'BOB_KEY', '--outpoint', `${TXID}:2`, '--to', TO, '--state-dir', dir.path], { input: seed, env: ENV }), 'E_WRONG_KEY', 4);
    } finally {
      dir.cleanup();
    }
  });

  it('a locktime that is a unix time is refused (a watcher keeps heights), and nothing is stored', () => {
    const dir = tempDir('offchain-e2e-watch-add-time-');
    try {
      const created = run(['htlc', 'create', '--kind', 'taproot', '--payer', key('alice.pub'), '--recipient', key('bob.pub'), '--locktime', '1800000000', '--payment-hash', key('../htlc/payment-hash.hex'), '--amount', '50000']);
      expect(created.status, created.stderr).toBe(0);
      refused(run(['htlc', 'watch-add', '--outpoint', `${TXID}:0`, '--to', TO, '--state-dir', dir.path], { input: created.stdout }), 'E_CLTV_NOT_HEIGHT', 4);
      expect(ok<Report>(run(['watch', '--once', '--dry-run', '--state-dir', dir.path, '--tip-height', '1100'])).decisions).toEqual([]);
    } finally {
      dir.cleanup();
    }
  });
});
