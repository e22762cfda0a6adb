/**
 * Review (adversarial, channel party): the cheater leaves his revoked commitment unmined (an old
 * state at an old, low feerate sits in the mempool; nobody can take anything meanwhile). The
 * schedule's start is fixed at the first bid while the conservative deadline moves on with the
 * tip: after k blocks the bid is (k)/(k + to_self_delay − 1) of the way to the budget though the
 * whole punishment window is still ahead. Pure.
 */
import { describe, expect, it } from 'vitest';
import { decideChannel, type ChannelFacts } from '../../../src/lib/watch/channel.ts';

const base = (tip: number, startTip: number): ChannelFacts => ({
  channel: `${'ab'.repeat(32)}:0`, tip, toSelfDelay: 144, startTip,
  spend: { kind: 'revoked', txid: 'cd'.repeat(32), confirmations: 0, commitmentNumber: 0 },
  items: [{ outpoint: `${'cd'.repeat(32)}:2`, valueSat: 1_000_000, weight: 500, inputs: 1, sentBefore: true }],
  startRate: 1000, incrementalRate: 1000, limits: { maxFeeRate: 100, maxFeeShare: 0.5 }, dustSat: 294,
});

describe('an unmined revoked commitment', () => {
  it('does not ramp the penalty to its budget while the punishment window has not started', () => {
    const fresh = decideChannel(base(1000, 1000));
    const later = decideChannel(base(1500, 1000)); // 500 blocks in the mempool: still 144 blocks ahead once mined
    console.log({ fresh: fresh.fee_rate, later: later.fee_rate, blocks_left: later.blocks_left });
    expect(later.blocks_left).toBe(144);
    expect(later.fee_rate!).toBeLessThan(0.5 * 100); // it is at ~78% of the 100 sat/vB budget
  });
});
