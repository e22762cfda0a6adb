/**
 * Adversarial review of the statechain operator's PostgreSQL store (issue 29), through the
 * built CLI where a party could do it and through the store where only a crash could:
 *
 *  - R2: a request relabelled with another network. The file store keeps each network's
 *    coins apart (<state-dir>/<network>/state.sqlite); the database must too, or a coin is
 *    served to a step of another network — whose rollback witness is another network's
 *    state.sqlite, empty: an old owner after a restore gets the old share to sign by relabelling.
 *  - R3: the witness keeps what a host *read*, not only what it committed (the module and
 *    docs/deployment.md say "committed or read"): a host that answered a repeated request
 *    of the newer state must refuse the store once it goes back below it.
 *  - R4: `statechain store migrate` with a key that is not the operator's seals every share
 *    under it and deletes the rows: the operator's own key then opens none (E_WRONG_KEY) and
 *    the shares live on only under a key the operator may not even keep.
 *  - R5: a migration killed after a coin's COMMIT and before its state.sqlite row is deleted:
 *    the rerun must carry on (docs/deployment.md), not refuse that coin forever and keep its
 *    row — a second live store of the coin.
 *  - R9: after `statechain store migrate`, an operator step run without --store (a host whose
 *    OFFCHAIN_STORE_URL was lost) must not quietly start a second store in the files: new
 *    coins there are unknown to every other host. Refused E_STORE_MIGRATED (exit 5), as the
 *    mint's migrated SQLite store is, writing nothing to state.sqlite.
 *  - R10: the store goes back and another host (one without this host's witness) writes the
 *    coin forward again to the version this host saw: the version alone says nothing went
 *    back, but the coin's history forked. A host that saw version v of one history must not
 *    serve version v of another.
 *  - R11 (the files' half-erased copy is gone with the files: a coin's row is deleted in one
 *    SQLite transaction, secure_delete on): what is left of that attack is a damaged row in
 *    state.sqlite — the migration refuses it (E_STATE_CORRUPT) before any coin moves, every
 *    row kept and nothing written to the database, instead of moving the others and
 *    dropping what it cannot read.
 *  - held: two different withdrawals of one coin raced through two operator hosts — one
 *    signed, the other refused, one withdrawal row (kept as a regression test).
 *  - R8: a step whose COMMIT reached the server but whose answer was lost must not say
 *    "nothing was written": the rotation (or co-signing) may be kept, and the retry answers it.
 *
 * Skips visibly where no PostgreSQL can be started.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { Client } from 'pg';
import { describePostgres } from './fixture.ts';
import { KEYS, OPERATOR_PUB, TERMS, fundingTo, ok, refused } from '../e2e/statechain-flow.ts';
import { count, operatorDatabase, pgFlow, snapshot } from './operator.ts';
import { aliceSignedTransferVia, depositVia, filesFlow, ownerFlow, transferVia } from './owner-steps.ts';
import { run } from '../e2e/cli.ts';
import { resolvePgTarget } from '../../src/lib/store/pg/connect.ts';
import { PgOperatorStore } from '../../src/lib/store/pg/operator-store.ts';
import { networkDir, records, stateDigest, tamper, versionWitness, witnessSeen } from '../state.ts';
import { fromHex } from '../../src/lib/bytes.ts';
import type { OperatorRecord } from '../../src/lib/statechain/ports.ts';
import { signBody } from '../../src/lib/statechain/seal.ts';
import { parseSecretKey } from '../../src/lib/keys/keys.ts';

import { CommitProxy } from './commit-proxy.ts';
const TO = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';

/** `message` as its owner would re-sign it after changing `change` (the owner holds its key: it can say anything). */
function resigned(message: string, keyName: string, change: Record<string, unknown>): string {
  const { owner_sig: _old, ...body } = { ...(JSON.parse(message) as Record<string, unknown>), ...change };
  return JSON.stringify({ ...body, owner_sig: signBody(String(body.type), body, parseSecretKey(KEYS[keyName]!), new Uint8Array(32)) });
}


const COIN_TABLES = ['offers', 'transfers', 'backups', 'nonces', 'withdrawals', 'shares', 'coins'].map((t) => `statechain_operator_${t}`);

/** One coin's rows in every operator table (a backup of the coin, as a restore would bring it back). */
async function coinRows(db: Client, coinId: string): Promise<Record<string, Record<string, unknown>[]>> {
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const t of COIN_TABLES) out[t] = (await db.query(`SELECT * FROM ${t} WHERE coin_id = $1`, [coinId])).rows as Record<string, unknown>[];
  return out;
}

/** Put a coin's rows back as `rows` had them: the store restored to that moment (for this coin; every row consistent with every other). */
async function restoreRows(db: Client, coinId: string, rows: Record<string, Record<string, unknown>[]>): Promise<void> {
  await db.query('BEGIN');
  for (const t of COIN_TABLES) await db.query(`DELETE FROM ${t} WHERE coin_id = $1`, [coinId]);
  for (const t of [...COIN_TABLES].reverse()) {
    for (const r of rows[t]!) {
      const cols = Object.keys(r);
      await db.query(`INSERT INTO ${t} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, cols.map((c) => r[c]));
    }
  }
  await db.query('COMMIT');
}

describePostgres('statechain operator store, review', (fx) => {
  const pgdb = operatorDatabase(fx);
  const temp = pgdb.temp;

  it('R2: a request relabelled with another network is not served a coin of this one (E_UNKNOWN_COIN, as the file store), so it cannot dodge the rollback witness', async () => {
    const dir = temp();
    const f = ownerFlow(dir, fx.server, pgdb.url);
    const d = await depositVia(f, 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
    const w1 = ok(await f.as('ALICE_KEY', ['statechain-withdraw', '--coin', d.coinId, '--to', TO, '--fee-rate', '2']));

    // This host committed a later version of the coin than the store holds now (the store went back,
    // as test/pg/statechain-restore.test.ts makes it): its witness says so, and it refuses Alice.
    const host = networkDir(join(dir, 'OPERATOR_KEY'));
    const seen = witnessSeen(host, d.coinId)!.version;
    await versionWitness(host).advance(d.coinId, seen + 2);
    const before = await snapshot(pgdb.db);
    refused(await f.as('OPERATOR_KEY', ['statechain-withdraw'], w1), 'E_STORE_ROLLED_BACK', 1);

    // Alice relabels the same request "signet" and signs it again; the operator's step takes its network from the message.
    for (const network of ['signet', 'testnet']) {
      const r = await f.as('OPERATOR_KEY', ['statechain-withdraw'], resigned(w1, 'ALICE_KEY', { network }));
      refused(r, 'E_UNKNOWN_COIN', 5);
    }
    expect(await snapshot(pgdb.db)).toEqual(before);
  }, 180_000);

  it('R3: a host that only answered a repeated request of the newer state refuses the store once it goes back below it (E_STORE_ROLLED_BACK)', async () => {
    const dir = temp();
    const f = ownerFlow(dir, fx.server, pgdb.url, { ALICE_OLD: KEYS.ALICE_KEY! });
    const d = await depositVia(f, 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
    const backup = await coinRows(pgdb.db, d.coinId);
    cpSync(join(dir, 'ALICE_KEY'), join(dir, 'ALICE_OLD'), { recursive: true });

    // Alice → Bob through host OPERATOR_KEY; host OPERATOR2 answers the last step again (the receiver's retry reached it):
    // the same bytes, nothing written — but OPERATOR2 has now read the version after the rotation.
    const t = await transferVia(f, d.coinId, OPERATOR_PUB, 'ALICE_KEY', 'BOB_KEY');
    expect(ok(await f.as('OPERATOR2', ['statechain-transfer'], t.accept))).toBe(t.done);

    // The store goes back to before the transfer; Alice, from her state of then, withdraws to herself through OPERATOR2.
    await restoreRows(pgdb.db, d.coinId, backup);
    const restored = await snapshot(pgdb.db);
    const w1 = ok(await f.as('ALICE_OLD', ['statechain-withdraw', '--coin', d.coinId, '--to', TO, '--fee-rate', '2']));
    refused(await f.as('OPERATOR2', ['statechain-withdraw'], w1), 'E_STORE_ROLLED_BACK', 1);
    expect(await snapshot(pgdb.db)).toEqual(restored);
  }, 180_000);

  /**
   * The operator's coins on files, under `dir`/OPERATOR_KEY: `n` deposits — setup for the migration
   * under test, so every party of them in process (./owner-steps.ts filesFlow).
   */
  async function operatorOnFiles(dir: string, n: number): Promise<{ coins: string[]; opDir: string }> {
    const files = filesFlow(dir, { operator: 'in-process' });
    const coins: string[] = [];
    for (let i = 0; i < n; i++) coins.push((await depositVia(files, i % 2 ? 'BOB_KEY' : 'ALICE_KEY', (address) => fundingTo(address, 100_000n + BigInt(i)))).coinId);
    return { coins, opDir: networkDir(join(dir, 'OPERATOR_KEY')) };
  }
  /** The coins whose record the operator's state.sqlite holds (`opDir`: its network directory). */
  const heldIn = (opDir: string) => records(opDir, 'statechain-operator').map((r) => r.id);
  /** One coin's record, its share opened with the operator's key. */
  const recordIn = (opDir: string, coin: string) => records<OperatorRecord>(opDir, 'statechain-operator', fromHex(KEYS.OPERATOR_KEY!, 'key', 32)).find((r) => r.id === coin)!.record;
  const migrate = (dir: string, keyEnv: string) =>
    run(['statechain', 'store', 'migrate', '--key-env', keyEnv, '--state-dir', join(dir, 'OPERATOR_KEY'), '--to', pgdb.url], { env: { ...KEYS, OFFCHAIN_STORE_PASSWORD: fx.server.password } });

  it('R4: store migrate with a key that is not the operator\'s is refused (E_KEY_MISMATCH, not "altered" — its seal opens none of the shares), every row kept, nothing written', async () => {
    const dir = temp();
    const { coins, opDir } = await operatorOnFiles(dir, 1);
    const before = await snapshot(pgdb.db);
    const r = migrate(dir, 'BOB_KEY');
    refused(r, 'E_KEY_MISMATCH', 4);
    expect(heldIn(opDir)).toEqual(coins);
    expect(await snapshot(pgdb.db)).toEqual(before);
    // With the operator's own key it moves, and the operator serves the coin from the store.
    expect(JSON.parse(ok(migrate(dir, 'OPERATOR_KEY'))).coins).toEqual(coins);
    const f = ownerFlow(dir, fx.server, pgdb.url);
    const w1 = ok(await f.as('ALICE_KEY', ['statechain-withdraw', '--coin', coins[0]!, '--to', TO, '--fee-rate', '2']));
    expect(JSON.parse(ok(await f.as('OPERATOR_KEY', ['statechain-withdraw'], w1))).type).toBe('statechain/withdraw-cosigned');
  }, 180_000);

  it('R5: a migration killed between a coin\'s COMMIT and the deletion of its state.sqlite row: the rerun deletes the row and carries on', async () => {
    const dir = temp();
    const { coins, opDir } = await operatorOnFiles(dir, 2);
    const [first] = [...coins].sort();
    // What the killed run left: the first coin committed to the store (import is the migration's own step), its row not yet deleted.
    const record = recordIn(opDir, first!);
    const store = new PgOperatorStore(resolvePgTarget({ store: pgdb.url }, { OFFCHAIN_STORE_PASSWORD: fx.server.password })!, {
      network: 'regtest', operatorSecret: fromHex(KEYS.OPERATOR_KEY!, 'key', 32), witness: versionWitness(opDir),
    });
    await store.import(record);
    await store.close();
    const mid = await snapshot(pgdb.db);

    const r = migrate(dir, 'OPERATOR_KEY');
    expect(r.status, r.stderr).toBe(0);
    expect([...JSON.parse(r.stdout).coins].sort()).toEqual([...coins].sort());
    expect(heldIn(opDir)).toEqual([]);
    for (const c of coins) expect(await count(pgdb.db, 'coins', 'coin_id = $1 AND version = 1', [c])).toBe(1);
    // The first coin's rows are those the killed run committed: nothing written twice.
    const after = await snapshot(pgdb.db);
    for (const t of Object.keys(mid)) {
      const mine = (rows: unknown[]) => (rows as { coin_id: string }[]).filter((x) => x.coin_id === first);
      expect(mine(after[t]!), t).toEqual(mine(mid[t]!));
    }
  }, 180_000);

  it('R9: after store migrate, an operator step on state.sqlite (no --store) is refused E_STORE_MIGRATED, nothing written there', async () => {
    const dir = temp();
    const { coins, opDir } = await operatorOnFiles(dir, 1);
    expect(JSON.parse(ok(migrate(dir, 'OPERATOR_KEY'))).coins).toEqual(coins);
    const files = filesFlow(dir);
    const request = ok(await files.as('CAROL_KEY', ['statechain-deposit', '--start', '--operator-key', OPERATOR_PUB]));
    const before = stateDigest(opDir);
    const r = await files.as('OPERATOR_KEY', ['statechain-deposit', ...TERMS], request);
    refused(r, 'E_STORE_MIGRATED', 5);
    expect(r.stderr).toContain(pgdb.url);
    expect(heldIn(opDir)).toEqual([]);
    expect(stateDigest(opDir), 'nothing written to state.sqlite').toBe(before);
    // A migrated coin's step on the files: the same refusal (not "unknown coin"), and with --store it is served.
    const w1 = ok(await files.as('ALICE_KEY', ['statechain-withdraw', '--coin', coins[0]!, '--to', TO, '--fee-rate', '2']));
    refused(await files.as('OPERATOR_KEY', ['statechain-withdraw'], w1), 'E_STORE_MIGRATED', 5);
    expect(stateDigest(opDir)).toBe(before);
    expect(JSON.parse(ok(pgFlow(dir, fx.server, pgdb.url).as('OPERATOR_KEY', ['statechain-withdraw'], w1))).type).toBe('statechain/withdraw-cosigned');
    // Migrating again (to the same store) is still a no-op, not a refusal; to another database it is refused.
    expect(JSON.parse(ok(migrate(dir, 'OPERATOR_KEY'))).coins).toEqual([]);
    const other = await fx.server.createDatabase('operator_other');
    const r2 = run(['statechain', 'store', 'migrate', '--key-env', 'OPERATOR_KEY', '--state-dir', join(dir, 'OPERATOR_KEY'), '--to', other], { env: { ...KEYS, OFFCHAIN_STORE_PASSWORD: fx.server.password } });
    refused(r2, 'E_STORE_MIGRATED', 5);
  }, 180_000);

  it('R8: the answer to a COMMIT lost: the step is refused E_STORE_UNREACHABLE without claiming nothing was written, and the retry answers what was kept', async () => {
    const { dir, f, sign, version } = await aliceSignedTransferVia(fx, pgdb);
    const v0 = await version();
    const proxy = new CommitProxy(fx.server.port);
    await proxy.start();
    try {
      const viaProxy = pgFlow(dir, fx.server, pgdb.url.replace(`:${fx.server.port}/`, `:${proxy.port}/`));
      proxy.armed = 'after';
      const r = await viaProxy.asAsync('OPERATOR_KEY', ['statechain-transfer'], sign);
      expect(proxy.fired).toBe(1);
      refused(r, 'E_STORE_UNREACHABLE', 1);
      expect(await version()).toBe(v0 + 1); // the server committed it
      expect(r.stderr).not.toMatch(/nothing was written/);
      expect(r.stderr).toMatch(/COMMIT/);
      // The retry (any host) answers the co-signing that was kept; nothing new is written.
      const before = await snapshot(pgdb.db);
      const again = JSON.parse(ok(await f.as('OPERATOR2', ['statechain-transfer'], sign))) as { type: string };
      expect(again.type).toBe('statechain/transfer-cosigned');
      expect(await snapshot(pgdb.db)).toEqual(before);
    } finally {
      await proxy.stop();
    }
  }, 180_000);

  it('R10: the store went back and a host without this host\'s witness wrote the coin forward to the version this host saw: this host refuses the forked coin', async () => {
    const dir = temp();
    const f = ownerFlow(dir, fx.server, pgdb.url, { ALICE_OLD: KEYS.ALICE_KEY! });
    const d = await depositVia(f, 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
    const backup = await coinRows(pgdb.db, d.coinId);
    cpSync(join(dir, 'ALICE_KEY'), join(dir, 'ALICE_OLD'), { recursive: true });

    // Host OPERATOR_KEY co-signs Alice's transfer to Bob (version v).
    const toBob = ok(await f.as('BOB_KEY', ['statechain-transfer', '--start', '--coin', d.coinId, '--operator-key', OPERATOR_PUB]));
    ok(await f.as('OPERATOR_KEY', ['statechain-transfer'], ok(await f.as('ALICE_KEY', ['statechain-transfer'], toBob))));

    // The store goes back; a new host (OPERATOR_NEW: no witness) co-signs Alice's transfer to Carol instead — version v again, another history.
    await restoreRows(pgdb.db, d.coinId, backup);
    const toCarol = ok(await f.as('CAROL_KEY', ['statechain-transfer', '--start', '--coin', d.coinId, '--operator-key', OPERATOR_PUB]));
    const carolSign = ok(await f.as('ALICE_OLD', ['statechain-transfer'], toCarol));
    const carolCosigned = ok(await f.as('OPERATOR_NEW', ['statechain-transfer'], carolSign));
    const pkg = ok(await f.as('ALICE_OLD', ['statechain-transfer'], carolCosigned));
    const accept = ok(await f.as('CAROL_KEY', ['statechain-transfer'], pkg));

    // Carol's acceptance reaches OPERATOR_KEY, which saw version v of the other history: refused, nothing written.
    const forked = await snapshot(pgdb.db);
    refused(await f.as('OPERATOR_KEY', ['statechain-transfer'], accept), 'E_STORE_ROLLED_BACK', 1);
    expect(await snapshot(pgdb.db)).toEqual(forked);
  }, 180_000);

  it('held: two different withdrawals of one coin raced on two hosts: one is signed, the other refused E_COIN_WITHDRAWN, one withdrawal kept', async () => {
    const dir = temp();
    const f = ownerFlow(dir, fx.server, pgdb.url, { ALICE_TWIN: KEYS.ALICE_KEY! });
    const d = await depositVia(f, 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
    cpSync(join(dir, 'ALICE_KEY'), join(dir, 'ALICE_TWIN'), { recursive: true });
    const a = ok(await f.as('ALICE_KEY', ['statechain-withdraw', '--coin', d.coinId, '--to', TO, '--fee-rate', '2']));
    const b = ok(await f.as('ALICE_TWIN', ['statechain-withdraw', '--coin', d.coinId, '--to', TO, '--fee-rate', '3']));
    expect(JSON.parse(a).tx).not.toBe(JSON.parse(b).tx);
    const runs = await Promise.all([f.as('OPERATOR_A', ['statechain-withdraw'], a), f.as('OPERATOR_B', ['statechain-withdraw'], b)]);
    expect(runs.map((r) => r.status).sort()).toEqual([0, 4]);
    const loser = runs.find((r) => r.status !== 0)!;
    refused(loser, 'E_COIN_WITHDRAWN', 4);
    const winner = runs.find((r) => r.status === 0)!;
    expect((await pgdb.db.query('SELECT txid FROM statechain_operator_withdrawals WHERE coin_id = $1', [d.coinId])).rows).toEqual([{ txid: JSON.parse(winner.stdout).txid }]);
  }, 180_000);

  it('R11: a damaged coin row in state.sqlite (not JSON): the migration refuses it (E_STATE_CORRUPT, exit 3) before any coin moves, every row kept, nothing written to the database', async () => {
    const dir = temp();
    const { coins, opDir } = await operatorOnFiles(dir, 2);
    const stray = 'ab'.repeat(16);
    tamper(opDir, "INSERT INTO records (kind, id, body) VALUES ('statechain-operator', ?, ?)", stray, '\u0000'.repeat(300));
    const before = { rows: await snapshot(pgdb.db), state: stateDigest(opDir) };
    const r = migrate(dir, 'OPERATOR_KEY');
    refused(r, 'E_STATE_CORRUPT', 3);
    expect(r.stderr).toContain(stray);
    expect({ rows: await snapshot(pgdb.db), state: stateDigest(opDir) }, 'nothing moved, nothing marked').toEqual(before);
    // The damaged row taken out by its operator: the others move.
    tamper(opDir, "DELETE FROM records WHERE kind = 'statechain-operator' AND id = ?", stray);
    expect([...JSON.parse(ok(migrate(dir, 'OPERATOR_KEY'))).coins].sort()).toEqual([...coins].sort());
    expect(heldIn(opDir)).toEqual([]);
  }, 180_000);

  it("R12: tables another role created first (PostgreSQL 14's defaults) are refused, as the mint's are: E_STORE_TABLE_OWNER, exit 4, one line, nothing written", async () => {
    const { default: pgm } = await import('pg');
    const login = async (user: string, database: string) => {
      const c = new pgm.Client({ host: fx.server.host, port: fx.server.port, user, password: fx.server.password, database });
      c.on('error', () => {}); // the server stops at the end of the file
      await c.connect();
      return c;
    };
    await fx.server.createDatabase('op_intruded');
    const admin = await login(fx.server.user, 'op_intruded');
    await admin.query('GRANT CREATE ON SCHEMA public TO PUBLIC'); // PostgreSQL 14 and older
    await admin.query(`CREATE ROLE op_intruder LOGIN PASSWORD ${admin.escapeLiteral(fx.server.password)}`);
    await admin.query(`CREATE ROLE op_victim LOGIN PASSWORD ${admin.escapeLiteral(fx.server.password)}`);
    const intruder = await login('op_intruder', 'op_intruded');
    // The intruder creates the operator's whole schema first (the operator's own code run as
    // it), open to all: the operator would keep its coins in tables whose owner reads, rewinds
    // and alters them, and whose version trigger it can replace.
    const asIntruder = new PgOperatorStore(resolvePgTarget({ store: `postgres://op_intruder@${fx.server.host}:${fx.server.port}/op_intruded` }, { OFFCHAIN_STORE_PASSWORD: fx.server.password })!, {
      network: 'regtest', operatorSecret: fromHex(KEYS.OPERATOR_KEY!, 'key', 32), witness: versionWitness(join(temp(), 'witness')),
    });
    await asIntruder.ready();
    await asIntruder.close();
    await intruder.query('GRANT ALL ON ALL TABLES IN SCHEMA public TO PUBLIC');
    const tables = async () => (await admin.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.t);
    const before = await tables();
    const dir = temp();
    const url = `postgres://op_victim@${fx.server.host}:${fx.server.port}/op_intruded`;
    const f = pgFlow(dir, fx.server, url);
    const request = ok(f.as('ALICE_KEY', ['statechain-deposit', '--start', '--operator-key', OPERATOR_PUB]));
    const r = f.as('OPERATOR_KEY', ['statechain-deposit', ...TERMS], request);
    expect(r.status, r.stderr).toBe(4);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^offchain: error E_STORE_TABLE_OWNER: statechain_operator_\w+ in the store postgres:\/\/op_victim@.* is owned by the role op_intruder, not by op_victim/);
    expect(await tables()).toEqual(before);
    // Its trigger function alone, instead (its owner rewrites the version rule): the same.
    await intruder.query(`DROP TABLE ${before.join(', ')} CASCADE`);
    const again = f.as('OPERATOR_KEY', ['statechain-deposit', ...TERMS], request);
    expect(again.status, again.stderr).toBe(4);
    expect(again.stderr).toMatch(/^offchain: error E_STORE_TABLE_OWNER: statechain_operator_coin_rules\(\) in the store .* is owned by the role op_intruder/);
    expect(await tables()).toEqual([]);
    await intruder.end();
    await admin.end();
  }, 60_000);
}, { prefix: 'offchain-pg-opreview-' });
