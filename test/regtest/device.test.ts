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
import { sha256 } from '@noble/hashes/sha2.js';
import { decodeAddress } from '../../src/lib/address.ts';
import { toHex } from '../../src/lib/bytes.ts';
import { contractAddress, termsToJson } from '../../src/lib/credit/codec.ts';
import { issueStateNonce } from '../../src/lib/credit/signing.ts';
import { contractKey, makeContract, type CreditContract } from '../../src/lib/credit/terms.ts';
import * as device from '../../src/lib/device/device.ts';
import * as gateway from '../../src/lib/device/gateway.ts';
import { paymentHtlc, type DeviceChannel, type GatewayChannel } from '../../src/lib/device/channel.ts';
import type { DevicePolicy } from '../../src/lib/device/policy.ts';
import { buildSpend } from '../../src/lib/htlc/spend.ts';
import { deviceRefund, gatewayClaim } from '../../src/lib/device/onchain.ts';
import { deterministicRandom } from '../../src/lib/random.ts';
import { NonceStore } from '../../src/lib/store/nonce-store.ts';
import { tempDir } from '../helpers.ts';
import { parseTx } from '../independent/tx.ts';
import { MINT, USER, PAYOUT, REFUND, CHANGE } from '../lib/credit/world.ts';
import { invoice, preimage } from '../lib/device/world.ts';
import { findBitcoind } from './bitcoind.ts';
import { RpcChainSource } from '../../src/lib/chain/rpc.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND ? `device ↔ gateway against bitcoind -regtest (${BITCOIND})` : 'device ↔ gateway against bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

const POLICY: DevicePolicy = {
  max_payment_msat: 50_000_000, max_daily_msat: 100_000_000, max_fee_base_msat: 1000, max_fee_ppm: 5000,
  allowed_payees: 'any', htlc_expiry_blocks: 24, claim_margin_blocks: 6,
};
const TERMS = { fee_base_msat: 1000, fee_ppm: 2000, cltv_budget_blocks: 0 };

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

  /** A funded channel, both records, the gateway's first nonce issued; then one payment put in flight. */
  async function inFlight(tag: string, k: number) {
    const script = contractKey(USER.publicKey, MINT.publicKey).output.script;
    const funding = await n.fund(contractAddress({ script, network: 'regtest' }), 100_000n);
    const tip = await n.tip();
    const c: CreditContract = makeContract({
      network: 'regtest', userPubkey: USER.publicKey, mintPubkey: MINT.publicKey, capacity: 100_000n, funding, expiryHeight: tip + 100,
      refundScript: decodeAddress(REFUND, 'regtest'), changeScript: decodeAddress(CHANGE, 'regtest'), payoutScript: decodeAddress(PAYOUT, 'regtest'), feeRate: 2,
    });
    const nonces = new NonceStore(`${work.path}/${tag}-nonces`);
    const random = deterministicRandom(`gateway-${tag}`);
    const gctx = {
      gateway: MINT, nonces, random, chain: new RpcChainSource(n.node.config), policy: { safety_margin_blocks: 36, min_confirmations: 1 },
      terms: { ...TERMS, min_fee_rate: 1, claim_margin_blocks: POLICY.claim_margin_blocks },
    };
    const first = await issueStateNonce(nonces, random, MINT, c, 1);
    const d0: DeviceChannel = { network: 'regtest', contract_id: c.id, contract: termsToJson(c), state: 0, settled_sat: 0, gateway_nonce: first, paid: [], day: { date: '', spent_msat: '0' } };
    const g0: GatewayChannel = { network: 'regtest', contract_id: c.id, contract: termsToJson(c), next_state: 1, settled_sat: 0 };
    const now = Math.floor(Date.now() / 1000);
    const inv = invoice(k, 30_000_000n, { timestamp: now - 10 });
    const p = device.pay(d0, USER, { invoice: inv, policy: POLICY, gateway: TERMS, now, tip });
    const job = await gateway.pay(gctx, g0, p.message as never, now);
    const latest = job.record.latest!;
    const htlc = paymentHtlc(c, sha256(preimage(k)), job.record.in_flight!.expiry_height);
    const parsed = parseTx(latest.hex);
    const vout = parsed.outputs.findIndex((o) => toHex(o.script) === toHex(htlc.scriptPubKey));
    expect(vout).toBeGreaterThanOrEqual(0);
    return { c, latest, htlc, vout, amount: parsed.outputs[vout]!.amount, expiry: job.record.in_flight!.expiry_height, parsed, d: p.record, g: job.record, hash: toHex(sha256(preimage(k))), gctx, tip, now };
  }

  it('the gateway exits with the state holding the HTLC and claims it with the preimage (both mined)', async () => {
    const s = await inFlight('claim', 0);
    expect(s.parsed.version).toBe(3);
    const stateTxid = await n.acceptAndMine(s.latest.hex);
    expect(stateTxid).toBe(s.latest.txid);
    // From the gateway's own record: its latest state, the HTLC found in it, the preimage.
    const claim = gatewayClaim(s.g, MINT, preimage(0), decodeAddress(n.sweepTo, 'regtest'), 2);
    expect(claim.tx.getInput(0)).toMatchObject({ index: s.vout });
    // Without the preimage there is no claim: the same spend with a wrong preimage is refused before signing.
    expect(() => buildSpend({ htlc: s.htlc, path: 'claim', outpoint: { txid: stateTxid, vout: s.vout }, amountSat: s.amount, destination: decodeAddress(n.sweepTo, 'regtest'), feeRate: 2, signer: MINT, preimage: preimage(1) })).toThrow();
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

