/**
 * Invariant: an open request costs its sender nothing, so it may not cost the mint
 * state forever. An open never paid whose funding the chain does not show
 * UNFUNDED_OPEN_EXPIRY_BLOCKS after it was accepted is forgotten by a later open (a few
 * at a time, so an open's cost does not grow with the number of contracts); its
 * outpoint stays bound, so the mint still never co-signs a second refund for it.
 */
import { describe, it, expect } from 'vitest';
import * as mint from '../../../src/lib/credit/mint.ts';
import * as user from '../../../src/lib/credit/user-open.ts';
import { termsFromJson } from '../../../src/lib/credit/codec.ts';
import { UNFUNDED_OPEN_EXPIRY_BLOCKS } from '../../../src/lib/credit/mint.ts';
import { CHANGE, REFUND, fundingPsbt, offer, world, type TestChain } from './world.ts';
import { UsageError } from '../../../src/lib/errors.ts';
import { expectRefused, type World } from './tamper.ts';

const openRequest = (w: World, input: string, expiry = w.chain.height + 4320) =>
  user.openRequest(w.user, { offer: offer(), fundingPsbt: fundingPsbt(100_000n, input), expiryHeight: expiry, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2 });

/** Accept `n` opens at the current tip, none funded; returns their requests. */
async function unfundedOpens(w: World, n: number, from = 0x10) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const req = await openRequest(w, (from + i).toString(16));
    await mint.acceptOpen(w.mint, req as never);
    out.push(req as { contract_id: string; contract: never });
  }
  return out;
}

describe('unfunded opens expire', () => {
  it('a later open forgets at most four opens as old as the expiry whose funding is not on chain, oldest first; a funded one is kept', async () => {
    const w = world();
    try {
      const stale = await unfundedOpens(w, 6); // at height 1000
      w.chain.height += 1;
      const [funded] = await unfundedOpens(w, 1, 0x40); // at 1001, then seen on chain
      const c = termsFromJson(funded!.contract, 'regtest');
      w.chain.confirm(c.funding.txid, c.funding.vout, c.capacity, c.script, 1);
      const left = async () => new Set((await w.mintBook.list()).map((r) => r.contract_id));
      const staleLeft = async () => {
        const l = await left();
        return stale.filter((r) => l.has(r.contract_id)).length;
      };

      w.chain.height = 1000 + UNFUNDED_OPEN_EXPIRY_BLOCKS - 1;
      await unfundedOpens(w, 1, 0x50); // one block short: nothing forgotten
      expect(await staleLeft()).toBe(6);
      w.chain.height += 1;
      await unfundedOpens(w, 1, 0x51); // the six are due: four looked at, four forgotten
      expect(await staleLeft()).toBe(2);
      w.chain.height += 1;
      const [last] = await unfundedOpens(w, 1, 0x52); // the last two, and the funded one (due now) is kept
      expect(await staleLeft()).toBe(0);
      expect((await w.mintBook.get(funded!.contract_id))!.funding_seen).toBe(true);
      expect((await left()).has(last!.contract_id)).toBe(true);
      expect(await w.mintBook.list()).toHaveLength(4); // funded + the three later opens
    } finally {
      w.dir.cleanup();
    }
  });

  it('a paid contract never expires, however old', async () => {
    const w = world();
    try {
      const [req] = await unfundedOpens(w, 1);
      const record = (await w.mintBook.get(req!.contract_id))!;
      await w.mintBook.put({ ...record, latest: { state: 1, cumulative_sat: 1000, txid: '00'.repeat(32), hex: '', receipt: {} as never } });
      w.chain.height += 10 * UNFUNDED_OPEN_EXPIRY_BLOCKS;
      await unfundedOpens(w, 1, 0x70);
      expect((await w.mintBook.get(req!.contract_id))?.latest?.state).toBe(1);
    } finally {
      w.dir.cleanup();
    }
  });

  it('an open paid after the list of expired opens was read is neither forgotten nor written back unpaid: each is read again, locked, before it is expired', async () => {
    const w = world();
    try {
      const [req] = await unfundedOpens(w, 1);
      const id = req!.contract_id;
      w.chain.height += UNFUNDED_OPEN_EXPIRY_BLOCKS;
      // Another process's first payment commits between the list and the expiry (on PostgreSQL
      // the list is a plain read; the records are locked by \`get\`).
      const listed = w.mintBook.unfundedOpens.bind(w.mintBook);
      w.mintBook.unfundedOpens = async (before: number, limit: number) => {
        const list = await listed(before, limit);
        const record = (await w.mintBook.get(id))!;
        await w.mintBook.put({ ...record, latest: { state: 1, cumulative_sat: 1000, txid: '00'.repeat(32), hex: '', receipt: {} as never } });
        return list;
      };
      await unfundedOpens(w, 1, 0x71);
      expect((await w.mintBook.get(id))?.latest?.state).toBe(1);
    } finally {
      w.dir.cleanup();
    }
  });

  it('a forgotten open keeps its outpoint: other terms on it are refused (E_FUNDING_IN_USE), the same terms open again', async () => {
    const w = world();
    try {
      const funding = fundingPsbt(100_000n, '20');
      const first = (await user.openRequest(w.user, { offer: offer(), fundingPsbt: funding, expiryHeight: w.chain.height + 4320, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2 })) as { contract_id: string };
      const accept = await mint.acceptOpen(w.mint, first as never);
      w.chain.height += UNFUNDED_OPEN_EXPIRY_BLOCKS;
      await unfundedOpens(w, 1, 0x30);
      expect(await w.mintBook.get(first.contract_id)).toBeUndefined();
      const other = await user.openRequest(w.user, { offer: offer(), fundingPsbt: funding, expiryHeight: w.chain.height + 4320, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2 });
      await expectRefused(w.dir.path, () => mint.acceptOpen(w.mint, other as never), { code: 'E_FUNDING_IN_USE', exitCode: 4, message: new RegExp(`already funds contract ${first.contract_id}`) });
      const again = (await mint.acceptOpen(w.mint, first as never)) as { refund_psbt: string };
      expect(again.refund_psbt).toBe((accept as { refund_psbt: string }).refund_psbt);
    } finally {
      w.dir.cleanup();
    }
  });

  it('offline, when the chain cannot say whether a funding exists, nothing expires and the open goes on', async () => {
    const w = world();
    try {
      const [stale] = await unfundedOpens(w, 1);
      w.chain.height += UNFUNDED_OPEN_EXPIRY_BLOCKS;
      const unknowing = { ...w.mint, chain: Object.assign(Object.create(w.chain) as TestChain, { utxo: async () => Promise.reject(new UsageError('E_CHAIN_UNKNOWN', 'offline: the status is unknown')) }) };
      const req = await openRequest(w, '33');
      await mint.acceptOpen(unknowing, req as never);
      expect((await w.mintBook.get(stale!.contract_id))?.opened_at_height).toBe(1000);
      expect(await w.mintBook.get((req as { contract_id: string }).contract_id)).toMatchObject({ status: 'open' });
    } finally {
      w.dir.cleanup();
    }
  });
});
