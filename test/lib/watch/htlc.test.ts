/**
 * The payer's refund of an HTLC or a PTLC, as a watcher decides it (src/lib/watch/htlc.ts): one
 * narrated output, then the module's INVARIANTS as properties over any locktime, tip, funding,
 * spend, stored refund and key — and `spendPath` on real claims and refunds built by the HTLC and
 * PTLC code (seed's P2WSH branches, taproot leaves, a PTLC's key path).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { sha256 } from '@noble/hashes/sha2.js';
import { Transaction } from '@scure/btc-signer';
import { decidePayer, spendPath, type OutputSpend, type PayerFacts, type PayerRow } from '../../../src/lib/watch/htlc.ts';
import { FINAL_DEPTH, SENDING } from '../../../src/lib/watch/decision.ts';
import { htlcOutput, type HtlcOutput } from '../../../src/lib/htlc/htlc.ts';
import { buildSpend } from '../../../src/lib/htlc/spend.ts';
import { ptlcOutput } from '../../../src/lib/ptlc/ptlc.ts';
import { refundTransaction } from '../../../src/lib/ptlc/spend.ts';
import { keyPair } from '../../../src/lib/keys/keys.ts';
import { fromHex } from '../../../src/lib/bytes.ts';

const L = 900_000;
const row: PayerRow = { kind: 'htlc-payer', contract: `${'ab'.repeat(32)}:1`, locktime: L };
const facts = (tip: number, extra: Partial<PayerFacts> = {}): PayerFacts => ({ tip, funding: 3, output: { where: 'none' }, ...extra });

describe('Alice\'s HTLC, funded at ab…ab:1, its refund final from the tip at 900,000', () => {
  it('one block before: nothing (Core would refuse it non-final); at L: refund', () => {
    expect(decidePayer(row, facts(L - 1))).toMatchObject({ kind: 'htlc-payer', action: 'none', deadline: L, blocks_left: 1 });
    expect(decidePayer(row, facts(L))).toMatchObject({ action: 'refund', blocks_left: 0 });
  });
  it('its refund in the mempool: rebid (the watcher replaces it within the budget when fees rise), also an earlier one than the bid it stored last (killed before that send, or the node refused it); lost (evicted, un-mined and dropped): sent again', () => {
    expect(decidePayer(row, facts(L, { refund: { txid: 'r1', confirmations: null }, output: { where: 'mempool', txid: 'r1', path: 'refund' } }))).toMatchObject({ action: 'rebid', txid: 'r1' });
    expect(decidePayer(row, facts(L, { refund: { txid: 'r1', confirmations: null }, output: { where: 'mempool', txid: 'r0', path: 'refund' } }))).toMatchObject({ action: 'rebid', txid: 'r0' });
    expect(decidePayer(row, facts(L, { output: { where: 'mempool', txid: 'r0', path: 'refund' } }))).toMatchObject({ action: 'rebid', txid: 'r0' });
    expect(decidePayer(row, facts(L + 1, { refund: { txid: 'r1', confirmations: null } }))).toMatchObject({ action: 'rebroadcast' });
  });
  it('mined: wait to six confirmations, then done', () => {
    expect(decidePayer(row, facts(L + 2, { refund: { txid: 'r1', confirmations: 1 }, output: { where: 'block' } }))).toMatchObject({ action: 'wait', txid: 'r1' });
    expect(decidePayer(row, facts(L + 7, { refund: { txid: 'r1', confirmations: 6 }, output: { where: 'block' } }))).toMatchObject({ action: 'done', txid: 'r1' });
  });
  it('Bob\'s claim in the mempool, before or after L: wait (the payment is paid), never replaced; in a block: done', () => {
    for (const tip of [L - 3, L + 3]) expect(decidePayer(row, facts(tip, { output: { where: 'mempool', txid: 'c1', path: 'claim' } }))).toMatchObject({ action: 'wait', txid: 'c1' });
    expect(decidePayer(row, facts(L + 3, { output: { where: 'block' } })).reason).toMatch(/claim/);
  });
  it('the funding unknown to the node: nothing to refund, whatever the tip', () => {
    expect(decidePayer(row, facts(L + 100, { funding: null }))).toMatchObject({ action: 'none' });
  });
  it('a key that is not Alice\'s: hold when the refund is due, with E_WRONG_KEY; nothing before', () => {
    const wrongKey = 'E_WRONG_KEY: this key is not the payer\'s';
    expect(decidePayer(row, facts(L - 1, { wrongKey }))).toMatchObject({ action: 'none' });
    expect(decidePayer(row, facts(L, { wrongKey }))).toMatchObject({ action: 'hold', error: wrongKey });
  });
});

// Properties: any locktime, tip, funding, spend, stored refund and key.
const spendArb: fc.Arbitrary<OutputSpend> = fc.oneof(
  fc.constant({ where: 'none' as const }),
  fc.constant({ where: 'block' as const }),
  fc.record({ where: fc.constant('mempool' as const), txid: fc.constantFrom('c', 'r', 'k'), path: fc.constantFrom('claim' as const, 'refund' as const, 'other' as const) }),
);
const payerCase = fc.record({
  locktime: fc.integer({ min: 1, max: 499_999_999 }),
  offset: fc.integer({ min: -200, max: 200 }),
  funding: fc.option(fc.integer({ min: 0, max: 100 }), { nil: null }),
  output: spendArb,
  refund: fc.option(fc.record({ txid: fc.constant('r'), confirmations: fc.option(fc.integer({ min: 0, max: 20 }), { nil: null }) }), { nil: undefined }),
  wrong: fc.boolean(),
  kind: fc.constantFrom('htlc-payer' as const, 'ptlc-payer' as const),
});
type PayerCase = typeof payerCase extends fc.Arbitrary<infer T> ? T : never;
const decide = (c: PayerCase) => {
  const tip = Math.max(0, c.locktime + c.offset);
  const d = decidePayer({ kind: c.kind, contract: 'x', locktime: c.locktime }, {
    tip, funding: c.funding, output: c.output, ...(c.refund ? { refund: c.refund } : {}), ...(c.wrong ? { wrongKey: 'E_WRONG_KEY: x' } : {}),
  });
  return { tip, d };
};
const minedRefund = (c: PayerCase) => c.refund !== undefined && c.refund.confirmations !== null && c.refund.confirmations >= 1;

describe('invariants (src/lib/watch/htlc.ts)', () => {
  it('nothing is sent before the refund is final, nor with the funding unknown, nor over a spend in the mempool but its own refund (re-bid)', () => {
    fc.assert(fc.property(payerCase, (c) => {
      const { tip, d } = decide(c);
      const own = c.output.where === 'mempool' && c.output.path === 'refund';
      if (tip < c.locktime || c.funding === null || (c.output.where !== 'none' && !own)) expect(SENDING.has(d.action)).toBe(false);
      if (c.output.where === 'mempool' && c.funding !== null && !minedRefund(c)) expect(d).toMatchObject({ action: own && tip >= c.locktime && !c.wrong ? 'rebid' : 'wait', txid: c.output.txid });
      if (d.action === 'rebid') expect(own).toBe(true); // never over a claim or another's spend
    }));
  });

  it('from the tip at L, a funded and unspent output is refunded (again when the last is lost), unless the key is not the payer\'s', () => {
    fc.assert(fc.property(payerCase, (c) => {
      const { tip, d } = decide(c);
      if (tip >= c.locktime && c.funding !== null && c.output.where === 'none' && !minedRefund(c)) {
        expect(d.action).toBe(c.wrong ? 'hold' : c.refund ? 'rebroadcast' : 'refund');
        if (c.wrong) expect(d.error).toMatch(/^E_WRONG_KEY: /);
      }
      if (SENDING.has(d.action)) expect(c.wrong).toBe(false);
    }));
  });

  it('done only when spent in a block by anything but the last refund, or by that refund FINAL_DEPTH deep; short of it, wait', () => {
    fc.assert(fc.property(payerCase, (c) => {
      const { d } = decide(c);
      if (minedRefund(c)) expect(d.action).toBe(c.refund!.confirmations! >= FINAL_DEPTH ? 'done' : 'wait');
      else if (d.action === 'done') expect({ funding: c.funding !== null, where: c.output.where }).toEqual({ funding: true, where: 'block' });
    }));
  });

  it('the deadline is the locktime, blocks_left its distance from the tip, the kind the row\'s', () => {
    fc.assert(fc.property(payerCase, (c) => {
      const { tip, d } = decide(c);
      expect({ kind: d.kind, deadline: d.deadline, blocks_left: d.blocks_left }).toEqual({ kind: c.kind, deadline: c.locktime, blocks_left: c.locktime - tip });
    }));
  });
});

describe('spendPath: which path a transaction spends the output through, on spends the HTLC and PTLC code builds', () => {
  const alice = keyPair(fromHex('11'.repeat(32)));
  const bob = keyPair(fromHex('22'.repeat(32)));
  const preimage = sha256(new TextEncoder().encode('spend path'));
  const outpoint = { txid: 'cd'.repeat(32), vout: 2 };
  const spend = (htlc: HtlcOutput, path: 'claim' | 'refund') => fromHex(buildSpend({
    htlc, path, outpoint, amountSat: 50_000n, destination: htlc.scriptPubKey, feeRate: 2, signer: path === 'claim' ? bob : alice, ...(path === 'claim' ? { preimage } : {}),
  }).hex);
  const terms = (htlc: HtlcOutput) => ({ ...(htlc.witnessScript ? { witnessScript: htlc.witnessScript } : {}), ...(htlc.taproot ? { refundLeaf: htlc.taproot.refundLeaf } : {}), keyPathIsClaim: false });

  for (const kind of ['seed', 'taproot'] as const) {
    it(`${kind} HTLC: the claim (preimage) and the refund told apart; another outpoint is not this output's spend`, () => {
      const htlc = htlcOutput({ kind, paymentHash: sha256(preimage), recipient: bob.publicKey, payer: alice.publicKey, locktime: 1100, ...(kind === 'seed' ? { sizeCheck: true } : {}) } as never);
      expect(spendPath(spend(htlc, 'claim'), outpoint, terms(htlc))).toBe('claim');
      expect(spendPath(spend(htlc, 'refund'), outpoint, terms(htlc))).toBe('refund');
      expect(spendPath(spend(htlc, 'refund'), { ...outpoint, vout: 3 }, terms(htlc))).toBe('other');
    });
  }

  it('PTLC: the refund leaf is the refund; a key-path spend (one signature) is the claim', () => {
    const ptlc = ptlcOutput({ payer: alice.publicKey, payee: bob.publicKey, point: bob.publicKey, locktime: 1100 });
    const t = { refundLeaf: ptlc.refundLeaf, keyPathIsClaim: true };
    const refund = refundTransaction(ptlc, { outpoint, amountSat: 50_000n, destination: ptlc.scriptPubKey, feeRate: 2 }, alice, new Uint8Array(32));
    expect(spendPath(fromHex(refund.hex), outpoint, t)).toBe('refund');
    const keyPath = new Transaction({ allowUnknownOutputs: true });
    keyPath.addOutput({ script: ptlc.scriptPubKey, amount: 40_000n });
    keyPath.addInput({ txid: outpoint.txid, index: outpoint.vout, finalScriptWitness: [new Uint8Array(64).fill(7)] });
    expect(spendPath(keyPath.toBytes(true, true), outpoint, t)).toBe('claim');
    expect(spendPath(keyPath.toBytes(true, true), outpoint, { ...t, keyPathIsClaim: false })).toBe('other');
  });
});
