/**
 * Review attacks on `package child --replaces` (issue 24 review): the earlier child's fee
 * sets what our wallet pays, so its inputs are vouched for by the node
 * (src/lib/truc/replaced.ts), never by its file's witness_utxo. A fake node answers here
 * (what it holds is written in the test); the real node: test/regtest/truc-review.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { replacedChild, vouchedReplacedPrevouts, type NodeWord } from '../../../src/lib/truc/replaced.ts';
import { refusalAsync } from '../../setup/refusal.ts';
import type { Prevout } from '../../../src/lib/truc/check.ts';
import { ANYONE, P2A, buildTx, spendAnchor, spendAnyone } from './build.ts';

const COIN = { txid: 'aa'.repeat(32), vout: 0, amount: 100_000n };
const WALLET_COIN: Prevout = { txid: 'cc'.repeat(32), vout: 3, amount: 20_000n, script: ANYONE };
const parent = buildTx(3, [spendAnyone(COIN.txid, COIN.vout)], [{ amount: COIN.amount, script: ANYONE }, { amount: 0n, script: P2A }]);
// The earlier child: the anchor and a 20,000-sat coin, 17,000 back: it pays 3,000 sat.
const earlier = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(WALLET_COIN.txid, WALLET_COIN.vout)], [{ amount: 17_000n, script: ANYONE }]);

const node = (shows: Prevout[], pool: Record<string, { fee: bigint; vsize: number }> = {}): NodeWord => ({
  prevout: async (txid, vout) => shows.find((p) => p.txid === txid && p.vout === vout),
  mempoolEntry: async (txid) => pool[txid] ?? null,
});
const inflated = { ...WALLET_COIN, amount: WALLET_COIN.amount + 1_000_000n };
const code = async (p: Promise<unknown>) => p.then(() => 'accepted', (e: { code?: string }) => e.code);

describe('package child --replaces: the earlier child\'s inputs as the node vouches for them', () => {
  it('an input the node shows is the node\'s: an inflated claim is E_TRUC_PREVOUT_CONFLICT; the true one (or none) is taken', async () => {
    expect(await code(vouchedReplacedPrevouts(node([WALLET_COIN]), earlier.raw, parent.raw, [inflated]))).toBe('E_TRUC_PREVOUT_CONFLICT');
    expect(await vouchedReplacedPrevouts(node([WALLET_COIN]), earlier.raw, parent.raw, [WALLET_COIN])).toEqual([WALLET_COIN]);
    expect(await vouchedReplacedPrevouts(node([WALLET_COIN]), earlier.raw, parent.raw, [])).toEqual([WALLET_COIN]);
  });

  it('an input the node cannot show (no -txindex): the claim stands only if it makes the fee the mempool holds the earlier child at', async () => {
    const pool = { [earlier.parsed.txid]: { fee: 3_000n, vsize: earlier.parsed.vsize } }; // no sigops: Core's vsize is the weight's
    expect(await vouchedReplacedPrevouts(node([], pool), earlier.raw, parent.raw, [WALLET_COIN])).toEqual([WALLET_COIN]);
    expect(await code(vouchedReplacedPrevouts(node([], pool), earlier.raw, parent.raw, [inflated]))).toBe('E_TRUC_PREVOUT_CONFLICT');
    // Not in the mempool: nothing vouches for the claim.
    expect(await code(vouchedReplacedPrevouts(node([]), earlier.raw, parent.raw, [WALLET_COIN]))).toBe('E_TRUC_PREVOUT');
    // No claim and nothing shown.
    expect(await code(vouchedReplacedPrevouts(node([], pool), earlier.raw, parent.raw, []))).toBe('E_TRUC_PREVOUT');
  });

  it('review of issue 37: an earlier child in the node\'s mempool is outbid at the fee the mempool holds it at — its raw hex needs no amounts (a node without -txindex cannot show them), a file inflating them is still refused; one not there is vouched input by input; one that does not spend the parent is E_TRUC_NOT_CHILD', async () => {
    const pool = { [earlier.parsed.txid]: { fee: 3_000n, vsize: earlier.parsed.vsize } };
    expect(await replacedChild(node([], pool), earlier.raw, parent.raw, [])).toEqual({ txid: earlier.parsed.txid, fee: 3_000n });
    expect(await code(replacedChild(node([], pool), earlier.raw, parent.raw, [inflated]))).toBe('E_TRUC_PREVOUT_CONFLICT');
    expect(await code(replacedChild(node([WALLET_COIN], pool), earlier.raw, parent.raw, [inflated]))).toBe('E_TRUC_PREVOUT_CONFLICT');
    expect(await replacedChild(node([WALLET_COIN]), earlier.raw, parent.raw, [])).toEqual({ raw: earlier.raw, prevouts: [WALLET_COIN] });
    expect(await code(replacedChild(node([]), earlier.raw, parent.raw, [WALLET_COIN]))).toBe('E_TRUC_PREVOUT');
    const stranger = buildTx(3, [spendAnyone(WALLET_COIN.txid, WALLET_COIN.vout)], [{ amount: 17_000n, script: ANYONE }]);
    await refusalAsync(replacedChild(node([WALLET_COIN], { [stranger.parsed.txid]: { fee: 3_000n, vsize: stranger.parsed.vsize } }), stranger.raw, parent.raw, []), 'E_TRUC_NOT_CHILD', 4);
  });
});
