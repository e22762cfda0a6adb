/**
 * Optional integration suite (BRIEF §3.8, §5): the device ↔ gateway channel's
 * transactions against a real `bitcoind -regtest` (BITCOIND or PATH; skipped visibly
 * without one). The channel is a credit contract funded on the node; the steps are the
 * library's (src/lib/device/) in process, the chain facts (tip, funding) the node's.
 *
 * 1. The gateway exits with the latest state holding an HTLC (TRUC, accepted and
 *    mined) and claims the HTLC with the preimage (claim leaf; mined).
 * 2. The device's HTLC refund after its CLTV: rejected `non-final` one block before
 *    the expiry height, then accepted and mined; its change output is its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAddress } from '../../src/lib/address.ts';
import { toHex } from '../../src/lib/bytes.ts';
import * as device from '../../src/lib/device/device.ts';
import * as gateway from '../../src/lib/device/gateway.ts';
import { buildSpend } from '../../src/lib/htlc/spend.ts';
import { deviceRefund, gatewayClaim } from '../../src/lib/device/onchain.ts';
import { tempDir } from '../helpers.ts';
import { parseTx } from '../independent/tx.ts';
import { MINT, USER } from '../lib/credit/world.ts';
import { invoice, preimage } from '../lib/device/world.ts';
import { findBitcoind } from './bitcoind.ts';
import { refusal } from '../setup/refusal.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { POLICY, TERMS, inFlight as inFlightOn } from './device-channel.ts';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND ? `device ↔ gateway against bitcoind -regtest (${BITCOIND})` : 'device ↔ gateway against bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

describe.skipIf(!BITCOIND)(TITLE, () => {
  let n: FundedNode;
  let work: { path: string; cleanup: () => void };

  beforeAll(async () => {
    work = tempDir('offchain-regtest-device-');
    n = await startFundedNode(BITCOIND!, 'device-funder');
  }, 180_000);
  afterAll(async () => {
    await n?.stop();
    work?.cleanup();
  });

  const inFlight = (tag: string, k: number) => inFlightOn(n, work.path, tag, k);

  it('the gateway exits with the state holding the HTLC and claims it with the preimage (both mined)', async () => {
    const s = await inFlight('claim', 0);
    expect(s.parsed.version).toBe(3);
    const stateTxid = await n.acceptAndMine(s.latest.hex);
    expect(stateTxid).toBe(s.latest.txid);
    // From the gateway's own record: its latest state, the HTLC found in it, the preimage.
    const claim = gatewayClaim(s.g, MINT, preimage(0), decodeAddress(n.sweepTo, 'regtest'), 2);
    expect(claim.tx.getInput(0)).toMatchObject({ index: s.vout });
    // Without the preimage there is no claim: the same spend with a wrong preimage is refused before signing.
    refusal(() => buildSpend({ htlc: s.htlc, path: 'claim', outpoint: { txid: stateTxid, vout: s.vout }, amountSat: s.amount, destination: decodeAddress(n.sweepTo, 'regtest'), feeRate: 2, signer: MINT, preimage: preimage(1) }), 'E_PREIMAGE_MISMATCH', 4);
    await n.acceptAndMine(claim.hex);
  }, 120_000);

  it('the device refunds the HTLC after its CLTV: non-final one block before, then mined', async () => {
    const s = await inFlight('refund', 1);
    const stateTxid = await n.acceptAndMine(s.latest.hex);
    // From the device's own record (it never held the signed state: it knows the txid and the HTLC's place).
    const refund = deviceRefund(s.d, USER, s.hash, decodeAddress(n.sweepTo, 'regtest'), 2);
    expect(refund.tx.getInput(0)).toMatchObject({ index: s.vout });
    expect(toHex(refund.tx.getInput(0).txid!)).toBe(stateTxid);
    expect(refund.lockTime).toBe(s.expiry);
    await n.mine(s.expiry - 1 - (await n.tip()));
    expect(await n.tip()).toBe(s.expiry - 1);
    expect(await n.mempool(refund.hex)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
    await n.mine(1);
    await n.acceptAndMine(refund.hex);
  }, 120_000);

  it('a failed payment\'s old HTLC state, broadcast by the gateway after later payments: the device refunds that HTLC from its record (mined), its change is its own', async () => {
    const s = await inFlight('stale', 2);
    const oldState = s.latest; // the gateway kept it once; it may broadcast it at any time
    const failed = await gateway.fail(s.gctx, s.g, s.hash);
    const df = device.fail(s.d, USER, failed.message as never);
    const done = await gateway.completeStep(s.gctx, failed.record, df.message as never);
    let d = device.receipt(df.record, done.message as never);
    expect(d.failed?.map((f) => f.payment_hash)).toEqual([s.hash]);
    // A later payment, settled.
    const inv = invoice(3, 10_000_000n, { timestamp: s.now - 10 });
    const p = device.pay(d, USER, { invoice: inv, policy: POLICY, gateway: TERMS, now: s.now, tip: s.tip });
    const job = await gateway.pay(s.gctx, done.record, p.message as never, s.now);
    const st = await gateway.settle(s.gctx, job.record, preimage(3));
    const ds = device.settle(p.record, USER, st.message as never);
    const done2 = await gateway.completeStep(s.gctx, st.record, ds.message as never);
    d = device.receipt(ds.record, done2.message as never);
    expect(d.settled_sat).toBeGreaterThan(0);
    // The gateway broadcasts the OLD state instead (it pays it nothing; the HTLC needs a preimage it never had).
    const stateTxid = await n.acceptAndMine(oldState.hex);
    const payouts = parseTx(oldState.hex).outputs.filter((o) => toHex(o.script) === toHex(s.c.payoutScript));
    expect(payouts).toEqual([]);
    const refund = deviceRefund(d, USER, s.hash, decodeAddress(n.sweepTo, 'regtest'), 2);
    expect(toHex(refund.tx.getInput(0).txid!)).toBe(stateTxid);
    await n.mine(s.expiry - 1 - (await n.tip()));
    expect(await n.mempool(refund.hex)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
    await n.mine(1);
    await n.acceptAndMine(refund.hex);
  }, 120_000);
});

