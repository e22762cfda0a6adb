/**
 * The parent's inputs as the node vouches for them (src/lib/truc/vouched.ts; issue 37
 * finding 3): the parent's fee sets the child's, so with a node no amount is taken on a
 * file's word. A fake node answers here (what it holds is written in the test); the real
 * node: test/regtest/truc-review.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { vouchedPrevouts, vouchedWalletCoins, type NodeWord, type UnspentWord } from '../../../src/lib/truc/vouched.ts';
import type { Prevout } from '../../../src/lib/truc/check.ts';
import { refusal } from '../../setup/refusal.ts';
import { ANYONE, P2A, buildTx, p2wshOf, sigopScript, spendAnyone } from './build.ts';

const A: Prevout = { txid: 'aa'.repeat(32), vout: 0, amount: 100_000n, script: ANYONE };
const B: Prevout = { txid: 'bb'.repeat(32), vout: 2, amount: 30_000n, script: ANYONE };
// A parent spending A and B, paying 578 sat: 129,422 out.
const parent = buildTx(3, [spendAnyone(A.txid, A.vout), spendAnyone(B.txid, B.vout)], [{ amount: 129_182n, script: ANYONE }, { amount: 240n, script: P2A }]);
const node = (shows: Prevout[], pool: Record<string, { fee: bigint; vsize: number }> = {}): NodeWord => ({
  prevout: async (txid, vout) => shows.find((p) => p.txid === txid && p.vout === vout),
  mempoolEntry: async (txid) => pool[txid] ?? null,
});
const WHO = { name: 'parent', source: 'the parent\'s file' };
const vouch = (n: NodeWord, claims: Prevout[]) => vouchedPrevouts(n, parent.raw, claims, WHO);
const refused = async (p: Promise<unknown>, code: string, exit: number) => {
  const e = await p.then(() => undefined, (x: unknown) => x);
  return refusal(() => { if (e) throw e; }, code, exit);
};

describe('the parent\'s inputs: every amount and script is the node\'s', () => {
  it('an input the node shows is the node\'s: a claim over or under it, or to another script, is refused naming the input; none or the true one is taken', async () => {
    const shows = node([A, B]);
    for (const lie of [{ ...A, amount: A.amount + 1_000_000n }, { ...A, amount: A.amount - 1n }, { ...A, script: P2A }]) {
      const e = await refused(vouch(shows, [lie, B]), 'E_TRUC_PREVOUT_CONFLICT', 2);
      expect(e.message).toContain(`parent input 0 spends ${A.txid}:0`);
    }
    const e = await refused(vouch(shows, [A, { ...B, amount: 1n }]), 'E_TRUC_PREVOUT_CONFLICT', 2);
    expect(e.message).toContain(`parent input 1 spends ${B.txid}:2: the parent's file says 1 sat, the node 30000 sat`);
    expect(await vouch(shows, [A, B])).toEqual([A, B]);
    expect(await vouch(shows, [])).toEqual([A, B]);
  });

  it('an input the node cannot show (spent in its mempool by the parent, no -txindex): the claims stand only if they make the fee the mempool holds the parent at', async () => {
    const pool = { [parent.parsed.txid]: { fee: 578n, vsize: parent.parsed.vsize } }; // OP_TRUE spends: no sigops, Core's vsize is the weight's
    expect(await vouch(node([B], pool), [A])).toEqual([A, B]);
    await refused(vouch(node([B], pool), [{ ...A, amount: A.amount + 1_000_000n }]), 'E_TRUC_PREVOUT_CONFLICT', 2);
    await refused(vouch(node([B], { [parent.parsed.txid]: { fee: 577n, vsize: parent.parsed.vsize } }), [A]), 'E_TRUC_PREVOUT_CONFLICT', 2);
    // Not in the mempool: nothing vouches for the claim. No claim and nothing shown.
    await refused(vouch(node([B]), [A]), 'E_TRUC_PREVOUT', 2);
    await refused(vouch(node([B], pool), []), 'E_TRUC_PREVOUT', 2);
  });

  it('an input the node cannot show: a claimed script that hides its sigops (a heavy P2WSH said to be taproot) is refused, though the fee is the mempool\'s — Core\'s vsize is the node\'s word too', async () => {
    // A parent spending a P2WSH whose witness script holds 200 sigops: Core's vsize is 200 × 20 / 4 = 1,000 vB (its
    // weight is ~150 vB). Test code's numbers: the sigops are the script's, never counted by the product here.
    const heavy = sigopScript(200);
    const H: Prevout = { txid: 'dd'.repeat(32), vout: 1, amount: 100_000n, script: p2wshOf(heavy) };
    const heavyParent = buildTx(3, [spendAnyone(H.txid, H.vout, heavy)], [{ amount: 98_760n, script: ANYONE }, { amount: 240n, script: P2A }]);
    expect(Math.ceil(heavyParent.parsed.weight / 4)).toBeLessThan(200);
    const pool = { [heavyParent.parsed.txid]: { fee: 1_000n, vsize: 1_000 } };
    const vouchHeavy = (claims: Prevout[]) => vouchedPrevouts(node([], pool), heavyParent.raw, claims, WHO);
    expect(await vouchHeavy([H])).toEqual([H]);
    const taproot = Uint8Array.from([0x51, 0x20, ...new Uint8Array(32).fill(7)]);
    const e = await refused(vouchHeavy([{ ...H, script: taproot }]), 'E_TRUC_PREVOUT_CONFLICT', 2);
    expect(e.message).toContain(`the node's mempool holds it at 1000 vB`);
    // Another P2WSH program: the witness script is the parent's own last item, so its sigops still count — the lie changes nothing Core measures.
    expect(await vouchHeavy([{ ...H, script: ANYONE }])).toEqual([{ ...H, script: ANYONE }]);
  });

  it('an output of the package itself (the parent\'s, for a child) is read from the bytes, not asked', async () => {
    const child = buildTx(3, [spendAnyone(parent.parsed.txid, 0), spendAnyone(A.txid, 5)], [{ amount: 1_000n, script: ANYONE }]);
    const C: Prevout = { txid: A.txid, vout: 5, amount: 7_000n, script: ANYONE };
    const asked: string[] = [];
    const n: NodeWord = { prevout: async (txid, vout) => { asked.push(`${txid}:${vout}`); return txid === C.txid && vout === 5 ? C : undefined; }, mempoolEntry: async () => null };
    expect(await vouchedPrevouts(n, child.raw, [], { ...WHO, name: 'child', inside: (txid, vout) => (txid === parent.parsed.txid ? parent.parsed.outputs[vout]! : undefined) })).toEqual([C]);
    expect(asked).toEqual([`${A.txid}:5`]);
  });
});

describe('the wallet PSBT\'s coins: each unspent and confirmed as the node holds it (review of issue 37)', () => {
  const W: Prevout = { txid: 'ee'.repeat(32), vout: 3, amount: 50_000n, script: ANYONE };
  const holds = (confirmations: number, coin = W): UnspentWord => async (txid, vout) => (txid === coin.txid && vout === coin.vout ? { amount: coin.amount, script: coin.script, confirmations } : undefined);
  const check = (u: UnspentWord, coins: Prevout[]) => vouchedWalletCoins(u, coins, '--wallet-psbt');
  it('the coin as the node holds it, confirmed, passes; overstated, understated or to another script: E_TRUC_PREVOUT_CONFLICT naming it; not held: E_WALLET_PSBT_INPUT (4); in the mempool only: E_WALLET_PSBT_INPUT (4)', async () => {
    await check(holds(1), [W]);
    for (const lie of [{ ...W, amount: W.amount + 300n }, { ...W, amount: W.amount - 1n }, { ...W, script: P2A }]) {
      const e = await refused(check(holds(1), [lie]), 'E_TRUC_PREVOUT_CONFLICT', 2);
      expect(e.message).toContain(`--wallet-psbt input 0 spends ${W.txid}:3`);
    }
    await refused(check(holds(1), [{ ...W, vout: 4 }]), 'E_WALLET_PSBT_INPUT', 4);
    await refused(check(holds(0), [W]), 'E_WALLET_PSBT_INPUT', 4);
  });
});
