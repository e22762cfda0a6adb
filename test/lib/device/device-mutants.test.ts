/**
 * The device's steps (src/lib/device/device.ts) at the edges `npm run mutate` plants bugs in,
 * called directly and fast: one channel opened once (the steps are pure: a record and a
 * message in, the next record and message out), the gateway's notices and receipts written
 * here with nonces of our own (two points: the device signs against whatever nonce the
 * gateway names), so no gateway step runs. Each refusal by code, exit class and whole
 * message; each record and message whole (toStrictEqual: no key added or dropped); each
 * signed state read back by the independent parser (test/independent/tx.ts) with its HTLC
 * script derived there. Expected amounts are worked from the policy (docs/device.md):
 * fee = base + ppm rounded up to the msat, the HTLC = invoice + fee rounded up to the sat.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64 } from '@scure/base';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import * as device from '../../../src/lib/device/device.ts';
import type { DeviceChannel } from '../../../src/lib/credit/ports.ts';
import { bytesOf, hexOf, psbtUnsignedTx } from '../../independent/tx.ts';
import { publicKeyOf } from '../../independent/keys.ts';
import { taprootHtlcContract } from '../../independent/descriptor.ts';
import { refusal } from '../../setup/refusal.ts';
import { GATEWAY_TERMS, NOW, POLICY, asGateway, channel, invoice, paymentHash, preimage } from './world.ts';

type Ch = Awaited<ReturnType<typeof channel>>;
type Msg = Record<string, any>;
type Nonce = { state: number; pubnonce: string };

const TODAY = '2027-01-15'; // NOW = 1_800_000_000 is 2027-01-15T08:00:00Z
const YESTERDAY = '2027-01-14';
const TOMORROW = '2027-01-16';
const MINT_PUB = publicKeyOf(bytesOf('a1'.repeat(32)));
const USER_PUB = publicKeyOf(bytesOf('b2'.repeat(32)));
const hashHex = (n: number) => hexOf(paymentHash(n));
const OTHER = 'cc'.repeat(32);

// Invoice 1_234_567 msat with the gateway's 1000 msat + 2000 ppm: fee 1000 + ⌈2469.134⌉ = 3470 msat,
// HTLC ⌈1_238_037 / 1000⌉ = 1239 sat, the invoice ⌈1234.567⌉ = 1235 sat, so the fee in sat is 4.
const MSAT = 1_234_567n;
const HTLC_SAT = 1239;
const FEE_SAT = 4;

/** A gateway nonce for `state`: two points of our own (k and k + 100 times G). */
function nonce(state: number, k = 1): Nonce {
  const point = (x: number) => hexOf(secp256k1.getPublicKey(Uint8Array.from(Buffer.alloc(32, x)), true));
  return { state, pubnonce: point(k) + point(k + 100) };
}

let ch: Ch;
/** The channel at state 4 with 5000 sat settled, idle, the gateway's nonce for state 5. */
let base: DeviceChannel;

beforeAll(async () => {
  ch = await channel();
  base = { ...ch.device, state: 4, settled_sat: 5000, gateway_nonce: nonce(5) };
});
// The channel's stores and directory go with the file (a mutation run opens one per mutant run).
afterAll(async () => {
  await ch.w.close();
  ch.w.dir.cleanup();
});

const params = (inv: string, o: { now?: number; others?: device.OtherChannel[]; policy?: typeof POLICY } = {}) =>
  ({ invoice: inv, policy: o.policy ?? POLICY, gateway: GATEWAY_TERMS, now: o.now ?? NOW, tip: ch.tip, ...(o.others ? { others: o.others } : {}) });
const pay = (r: DeviceChannel, inv: string, o: Parameters<typeof params>[1] = {}) => device.pay(r, ch.deviceKey, params(inv, o));
/** Payment 1 (1_234_567 msat) in flight from `base`. */
const inFlight = (r: DeviceChannel = base) => pay(r, invoice(1, MSAT));
const notice = (type: string, r: DeviceChannel, o: { hash?: string; next?: Nonce; preimage?: string | undefined; contract?: string } = {}) => asGateway({
  type, contract_id: o.contract ?? r.contract_id, payment_hash: o.hash ?? r.in_flight!.payment_hash, next_nonce: o.next ?? nonce(r.in_flight!.state + 1, 7),
  ...('preimage' in o ? (o.preimage === undefined ? {} : { preimage: o.preimage }) : { preimage: hexOf(preimage(1)) }),
});
const settle = (r: DeviceChannel, o: Parameters<typeof notice>[2] = {}, others?: device.OtherChannel[]) => device.settle(r, ch.deviceKey, notice('gateway/settle', r, o) as never, others);
const fail = (r: DeviceChannel, o: Parameters<typeof notice>[2] = {}) => device.fail(r, ch.deviceKey, notice('gateway/fail', r, o) as never);
const other = (o: Partial<device.OtherChannel>): device.OtherChannel => ({ contract_id: 'dd'.repeat(32), paid: [], day: { date: '', spent_msat: '0' }, ...o });

/** The state a message signs, read by the independent parser: its txid, and its outputs by script. */
function stateOf(m: Msg) {
  const tx = psbtUnsignedTx(base64.decode(m.psbt));
  const amount = (script: Uint8Array) => tx.outputs.filter((o) => hexOf(o.script) === hexOf(script)).map((o) => o.amount);
  return { txid: tx.txid, inputs: tx.inputs.map((i) => `${i.txid}:${i.vout}`), amount, count: tx.outputs.length };
}
const htlcScript = (n: number) => taprootHtlcContract({ payer: USER_PUB, recipient: MINT_PUB, paymentHash: paymentHash(n), locktime: ch.tip + POLICY.htlc_expiry_blocks }).output.script;

describe('device pay: the HTLC, the message and the record', () => {
  it('signs state n + 1 with settled S and HTLC(invoice + fee rounded up) to the independently derived script; the record keeps it whole', () => {
    const inv = invoice(1, MSAT);
    const p = pay(base, `  ${inv}\n`);
    const m = p.message as Msg;
    const s = stateOf(m);
    expect(m).toStrictEqual({
      type: 'device/pay', version: 1, network: 'regtest', contract_id: base.contract_id, state: 5, settled_sat: 5000,
      htlc: { payment_hash: hashHex(1), amount_sat: HTLC_SAT, expiry_height: ch.tip + 144 }, invoice: inv, txid: s.txid, psbt: m.psbt,
    });
    expect(s.inputs).toEqual([`${ch.c.funding.txid}:${ch.c.funding.vout}`]);
    expect(s.amount(ch.c.payoutScript)).toEqual([5000n]);
    expect(s.amount(htlcScript(1))).toEqual([BigInt(HTLC_SAT)]);
    expect(s.count).toBe(3); // the change besides
    expect(p.record).toStrictEqual({
      ...base,
      in_flight: { state: 5, payment_hash: hashHex(1), amount_sat: HTLC_SAT, fee_sat: FEE_SAT, invoice_amount_msat: '1234567', expiry_height: ch.tip + 144, invoice: inv, request: m },
      day: { date: TODAY, spent_msat: '1234567' },
    });
    // The same invoice again (its device/pay lost), with or without the whitespace: the stored message, nothing new.
    for (const again of [inv, `${inv}\n`]) {
      const r = pay(p.record, again);
      expect(r.record).toBe(p.record);
      expect(r.message).toBe(m);
    }
  });

  it('the nonce: none, or one for another state, is E_NO_GATEWAY_NONCE (exit 5); a payment in flight, a pending step or an abandon refuse another', () => {
    const { gateway_nonce: _n, ...none } = base;
    const e1 = refusal(() => inFlight(none), 'E_NO_GATEWAY_NONCE', 5);
    expect(e1.message).toBe("no gateway nonce for state 5: apply the gateway's last receipt first");
    const e2 = refusal(() => inFlight({ ...base, gateway_nonce: nonce(6) }), 'E_NO_GATEWAY_NONCE', 5);
    expect(e2.message).toBe("no gateway nonce for state 5: apply the gateway's last receipt first");
    const p = inFlight();
    const e3 = refusal(() => pay(p.record, invoice(2, MSAT)), 'E_HTLC_IN_FLIGHT', 4);
    expect(e3.message).toBe('a payment is already in flight (one HTLC at a time): finish it first — "offchain device pay --resend" sends it again as recorded (with --peer URL for a gateway service), or settle or fail it by hand');
    const pending = fail(p.record).record;
    const e4 = refusal(() => pay(pending, invoice(1, MSAT)), 'E_HTLC_IN_FLIGHT', 4);
    expect(e4.message).toBe('state 6 (fail) awaits the gateway\'s receipt: send it again as recorded with "offchain device pay --resend" (with --peer URL for a gateway service), or feed the gateway\'s answer');
    const abandoning = { ...p.record, in_flight: { ...p.record.in_flight!, abandon: { type: 'credit/abandon' } } };
    const e5 = refusal(() => pay(abandoning, invoice(1, MSAT)), 'E_PENDING', 5);
    expect(e5.message).toBe(`payment ${hashHex(1)} is being abandoned: feed the gateway's answer to "offchain credit abandon --role user" first`);
    // device pay --resend: what is in flight, as recorded — the settle or fail once signed, else the device/pay; none when idle; never while abandoning.
    expect(device.inFlightRequest(p.record)).toBe(p.record.in_flight!.request);
    expect(device.inFlightRequest(pending)).toBe(pending.pending!.request);
    expect(pending.pending!.request.type).toBe('device/fail');
    expect(device.inFlightRequest(base)).toBeUndefined();
    refusal(() => device.inFlightRequest(abandoning), 'E_PENDING', 5);
  });

  it('a hash paid on this channel is E_ALREADY_PAID; another hash paid is no bar', () => {
    const paid = (h: string) => ({ ...base, paid: [{ payment_hash: h, preimage: '00'.repeat(32), amount_sat: 1, state: 2 }] });
    const e = refusal(() => inFlight(paid(hashHex(1))), 'E_ALREADY_PAID', 4);
    expect(e.message).toBe(`payment ${hashHex(1)} was paid and settled before (its preimage is this device's proof of payment): the gateway could settle it again without paying`);
    expect(inFlight(paid(OTHER)).record.in_flight?.payment_hash).toBe(hashHex(1));
  });

  it("another channel's hash: settled is E_ALREADY_PAID, in flight or failed E_PAYMENT_ON_OTHER_CHANNEL, naming the channel; other hashes there are no bar", () => {
    const id = 'dd'.repeat(32);
    const flight = (h: string) => ({ ...base.in_flight, state: 1, payment_hash: h, amount_sat: 1, fee_sat: 0, invoice_amount_msat: '1', expiry_height: 1, invoice: '', request: {} });
    const failed = (h: string) => [{ state: 1, payment_hash: h, amount_sat: 1, fee_sat: 0, invoice_amount_msat: '1', expiry_height: 1, invoice: '', txid: OTHER, settled_sat: 0 }];
    const e1 = refusal(() => pay(base, invoice(1, MSAT), { others: [other({}), other({ paid: [{ payment_hash: hashHex(1), preimage: '', amount_sat: 1, state: 1 }] })] }), 'E_ALREADY_PAID', 4);
    expect(e1.message).toBe(`payment ${hashHex(1)} was settled on this device's channel ${id}: one preimage pays for one payment (the gateway could take it twice)`);
    const e2 = refusal(() => pay(base, invoice(1, MSAT), { others: [other({ in_flight: flight(hashHex(1)) })] }), 'E_PAYMENT_ON_OTHER_CHANNEL', 4);
    expect(e2.message).toBe(`payment ${hashHex(1)} is in flight on this device's channel ${id}, whose gateway holds a state with its HTLC and could claim it with the preimage a payment here reveals: pay it on that channel, or ask the payee for a new invoice`);
    // Failed there, with another payment in flight there or nothing in flight (the channel idle).
    for (const o of [other({ in_flight: flight(OTHER), failed: failed(hashHex(1)) }), other({ failed: failed(hashHex(1)) })]) {
      const e3 = refusal(() => pay(base, invoice(1, MSAT), { others: [o] }), 'E_PAYMENT_ON_OTHER_CHANNEL', 4);
      expect(e3.message).toBe(`payment ${hashHex(1)} is failed on this device's channel ${id}, whose gateway holds a state with its HTLC and could claim it with the preimage a payment here reveals: pay it on that channel, or ask the payee for a new invoice`);
    }
    const ok = pay(base, invoice(1, MSAT), { others: [other({ in_flight: flight(OTHER), paid: [{ payment_hash: OTHER, preimage: '', amount_sat: 1, state: 1 }] }), other({ failed: failed(OTHER) })] });
    expect(ok.record.in_flight?.payment_hash).toBe(hashHex(1));
  });
});

describe('device pay: the daily limit (100_000_000 msat) over the UTC day and the device\'s channels', () => {
  const limit = 100_000_000n;
  const policy = { ...POLICY, max_payment_msat: 100_000_000 };

  it('counts today on this channel and every other channel today, not another day; the record adds only this channel\'s payment', () => {
    const others = [
      other({ day: { date: TODAY, spent_msat: '30000000' } }),
      other({ day: { date: YESTERDAY, spent_msat: '50000000' } }),
      other({ day: { date: TODAY, spent_msat: '20000000' } }),
    ];
    const r = { ...base, day: { date: TODAY, spent_msat: '40000000' } };
    const room = limit - 90_000_000n;
    const ok = pay(r, invoice(1, room), { others, policy });
    expect(ok.record.day).toStrictEqual({ date: TODAY, spent_msat: String(40_000_000n + room) });
    const e = refusal(() => pay(r, invoice(1, room + 1n), { others, policy }), 'E_OVER_DAILY_LIMIT', 4);
    expect(e.message).toBe(`90000000 msat spent today plus ${room + 1n} msat is over the policy's max_daily_msat 100000000`);
  });

  it("yesterday's spending on this channel is a fresh budget today; the record's day is today's", () => {
    const r = { ...base, day: { date: YESTERDAY, spent_msat: '99000000' } };
    const ok = pay(r, invoice(1, 90_000_000n), { policy });
    expect(ok.record.day).toStrictEqual({ date: TODAY, spent_msat: '90000000' });
    const fresh = pay(base, invoice(1, MSAT)); // a record never paid: day ''
    expect(fresh.record.day).toStrictEqual({ date: TODAY, spent_msat: '1234567' });
  });

  it('a clock set back counts against the latest day on record, this channel\'s or another\'s; a later clock opens its own day', () => {
    const r = { ...base, day: { date: TOMORROW, spent_msat: '99000000' } };
    const e = refusal(() => pay(r, invoice(1, 2_000_000n)), 'E_OVER_DAILY_LIMIT', 4);
    expect(e.message).toBe("99000000 msat spent today plus 2000000 msat is over the policy's max_daily_msat 100000000");
    const ok = pay(r, invoice(1, 1_000_000n));
    expect(ok.record.day).toStrictEqual({ date: TOMORROW, spent_msat: '100000000' });
    // Another channel's later day: this channel's older spending does not count, the other's does.
    const others = [other({ day: { date: YESTERDAY, spent_msat: '1' } }), other({ day: { date: TOMORROW, spent_msat: '60000000' } })];
    const mine = { ...base, day: { date: TODAY, spent_msat: '30000000' } };
    const e2 = refusal(() => pay(mine, invoice(1, 40_000_001n), { others, policy }), 'E_OVER_DAILY_LIMIT', 4);
    expect(e2.message).toBe("60000000 msat spent today plus 40000001 msat is over the policy's max_daily_msat 100000000");
    expect(pay(mine, invoice(1, 40_000_000n), { others, policy }).record.day).toStrictEqual({ date: TOMORROW, spent_msat: '40000000' });
    // The clock a day on: this channel's and the others' spending is yesterday's.
    const later = NOW + 86_400;
    const next = pay({ ...base, day: { date: TODAY, spent_msat: '99000000' } }, invoice(1, 90_000_000n, { timestamp: later }), { now: later, policy, others: [other({ day: { date: TODAY, spent_msat: '99000000' } })] });
    expect(next.record.day).toStrictEqual({ date: TOMORROW, spent_msat: '90000000' });
  });
});

describe('device settle and fail: the notice checked, the state signed, the record', () => {
  it('refuses a notice for another contract, with nothing in flight, for another payment, or with a nonce for another state', () => {
    const p = inFlight();
    for (const step of [settle, fail]) {
      const e1 = refusal(() => step(p.record, { contract: OTHER }), 'E_WRONG_CONTRACT', 4);
      expect(e1.message).toBe(`the message is for contract ${OTHER}, not ${base.contract_id}`);
      const e2 = refusal(() => step(base, { hash: hashHex(1), next: nonce(6) }), 'E_NO_PAYMENT_IN_FLIGHT', 4);
      expect(e2.message).toBe('no payment is in flight on this channel');
      const e3 = refusal(() => step(p.record, { hash: OTHER }), 'E_WRONG_PAYMENT', 4);
      expect(e3.message).toBe(`the message is for payment ${OTHER}, the one in flight is ${hashHex(1)}`);
      for (const s of [5, 7]) {
        const e4 = refusal(() => step(p.record, { next: nonce(s) }), 'E_STATE_NUMBER', 4);
        expect(e4.message).toBe(`the gateway's nonce is for state ${s}, expected 6`);
      }
    }
  });

  it('settle: the preimage must hash to the payment hash (absent, wrong); signs settled S + HTLC, keeps the preimage as proof', () => {
    const p = inFlight();
    for (const bad of [undefined, hexOf(preimage(2)), '']) {
      const e = refusal(() => settle(p.record, { preimage: bad }), 'E_WRONG_PREIMAGE', 4);
      expect(e.message).toBe(`the preimage does not hash to the payment hash ${hashHex(1)}`);
    }
    const next = nonce(6, 9);
    const s = settle(p.record, { next });
    const m = s.message as Msg;
    const st = stateOf(m);
    expect(m).toStrictEqual({ type: 'device/settle', version: 1, network: 'regtest', contract_id: base.contract_id, state: 6, payment_hash: hashHex(1), settled_sat: 5000 + HTLC_SAT, txid: st.txid, psbt: m.psbt });
    expect(st.amount(ch.c.payoutScript)).toEqual([BigInt(5000 + HTLC_SAT)]);
    expect(st.amount(htlcScript(1))).toEqual([]);
    expect(s.record).toStrictEqual({
      ...p.record, gateway_nonce: next,
      pending: { kind: 'settle', state: 6, settled_sat: 5000 + HTLC_SAT, payment_hash: hashHex(1), request: m },
      paid: [{ payment_hash: hashHex(1), preimage: hexOf(preimage(1)), amount_sat: HTLC_SAT, fee_sat: FEE_SAT, invoice_amount_msat: '1234567', state: 6 }],
    });
    // Settled on another channel of the device meanwhile: refused, here too.
    const paidElsewhere = other({ paid: [{ payment_hash: hashHex(1), preimage: '', amount_sat: 1, state: 1 }] });
    const e = refusal(() => settle(p.record, {}, [other({}), paidElsewhere]), 'E_ALREADY_PAID', 4);
    expect(e.message).toBe(`payment ${hashHex(1)} was settled on this device's channel ${paidElsewhere.contract_id}: one preimage pays for one payment (the gateway could take it twice)`);
  });

  it('fail: signs settled S with the HTLC back in the change; gives its amount back to the day once, never below 0', () => {
    const p = pay({ ...base, day: { date: TODAY, spent_msat: '5000000' } }, invoice(1, MSAT));
    expect(p.record.day.spent_msat).toBe('6234567');
    const next = nonce(6, 9);
    const f = fail(p.record, { next });
    const m = f.message as Msg;
    const st = stateOf(m);
    expect(m).toStrictEqual({ type: 'device/fail', version: 1, network: 'regtest', contract_id: base.contract_id, state: 6, payment_hash: hashHex(1), settled_sat: 5000, txid: st.txid, psbt: m.psbt });
    expect(st.amount(ch.c.payoutScript)).toEqual([5000n]);
    expect(st.amount(htlcScript(1))).toEqual([]);
    expect(st.count).toBe(2);
    expect(f.record).toStrictEqual({
      ...p.record, gateway_nonce: next, day: { date: TODAY, spent_msat: '5000000' },
      pending: { kind: 'fail', state: 6, settled_sat: 5000, payment_hash: hashHex(1), request: m },
    });
    // A day's record already below the amount (a record from before the day's count): 0, not negative.
    const low = fail({ ...p.record, day: { date: TODAY, spent_msat: '1000000' } }).record.day;
    expect(low).toStrictEqual({ date: TODAY, spent_msat: '0' });
  });

  it('a signed settle or fail: the same nonce resends it as is; a new nonce for the state signs the same transaction again, nothing counted twice; the other outcome is refused', () => {
    const p = pay({ ...base, day: { date: TODAY, spent_msat: '5000000' } }, invoice(1, MSAT));
    for (const step of [settle, fail]) {
      const first = step(p.record, { next: nonce(6, 9) });
      const resent = step(first.record, { next: nonce(6, 9) });
      expect(resent.record).toBe(first.record);
      expect(resent.message).toBe(first.record.pending!.request);
      // The same pubnonce named for another state is not the same nonce: checked as a new notice.
      const e = refusal(() => step(first.record, { next: nonce(7, 9) }), 'E_STATE_NUMBER', 4);
      expect(e.message).toBe("the gateway's nonce is for state 7, expected 6");
      // Another payment's notice with the same nonce is not a resend either.
      const e2 = refusal(() => step(first.record, { hash: OTHER, next: nonce(6, 9) }), 'E_WRONG_PAYMENT', 4);
      expect(e2.message).toBe(`the message is for payment ${OTHER}, the one in flight is ${hashHex(1)}`);
      const next = nonce(6, 11);
      const again = step(first.record, { next });
      const [m1, m2] = [first.message, again.message] as Msg[];
      expect(m2!.txid).toBe(m1!.txid);
      expect(m2!.psbt).not.toBe(m1!.psbt);
      expect(again.record).toStrictEqual({ ...first.record, gateway_nonce: next, pending: { ...first.record.pending!, request: m2 } });
      // A pubnonce differing only in its second point is a new nonce too.
      const half = { state: 6, pubnonce: nonce(6, 9).pubnonce.slice(0, 66) + nonce(6, 12).pubnonce.slice(66) };
      expect((step(first.record, { next: half }).message as Msg).psbt).not.toBe(m1!.psbt);
      const otherStep = step === settle ? fail : settle;
      const kind = step === settle ? 'settle' : 'fail';
      const e3 = refusal(() => otherStep(first.record, { next }), 'E_HTLC_IN_FLIGHT', 4);
      expect(e3.message).toBe(`a ${kind} of this payment is already signed`);
    }
  });
});

describe('device receipt', () => {
  const receipt = (r: DeviceChannel, o: Partial<{ contract_id: string; state: number; settled_sat: number; next_nonce: Nonce }> = {}) =>
    device.receipt(r, asGateway({ type: 'gateway/receipt', contract_id: r.contract_id, state: 6, settled_sat: r.pending?.settled_sat ?? r.settled_sat, next_nonce: nonce(7, 13), ...o }));

  it('after a settle: idle at the state, its settled amount and the new nonce; nothing in flight, no failed list added', () => {
    const s = settle(inFlight().record).record;
    const d = receipt(s);
    const { in_flight: _f, pending: _p, ...rest } = s;
    expect(d).toStrictEqual({ ...rest, state: 6, settled_sat: 5000 + HTLC_SAT, gateway_nonce: nonce(7, 13) });
    expect('failed' in d).toBe(false);
  });

  it('after a fail: the failed payment is remembered (its HTLC state, the settled amount of that state) after those before', () => {
    const earlier = { state: 2, payment_hash: OTHER, amount_sat: 1, fee_sat: 0, invoice_amount_msat: '1', expiry_height: 1, invoice: 'x', txid: OTHER, settled_sat: 0 };
    const p = inFlight({ ...base, failed: [earlier] });
    const f = fail(p.record).record;
    const d = receipt(f);
    const { request, ...htlc } = p.record.in_flight!;
    expect(d).toStrictEqual({
      network: base.network, contract_id: base.contract_id, contract: base.contract, paid: [], day: { date: TODAY, spent_msat: '0' },
      state: 6, settled_sat: 5000, gateway_nonce: nonce(7, 13), failed: [earlier, { ...htlc, txid: request.txid, settled_sat: 5000 }],
    });
    expect(request.txid).toBe(stateOf(request).txid);
    // Without earlier failures the list is this one.
    expect(receipt(fail(inFlight().record).record).failed).toStrictEqual([{ ...htlc, txid: request.txid, settled_sat: 5000 }]);
  });

  it('refuses another contract, another state, another settled amount, a nonce for another state', () => {
    const s = settle(inFlight().record).record;
    const e1 = refusal(() => receipt(s, { contract_id: OTHER }), 'E_WRONG_CONTRACT', 4);
    expect(e1.message).toBe(`the receipt is for contract ${OTHER}, not ${base.contract_id}`);
    const e2 = refusal(() => receipt(s, { state: 7 }), 'E_STATE_NUMBER', 4);
    expect(e2.message).toBe('the receipt is for state 7, the pending state is 6');
    const e3 = refusal(() => receipt(s, { settled_sat: 5000 }), 'E_RECEIPT_MISMATCH', 4);
    expect(e3.message).toBe(`the receipt says settled 5000 sat, the device signed ${5000 + HTLC_SAT} sat`);
    for (const st of [6, 8]) {
      const e4 = refusal(() => receipt(s, { next_nonce: nonce(st) }), 'E_STATE_NUMBER', 4);
      expect(e4.message).toBe(`the receipt's nonce is for state ${st}, expected 7`);
    }
  });

  it('the same receipt again once idle returns the record as is; one differing in any field is E_STATE_NUMBER (nothing pending)', () => {
    const idle = receipt(settle(inFlight().record).record);
    const same = { state: 6, settled_sat: 5000 + HTLC_SAT, next_nonce: nonce(7, 13) };
    expect(receipt(idle, same)).toBe(idle);
    const n = nonce(7, 13);
    for (const [changed, state] of [
      [{ ...same, state: 5 }, 5], [{ ...same, settled_sat: 5000 }, 6], [{ ...same, next_nonce: { ...n, state: 8 } }, 6], [{ ...same, next_nonce: nonce(7, 14) }, 6],
    ] as const) {
      const e = refusal(() => receipt(idle, changed), 'E_STATE_NUMBER', 4);
      expect(e.message).toBe(`the receipt is for state ${state}, the pending state is none`);
    }
    // An idle record without a gateway nonce (none given yet): refused the same way, not a crash.
    const { gateway_nonce: _g, ...bare } = idle;
    refusal(() => receipt(bare as DeviceChannel, same), 'E_STATE_NUMBER', 4);
  });
});
