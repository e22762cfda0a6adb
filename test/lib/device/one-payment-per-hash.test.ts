/**
 * One payment per hash per device (issue 37, finding 2): a device with several channels (two
 * gateways, or one gateway on two channels) pays each Lightning payment hash on ONE channel.
 * A hash is held by a channel from the moment the device signs a state with its HTLC: the
 * channel's gateway can complete that state (it holds its own nonce) and claim the HTLC on chain
 * with the preimage, whatever happens to the payment later — even after it failed it. So:
 *
 *   - device pay refuses a hash in flight, failed or settled on ANY other channel
 *     (E_PAYMENT_ON_OTHER_CHANNEL; settled: E_ALREADY_PAID); the channel that holds it may
 *     pay it again after a fail (any state its gateway could broadcast pays for it once);
 *   - device settle refuses a hash already settled (or being settled) on another channel
 *     (E_ALREADY_PAID): records written before the pay check existed may hold one hash in
 *     flight on two channels, and one preimage then settles one of them.
 *
 * The property: over random interleavings of pay / the gateway's Lightning attempt / its fail /
 * the device's settle or fail / the receipt, on two or three channels, with honest gateways
 * (each settles only what its own node paid; a payee paid once refuses a second payment) or
 * colluding ones (any gateway settles with any preimage a gateway learnt), after every step:
 * what the gateways can take on chain together — on each channel the best state the device
 * ever signed there (their payout, plus each HTLC whose preimage some gateway knows), summed
 * over channels — never exceeds what was paid on Lightning, each hash once, computed by test
 * code from the unsigned transactions and the HTLC scripts derived here.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { OffchainError } from '../../../src/lib/errors.ts';
import * as device from '../../../src/lib/device/device.ts';
import * as gateway from '../../../src/lib/device/gateway.ts';
import type { DeviceChannel, GatewayChannel } from '../../../src/lib/credit/ports.ts';
import { issueStateNonce } from '../../../src/lib/credit/signing.ts';
import { deterministicRandom } from '../../../src/lib/random.ts';
import { Sealer } from '../../../src/lib/store/seal.ts';
import { StateDb } from '../../../src/lib/store/sqlite/database.ts';
import { SqliteNonces } from '../../../src/lib/store/sqlite/nonces.ts';
import { tempDir } from '../../helpers.ts';
import { publicKeyOf } from '../../independent/keys.ts';
import { bytesOf, hexOf, psbtUnsignedTx } from '../../independent/tx.ts';
import { taprootHtlcContract } from '../../independent/descriptor.ts';
import { GATEWAY_TERMS, asGateway, NOW, POLICY, type Channel, channel, invoice, paymentHash, preimage, refusedWith } from './world.ts';

const MINT_PUB = publicKeyOf(bytesOf('a1'.repeat(32)));
const USER_PUB = publicKeyOf(bytesOf('b2'.repeat(32)));
type Msg = Record<string, any>;

const policy = { ...POLICY, max_daily_msat: 1_000_000_000_000 };
const payParams = (ch: Channel, inv: string, others: DeviceChannel[]) => ({ invoice: inv, policy, gateway: GATEWAY_TERMS, now: NOW, tip: ch.tip, others });

/** The gateway's settle of payment `k` (its node paid, or a colluding gateway passed it the preimage): its record and gateway/settle. */
async function gatewaySettles(ch: Channel, g: GatewayChannel, k: number) {
  return gateway.settle(ch.gctx, g, preimage(k));
}

describe('one payment per hash per device: device pay', () => {
  it('a hash in flight on channel A is refused on channel B; still after A failed it (A\'s gateway keeps the state holding its HTLC); A may pay it again', async () => {
    const a = await channel({ input: 'a0' });
    const b = await channel({ input: 'b0' });
    expect(a.device.contract_id).not.toBe(b.device.contract_id);
    const hash = hexOf(paymentHash(0));
    const inv = invoice(0, 2_000_000n);
    const pA = device.pay(a.device, a.deviceKey, payParams(a, inv, [b.device]));
    const jobA = await gateway.pay(a.gctx, a.gateway, pA.message as never, NOW);
    // In flight on A: on B, the same invoice and the same hash in another invoice are refused.
    refusedWith(() => device.pay(b.device, b.deviceKey, payParams(b, inv, [pA.record])), 'E_PAYMENT_ON_OTHER_CHANNEL');
    refusedWith(() => device.pay(b.device, b.deviceKey, payParams(b, invoice(7, 3_000_000n, { hash: paymentHash(0) }), [pA.record])), 'E_PAYMENT_ON_OTHER_CHANNEL');
    // A's gateway fails it; the device signs the fail state (pending) and gets the receipt.
    const failed = await gateway.fail(a.gctx, jobA.record, hash);
    const df = device.fail(pA.record, a.deviceKey, failed.message as never);
    refusedWith(() => device.pay(b.device, b.deviceKey, payParams(b, inv, [df.record])), 'E_PAYMENT_ON_OTHER_CHANNEL');
    const rc = await gateway.completeStep(a.gctx, failed.record, df.message as never);
    const dA = device.receipt(df.record, rc.message as never);
    expect(dA.failed?.map((f) => f.payment_hash)).toEqual([hash]);
    // A's gateway still holds the co-signed state with the HTLC: paying the hash on B would let
    // the two gateways take it twice (B settled, A's HTLC claimed with the same preimage).
    expect(jobA.record.latest?.htlc?.payment_hash).toBe(hash);
    refusedWith(() => device.pay(b.device, b.deviceKey, payParams(b, inv, [dA])), 'E_PAYMENT_ON_OTHER_CHANNEL');
    // A pays it again (a retry on the channel that holds it), and B pays any other hash.
    expect(device.pay(dA, a.deviceKey, payParams(a, inv, [b.device])).record.in_flight?.payment_hash).toBe(hash);
    expect(device.pay(b.device, b.deviceKey, payParams(b, invoice(1, 2_000_000n), [dA])).record.in_flight?.payment_hash).toBe(hexOf(paymentHash(1)));
  });

  it('a hash settled on channel A (its settle signed, the receipt not yet back) is E_ALREADY_PAID on channel B', async () => {
    const a = await channel({ input: 'a0' });
    const b = await channel({ input: 'b0' });
    const inv = invoice(0, 2_000_000n);
    const pA = device.pay(a.device, a.deviceKey, payParams(a, inv, [b.device]));
    const jobA = await gateway.pay(a.gctx, a.gateway, pA.message as never, NOW);
    const sA = await gatewaySettles(a, jobA.record, 0);
    const dsA = device.settle(pA.record, a.deviceKey, sA.message as never, [b.device]);
    expect(dsA.record.pending?.kind).toBe('settle');
    refusedWith(() => device.pay(b.device, b.deviceKey, payParams(b, inv, [dsA.record])), 'E_ALREADY_PAID');
  });
});

describe('one payment per hash per device: device settle', () => {
  /** Hash 0 in flight on A and on B (B's pay without the other channels: a record from before the check), both co-signed. */
  async function twoInFlight() {
    const a = await channel({ input: 'a0' });
    const b = await channel({ input: 'b0' });
    const inv = invoice(0, 2_000_000n);
    const pA = device.pay(a.device, a.deviceKey, payParams(a, inv, []));
    const pB = device.pay(b.device, b.deviceKey, payParams(b, inv, []));
    const jobA = await gateway.pay(a.gctx, a.gateway, pA.message as never, NOW);
    const jobB = await gateway.pay(b.gctx, b.gateway, pB.message as never, NOW);
    return { a, b, pA, pB, jobA, jobB };
  }

  it('colluding gateways (or one gateway on both channels) settle both with the one preimage: the second settle is E_ALREADY_PAID, before and after the first one\'s receipt', async () => {
    const { a, b, pA, pB, jobA, jobB } = await twoInFlight();
    // A's gateway paid on Lightning and settles; B's gateway has the same preimage and settles too.
    const sA = await gatewaySettles(a, jobA.record, 0);
    const sB = await gatewaySettles(b, jobB.record, 0);
    const dsA = device.settle(pA.record, a.deviceKey, sA.message as never, [pB.record]);
    expect(dsA.message).toMatchObject({ type: 'device/settle', payment_hash: hexOf(paymentHash(0)) });
    refusedWith(() => device.settle(pB.record, b.deviceKey, sB.message as never, [dsA.record]), 'E_ALREADY_PAID');
    const rc = await gateway.completeStep(a.gctx, sA.record, dsA.message as never);
    const dA = device.receipt(dsA.record, rc.message as never);
    refusedWith(() => device.settle(pB.record, b.deviceKey, sB.message as never, [dA]), 'E_ALREADY_PAID');
    // B's gateway can only fail it: the device signs that.
    const fB = await gateway.fail(b.gctx, jobB.record, hexOf(paymentHash(0)));
    expect(device.fail(pB.record, b.deviceKey, fB.message as never).message).toMatchObject({ type: 'device/fail' });
  });

  it('honest gateways: B\'s node finds the invoice paid and fails it; the device settles A and fails B', async () => {
    const { a, b, pA, pB, jobA, jobB } = await twoInFlight();
    const sA = await gatewaySettles(a, jobA.record, 0);
    const dsA = device.settle(pA.record, a.deviceKey, sA.message as never, [pB.record]);
    const fB = await gateway.fail(b.gctx, jobB.record, hexOf(paymentHash(0)));
    const dfB = device.fail(pB.record, b.deviceKey, fB.message as never);
    expect([dsA.message.type, dfB.message.type]).toEqual(['device/settle', 'device/fail']);
    // The settle signed on A counts from now on: a settle of the hash on B (a gateway turned dishonest) is refused.
    refusedWith(() => device.settle(pB.record, b.deviceKey, asGateway({ ...(fB.message as Msg), type: 'gateway/settle', preimage: hexOf(preimage(0)) }) as never, [dsA.record]), 'E_ALREADY_PAID');
  });
});

// ---------------------------------------------------------------------------------------------
// The property: random interleavings across channels never pay one hash twice.

/** Invoice amounts per hash (msat) and the HTLC each carries under GATEWAY_TERMS (1000 msat + 2000 ppm), in sat: the test's arithmetic. */
const MSAT = [1_500_000n, 2_000_000n, 3_000_000n];
const HTLC_SAT = MSAT.map((m) => (m + 1000n + (m * 2000n) / 1_000_000n) / 1000n);
const INVOICES = MSAT.map((m, k) => invoice(k, m));

type Step =
  /** `reuse`: the gateway hands the device an invoice whose hash another channel holds (in flight, failed or settled there), when there is one. */
  | { kind: 'pay'; c: number; h: number; reuse: boolean }
  | { kind: 'lightning'; c: number }
  | { kind: 'giveUp'; c: number }
  | { kind: 'deliver'; c: number };

const stepArb = (channels: number): fc.Arbitrary<Step> => {
  const c = fc.nat({ max: channels - 1 });
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('pay' as const), c, h: fc.nat({ max: MSAT.length - 1 }), reuse: fc.boolean() }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('lightning' as const), c }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('giveUp' as const), c }) },
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('deliver' as const), c }) },
  );
};
const scenario = fc.integer({ min: 2, max: 3 }).chain((channels) =>
  fc.record({ channels: fc.constant(channels), colluding: fc.boolean(), steps: fc.array(stepArb(channels), { minLength: 12, maxLength: 36 }) }));

const COUNT = { runs: 0, steps: 0, reused: 0, statesChecked: 0, settlesSigned: 0, settledTwoChannels: 0, colludingRuns: 0, honestRuns: 0 };
const REFUSALS = new Map<string, number>();

async function coded<T>(step: () => T | Promise<T>): Promise<T | undefined> {
  try {
    return await step();
  } catch (e) {
    if (e instanceof OffchainError) {
      REFUSALS.set(e.code, (REFUSALS.get(e.code) ?? 0) + 1);
      return undefined;
    }
    throw e;
  }
}

/** Each hash's HTLC script at expiry `L` (test code's derivation), by script: the hash's index. */
const SCRIPTS = new Map<number, Map<string, number>>();
function htlcScriptsAt(L: number): Map<string, number> {
  if (!SCRIPTS.has(L)) SCRIPTS.set(L, new Map(MSAT.map((_, k) => [hexOf(taprootHtlcContract({ payer: USER_PUB, recipient: MINT_PUB, paymentHash: paymentHash(k), locktime: L }).output.script), k])));
  return SCRIPTS.get(L)!;
}

const RUNS = tempDir('offchain-device-hash-');
afterAll(() => RUNS.cleanup());
const TEMPLATES: Promise<Channel>[] = [];
const template = (i: number) => (TEMPLATES[i] ??= channel({ input: ['a0', 'b0', 'c0'][i]! }));

type Side = { ch: Channel; d: DeviceChannel; g: GatewayChannel; toDevice?: Msg; toGateway?: Msg; signed: string[] };

async function runScenario(s: { channels: number; colluding: boolean; steps: Step[] }): Promise<void> {
  const dbs: StateDb[] = [];
  try {
    await runScenarioOn(s, dbs);
  } finally {
    for (const db of dbs) db.close();
  }
}

async function runScenarioOn(s: { channels: number; colluding: boolean; steps: Step[] }, dbs: StateDb[]): Promise<void> {
  COUNT.runs++;
  if (s.colluding) COUNT.colludingRuns++;
  else COUNT.honestRuns++;
  const sides: Side[] = [];
  for (let i = 0; i < s.channels; i++) {
    // The channel opened once per file; each run its gateway's own nonces (a state.sqlite of its own) and a first nonce.
    const t = await template(i);
    const db = StateDb.open(join(RUNS.path, `run-${COUNT.runs}-${i}`), { create: true })!;
    dbs.push(db);
    const nonces = new SqliteNonces(db, Sealer.fromSecret(t.gctx.gateway.secretKey), "the gateway's nonce");
    const random = deterministicRandom(`gateway-${COUNT.runs}-${i}`);
    const first = await issueStateNonce(nonces, random, t.gctx.gateway, t.c, t.gateway.next_state);
    const ch: Channel = { ...t, gctx: { ...t.gctx, nonces, random } };
    sides.push({ ch, d: { ...t.device, gateway_nonce: first }, g: t.gateway, signed: [] });
  }
  const othersOf = (c: number) => sides.filter((_, i) => i !== c).map((x) => x.d);
  const lightningPaid = new Set<number>(); // hashes (by index) paid on Lightning: each once (a payee takes one payment)
  const hashIndex = new Map(MSAT.map((_, k) => [hexOf(paymentHash(k)), k]));
  const expiry = sides[0]!.ch.tip + POLICY.htlc_expiry_blocks;
  const htlcScripts = htlcScriptsAt(expiry);
  const settledOn = new Map<number, Set<number>>();

  for (const step of s.steps) {
    COUNT.steps++;
    const side = sides[step.c]!;
    switch (step.kind) {
      case 'pay': {
        const held = othersOf(step.c).flatMap((o) => [...(o.in_flight ? [o.in_flight.payment_hash] : []), ...(o.failed ?? []).map((f) => f.payment_hash), ...o.paid.map((p) => p.payment_hash)]);
        const h = step.reuse && held.length > 0 ? hashIndex.get(held[step.h % held.length]!)! : step.h;
        if (step.reuse && held.length > 0) COUNT.reused++;
        const out = await coded(() => device.pay(side.d, side.ch.deviceKey, payParams(side.ch, INVOICES[h]!, othersOf(step.c))));
        if (!out) break;
        side.d = out.record;
        side.signed.push(String(out.message.psbt));
        const job = await coded(() => gateway.pay(side.ch.gctx, side.g, out.message as never, NOW));
        if (job) side.g = job.record;
        break;
      }
      case 'lightning': {
        // The gateway's node tries the job: the payee takes the first payment of a hash only.
        const f = side.g.in_flight;
        if (!f || f.failed || f.preimage) break;
        const k = hashIndex.get(f.payment_hash)!;
        const firstPayment = !lightningPaid.has(k);
        if (firstPayment) lightningPaid.add(k);
        // Honest: settles only what its own node paid. Colluding: settles with any preimage a gateway knows.
        const out = firstPayment || s.colluding
          ? await coded(() => gateway.settle(side.ch.gctx, side.g, preimage(k)))
          : await coded(() => gateway.fail(side.ch.gctx, side.g, f.payment_hash));
        if (out) {
          side.g = out.record;
          side.toDevice = out.message;
        }
        break;
      }
      case 'giveUp': {
        const f = side.g.in_flight;
        if (!f) break;
        const out = await coded(() => gateway.fail(side.ch.gctx, side.g, f.payment_hash));
        if (out) {
          side.g = out.record;
          side.toDevice = out.message;
        }
        break;
      }
      case 'deliver': {
        // The next message on this channel: the gateway's notice to the device, else the device's answer to the gateway.
        if (!side.toDevice) {
          const m = side.toGateway;
          if (!m) break;
          side.toGateway = undefined;
          const done = await coded(() => gateway.completeStep(side.ch.gctx, side.g, m as never));
          if (!done) break;
          side.g = done.record;
          const r = await coded(() => device.receipt(side.d, done.message as never));
          if (r) side.d = r;
          break;
        }
        const m = side.toDevice;
        side.toDevice = undefined;
        const out = await coded(() => (m.type === 'gateway/settle' ? device.settle(side.d, side.ch.deviceKey, m as never, othersOf(step.c)) : device.fail(side.d, side.ch.deviceKey, m as never)));
        if (!out) break;
        side.d = out.record;
        side.signed.push(String(out.message.psbt));
        side.toGateway = out.message;
        if (m.type === 'gateway/settle') {
          COUNT.settlesSigned++;
          const k = hashIndex.get(String(m.payment_hash))!;
          settledOn.set(k, new Set([...(settledOn.get(k) ?? []), step.c]));
        }
        break;
      }
    }
    // What the gateways can take together: on each channel, the best state the device signed
    // there (they can complete any of them), its payout plus every HTLC whose preimage is known.
    let take = 0n;
    for (const x of sides) {
      let best = 0n;
      for (const psbt of x.signed) {
        COUNT.statesChecked++;
        const tx = psbtUnsignedTx(Uint8Array.from(Buffer.from(psbt, 'base64')));
        let mine = 0n;
        for (const o of tx.outputs) {
          const script = hexOf(o.script);
          if (script === hexOf(x.ch.c.payoutScript)) mine += o.amount;
          else if (htlcScripts.has(script)) {
            const k = htlcScripts.get(script)!;
            expect(o.amount).toBe(HTLC_SAT[k]);
            if (lightningPaid.has(k)) mine += o.amount;
          } else expect(script, 'an output that is neither payout, change nor an HTLC of a known hash').toBe(hexOf(x.ch.c.changeScript));
        }
        if (mine > best) best = mine;
      }
      take += best;
    }
    const paid = [...lightningPaid].reduce((sum, k) => sum + HTLC_SAT[k]!, 0n);
    expect(take, `the gateways can take ${take} sat for ${paid} sat paid on Lightning`).toBeLessThanOrEqual(paid);
  }
  if ([...settledOn.values()].some((chs) => chs.size > 1)) COUNT.settledTwoChannels++;
}

describe('one payment per hash per device: property', () => {
  it('random interleavings of pay / Lightning / fail / settle / receipt over two or three channels, honest or colluding gateways: together they never take more than was paid on Lightning, each hash once', async () => {
    await fc.assert(fc.asyncProperty(scenario, runScenario), { numRuns: Number(process.env.DEVICE_HASH_RUNS ?? 30) });
    console.log(`one payment per hash: ${JSON.stringify(COUNT)} refusals ${JSON.stringify([...REFUSALS])}`);
    // Not vacuous: both modes ran, states were checked, and the cross-channel refusals occurred.
    expect(COUNT.colludingRuns).toBeGreaterThan(0);
    expect(COUNT.honestRuns).toBeGreaterThan(0);
    expect(COUNT.statesChecked).toBeGreaterThan(500);
    expect(COUNT.settlesSigned).toBeGreaterThan(10);
    expect(REFUSALS.get('E_PAYMENT_ON_OTHER_CHANNEL') ?? 0).toBeGreaterThan(0);
    expect(REFUSALS.get('E_ALREADY_PAID') ?? 0).toBeGreaterThan(0);
    expect(COUNT.reused).toBeGreaterThan(10);
    expect(COUNT.settledTwoChannels).toBe(0);
  }, 240_000);
});
