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
import { gatewayClaim } from '../../src/lib/device/onchain.ts';
import { tempDir } from '../helpers.ts';
import { MINT } from '../lib/credit/world.ts';
import { preimage } from '../lib/device/world.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { inFlight } from './device-channel.ts';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND ? `review: device ↔ gateway on bitcoind -regtest (${BITCOIND})` : 'review: device ↔ gateway on bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

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
    // The channel's first payment (nothing settled), put in flight at the node's tip.
    const s = await inFlight(n, work.path, 'review', 0);
    // The gateway paid the invoice (it has the preimage); the device answers no more. Its
    // latest state holds no payout (nothing settled): the claim is its only CPFP.
    const state = s.latest;
    expect(s.parsed.version).toBe(3);
    const claim = gatewayClaim(s.g, MINT, preimage(0), decodeAddress(n.sweepTo, 'regtest'), 20);
    const r = await n.node.rpc.call<SubmitResult>('submitpackage', [[state.hex, claim.hex]]);
    const errors = Object.values(r['tx-results']).map((t) => t.error).filter(Boolean);
    expect(errors, JSON.stringify(r)).toEqual([]);
    expect(r.package_msg).toBe('success');
    await n.mine(1);
    const confirmed = await n.node.rpc.call<{ confirmations?: number }>('getrawtransaction', [claim.txid, true]);
    expect(confirmed.confirmations).toBe(1);
  }, 180_000);
});
