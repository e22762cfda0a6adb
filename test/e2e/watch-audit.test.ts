/**
 * The mint's administrator (SQL on state.sqlite, no key) against the watcher's index (attack
 * review of issue 71; schema version 3, src/topics/watch/audit.ts): a round reads the contracts
 * due at its tip through `watch_height`, which SQLite computes from the record — so raising it by
 * hand is refused, and the contract is exited at every tip. A far expiry written before the
 * record's own (SQLite reads the first, offchain the last) makes it due at every tip all the same,
 * and the round whose slice of the store holds it says so, E_STATE_CORRUPT. An expiry moved in the
 * record (by 1,000 blocks, or by 2^32, which the id used to commit to 4 bytes of) leaves the
 * index's read and is held at that round, E_STATE_CORRUPT, never taken at its word. The demo
 * contract (fixtures/credit/open-demo.sh) expires at 5320: from tip 5176 it must exit. Its slice is
 * found here from its id alone: its first 4 bytes × 48 / 2^32 (48: a third of the demo's margin,
 * 144), read at the tips whose remainder mod 48 it is.
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

describe('the mint\'s administrator against the watcher\'s index: a watch_height raised, a key written twice, an expiry moved', () => {
  it('the raise refused (exit at every tip); the key written twice read at every tip and reported at its slice\'s tip; a moved expiry held there, E_STATE_CORRUPT', () => {
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
      const { contract_id: id, record } = db.prepare<[], { contract_id: string; record: string }>('SELECT contract_id, record FROM contracts').get()!;
      expect(() => db.prepare('UPDATE contracts SET watch_height = 1000000000').run()).toThrow(/cannot UPDATE generated column "watch_height"/);
      expect(mint(watch(5221))).toEqual([['exit', undefined]]);

      // The tip at which a round reads the contract's slice (the first after 5222), and the one before.
      const slice = Math.floor((parseInt(id.slice(0, 8), 16) * 48) / 2 ** 32);
      const at = 5223 + ((slice - (5223 % 48) + 48) % 48);
      const before = at - 1;
      db.prepare(`UPDATE contracts SET record = '{"contract":' || json_set(json_extract(record, '$.contract'), '$.expiry_height', 900000) || ',' || substr(record, 2)`).run();
      expect(mint(watch(before))).toEqual([['exit', undefined]]);
      const twice = watch(at);
      expect(mint(twice)).toEqual([['exit', 'E_STATE_CORRUPT']]);
      expect(twice.decisions[0]!.error).toMatch(/reads otherwise to the store \(watch height 0\) than to offchain \(5320\): a key written twice/);

      // The expiry moved 1,000 blocks out in the record (the index follows it: due from 6176), then 2^32 (no block height).
      db.prepare("UPDATE contracts SET record = json_set(?, '$.contract.expiry_height', 6320)").run(record);
      const between = watch(before);
      expect(mint(between)).toEqual([]);
      expect(between.summary.idle).toBe(1);
      const moved = watch(at);
      expect(mint(moved)).toEqual([['hold', 'E_STATE_CORRUPT']]);
      expect(moved.decisions[0]!.error).toMatch(/holds terms that hash to [0-9a-f]{64}: its expiry cannot be trusted/);
      db.prepare("UPDATE contracts SET record = json_set(?, '$.contract.expiry_height', 5320 + 4294967296)").run(record);
      db.close();
      const far = watch(at);
      expect(mint(far)).toEqual([['hold', 'E_STATE_CORRUPT']]);
      expect(far.decisions[0]!.error).toMatch(/holds terms that are not a contract's \(E_MALFORMED_MESSAGE: expiry_height 4294972616 is not a block height/);
    } finally {
      dir.cleanup();
    }
  });
});
