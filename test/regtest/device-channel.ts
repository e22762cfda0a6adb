/**
 * A device ↔ gateway channel on a funded `bitcoind -regtest` for the library-level device
 * suites (device.test.ts, device-review.test.ts): the credit contract (test/lib/credit/world.ts's
 * USER = device, MINT = gateway) funded on the node and mined, both parties' records, the
 * gateway's first nonce issued; then one payment put in flight at the node's tip, its HTLC
 * found in the state the gateway co-signed.
 */
import { expect } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { decodeAddress } from '../../src/lib/address.ts';
import { toHex } from '../../src/lib/bytes.ts';
import { RpcChainSource } from '../../src/lib/chain/rpc.ts';
import { contractAddress, termsToJson } from '../../src/lib/credit/codec.ts';
import { issueStateNonce } from '../../src/lib/credit/signing.ts';
import { contractKey, makeContract, type CreditContract } from '../../src/lib/credit/terms.ts';
import * as device from '../../src/lib/device/device.ts';
import * as gateway from '../../src/lib/device/gateway.ts';
import { paymentHtlc } from '../../src/lib/device/channel.ts';
import type { DeviceChannel, GatewayChannel } from '../../src/lib/credit/ports.ts';
import type { DevicePolicy } from '../../src/lib/device/policy.ts';
import { deterministicRandom } from '../../src/lib/random.ts';
import { Sealer } from '../../src/lib/store/seal.ts';
import { StateDb } from '../../src/lib/store/sqlite/database.ts';
import { SqliteNonces } from '../../src/lib/store/sqlite/nonces.ts';
import { parseTx } from '../independent/tx.ts';
import { MINT, USER, PAYOUT, REFUND, CHANGE } from '../lib/credit/world.ts';
import { invoice, preimage } from '../lib/device/world.ts';
import type { FundedNode } from './funded-node.ts';

export const POLICY: DevicePolicy = {
  max_payment_msat: 50_000_000, max_daily_msat: 100_000_000, max_fee_base_msat: 1000, max_fee_ppm: 5000,
  allowed_payees: 'any', htlc_expiry_blocks: 24, claim_margin_blocks: 6,
};
export const TERMS = { fee_base_msat: 1000, fee_ppm: 2000, cltv_budget_blocks: 0 };

/**
 * A funded channel (100 000 sat, expiry tip + 100, fee rate 2), both records, the gateway's
 * first nonce issued (its nonces in the state.sqlite of `<dir>/<tag>-nonces`, sealed under its key, its randomness seeded
 * `gateway-<tag>`); then payment `k` (30 000 sat, invoice k of test/lib/device/world.ts) in flight.
 */
export async function inFlight(n: FundedNode, dir: string, tag: string, k: number) {
  const script = contractKey(USER.publicKey, MINT.publicKey).output.script;
  const funding = await n.fund(contractAddress({ script, network: 'regtest' }), 100_000n);
  const tip = await n.tip();
  const c: CreditContract = makeContract({
    network: 'regtest', userPubkey: USER.publicKey, mintPubkey: MINT.publicKey, capacity: 100_000n, funding, expiryHeight: tip + 100,
    refundScript: decodeAddress(REFUND, 'regtest'), changeScript: decodeAddress(CHANGE, 'regtest'), payoutScript: decodeAddress(PAYOUT, 'regtest'), feeRate: 2,
  });
  const nonces = new SqliteNonces(StateDb.open(`${dir}/${tag}-nonces`, { create: true })!, Sealer.fromSecret(MINT.secretKey), "the gateway's nonce");
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
