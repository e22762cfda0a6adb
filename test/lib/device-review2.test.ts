/**
 * Adversarial review 2 of the device ↔ gateway on-chain ends (issue 27: gateway claim,
 * device refund-htlc, credit abandon of a payment in flight). Each test is one finding,
 * written to fail on the code as reviewed and pass once fixed.
 */
import { describe, expect, it } from 'vitest';
import { Transaction } from '@scure/btc-signer';
import { RefusedError } from '../../src/lib/errors.ts';
import * as device from '../../src/lib/device/device.ts';
import * as gateway from '../../src/lib/device/gateway.ts';
import { deviceRefund } from '../../src/lib/device/onchain.ts';
import type { DeviceChannel } from '../../src/lib/device/channel.ts';
import { toHex } from '../../src/lib/bytes.ts';
import { GATEWAY_TERMS, NOW, POLICY, channel, invoice, paymentHash } from './device/world.ts';

type Ch = Awaited<ReturnType<typeof channel>>;

/** One payment through both sides, failed by the gateway; returns the co-signed HTLC state too. */
async function failOne(ch: Ch, d: DeviceChannel, g: Ch['gateway'], inv: string, tip: number) {
  const p = device.pay(d, ch.deviceKey, { invoice: inv, policy: POLICY, gateway: GATEWAY_TERMS, now: NOW, tip });
  const job = await gateway.pay(ch.gctx, g, p.message as never, NOW);
  const state = Transaction.fromRaw(Buffer.from(job.record.latest!.hex, 'hex'), { allowUnknownOutputs: true });
  const notice = await gateway.fail(ch.gctx, job.record, (job.message as { payment_hash: string }).payment_hash);
  const signed = device.fail(p.record, ch.deviceKey, notice.message as never);
  const done = await gateway.completeStep(ch.gctx, notice.record, signed.message as never);
  return { d: device.receipt(signed.record, done.message as never), g: done.record, state };
}

function refusedWith(step: () => unknown, code: string): void {
  let err: unknown;
  try {
    step();
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}, the step succeeded`).toBeInstanceOf(RefusedError);
  expect((err as RefusedError).code).toBe(code);
}

describe('review 2: a malicious gateway against the device\'s HTLC refund', () => {
  it('a payment hash failed twice (a retry, allowed): the device can refund the HTLC of EITHER state the gateway may broadcast, not only the first', async () => {
    const ch = await channel();
    const hash = toHex(paymentHash(3));
    // The same invoice paid twice, failed twice (a retry a block later: another HTLC expiry, another state).
    const one = await failOne(ch, ch.device, ch.gateway, invoice(3, 2_000_000n), ch.tip);
    const two = await failOne(ch, one.d, one.g, invoice(3, 2_000_000n), ch.tip + 1);
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
    const pa = device.pay(a.device, a.deviceKey, { invoice: invoice(0, 20_000_000n), policy: POLICY, gateway: GATEWAY_TERMS, now: NOW, tip: a.tip });
    const ja = await gateway.pay(a.gctx, a.gateway, pa.message as never, NOW);
    const sa = await gateway.settle(a.gctx, ja.record, Uint8Array.from(Buffer.alloc(32, 1)));
    const da = device.settle(pa.record, a.deviceKey, sa.message as never);
    const ca = await gateway.completeStep(a.gctx, sa.record, da.message as never);
    const doneA = device.receipt(da.record, ca.message as never);
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
