/**
 * Adversarial review of the device ↔ gateway channel on chain (issue 27), against a real
 * `bitcoind -regtest` (BITCOIND or PATH; skipped visibly without one).
 *
 * The first payment of a channel (nothing settled) puts the state's only gateway-side
 * output in the HTLC: if the device stops answering after the gateway paid the invoice,
 * the gateway must get that state mined before the HTLC's expiry, and its only way to
 * raise the state's fee (fixed at the contract's rate) is CPFP through its HTLC claim.
 * The state is TRUC (version 3), whose unconfirmed children must be version 3 too
 * (BIP-431): a version-2 claim is refused by the node ("TRUC-violation"), the package
 * with it too, so the gateway could not get the state mined in a fuller mempool, and
 * the device would take the HTLC back after its expiry — the gateway having paid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAddress } from '../../src/lib/address.ts';
import { contractAddress, termsToJson } from '../../src/lib/credit/codec.ts';
import { issueStateNonce } from '../../src/lib/credit/signing.ts';
import { contractKey, makeContract } from '../../src/lib/credit/terms.ts';
import * as device from '../../src/lib/device/device.ts';
import * as gateway from '../../src/lib/device/gateway.ts';
import type { DeviceChannel, GatewayChannel } from '../../src/lib/device/channel.ts';
import type { DevicePolicy } from '../../src/lib/device/policy.ts';
import { gatewayClaim } from '../../src/lib/device/onchain.ts';
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
const TITLE = BITCOIND ? `review: device ↔ gateway on bitcoind -regtest (${BITCOIND})` : 'review: device ↔ gateway on bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

const POLICY: DevicePolicy = {
  max_payment_msat: 50_000_000, max_daily_msat: 100_000_000, max_fee_base_msat: 1000, max_fee_ppm: 5000,
  allowed_payees: 'any', htlc_expiry_blocks: 24, claim_margin_blocks: 6,
};
const TERMS = { fee_base_msat: 1000, fee_ppm: 2000, cltv_budget_blocks: 0 };

type SubmitResult = { package_msg: string; 'tx-results': Record<string, { txid: string; error?: string }> };

describe.skipIf(!BITCOIND)(TITLE, () => {
  let n: FundedNode;
  let work: { path: string; cleanup: () => void };

  beforeAll(async () => {
    work = tempDir('offchain-regtest-device-review-');
    n = await startFundedNode(BITCOIND!, 'device-review-funder');
  }, 180_000);
  afterAll(async () => {
    await n?.stop();
    work?.cleanup();
  });

  it('the gateway\'s HTLC claim is TRUC: submitted as a package with the unconfirmed HTLC state (its CPFP), both accepted, then mined', async () => {
    const script = contractKey(USER.publicKey, MINT.publicKey).output.script;
    const funding = await n.fund(contractAddress({ script, network: 'regtest' }), 100_000n);
    const tip = await n.tip();
    const c = makeContract({
      network: 'regtest', userPubkey: USER.publicKey, mintPubkey: MINT.publicKey, capacity: 100_000n, funding, expiryHeight: tip + 100,
      refundScript: decodeAddress(REFUND, 'regtest'), changeScript: decodeAddress(CHANGE, 'regtest'), payoutScript: decodeAddress(PAYOUT, 'regtest'), feeRate: 2,
    });
    const nonces = new NonceStore(`${work.path}/nonces`);
    const random = deterministicRandom('gateway-review');
    const gctx = {
      gateway: MINT, nonces, random, chain: new RpcChainSource(n.node.config), policy: { safety_margin_blocks: 36, min_confirmations: 1 },
      terms: { ...TERMS, min_fee_rate: 1, claim_margin_blocks: POLICY.claim_margin_blocks },
    };
    const first = await issueStateNonce(nonces, random, MINT, c, 1);
    const d0: DeviceChannel = { network: 'regtest', contract_id: c.id, contract: termsToJson(c), state: 0, settled_sat: 0, gateway_nonce: first, paid: [], day: { date: '', spent_msat: '0' } };
    const g0: GatewayChannel = { network: 'regtest', contract_id: c.id, contract: termsToJson(c), next_state: 1, settled_sat: 0 };
    const now = Math.floor(Date.now() / 1000);
    const p = device.pay(d0, USER, { invoice: invoice(0, 30_000_000n, { timestamp: now - 10 }), policy: POLICY, gateway: TERMS, now, tip });
    const job = await gateway.pay(gctx, g0, p.message as never, now);
    // The gateway paid the invoice (it has the preimage); the device answers no more. Its
    // latest state holds no payout (nothing settled): the claim is its only CPFP.
    const state = job.record.latest!;
    expect(parseTx(state.hex).version).toBe(3);
    const claim = gatewayClaim(job.record, MINT, preimage(0), decodeAddress(n.sweepTo, 'regtest'), 20);
    const r = await n.node.rpc.call<SubmitResult>('submitpackage', [[state.hex, claim.hex]]);
    const errors = Object.values(r['tx-results']).map((t) => t.error).filter(Boolean);
    expect(errors, JSON.stringify(r)).toEqual([]);
    expect(r.package_msg).toBe('success');
    await n.mine(1);
    const confirmed = await n.node.rpc.call<{ confirmations?: number }>('getrawtransaction', [claim.txid, true]);
    expect(confirmed.confirmations).toBe(1);
  }, 180_000);
});
