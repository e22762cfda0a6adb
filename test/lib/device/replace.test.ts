/**
 * The gateway's claim replacing the device's refund in the mempool (src/lib/device/replace.ts,
 * issue 37 finding 7), at library level: the replacement fee by hand for each rule that can
 * decide (the figures of test/regtest/device-claim-replace.test.ts, where Core itself gives the
 * same least fee), the node's answers read and refused, and the claim rebuilt at the fee the
 * replacement needs — within the fee guard, or refused naming what was needed.
 */
import { describe, expect, it } from 'vitest';
import { RefusedError } from '../../../src/lib/errors.ts';
import { RpcError } from '../../../src/lib/chain/rpc-client.ts';
import { claimReplacing, incrementalRelayFee, mempoolConflict, replacementFee, replacing, spendingLeaf, type MempoolConflict } from '../../../src/lib/device/replace.ts';
import * as device from '../../../src/lib/device/device.ts';
import * as gateway from '../../../src/lib/device/gateway.ts';
import { deviceRefund, gatewayClaim, htlcOf } from '../../../src/lib/device/onchain.ts';
import { fromHex } from '../../../src/lib/bytes.ts';
import { refusal, refusalAsync } from '../../setup/refusal.ts';
import { GATEWAY_TERMS, NOW, POLICY, channel, invoice, paymentHash, preimage } from './world.ts';

const CLAIM = { vsize: 143, weight: 569 }; // the claim of a taproot HTLC with the preimage, to P2WPKH
const INCREMENTAL = 100n; // sat/kvB: Core's default (0.1 sat/vB)
const alone = (feeSat: bigint, vsize: number, weight: number, depends: string[] = []): MempoolConflict => ({ txid: 'aa'.repeat(32), feeSat, vsize, weight, evictedFeeSat: feeSat, evictedVsize: vsize, evictedCount: 1, depends });

describe('replacementFee: the least fee at which the claim replaces the refund', () => {
  it('the rate per weight unit decides (Core 31): a refund of 4700 sat, 126 vB, weight 501 → 5338 sat (per vB truncated: 5335; absolute: 4715)', () => {
    // 4700 × 569 / 501 = 5337.9…: strictly above → 5338. Per kvB: ⌊4 700 000 / 126⌋ = 37 301, +1, × 143 / 1000 = 5334.2 → 5335. Absolute: 4700 + ⌈100 × 143 / 1000⌉ = 4715.
    expect(replacementFee(alone(4700n, 126, 501), CLAIM, INCREMENTAL)).toBe(5338n);
  });

  it('the rate per kvB decides (Core 28–30): a refund of 630 sat, 126 vB, weight 504 → 716 sat (per weight: 712)', () => {
    // ⌊630 000 / 126⌋ = 5000, +1 = 5001 sat/kvB × 143 vB = 715.1 → 716. Per weight: ⌊630 × 569 / 504⌋ + 1 = 712.
    expect(replacementFee(alone(630n, 126, 504), CLAIM, INCREMENTAL)).toBe(716n);
  });

  it('the absolute fee decides: a refund whose own child pays for it (2276 sat evicted, 222 vB, 2 transactions) → 2291 sat', () => {
    // 2276 + ⌈100 × 143 / 1000⌉ = 2291; per weight of the evicted pair: ⌊2276 × 569 / (4 × 222 − 6)⌋ + 1 = 1469; of the refund: ⌊276 × 569 / 549⌋ + 1 = 287.
    const c: MempoolConflict = { txid: 'bb'.repeat(32), feeSat: 276n, vsize: 138, weight: 549, evictedFeeSat: 2276n, evictedVsize: 222, evictedCount: 2, depends: [] };
    expect(replacementFee(c, CLAIM, INCREMENTAL)).toBe(2291n);
    // A higher incremental relay fee (1 sat/vB) raises it by its rate on the claim's size: 2276 + 143.
    expect(replacementFee(c, CLAIM, 1000n)).toBe(2419n);
  });

  it('the evicted set\'s rate decides when the refund\'s child pays a high rate for a small pair', () => {
    // Evicted 3000 sat over 130 vB (refund 126 + a tiny child), 2 transactions: weight at least 4 × 130 − 6 = 514;
    // ⌊3000 × 569 / 514⌋ + 1 = 3322 > 3000 + 15.
    const c: MempoolConflict = { txid: 'cc'.repeat(32), feeSat: 126n, vsize: 126, weight: 501, evictedFeeSat: 3000n, evictedVsize: 130, evictedCount: 2, depends: [] };
    expect(replacementFee(c, CLAIM, INCREMENTAL)).toBe(3322n);
  });
});

/** A scripted node: answers by method, and records what was asked. */
function node(answers: Record<string, unknown | ((params: readonly unknown[]) => unknown)>) {
  const asked: [string, readonly unknown[]][] = [];
  return {
    asked,
    config: { url: 'http://127.0.0.1:1/' },
    async call<T>(method: string, params: readonly unknown[] = []): Promise<T> {
      asked.push([method, params]);
      const a = answers[method];
      if (a === undefined) throw new Error(`unexpected ${method}`);
      return (typeof a === 'function' ? (a as (p: readonly unknown[]) => unknown)(params) : a) as T;
    },
  };
}
const TXID = '11'.repeat(32);
const SPENDER = '22'.repeat(32);
const STATE = '33'.repeat(32);
const ENTRY = { vsize: 126, weight: 501, descendantsize: 126, descendantcount: 1, fees: { base: 0.000047, descendant: 0.000047 }, depends: [STATE] };

describe('mempoolConflict and incrementalRelayFee: the node\'s answers', () => {
  it('the spender of the HTLC output and its mempool entry, amounts exact in sat', async () => {
    const rpc = node({ gettxspendingprevout: [{ txid: TXID, vout: 1, spendingtxid: SPENDER }], getmempoolentry: ENTRY });
    expect(await mempoolConflict(rpc, { txid: TXID, vout: 1 })).toEqual({ txid: SPENDER, feeSat: 4700n, vsize: 126, weight: 501, evictedFeeSat: 4700n, evictedVsize: 126, evictedCount: 1, depends: [STATE] });
    expect(rpc.asked).toEqual([['gettxspendingprevout', [[{ txid: TXID, vout: 1 }]]], ['getmempoolentry', [SPENDER]]]);
    expect(await incrementalRelayFee(node({ getmempoolinfo: { incrementalrelayfee: 0.000001 } }))).toBe(100n);
  });

  it('nothing spends it in the mempool, or the spender left it between the two calls: null', async () => {
    expect(await mempoolConflict(node({ gettxspendingprevout: [{ txid: TXID, vout: 1 }] }), { txid: TXID, vout: 1 })).toBeNull();
    const gone = node({ gettxspendingprevout: [{ txid: TXID, vout: 1, spendingtxid: SPENDER }], getmempoolentry: () => { throw new RpcError('getmempoolentry', -5, 'Transaction not in mempool'); } });
    expect(await mempoolConflict(gone, { txid: TXID, vout: 1 })).toBeNull();
    // Any other RPC error is not "nothing there".
    const down = node({ gettxspendingprevout: [{ txid: TXID, vout: 1, spendingtxid: SPENDER }], getmempoolentry: () => { throw new RpcError('getmempoolentry', -32601, 'Method not found'); } });
    await refusalAsync(mempoolConflict(down, { txid: TXID, vout: 1 }), 'E_RPC_ERROR', 1);
  });

  it('answers Core does not give are E_RPC_PROTOCOL, naming the node', async () => {
    const cases: [string, Record<string, unknown>][] = [
      ['not one entry', { gettxspendingprevout: [] }],
      ['a spendingtxid that is no txid', { gettxspendingprevout: [{ txid: TXID, vout: 1, spendingtxid: 'zz' }] }],
      ['no fees', { gettxspendingprevout: [{ txid: TXID, vout: 1, spendingtxid: SPENDER }], getmempoolentry: { ...ENTRY, fees: undefined } }],
      ['a vsize of 0', { gettxspendingprevout: [{ txid: TXID, vout: 1, spendingtxid: SPENDER }], getmempoolentry: { ...ENTRY, vsize: 0 } }],
      ['no weight', { gettxspendingprevout: [{ txid: TXID, vout: 1, spendingtxid: SPENDER }], getmempoolentry: { ...ENTRY, weight: undefined } }],
      ['a fee that is no amount', { gettxspendingprevout: [{ txid: TXID, vout: 1, spendingtxid: SPENDER }], getmempoolentry: { ...ENTRY, fees: { base: true, descendant: 0.000047 } } }],
      ['no depends', { gettxspendingprevout: [{ txid: TXID, vout: 1, spendingtxid: SPENDER }], getmempoolentry: { ...ENTRY, depends: undefined } }],
      ['a depends that is no list of txids', { gettxspendingprevout: [{ txid: TXID, vout: 1, spendingtxid: SPENDER }], getmempoolentry: { ...ENTRY, depends: ['zz'] } }],
    ];
    expect(cases).toHaveLength(8);
    for (const [what, answers] of cases) {
      const e = await refusalAsync(mempoolConflict(node(answers), { txid: TXID, vout: 1 }), 'E_RPC_PROTOCOL', 1);
      expect(e.message, what).toContain('http://127.0.0.1:1/');
    }
    await refusalAsync(incrementalRelayFee(node({ getmempoolinfo: {} })), 'E_RPC_PROTOCOL', 1);
  });
});

describe('replacing: the claim at the asked rate, or at the rate the replacement needs', () => {
  /** A stand-in for gatewayClaim: 143 vB, weight 569, fee ⌈143 × rate⌉, the fee guard at `maxFee`. */
  const builder = (maxFee = Infinity) => {
    const rates: number[] = [];
    const build = (rate: number) => {
      rates.push(rate);
      const feeSat = BigInt(Math.ceil(143 * rate));
      if (Number(feeSat) > maxFee) throw new RefusedError('E_FEE_TOO_HIGH', `the spend pays ${feeSat} sat in fees, above the limit`);
      return { feeSat, vsize: 143, tx: { weight: 569 } };
    };
    return { rates, build };
  };

  it('asked enough: built once, at the asked rate', () => {
    const b = builder();
    const r = replacing(alone(630n, 126, 504), INCREMENTAL, 10, b.build);
    expect({ fee: r.spend.feeSat, needed: r.needed, rates: b.rates }).toEqual({ fee: 1430n, needed: 716n, rates: [10] });
  });

  it('asked too little: rebuilt paying exactly what the replacement needs', () => {
    const b = builder();
    const r = replacing(alone(4700n, 126, 501), INCREMENTAL, 2, b.build);
    expect({ fee: r.spend.feeSat, needed: r.needed, builds: b.rates.length }).toEqual({ fee: 5338n, needed: 5338n, builds: 2 });
  });

  it('the fee guard refuses what the replacement needs: the same code, saying what it needed and what it replaces', () => {
    const e = refusal(() => replacing(alone(4700n, 126, 501), INCREMENTAL, 2, builder(5000).build), 'E_FEE_TOO_HIGH', 4);
    expect(e.message).toContain('needs a claim fee of 5338 sat');
    expect(e.message).toContain('aa'.repeat(32));
    // A refund whose descendants make it dear (the device pinning at L): the message says what is evicted.
    const pinned: MempoolConflict = { ...alone(152n, 138, 549), evictedFeeSat: 120_152n, evictedVsize: 90_398, evictedCount: 2 };
    const p = refusal(() => replacing(pinned, INCREMENTAL, 2, builder(30_000).build), 'E_FEE_TOO_HIGH', 4);
    expect(p.message).toContain('with its 1 descendant(s) 120152 sat, 90398 vB, all evicted), needs a claim fee of 120167 sat');
  });
});

describe('claimReplacing: --fee-rate is the rate of state + claim (review of issue 37)', () => {
  /** The stand-in builder of `replacing` above: 143 vB, fee ⌈143 × rate⌉. */
  const build = (rate: number) => ({ feeSat: BigInt(Math.ceil(143 * rate)), vsize: 143, tx: { weight: 569 } });
  const STATE_TX = { txid: '33'.repeat(32), feeSat: 284n, vsize: 142 };

  it('the state unconfirmed (the refund\'s parent): the claim pays for both, 10 × (142 + 143) − 284 = 2566 sat, not 10 × 143 = 1430 (the package at 6.0 sat/vB)', () => {
    expect(claimReplacing(alone(139n, 126, 501, [STATE_TX.txid]), 'refund', INCREMENTAL, 10, build, STATE_TX).feeSat).toBe(2566n);
    // The state mined (not among the refund's unconfirmed parents): the claim's own size.
    expect(claimReplacing(alone(139n, 126, 501), 'refund', INCREMENTAL, 10, build, STATE_TX).feeSat).toBe(1430n);
    // The replacement needs more than the package: it decides (716 sat for a 630-sat refund, as above).
    expect(claimReplacing(alone(630n, 126, 504, [STATE_TX.txid]), 'refund', INCREMENTAL, 2, build, STATE_TX).feeSat).toBe(716n);
  });

  it('its own claim: E_ALREADY_CLAIMED while state + claim reach --fee-rate (2566 sat at 10), a bump above it', () => {
    const own = (fee: bigint) => ({ ...alone(fee, 143, 569, [STATE_TX.txid]), txid: 'dd'.repeat(32) });
    const e = refusal(() => claimReplacing(own(2566n), 'claim', INCREMENTAL, 10, build, STATE_TX), 'E_ALREADY_CLAIMED', 4);
    expect(e.message).toContain('10.00 sat/vB with the unconfirmed state');
    // 2565 sat leaves the package a sat short of 10: replaced, at what the replacement needs
    // (the absolute rule: 2565 + ⌈100 × 143 / 1000⌉ = 2580, more than the package's 2566).
    expect(claimReplacing(own(2565n), 'claim', INCREMENTAL, 10, build, STATE_TX).feeSat).toBe(2580n);
    // Asked 12: 12 × 285 − 284 = 3136 sat.
    expect(claimReplacing(own(2566n), 'claim', INCREMENTAL, 12, build, STATE_TX).feeSat).toBe(3136n);
  });
});

describe('spendingLeaf: what the mempool transaction spending the HTLC is', () => {
  it('the gateway\'s claim (claim leaf), the device\'s refund (refund leaf); another outpoint: other', async () => {
    const ch = await channel();
    const p = device.pay(ch.device, ch.deviceKey, { invoice: invoice(0, 2_000_000n), policy: POLICY, gateway: GATEWAY_TERMS, now: NOW, tip: ch.tip });
    const job = await gateway.pay(ch.gctx, ch.gateway, p.message as never, NOW);
    const g = job.record;
    const htlc = htlcOf(g);
    const claim = gatewayClaim(g, ch.gctx.gateway, preimage(0), ch.c.payoutScript, 2);
    const refund = deviceRefund(p.record, ch.deviceKey, Buffer.from(paymentHash(0)).toString('hex'), ch.c.refundScript, 2);
    const outpoint = { txid: g.latest!.txid, vout: claim.tx.getInput(0).index! };
    expect(spendingLeaf(fromHex(claim.hex), outpoint, htlc)).toBe('claim');
    expect(spendingLeaf(fromHex(refund.hex), outpoint, htlc)).toBe('refund');
    expect(spendingLeaf(fromHex(claim.hex), { ...outpoint, vout: outpoint.vout + 1 }, htlc)).toBe('other');
  });
});
