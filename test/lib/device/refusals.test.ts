/**
 * Every refusal of the device and gateway steps, one test each: the code, the exit
 * class, and that nothing was written (every file and store row under the world's
 * directory — the gateway's single-use nonces included — is byte-identical after, and
 * the step returned no record to write). Tampered messages are built here: a dishonest
 * device signs (DeterministicSign, so its partial signature is valid for the tampered
 * state) whatever state it likes; the gateway must refuse by the rule named.
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
import type { DeviceChannel, GatewayChannel } from '../../../src/lib/credit/ports.ts';
import { gatewayFeeMsat, type DevicePolicy } from '../../../src/lib/device/policy.ts';
import { expectRefused } from '../credit/tamper.ts';
import { refusal } from '../../setup/refusal.ts';
import { GATEWAY_TERMS, asGateway, NOW, PAYEE, POLICY, channel, invoice, preimage } from './world.ts';

type Ch = Awaited<ReturnType<typeof channel>>;

/** A device/pay for invoice `n`, honest unless told otherwise. */
function craftPay(ch: Ch, d: DeviceChannel, o: { n?: number; msat?: bigint; settledInTx?: bigint; settledSaid?: number; hashInTx?: Uint8Array; hashSaid?: string; amount?: number; expiry?: number; inv?: string } = {}) {
  const n = o.n ?? 0;
  const msat = o.msat ?? 2_000_000n;
  const inv = o.inv ?? invoice(n, msat);
  const honest = device.pay(d, ch.deviceKey, { invoice: inv, policy: POLICY, gateway: GATEWAY_TERMS, now: NOW, tip: ch.tip }).message as Record<string, any>;
  const c = termsFromJson(d.contract, 'regtest');
  const h = { ...honest.htlc, ...(o.amount !== undefined ? { amount_sat: o.amount } : {}), ...(o.expiry !== undefined ? { expiry_height: o.expiry } : {}) };
  const inTx = { state: honest.state, payment_hash: toHex(o.hashInTx ?? Buffer.from(h.payment_hash, 'hex')), amount_sat: h.amount_sat, fee_sat: 0, invoice_amount_msat: '0', expiry_height: h.expiry_height, invoice: inv };
  const tx = buildState(c, o.settledInTx ?? BigInt(d.settled_sat), stateHtlc(c, inTx));
  userSignAgainst(tx, 0, ch.deviceKey, c.mintPubkey, d.gateway_nonce!);
  return { ...honest, settled_sat: o.settledSaid ?? d.settled_sat, htlc: { ...h, payment_hash: o.hashSaid ?? h.payment_hash }, psbt: base64.encode(serializePsbt(tx)) };
}

async function inFlight(ch: Ch) {
  const p = device.pay(ch.device, ch.deviceKey, { invoice: invoice(0, 2_000_000n), policy: POLICY, gateway: GATEWAY_TERMS, now: NOW, tip: ch.tip });
  const g = await gateway.pay(ch.gctx, ch.gateway, p.message as never, NOW);
  return { d: p.record, g: g.record };
}

const gw = (ch: Ch, code: string, exitCode: 4 | 5, step: () => Promise<unknown>, message: RegExp) => expectRefused(ch.w.dir.path, step, { code, exitCode, message });

describe('gateway refusals (nothing written, no nonce burnt)', () => {
  it('control: the honest crafted pay is accepted', async () => {
    const ch = await channel();
    const out = await gateway.pay(ch.gctx, ch.gateway, craftPay(ch, ch.device) as never, NOW);
    expect(out.record.in_flight?.amount_sat).toBeGreaterThan(0);
  });

  it('E_BAD_PAYOUT: a state paying the gateway more than settled (message says so)', async () => {
    const ch = await channel();
    await gw(ch, 'E_BAD_PAYOUT', 4, () => gateway.pay(ch.gctx, ch.gateway, craftPay(ch, ch.device, { settledInTx: 1000n, settledSaid: 1000 }) as never, NOW), /settled/);
  });

  it('E_BAD_PAYOUT: a state paying the gateway more than settled (message hides it)', async () => {
    const ch = await channel();
    await gw(ch, 'E_BAD_PAYOUT', 4, () => gateway.pay(ch.gctx, ch.gateway, craftPay(ch, ch.device, { settledInTx: 1000n }) as never, NOW), /not its settled 0 sat/);
  });

  it('E_BAD_PAYOUT: after a settled payment, a state paying the gateway settled + 500 while saying settled', async () => {
    const ch = await channel();
    const { d, g } = await inFlight(ch);
    const notice = await gateway.settle(ch.gctx, g, preimage(0));
    const s = device.settle(d, ch.deviceKey, notice.message as never);
    const done = await gateway.completeStep(ch.gctx, notice.record, s.message as never);
    const d2 = device.receipt(s.record, done.message as never);
    expect(d2.settled_sat).toBeGreaterThan(0);
    const forged = craftPay(ch, d2, { n: 1, settledInTx: BigInt(d2.settled_sat) + 500n });
    await gw(ch, 'E_BAD_PAYOUT', 4, () => gateway.pay(ch.gctx, done.record, forged as never, NOW), /not its settled/);
    const honest = await gateway.pay(ch.gctx, done.record, craftPay(ch, d2, { n: 1 }) as never, NOW);
    expect(honest.record.in_flight?.state).toBe(3);
  });

  it('E_HASH_MISMATCH: an HTLC whose hash is not the invoice\'s', async () => {
    const ch = await channel();
    const other = toHex(sha256(preimage(9)));
    await gw(ch, 'E_HASH_MISMATCH', 4, () => gateway.pay(ch.gctx, ch.gateway, craftPay(ch, ch.device, { hashInTx: sha256(preimage(9)), hashSaid: other }) as never, NOW), /not the invoice's/);
  });

  it('E_BAD_HTLC_OUTPUT: the message names the invoice\'s hash, the state\'s HTLC another', async () => {
    const ch = await channel();
    await gw(ch, 'E_BAD_HTLC_OUTPUT', 4, () => gateway.pay(ch.gctx, ch.gateway, craftPay(ch, ch.device, { hashInTx: sha256(preimage(9)) }) as never, NOW), /exactly one output to the HTLC/);
  });

  it('E_HTLC_UNDERPAYS: the HTLC does not cover the invoice plus the gateway fee', async () => {
    const ch = await channel();
    await gw(ch, 'E_HTLC_UNDERPAYS', 4, () => gateway.pay(ch.gctx, ch.gateway, craftPay(ch, ch.device, { amount: 2001 }) as never, NOW), /invoice plus the gateway's fee/);
  });

  it('E_HTLC_TOO_SMALL: an HTLC below the gateway terms\' min_htlc_sat (its claim would not pay its fee); at the minimum it is taken', async () => {
    const ch = await channel();
    const pay = craftPay(ch, ch.device) as { htlc: { amount_sat: number } };
    const terms = { ...ch.gctx, terms: { ...ch.gctx.terms, min_htlc_sat: pay.htlc.amount_sat + 1 } };
    await gw(ch, 'E_HTLC_TOO_SMALL', 4, () => gateway.pay(terms, ch.gateway, pay as never, NOW), /below the gateway's minimum/);
    const ok = await gateway.pay({ ...ch.gctx, terms: { ...ch.gctx.terms, min_htlc_sat: pay.htlc.amount_sat } }, ch.gateway, pay as never, NOW);
    expect(ok.message.type).toBe('gateway/job');
  });

  it('E_HTLC_EXPIRY_TOO_SOON: an HTLC expiry that leaves no time to pay and claim', async () => {
    const ch = await channel();
    // min_final 18 + budget 72 + margin 36 = 126 blocks needed; 125 is one short.
    await gw(ch, 'E_HTLC_EXPIRY_TOO_SOON', 4, () => gateway.pay(ch.gctx, ch.gateway, craftPay(ch, ch.device, { expiry: ch.tip + 125 }) as never, NOW), /claiming on chain/);
    const ok = await gateway.pay(ch.gctx, ch.gateway, craftPay(ch, ch.device, { expiry: ch.tip + 126 }) as never, NOW);
    expect(ok.record.in_flight?.expiry_height).toBe(ch.tip + 126);
  });

  it('E_HTLC_EXPIRY_TOO_LATE: an HTLC expiring within the claim margin of the channel expiry', async () => {
    const ch = await channel();
    const late = ch.device.contract.expiry_height - 35;
    await gw(ch, 'E_HTLC_EXPIRY_TOO_LATE', 4, () => gateway.pay(ch.gctx, ch.gateway, craftPay(ch, ch.device, { expiry: late }) as never, NOW), /channel's expiry/);
  });

  it('E_FUNDING_UNCONFIRMED, E_FUNDING_MISSING, E_TOO_CLOSE_TO_EXPIRY: the credit mint\'s chain checks, on the gateway too', async () => {
    const ch = await channel();
    const c = termsFromJson(ch.device.contract, 'regtest');
    const msg = craftPay(ch, ch.device);
    ch.w.chain.confirm(c.funding.txid, c.funding.vout, c.capacity, c.script, 0);
    await gw(ch, 'E_FUNDING_UNCONFIRMED', 4, () => gateway.pay(ch.gctx, ch.gateway, msg as never, NOW), /confirmations/);
    ch.w.chain.utxos.clear();
    await gw(ch, 'E_FUNDING_MISSING', 4, () => gateway.pay(ch.gctx, ch.gateway, msg as never, NOW), /not an unspent output/);
    ch.w.chain.confirm(c.funding.txid, c.funding.vout, c.capacity, c.script, 1);
    const narrow = { ...ch.gctx, policy: { ...ch.gctx.policy, safety_margin_blocks: c.expiryHeight - ch.tip } };
    await gw(ch, 'E_TOO_CLOSE_TO_EXPIRY', 4, () => gateway.pay(narrow, ch.gateway, msg as never, NOW), /safety margin/);
    const ok = await gateway.pay(ch.gctx, ch.gateway, msg as never, NOW);
    expect(ok.record.latest?.htlc).toBeDefined();
  });

  it('E_HTLC_IN_FLIGHT: a second HTLC while one is in flight', async () => {
    const ch = await channel();
    const { d, g } = await inFlight(ch);
    const second = craftPay(ch, { ...d, state: 1, in_flight: undefined, gateway_nonce: { state: 2, pubnonce: d.gateway_nonce!.pubnonce } }, { n: 1 });
    await gw(ch, 'E_HTLC_IN_FLIGHT', 4, () => gateway.pay(ch.gctx, g, second as never, NOW), /still in flight/);
  });

  it('a retried device/pay gets the same gateway/job, and nothing is written (no nonce taken)', async () => {
    const ch = await channel();
    const p = device.pay(ch.device, ch.deviceKey, { invoice: invoice(0, 2_000_000n), policy: POLICY, gateway: GATEWAY_TERMS, now: NOW, tip: ch.tip });
    const first = await gateway.pay(ch.gctx, ch.gateway, p.message as never, NOW);
    const { snapshot } = await import('../credit/tamper.ts');
    const before = snapshot(ch.w.dir.path);
    const again = await gateway.pay(ch.gctx, first.record, p.message as never, NOW);
    expect(again.message).toEqual(first.message);
    expect(again.record).toBe(first.record);
    expect(snapshot(ch.w.dir.path)).toEqual(before);
  });

  it('E_WRONG_PREIMAGE: the gateway presents a preimage that does not hash to the payment', async () => {
    const ch = await channel();
    const { g } = await inFlight(ch);
    await gw(ch, 'E_WRONG_PREIMAGE', 4, () => gateway.settle(ch.gctx, g, preimage(1)), /does not hash/);
  });

  it('E_WRONG_PAYMENT: a fail for another payment', async () => {
    const ch = await channel();
    const { g } = await inFlight(ch);
    await gw(ch, 'E_WRONG_PAYMENT', 4, () => gateway.fail(ch.gctx, g, toHex(sha256(preimage(1)))), /not the one in flight/);
  });

  it('E_NO_PREIMAGE: a device/settle the gateway has no preimage for (it cannot take the HTLC amount)', async () => {
    const ch = await channel();
    const { d, g } = await inFlight(ch);
    // The device was told of a preimage (forged notice path bypassed): the gateway never presented one.
    const settled = await gateway.settle(ch.gctx, g, preimage(0));
    const s = device.settle(d, ch.deviceKey, settled.message as never);
    await gw(ch, 'E_NO_PREIMAGE', 4, () => gateway.completeStep(ch.gctx, g, s.message as never), /no preimage/);
  });

  it('E_PAYMENT_NOT_FAILED: a device/fail before the gateway failed the payment', async () => {
    const ch = await channel();
    const { d, g } = await inFlight(ch);
    const failed = await gateway.fail(ch.gctx, g, toHex(sha256(preimage(0))));
    const f = device.fail(d, ch.deviceKey, failed.message as never);
    await gw(ch, 'E_PAYMENT_NOT_FAILED', 4, () => gateway.completeStep(ch.gctx, g, f.message as never), /gateway fail first/);
  });

  it('E_BAD_PAYOUT: a settle state paying the gateway more than settled + the HTLC', async () => {
    const ch = await channel();
    const { d, g } = await inFlight(ch);
    const settled = await gateway.settle(ch.gctx, g, preimage(0));
    const s = device.settle(d, ch.deviceKey, settled.message as never).message as Record<string, any>;
    const c = termsFromJson(d.contract, 'regtest');
    const tx = buildState(c, BigInt(s.settled_sat) + 500n);
    userSignAgainst(tx, 0, ch.deviceKey, c.mintPubkey, (settled.message as any).next_nonce);
    const forged = { ...s, psbt: base64.encode(serializePsbt(tx)) };
    await gw(ch, 'E_BAD_PAYOUT', 4, () => gateway.completeStep(ch.gctx, settled.record, forged as never), /cumulative/);
    const claimed = { ...forged, settled_sat: s.settled_sat + 500 };
    await gw(ch, 'E_BAD_PAYOUT', 4, () => gateway.completeStep(ch.gctx, settled.record, claimed as never), /expects/);
  });

  it('E_WRONG_PAYMENT: a settle for another payment', async () => {
    const ch = await channel();
    const { d, g } = await inFlight(ch);
    const settled = await gateway.settle(ch.gctx, g, preimage(0));
    const s = device.settle(d, ch.deviceKey, settled.message as never).message as Record<string, any>;
    await gw(ch, 'E_WRONG_PAYMENT', 4, () => gateway.completeStep(ch.gctx, settled.record, { ...s, payment_hash: toHex(sha256(preimage(7))) } as never), /one in flight/);
  });

  it('one code, one class (docs/cli.md): a settle for a state past the next is E_STALE_STATE (exit 5, as the credit mint\'s); a message of another type E_WRONG_MESSAGE (exit 3)', async () => {
    const ch = await channel();
    const { d, g } = await inFlight(ch);
    const settled = await gateway.settle(ch.gctx, g, preimage(0));
    const s = device.settle(d, ch.deviceKey, settled.message as never).message as Record<string, any>;
    await gw(ch, 'E_STALE_STATE', 5, () => gateway.completeStep(ch.gctx, settled.record, { ...s, state: s.state + 1 } as never), /is not the next state/);
    // malformed input (exit 3), as a message of another type everywhere else; nothing written either
    const { snapshot } = await import('../credit/tamper.ts');
    const before = snapshot(ch.w.dir.path);
    await expect(gateway.completeStep(ch.gctx, settled.record, { ...s, type: 'device/pay' } as never)).rejects.toMatchObject({ code: 'E_WRONG_MESSAGE', exitCode: 3, message: 'expected device/settle or device/fail, got device/pay' });
    expect(snapshot(ch.w.dir.path)).toEqual(before);
  });
});

describe('device refusals (the step throws: no record, no message)', () => {
  const policy = (p: Partial<DevicePolicy>) => ({ ...POLICY, ...p });
  async function tryPay(o: { inv?: string; policy?: DevicePolicy; now?: number; tip?: number; d?: (d: DeviceChannel) => DeviceChannel; gatewayTerms?: typeof GATEWAY_TERMS } = {}) {
    const ch = await channel();
    const d = o.d ? o.d(ch.device) : ch.device;
    return () => device.pay(d, ch.deviceKey, { invoice: o.inv ?? invoice(0, 2_000_000n), policy: o.policy ?? POLICY, gateway: o.gatewayTerms ?? GATEWAY_TERMS, now: o.now ?? NOW, tip: o.tip ?? ch.tip });
  }
  const cases: [string, Parameters<typeof tryPay>[0]][] = [
    ['E_OVER_PAYMENT_LIMIT', { policy: policy({ max_payment_msat: 1_999_999 }) }],
    ['E_OVER_DAILY_LIMIT', { d: (d) => ({ ...d, day: { date: new Date(NOW * 1000).toISOString().slice(0, 10), spent_msat: '98000001' } }) }],
    ['E_PAYEE_NOT_ALLOWED', { policy: policy({ allowed_payees: ['02' + '11'.repeat(32)] }) }],
    ['E_INVOICE_EXPIRED', { now: NOW - 10 + 3600 }],
    ['E_INVOICE_NO_AMOUNT', { inv: invoice(0, 0n, { hrp: 'lnbcrt' }) }],
    ['E_INVOICE_WRONG_NETWORK', { inv: invoice(0, 2_000_000n, { hrp: 'lnbc20u' }) }],
    ['E_GATEWAY_FEE_TOO_HIGH', { gatewayTerms: { ...GATEWAY_TERMS, fee_ppm: 5001 } }],
    ['E_GATEWAY_FEE_TOO_HIGH', { gatewayTerms: { ...GATEWAY_TERMS, fee_base_msat: 1001 } }], // the base fee one msat over max_fee_base_msat, the ppm within
    ['E_CLTV_DOES_NOT_FIT', { inv: invoice(0, 2_000_000n, { cltv: 144 - 72 - 36 + 1 }) }],
    ['E_CHANNEL_EXPIRES_FIRST', { policy: policy({ claim_margin_blocks: 1000, htlc_expiry_blocks: 3400 }) }],
    ['E_HTLC_IN_FLIGHT', { d: (d) => ({ ...d, in_flight: { state: 1 } as never }) }],
    ['E_PAYEE_NOT_ALLOWED', { inv: invoice(0, 2_000_000n, { key: Uint8Array.from(Buffer.alloc(32, 0x43)) }) }],
    ['E_INVOICE_CHECKSUM', { inv: invoice(0, 2_000_000n).replace(/.{8}$/, (s) => s.split('').reverse().join('')) }],
  ];
  for (const [code, o] of cases) {
    it(`${code}${o?.inv && code === 'E_PAYEE_NOT_ALLOWED' ? ' (an invoice signed by another node)' : ''}`, async () => {
      const step = await tryPay(o);
      const e = refusal(step, code, code === 'E_INVOICE_CHECKSUM' ? 3 : 4);
      expect(e.message.length).toBeGreaterThan(10);
    });
  }

  it('controls: the same payment one unit inside each limit is signed', async () => {
    for (const o of [{ policy: policy({ max_payment_msat: 2_000_000 }) }, { d: (d: DeviceChannel) => ({ ...d, day: { date: new Date(NOW * 1000).toISOString().slice(0, 10), spent_msat: '98000000' } }) }, { now: NOW - 11 + 3600 }, { gatewayTerms: { ...GATEWAY_TERMS, fee_ppm: 5000 } }, { gatewayTerms: { ...GATEWAY_TERMS, fee_base_msat: 1000, fee_ppm: 5000 } }, { inv: invoice(0, 2_000_000n, { cltv: 144 - 72 - 36 }) }]) {
      const out = (await tryPay(o))();
      expect(out.message.type).toBe('device/pay');
    }
  });

  // Found by npm run mutate on policy.ts (issue 42): each control below fails with one surviving mutant.
  it('controls at the edges the mutation run found: allowed_payees "any" pays any payee; an HTLC whose claim margin ends exactly at the channel expiry is signed, one block more is not', async () => {
    const other = invoice(0, 2_000_000n, { key: Uint8Array.from(Buffer.alloc(32, 0x43)) });
    expect((await tryPay({ inv: other, policy: policy({ allowed_payees: 'any' }) }))().message.type).toBe('device/pay');
    const ch = await channel();
    const room = ch.device.contract.expiry_height - ch.tip; // blocks from the tip to the channel's expiry (the contract's terms)
    const fits = policy({ htlc_expiry_blocks: room - POLICY.claim_margin_blocks });
    expect((await tryPay({ policy: fits }))().message.type).toBe('device/pay');
    refusal(await tryPay({ policy: policy({ htlc_expiry_blocks: room - POLICY.claim_margin_blocks + 1 }) }), 'E_CHANNEL_EXPIRES_FIRST', 4);
  });

  it('the gateway fee is rounded up to the msat (1 ppm of 1 msat is 1 msat) and the expired message names when it expired', async () => {
    expect(gatewayFeeMsat({ fee_base_msat: 0, fee_ppm: 1 }, 1n)).toBe(1n);
    expect(gatewayFeeMsat({ fee_base_msat: 1000, fee_ppm: 2000 }, 2_000_001n)).toBe(1000n + 4001n); // 4000.002 msat up
    const e = refusal(await tryPay({ now: NOW + 7200 }), 'E_INVOICE_EXPIRED', 4);
    expect(e.message).toContain(`expired at ${NOW - 10 + 3600} `); // the test invoice: issued NOW - 10, expiry 3600 (world.ts)
  });

  it('E_WRONG_PREIMAGE, E_WRONG_PAYMENT, E_WRONG_CONTRACT on the device side; E_RECEIPT_MISMATCH', async () => {
    const ch = await channel();
    const { d, g } = await inFlight(ch);
    const notice = (await gateway.settle(ch.gctx, g, preimage(0))).message as Record<string, any>;
    refusal(() => device.settle(d, ch.deviceKey, asGateway({ ...notice, preimage: toHex(preimage(1)) }) as never), 'E_WRONG_PREIMAGE', 4);
    refusal(() => device.settle(d, ch.deviceKey, asGateway({ ...notice, payment_hash: toHex(sha256(preimage(1))) }) as never), 'E_WRONG_PAYMENT', 4);
    refusal(() => device.fail(d, ch.deviceKey, asGateway({ ...notice, payment_hash: toHex(sha256(preimage(1))) }) as never), 'E_WRONG_PAYMENT', 4);
    refusal(() => device.settle(d, ch.deviceKey, asGateway({ ...notice, contract_id: '00'.repeat(32) }) as never), 'E_WRONG_CONTRACT', 4);
    const s = device.settle(d, ch.deviceKey, notice as never);
    const done = (await gateway.completeStep(ch.gctx, (await gateway.settle(ch.gctx, g, preimage(0))).record, s.message as never)).message as Record<string, any>;
    refusal(() => device.receipt(s.record, asGateway({ ...done, settled_sat: done.settled_sat + 1 }) as never), 'E_RECEIPT_MISMATCH', 4);
    expect(device.receipt(s.record, done as never).settled_sat).toBe(done.settled_sat);
    void PAYEE;
  });
});

void ({} as GatewayChannel);

describe('the policy file', () => {
  it('fixtures/policies/device.json is valid against DevicePolicySchema, and a policy with an unknown field or a bad payee is not', async () => {
    const { Value } = await import('@sinclair/typebox/value');
    const { readFileSync } = await import('node:fs');
    const { DevicePolicySchema } = await import('../../../src/lib/device/policy.ts');
    const policy = JSON.parse(readFileSync(new URL('../../../fixtures/policies/device.json', import.meta.url), 'utf8'));
    expect(Value.Check(DevicePolicySchema, policy)).toBe(true);
    expect(Value.Check(DevicePolicySchema, { ...policy, max_fee: 1 })).toBe(false);
    expect(Value.Check(DevicePolicySchema, { ...policy, allowed_payees: ['04' + '11'.repeat(32)] })).toBe(false);
    expect(Value.Check(DevicePolicySchema, { ...policy, allowed_payees: 'any' })).toBe(true);
  });
});
