/**
 * Attribution data as an attacker on the way back would meet it (src/lib/onion/attribution.ts).
 * The invariants, over random routes of 1–20 hops, random shared secrets and hold times:
 *
 * - honest hops: the sender verifies every hop from the first to the erring node and reads
 *   each hop's own hold time, in route order;
 * - a hop that alters anything it received (a byte of the error packet, or the hold time of
 *   the hop after it) before adding its own layer is caught: the first hop whose HMACs fail
 *   is the one right after it, so the blame falls on that pair and on no hop before it;
 * - attribution data that is not what the first hop sent fails at hop 0;
 * - a wrong length is refused with its code, never read.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ATTRIBUTION_LEN, addAttribution, readAttribution } from '../../../src/lib/onion/attribution.ts';
import { createErrorPacket, unwrapError, wrapError } from '../../../src/lib/onion/error.ts';
import { encodeFailure } from '../../../src/lib/onion/failure.ts';

const secret = fc.uint8Array({ minLength: 32, maxLength: 32 });
const holdTime = fc.integer({ min: 0, max: 0xffffffff });

/** A route whose hop `erring` fails; each hop's shared secret and hold time. */
const route = fc
  .array(fc.record({ secret, holdTime }), { minLength: 1, maxLength: 20 })
  .chain((hops) => fc.record({ hops: fc.constant(hops), erring: fc.integer({ min: 0, max: hops.length - 1 }) }));

type Hop = { secret: Uint8Array; holdTime: number };
type Tamper = { at: number; apply: (packet: Uint8Array, attribution: Uint8Array) => void };

/** The error and its attribution data as they reach the sender; `tamper` runs at hop `at`, before its own layer. */
function returnError(hops: readonly Hop[], erring: number, tamper?: Tamper): { packet: Uint8Array; attribution: Uint8Array } {
  const failing = hops[erring]!;
  let packet = createErrorPacket(failing.secret, encodeFailure('temporary_node_failure', {}));
  let attribution = addAttribution(failing.secret, wrapError(failing.secret, packet), failing.holdTime);
  for (let k = erring - 1; k >= 0; k--) {
    if (tamper?.at === k) tamper.apply(packet, attribution);
    const received = packet;
    packet = wrapError(hops[k]!.secret, received);
    attribution = addAttribution(hops[k]!.secret, received, hops[k]!.holdTime, attribution);
  }
  return { packet, attribution };
}

describe('attribution data', () => {
  it('honest hops: every hop to the erring node verifies, each with its own hold time', () => {
    fc.assert(
      fc.property(route, ({ hops, erring }) => {
        const { packet, attribution } = returnError(hops, erring);
        const secrets = hops.map((h) => h.secret);
        expect(unwrapError(secrets, packet).hop).toBe(erring);
        const r = readAttribution(secrets.slice(0, erring + 1), attribution, packet);
        expect(r.failedAt).toBeUndefined();
        expect(r.holdTimes).toEqual(hops.slice(0, erring + 1).map((h, hop) => ({ hop, holdTime: h.holdTime })));
      }),
      { numRuns: 60 },
    );
  });

  it('a hop that flips a byte of the error packet it received is caught at the next hop, never before', () => {
    const withLiar = route.filter(({ erring }) => erring >= 1).chain(({ hops, erring }) =>
      fc.record({ hops: fc.constant(hops), erring: fc.constant(erring), liar: fc.integer({ min: 0, max: erring - 1 }), byte: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    );
    fc.assert(
      fc.property(withLiar, ({ hops, erring, liar, byte, bit }) => {
        const tamper = { at: liar, apply: (p: Uint8Array) => void (p[byte % p.length]! ^= 1 << bit) };
        const { packet, attribution } = returnError(hops, erring, tamper);
        const r = readAttribution(hops.slice(0, erring + 1).map((h) => h.secret), attribution, packet);
        expect(r.failedAt).toBe(liar + 1);
        expect(r.holdTimes.map((h) => h.hop)).toEqual([...Array(liar + 1).keys()]);
      }),
      { numRuns: 60 },
    );
  });

  it('a hop that changes the hold time reported by the hop after it is caught at that hop', () => {
    const withLiar = route.filter(({ erring }) => erring >= 1).chain(({ hops, erring }) =>
      fc.record({ hops: fc.constant(hops), erring: fc.constant(erring), liar: fc.integer({ min: 0, max: erring - 1 }), byte: fc.integer({ min: 0, max: 3 }) }),
    );
    fc.assert(
      fc.property(withLiar, ({ hops, erring, liar, byte }) => {
        const tamper = { at: liar, apply: (_: Uint8Array, a: Uint8Array) => void (a[byte]! ^= 0x01) };
        const { packet, attribution } = returnError(hops, erring, tamper);
        const r = readAttribution(hops.slice(0, erring + 1).map((h) => h.secret), attribution, packet);
        expect(r.failedAt).toBe(liar + 1);
      }),
      { numRuns: 60 },
    );
  });

  it('attribution data the first hop did not send fails at hop 0', () => {
    fc.assert(
      fc.property(route, fc.uint8Array({ minLength: ATTRIBUTION_LEN, maxLength: ATTRIBUTION_LEN }), ({ hops, erring }, junk) => {
        const { packet } = returnError(hops, erring);
        expect(readAttribution(hops.slice(0, erring + 1).map((h) => h.secret), junk, packet)).toEqual({ holdTimes: [], failedAt: 0 });
      }),
      { numRuns: 30 },
    );
  });

  it('refuses a wrong length and an impossible hold time with their codes', () => {
    const s = new Uint8Array(32).fill(7);
    expect(() => readAttribution([s], new Uint8Array(ATTRIBUTION_LEN - 1))).toThrow(expect.objectContaining({ code: 'E_ONION_ATTRIBUTION_LENGTH' }));
    expect(() => addAttribution(s, new Uint8Array(0), 1, new Uint8Array(ATTRIBUTION_LEN + 1))).toThrow(expect.objectContaining({ code: 'E_ONION_ATTRIBUTION_LENGTH' }));
    for (const t of [-1, 1.5, 2 ** 32]) expect(() => addAttribution(s, new Uint8Array(0), t)).toThrow(expect.objectContaining({ code: 'E_ONION_HOLD_TIME' }));
  });
});
