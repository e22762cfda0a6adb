/**
 * What Alice's watcher asks the node's wallet for, for her anchors commitment's CPFP child
 * (src/topics/watch/channel-cpfp.ts): the most the child may ever pay — --max-fee-share of the HTLCs
 * at stake, within --max-fee-rate on the package — and change above dust, not the most a 1,000 vB
 * transaction pays at --max-fee-rate. With the default budget (Core's maxfeerate, 10,000 sat/vB)
 * that was 0.1 BTC: a wallet holding less than that — plenty for any bid on a 5,000 sat HTLC —
 * answered "Insufficient funds" every round, and the commitment went alone at its old agreed fee.
 */
import { describe, expect, it } from 'vitest';
import { channelRound } from '../../../src/topics/watch/channel.ts';
import { DEFAULT_FEE_LIMITS } from '../../../src/lib/tx/fee-guard.ts';
import { cpfpNode } from './cpfp-node.ts';

describe('Alice\'s anchors commitment goes on chain for a 5,000 sat HTLC, the default budget, a wallet of 50,000 sat', () => {
  it('the wallet is asked for at most what the child may pay (half the HTLC) and a margin: the package goes', async () => {
    const n = cpfpNode({ estimate: 11_000, balance: 50_000n, limits: DEFAULT_FEE_LIMITS });
    const [d] = await channelRound(n.host(), n.round(504));
    expect(d, JSON.stringify(d)).toMatchObject({ action: 'exit', txid: n.commitment });
    expect(d!.error).toBeUndefined();
    expect(n.sent).toHaveLength(1);
    expect(n.asked).toHaveLength(1);
    expect(n.asked[0]!).toBeLessThanOrEqual(2500n + 1000n);
    expect(n.feeOf(n.sent[0]!.child)).toBeLessThanOrEqual(2500n);
  });
});

describe('Alice\'s anchors commitment goes on chain in a fee spike; the node\'s wallet holds 500 sat', () => {
  it('the commitment goes alone, the wallet\'s refusal said and the bid\'s shortfall "wallet" — each round, nothing stored', async () => {
    const n = cpfpNode({ estimate: 11_000, balance: 500n, limits: { maxFeeRate: 20, maxFeeShare: 0.5 } });
    for (const tip of [504, 505]) {
      const [d] = await channelRound(n.host(), n.round(tip));
      expect(d, JSON.stringify(d)).toMatchObject({ action: tip === 504 ? 'exit' : 'rebroadcast', txid: n.commitment, shortfall: 'wallet' });
      expect(d!.error).toMatch(/Insufficient funds/);
    }
    expect(n.sent).toHaveLength(0);
    expect(n.watch().funded).toBeUndefined();
  });
});
