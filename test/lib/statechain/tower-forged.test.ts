/**
 * Forged exports (review of the keyless tower): whoever can write into a tower's directory — the
 * coin's previous owner, a stranger — drops files that claim a victim's coin or dress any
 * transaction as a backup. The tower keeps only what the coin's key signed: the anchored backup
 * template, verified against the coin's output as the node has it (verifyTowerBackup), keyed by
 * the outpoint, newest by the backup's own nLockTime (src/lib/watch/tower.ts newestExports).
 *
 * - A (T1): a "backup" of Bob's coin that the coin's key never signed, claiming n = 3: refused,
 *   skipped by the round, never kept; Bob's export stays the one acted on, also after the file goes.
 * - B (T1): Alice's own (validly signed) backup relabelled n = 3, naming Bob's as older: Bob's
 *   (lower locktime) is still the newest; alone, the tower takes Bob's backup in the mempool as a
 *   later owner's (its locktime is lower) and waits, never outbidding it.
 * - C (T2): any other shape — extra outputs (a payout batch), a fee, no P2A — refused by the reader.
 * - D (T3): a junk *.json is skipped and said at the start as in every round.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transaction } from '@scure/btc-signer';
import { TOWER_BACKUP_VSIZE, readTowerBackup, towerExport, verifyTowerBackup, type TowerBackup } from '../../../src/lib/statechain/tower.ts';
import { P2A_SCRIPT, parseTransaction } from '../../../src/lib/statechain/coin.ts';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { measureTx } from '../../../src/lib/truc/transaction.ts';
import { readTowerDir, towerRound } from '../../../src/topics/watch/tower.ts';
import { refusal } from '../../setup/refusal.ts';
import { ANCHORED_TERMS, cleanup, confirmedCoin, transfer } from './harness.ts';

afterAll(cleanup);

async function bobs() {
  const { chain, d } = await confirmedCoin(ANCHORED_TERMS);
  const t = await transfer(chain, { opRecord: d.opRecord, opCtx: d.opCtx, sender: d.owner, senderRecord: d.ownerRecord }, 'tower-forged');
  const good = towerExport(t.receiverRecord, 'regtest');
  const out = parseTransaction(d.funding, 'funding').getOutput(1);
  return { d, t, good, funding: { script: out.script!, amount: out.amount! } };
}

/** A transaction spending `good`'s outpoint, the whole coin to a P2TR and a 0-sat P2A: the template's shape, its signature junk. */
function unsigned(good: TowerBackup, o: { fee?: bigint; extra?: number } = {}): Transaction {
  const [txid, vout] = good.outpoint.split(':') as [string, string];
  const tx = new Transaction({ version: 3, lockTime: good.backup.locktime, allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
  tx.addOutput({ script: fromHex('5120' + 'aa'.repeat(32)), amount: BigInt(good.amount_sat) - (o.fee ?? 0n) }); // the writer's
  tx.addOutput({ script: P2A_SCRIPT, amount: 0n });
  for (let i = 0; i < (o.extra ?? 0); i++) tx.addOutput({ script: fromHex('5120' + i.toString(16).padStart(2, '0').repeat(32)), amount: 1_000n });
  tx.addInput({ txid: fromHex(txid), index: Number(vout), sequence: 0xffff_fffe, finalScriptWitness: [new Uint8Array(64).fill(7)] });
  return tx;
}

const relabel = (good: TowerBackup, tx: Transaction, extra: Partial<TowerBackup> = {}, n = 3): TowerBackup =>
  readTowerBackup(JSON.parse(JSON.stringify({ ...structuredClone(good), backup: { n, txid: tx.id, locktime: tx.lockTime, hex: toHex(tx.toBytes(true, true)) }, older_txids: ['ee'.repeat(32), good.previous.txid], ...extra })), 'forged');

/** A round's records and a node that knows the coin's funding transaction (and, given, other transactions). */
function roundOf(d: { funding: string }, known: Record<string, string> = {}, spender?: string) {
  const kept = new Map<string, { locktime: number; txid: string }>();
  const records = {
    towerKept: async () => new Map([...kept].map(([c, k]) => [c, k.locktime])),
    setTowerKept: async (c: string, k: { locktime: number; txid: string }) => { kept.set(c, k); },
    bid: async () => undefined, setBid: async () => undefined,
  };
  const raws = new Map(Object.entries({ [parseTransaction(d.funding, 'funding').id]: d.funding, ...known }));
  const chain = {
    rawTransaction: async (txid: string) => { const h = raws.get(txid); if (!h) throw new Error(`no ${txid}`); return fromHex(h); },
    txConfirmations: async () => null, mempoolSpender: async () => spender, utxo: async () => null,
    mempoolPolicy: async () => ({ minRelayFeeRate: 1000, mempoolMinFeeRate: 0, incrementalRelayFeeRate: 1000 }), estimateFeeRate: async () => 1000,
  };
  return { kept, records, chain };
}

describe('A (T1): a forged backup of Bob\'s coin, never signed by the coin\'s key, claiming n = 3', () => {
  it('is refused against the coin\'s output (E_BAD_TOWER_EXPORT); Bob\'s genuine export passes', async () => {
    const { good, funding } = await bobs();
    const forged = relabel(good, unsigned(good));
    expect(refusal(() => verifyTowerBackup(forged, funding, 'forged'), 'E_BAD_TOWER_EXPORT', 3).message).toMatch(/signature/);
    expect(() => verifyTowerBackup(good, funding, 'bob')).not.toThrow();
    // Bob's export against another output (a script or amount that is not the coin's): refused.
    expect(refusal(() => verifyTowerBackup(good, { ...funding, amount: funding.amount + 1n }, 'bob'), 'E_BAD_TOWER_EXPORT', 3).message).toMatch(/holds/);
    expect(refusal(() => verifyTowerBackup(good, { ...funding, script: fromHex('5120' + 'bb'.repeat(32)) }, 'bob'), 'E_BAD_TOWER_EXPORT', 3).message).toMatch(/signature/);
  });

  it('through the tower\'s rounds: skipped and said, never kept; what is kept is Bob\'s, by outpoint and locktime; the file gone, Bob\'s coin is still his, not `done`', async () => {
    const { d, good } = await bobs();
    const forged = relabel(good, unsigned(good));
    const { kept, records, chain } = roundOf(d);
    const warned: string[] = [];
    let files = [forged, good];
    const host = { exports: async () => files, warn: (m: string) => warned.push(m), limits: { maxFeeRate: 50, maxFeeShare: 0.5 }, network: 'regtest' };
    const round = (tip: number, o: { dryRun: boolean; offline: boolean }) => towerRound(host as never, { tip, block: '00'.repeat(32), ...o, chain: chain as never, records: records as never });
    const first = await round(good.backup.locktime - 1, { dryRun: false, offline: false });
    expect(first).toEqual([expect.objectContaining({ contract: good.coin_id, action: 'none' })]);
    expect(warned.join('\n')).toMatch(/skipped: E_BAD_TOWER_EXPORT.*signature/);
    expect([...kept]).toEqual([[good.outpoint, { locktime: good.backup.locktime, txid: good.backup.txid }]]);
    files = [good];
    const later = await round(good.deadline - 3, { dryRun: true, offline: true }); // inside Bob's margin: he needs the tower now
    expect(later).toEqual([expect.objectContaining({ contract: good.coin_id, action: 'backup' })]);
  });

  it('the same locktime, a file that sorts first: the genuine one chosen all the same (the forged one is not verified)', async () => {
    const { d, good } = await bobs();
    const same = relabel(good, unsigned(good), { older_txids: [good.previous.txid] } as never, 2);
    const { kept, records, chain } = roundOf(d);
    const host = { exports: async () => [same, good], limits: { maxFeeRate: 50, maxFeeShare: 0.5 }, network: 'regtest' };
    await towerRound(host as never, { tip: good.backup.locktime - 1, block: '00'.repeat(32), dryRun: false, offline: false, chain: chain as never, records: records as never });
    expect(kept.get(good.outpoint)?.txid).toBe(good.backup.txid);
  });
});

describe('B (T1): Alice, the previous owner, relabels her own signed backup n = 3, naming Bob\'s as older', () => {
  it('her backup is genuine, but Bob\'s (the lower locktime) stays the newest', async () => {
    const { d, t, good, funding } = await bobs();
    const alice = parseTransaction(t.senderRecord.backups[0]!, 'alice');
    const forged = relabel(good, alice, { previous: { txid: 'dd'.repeat(32), locktime: alice.lockTime + 10 }, deadline: alice.lockTime + 9, older_txids: [good.backup.txid, 'dd'.repeat(32)] } as never);
    expect(() => verifyTowerBackup(forged, funding, 'alice')).not.toThrow();
    const { kept, records, chain } = roundOf(d);
    const host = { exports: async () => [forged, good], limits: { maxFeeRate: 50, maxFeeShare: 0.5 }, network: 'regtest' };
    const ds = await towerRound(host as never, { tip: good.backup.locktime - 1, block: '00'.repeat(32), dryRun: false, offline: false, chain: chain as never, records: records as never });
    expect(kept.get(good.outpoint)?.txid).toBe(good.backup.txid);
    expect(ds).toHaveLength(1);
  });

  it('alone at the tower, with Bob\'s backup in the mempool: Bob\'s is taken as a later owner\'s (its nLockTime is lower) and waited on, never outbid', async () => {
    const { d, t, good } = await bobs();
    const alice = parseTransaction(t.senderRecord.backups[0]!, 'alice');
    const forged = relabel(good, alice, { previous: { txid: 'dd'.repeat(32), locktime: alice.lockTime + 10 }, deadline: alice.lockTime + 9, older_txids: [good.backup.txid, 'dd'.repeat(32)] } as never);
    const { records, chain } = roundOf(d, { [good.backup.txid]: good.backup.hex }, good.backup.txid);
    const host = { exports: async () => [forged], limits: { maxFeeRate: 50, maxFeeShare: 0.5 }, network: 'regtest' };
    const ds = await towerRound(host as never, { tip: alice.lockTime + 3, block: '00'.repeat(32), dryRun: true, offline: false, chain: chain as never, records: records as never });
    expect(ds, JSON.stringify(ds)).toEqual([expect.objectContaining({ action: 'wait', txid: good.backup.txid })]);
  });
});

describe('C (T2): only an anchored backup\'s shape is read as one', () => {
  it('a payout batch of the writer\'s own coin with a 0-sat P2A (180 outputs), a third output, a fee, a changed nSequence: each refused', async () => {
    const { good } = await bobs();
    const batch = unsigned(good, { extra: 180 });
    expect(refusal(() => relabel(good, batch), 'E_BAD_TOWER_EXPORT', 3).message).toMatch(/outputs are not an anchored backup/);
    const fee = unsigned(good, { fee: 500n });
    expect(refusal(() => relabel(good, fee), 'E_BAD_TOWER_EXPORT', 3).message).toMatch(/zero fee/);
    const [txid, vout] = good.outpoint.split(':') as [string, string];
    const seq = new Transaction({ version: 3, lockTime: good.backup.locktime, allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
    seq.addOutput({ script: fromHex('5120' + 'aa'.repeat(32)), amount: BigInt(good.amount_sat) });
    seq.addOutput({ script: P2A_SCRIPT, amount: 0n });
    seq.addInput({ txid: fromHex(txid), index: Number(vout), sequence: 0xffff_fffd, finalScriptWitness: [new Uint8Array(64)] });
    expect(refusal(() => relabel(good, seq), 'E_BAD_TOWER_EXPORT', 3).message).toMatch(/nSequence/);
  });

  it('a genuine backup is exactly TOWER_BACKUP_VSIZE, the most a tower pays a parent for', async () => {
    const { good } = await bobs();
    expect(measureTx(fromHex(good.backup.hex), 'bob').vsize).toBe(TOWER_BACKUP_VSIZE);
  });
});

describe('D (T3): a junk file in the directory', () => {
  it('is skipped and said; the tower reads the rest (no strict start)', async () => {
    const { good } = await bobs();
    const dir = mkdtempSync(join(tmpdir(), 'tower-forged-'));
    try {
      writeFileSync(join(dir, 'bob.json'), JSON.stringify(good));
      writeFileSync(join(dir, 'zz-junk.json'), '{}');
      const warned: string[] = [];
      expect(await readTowerDir(dir, 'regtest', (m) => warned.push(m))).toHaveLength(1);
      expect(warned).toEqual([expect.stringMatching(/zz-junk\.json skipped/)]);
      // Unchanged: not parsed again (the same export, the same reason); replaced: read anew.
      expect(await readTowerDir(dir, 'regtest', (m) => warned.push(m))).toHaveLength(1);
      expect(warned).toHaveLength(2);
      writeFileSync(join(dir, 'zz-junk.json'), JSON.stringify({ ...good, next: 'again' }));
      expect(await readTowerDir(dir, 'regtest', (m) => warned.push(m))).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
