/**
 * Adversarial review of the device ↔ gateway library (issue 27): each test is one
 * finding, written to fail on the code as reviewed and pass once fixed. The device and
 * gateway are the library's own steps over a credit contract opened in the test world
 * (test/lib/device/world.ts); the attacker is the other party, or the clock.
 */
import { describe, expect, it } from 'vitest';
import * as device from '../../src/lib/device/device.ts';
import * as gateway from '../../src/lib/device/gateway.ts';
import type { DeviceChannel } from '../../src/lib/credit/ports.ts';
import { GATEWAY_TERMS, NOW, POLICY, type Channel, asGateway, channel, invoice, payThrough, paymentHash, preimage, refusedWith } from './device/world.ts';
import { expectRefused } from './credit/tamper.ts';
import * as abandon from '../../src/lib/credit/abandon.ts';

const DAY = 86_400;

describe('review: a malicious gateway (or payee) against the device', () => {
  it('an invoice whose payment hash the device already paid is refused: the gateway knows its preimage and could settle it without paying anyone', async () => {
    const ch = await channel();
    const first = await payThrough(ch, ch.device, ch.gateway, invoice(0, 2_000_000n), { outcome: 'settle', preimage: preimage(0) });
    expect(first.d.paid.map((p) => p.payment_hash)).toEqual([Buffer.from(paymentHash(0)).toString('hex')]);
    // The same payment hash in a fresh invoice (another amount, later timestamp): the gateway
    // would answer with the preimage it already holds, and be paid twice for one payment.
    const replay = invoice(7, 3_000_000n, { hash: paymentHash(0), timestamp: NOW });
    refusedWith(() => device.pay(first.d, ch.deviceKey, { invoice: replay, policy: POLICY, gateway: GATEWAY_TERMS, now: NOW + 5, tip: ch.tip }), 'E_ALREADY_PAID');
    // Control: a fresh payment hash is paid.
    const fresh = device.pay(first.d, ch.deviceKey, { invoice: invoice(8, 3_000_000n, { timestamp: NOW }), policy: POLICY, gateway: GATEWAY_TERMS, now: NOW + 5, tip: ch.tip });
    expect(fresh.record.in_flight).toBeDefined();
    // A failed payment's hash may be paid again (a retry): nothing was settled for it.
    const failed = await payThrough(ch, first.d, first.g, invoice(9, 1_000_000n), { outcome: 'fail' });
    const retry = device.pay(failed.d, ch.deviceKey, { invoice: invoice(9, 1_000_000n), policy: POLICY, gateway: GATEWAY_TERMS, now: NOW, tip: ch.tip });
    expect(retry.record.in_flight?.payment_hash).toBe(Buffer.from(paymentHash(9)).toString('hex'));
  });

  it('a clock set back a day does not reset the daily limit (alternating two dates gave a fresh budget each switch)', async () => {
    const ch = await channel({ capacity: 1_000_000n });
    const policy = { ...POLICY, max_payment_msat: 20_000_000, max_daily_msat: 30_000_000 };
    const pay = (d: DeviceChannel, n: number, now: number) =>
      device.pay(d, ch.deviceKey, { invoice: invoice(n, 20_000_000n, { timestamp: now - 10 }), policy, gateway: GATEWAY_TERMS, now, tip: ch.tip });
    // Day D: 20 000 sat paid, settled.
    let d = ch.device;
    let g = ch.gateway;
    const p0 = pay(d, 0, NOW);
    const j0 = await gateway.pay(ch.gctx, g, p0.message as never, NOW);
    const s0 = await gateway.settle(ch.gctx, j0.record, preimage(0));
    const ds0 = device.settle(p0.record, ch.deviceKey, s0.message as never);
    const c0 = await gateway.completeStep(ch.gctx, s0.record, ds0.message as never);
    d = device.receipt(ds0.record, c0.message as never);
    g = c0.record;
    // Control: a second 20 000 sat the same day is over the 30 000 sat day.
    refusedWith(() => pay(d, 1, NOW + 60), 'E_OVER_DAILY_LIMIT');
    // The device's clock goes back one day (a reset RTC, a spoofed time source): still over.
    refusedWith(() => pay(d, 1, NOW - DAY), 'E_OVER_DAILY_LIMIT');
    // The next real day has its own budget.
    expect(pay(d, 1, NOW + DAY).record.in_flight).toBeDefined();
  });
});

describe('review: crashes and replays on the device', () => {
  it('device pay run again with the same invoice (its device/pay lost: killed after the store, or the pipe broke) resends the same message', async () => {
    const ch = await channel();
    const params = { invoice: invoice(0, 2_000_000n), policy: POLICY, gateway: GATEWAY_TERMS, now: NOW, tip: ch.tip };
    const first = device.pay(ch.device, ch.deviceKey, params);
    // The record was written, the message never reached the gateway. Before the fix: E_HTLC_IN_FLIGHT,
    // and nothing could ever get the channel out (the gateway has nothing in flight to fail).
    const again = device.pay(first.record, ch.deviceKey, { ...params, now: NOW + 30 });
    expect(again.message).toEqual(first.message);
    expect(again.record).toEqual(first.record); // the day's spending is not counted twice
    const job = await gateway.pay(ch.gctx, ch.gateway, again.message as never, NOW);
    expect(job.message).toMatchObject({ type: 'gateway/job', payment_hash: Buffer.from(paymentHash(0)).toString('hex') });
    // Another invoice while that one is in flight is still refused.
    refusedWith(() => device.pay(first.record, ch.deviceKey, { ...params, invoice: invoice(1, 2_000_000n) }), 'E_HTLC_IN_FLIGHT');
  });

  it('device receipt run again with the same gateway/receipt (its output lost) is applied once, not refused', async () => {
    const ch = await channel();
    const p = device.pay(ch.device, ch.deviceKey, { invoice: invoice(0, 2_000_000n), policy: POLICY, gateway: GATEWAY_TERMS, now: NOW, tip: ch.tip });
    const job = await gateway.pay(ch.gctx, ch.gateway, p.message as never, NOW);
    const notice = await gateway.settle(ch.gctx, job.record, preimage(0));
    const signed = device.settle(p.record, ch.deviceKey, notice.message as never);
    const done = await gateway.completeStep(ch.gctx, notice.record, signed.message as never);
    const idle = device.receipt(signed.record, done.message as never);
    expect(device.receipt(idle, done.message as never)).toEqual(idle);
    // Another receipt (a forged settled amount, an old state) is still refused: a relay's (E_RECEIPT_FORGED), the gateway's own (E_STATE_NUMBER).
    const forged = { ...(done.message as Record<string, unknown>), settled_sat: 999_999 };
    refusedWith(() => device.receipt(idle, forged as never), 'E_RECEIPT_FORGED');
    refusedWith(() => device.receipt(idle, asGateway(forged) as never), 'E_STATE_NUMBER');
  });
});

describe('review: a malicious device against the gateway', () => {
  it('a device/pay resent after the gateway failed that payment gets no job again (a gateway paying every job it prints would pay an invoice it can no longer settle)', async () => {
    const ch = await channel();
    const p = device.pay(ch.device, ch.deviceKey, { invoice: invoice(0, 2_000_000n), policy: POLICY, gateway: GATEWAY_TERMS, now: NOW, tip: ch.tip });
    const job = await gateway.pay(ch.gctx, ch.gateway, p.message as never, NOW);
    // Control: while the payment is in flight, the same device/pay gets the same job (its answer was lost).
    expect((await gateway.pay(ch.gctx, job.record, p.message as never, NOW)).message).toEqual(job.message);
    const failed = await gateway.fail(ch.gctx, job.record, (job.message as { payment_hash: string }).payment_hash);
    // The device holds gateway/fail, and replays its device/pay instead of signing the fail
    // state. A second job would have the gateway's node pay the invoice again: the preimage
    // it gets can no longer settle (E_PAYMENT_FAILED), and the device's device/fail then
    // replaces the only state that held the HTLC — the gateway pays the invoice for nothing.
    await expectRefused(ch.w.dir.path, () => gateway.pay(ch.gctx, failed.record, p.message as never, NOW), { code: 'E_PAYMENT_FAILED', exitCode: 4, message: /failed/ });
  });
});

describe('review: a device/pay the gateway refused', () => {
  /** The channel's records as the commands keep them: the device's in the user's credit record, the gateway's in the mint's. */
  async function stored(ch: Channel, d: DeviceChannel, g: Channel['gateway']) {
    const u = (await ch.w.userBook.get(d.contract_id))!;
    await ch.w.userBook.put({ ...u, device: d });
    const m = (await ch.w.mintBook.get(g.contract_id))!;
    await ch.w.mintBook.put({ ...m, gateway: g, next_state: g.next_state });
  }

  it('is abandoned through credit abandon, answered by the gateway (it never signed it), and the channel pays again; not while the gateway holds it', async () => {
    const ch = await channel();
    // The device pays an invoice that expires before the gateway sees it: refused, for good
    // (resending the same device/pay gets the same refusal). Before the fix nothing could
    // end this payment: the device refused every other payment (E_HTLC_IN_FLIGHT) and
    // close-credit (E_HTLC_IN_FLIGHT) until the channel's expiry.
    const late = invoice(0, 2_000_000n, { expiry: 60 });
    const p = device.pay(ch.device, ch.deviceKey, { invoice: late, policy: POLICY, gateway: GATEWAY_TERMS, now: NOW, tip: ch.tip });
    await expect(gateway.pay(ch.gctx, ch.gateway, p.message as never, NOW + 3600)).rejects.toMatchObject({ code: 'E_INVOICE_EXPIRED' });
    await stored(ch, p.record, ch.gateway);
    const request = await abandon.abandonRequest(ch.w.user, p.record.contract_id);
    expect(request).toMatchObject({ type: 'credit/abandon', state: 1, txid: (p.message as { txid: string }).txid });
    const answer = await abandon.acceptAbandon(ch.w.mint, request as never);
    expect(answer).toMatchObject({ type: 'credit/abandoned', state: 1 });
    await abandon.applyAbandoned(ch.w.user, answer as never);
    const u = (await ch.w.userBook.get(p.record.contract_id))!;
    const d = u.device!;
    expect(d.in_flight).toBeUndefined();
    expect(d.gateway_nonce).toEqual((answer as { next_nonce: unknown }).next_nonce);
    expect(u.mint_nonce).toEqual(d.gateway_nonce);
    expect(d.day.spent_msat).toBe('0'); // the abandoned payment no longer counts
    // The next payment goes through, against the gateway's fresh nonce for state 1.
    const m = (await ch.w.mintBook.get(p.record.contract_id))!;
    const next = device.pay(d, ch.deviceKey, { invoice: invoice(1, 2_000_000n), policy: POLICY, gateway: GATEWAY_TERMS, now: NOW, tip: ch.tip });
    const job = await gateway.pay(ch.gctx, m.gateway!, next.message as never, NOW);
    expect(job.message).toMatchObject({ type: 'gateway/job', state: 1 });
  });

  it('a device/pay the gateway co-signed cannot be abandoned: the gateway says so and the payment stays in flight', async () => {
    const ch = await channel();
    const p = device.pay(ch.device, ch.deviceKey, { invoice: invoice(0, 2_000_000n), policy: POLICY, gateway: GATEWAY_TERMS, now: NOW, tip: ch.tip });
    const job = await gateway.pay(ch.gctx, ch.gateway, p.message as never, NOW);
    await stored(ch, p.record, job.record);
    const request = await abandon.abandonRequest(ch.w.user, p.record.contract_id);
    await expectRefused(ch.w.dir.path, () => abandon.acceptAbandon(ch.w.mint, request as never), { code: 'E_HTLC_IN_FLIGHT', exitCode: 4, message: /signed/ });
  });
});
