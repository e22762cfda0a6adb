/**
 * A pair takes only anchored coins (floor.ts `checkPairBumpable`): a channel pair
 * (O = A + B) cannot bump an old-terms backup — it pays the pair, which neither part signs
 * alone — so if fees rise above the terms' fixed fee while the previous owner's older
 * backup is also final, that backup can confirm first. Each part refuses such a coin
 * (E_BACKUP_UNBUMPABLE, exit 4) at verifying and at accepting, with nothing returned to
 * keep; the opt-in (`allowUnanchored`, --allow-unanchored) takes it; anchored terms are
 * taken by default. A single owner, which bumps its own backup output, is not affected.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as op from '../../../src/lib/statechain/operator.ts';
import * as tr from '../../../src/lib/statechain/transfer.ts';
import * as joint from '../../../src/lib/statechain/joint.ts';
import { DEFAULT_FLOOR } from '../../../src/lib/statechain/floor.ts';
import { P2A_SCRIPT, parseTransaction } from '../../../src/lib/statechain/coin.ts';
import { toHex } from '../../../src/lib/bytes.ts';
import { refusal } from '../../setup/refusal.ts';
import { ANCHORED_TERMS, TERMS, cleanup, confirmedCoin, party } from './harness.ts';

afterAll(cleanup);

const OPT_IN = { ...DEFAULT_FLOOR, allowUnanchored: true };

/** Alice's coin under `terms`, handed towards the pair Alice+Bob (new parties) up to the package sealed to A. */
async function towardsPair(terms: typeof TERMS) {
  const { chain, d } = await confirmedCoin(terms);
  const facts = { tipHeight: 200, deposit: chain.deposit! };
  const alice = party('anchor-pair-a');
  const bob = party('anchor-pair-b');
  const b = joint.startPart(d.ownerRecord.coin_id, d.operator.auth.publicKey, bob);
  const a = joint.startJointReceive(d.ownerRecord.coin_id, d.operator.auth.publicKey, b.message as never, alice);
  const sign = await tr.transferSign(d.ownerRecord, a.message as never, 200, d.owner);
  const cos = await op.cosignTransfer(d.opRecord, sign.message as never, d.opCtx);
  const pkg = await tr.transferPackage(sign.record, cos.message as never, d.owner);
  return { d, facts, alice, bob, a, b, cos, pkg };
}

describe('a pair receiving a coin whose terms have no anchor', () => {
  it('A refuses it at verifying and at accepting, B at accepting (E_BACKUP_UNBUMPABLE, 4), naming the fix; nothing is returned to keep', async () => {
    const s = await towardsPair(TERMS);
    const inner = joint.openJointPackage(s.pkg.message as never, s.a.pending, s.alice.auth.secretKey);
    // A's statechain-verify and A's accepting step (jointTakePackage: the record and handoff come back only on success).
    const e = refusal(() => joint.jointVerify(s.pkg.message as never, s.a.pending, inner, s.facts, DEFAULT_FLOOR), 'E_BACKUP_UNBUMPABLE', 4);
    expect(e.message).toContain('--allow-unanchored');
    expect(e.message).toContain('--anchor --backup-fee 0');
    expect(e.message).toContain('400 sat');
    refusal(() => joint.jointTakePackage(s.pkg.message as never, s.a.pending, s.facts, { ...s.alice, floor: DEFAULT_FLOOR }), 'E_BACKUP_UNBUMPABLE', 4);
    // No floor given at all is the default floor: refused too.
    refusal(() => joint.jointTakePackage(s.pkg.message as never, s.a.pending, s.facts, s.alice), 'E_BACKUP_UNBUMPABLE', 4);
    // B checks for itself: A opted in and handed it over, B (default floor) still refuses.
    const taken = joint.jointTakePackage(s.pkg.message as never, s.a.pending, s.facts, { ...s.alice, floor: OPT_IN });
    refusal(() => joint.jointTakeHandoff(taken.message as never, s.b.pending, s.facts, s.bob), 'E_BACKUP_UNBUMPABLE', 4);
  });

  it('the opt-in (allowUnanchored) takes it: both parts accept and the operator completes the transfer', async () => {
    const s = await towardsPair(TERMS);
    const taken = joint.jointTakePackage(s.pkg.message as never, s.a.pending, s.facts, { ...s.alice, floor: OPT_IN });
    expect(taken.verified.anchor).toBe(false);
    expect(taken.verified.backupFeeSat).toBe(400);
    const t2 = joint.jointTakeHandoff(taken.message as never, s.b.pending, s.facts, { ...s.bob, floor: OPT_IN });
    const accept = joint.jointAcceptFrom(t2.message as never, taken.record, s.alice);
    const done = op.completeTransfer(s.cos.record, accept as never, s.d.opCtx);
    expect(done.record.statement.owner_share).toBe(s.a.pending.share);
  });

  it('a single owner is not affected: it takes the same old-terms coin with the default floor', async () => {
    const { chain, d } = await confirmedCoin(TERMS);
    const carol = party('anchor-single');
    const req = tr.startReceive(d.ownerRecord.coin_id, d.operator.auth.publicKey, carol);
    const sign = await tr.transferSign(d.ownerRecord, req.message as never, 200, d.owner);
    const cos = await op.cosignTransfer(d.opRecord, sign.message as never, d.opCtx);
    const pkg = await tr.transferPackage(sign.record, cos.message as never, d.owner);
    const accepted = tr.acceptPackage(pkg.message as never, req.pending, { tipHeight: 200, deposit: chain.deposit! }, carol, DEFAULT_FLOOR);
    expect(accepted.verified.anchor).toBe(false);
  });
});

describe('a pair receiving an anchored coin', () => {
  it('is taken with the default floor by both parts; the pair\'s backup carries the P2A anchor and pays zero fee', async () => {
    const s = await towardsPair(ANCHORED_TERMS);
    const inner = joint.openJointPackage(s.pkg.message as never, s.a.pending, s.alice.auth.secretKey);
    expect(joint.jointVerify(s.pkg.message as never, s.a.pending, inner, s.facts, DEFAULT_FLOOR).anchor).toBe(true);
    const taken = joint.jointTakePackage(s.pkg.message as never, s.a.pending, s.facts, { ...s.alice, floor: DEFAULT_FLOOR });
    const t2 = joint.jointTakeHandoff(taken.message as never, s.b.pending, s.facts, { ...s.bob, floor: DEFAULT_FLOOR });
    expect(t2.verified).toMatchObject({ anchor: true, backupFeeSat: 0 });
    const newest = parseTransaction(t2.record.backups.at(-1)!, 'backup');
    expect(newest.outputsLength).toBe(2);
    expect(toHex(newest.getOutput(1).script!)).toBe(toHex(P2A_SCRIPT));
    expect(newest.getOutput(0).amount).toBe(100_000n);
    const done = op.completeTransfer(s.cos.record, joint.jointAcceptFrom(t2.message as never, taken.record, s.alice) as never, s.d.opCtx);
    expect(done.record.statement.owner_share).toBe(s.a.pending.share);
  });
});
