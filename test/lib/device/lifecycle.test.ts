/**
 * The toll scenario through both parties' library steps: several payments settled, one
 * failed. Every state the gateway stores is checked by the independent verifier
 * (test/independent/: its own sighash and secp256k1; the contract's output key and the
 * HTLC's script derived there from the two keys, not by src/), and its outputs are
 * checked against what each side is owed: the gateway exactly its settled amount, the
 * HTLC (when in flight) exactly invoice + fee to the independently derived HTLC script.
 */
import { describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import * as device from '../../../src/lib/device/device.ts';
import * as gateway from '../../../src/lib/device/gateway.ts';
import type { GatewayChannel } from '../../../src/lib/credit/ports.ts';
import { musigTaprootOutput, publicKeyOf } from '../../independent/keys.ts';
import { bytesOf, hexOf, psbtUnsignedTx } from '../../independent/tx.ts';
import { verifyKeyPathSpend } from '../../independent/verify.ts';
import { taprootHtlcContract } from '../../independent/descriptor.ts';
import { fundingPsbt } from '../credit/world.ts';
import { GATEWAY_TERMS, asGateway, NOW, POLICY, channel, invoice, preimage, refusedWith } from './world.ts';
import { decodeMessage } from '../../../src/lib/message.ts';

const toHexString = (b: Uint8Array) => Buffer.from(b).toString('hex');
import * as S from '../../../src/lib/device/schemas.ts';

const MINT_PUB = publicKeyOf(bytesOf('a1'.repeat(32)));
const USER_PUB = publicKeyOf(bytesOf('b2'.repeat(32)));
const CONTRACT = musigTaprootOutput([MINT_PUB, USER_PUB]);
const CAPACITY = 100_000n;
const FUNDING = psbtUnsignedTx(fundingPsbt(CAPACITY));

/** The latest stored state, verified independently; its outputs by script. */
function verifiedOutputs(g: GatewayChannel) {
  const tx = verifyKeyPathSpend(g.latest!.hex, [{ txid: FUNDING.txid, vout: 0, amount: CAPACITY, script: CONTRACT.script }], CONTRACT.outputKey);
  const sum = tx.outputs.reduce((a, o) => a + o.amount, 0n);
  expect(sum).toBeLessThan(CAPACITY);
  return tx.outputs.map((o) => ({ script: hexOf(o.script), amount: o.amount }));
}

describe('device ↔ gateway: the toll scenario in process', () => {
  it('three tolls settle, one fails; every stored state is signed for the real contract and pays the gateway only settled + the HTLC', async () => {
    const { c, gctx, deviceKey, tip, ...ch } = await channel();
    let d = ch.device;
    let g = ch.gateway;
    const tolls: { n: number; msat: bigint; ok: boolean }[] = [
      { n: 0, msat: 2_500_000n, ok: true },
      { n: 1, msat: 1_234_567n, ok: true },
      { n: 2, msat: 5_000_000n, ok: false },
      { n: 3, msat: 3_000_000n, ok: true },
    ];
    let settled = 0n;
    let checkedHtlcStates = 0;
    let checkedSettledStates = 0;
    for (const t of tolls) {
      const inv = invoice(t.n, t.msat);
      const p = device.pay(d, deviceKey, { invoice: inv, policy: POLICY, gateway: GATEWAY_TERMS, now: NOW, tip });
      d = p.record;
      // Every message the steps produce is valid against its published schema (schemas/device.*, gateway.*).
      expect(decodeMessage(S.DevicePaySchema, p.message)).toBeTruthy();
      const job = await gateway.pay(gctx, g, p.message as never, NOW);
      expect(decodeMessage(S.GatewayJobSchema, job.message)).toBeTruthy();
      g = job.record;
      expect(job.message).toMatchObject({ type: 'gateway/job', invoice: inv, amount_msat: t.msat.toString() });
      // The stored state: gateway exactly settled, the HTLC exactly invoice + fee (rounded up to the sat) to the independently derived script.
      const fee = 1000n + (t.msat * 2000n + 999_999n) / 1_000_000n;
      const htlcSat = (t.msat + fee + 999n) / 1000n;
      const htlcScript = taprootHtlcContract({ payer: USER_PUB, recipient: MINT_PUB, paymentHash: sha256(preimage(t.n)), locktime: tip + POLICY.htlc_expiry_blocks }).output.script;
      const outs = verifiedOutputs(g);
      expect(outs.filter((o) => o.script === hexOf(c.payoutScript)).reduce((a, o) => a + o.amount, 0n)).toBe(settled);
      expect(outs.filter((o) => o.script === hexOf(htlcScript))).toEqual([{ script: hexOf(htlcScript), amount: htlcSat }]);
      checkedHtlcStates++;
      const notice = t.ok ? await gateway.settle(gctx, g, preimage(t.n)) : await gateway.fail(gctx, g, hexOf(sha256(preimage(t.n))));
      g = notice.record;
      expect(decodeMessage(t.ok ? S.GatewaySettleSchema : S.GatewayFailSchema, notice.message)).toBeTruthy();
      const signed = t.ok ? device.settle(d, deviceKey, notice.message as never) : device.fail(d, deviceKey, notice.message as never);
      d = signed.record;
      expect(decodeMessage(t.ok ? S.DeviceSettleSchema : S.DeviceFailSchema, signed.message)).toBeTruthy();
      const done = await gateway.completeStep(gctx, g, signed.message as never);
      expect(decodeMessage(S.GatewayReceiptSchema, done.message)).toBeTruthy();
      g = done.record;
      d = device.receipt(d, done.message as never);
      if (t.ok) settled += htlcSat;
      const after = verifiedOutputs(g);
      expect(after.filter((o) => o.script === hexOf(c.payoutScript)).reduce((a, o) => a + o.amount, 0n)).toBe(settled);
      expect(after.every((o) => o.script === hexOf(c.payoutScript) || o.script === hexOf(c.changeScript))).toBe(true);
      checkedSettledStates++;
      expect(BigInt(d.settled_sat)).toBe(settled);
      expect(BigInt(g.settled_sat)).toBe(settled);
      expect(d.in_flight).toBeUndefined();
      expect(g.in_flight).toBeUndefined();
    }
    expect(checkedHtlcStates).toBe(4);
    expect(checkedSettledStates).toBe(4);
    // The device keeps a preimage for each settled payment: its proofs of payment.
    expect(d.paid.map((p) => p.preimage)).toEqual([0, 1, 3].map((n) => hexOf(preimage(n))));
    expect(d.state).toBe(8);
  });

  it('a first payment that fails (nothing settled yet): the fail state pays the gateway nothing, and the channel goes on', async () => {
    // Found by the property test: the credit rule "a state always pays the mint" refused this state.
    const { gctx, deviceKey, tip, ...ch } = await channel();
    const p = device.pay(ch.device, deviceKey, { invoice: invoice(0, 2_000_000n), policy: POLICY, gateway: GATEWAY_TERMS, now: NOW, tip });
    const job = await gateway.pay(gctx, ch.gateway, p.message as never, NOW);
    const notice = await gateway.fail(gctx, job.record, hexOf(sha256(preimage(0))));
    const f = device.fail(p.record, deviceKey, notice.message as never);
    const done = await gateway.completeStep(gctx, notice.record, f.message as never);
    const outs = verifiedOutputs(done.record);
    expect(outs.map((o) => o.script)).toEqual([hexOf(ch.c.changeScript)]);
    const d = device.receipt(f.record, done.message as never);
    expect(d).toMatchObject({ state: 2, settled_sat: 0 });
    expect(d.day.spent_msat).toBe('0');
  });

  it('a fail signed again for a new gateway nonce gives its amount back to the day\'s budget once, not twice (a gateway cannot reset the daily limit)', async () => {
    const ch = await channel();
    const { gctx, deviceKey, tip } = ch;
    // 5,000,000 msat spent earlier today on other payments, then this one: 1,500,000 more.
    const day = new Date(NOW * 1000).toISOString().slice(0, 10);
    const before = { ...ch.device, day: { date: day, spent_msat: '5000000' } };
    const p = device.pay(before, deviceKey, { invoice: invoice(42, 1_500_000n), policy: POLICY, gateway: GATEWAY_TERMS, now: NOW, tip });
    expect(p.record.day.spent_msat).toBe('6500000');
    const job = await gateway.pay(gctx, ch.gateway, p.message as never, NOW);
    const hash = (job.message as { payment_hash: string }).payment_hash;
    const first = await gateway.fail(gctx, job.record, hash);
    const second = await gateway.fail(gctx, job.record, hash); // another host: a fresh nonce for the same state
    const f1 = device.fail(p.record, deviceKey, first.message as never);
    expect(f1.record.day.spent_msat).toBe('5000000');
    const f2 = device.fail(f1.record, deviceKey, second.message as never);
    expect((f2.message as { txid: string }).txid).toBe((f1.message as { txid: string }).txid);
    expect(f2.record.day.spent_msat).toBe('5000000'); // 3,500,000 were the amount given back twice
  });

  it('a settle or fail already signed: resent for the same gateway nonce, signed again (same state, same transaction) for a new one — the gateway lost the first — and completed with it; nothing counted twice', async () => {
    for (const outcome of ['settle', 'fail'] as const) {
      const ch = await channel();
      const { gctx, deviceKey, tip } = ch;
      const p = device.pay(ch.device, deviceKey, { invoice: invoice(outcome === 'settle' ? 40 : 41, 1_500_000n), policy: POLICY, gateway: GATEWAY_TERMS, now: NOW, tip });
      const job = await gateway.pay(gctx, ch.gateway, p.message as never, NOW);
      const hash = (job.message as { payment_hash: string }).payment_hash;
      const notice = () => (outcome === 'settle' ? gateway.settle(gctx, job.record, preimage(40)) : gateway.fail(gctx, job.record, hash));
      const first = await notice();
      const second = await notice(); // the same step on another host: a fresh nonce for the same state
      const n1 = (first.message as { next_nonce: { pubnonce: string } }).next_nonce.pubnonce;
      expect((second.message as { next_nonce: { pubnonce: string } }).next_nonce.pubnonce).not.toBe(n1);
      const step = outcome === 'settle' ? device.settle : device.fail;
      const s1 = step(p.record, deviceKey, first.message as never);
      expect(step(s1.record, deviceKey, first.message as never)).toEqual({ record: s1.record, message: s1.message });
      const s2 = step(s1.record, deviceKey, second.message as never);
      const [m1, m2] = [s1.message, s2.message] as { state: number; settled_sat: number; txid: string; psbt: string }[];
      expect([m2!.state, m2!.settled_sat, m2!.txid]).toEqual([m1!.state, m1!.settled_sat, m1!.txid]);
      expect(m2!.psbt).not.toBe(m1!.psbt);
      expect(s2.record.paid).toEqual(s1.record.paid);
      expect(s2.record.day).toEqual(s1.record.day);
      // The other outcome for the same payment is still refused.
      refusedWith(() => (outcome === 'settle' ? device.fail : device.settle)(s2.record, deviceKey, asGateway({ ...(second.message as object), preimage: toHexString(preimage(40)) }) as never), 'E_HTLC_IN_FLIGHT');
      // Completed with the new nonce: stored, signed for the real contract, and the device idle at that state.
      const done = await gateway.completeStep(gctx, second.record, s2.message as never);
      expect(done.record.latest!.txid).toBe(m1!.txid);
      verifiedOutputs(done.record);
      const idle = device.receipt(s2.record, done.message as never);
      expect([idle.state, idle.pending]).toEqual([m1!.state, undefined]);
    }
  });
});
