/**
 * Adversarial review of the statechain owner's watcher (src/lib/watch/statechain.ts, ownerCoin in
 * src/topics/watch/statechain.ts). Each `it` states what SHOULD hold; a failure is a finding.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideOwner, type OwnerFacts } from '../../../src/lib/watch/statechain.ts';
import { ownerCoin, replaceRate } from '../../../src/topics/watch/statechain.ts';
import type { OwnerRecord } from '../../../src/lib/statechain/owner.ts';

const L_ALICE = 800_100; // backup 1 (Alice, the depositor)
const L_BOB = 800_095; // backup 2 (Bob: this record's owner)
const L_CAROL = 800_090; // backup 3 (Carol: Bob handed the coin on to her)

/** Bob's record: the chain Alice → Bob → Carol as Bob's `sent` record keeps it (statement + the receiver's backup), in `status`. */
const bobRecord = (status: OwnerRecord['status'], withCarol = true): OwnerRecord => ({
  coin_id: 'c0ffee', network: 'regtest', status, share_secret: '11'.repeat(32), share: 'bb', auth: 'b0', operator_auth: 'op',
  statement: {
    backups: [
      { txid: 'alice', locktime: L_ALICE, owner_share: 'aa' },
      { txid: 'bob', locktime: L_BOB, owner_share: 'bb' },
      ...(withCarol ? [{ txid: 'carol', locktime: L_CAROL, owner_share: 'cc' }] : []),
    ],
  } as unknown as OwnerRecord['statement'],
  funding_tx: '', backups: withCarol ? ['A', 'B', 'C'] : ['A', 'B'], signing: null, transfer: null,
});
const facts = (tip: number, extra: Partial<OwnerFacts> = {}): OwnerFacts => ({
  tip, margin: 6, startRate: 1_000, budgetRate: 10_000, incrementalRate: 100, confirmations: null, finalDepth: 6, ...extra,
});

describe('a later owner (the coin handed on): its watcher never sends its now-stale backup', () => {
  it('sent: done (sound)', () => {
    expect(decideOwner(ownerCoin(bobRecord('sent')), facts(L_BOB)).action).toBe('done');
  });
  // Bob handed the coin to Carol (her backup is in his record), then asked to withdraw it (statechain-withdraw accepts
  // `sent`: "the package left but the receiver never completed"): his record is `withdrawing` before the operator answers,
  // and stays so when the operator refuses (Carol is the owner). His watcher treats the coin as his.
  it('withdrawing after sent, a later owner\'s backup in the record: nothing sent', () => {
    const d = decideOwner(ownerCoin(bobRecord('withdrawing')), facts(L_BOB));
    expect(d.action, JSON.stringify(d)).not.toBe('backup');
  });
  // Bob, `sent` to Carol, takes another receiver's transfer-request (allowed from `sent`): `sending`, which the
  // operator refuses (Carol owns it). The same: his watcher sends his stale backup.
  it('sending again after sent, a later owner\'s backup in the record: nothing sent', () => {
    const d = decideOwner(ownerCoin(bobRecord('sending')), facts(L_BOB));
    expect(d.action, JSON.stringify(d)).not.toBe('backup');
  });
});

describe('a signed withdrawal not mined as the previous owner\'s backup nears', () => {
  const withdrawn = (): OwnerRecord => ({ ...bobRecord('withdrawn', false), withdrawal: { txid: 'wd', hex: '00' } });
  it('the withdrawal refused by the node (under its floor) within the margin: the backup, not only the withdrawal again', () => {
    const d = decideOwner(ownerCoin(withdrawn()), facts(L_ALICE - 3));
    expect(d.action, JSON.stringify(d)).toBe('backup');
  });
  it('the previous owner\'s backup replaced the withdrawal in the mempool: ours outruns it (as for an active coin)', () => {
    const d = decideOwner(ownerCoin(withdrawn()), facts(L_ALICE, { spender: { who: 'older', where: 'mempool', txid: 'alice' }, replaceRate: 2_000 }));
    expect(d.action, JSON.stringify(d)).toBe('backup');
  });
});

describe('a conflict the node\'s operator deprioritised (prioritisetransaction with a negative delta: its modified fee below 0)', () => {
  it('what replacing it needs is never a negative rate — any package outbids it — so the owner\'s turn decides (a negative rate failed it: E_INTERNAL, nothing sent, the coin left to the withdrawal\'s payee or the older backup)', () => {
    fc.assert(fc.property(fc.bigInt({ min: -200_000_000n, max: 1_000_000n }), fc.integer({ min: 100, max: 2_000 }), fc.integer({ min: 100, max: 2_000 }), fc.integer({ min: 0, max: 1_000 }), (fee, conflictVsize, vsize, incremental) => {
      const c = { txid: 'w', descendantFee: fee, descendantVsize: conflictVsize, chunkFee: fee, chunkWeight: 4 * conflictVsize };
      const rate = replaceRate(c, vsize, incremental);
      expect(rate).toBeGreaterThanOrEqual(0);
      // A package at rate + incremental still pays all the conflict pays plus the incremental fee on its own size (Core's rules 3 and 4).
      if (fee > 0n) expect((rate + incremental) * vsize).toBeGreaterThanOrEqual(1000 * Number(fee) + incremental * vsize);
    }));
    const deprioritised = { txid: 'w', descendantFee: -99_999_800n, descendantVsize: 150, chunkFee: -99_999_800n, chunkWeight: 600 };
    const d = decideOwner(
      { coin: 'c0ffee', status: 'withdrawn', withdrawal: 'w', own: { txid: 'bob', lockTime: L_BOB }, older: { txid: 'alice', lockTime: L_ALICE } },
      { tip: L_ALICE - 3, margin: 6, startRate: 1_000, budgetRate: 10_000, incrementalRate: 100, confirmations: null, finalDepth: 6, withdrawalConfirmations: 0, spender: { who: 'withdrawal', where: 'mempool', txid: 'w' }, replaceRate: replaceRate(deprioritised, 300, 100) },
    );
    expect(d).toMatchObject({ action: 'backup' });
  });
});
