/**
 * Adversarial review 2 of the device ↔ gateway on-chain ends (issue 27: gateway claim,
 * device refund-htlc, credit abandon of a payment in flight). Each test is one finding,
 * written to fail on the code as reviewed and pass once fixed.
 */
import { describe, expect, it } from 'vitest';
import * as device from '../../src/lib/device/device.ts';
import { deviceRefund } from '../../src/lib/device/onchain.ts';
import { toHex } from '../../src/lib/bytes.ts';
import { GATEWAY_TERMS, NOW, POLICY, channel, invoice, payThrough, paymentHash, preimage, refusedWith } from './device/world.ts';

describe('review 2: a malicious gateway against the device\'s HTLC refund', () => {
  it('a payment hash failed twice (a retry, allowed): the device can refund the HTLC of EITHER state the gateway may broadcast, not only the first', async () => {
    const ch = await channel();
    const hash = toHex(paymentHash(3));
    // The same invoice paid twice, failed twice (a retry a block later: another HTLC expiry, another state).
    const one = await payThrough(ch, ch.device, ch.gateway, invoice(3, 2_000_000n), { outcome: 'fail' });
    const two = await payThrough(ch, one.d, one.g, invoice(3, 2_000_000n), { outcome: 'fail', tip: ch.tip + 1 });
    expect(two.d.failed?.map((f) => f.payment_hash)).toEqual([hash, hash]);
    expect(one.state.id).not.toBe(two.state.id);
    // The gateway kept the second HTLC state and broadcasts it: the device must refund ITS HTLC output.
    const target = two.d.failed![1]!;
    expect(target.txid).toBe(two.state.id);
    // Without naming the state, the device cannot know which one is on chain: refused, never a guess.
    refusedWith(() => deviceRefund(two.d, ch.deviceKey, hash, ch.c.refundScript, 1), 'E_WRONG_PAYMENT');
    for (const [f, state] of [[two.d.failed![0]!, one.state], [target, two.state]] as const) {
      const spend = deviceRefund(two.d, ch.deviceKey, hash, ch.c.refundScript, 1, undefined, f.txid);
      const input = spend.tx.getInput(0);
      expect(toHex(input.txid!)).toBe(state.id);
      // The output it spends is the state's own HTLC output (script and amount), the lock its expiry.
      const out = state.getOutput(input.index!);
      expect(toHex(input.witnessUtxo!.script)).toBe(toHex(out.script!));
      expect(input.witnessUtxo!.amount).toBe(out.amount);
      expect(spend.lockTime).toBe(f.expiry_height);
    }
    // A state txid that holds no such payment: refused.
    refusedWith(() => deviceRefund(two.d, ch.deviceKey, hash, ch.c.refundScript, 1, undefined, '00'.repeat(32)), 'E_WRONG_PAYMENT');
  });
});

describe('review 2: the device\'s single-use and daily rules hold across its channels (a rollover, a second channel)', () => {
  it('a payment hash settled on another channel of this device is refused, and the daily limit counts every channel\'s spending today', async () => {
    const a = await channel();
    const b = await channel();
    const hash0 = toHex(paymentHash(0));
    // Channel A paid payment 0 today (settled): its preimage is known to the gateway.
    const doneA = (await payThrough(a, a.device, a.gateway, invoice(0, 20_000_000n), { outcome: 'settle', preimage: preimage(0) })).d;
    expect(doneA.paid.map((p) => p.payment_hash)).toEqual([hash0]);
    const others = [doneA];
    // Channel B (the next contract after a rollover, or a second channel): the same hash again,
    // in a fresh invoice: the gateway holds its preimage and would settle it without paying.
    const replay = invoice(7, 3_000_000n, { hash: paymentHash(0), timestamp: NOW });
    refusedWith(() => device.pay(b.device, b.deviceKey, { invoice: replay, policy: POLICY, gateway: GATEWAY_TERMS, now: NOW + 5, tip: b.tip, others }), 'E_ALREADY_PAID');
    // The day: A spent 20 000 sat of the 100 000 sat day; B may spend 80 000 sat more, not 100 000.
    const policy = { ...POLICY, max_payment_msat: 90_000_000 };
    refusedWith(() => device.pay(b.device, b.deviceKey, { invoice: invoice(8, 90_000_000n, { timestamp: NOW }), policy, gateway: GATEWAY_TERMS, now: NOW + 5, tip: b.tip, others }), 'E_OVER_DAILY_LIMIT');
    // Controls: within the day's rest it pays; another day has a fresh budget; a fresh hash pays.
    expect(device.pay(b.device, b.deviceKey, { invoice: invoice(8, 80_000_000n, { timestamp: NOW }), policy, gateway: GATEWAY_TERMS, now: NOW + 5, tip: b.tip, others }).record.in_flight).toBeDefined();
    expect(device.pay(b.device, b.deviceKey, { invoice: invoice(8, 90_000_000n, { timestamp: NOW + 86_400 }), policy, gateway: GATEWAY_TERMS, now: NOW + 86_400, tip: b.tip, others }).record.in_flight).toBeDefined();
  });
});
