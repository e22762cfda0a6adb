/**
 * The gateway's steps where `npm run mutate` found a planted change passing the device tests
 * (src/lib/device/gateway.ts), each at its edge: a message for another contract or state;
 * a device/pay whose message misstates what is settled, carries an invoice without an
 * amount, or arrives exactly when its invoice expires; an HTLC whose claim margin ends
 * exactly at the channel's expiry (taken); the fee and the job's max fee to the sat and
 * msat; a retried device/pay with another transaction, or a completed state passed off as
 * one; settle and fail with nothing in flight or after the other; a device/settle replayed
 * (the same receipt) or changed (refused); a message of another type; what the record keeps
 * of a decided payment, and the answers a service gives from it (decidedAnswer,
 * paymentAnswer). Library steps only, one channel per test.
 */
import { describe, expect, it } from 'vitest';
import { base64 } from '@scure/base';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../../../src/lib/bytes.ts';
import { termsFromJson } from '../../../src/lib/credit/codec.ts';
import { userSignAgainst } from '../../../src/lib/credit/signing.ts';
import { buildState } from '../../../src/lib/credit/transactions.ts';
import { serializePsbt } from '../../../src/lib/psbt/parse.ts';
import * as device from '../../../src/lib/device/device.ts';
import * as gateway from '../../../src/lib/device/gateway.ts';
import { stateHtlc } from '../../../src/lib/device/channel.ts';
import type { DeviceChannel } from '../../../src/lib/credit/ports.ts';
import { refusalAsync } from '../../setup/refusal.ts';
import { GATEWAY_TERMS, NOW, POLICY, channel, invoice, preimage } from './world.ts';

type Ch = Awaited<ReturnType<typeof channel>>;
type Msg = Record<string, any>;

const INVOICE_MSAT = 2_000_000n; // invoice(0, …) below: 2,000 sat
const HASH0 = toHex(sha256(preimage(0)));

/** The device's honest device/pay for invoice `n`. */
const devicePay = (ch: Ch, d: DeviceChannel, n = 0) => device.pay(d, ch.deviceKey, { invoice: invoice(n, INVOICE_MSAT), policy: POLICY, gateway: GATEWAY_TERMS, now: NOW, tip: ch.tip });

/** A device/pay for invoice 0 whose state the device signs with the HTLC's expiry or amount changed. */
function crafted(ch: Ch, o: { expiry?: number; amount?: number }): Msg {
  const honest = devicePay(ch, ch.device).message as Msg;
  const c = termsFromJson(ch.device.contract, 'regtest');
  const h = { ...honest.htlc, ...(o.expiry !== undefined ? { expiry_height: o.expiry } : {}), ...(o.amount !== undefined ? { amount_sat: o.amount } : {}) };
  const tx = buildState(c, 0n, stateHtlc(c, { state: honest.state, payment_hash: h.payment_hash, amount_sat: h.amount_sat, fee_sat: 0, invoice_amount_msat: '0', expiry_height: h.expiry_height, invoice: honest.invoice }));
  userSignAgainst(tx, 0, ch.deviceKey, c.mintPubkey, ch.device.gateway_nonce!);
  return { ...honest, htlc: h, psbt: base64.encode(serializePsbt(tx)) };
}

/** Payment 0 in flight: the device's record and message, the gateway's job. */
async function inFlight(ch: Ch) {
  const p = devicePay(ch, ch.device);
  const job = await gateway.pay(ch.gctx, ch.gateway, p.message as never, NOW);
  return { p, job };
}

/** Payment 0 settled through to the receipt. */
async function settled(ch: Ch) {
  const { p, job } = await inFlight(ch);
  const notice = await gateway.settle(ch.gctx, job.record, preimage(0));
  const s = device.settle(p.record, ch.deviceKey, notice.message as never);
  const done = await gateway.completeStep(ch.gctx, notice.record, s.message as never);
  return { p, job, notice, s, done, d: device.receipt(s.record, done.message as never) };
}

describe('gateway steps at the edges the mutation run found', () => {
  it('device/pay: another contract (E_WRONG_CONTRACT), another state (E_STALE_STATE, exit 5), a misstated settled amount, an invoice without amount', async () => {
    const ch = await channel();
    const m = devicePay(ch, ch.device).message as Msg;
    const other = '00'.repeat(32);
    const e1 = await refusalAsync(gateway.pay(ch.gctx, ch.gateway, { ...m, contract_id: other } as never, NOW), 'E_WRONG_CONTRACT', 4);
    expect(e1.message).toBe(`the message is for contract ${other}, not ${ch.gateway.contract_id}`);
    const e2 = await refusalAsync(gateway.pay(ch.gctx, ch.gateway, { ...m, state: m.state + 1 } as never, NOW), 'E_STALE_STATE', 5);
    expect(e2.message).toBe(`state ${m.state + 1} is not the next state ${m.state} of contract ${ch.gateway.contract_id}`);
    // The state itself pays the gateway its 0 sat: only the message's claim is wrong.
    const e3 = await refusalAsync(gateway.pay(ch.gctx, ch.gateway, { ...m, settled_sat: 1000 } as never, NOW), 'E_BAD_PAYOUT', 4);
    expect(e3.message).toBe("the state pays the gateway 1000 sat settled, the gateway's record is 0 sat");
    // The same payment hash, no amount: the device would never send it; the gateway refuses it too.
    const e4 = await refusalAsync(gateway.pay(ch.gctx, ch.gateway, { ...m, invoice: invoice(0, 0n, { hrp: 'lnbcrt' }) } as never, NOW), 'E_INVOICE_NO_AMOUNT', 4);
    expect(e4.message).toBe('the invoice has no amount');
  });

  it('device/pay the second its invoice expires is refused (naming when), one second before is taken; the fee and the max fee are exact', async () => {
    const ch = await channel();
    const m = devicePay(ch, ch.device).message as Msg;
    const expiresAt = NOW - 10 + 3600; // world.ts: issued NOW - 10, expiry 3600
    const e = await refusalAsync(gateway.pay(ch.gctx, ch.gateway, m as never, expiresAt), 'E_INVOICE_EXPIRED', 4);
    expect(e.message).toBe(`the invoice expired at ${expiresAt}`);
    const ok = await gateway.pay(ch.gctx, ch.gateway, m as never, expiresAt - 1);
    const amount = m.htlc.amount_sat as number;
    expect(amount).toBeGreaterThan(2000);
    expect(ok.record.in_flight?.fee_sat).toBe(amount - 2000);
    expect(ok.message.max_fee_msat).toBe(String(amount * 1000 - 2_000_000));
  });

  it("an HTLC whose claim margin ends exactly at the channel's expiry is taken (one block later is not: refusals.test.ts)", async () => {
    const ch = await channel();
    const edge = ch.device.contract.expiry_height - ch.gctx.terms.claim_margin_blocks;
    const ok = await gateway.pay(ch.gctx, ch.gateway, crafted(ch, { expiry: edge }) as never, NOW);
    expect(ok.record.in_flight?.expiry_height).toBe(edge);
  });

  it('a retried device/pay with another transaction is E_HTLC_IN_FLIGHT, with a broken PSBT names its field; a completed state passed off as a device/pay is E_STALE_STATE', async () => {
    const ch = await channel();
    const { job } = await inFlight(ch);
    const other = crafted(ch, { amount: (job.record.in_flight!.amount_sat) + 1 });
    await refusalAsync(gateway.pay(ch.gctx, job.record, other as never, NOW), 'E_HTLC_IN_FLIGHT', 4);
    const e = await refusalAsync(gateway.pay(ch.gctx, job.record, { ...other, psbt: '!!!' } as never, NOW), 'E_MALFORMED_PSBT', 3);
    expect(e.message).toMatch(/^psbt is not valid base64/);

    const ch2 = await channel({ input: '77' });
    const { p, s, done } = await settled(ch2);
    const latest = done.record.latest!;
    expect(latest.state).toBe(s.message.state);
    const passedOff = { ...(p.message as Msg), state: latest.state, psbt: (s.message as Msg).psbt };
    await refusalAsync(gateway.pay(ch2.gctx, done.record, passedOff as never, NOW), 'E_STALE_STATE', 5);
  });

  it('settle and fail with nothing in flight, settle after fail, fail after settle: each refused with its code and message', async () => {
    const ch = await channel();
    for (const step of [() => gateway.settle(ch.gctx, ch.gateway, preimage(0)), () => gateway.fail(ch.gctx, ch.gateway, HASH0)]) {
      const e = await refusalAsync(step(), 'E_NO_PAYMENT_IN_FLIGHT', 4);
      expect(e.message).toBe('no payment is in flight on this channel');
    }
    const { job } = await inFlight(ch);
    const failed = await gateway.fail(ch.gctx, job.record, HASH0);
    const e1 = await refusalAsync(gateway.settle(ch.gctx, failed.record, preimage(0)), 'E_PAYMENT_FAILED', 4);
    expect(e1.message).toBe(`payment ${HASH0} was failed; it cannot be settled`);
    const won = await gateway.settle(ch.gctx, job.record, preimage(0));
    const e2 = await refusalAsync(gateway.fail(ch.gctx, won.record, HASH0), 'E_PAYMENT_SETTLED', 4);
    expect(e2.message).toBe(`payment ${HASH0} has its preimage: settle it`);
  });

  it('completeStep: nothing in flight is refused; a message of another type is E_WRONG_MESSAGE; a broken PSBT names its field', async () => {
    const ch = await channel();
    const { p, job } = await inFlight(ch);
    const failed = await gateway.fail(ch.gctx, job.record, HASH0);
    const f = device.fail(p.record, ch.deviceKey, failed.message as never).message as Msg;
    const e0 = await refusalAsync(gateway.completeStep(ch.gctx, ch.gateway, f as never), 'E_NO_PAYMENT_IN_FLIGHT', 4);
    expect(e0.message).toBe('no payment is in flight on this channel');
    const e1 = await refusalAsync(gateway.completeStep(ch.gctx, failed.record, { ...f, type: 'device/pay' } as never), 'E_WRONG_MESSAGE', 3);
    expect(e1.message).toBe('expected device/settle or device/fail, got device/pay');
    const e2 = await refusalAsync(gateway.completeStep(ch.gctx, failed.record, { ...f, psbt: '!!!' } as never), 'E_MALFORMED_PSBT', 3);
    expect(e2.message).toMatch(/^psbt is not valid base64/);
  });

  it('a device/settle replayed after its receipt gets the same receipt, nothing new; the same state with another amount, or another state, is refused; the record keeps the decided payment', async () => {
    const ch = await channel();
    const { job, notice, s, done } = await settled(ch);
    const again = await gateway.completeStep(ch.gctx, done.record, s.message as never);
    expect(again.record).toBe(done.record);
    expect(again.message).toBe(done.record.receipt);
    expect(again.message).toEqual(done.message);
    const m = s.message as Msg;
    for (const changed of [{ ...m, settled_sat: m.settled_sat + 1 }, { ...m, state: m.state + 1 }]) {
      await refusalAsync(gateway.completeStep(ch.gctx, done.record, changed as never), 'E_NO_PAYMENT_IN_FLIGHT', 4);
    }
    const f = job.record.in_flight!;
    expect(done.record.decided).toEqual({ payment_hash: HASH0, answer: notice.message, amount_sat: f.amount_sat, fee_sat: f.fee_sat, invoice_amount_msat: '2000000', state: f.state });
  });

  it('decidedAnswer: the gateway/settle or gateway/fail given, only for the same contract, state and transaction', async () => {
    const ch = await channel();
    const m = devicePay(ch, ch.device).message as Msg;
    expect(gateway.decidedAnswer(ch.gateway, m as never, ch.gctx.gateway)).toBeUndefined(); // nothing in flight
    const { job } = await inFlight(ch);
    expect(gateway.decidedAnswer(job.record, m as never, ch.gctx.gateway)).toBeUndefined(); // in flight, not decided
    const notice = await gateway.settle(ch.gctx, job.record, preimage(0));
    expect(gateway.decidedAnswer(notice.record, m as never, ch.gctx.gateway)).toBe(notice.message);
    const failed = await gateway.fail(ch.gctx, job.record, HASH0);
    expect(gateway.decidedAnswer(failed.record, m as never, ch.gctx.gateway)).toBe(failed.message);
    expect(gateway.decidedAnswer(notice.record, { ...m, contract_id: '00'.repeat(32) } as never, ch.gctx.gateway)).toBeUndefined();
    expect(gateway.decidedAnswer(notice.record, { ...m, state: m.state + 1 } as never, ch.gctx.gateway)).toBeUndefined();
    expect(gateway.decidedAnswer(notice.record, crafted(ch, { amount: m.htlc.amount_sat + 1 }) as never, ch.gctx.gateway)).toBeUndefined();
    const e = await refusalAsync((async () => gateway.decidedAnswer(notice.record, { ...m, psbt: '!!!' } as never, ch.gctx.gateway))(), 'E_MALFORMED_PSBT', 3);
    expect(e.message).toMatch(/^psbt is not valid base64/);
  });

  it('paymentAnswer: the answer for that payment hash, in flight or as the last decided, never another payment\'s', async () => {
    const ch = await channel();
    const { p, job } = await inFlight(ch);
    const hash1 = toHex(sha256(preimage(1)));
    expect(gateway.paymentAnswer(ch.gateway, HASH0, ch.gctx.gateway)).toBeUndefined();
    expect(gateway.paymentAnswer(job.record, HASH0, ch.gctx.gateway)).toBeUndefined(); // not decided yet
    const notice = await gateway.settle(ch.gctx, job.record, preimage(0));
    expect(gateway.paymentAnswer(notice.record, HASH0, ch.gctx.gateway)).toBe(notice.message);
    expect(gateway.paymentAnswer(notice.record, hash1, ch.gctx.gateway)).toBeUndefined();
    const s = device.settle(p.record, ch.deviceKey, notice.message as never);
    const done = await gateway.completeStep(ch.gctx, notice.record, s.message as never);
    expect(gateway.paymentAnswer(done.record, HASH0, ch.gctx.gateway)).toBe(notice.message);
    expect(gateway.paymentAnswer(done.record, hash1, ch.gctx.gateway)).toBeUndefined();
    // The next payment in flight, not decided: the last one's answer is still given for its hash.
    const d = device.receipt(s.record, done.message as never);
    const next = await gateway.pay(ch.gctx, done.record, devicePay(ch, d, 1).message as never, NOW);
    expect(gateway.paymentAnswer(next.record, HASH0, ch.gctx.gateway)).toBe(notice.message);
    expect(gateway.paymentAnswer(next.record, hash1, ch.gctx.gateway)).toBeUndefined();
  });
});
