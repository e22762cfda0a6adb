/**
 * What the statechain owner's watcher reads from its store (src/topics/watch/statechain.ts
 * checkedCoin; the watcher review's findings 5 and 6): a real coin handed from Alice to Bob in
 * process (test/lib/statechain/harness.ts), Bob's record as his watcher reads it. Its deadlines
 * come from the signed backups' own nLockTime under the operator's signature checked again, so a
 * writer of the database who edits the plain JSON — a locktime pushed out — gets a coin held with
 * the error, never a later deadline; and that coin's failure is its own decision, the round goes on.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, confirmedCoin, transfer } from '../statechain/harness.ts';
import { parseTx } from '../../independent/tx.ts';
import { checkedCoin, ownerRound, type OwnerHost } from '../../../src/topics/watch/statechain.ts';
import type { Round } from '../../../src/topics/watch/credit.ts';
import type { OwnerRecord } from '../../../src/lib/statechain/owner.ts';

afterAll(cleanup);

async function bobsRecord(): Promise<OwnerRecord> {
  const { chain, d } = await confirmedCoin();
  const t = await transfer(chain, { opRecord: d.opRecord, opCtx: d.opCtx, sender: d.owner, senderRecord: d.ownerRecord }, 'watch-bob');
  return t.receiverRecord;
}

describe('the owner\'s record as the watcher reads it', () => {
  it('Lₙ and Lₙ₋₁ are the stored backups\' own nLockTime (read here with an independent parser)', async () => {
    const bob = await bobsRecord();
    const coin = checkedCoin(bob);
    expect(coin.own!.lockTime).toBe(parseTx(bob.backups[1]!).lockTime);
    expect(coin.older!.lockTime).toBe(parseTx(bob.backups[0]!).lockTime);
    expect(coin.older!.lockTime - coin.own!.lockTime).toBe(10);
  });

  it('a locktime pushed out in the stored statement\'s JSON: E_BAD_OPERATOR_SIG, no deadline taken from it', async () => {
    const bob = await bobsRecord();
    const forged = structuredClone(bob);
    forged.statement.backups[0]!.locktime += 1_000;
    expect(() => checkedCoin(forged)).toThrow(/E_BAD_OPERATOR_SIG|does not verify/);
  });

  it('a stored backup swapped for another: E_STATE_CORRUPT', async () => {
    const bob = await bobsRecord();
    const forged = { ...bob, backups: [bob.backups[1]!, bob.backups[0]!] };
    expect(() => checkedCoin(forged)).toThrow(expect.objectContaining({ code: 'E_STATE_CORRUPT' }));
  });

  it('a forged record is that coin\'s decision (hold, with the error); the other coins are decided in the same round', async () => {
    const bob = await bobsRecord();
    const forged = structuredClone(bob);
    forged.coin_id = bob.coin_id.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    forged.statement.backups[0]!.locktime += 1_000;
    const host: OwnerHost = { coins: async () => [bob, forged], backup: async () => { throw new Error('not sent in this test'); }, withdrawal: async () => { throw new Error('not sent in this test'); }, limits: { maxFeeRate: 5, maxFeeShare: 0.5 }, network: 'regtest' };
    const r = { tip: 0, block: '', dryRun: true, offline: true, chain: {} as Round['chain'], records: {} as Round['records'] } satisfies Round;
    const decisions = await ownerRound(host, r);
    expect(decisions.map((d) => [d.contract, d.action])).toEqual([[bob.coin_id, 'none'], [forged.coin_id, 'hold']]);
    expect(decisions[1]!.error).toMatch(/^E_(BAD_OPERATOR_SIG|WRONG_COIN)/);
  });
});
