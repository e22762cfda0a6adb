/**
 * The owner's hand-over to a watchtower (src/lib/statechain/tower.ts): a coin under anchored terms,
 * deposited by Alice and handed to Bob through the protocol's own steps (harness.ts); Bob's export,
 * checked against his record's backup chain; the reader's refusal of every part that does not say
 * what the backup bytes say; and the owner-side refusals (no anchor, not held, backup 1). Nothing
 * secret in the message: no share, no key.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readTowerBackup, towerExport, type TowerBackup } from '../../../src/lib/statechain/tower.ts';
import { parseTransaction } from '../../../src/lib/statechain/coin.ts';
import { toHex } from '../../../src/lib/bytes.ts';
import { refusal } from '../../setup/refusal.ts';
import { ANCHORED_TERMS, TERMS, cleanup, confirmedCoin, transfer } from './harness.ts';

afterAll(cleanup);

async function bobsCoin(terms: typeof TERMS = ANCHORED_TERMS) {
  const { chain, d } = await confirmedCoin(terms);
  const t = await transfer(chain, { opRecord: d.opRecord, opCtx: d.opCtx, sender: d.owner, senderRecord: d.ownerRecord }, `tower-bob-${terms === TERMS ? 'old' : 'anchored'}`);
  return { d, t };
}

describe('Bob\'s export of his anchored coin', () => {
  it('carries his newest backup as signed, its locktime, the deadline before Alice\'s is final and her backup\'s txid; no secret; read back as it is', async () => {
    const { d, t } = await bobsCoin();
    const m = towerExport(t.receiverRecord, 'regtest');
    const [alice, bob] = t.receiverRecord.statement.backups;
    expect(m).toMatchObject({
      type: 'statechain/tower-backup', coin_id: d.ownerRecord.coin_id, outpoint: t.receiverRecord.statement.outpoint, amount_sat: 100_000,
      backup: { n: 2, txid: bob!.txid, locktime: bob!.locktime, hex: t.receiverRecord.backups[1] },
      previous: { txid: alice!.txid, locktime: alice!.locktime }, deadline: alice!.locktime - 1, older_txids: [alice!.txid],
    });
    // The backup as the owner holds it: zero fee, the whole coin to Bob's share, a 0-sat P2A, signed.
    const tx = parseTransaction(m.backup.hex, 'backup');
    expect([tx.getOutput(0).amount, tx.getOutput(1).amount, toHex(tx.getOutput(1).script!)]).toEqual([100_000n, 0n, '51024e73']);
    const text = JSON.stringify(m);
    for (const secret of [t.receiverRecord.share_secret, toHex(t.receiver.auth.secretKey), toHex(d.owner.auth.secretKey)]) expect(text).not.toContain(secret);
    expect(readTowerBackup(JSON.parse(text), 'the export')).toEqual(m);
  });

  it('refused for a coin whose terms have no anchor (E_BACKUP_UNBUMPABLE), one handed on (E_NOT_OWNER) and backup 1 (E_NO_DEADLINE)', async () => {
    const old = await bobsCoin(TERMS);
    refusal(() => towerExport(old.t.receiverRecord, 'regtest'), 'E_BACKUP_UNBUMPABLE', 4);
    const { d, t } = await bobsCoin();
    refusal(() => towerExport(t.senderRecord, 'regtest'), 'E_NOT_OWNER', 5);
    refusal(() => towerExport(d.ownerRecord, 'regtest'), 'E_NO_DEADLINE', 4);
  });
});

describe('a tower reads only an export whose parts are its backup\'s', () => {
  it('each part changed is refused, E_BAD_TOWER_EXPORT', async () => {
    const { t } = await bobsCoin();
    const good = towerExport(t.receiverRecord, 'regtest');
    const tx = parseTransaction(good.backup.hex, 'backup');
    const unsigned = toHex(tx.unsignedTx);
    const mutants: [string, (m: TowerBackup) => void][] = [
      ['another txid', (m) => { m.backup.txid = 'ab'.repeat(32); }],
      ['another locktime', (m) => { m.backup.locktime += 1; }],
      ['another outpoint', (m) => { m.outpoint = `${'cd'.repeat(32)}:0`; }],
      ['unsigned', (m) => { m.backup.hex = unsigned; m.backup.txid = tx.id; }],
      ['a deadline not the block before the previous owner\'s', (m) => { m.deadline += 1; }],
      ['the previous owner\'s locktime not above', (m) => { m.previous.locktime = m.backup.locktime; m.deadline = m.previous.locktime - 1; }],
      ['older txids missing the previous owner\'s', (m) => { m.older_txids = ['ef'.repeat(32)]; }],
    ];
    for (const [name, mutate] of mutants) {
      const m = structuredClone(good);
      mutate(m);
      expect(refusal(() => readTowerBackup(m, 'the export'), 'E_BAD_TOWER_EXPORT', 3).message, name).toMatch(/^the export: /);
    }
    // Another message is not an export at all.
    expect(() => readTowerBackup({ ...good, type: 'statechain/spend' }, 'the export')).toThrow(/statechain\/tower-backup/);
  });
});
