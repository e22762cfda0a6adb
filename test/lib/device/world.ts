/**
 * A device and its gateway over a credit contract opened in the credit test world
 * (test/lib/credit/world.ts: device = user USER b2…, gateway = mint MINT a1…), plus
 * BOLT 11 invoices written by test code (signed with a test payee key, as a Lightning
 * node would) and their preimages; one payment through both sides (payThrough); a step
 * refused with its code (refusedWith); a device message's PSBT as a stranger would send it (withoutDeviceSignature).
 */
import { expect } from 'vitest';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { Transaction } from '@scure/btc-signer';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../../../src/lib/bytes.ts';
import { readMusigInput } from '../../../src/lib/musig/psbt-keypath.ts';
import { type Bolt11Field, bolt11SigningHash, encodeBolt11 } from '../../../src/lib/invoice/bolt11.ts';
import { deterministicRandom } from '../../../src/lib/random.ts';
import { RefusedError } from '../../../src/lib/errors.ts';
import * as device from '../../../src/lib/device/device.ts';
import * as gateway from '../../../src/lib/device/gateway.ts';
import type { DeviceChannel, GatewayChannel } from '../../../src/lib/credit/ports.ts';
import type { GatewayContext } from '../../../src/lib/device/gateway.ts';
import type { DevicePolicy } from '../../../src/lib/device/policy.ts';
import { MINT, USER, world } from '../credit/world.ts';
import { signAnswer } from '../../../src/lib/credit/answer-signature.ts';
import { buildSpend, flipLastBit, musigFieldsOf, openContract, psbtBase64, psbtOf, specOf, userRecord, withPartialSig } from '../credit/tamper.ts';

export const PAYEE_KEY = Uint8Array.from(Buffer.alloc(32, 0x42));
export const PAYEE = toHex(secp256k1.getPublicKey(PAYEE_KEY, true));
export const NOW = 1_800_000_000;

export const POLICY: DevicePolicy = {
  max_payment_msat: 20_000_000, max_daily_msat: 100_000_000, max_fee_base_msat: 1000, max_fee_ppm: 5000,
  allowed_payees: [PAYEE], htlc_expiry_blocks: 144, claim_margin_blocks: 36,
};
export const GATEWAY_TERMS = { fee_base_msat: 1000, fee_ppm: 2000, cltv_budget_blocks: 72 };

/** The preimage of payment `n` (test data) and its hash. */
export function preimage(n: number): Uint8Array {
  return Uint8Array.from(Buffer.alloc(32, n + 1));
}
export function paymentHash(n: number): Uint8Array {
  return sha256(preimage(n));
}

/** A regtest BOLT 11 invoice for `msat`, payment hash of payment `n`, signed by the payee key. */
export function invoice(n: number, msat: bigint, o: { timestamp?: number; expiry?: number; cltv?: number; key?: Uint8Array; hrp?: string; hash?: Uint8Array } = {}): string {
  const amount = o.hrp ?? `lnbcrt${msat * 10n}p`;
  const fields: Bolt11Field[] = [
    { tag: 1, name: 'payment_hash', bytes: o.hash ?? paymentHash(n) },
    { tag: 16, name: 'payment_secret', bytes: Uint8Array.from(Buffer.alloc(32, 0x11)) },
    { tag: 13, name: 'description', text: `toll ${n}` },
    ...(o.expiry !== undefined ? [{ tag: 6, name: 'expiry', value: o.expiry } as Bolt11Field] : []),
    ...(o.cltv !== undefined ? [{ tag: 24, name: 'min_final_cltv_expiry_delta', value: o.cltv } as Bolt11Field] : []),
  ];
  const timestamp = o.timestamp ?? NOW - 10;
  const hash = bolt11SigningHash(amount, timestamp, fields);
  const sig = secp256k1.Signature.fromBytes(secp256k1.sign(hash, o.key ?? PAYEE_KEY, { prehash: false, format: 'recovered' }), 'recovered');
  const rs = Uint8Array.from(Buffer.from(sig.r.toString(16).padStart(64, '0') + sig.s.toString(16).padStart(64, '0'), 'hex'));
  return encodeBolt11({ hrp: amount, timestamp, fields, signature: rs, recoveryId: sig.recovery! });
}

/**
 * An open channel: the credit contract opened and funded, each side's device record. `input`:
 * the funding's input (two hex digits, repeated: its txid), so two channels differ.
 */
export async function channel(o: { capacity?: bigint; input?: string } = {}) {
  const w = world();
  const opened = await openContract(w, { capacity: o.capacity ?? 100_000n, ...(o.input ? { input: o.input } : {}) });
  const u = await userRecord(w, opened.id);
  const device: DeviceChannel = {
    network: 'regtest', contract_id: opened.id, contract: u.contract, state: 0, settled_sat: 0, gateway_nonce: u.mint_nonce, paid: [], day: { date: '', spent_msat: '0' },
  };
  const m = (await w.mintBook.get(opened.id))!;
  const gateway: GatewayChannel = { network: 'regtest', contract_id: opened.id, contract: m.contract, next_state: m.next_state, settled_sat: 0 };
  const gctx: GatewayContext = {
    gateway: MINT, nonces: w.mintBook, random: deterministicRandom('gateway'), chain: w.chain, policy: { safety_margin_blocks: 144, min_confirmations: 1 },
    terms: { ...GATEWAY_TERMS, min_fee_rate: 1, claim_margin_blocks: 36 },
  };
  return { w, c: opened.c, device, gateway, gctx, deviceKey: USER, tip: w.chain.height };
}

export type Channel = Awaited<ReturnType<typeof channel>>;

/**
 * One payment through both sides to the end, the device idle again: device pay → gateway pay
 * (the job) → gateway settle with `preimage` (or gateway fail) → device settle (or fail) →
 * gateway complete → device receipt. Also the HTLC state the gateway co-signed for it, parsed.
 */
export async function payThrough(ch: Channel, d: DeviceChannel, g: GatewayChannel, inv: string, o: { outcome: 'settle' | 'fail'; preimage?: Uint8Array; now?: number; tip?: number }) {
  const now = o.now ?? NOW;
  const p = device.pay(d, ch.deviceKey, { invoice: inv, policy: POLICY, gateway: GATEWAY_TERMS, now, tip: o.tip ?? ch.tip });
  const job = await gateway.pay(ch.gctx, g, p.message as never, now);
  const state = Transaction.fromRaw(Buffer.from(job.record.latest!.hex, 'hex'), { allowUnknownOutputs: true });
  const notice = o.outcome === 'settle' ? await gateway.settle(ch.gctx, job.record, o.preimage!) : await gateway.fail(ch.gctx, job.record, (job.message as { payment_hash: string }).payment_hash);
  const signed = o.outcome === 'settle' ? device.settle(p.record, ch.deviceKey, notice.message as never) : device.fail(p.record, ch.deviceKey, notice.message as never);
  const done = await gateway.completeStep(ch.gctx, notice.record, signed.message as never);
  return { d: device.receipt(signed.record, done.message as never), g: done.record, state };
}

/**
 * A gateway answer written by a test, signed with the gateway's key (credit/answer-signature.ts)
 * as the gateway signs its own: the device's check of that signature passes, and the rule a test
 * names is the one that refuses (a relay's unsigned change: test/lib/credit/answer-signature.test.ts).
 */
export function asGateway<T>(m: T): T {
  return signAnswer(m as Record<string, unknown>, MINT, 'gateway') as T;
}

/** A library step refused with `code` (a RefusedError), not any other error, and not a success. */
export function refusedWith(step: () => unknown, code: string): void {
  let err: unknown;
  try {
    step();
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}, the step succeeded`).toBeInstanceOf(RefusedError);
  expect((err as RefusedError).code).toBe(code);
}

/**
 * A device message's `psbt` (base64) as a stranger could send it: the device's partial signature
 * (the one the PSBT carries) taken off, or one bit of it flipped; the nonces kept. Any keys.
 */
export function withoutDeviceSignature(psbt: string, how: 'unsigned' | 'flipped'): string {
  const tx = psbtOf(psbt);
  const input = readMusigInput(tx, 0);
  const signer = input.key.participants[input.partialSigs.findIndex(Boolean)]!;
  const spec = specOf(tx, input.key.participants);
  if (how === 'flipped') return psbtBase64(withPartialSig(tx, spec, signer, flipLastBit(musigFieldsOf(tx, signer).partialSig!)));
  const out = buildSpend(spec);
  out.updateInput(0, { musig2PubNonce: tx.getInput(0).musig2PubNonce ?? [] });
  return psbtBase64(out);
}
