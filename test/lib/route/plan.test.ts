/**
 * Route arithmetic against figures written out by hand: the seed's Alice → Bob → Carol →
 * Diana → Eric payment (Alice's HTLC 1.003 BTC expiring at tip + 10, Bob's 1.002 at
 * tip + 9, Carol's 1.001 at tip + 8, Diana's 1 BTC to Eric at tip + 7), and a
 * proportional fee computed here; then properties over random routes: amounts never
 * increase, expiries fall by each delta, every node is paid its fee, a plan passes every
 * hop's check, and one msat or one block taken from any hop is refused by that hop's own
 * rule (every hop, not only the first); a forwarding node's own policy is what its hop is
 * checked against; every field of a plan the hops determine is recomputed by route check.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { type ChannelPolicy, type RouteHop, MAX_HOPS, channelFee, checkRoute, planRoute } from '../../../src/lib/route/plan.ts';
import { checkPlan, planFromRequest } from '../../../src/lib/route/messages.ts';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { keyPair } from '../../../src/lib/keys/keys.ts';
import { refusal } from '../../setup/refusal.ts';

const node = (b: number) => Uint8Array.of(2, ...new Uint8Array(32).fill(b));
const BTC = 100_000_000_000n; // msat
const flat = (feeBaseMsat: bigint, delta = 1): ChannelPolicy => ({ feeBaseMsat, feeProportionalMillionths: 0n, cltvExpiryDelta: delta });

describe('route plan', () => {
  it('reproduces the seed: 1.003 → 1.002 → 1.001 → 1 BTC, expiries tip+10 → tip+9 → tip+8 → tip+7', () => {
    const tip = 1000;
    // Every forwarding node charges a flat 0.001 BTC (100 000 000 msat) with a 1-block delta.
    const hops: RouteHop[] = ['Bob', 'Carol', 'Diana', 'Eric'].map((_, i) => ({ nodeId: node(i + 2), policy: flat(BTC / 1000n) }));
    const plan = planRoute(hops, 1n * BTC, tip + 7);
    expect(plan.hops.map((h) => h.amountMsat)).toEqual([100_300_000_000n, 100_200_000_000n, 100_100_000_000n, 100_000_000_000n]);
    expect(plan.hops.map((h) => h.cltvExpiry)).toEqual([1010, 1009, 1008, 1007]);
    expect(plan.hops.map((h) => h.feeMsat)).toEqual([100_000_000n, 100_000_000n, 100_000_000n, 0n]);
    expect(plan.totalFeeMsat).toBe(300_000_000n);
    checkRoute(plan.hops, hops.map((h) => h.policy));
  });

  it('BOLT 7 fee: base + ⌊amount × ppm / 10⁶⌋ — 1000 + ⌊1 234 567 × 250 / 10⁶⌋ = 1000 + 308 = 1308 msat', () => {
    expect(channelFee({ feeBaseMsat: 1000n, feeProportionalMillionths: 250n, cltvExpiryDelta: 40 }, 1_234_567n)).toBe(1308n);
    const hops: RouteHop[] = [
      { nodeId: node(2), policy: flat(0n) },
      { nodeId: node(3), policy: { feeBaseMsat: 1000n, feeProportionalMillionths: 250n, cltvExpiryDelta: 40 } },
    ];
    const plan = planRoute(hops, 1_234_567n, 800_000);
    expect(plan.hops[0]).toMatchObject({ amountMsat: 1_235_875n, cltvExpiry: 800_040, amtToForward: 1_234_567n, outgoingCltvValue: 800_000, feeMsat: 1308n });
  });

  it('refuses an empty route, one too long for an onion, an amount beyond 21 million BTC, given or reached by the fees', () => {
    refusal(() => planRoute([], 1n, 100), 'E_ROUTE_EMPTY', 3);
    refusal(() => planRoute(Array.from({ length: MAX_HOPS + 1 }, (_, i) => ({ nodeId: node(i), policy: flat(0n) })), 1n, 100), 'E_ROUTE_TOO_LONG', 4);
    refusal(() => planRoute([{ nodeId: node(2), policy: flat(0n) }], 21_000_000n * BTC + 1n, 100), 'E_BAD_AMOUNT', 3);
    // Each amount well-formed, the fees pushing the first HTLC past 21 million BTC: a refusal of its own (exit 4), not a malformed amount.
    refusal(() => planRoute([{ nodeId: node(2), policy: flat(0n) }, { nodeId: node(3), policy: flat(1n) }], 21_000_000n * BTC, 100), 'E_ROUTE_AMOUNT_OVERFLOW', 4);
  });

  const policyArb = fc.record({ feeBaseMsat: fc.bigInt({ min: 0n, max: 100_000n }), feeProportionalMillionths: fc.bigInt({ min: 0n, max: 5000n }), cltvExpiryDelta: fc.integer({ min: 0, max: 200 }) });
  const routeArb = fc.record({
    policies: fc.array(policyArb, { minLength: 1, maxLength: 20 }),
    amount: fc.bigInt({ min: 1n, max: 10n * BTC }),
    cltv: fc.integer({ min: 1, max: 900_000 }),
  });

  it('properties: amounts never increase, expiries fall by each delta, every node paid its fee, the plan passes every check', () => {
    fc.assert(
      fc.property(routeArb, ({ policies, amount, cltv }) => {
        const hops = policies.map((policy, i) => ({ nodeId: node(i), policy }));
        const plan = planRoute(hops, amount, cltv);
        for (let i = 0; i + 1 < plan.hops.length; i++) {
          const h = plan.hops[i]!;
          const next = plan.hops[i + 1]!;
          expect(h.amountMsat).toBeGreaterThanOrEqual(next.amountMsat);
          expect(h.cltvExpiry - next.cltvExpiry).toBe(policies[i + 1]!.cltvExpiryDelta);
          expect(h.amountMsat - next.amountMsat).toBe(channelFee(policies[i + 1]!, next.amountMsat));
        }
        expect(plan.hops.at(-1)).toMatchObject({ amountMsat: amount, cltvExpiry: cltv });
        checkRoute(plan.hops, policies);
      }),
      { numRuns: 300 },
    );
  });

  it('one msat or one block taken from any forwarding hop is refused by that hop\'s own rule — every hop, not only the first', () => {
    // The edit is made consistent with the hop before (its payload forwards exactly what hop i
    // now receives), so no earlier check can catch it: only hop i's own rule refuses it. A
    // check that skipped hops > 0 would let it pass.
    const seen = new Set<number>();
    fc.assert(
      fc.property(routeArb.filter((r) => r.policies.length >= 2), fc.nat(), fc.boolean(), ({ policies, amount, cltv }, pick, money) => {
        const plan = planRoute(policies.map((policy, i) => ({ nodeId: node(i), policy })), amount, cltv);
        const i = pick % (plan.hops.length - 1);
        seen.add(i);
        const hops = plan.hops.map((h) => ({ ...h }));
        if (money) {
          hops[i]!.amountMsat -= 1n;
          if (i > 0) hops[i - 1]!.amtToForward -= 1n;
        } else {
          hops[i]!.cltvExpiry -= 1;
          if (i > 0) hops[i - 1]!.outgoingCltvValue -= 1;
        }
        // The hop before still holds: its fee on one msat less is no larger, its margin one block wider.
        refusal(() => checkRoute(hops, policies), money ? 'E_ROUTE_FEE_SHORT' : 'E_ROUTE_CLTV_SHORT', 4);
      }),
      { numRuns: 300 },
    );
    // Hops deep in the route were exercised, not only hop 0.
    expect(Math.max(...seen)).toBeGreaterThanOrEqual(5);
  });

  it('a forwarding node checks against its own policy, not the plan\'s copy: any hop whose real fee or delta is above the copy refuses', () => {
    fc.assert(
      fc.property(routeArb.filter((r) => r.policies.length >= 2), fc.nat(), fc.boolean(), ({ policies, amount, cltv }, pick, money) => {
        const plan = planRoute(policies.map((policy, i) => ({ nodeId: node(i), policy })), amount, cltv);
        const i = pick % (plan.hops.length - 1);
        const copy = policies[i + 1]!;
        const real = money ? { ...copy, feeBaseMsat: copy.feeBaseMsat + 1n } : { ...copy, cltvExpiryDelta: copy.cltvExpiryDelta + 1 };
        const own = policies.map((p, k) => (k === i + 1 ? real : p));
        checkRoute(plan.hops, policies); // the sender's copy passes
        refusal(() => checkRoute(plan.hops, own), money ? 'E_ROUTE_FEE_SHORT' : 'E_ROUTE_CLTV_SHORT', 4);
      }),
      { numRuns: 200 },
    );
  });
});

describe('route check: every field the hops determine is recomputed from them', () => {
  const pub = (b: number) => toHex(keyPair(new Uint8Array(32).fill(b)).publicKey);
  const request = (n: number) => ({
    type: 'route/request', version: 1, network: 'regtest', final_amount_msat: '1234567890', final_cltv_expiry: 800_000,
    hops: Array.from({ length: n }, (_, i) => ({
      node_id: pub(i + 1), short_channel_id: `800000x${i + 1}x0`,
      policy: { fee_base_msat: 1000 + i, fee_proportional_millionths: 100 * i, cltv_expiry_delta: 40 + i },
    })),
  });
  const planOf = (n: number) => JSON.parse(JSON.stringify(planFromRequest(request(n)).message)) as Record<string, any>;

  it('a plan as planned passes; any summary field, fee_msat or payload short_channel_id changed is refused, naming the field', () => {
    for (const n of [1, 2, 5]) {
      const plan = planOf(n);
      expect(checkPlan(plan).totalFeeMsat).toBe(plan.total_fee_msat);
      const edits: [string, (p: Record<string, any>) => void][] = [
        ['first_htlc.amount_msat', (p) => (p.first_htlc.amount_msat = String(BigInt(p.first_htlc.amount_msat) + 1n))],
        ['first_htlc.cltv_expiry', (p) => (p.first_htlc.cltv_expiry += 1)],
        ['first_htlc.short_channel_id', (p) => (p.first_htlc.short_channel_id = '1x1x1')],
        ['first_htlc.short_channel_id', (p) => delete p.first_htlc.short_channel_id],
        ['total_fee_msat', (p) => (p.total_fee_msat = String(BigInt(p.total_fee_msat) + 1n))],
        ['final_amount_msat', (p) => (p.final_amount_msat = String(BigInt(p.final_amount_msat) - 1n))],
        ['final_cltv_expiry', (p) => (p.final_cltv_expiry -= 1)],
        ...Array.from({ length: n }, (_, i): [string, (p: Record<string, any>) => void][] => [
          [`hops[${i}].fee_msat`, (p) => (p.hops[i].fee_msat = String(BigInt(p.hops[i].fee_msat) + 1n))],
          [`hops[${i}].payload.short_channel_id`, (p) => (p.hops[i].payload.short_channel_id = '9x9x9')],
        ]).flat(),
      ];
      for (const [field, edit] of edits) {
        const p = structuredClone(plan);
        edit(p);
        const e = refusal(() => checkPlan(p), 'E_ROUTE_MISMATCH', 4);
        expect(e.message, field).toContain(`${field} is`);
      }
    }
  });

  it('--policy: the named forwarding node\'s hop is checked against its own channel_update; the payee and an absent node are refused', () => {
    const plan = planOf(4);
    for (let i = 0; i < 3; i++) {
      const copy = plan.hops[i + 1].policy;
      const mine = { feeBaseMsat: BigInt(copy.fee_base_msat), feeProportionalMillionths: BigInt(copy.fee_proportional_millionths), cltvExpiryDelta: copy.cltv_expiry_delta };
      const nodeId = fromHex(plan.hops[i].node_id);
      checkPlan(plan, { nodeId, policy: mine });
      refusal(() => checkPlan(plan, { nodeId, policy: { ...mine, feeProportionalMillionths: mine.feeProportionalMillionths + 1n } }), 'E_ROUTE_FEE_SHORT', 4);
      refusal(() => checkPlan(plan, { nodeId, policy: { ...mine, cltvExpiryDelta: mine.cltvExpiryDelta + 1 } }), 'E_ROUTE_CLTV_SHORT', 4);
    }
    const policy = { feeBaseMsat: 0n, feeProportionalMillionths: 0n, cltvExpiryDelta: 0 };
    refusal(() => checkPlan(plan, { nodeId: fromHex(plan.hops[3].node_id), policy }), 'E_USAGE', 2);
    refusal(() => checkPlan(plan, { nodeId: fromHex(pub(99)), policy }), 'E_ROUTE_NODE', 4);
  });
});
