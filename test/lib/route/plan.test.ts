/**
 * Route arithmetic against figures written out by hand: the seed's Alice → Bob → Carol →
 * Diana → Eric payment (Alice's HTLC 1.003 BTC expiring at tip + 10, Bob's 1.002 at
 * tip + 9, Carol's 1.001 at tip + 8, Diana's 1 BTC to Eric at tip + 7), and a
 * proportional fee computed here; then properties over random routes: amounts never
 * increase, expiries fall by each delta, every node is paid its fee, a plan passes every
 * hop's check, and one msat or one block taken from any hop is refused.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { type ChannelPolicy, type RouteHop, MAX_HOPS, channelFee, checkRoute, planRoute } from '../../../src/lib/route/plan.ts';
import { refusal, thrown } from '../../setup/refusal.ts';

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

  it('refuses an empty route, one too long for an onion, an amount beyond 21 million BTC', () => {
    refusal(() => planRoute([], 1n, 100), 'E_ROUTE_EMPTY', 3);
    refusal(() => planRoute(Array.from({ length: MAX_HOPS + 1 }, (_, i) => ({ nodeId: node(i), policy: flat(0n) })), 1n, 100), 'E_ROUTE_TOO_LONG', 4);
    refusal(() => planRoute([{ nodeId: node(2), policy: flat(0n) }], 21_000_000n * BTC + 1n, 100), 'E_BAD_AMOUNT', 3);
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

  it('one msat or one block taken from any intermediate hop is refused by the hop that checks', () => {
    fc.assert(
      fc.property(routeArb.filter((r) => r.policies.length >= 2), fc.nat(), fc.boolean(), ({ policies, amount, cltv }, pick, money) => {
        const plan = planRoute(policies.map((policy, i) => ({ nodeId: node(i), policy })), amount, cltv);
        const i = pick % (plan.hops.length - 1);
        const hops = plan.hops.map((h) => ({ ...h }));
        if (money) hops[i]!.amountMsat -= 1n;
        else hops[i]!.cltvExpiry -= 1;
        // Hop i's own rule refuses it — unless hop i − 1 already sees its payload broken.
        const own = money ? 'E_ROUTE_FEE_SHORT' : 'E_ROUTE_CLTV_SHORT';
        const e = thrown(() => checkRoute(hops, policies));
        expect(e.exitCode).toBe(4);
        expect(i === 0 ? [own] : [own, 'E_ROUTE_MISMATCH']).toContain(e.code);
      }),
      { numRuns: 300 },
    );
  });
});
