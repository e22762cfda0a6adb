/**
 * A stranger who knows a channel's id learns nothing of it from the gateway's refusals (issue
 * 72: an unsigned device/pay was told `next state 5`, `the gateway's record is 6015 sat`,
 * `payment <hash> is still in flight`). The gateway checks that a device/pay, device/settle or
 * device/fail is the device's — its partial signature on the contract input (gateway.ts
 * checkDeviceRequest, credit/signing.ts checkUserSigned) — before the freeze, the retry answers
 * and every rule that reads the channel: so an unsigned or wrongly signed request gets the same
 * refusal, word for word, from a channel with three tolls settled and a fourth in flight and
 * from a fresh one; it names no state, amount or payment hash, and nothing is written. The
 * device's own retries (the same signed message) still get the job and the decided answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Transaction } from '@scure/btc-signer';
import * as device from '../../../src/lib/device/device.ts';
import * as gateway from '../../../src/lib/device/gateway.ts';
import { stateHtlc } from '../../../src/lib/device/channel.ts';
import { buildState } from '../../../src/lib/credit/transactions.ts';
import { termsFromJson } from '../../../src/lib/credit/codec.ts';
import { userSignAgainst } from '../../../src/lib/credit/signing.ts';
import { addPubNonce, readMusigInput } from '../../../src/lib/musig/psbt-keypath.ts';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { OffchainError } from '../../../src/lib/errors.ts';
import type { DeviceChannel, GatewayChannel, InFlightJson, NextNonceJson } from '../../../src/lib/credit/ports.ts';
import type { CreditContract } from '../../../src/lib/credit/terms.ts';
import { MINT, USER } from '../credit/world.ts';
import { flipLastBit, musigFieldsOf, psbtBase64, snapshot, specOf, withPartialSig } from '../credit/tamper.ts';
import { GATEWAY_TERMS, NOW, POLICY, channel, invoice, paymentHash, payThrough, preimage, withoutDeviceSignature, type Channel } from './world.ts';

const TOLL_MSAT = 2_000_000n;

type Msg = Record<string, any>;
/** A channel as the gateway holds it, with what a stranger might aim at. */
type Side = { ch: Channel; c: CreditContract; g: GatewayChannel; nonce: NextNonceJson };

/** The refusal of `step`, its channel id made neutral: what a stranger reads. Nothing written, the record untouched. */
async function refusalOf(k: Side, step: () => Promise<unknown>): Promise<{ code: string; exitCode: number; message: string }> {
  const before = snapshot(k.ch.w.dir.path);
  const record = JSON.stringify(k.g);
  const e = (await step().then(() => undefined, (thrown: unknown) => thrown)) as OffchainError;
  expect(e, 'refused').toBeInstanceOf(OffchainError);
  expect(snapshot(k.ch.w.dir.path)).toEqual(before);
  expect(JSON.stringify(k.g)).toBe(record);
  return { code: e.code, exitCode: e.exitCode, message: e.message.replaceAll(k.g.contract_id, '<channel>') };
}

/** The state `settled` (with an HTLC for payment `n` when given), with the gateway's nonce on it and no partial signature: what anyone can build. */
function unsigned(k: Side, settled: bigint, htlc?: InFlightJson): Transaction {
  const tx = buildState(k.c, settled, htlc && stateHtlc(k.c, htlc));
  addPubNonce(tx, readMusigInput(tx, 0), MINT.publicKey, fromHex(k.nonce.pubnonce));
  return tx;
}

/** The same state carrying a partial signature in the device's name that does not verify. */
function badlySigned(k: Side, settled: bigint, htlc?: InFlightJson): Transaction {
  const tx = buildState(k.c, settled, htlc && stateHtlc(k.c, htlc));
  userSignAgainst(tx, 0, USER, MINT.publicKey, k.nonce);
  return withPartialSig(tx, specOf(tx, [USER.publicKey, MINT.publicKey]), USER.publicKey, flipLastBit(musigFieldsOf(tx, USER.publicKey).partialSig!));
}

describe('a stranger who knows a channel id learns nothing of it from the gateway\'s refusals', () => {
  let a: Side; // three tolls settled, the fourth in flight and paid on Lightning (the gateway holds its preimage)
  let b: Side; // fresh
  let genuine: { pay: Msg; settle: Msg; job: Msg; notice: Msg };
  let inFlight: InFlightJson;
  beforeAll(async () => {
    const cha = await channel({ input: 'f1' });
    let d: DeviceChannel = cha.device;
    let g: GatewayChannel = cha.gateway;
    for (const n of [0, 1, 2]) ({ d, g } = await payThrough(cha, d, g, invoice(n, TOLL_MSAT), { outcome: 'settle', preimage: preimage(n) }));
    const nonce = d.gateway_nonce!;
    const p = device.pay(d, cha.deviceKey, { invoice: invoice(3, TOLL_MSAT), policy: POLICY, gateway: GATEWAY_TERMS, now: NOW, tip: cha.tip });
    const job = await gateway.pay(cha.gctx, g, p.message as never, NOW);
    const notice = await gateway.settle(cha.gctx, job.record, preimage(3));
    const s = device.settle(p.record, cha.deviceKey, notice.message as never);
    a = { ch: cha, c: termsFromJson(cha.device.contract, 'regtest'), g: notice.record, nonce };
    genuine = { pay: p.message as Msg, settle: s.message as Msg, job: job.message, notice: notice.message };
    inFlight = a.g.in_flight!;
    const chb = await channel({ input: 'f2' });
    b = { ch: chb, c: termsFromJson(chb.device.contract, 'regtest'), g: chb.gateway, nonce: chb.device.gateway_nonce! };
  });
  afterAll(async () => {
    for (const k of [a, b]) {
      await k.ch.w.close();
      k.ch.w.dir.cleanup();
    }
  });

  it('channel A is as the test says: three tolls settled (two states each), payment 3 in flight at state 7 with its preimage', () => {
    expect(a.g.next_state).toBe(8);
    expect(inFlight.state).toBe(7);
    expect(a.g.settled_sat).toBe(3 * 2005); // each toll: 2000 sat + the gateway's 1000 msat + 2000 ppm, in sat rounded up
    expect(inFlight.payment_hash).toBe(toHex(paymentHash(3)));
    expect(a.g.in_flight!.preimage).toBe(toHex(preimage(3)));
    expect(b.g.next_state).toBe(1);
  });

  it('still answers the device\'s own retries: the same device/pay gets the job again, or (with a node) the gateway/settle given', async () => {
    const retry = await gateway.pay(a.ch.gctx, a.g, genuine.pay as never, NOW);
    expect(retry.message).toBe(genuine.job);
    const decided = await gateway.pay(a.ch.gctx, a.g, genuine.pay as never, NOW, { decided: true });
    expect((decided.message as Msg).preimage).toBe(toHex(preimage(3)));
    expect(decided.record).toBe(a.g);
  });

  /** The fields of the secrets a refusal must not name. */
  const leaks = () => [String(a.g.settled_sat), String(a.g.settled_sat + inFlight.amount_sat), inFlight.payment_hash, String(inFlight.amount_sat)];
  const CODES = ['E_MISSING_PARTIAL_SIGS', 'E_BAD_PARTIAL_SIG'];

  type Attempt = { name: string; step: (k: Side) => () => Promise<unknown> };
  function attempts(): Attempt[] {
    const out: Attempt[] = [];
    const sign = { unsigned, 'badly signed': badlySigned };
    for (const [how, build] of Object.entries(sign)) {
      for (const state of [1, 6, 7, 8]) {
        for (const settled of [0, a.g.settled_sat]) {
          // The HTLC of A's payment in flight (at state 7 and A's settled amount: its very transaction), or of a new payment.
          for (const htlc of [inFlight, { ...inFlight, payment_hash: toHex(paymentHash(7)) }]) {
            for (const decided of [false, true]) {
              out.push({
                name: `${how} device/pay, state ${state}, settled ${settled}, hash ${htlc.payment_hash.slice(0, 8)}, decided ${decided}`,
                step: (k) => () => gateway.pay(k.ch.gctx, k.g, { ...genuine.pay, contract_id: k.g.contract_id, state, settled_sat: settled, psbt: psbtBase64(build(k, BigInt(settled), htlc)) } as never, NOW, { decided }),
              });
            }
          }
        }
        for (const type of ['device/settle', 'device/fail']) {
          for (const settled of [0, a.g.settled_sat, a.g.settled_sat + inFlight.amount_sat]) {
            for (const hash of [inFlight.payment_hash, toHex(paymentHash(7))]) {
              out.push({
                name: `${how} ${type}, state ${state}, settled ${settled}, hash ${hash.slice(0, 8)}`,
                step: (k) => () => gateway.completeStep(k.ch.gctx, k.g, { type, contract_id: k.g.contract_id, state, payment_hash: hash, settled_sat: settled, psbt: psbtBase64(build(k, BigInt(settled))) } as never),
              });
            }
          }
        }
      }
    }
    // A's own messages with the device's signature taken off or spoiled: the retries' very transactions.
    for (const how of ['unsigned', 'flipped'] as const) {
      for (const decided of [false, true]) {
        out.push({ name: `A's device/pay ${how}, decided ${decided}`, step: (k) => () => gateway.pay(k.ch.gctx, k.g, { ...genuine.pay, contract_id: k.g.contract_id, psbt: withoutDeviceSignature(genuine.pay.psbt, how) } as never, NOW, { decided }) });
      }
      out.push({ name: `A's device/settle ${how}`, step: (k) => () => gateway.completeStep(k.ch.gctx, k.g, { ...genuine.settle, contract_id: k.g.contract_id, psbt: withoutDeviceSignature(genuine.settle.psbt, how) } as never) });
    }
    return out;
  }

  it('answers each the same for a busy and a fresh channel, naming no state, amount or payment hash, writing nothing', async () => {
    const list = attempts();
    expect(list.length).toBeGreaterThan(100);
    for (const t of list) {
      const fromA = await refusalOf(a, t.step(a));
      const fromB = await refusalOf(b, t.step(b));
      expect(fromA, t.name).toEqual(fromB);
      expect(CODES, t.name).toContain(fromA.code);
      for (const secret of leaks()) expect(fromA.message, t.name).not.toContain(secret);
      expect(fromA.message, t.name).not.toMatch(/state \d|\d+ sat\b|in flight|next/);
    }
  });

  it('answers a frozen channel\'s stranger as an open one\'s: the freeze (and the state the mint exits with) only once the request is the device\'s', async () => {
    const frozen: Side = { ...a, ch: { ...a.ch, gctx: { ...a.ch.gctx, frozen: `contract ${a.g.contract_id} is not open for payments: the mint is exiting it with its state 7` } } };
    const pay = (k: Side, psbt: string) => () => gateway.pay(k.ch.gctx, k.g, { ...genuine.pay, psbt } as never, NOW, { decided: true });
    const complete = (k: Side, psbt: string) => () => gateway.completeStep(k.ch.gctx, k.g, { ...genuine.settle, psbt } as never);
    for (const how of ['unsigned', 'flipped'] as const) {
      expect(await refusalOf(frozen, pay(frozen, withoutDeviceSignature(genuine.pay.psbt, how)))).toEqual(await refusalOf(a, pay(a, withoutDeviceSignature(genuine.pay.psbt, how))));
      expect(await refusalOf(frozen, complete(frozen, withoutDeviceSignature(genuine.settle.psbt, how)))).toEqual(await refusalOf(a, complete(a, withoutDeviceSignature(genuine.settle.psbt, how))));
    }
    // The device itself, its own signed retry: told why.
    expect(await refusalOf(frozen, pay(frozen, genuine.pay.psbt))).toEqual({ code: 'E_CONTRACT_FROZEN', exitCode: 4, message: 'contract <channel> is not open for payments: the mint is exiting it with its state 7' });
  });

  it('still tells the device itself what is wrong: its own signed device/settle for the wrong state hears the state expected', async () => {
    const c = a.c;
    const tx = buildState(c, BigInt(a.g.settled_sat + inFlight.amount_sat));
    userSignAgainst(tx, 0, USER, MINT.publicKey, genuine.notice.next_nonce);
    const e = await refusalOf(a, () => gateway.completeStep(a.ch.gctx, a.g, { ...genuine.settle, state: 6, psbt: psbtBase64(tx) } as never));
    expect(e).toEqual({ code: 'E_STALE_STATE', exitCode: 5, message: 'state 6 is not the next state 8 of contract <channel>' });
  });

  it('property: a device request mutated at random and without a valid device signature never names the channel\'s state, settled amount or payment in flight', async () => {
    const hashes = [inFlight.payment_hash, toHex(paymentHash(0)), toHex(paymentHash(9))];
    const request = fc.record({
      kind: fc.constantFrom('device/pay', 'device/settle', 'device/fail'),
      state: fc.oneof(fc.constantFrom(0, 6, 7, 8, 9), fc.integer({ min: -2, max: 1_000_000 })),
      settled: fc.oneof(fc.constantFrom(0, a.g.settled_sat, a.g.settled_sat + inFlight.amount_sat), fc.integer({ min: 1000, max: 90_000 })), // a state buildState writes (no dust output)
      hash: fc.constantFrom(...hashes),
      amount: fc.oneof(fc.constant(inFlight.amount_sat), fc.integer({ min: 330, max: 9000 })),
      expiry: fc.oneof(fc.constant(inFlight.expiry_height), fc.integer({ min: 1, max: 5000 })),
      // Whose transaction: A's own (the retries' very PSBT) or one built from the fields; its signature taken off or spoiled.
      psbt: fc.constantFrom('own', 'built'),
      how: fc.constantFrom('unsigned', 'flipped'),
      decided: fc.boolean(),
    });
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const htlc = { ...inFlight, payment_hash: r.hash, amount_sat: r.amount, expiry_height: r.expiry };
        const pay = r.kind === 'device/pay';
        const own = pay ? genuine.pay.psbt : genuine.settle.psbt;
        const build = r.how === 'unsigned' ? unsigned : badlySigned;
        const psbt = r.psbt === 'own' ? withoutDeviceSignature(own, r.how) : psbtBase64(build(a, BigInt(r.settled), pay ? htlc : undefined));
        const e = await refusalOf(a, () =>
          pay
            ? gateway.pay(a.ch.gctx, a.g, { ...genuine.pay, state: r.state, settled_sat: r.settled, htlc: { payment_hash: r.hash, amount_sat: r.amount, expiry_height: r.expiry }, psbt } as never, NOW, { decided: r.decided })
            : gateway.completeStep(a.ch.gctx, a.g, { type: r.kind, contract_id: a.g.contract_id, state: r.state, payment_hash: r.hash, settled_sat: r.settled, psbt } as never),
        );
        refused++;
        for (const secret of leaks()) expect(e.message).not.toContain(secret);
        expect(e.message).not.toMatch(/state \d|\d+ sat\b|in flight/);
      }),
      { seed: 0x72, numRuns: 150, endOnFailure: true },
    );
    expect(refused).toBe(150);
  });
});
