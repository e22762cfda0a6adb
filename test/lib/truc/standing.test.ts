/**
 * Where a parent stands with the node (src/lib/truc/standing.ts, review of issue 37): a parent
 * the chain or the mempool has already judged is refused before a child is built for it, with
 * Core's reason; a conflict in the mempool is returned for the child to outbid. A fake node
 * answers here (what it holds is written in the test); the real node:
 * test/regtest/truc-attacks.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { parentStanding, type StandingWord } from '../../../src/lib/truc/standing.ts';
import { refusalAsync } from '../../setup/refusal.ts';
import { ANYONE, P2A, buildTx, spendAnyone, type Built } from './build.ts';

const COIN = { txid: 'aa'.repeat(32), vout: 0 };
const parentOf = (txid: string, vout: number): Built => buildTx(3, [spendAnyone(txid, vout)], [{ amount: 99_000n, script: ANYONE }, { amount: 0n, script: P2A }]);
const parent = parentOf(COIN.txid, COIN.vout);
const EVICTION = { descendantFee: 4_400n, descendantVsize: 96, chunkFee: 4_400n, chunkWeight: 381 };

type Node = { unspent?: Record<string, number>; spentBy?: Record<string, string>; pool?: Record<string, Built> };
const word = (n: Node): StandingWord => ({
  unspent: async (txid, vout) => (n.unspent?.[`${txid}:${vout}`] === undefined ? undefined : { confirmations: n.unspent[`${txid}:${vout}`]! }),
  spender: async (txid, vout) => n.spentBy?.[`${txid}:${vout}`],
  mempoolTx: async (txid) => n.pool?.[txid]?.raw,
  eviction: async (txid) => (n.pool?.[txid] ? EVICTION : null),
});
const key = `${COIN.txid}:${COIN.vout}`;

describe('a parent\'s standing with the node', () => {
  it('its inputs unspent and confirmed, or spent by itself in the mempool with confirmed inputs: no conflict', async () => {
    expect(await parentStanding(word({ unspent: { [key]: 6 } }), parent.raw)).toEqual({ conflicts: [] });
    expect(await parentStanding(word({ spentBy: { [key]: parent.parsed.txid }, pool: { [parent.parsed.txid]: parent } }), parent.raw)).toEqual({ conflicts: [] });
  });

  it('an input from a mempool transaction: E_TRUC_TOO_MANY_ANCESTORS (a v3 source) or E_TRUC_INHERITANCE (v2, Core\'s whole string); the same for a parent already in the mempool', async () => {
    for (const version of [3, 2]) {
      const g = buildTx(version, [spendAnyone('bb'.repeat(32), 0)], [{ amount: 100_000n, script: ANYONE }]);
      const p = parentOf(g.parsed.txid, 0);
      const gKey = `${g.parsed.txid}:0`;
      const code = version === 3 ? 'E_TRUC_TOO_MANY_ANCESTORS' : 'E_TRUC_INHERITANCE';
      const e = await refusalAsync(parentStanding(word({ unspent: { [gKey]: 0 }, pool: { [g.parsed.txid]: g } }), p.raw), code, 4);
      if (version === 2) expect(e.message).toContain(`TRUC-violation, version=3 tx ${p.parsed.txid} (wtxid=${p.parsed.wtxid}) cannot spend from non-version=3 tx ${g.parsed.txid} (wtxid=${g.parsed.wtxid})`);
      await refusalAsync(parentStanding(word({ spentBy: { [gKey]: p.parsed.txid }, pool: { [g.parsed.txid]: g, [p.parsed.txid]: p } }), p.raw), code, 4);
    }
  });

  it('an input spent in a block, or never made: E_TRUC_PARENT_SPENT', async () => {
    await refusalAsync(parentStanding(word({}), parent.raw), 'E_TRUC_PARENT_SPENT', 4);
  });

  it('an input spent in the mempool by another transaction: that conflict and what replacing it evicts, once', async () => {
    const theirs = buildTx(3, [spendAnyone(COIN.txid, COIN.vout)], [{ amount: 95_600n, script: ANYONE }]);
    expect(await parentStanding(word({ spentBy: { [key]: theirs.parsed.txid }, pool: { [theirs.parsed.txid]: theirs } }), parent.raw))
      .toEqual({ conflicts: [{ txid: theirs.parsed.txid, ...EVICTION }] });
  });
});
