/**
 * Finished-transfer receipts (commit 4f4be64d) on the PostgreSQL operator store, as an adversarial
 * review: an older record (whole statements: the fixtures' operator as an older offchain kept it,
 * test/lib/statechain/older/) imported as
 * `statechain store migrate` does, its repeated transfer-accept answered with the fixture's
 * transfer-done and nothing written (no row, no version), a rerun of the import 'already'; the
 * `record` column edited by whoever can write the database (a receipt's count, a planted
 * statement): refused by the host's witness when it saw the row, else E_STATE_CORRUPT — in
 * both cases nothing written and nothing signed; the coin's next real step (its withdrawal)
 * writes version 2 with the statement compacted to a receipt, which answers the same.
 * Library level through PgOperatorStore; skips visibly without PostgreSQL.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from '../helpers.ts';
import { describePostgres } from './fixture.ts';
import { operatorDatabase, snapshot } from './operator.ts';
import { KEYS } from '../e2e/statechain-flow.ts';
import { bytesOf, hexOf } from '../independent/tx.ts';
import { bip340Verify, taggedHash } from '../independent/secp256k1.ts';
import { resolvePgTarget } from '../../src/lib/store/pg/connect.ts';
import { PgOperatorStore } from '../../src/lib/store/pg/operator-store.ts';
import { SqliteNonces } from '../../src/lib/store/sqlite/nonces.ts';
import { StateDb } from '../../src/lib/store/sqlite/database.ts';
import { Sealer } from '../../src/lib/store/seal.ts';
import { record as stateRecord, versionWitness } from '../state.ts';
import { stringifyLine, stringifyMessage } from '../../src/lib/json.ts';
import { keyPair } from '../../src/lib/keys/keys.ts';
import { deterministicRandom } from '../../src/lib/random.ts';
import { OffchainError } from '../../src/lib/errors.ts';
import * as op from '../../src/lib/statechain/operator.ts';
import * as own from '../../src/lib/statechain/owner.ts';
import type { OperatorRecord } from '../../src/lib/statechain/ports.ts';

type Msg = Record<string, any>;
const COIN = '3a95fbf6f491e385593b652bb35c5934';
const fixture = (name: string) => readFileSync(join(ROOT, 'fixtures', 'statechain', name), 'utf8');
const legacy = () => JSON.parse(readFileSync(join(ROOT, 'test', 'lib', 'statechain', 'older', `op-${COIN}.json`), 'utf8')) as OperatorRecord;
const accept = () => JSON.parse(fixture('transfer-accept.json')) as Msg;
const doneFixture = () => JSON.parse(fixture('transfer-done.json')) as Msg;
const TO = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(9)]);

describePostgres('statechain operator receipts on PostgreSQL: an older record imported, replayed, edited, compacted', (fx) => {
  const pgdb = operatorDatabase(fx);
  const operatorKey = () => keyPair(bytesOf(KEYS.OPERATOR_KEY!));
  const ctx = (): op.OperatorContext => ({ operator: operatorKey(), random: deterministicRandom('pg-rcpt-operator'), chain: { kind: 'offline' } as never, network: 'regtest' });
  const store = (witnessDir: string) =>
    new PgOperatorStore(resolvePgTarget({ store: pgdb.url }, { OFFCHAIN_STORE_PASSWORD: fx.server.password })!, {
      network: 'regtest', operatorSecret: bytesOf(KEYS.OPERATOR_KEY!), witness: versionWitness(witnessDir),
    });
  const record = async () => JSON.parse((await pgdb.db.query<{ record: string }>('SELECT record FROM statechain_operator_coins WHERE coin_id = $1', [COIN])).rows[0]!.record) as Msg;
  /**
   * The row's record replaced at its version, as a database owner can (the trigger that wants the version to rise set
   * aside for the session: a forward edit at version + 1 would not open the share, sealed under coin/version).
   */
  const setRecord = async (r: Msg) => {
    await pgdb.db.query('BEGIN');
    await pgdb.db.query('SET LOCAL session_replication_role = replica');
    await pgdb.db.query('UPDATE statechain_operator_coins SET record = $2 WHERE coin_id = $1', [COIN, JSON.stringify(r)]);
    await pgdb.db.query('COMMIT');
  };

  it('imported whole statements answer the fixture\'s transfer-done with nothing written; an edited row is refused, nothing written; the withdrawal compacts them', async () => {
    const expected = doneFixture();
    const { operator_sig, ...body } = expected.statement as Msg;
    expect(bip340Verify(bytesOf(operator_sig), taggedHash('offchain/statechain/statement', new TextEncoder().encode(stringifyLine(body))), operatorKey().publicKey.subarray(1))).toBe(true);
    const seen = join(mkdtempSync(join(fx.root, 'rcpt-')), 'witness');
    const s = store(seen);
    try {
      expect(await s.import(legacy())).toBe('imported');
      expect(await s.import(legacy())).toBe('already');
      const imported = await snapshot(pgdb.db);
      const replay = () => s.step(COIN, async (r) => op.completeTransfer(r, accept() as never, ctx()));
      expect(stringifyMessage(await replay())).toBe(stringifyMessage(expected));
      expect(await snapshot(pgdb.db)).toEqual(imported);
      expect(await s.import(legacy())).toBe('already'); // a replay wrote nothing: the migration's rerun still finds its import

      // The writer plants a receipt whose count is another backup's (and, as a whole statement, one naming another owner).
      const good = await record();
      const edits: Msg[] = [
        { ...good, done: [{ transfer_id: expected.transfer_id, count: 1, owner_auth: body.owner_auth, operator_share: body.operator_share, operator_sig }] },
        { ...good, done: [{ transfer_id: expected.transfer_id, statement: { ...expected.statement, amount_sat: 1 } }] },
      ];
      for (const edited of edits) {
        await setRecord(edited);
        const planted = await snapshot(pgdb.db);
        // This host saw version 1 as it was: a fork at its version (the witness), before any step runs.
        await expect(replay()).rejects.toMatchObject({ code: 'E_STORE_ROLLED_BACK' });
        // A host that never saw it (a new machine): the step itself refuses what the record gives back.
        const fresh = store(join(mkdtempSync(join(fx.root, 'rcpt-')), 'witness'));
        try {
          let caught: unknown;
          await fresh.step(COIN, async (r) => op.completeTransfer(r, accept() as never, ctx())).catch((e: unknown) => (caught = e));
          expect(caught).toBeInstanceOf(OffchainError);
          expect((caught as OffchainError).code).toBe('E_STATE_CORRUPT');
        } finally {
          await fresh.close();
        }
        expect(await snapshot(pgdb.db)).toEqual(planted);
      }
      await setRecord(good);
      expect(await snapshot(pgdb.db)).toEqual(imported);

      // The coin's next real step: Bob, its owner, withdraws. Version 2, the statement kept as its receipt.
      // Bob's own state.sqlite, a copy of the fixture's (his coin record and his nonces in it).
      const dir = join(mkdtempSync(join(tmpdir(), 'pg-rcpt-bob-')), 'regtest');
      mkdirSync(dir);
      copyFileSync(join(ROOT, 'fixtures', 'statechain', 'state', 'bob', 'regtest', 'state.sqlite'), join(dir, 'state.sqlite'));
      const bob = stateRecord<own.OwnerRecord>(dir, 'statechain', `coin-${COIN}`)!;
      expect(bob.coin_id).toBe(COIN);
      const bobKey = keyPair(bytesOf(readFileSync(join(ROOT, 'fixtures', 'keys', 'bob.key'), 'utf8').trim()));
      const nonces = new SqliteNonces(async (create) => StateDb.open(dir, { create }), Sealer.fromSecret(bobKey.secretKey));
      const w = await own.withdrawRequest(bob, TO, 2, { auth: bobKey, random: deterministicRandom(`pg-rcpt-bob-${dir}`), nonces, network: 'regtest' });
      await s.step(COIN, async (r) => op.cosignWithdrawal(r, w.message as never, ctx()));
      const after = await record();
      expect(after.done).toEqual([{ transfer_id: expected.transfer_id, count: body.count, owner_auth: body.owner_auth, operator_share: body.operator_share, operator_sig }]);
      const versions = (await pgdb.db.query<{ version: string }>('SELECT version FROM statechain_operator_coins WHERE coin_id = $1', [COIN])).rows.map((x) => Number(x.version));
      expect(versions).toEqual([2]);
      const withdrawn = await snapshot(pgdb.db);
      expect(stringifyMessage(await replay())).toBe(stringifyMessage(expected));
      expect(await snapshot(pgdb.db)).toEqual(withdrawn);
      expect(hexOf(bytesOf(after.statement.operator_auth))).toBe(hexOf(operatorKey().publicKey));
    } finally {
      await s.close();
    }
  }, 120_000);
});
