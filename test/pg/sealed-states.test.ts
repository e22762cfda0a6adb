/**
 * Issue 38, Found 4, for stores written before: a mint's fully signed states stored in the
 * clear (as an older offchain left them) are sealed by the first mint command that opens
 * the store with the key — PostgreSQL (schema 1 → 2) and SQLite — and `credit store
 * migrate` seals them on their way from an older SQLite store (refusing without the key,
 * E_STATE_UNSEALED, or with another mint's, E_WRONG_KEY, nothing touched). Through the
 * built CLI; the state the mint exits with is the same bytes before and after, verified
 * independently.
 *
 * The "older" store is made here from a current one: each record's sealed state opened
 * (with the product's StateSeal and the fixture mint key) and written back in the clear,
 * and the marks of the upgrade removed — what an older toolkit wrote, field for field.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { hex } from '@scure/base';
import type BetterSqlite3 from 'better-sqlite3';
import { expect, it } from 'vitest';
import { StateSeal } from '../../src/lib/store/state-seal.ts';
import { pipeline, run } from '../e2e/cli.ts';
import { CAPACITY, MINT_KEY, PAY_FLAGS, applyReceipt, mintStage, openContracts, payRequest, type Msg, type User } from '../e2e/stream-credit.ts';
import { fixture } from '../e2e/fixtures.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { describePostgres } from './fixture.ts';
import { pgMint, userOpenRequest, userOpened, userPays, userTakesReceipt } from './mint-cluster.ts';
import { dba } from './rewind.ts';

const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
const SEAL = StateSeal.fromMintKey(hex.decode(MINT_KEY));
const OTHER_KEY = fixture('keys/user.key');

/** A record as an older offchain stored it: its states in the clear. */
const plain = (text: string): string => JSON.stringify(SEAL.open(JSON.parse(text) as { contract_id: string }, 'test'));
const hasPlain = (text: string) => /"hex":"/.test(text);
const hasSealed = (text: string) => /"hex_sealed":"[0-9a-f]+"/.test(text);

function exitState(mintDir: string, env: Record<string, string>, user: User): string {
  const r = run(mintStage(mintDir, env, 'exit-credit', '--contract', user.contractId, '--fee-rate', '2', '--dry-run', '--tip-height', '1001').args, { env: { ...env, MINT_KEY } });
  expect(r.status, r.stderr).toBe(0);
  const state = ((JSON.parse(r.stdout) as Msg).state_tx as { hex: string }).hex;
  verifyKeyPathSpend(state, [{ amount: CAPACITY, script: user.script, txid: user.funding.txid, vout: user.funding.vout }], user.outputKey);
  return state;
}

describePostgres('signed states stored in the clear before are sealed (issue 38, Found 4)', (fx) => {
  it('PostgreSQL: a schema-1 store with plain states; credit list reads it without the key; the first mint command with the key seals every one, once, and marks schema 2', async () => {
    const { env, mintDir, offerPath } = await pgMint(fx.server, 'older_pg', fx.root);
    const db = await dba(fx.server, env['OFFCHAIN_STORE_URL']!);
    try {
      const { user, line } = await userOpenRequest(fx.root, offerPath, 'older-pg', 0);
      const accept = (await pipeline([mintStage(mintDir, env, 'open-credit', '--role', 'mint', '--tip-height', '1000')], line))[0]!;
      expect(accept.status, accept.stderr).toBe(0);
      await userOpened(user, accept.stdout);
      const paid = (await pipeline([mintStage(mintDir, env, 'sign-update', '--role', 'mint', ...PAY_FLAGS)], (await userPays(user, 4000)).line))[0]!;
      expect(paid.status, paid.stderr).toBe(0);
      await userTakesReceipt(user, paid.stdout);
      const state = exitState(mintDir, env, user);
      // Made older: the state in the clear, schema 1.
      const row = (await db.query<{ record: string }>('SELECT record FROM contracts WHERE contract_id = $1', [user.contractId])).rows[0]!.record;
      expect(hasSealed(row) && !hasPlain(row)).toBe(true);
      await db.query('UPDATE contracts SET record = $2 WHERE contract_id = $1', [user.contractId, plain(row)]);
      await db.query('UPDATE schema_version SET version = 1');
      expect((await db.query<{ record: string }>('SELECT record FROM contracts')).rows[0]!.record).toContain(state);
      // A view (no key) reads it as it is and writes nothing.
      const listed = run(['credit', 'list', '--tip-height', '1001', '--state-dir', join(fx.root, 'viewer')], { env });
      expect(listed.status, listed.stderr).toBe(0);
      expect((JSON.parse(listed.stdout) as Msg).contracts).toEqual([expect.objectContaining({ contract_id: user.contractId, cumulative_sat: 4000 })]);
      expect((await db.query('SELECT version FROM schema_version')).rows).toEqual([{ version: 1 }]);
      // The first mint command with the key: sealed, schema 2; the exit is the same state.
      expect(exitState(mintDir, env, user)).toBe(state);
      const after = (await db.query<{ record: string }>('SELECT record FROM contracts')).rows.map((r) => r.record);
      expect(after.some(hasPlain)).toBe(false);
      expect(after.every(hasSealed)).toBe(true);
      expect(after.join('\n')).not.toContain(state);
      expect((await db.query('SELECT version FROM schema_version')).rows).toEqual([{ version: 2 }]);
    } finally {
      await db.end();
    }
  }, 180_000);

  it('SQLite, and credit store migrate from an older SQLite mint: refused without the key or with another, nothing touched; with the key the target holds only sealed states and the mint exits with the same state from it', async () => {
    const parties = await openContracts(join(fx.root, 'older-sqlite'), 1, {}, 'older-sqlite');
    const user = parties.users[0]!;
    const paid = (await pipeline([mintStage(parties.mintDir, {}, 'sign-update', '--role', 'mint', ...PAY_FLAGS)], (await payRequest(user, 6000, {})).line))[0]!;
    expect(paid.status, paid.stderr).toBe(0);
    await applyReceipt(user, paid.stdout, {});
    const state = exitState(parties.mintDir, {}, user);
    const file = join(parties.mintDir, 'regtest', 'credit-mint', 'mint.sqlite');
    const makeOlder = () => {
      const w = new Database(file);
      for (const r of w.prepare('SELECT contract_id, record FROM contracts').all() as { contract_id: string; record: string }[]) {
        w.prepare('UPDATE contracts SET record = ? WHERE contract_id = ?').run(plain(r.record), r.contract_id);
      }
      w.prepare("DELETE FROM meta WHERE key = 'states_sealed'").run();
      w.close();
    };
    const records = () => {
      const r = new Database(file, { readonly: true });
      const out = (r.prepare('SELECT record FROM contracts').all() as { record: string }[]).map((x) => x.record);
      r.close();
      return out;
    };
    // SQLite: sealed by the first mint command with the key.
    makeOlder();
    expect(records().join('\n')).toContain(state);
    expect(exitState(parties.mintDir, {}, user)).toBe(state);
    expect(records().some(hasPlain)).toBe(false);
    expect(records().every(hasSealed)).toBe(true);

    // credit store migrate from an older source.
    makeOlder();
    const digest = () => createHash('sha256').update(readFileSync(file)).digest('hex');
    const url = await fx.server.createDatabase('older_target');
    const pgEnv = { OFFCHAIN_STORE_PASSWORD: fx.server.password };
    const migrate = (...key: string[]) => run(['credit', 'store', 'migrate', '--state-dir', parties.mintDir, '--to', url, ...key], { env: { ...pgEnv, MINT_KEY, OTHER_KEY } });
    const before = digest();
    for (const [key, code, exit] of [[[], 'E_STATE_UNSEALED', 2], [['--key-env', 'OTHER_KEY'], 'E_WRONG_KEY', 4]] as const) {
      const refused = migrate(...key);
      expect(refused.status, refused.stderr).toBe(exit);
      expect(refused.stdout).toBe('');
      expect(/^offchain: error (E_[A-Z0-9_]+): /.exec(refused.stderr)?.[1]).toBe(code);
      expect(digest()).toBe(before);
    }
    const db = await dba(fx.server, url);
    try {
      expect((await db.query("SELECT to_regclass('contracts') AS t")).rows).toEqual([{ t: null }]);
      const moved = migrate('--key-env', 'MINT_KEY');
      expect(moved.status, moved.stderr).toBe(0);
      expect((JSON.parse(moved.stdout) as Msg).contracts).toBe(1);
      const target = (await db.query<{ record: string }>('SELECT record FROM contracts')).rows.map((r) => r.record);
      expect(target).toHaveLength(1);
      expect(target.some(hasPlain)).toBe(false);
      expect(target.every(hasSealed)).toBe(true);
      expect(target.join('\n')).not.toContain(state);
      // Served from PostgreSQL, the mint exits with the same state.
      expect(exitState(join(fx.root, 'older-sqlite-pg-host'), { OFFCHAIN_STORE_URL: url, ...pgEnv }, user)).toBe(state);
    } finally {
      await db.end();
    }
  }, 240_000);
}, { prefix: 'offchain-pg-sealed-' });
