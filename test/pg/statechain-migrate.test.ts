/**
 * An operator moved from its state.sqlite to PostgreSQL mid-life (issue 29 item 6): a coin
 * deposited and transferred once with the operator on --state-dir; `statechain store migrate`
 * (migrateOperatorState) moves its record into the store (the ledger its history implies
 * included) and deletes its row from state.sqlite — secure_delete and the WAL checkpointed at
 * close, so the sealed share is in neither file afterwards; the coin then goes on with the
 * operator on --store — a second transfer and a withdrawal, signatures checked by the
 * independent verifier — and the last answer the SQLite store gave is answered identically by
 * the database. A migration killed (a child process running the library with the hook only
 * tests pass, statechain-migrate-child.ts) after a coin's COMMIT and before its row was
 * deleted is finished by the real command run again, nothing imported twice; a stale copy of
 * a coin that moved on (its old row put back) is refused. An operator record written before
 * finished transfers were kept as receipts (test/lib/statechain/older/, as migrate-v0 imports
 * an older operator's files), migrated as it is: answered the same, compacted at its next step.
 * Skips visibly without PostgreSQL.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { ROOT } from '../helpers.ts';
import { dbFile, networkDir, rawDb, records, tamper, withStateDb } from '../state.ts';
import { Records } from '../../src/lib/store/sqlite/records.ts';
import { OPERATOR_SECRETS } from '../../src/lib/store/sqlite/operator.ts';
import { Sealer } from '../../src/lib/store/seal.ts';
import { describePostgres } from './fixture.ts';
import { bytesOf, parseTx } from '../independent/tx.ts';
import { taprootOutput } from '../independent/keys.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { KEYS, OPERATOR_PUB, fundingTo, ok } from '../e2e/statechain-flow.ts';
import { connect, count, pgFlow, snapshot } from './operator.ts';
import { depositVia, filesFlow, ownerFlow, transferVia } from './owner-steps.ts';
import { cleanEnv, run } from '../e2e/cli.ts';

const CHILD = join(ROOT, 'test', 'pg', 'statechain-migrate-child.ts');

/** The operator's coins in its state.sqlite (`<state-dir>/regtest`): their ids. */
const coinsIn = (opState: string) => records(networkDir(opState), 'statechain-operator').map((r) => r.id);
/** A coin's row as stored (its share sealed): the body text. */
const rowOf = (opState: string, coin: string) => {
  const db = rawDb(networkDir(opState));
  try {
    return (db.prepare("SELECT body FROM records WHERE kind = 'statechain-operator' AND id = ?").get(coin) as { body: string } | undefined)?.body;
  } finally {
    db.close();
  }
};
/** The sealed share of a stored row (hex), which must be in no file of the directory once the row is deleted. */
const sealedShare = (body: string) => {
  const sealed = (JSON.parse(body) as { share_secret_sealed?: string }).share_secret_sealed;
  expect(sealed, 'the stored share is sealed').toMatch(/^[0-9a-f]{64,}$/);
  return sealed!;
};
/** Whether `hex` (its bytes, or its text) is anywhere in the state.sqlite file or its WAL. */
const inFiles = (opState: string, hex: string) => {
  const files = [dbFile(networkDir(opState)), `${dbFile(networkDir(opState))}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f));
  return files.some((b) => b.includes(Buffer.from(hex, 'hex')) || b.includes(Buffer.from(hex)));
};

describePostgres('statechain operator: state.sqlite to PostgreSQL mid-life', (fx) => {
  let url: string;
  beforeAll(async () => {
    url = await fx.server.createDatabase('operator');
  });

  it('deposit and a transfer on state.sqlite, migrated (the share in neither file after), then a transfer and the withdrawal on PostgreSQL', async () => {
    // The coin's life on files is setup for the migration under test: every party in process (./owner-steps.ts).
    const files = filesFlow(fx.root, { operator: 'in-process' });
    const d = await depositVia(files, 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
    const t1 = await transferVia(files, d.coinId, OPERATOR_PUB, 'ALICE_KEY', 'BOB_KEY');
    const opState = join(fx.root, 'OPERATOR_KEY');
    expect(coinsIn(opState)).toEqual([d.coinId]);
    const share = sealedShare(rowOf(opState, d.coinId)!);
    expect(inFiles(opState, share), 'the sealed share is in the files before the migration').toBe(true);

    // Through the command: statechain store migrate, the operator's key sealing the shares, the password from the environment.
    const migrate = () => run(['statechain', 'store', 'migrate', '--key-env', 'OPERATOR_KEY', '--state-dir', join(fx.root, 'OPERATOR_KEY'), '--to', url], { env: { ...KEYS, OFFCHAIN_STORE_PASSWORD: fx.server.password } });
    const first = migrate();
    expect(first.status, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ type: 'statechain/store-migrated', to: url, coins: [d.coinId] });
    expect(first.stdout + first.stderr).not.toContain(fx.server.password);
    const again = migrate();
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).coins).toEqual([]);
    expect(coinsIn(opState)).toEqual([]); // the SQLite copy of the share is gone …
    expect(inFiles(opState, share), 'the sealed share in state.sqlite or its WAL').toBe(false); // … from the files too
    // The directory is marked moved (so no second store starts there), naming the database.
    expect(withStateDb(networkDir(opState), (db) => db.sql.prepare("SELECT value FROM meta WHERE key = 'statechain_operator_migrated'").get() as { value: string } | undefined)?.value).toContain(new URL(url).pathname);

    const db = await connect(fx.server, 'operator');
    try {
      expect(await count(db, 'backups', 'coin_id = $1', [d.coinId])).toBe(2);
      expect(await count(db, 'nonces', 'coin_id = $1', [d.coinId])).toBe(2);
      expect(await count(db, 'transfers', "coin_id = $1 AND state = 'done'", [d.coinId])).toBe(1);

      // On the store: the operator's steps its own processes, the owners' in process.
      const pg = ownerFlow(fx.root, fx.server, url);
      // The last step the SQLite store answered, asked of the database: the same bytes, nothing written.
      const before = await snapshot(db);
      expect(ok(await pg.as('OPERATOR_KEY', ['statechain-transfer'], t1.accept))).toBe(t1.done);
      expect(await snapshot(db)).toEqual(before);

      const t2 = await transferVia(pg, d.coinId, OPERATOR_PUB, 'BOB_KEY', 'CAROL_KEY');
      const w1 = ok(await pg.as('CAROL_KEY', ['statechain-withdraw', '--coin', d.coinId, '--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--fee-rate', '2']));
      const spend = JSON.parse(ok(await pg.as('CAROL_KEY', ['statechain-withdraw'], ok(await pg.as('OPERATOR_KEY', ['statechain-withdraw'], w1))))) as { hex: string };
      const fundingOut = parseTx(readFileSync(d.fundingFile, 'utf8')).outputs[1]!;
      const prevout = [{ amount: fundingOut.amount, script: fundingOut.script }];
      const outputKey = taprootOutput(bytesOf(d.coin.statement.aggregate).subarray(1)).outputKey;
      for (const b of t2.coin.backups) verifyKeyPathSpend(b, prevout, outputKey);
      verifyKeyPathSpend(spend.hex, prevout, outputKey);
      expect(await count(db, 'transfers', "coin_id = $1 AND state = 'done'", [d.coinId])).toBe(2);
      expect(await count(db, 'withdrawals', 'coin_id = $1', [d.coinId])).toBe(1);
    } finally {
      await db.end();
    }
  }, 300_000);

  it('killed after a coin committed and before its state.sqlite row was deleted: the real command run again recognises the same record, deletes the row and the coin goes on from PostgreSQL; a different copy is still refused', async () => {
    const crashUrl = await fx.server.createDatabase('operator_crash');
    const root = join(fx.root, 'crash');
    const files = filesFlow(root, { operator: 'in-process' });
    const d = await depositVia(files, 'ALICE_KEY', (address) => fundingTo(address, 50_000n));
    const opState = join(root, 'OPERATOR_KEY');
    const rowText = rowOf(opState, d.coinId)!;
    const env = { ...KEYS, OFFCHAIN_STORE_PASSWORD: fx.server.password };
    // A real process death between the coin's COMMIT and the deletion of its row.
    const killed = spawnSync(process.execPath, ['--import', 'tsx', CHILD, opState, crashUrl], { cwd: ROOT, env: cleanEnv(env), encoding: 'utf8', timeout: 120_000 });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(killed.stderr).toContain(`killed after importing ${d.coinId}`);
    expect(killed.stdout).toBe('');
    expect(rowOf(opState, d.coinId)).toBe(rowText);
    const db = await connect(fx.server, 'operator_crash');
    try {
      expect(await count(db, 'coins', 'coin_id = $1', [d.coinId])).toBe(1);
      const imported = await snapshot(db);
      const migrate = () => run(['statechain', 'store', 'migrate', '--key-env', 'OPERATOR_KEY', '--state-dir', opState, '--to', crashUrl], { env });
      const rerun = migrate();
      expect(rerun.status, rerun.stderr).toBe(0);
      expect(JSON.parse(rerun.stdout)).toMatchObject({ type: 'statechain/store-migrated', coins: [d.coinId] });
      expect(rowOf(opState, d.coinId)).toBeUndefined(); // the second live copy of the share is gone
      expect(inFiles(opState, sealedShare(rowText))).toBe(false);
      expect(await snapshot(db)).toEqual(imported); // nothing imported twice

      // The coin goes on from the database.
      const pg = ownerFlow(root, fx.server, crashUrl);
      await transferVia(pg, d.coinId, OPERATOR_PUB, 'ALICE_KEY', 'BOB_KEY');
      expect(await count(db, 'transfers', "coin_id = $1 AND state = 'done'", [d.coinId])).toBe(1);
      // The old row put back (a stale backup of state.sqlite): not the record the database holds any more — refused, kept, nothing written.
      tamper(networkDir(opState), "INSERT INTO records (kind, id, body) VALUES ('statechain-operator', ?, ?)", d.coinId, rowText);
      const moved = await snapshot(db);
      const stale = migrate();
      expect(stale.status, stale.stderr).toBe(5);
      expect(stale.stdout).toBe('');
      expect(stale.stderr).toMatch(/^offchain: error E_COIN_EXISTS: /m);
      expect(rowOf(opState, d.coinId)).toBe(rowText);
      expect(await snapshot(db)).toEqual(moved);
    } finally {
      await db.end();
    }
  }, 300_000);

  it('an operator record written before receipts (the fixtures\' operator, its finished transfer a whole statement), migrated: that transfer answered again byte for byte with nothing written, then kept as a receipt from the withdrawal on', async () => {
    const legacyUrl = await fx.server.createDatabase('operator_legacy');
    const root = join(fx.root, 'legacy');
    const opState = join(root, 'OPERATOR_KEY');
    cpSync(join(ROOT, 'fixtures', 'statechain', 'state', 'operator'), opState, { recursive: true });
    const fixture = (name: string) => readFileSync(join(ROOT, 'fixtures', 'statechain', name), 'utf8');
    const coin = fixture('coin-id').trim();
    // The fixture operator's coin as an older operator kept it (what migrate-v0 imports from its op-<coin>.json), its share sealed as state.sqlite keeps it.
    const older = JSON.parse(readFileSync(join(ROOT, 'test', 'lib', 'statechain', 'older', `op-${coin}.json`), 'utf8')) as { coin_id: string; done: { transfer_id: string; statement?: Record<string, unknown> }[] };
    withStateDb(networkDir(opState), (db) => {
      const coins = new Records<typeof older>(db, 'statechain-operator', { fields: OPERATOR_SECRETS, sealer: Sealer.fromSecret(Buffer.from(KEYS.OPERATOR_KEY!, 'hex')) });
      db.sql.transaction(() => coins.put(coin, older))();
    });
    const kept = records<typeof older>(networkDir(opState), 'statechain-operator').find((r) => r.id === coin)!.record;
    expect(kept.done.map((d) => Object.keys(d))).toEqual([['transfer_id', 'statement']]); // the shape before receipts
    const migrated = run(['statechain', 'store', 'migrate', '--key-env', 'OPERATOR_KEY', '--state-dir', opState, '--to', legacyUrl], { env: { ...KEYS, OFFCHAIN_STORE_PASSWORD: fx.server.password } });
    expect(migrated.status, migrated.stderr).toBe(0);
    expect(JSON.parse(migrated.stdout).coins).toEqual([coin]);
    const db = await connect(fx.server, 'operator_legacy');
    try {
      const pg = pgFlow(root, fx.server, legacyUrl);
      const before = await snapshot(db);
      expect(ok(pg.as('OPERATOR_KEY', ['statechain-transfer'], fixture('transfer-accept.json')))).toBe(fixture('transfer-done.json'));
      expect(await snapshot(db)).toEqual(before); // a repeated request: nothing written, the version as it was

      expect(JSON.parse(ok(pg.as('OPERATOR_KEY', ['statechain-withdraw'], fixture('withdraw-request.json')))).type).toBe('statechain/withdraw-cosigned');
      const row = (await db.query<{ version: string; record: string }>('SELECT version, record FROM statechain_operator_coins WHERE coin_id = $1', [coin])).rows[0]!;
      const done = (JSON.parse(fixture('transfer-done.json')) as { transfer_id: string; statement: Record<string, unknown> });
      const s = done.statement;
      // The receipt, written out from the statement the fixture's answer carried.
      expect([Number(row.version), (JSON.parse(row.record) as typeof kept).done]).toEqual([
        2, [{ transfer_id: done.transfer_id, count: s.count, owner_auth: s.owner_auth, operator_share: s.operator_share, operator_sig: s.operator_sig }],
      ]);
      // Withdrawn, its receipt still answers the receiver the same bytes.
      const closed = await snapshot(db);
      expect(ok(pg.as('OPERATOR_KEY', ['statechain-transfer'], fixture('transfer-accept.json')))).toBe(fixture('transfer-done.json'));
      expect(await snapshot(db)).toEqual(closed);
    } finally {
      await db.end();
    }
  }, 300_000);
}, { prefix: 'offchain-pg-migrate-' });
