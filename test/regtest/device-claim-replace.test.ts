/**
 * The gateway's last-minute claim against the device's refund in the mempool (issue 37,
 * finding 7), against a real `bitcoind -regtest` (BITCOIND or PATH; skipped visibly without
 * one): the fee src/lib/device/replace.ts computes for the replacement compared with what Core
 * itself accepts. For each case the refund (the device's, from its record: deviceRefund) is in
 * the mempool at the HTLC's expiry L (tip = L), and:
 *
 *   - the smallest claim fee Core accepts is found by test code, by bisection with
 *     `testmempoolaccept` over claims of every fee (one sat below it: refused, Core's reason
 *     printed);
 *   - replacementFee (the node's mempool entry, the node's incremental relay fee) is at or
 *     above that minimum, by at most 1 sat when the state is mined (by at most 5 % when it is
 *     not: a cluster-mempool node judges the state with its child, replacementFee the claim
 *     alone, as Core 28–30 do);
 *   - the claim at that fee is sent and mined in block L + 1; the refund is not.
 *
 * Cases: the state mined, the refund at 1.1, 5 and 37.3 sat/vB (the rate rule decides: the
 * claim, 143 vB, is larger than the refund, 126 vB; at 37.3 sat/vB only the rate per weight unit
 * gives Core's answer, one sat above the per-vB rate); the refund with a CPFP child of its own
 * (both evicted: the absolute rule, their fees, decides); the state unconfirmed, the refund its
 * TRUC child (a direct conflict: replaced, not sibling-evicted). And what `gateway claim` itself
 * does there (replace.ts claimReplacing) when the gateway asks more than the replacement needs:
 * --fee-rate is the rate of state + claim together, so with the state unconfirmed the package
 * reaches it, by Core's own count of the claim's ancestors (review of issue 37: the claim paid
 * the rate on its own size, the package ~40 % below it); a rerun at that rate is
 * E_ALREADY_CLAIMED, one at a higher rate bumps the package to it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { Transaction } from '@scure/btc-signer';
import { decodeAddress } from '../../src/lib/address.ts';
import { toHex } from '../../src/lib/bytes.ts';
import { deviceRefund, gatewayClaim } from '../../src/lib/device/onchain.ts';
import { claimReplacing, incrementalRelayFee, mempoolConflict, replacementFee, spendingLeaf } from '../../src/lib/device/replace.ts';
import { fromHex } from '../../src/lib/bytes.ts';
import { refusal } from '../setup/refusal.ts';
import { tempDir } from '../helpers.ts';
import { parseTx } from '../independent/tx.ts';
import { MINT, USER } from '../lib/credit/world.ts';
import { preimage } from '../lib/device/world.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { inFlight as inFlightOn } from './device-channel.ts';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND ? `device: the gateway's claim replaces the device's refund on bitcoind -regtest (${BITCOIND})` : 'device: the gateway\'s claim replaces the device\'s refund on bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

/** P2WSH(OP_TRUE): an output anyone spends with the witness [OP_TRUE] (the refund's destination when the device bumps it). */
const OP_TRUE = Uint8Array.of(0x51);
const P2WSH_TRUE = Uint8Array.from([0x00, 0x20, ...sha256(OP_TRUE)]);

describe.skipIf(!BITCOIND)(TITLE, () => {
  let n: FundedNode;
  let work: { path: string; cleanup: () => void };
  const rpc = <T>(m: string, p: unknown[] = []) => n.node.rpc.call<T>(m, p);
  const accepts = async (hex: string) => (await rpc<{ allowed: boolean; 'reject-reason'?: string }[]>('testmempoolaccept', [[hex]]))[0]!;

  beforeAll(async () => {
    work = tempDir('offchain-regtest-device-replace-');
    n = await startFundedNode(BITCOIND!, 'device-replace-funder');
  }, 180_000);
  afterAll(async () => {
    await n?.stop();
    work?.cleanup();
  });

  async function race(tag: string, k: number, o: { refundRate: number; stateMined: boolean; refundChildRate?: number }) {
    const s = await inFlight(tag, k);
    if (o.stateMined) expect(await n.acceptAndMine(s.latest.hex)).toBe(s.latest.txid);
    await n.mine(s.expiry - (await n.tip()));
    expect(await n.tip()).toBe(s.expiry);
    if (!o.stateMined) expect(await rpc<string>('sendrawtransaction', [s.latest.hex])).toBe(s.latest.txid);
    // The device's refund, final at tip L (nLockTime L), into the mempool.
    const refund = deviceRefund(s.d, USER, s.hash, o.refundChildRate ? P2WSH_TRUE : decodeAddress(n.sweepTo, 'regtest'), o.refundRate);
    expect(await rpc<string>('sendrawtransaction', [refund.hex])).toBe(refund.txid);
    let evicted = [refund.txid];
    if (o.refundChildRate) {
      // The device bumps its refund with a TRUC child (spends the refund's P2WSH(OP_TRUE) output).
      const value = parseTx(refund.hex).outputs[0]!.amount;
      const child = new Transaction({ version: 3, allowUnknownInputs: true, allowUnknownOutputs: true });
      child.addInput({ txid: refund.txid, index: 0, sequence: 0xffff_fffd, witnessUtxo: { script: P2WSH_TRUE, amount: value } });
      const fee = BigInt(Math.ceil(100 * o.refundChildRate));
      child.addOutput({ script: decodeAddress(n.sweepTo, 'regtest'), amount: value - fee });
      child.updateInput(0, { finalScriptWitness: [OP_TRUE] }, true);
      const hex = toHex(child.extract());
      const txid = await rpc<string>('sendrawtransaction', [hex]);
      evicted = [refund.txid, txid];
    }
    const dest = decodeAddress(n.sweepTo, 'regtest');
    const claimAt = (fee: bigint, vsize: number) => gatewayClaim(s.g, MINT, preimage(k), dest, Number(fee) / vsize);
    const probe = gatewayClaim(s.g, MINT, preimage(k), dest, 1);
    const vsize = probe.vsize;
    expect(vsize).toBe(Math.ceil(probe.tx.weight / 4)); // the fee's estimate is the transaction's size
    // What replace.ts says, from the node's own numbers.
    const conflict = (await mempoolConflict(n.node.rpc, { txid: s.latest.txid, vout: s.vout }))!;
    expect(conflict.txid).toBe(refund.txid);
    expect(conflict.feeSat).toBe(refund.feeSat);
    const needed = replacementFee(conflict, { vsize, weight: probe.tx.weight }, await incrementalRelayFee(n.node.rpc));
    // The smallest fee Core accepts, by bisection (test code's own search over Core's answers).
    let lo = conflict.evictedFeeSat; // refused: no more than what it evicts
    let hi = needed + 50n;
    expect((await accepts(claimAt(lo, vsize).hex)).allowed).toBe(false);
    expect((await accepts(claimAt(hi, vsize).hex)).allowed).toBe(true);
    while (hi - lo > 1n) {
      const mid = (lo + hi) / 2n;
      if ((await accepts(claimAt(mid, vsize).hex)).allowed) hi = mid;
      else lo = mid;
    }
    const below = await accepts(claimAt(hi - 1n, vsize).hex);
    console.log(`${tag}: refund ${refund.feeSat} sat / ${refund.vsize} vB, evicted ${conflict.evictedFeeSat} sat; claim ${vsize} vB: Core's least fee ${hi} sat (one less: ${below['reject-reason']}), replacementFee ${needed} sat`);
    expect(needed).toBeGreaterThanOrEqual(hi);
    // Tight where the refund's parent is mined; with the state unconfirmed, a cluster-mempool node
    // judges the state with its child (less), the rule here the claim alone (what Core 28–30 ask).
    expect(needed - hi).toBeLessThanOrEqual(o.stateMined ? 1n : needed / 20n);
    // The claim at that fee: in the mempool instead of the refund (and its child), mined in block L + 1.
    const claim = claimAt(needed, vsize);
    expect(claim.feeSat).toBe(needed);
    expect(await rpc<string>('sendrawtransaction', [claim.hex])).toBe(claim.txid);
    const pool = await rpc<string[]>('getrawmempool');
    for (const t of evicted) expect(pool).not.toContain(t);
    await n.mine(1);
    expect(await n.tip()).toBe(s.expiry + 1);
    expect((await rpc<{ confirmations?: number }>('getrawtransaction', [claim.txid, 1])).confirmations).toBe(1);
    if (!o.stateMined) expect((await rpc<{ confirmations?: number }>('getrawtransaction', [s.latest.txid, 1])).confirmations).toBe(1);
    return { needed, least: hi };
  }

  const inFlight = (tag: string, k: number) => inFlightOn(n, work.path, tag, k);

  it('the state mined, the refund at 1.1, 5 and 37.3 sat/vB: the rate rule decides (the claim is larger than the refund)', async () => {
    await race('low', 30, { refundRate: 1.1, stateMined: true });
    await race('five', 31, { refundRate: 5, stateMined: true });
    await race('high', 32, { refundRate: 37.3, stateMined: true });
  }, 180_000);

  it('the refund bumped by a child of its own (20 sat/vB): both are evicted, their fees count (the absolute rule decides)', async () => {
    await race('cpfp', 33, { refundRate: 2, stateMined: true, refundChildRate: 20 });
  }, 180_000);

  it('the state unconfirmed, the gateway asking 10 sat/vB for state + claim (the refund at 1.1): Core counts the package at 10 or more; a rerun at 10 is E_ALREADY_CLAIMED, at 12 it bumps the package to 12', async () => {
    const k = 35;
    const s = await inFlight('package', k);
    await n.mine(s.expiry - (await n.tip()));
    expect(await rpc<string>('sendrawtransaction', [s.latest.hex])).toBe(s.latest.txid);
    const refund = deviceRefund(s.d, USER, s.hash, decodeAddress(n.sweepTo, 'regtest'), 1.1);
    expect(await rpc<string>('sendrawtransaction', [refund.hex])).toBe(refund.txid);
    // The state as Core counts it (what gateway claim takes from its exit message: fee_sat, vsize).
    const stateEntry = await rpc<{ vsize: number; fees: { base: number } }>('getmempoolentry', [s.latest.txid]);
    const state = { txid: s.latest.txid, feeSat: BigInt(Math.round(stateEntry.fees.base * 1e8)), vsize: stateEntry.vsize };
    const dest = decodeAddress(n.sweepTo, 'regtest');
    const build = (rate: number) => gatewayClaim(s.g, MINT, preimage(k), dest, rate);
    const outpoint = { txid: s.latest.txid, vout: s.vout };
    const incremental = await incrementalRelayFee(n.node.rpc);
    /** The claim gateway claim builds at `rate` against what spends the HTLC in the mempool now. */
    const claimAt = async (rate: number) => {
      const conflict = (await mempoolConflict(n.node.rpc, outpoint))!;
      const leaf = spendingLeaf(fromHex(await rpc<string>('getrawtransaction', [conflict.txid])), outpoint, s.htlc);
      return { conflict, leaf, claim: () => claimReplacing(conflict, leaf, incremental, rate, build, state) };
    };
    /** Core's rate of the claim with its unconfirmed ancestors (the state): fee / vsize of the package. */
    const packageRate = async (txid: string) => {
      const e = await rpc<{ ancestorcount: number; ancestorsize: number; fees: { ancestor: number } }>('getmempoolentry', [txid]);
      expect(e.ancestorcount).toBe(2);
      return Math.round(e.fees.ancestor * 1e8) / e.ancestorsize;
    };
    const first = await claimAt(10);
    expect(first.leaf).toBe('refund');
    const claim = first.claim();
    expect(await rpc<string>('sendrawtransaction', [claim.hex])).toBe(claim.txid);
    const rate = await packageRate(claim.txid);
    console.log(`package: state ${state.feeSat} sat / ${state.vsize} vB + claim ${claim.feeSat} sat / ${claim.vsize} vB = ${rate.toFixed(2)} sat/vB (asked 10)`);
    expect(rate).toBeGreaterThanOrEqual(10);
    // Run again at 10: its own claim is there at that package rate — refused.
    const again = await claimAt(10);
    expect(again.leaf).toBe('claim');
    refusal(again.claim, 'E_ALREADY_CLAIMED', 4);
    // At 12: the package bumped to 12 (its own claim replaced), mined with the state in block L + 1.
    const bumped = (await claimAt(12)).claim();
    expect(await rpc<string>('sendrawtransaction', [bumped.hex])).toBe(bumped.txid);
    expect(await rpc<string[]>('getrawmempool')).not.toContain(claim.txid);
    expect(await packageRate(bumped.txid)).toBeGreaterThanOrEqual(12);
    await n.mine(1);
    expect((await rpc<{ confirmations?: number }>('getrawtransaction', [bumped.txid, 1])).confirmations).toBe(1);
    expect((await rpc<{ confirmations?: number }>('getrawtransaction', [s.latest.txid, 1])).confirmations).toBe(1);
  }, 180_000);

  it('the state unconfirmed, the refund its TRUC child: the claim replaces the refund (a direct conflict) and is mined with the state', async () => {
    await race('unconfirmed', 34, { refundRate: 5, stateMined: false });
  }, 180_000);
});
