/**
 * The mint's administrator (SQL on state.sqlite, no key) against the watcher's index (attack
 * review of issue 71; src/topics/watch/audit.ts): a round reads the contracts due at its tip
 * through `watch_height`, so a row whose height is raised by hand is never read — silently, where
 * `credit list` (which reads every row) says `must_exit`. Every third block (the audit's interval
 * at the demo's margin, 144, and a gateway's 10-block claim window) a round reads the whole store:
 * the contract is exited there, its decision says E_STATE_CORRUPT. An expiry moved in the record by
 * 2^32 (the id used to commit to 4 bytes of it) is held, E_STATE_CORRUPT, never taken at its word.
 * The demo contract (fixtures/credit/open-demo.sh) expires at 5320: from tip 5176 it must exit.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ROOT, tempDir } from '../helpers.ts';
import { cleanEnv, run } from './cli.ts';

const key = (name: string) => readFileSync(join(ROOT, 'fixtures', 'keys', name), 'utf8').trim();
const ENV = { MINT_KEY: key('mint.key'), USER_KEY: key('user.key') };
type Report = { decisions: { kind: string; contract: string; action: string; error?: string }[]; summary: { idle?: number; errors: number } };

describe('a watch_height raised by the mint\'s administrator, an expiry moved in the record', () => {
  it('the contract left out of the index is exited at the next audit (a tip that is a multiple of 3), E_STATE_CORRUPT; a moved expiry is held', () => {
    const dir = tempDir('offchain-e2e-watch-audit-');
    try {
      const demo = spawnSync('sh', [join(ROOT, 'fixtures/credit/open-demo.sh')], { env: cleanEnv({ ...ENV, OFFCHAIN_DEMO_DIR: dir.path }), encoding: 'utf8' });
      expect(demo.status, demo.stderr).toBe(0);
      const req = run(['sign-update', '--role', 'user', '--amount', '5000', '--key-env', 'USER_KEY', '--state-dir', join(dir.path, 'user')], { env: ENV });
      expect(req.status, req.stderr).toBe(0);
      const paid = run(['sign-update', '--role', 'mint', '--key-env', 'MINT_KEY', '--state-dir', join(dir.path, 'mint'), '--tip-height', '1001', '--confirmations', '1'], { input: req.stdout, env: ENV });
      expect(paid.status, paid.stderr).toBe(0);
      const watch = (tip: number): Report => {
        const r = run(['watch', '--once', '--dry-run', '--key-env', 'MINT_KEY', '--state-dir', join(dir.path, 'mint'), '--tip-height', String(tip)], { env: ENV });
        expect(r.status, r.stderr).toBe(0);
        return JSON.parse(r.stdout) as Report;
      };
      const mint = (d: Report) => d.decisions.filter((x) => x.kind === 'credit-mint').map((x) => [x.action, x.error?.split(':')[0]]);
      expect(mint(watch(5220))).toEqual([['exit', undefined]]);

      const db = new Database(join(dir.path, 'mint', 'regtest', 'state.sqlite'));
      // Schema version 3: the height is SQLite's, computed from the record — no statement sets it, and the contract is read at every tip.
      expect(() => db.prepare('UPDATE contracts SET watch_height = 1000000000').run()).toThrow(/cannot UPDATE generated column "watch_height"/);
      expect(mint(watch(5221))).toEqual([['exit', undefined]]);

      // The expiry moved 2^32 blocks out in the record (and its height with it: SQLite's, from the record).
      db.prepare("UPDATE contracts SET record = json_set(record, '$.contract.expiry_height', json_extract(record, '$.contract.expiry_height') + 4294967296)").run();
      db.close();
      const moved = watch(5223);
      expect(mint(moved)).toEqual([['hold', 'E_STATE_CORRUPT']]);
      expect(moved.decisions[0]!.error).toMatch(/holds terms that are not a contract's \(E_MALFORMED_MESSAGE: expiry_height 4294972616 is not a block height/);
    } finally {
      dir.cleanup();
    }
  });
});
