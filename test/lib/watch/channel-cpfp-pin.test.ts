/**
 * The peer pins Alice's anchors commitment while her CPFP child is in the node's mempool
 * (src/topics/watch/channel-cpfp.ts): an anchors commitment is version 2, so besides her child on
 * her to_local_anchor the peer may hang its own on its to_remote_anchor — a large one at a low rate
 * (here 95,000 vB paying 95,000 sat). Her next bid replaces only HER child (the one its input
 * conflicts with): Core asks it to pay that child's fee plus the incremental relay fee on its own
 * size (rules 3 and 4), never the peer's child's fee — checked on bitcoind -regtest (Core 30.99,
 * cluster mempool): a parent with a 46,581 vB, 9,500 sat stranger child and a 1,000 sat child of
 * ours took a replacement of ours paying 1,012 sat. The whole commitment's descendant fee as the
 * bar had her watcher hold, "budget" short, every block to the deadline.
 *
 * And a commitment alone in the mempool is Bob's to pin for good: Core's cluster limits (64
 * transactions, 101 kvB) with no CPFP carve-out since cluster mempool — on regtest (30.99) a parent
 * with 63 descendants of a stranger's refused a child on its other output ("too-large-cluster"),
 * while a child already there was replaced in place beside 62 of them. So her commitment goes out
 * with a child even when the schedule asks no more than its agreed fee: one at its own rate.
 */
import { describe, expect, it } from 'vitest';
import { channelRound } from '../../../src/topics/watch/channel.ts';
import { cpfpNode, parse } from './cpfp-node.ts';

describe('Alice\'s anchors commitment and her child in the mempool; Bob hangs a 95,000 vB child paying 1 sat/vB on his anchor', () => {
  it('her next bid replaces her child for its fee plus 100 sat/kvB on its size — not for Bob\'s 95,000 sat too', async () => {
    const bob = { fee: 95_000n, vsize: 95_000 };
    const n = cpfpNode({ estimate: 11_000, balance: 100_000n, limits: { maxFeeRate: 20, maxFeeShare: 0.5 }, bob });
    const [d0] = await channelRound(n.host(), n.round(504));
    expect(d0).toMatchObject({ action: 'exit', txid: n.commitment });
    expect(n.sent).toHaveLength(1);
    const first = n.feeOf(n.sent[0]!.child);

    // Blocks later the schedule asks more: her child replaced on the same coin, for at least its fee + 100 sat/kvB × its size.
    const [d1] = await channelRound(n.host(), n.round(510));
    expect(d1, JSON.stringify(d1)).toMatchObject({ action: 'rebid' });
    expect(d1!.shortfall).toBeUndefined();
    expect(n.sent).toHaveLength(2);
    const second = n.feeOf(n.sent[1]!.child);
    expect(Number(second)).toBeGreaterThanOrEqual(Number(first) + Math.ceil((100 * n.vsizeOf(n.sent[1]!.child)) / 1000));
    expect(second).toBeLessThan(bob.fee); // never Bob's child's fee on top
  });
});

describe('Alice\'s anchors commitment goes on chain, the node estimating 1 sat/vB: its agreed ~10 sat/vB is what the schedule asks', () => {
  it('it goes with a child all the same, at the commitment\'s own rate on the child\'s size: her place in its cluster, which Bob cannot fill, mined with it', async () => {
    const n = cpfpNode({ estimate: 1000, balance: 100_000n, limits: { maxFeeRate: 20, maxFeeShare: 0.5 } });
    const [d] = await channelRound(n.host(), n.round(504));
    expect(d, JSON.stringify(d)).toMatchObject({ action: 'exit', txid: n.commitment });
    expect(d!.error).toBeUndefined();
    expect(d!.shortfall).toBeUndefined();
    expect(n.sent).toHaveLength(1);
    // The commitment's own rate (its fee: the funding's 1,000,000 sat less its outputs) on the child's size, the 73-byte signature
    // counted (the fake wallet's 72-byte one makes it a byte short): the child's rate is the commitment's, give or take a sat.
    const parent = parse(n.sent[0]!.parent);
    let out = 0n;
    for (let i = 0; i < parent.outputsLength; i++) out += parent.getOutput(i).amount!;
    const parentRate = Number(1_000_000n - out) / parent.vsize;
    const child = { fee: Number(n.feeOf(n.sent[0]!.child)), vsize: n.vsizeOf(n.sent[0]!.child) };
    expect(child.fee / child.vsize).toBeGreaterThanOrEqual(parentRate - 0.05);
    expect(child.fee).toBeLessThanOrEqual(Math.ceil(parentRate * (child.vsize + 1)) + 1);
  });
});
