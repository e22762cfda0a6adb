/**
 * Issue 38, Found 4, for stores written before: a mint's fully signed states stored in the
 * clear (as an older offchain left them), or sealed by the scheme before seal.ts (HKDF/AES-GCM,
 * schema 2), are sealed again in seal.ts's form by the first mint process that opens the store
 * with the key — PostgreSQL (schema 1 or 2 → 3; src/lib/store/pg/mint-open.ts) and SQLite (an
 * imported older store: meta `mint_states_v1`) — and `credit store migrate` seals them on their
 * way from an older SQLite store (refusing without the key, E_STATE_UNSEALED, or with another
 * mint's, E_WRONG_KEY, nothing touched). Through the built CLI; the state the mint exits with is
 * the same bytes before and after, verified independently; a view without the key (credit list)
 * reads an older store without writing to it.
 *
 * The "older" store is made here from a current one: each record's sealed state opened (with
 * the product's seal and the fixture mint key: the input, not the expected value) and written
 * back in the clear, or sealed the way the scheme before did (written here from its
 * description in src/lib/store/mint-records.ts: HKDF-SHA256 of the mint key, salt
 * "offchain/credit/v1/state-seal", info "enc"; AES-256-GCM, iv ‖ ciphertext ‖ tag, the label as
 * associated data), and the marks of the upgrade removed — what an older toolkit wrote.
 */
import { createCipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hex } from '@scure/base';
import { expect, it } from 'vitest';
import { Sealer, openFields } from '../../src/lib/store/seal.ts';
import { MINT_SECRETS } from '../../src/lib/store/mint-records.ts';
import { pipeline, run } from '../e2e/cli.ts';
import { CAPACITY, MINT_KEY, PAY_FLAGS, applyReceipt, mintStage, openContracts, payRequest, type Msg, type User } from '../e2e/stream-credit.ts';
import { fixture } from '../e2e/fixtures.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { dbFile, networkDir, rawDb } from '../state.ts';
import { describePostgres } from './fixture.ts';
import { Cluster, pgMint, userOpenRequest, userOpened, userPays, userTakesReceipt } from './mint-cluster.ts';
import { dba } from './rewind.ts';

const SEALER = Sealer.fromSecret(hex.decode(MINT_KEY));
const OTHER_KEY = fixture('keys/user.key');

/** A stored record's text with its states opened: as an older offchain stored it, in the clear. */
const plain = (text: string): string => {
  const r = JSON.parse(text) as { contract_id: string };
  return JSON.stringify(openFields(r, r.contract_id, MINT_SECRETS, SEALER, 'test'));
};
/** A stored record's text with its states sealed by the scheme before seal.ts (schema 2). */
const olderSealed = (text: string): string => {
  const record = JSON.parse(plain(text)) as Record<string, any>;
  const key = Buffer.from(hkdfSync('sha256', hex.decode(MINT_KEY), Buffer.from('offchain/credit/v1/state-seal'), Buffer.from('enc'), 32));
  for (const path of [['latest'], ['gateway', 'latest']]) {
    const at = path.reduce<any>((o, k) => (o && typeof o === 'object' ? o[k] : undefined), record);
    if (!at || typeof at.hex !== 'string') continue;
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(Buffer.from(`offchain/credit/v1/sealed-state\n${record.contract_id}\n${path.join('.')}\n${String(at.state)}\n${String(at.txid)}`));
    const sealed = Buffer.concat([iv, c.update(Buffer.from(at.hex, 'hex')), c.final(), c.getAuthTag()]).toString('hex');
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(at)) out[k === 'hex' ? 'hex_sealed' : k] = k === 'hex' ? sealed : at[k];
    for (const k of Object.keys(at)) delete at[k];
    Object.assign(at, out);
  }
  return JSON.stringify(record);
};
const hasPlain = (text: string) => /"hex":"/.test(text);
const hasSealed = (text: string) => /"hex_sealed":"[0-9a-f]+"/.test(text);
/** Sealed in seal.ts's form: it opens under the mint's key to `state`. */
const opensTo = (text: string, state: string) => JSON.stringify(JSON.parse(plain(text))).includes(state);

function exitState(mintDir: string, env: Record<string, string>, user: User): string {
  const r = run(mintStage(mintDir, env, 'exit-credit', '--contract', user.contractId, '--fee-rate', '2', '--dry-run', '--tip-height', '1001').args, { env: { ...env, MINT_KEY } });
  expect(r.status, r.stderr).toBe(0);
  const state = ((JSON.parse(r.stdout) as Msg).state_tx as { hex: string }).hex;
  verifyKeyPathSpend(state, [{ amount: CAPACITY, script: user.script, txid: user.funding.txid, vout: user.funding.vout }], user.outputKey);
  return state;
}

describePostgres('signed states stored in the clear before are sealed (issue 38, Found 4)', (fx) => {
  it('PostgreSQL: a schema-1 store with plain states, and a schema-2 store sealed the older way; credit list reads each without the key, writing nothing; the first mint process with the key seals every one in seal.ts\'s form, once, and marks schema 3', async () => {
    const { env, mintDir, offerPath } = await pgMint(fx.server, 'older_pg', fx.root);
    const db = await dba(fx.server, env['OFFCHAIN_STORE_URL']!);
    const stream = new Cluster(1, mintDir, env);
    try {
      const { user, line } = await userOpenRequest(fx.root, offerPath, 'older-pg', 0);
      const accept = await stream.ask(0, line);
      await userOpened(user, accept);
      const paid = await stream.ask(0, (await userPays(user, 4000)).line);
      expect((JSON.parse(paid) as Msg).type, paid).toBe('credit/receipt');
      await userTakesReceipt(user, paid);
      expect((await stream.end()).map((e) => e.status)).toEqual([0]);
      const state = exitState(mintDir, env, user);
      const row = (await db.query<{ record: string }>('SELECT record FROM contracts WHERE contract_id = $1', [user.contractId])).rows[0]!.record;
      expect(hasSealed(row) && !hasPlain(row)).toBe(true);
      expect((await db.query('SELECT version FROM schema_version')).rows).toEqual([{ version: 3 }]);
      for (const [version, older] of [[1, plain(row)], [2, olderSealed(row)]] as const) {
        // Made older.
        await db.query('UPDATE contracts SET record = $2 WHERE contract_id = $1', [user.contractId, older]);
        await db.query('UPDATE schema_version SET version = $1', [version]);
        expect(hasPlain(older)).toBe(version === 1);
        // A view (no key) reads it as it is and writes nothing.
        const listed = run(['credit', 'list', '--tip-height', '1001', '--state-dir', join(fx.root, 'viewer')], { env });
        expect(listed.status, listed.stderr).toBe(0);
        expect((JSON.parse(listed.stdout) as Msg).contracts).toEqual([expect.objectContaining({ contract_id: user.contractId, cumulative_sat: 4000 })]);
        expect((await db.query('SELECT version FROM schema_version')).rows).toEqual([{ version }]);
        expect((await db.query<{ record: string }>('SELECT record FROM contracts')).rows[0]!.record).toBe(older);
        // The first mint process with the key (a one-shot exit that uses no nonce): sealed in this form, schema 3; the exit is the same state.
        expect(exitState(mintDir, env, user)).toBe(state);
        const after = (await db.query<{ record: string }>('SELECT record FROM contracts')).rows.map((r) => r.record);
        expect(after.some(hasPlain)).toBe(false);
        expect(after.every(hasSealed)).toBe(true);
        expect(after.join('\n')).not.toContain(state);
        expect(after[0]).not.toBe(older);
        expect(opensTo(after[0]!, state), 'sealed under seal.ts with the mint key').toBe(true);
        expect((await db.query('SELECT version FROM schema_version')).rows).toEqual([{ version: 3 }]);
        // Once: the next process leaves the record as it is.
        exitState(mintDir, env, user);
        expect((await db.query<{ record: string }>('SELECT record FROM contracts')).rows[0]!.record).toBe(after[0]);
      }
    } finally {
      await db.end();
      if (stream.procs[0]!.alive) await stream.procs[0]!.kill();
    }
  }, 180_000);

  it('SQLite (state.sqlite imported from an older mint), and credit store migrate from it: refused without the key or with another, nothing touched; with the key the target holds only sealed states and the mint exits with the same state from it', async () => {
    const parties = await openContracts(join(fx.root, 'older-sqlite'), 1, {}, 'older-sqlite');
    const user = parties.users[0]!;
    const paid = (await pipeline([mintStage(parties.mintDir, {}, 'sign-update', '--role', 'mint', ...PAY_FLAGS)], (await payRequest(user, 6000, {})).line))[0]!;
    expect(paid.status, paid.stderr).toBe(0);
    await applyReceipt(user, paid.stdout, {});
    const state = exitState(parties.mintDir, {}, user);
    const dir = networkDir(parties.mintDir);
    /** What migrate-v0 leaves of an older mint's files: its records as they were (here in the clear), marked to be sealed again. */
    const makeOlder = (older: (text: string) => string) => {
      const w = rawDb(dir);
      for (const r of w.prepare('SELECT contract_id, record FROM contracts').all() as { contract_id: string; record: string }[]) {
        w.prepare('UPDATE contracts SET record = ? WHERE contract_id = ?').run(older(r.record), r.contract_id);
      }
      w.prepare("INSERT INTO meta (key, value) VALUES ('mint_states_v1', '1') ON CONFLICT (key) DO UPDATE SET value = excluded.value").run();
      w.close();
    };
    const records = () => {
      const r = rawDb(dir);
      const out = (r.prepare('SELECT record FROM contracts').all() as { record: string }[]).map((x) => x.record);
      r.close();
      return out;
    };
    // SQLite: sealed by the first mint command with the key, in either older form.
    for (const older of [plain, olderSealed]) {
      makeOlder(older);
      expect(records().some(hasPlain)).toBe(older === plain);
      expect(exitState(parties.mintDir, {}, user)).toBe(state);
      expect(records().some(hasPlain)).toBe(false);
      expect(records().every(hasSealed)).toBe(true);
      expect(records().every((r) => opensTo(r, state))).toBe(true);
    }

    // credit store migrate from an older source (in the clear).
    makeOlder(plain);
    const digest = () => createHash('sha256').update(readFileSync(dbFile(dir))).digest('hex');
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
      expect(opensTo(target[0]!, state)).toBe(true);
      // Served from PostgreSQL, the mint exits with the same state.
      expect(exitState(join(fx.root, 'older-sqlite-pg-host'), { OFFCHAIN_STORE_URL: url, ...pgEnv }, user)).toBe(state);
    } finally {
      await db.end();
    }
  }, 240_000);
}, { prefix: 'offchain-pg-sealed-' });
