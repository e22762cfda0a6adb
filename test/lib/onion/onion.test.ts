/**
 * The hop payload codec against values read by hand from onion-test.json's payloads,
 * its minimal-encoding refusals, and Sphinx properties: random routes of 1–20 hops
 * round-trip (each hop peels exactly its payload, only the last is final), a corrupted,
 * truncated or extended packet is refused with the one code its change calls for, and a route that does not fit in
 * 1300 bytes is refused at build.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { nobleBackend as ec } from '../../../src/lib/musig/engine/backend-noble.ts';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { buildOnion, peelOnion, PACKET_SIZE } from '../../../src/lib/onion/sphinx.ts';
import { decodeBigSize } from '../../../src/lib/bigsize.ts';
import { decodeHopPayload, encodeHopPayload } from '../../../src/lib/onion/payload.ts';
import { OffchainError } from '../../../src/lib/errors.ts';
import { refusal } from '../../setup/refusal.ts';
import { decodeCompressed } from '../../independent/secp256k1.ts';

const vec = JSON.parse(readFileSync(new URL('../../vectors/bolts/bolt04/onion-test.json', import.meta.url), 'utf8'));
const payloads = vec.generate.hops.map((h: { payload: string }) => {
  const b = fromHex(h.payload);
  const [, n] = decodeBigSize(b);
  return b.subarray(n);
});

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof OffchainError ? e.code : `not coded: ${String(e)}`;
  }
  return undefined;
}

describe('hop payload TLV', () => {
  it('decodes onion-test.json hop 0 and hop 4 to the values written in their hex', () => {
    const h0 = decodeHopPayload(payloads[0]);
    expect(h0).toEqual({ amt_to_forward: 15000n, outgoing_cltv_value: 1500, short_channel_id: '0x0x1', unknownEvenTypes: [] });
    const h4 = decodeHopPayload(payloads[4]);
    expect(h4.amt_to_forward).toBe(10000n);
    expect(h4.outgoing_cltv_value).toBe(1000);
    expect(toHex(h4.payment_data!.payment_secret)).toBe('24a33562c54507a9334e79f0dc4f17d407e6d7c61f0e2f3d0d38599502f61704');
    expect(h4.payment_data!.total_msat).toBe(10000n);
    expect(h4.unknown!.map((u) => [u.type, u.value.length, u.value[0]])).toEqual([[301n, 224, 0x2a]]);
    expect(h4.unknownEvenTypes).toEqual([]);
  });

  it('re-encodes every vector payload to the same bytes', () => {
    for (const p of payloads) expect(toHex(encodeHopPayload(decodeHopPayload(p)))).toBe(toHex(p));
  });

  it('reads every tu64 width (0 to 8 bytes, values up to 2^64 - 1) and tu32 as written, big-endian', () => {
    const hexOf = (v: bigint): string => (v === 0n ? '' : v.toString(16).padStart(Math.ceil(v.toString(16).length / 2) * 2, '0'));
    const tu64 = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.integer({ min: 0, max: 8 }).chain((n) => fc.bigInt({ min: n === 0 ? 0n : 2n ** BigInt(8 * n - 8), max: 2n ** BigInt(8 * n) - 1n })));
    fc.assert(
      fc.property(tu64, fc.bigInt({ min: 0n, max: 2n ** 32n - 1n }), (amt, cltv) => {
        const a = hexOf(amt), c = hexOf(cltv);
        const tlv = `02${(a.length / 2).toString(16).padStart(2, '0')}${a}04${(c.length / 2).toString(16).padStart(2, '0')}${c}`;
        const p = decodeHopPayload(fromHex(tlv));
        expect([p.amt_to_forward, p.outgoing_cltv_value]).toEqual([amt, Number(cltv)]);
      }),
      { numRuns: 300 },
    );
  });

  it('a record that ends exactly at the end of the payload is read; one byte past it is E_ONION_TLV', () => {
    expect(decodeHopPayload(fromHex('02023a98')).amt_to_forward).toBe(15000n);
    expect(codeOf(() => decodeHopPayload(fromHex('02033a98')))).toBe('E_ONION_TLV');
    expect(codeOf(() => decodeHopPayload(fromHex('02023a980401')))).toBe('E_ONION_TLV');
    expect(decodeHopPayload(fromHex('02023a98040105')).outgoing_cltv_value).toBe(5);
  });

  it('types of every BigSize width (1, 3, 5, 9 bytes; beyond 2^53) are ordered exactly: strictly increasing streams are read back record for record, any other order is E_ONION_TLV', () => {
    const bigSize = (v: bigint): string => (v < 0xfdn ? v.toString(16).padStart(2, '0') : v <= 0xffffn ? `fd${v.toString(16).padStart(4, '0')}` : v <= 0xffffffffn ? `fe${v.toString(16).padStart(8, '0')}` : `ff${v.toString(16).padStart(16, '0')}`);
    const type = fc.oneof(
      fc.bigInt({ min: 19n, max: 0xfcn }),
      fc.bigInt({ min: 0xfdn, max: 0xffffn }),
      fc.bigInt({ min: 0x10000n, max: 0xffffffffn }),
      fc.bigInt({ min: 2n ** 32n, max: 2n ** 64n - 1n }),
      fc.bigInt({ min: 2n ** 53n - 2n, max: 2n ** 53n + 2n }), // where a number stops being exact
    );
    const stream = (types: bigint[]): string => types.map((t, i) => `${bigSize(t)}01${(i & 0xff).toString(16).padStart(2, '0')}`).join('');
    fc.assert(
      fc.property(fc.uniqueArray(type, { minLength: 2, maxLength: 6, comparator: (a, b) => a === b }), (types) => {
        const sorted = [...types].sort((a, b) => (a < b ? -1 : 1));
        const p = decodeHopPayload(fromHex(stream(sorted)));
        expect(p.unknown!.map((u) => [u.type, u.value[0]])).toEqual(sorted.map((t, i) => [t, i & 0xff]));
        expect(p.unknownEvenTypes).toEqual(sorted.filter((t) => t % 2n === 0n));
        // Any two records swapped, or one repeated, breaks the strict order.
        const swapped = [...sorted];
        [swapped[0], swapped[swapped.length - 1]] = [swapped[swapped.length - 1]!, swapped[0]!];
        expect(codeOf(() => decodeHopPayload(fromHex(stream(swapped))))).toBe('E_ONION_TLV');
        expect(codeOf(() => decodeHopPayload(fromHex(stream([...sorted, sorted[sorted.length - 1]!]))))).toBe('E_ONION_TLV');
      }),
      { numRuns: 300 },
    );
    // Named types (one byte) before and after wider ones.
    expect(decodeHopPayload(fromHex(`02023a98${bigSize(0x1_0000_0000n)}0100`)).unknown!.map((u) => u.type)).toEqual([0x1_0000_0000n]);
    expect(codeOf(() => decodeHopPayload(fromHex(`${bigSize(0xfdn)}010002023a98`)))).toBe('E_ONION_TLV');
    // A length of 3 bytes is read as such; past the payload it is refused.
    expect(decodeHopPayload(fromHex(`fd0101fd00fd${'ab'.repeat(0xfd)}`)).unknown![0]!.value.length).toBe(0xfd);
    expect(codeOf(() => decodeHopPayload(fromHex(`fd0101fd00fe${'ab'.repeat(0xfd)}`)))).toBe('E_ONION_TLV');
  });

  it.each([
    ['tu64 with a leading zero', '0203003a98'],
    ['tu64 longer than 8 bytes', '0209010000000000000000'],
    ['types not increasing', '04020578020236b0'],
    ['duplicate type', '020101020102'],
    ['length overruns', '02053a98'],
    ['non-minimal BigSize type', 'fd0002023a98'],
    ['short_channel_id of 7 bytes', '060700000000000001'],
    ['truncated BigSize', 'fd01'],
  ])('refuses %s with E_ONION_TLV', (_name, hex) => {
    expect(codeOf(() => decodeHopPayload(fromHex(hex)))).toBe('E_ONION_TLV');
  });
});

const hopArb = fc.record({ sk: fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((k) => secp256k1.utils.isValidSecretKey(k)), size: fc.nat(120) });

describe('Sphinx properties (noble)', () => {
  it('random routes of 1-20 hops round-trip: each hop gets its payload, only the last is final', () => {
    fc.assert(
      fc.property(fc.array(hopArb, { minLength: 1, maxLength: 20 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (hops, ad) => {
        // sizes chosen so the total frames fit: shrink each to its share of 1300
        const share = Math.floor(1300 / hops.length) - 32 - 3;
        const route = hops.map((h, i) => ({ pubkey: secp256k1.getPublicKey(h.sk, true), payload: Uint8Array.from({ length: Math.max(1, Math.min(h.size, share)) }, (_, j) => (i * 31 + j) & 0xff) }));
        const { packet } = buildOnion(ec, fromHex('4141414141414141414141414141414141414141414141414141414141414141'), route, ad);
        expect(packet.length).toBe(PACKET_SIZE);
        let p = packet;
        hops.forEach((h, i) => {
          const r = peelOnion(ec, h.sk, p, ad);
          expect(toHex(r.payload)).toBe(toHex(route[i]!.payload));
          expect(r.final).toBe(i === hops.length - 1);
          if (!r.final) p = r.nextPacket!;
        });
      }),
      { numRuns: 25 },
    );
  });

  it('a peeled next packet keeps its bytes through later peels (the packets share slabs of memory): 19 layers of a 20-hop route, and a refused peel between them', () => {
    const sks = Array.from({ length: 20 }, (_, i) => Uint8Array.from({ length: 32 }, (_, j) => (j === 0 ? 1 : i + 7)));
    const route = sks.map((sk, i) => ({ pubkey: secp256k1.getPublicKey(sk, true), payload: Uint8Array.of(2, 1, i + 1) }));
    const ad = new Uint8Array(32).fill(9);
    let p = buildOnion(ec, fromHex('4141414141414141414141414141414141414141414141414141414141414141'), route, ad).packet;
    const kept: { packet: Uint8Array; hex: string }[] = [];
    for (let i = 0; i < 19; i++) {
      const next = peelOnion(ec, sks[i]!, p, ad).nextPacket!;
      kept.push({ packet: next, hex: toHex(next) });
      expect(codeOf(() => peelOnion(ec, sks[i]!, next, ad))).toBe('E_ONION_HMAC');
      p = next;
    }
    expect(new Set(kept.map((k) => k.hex)).size).toBe(19);
    for (const k of kept) expect(toHex(k.packet)).toBe(k.hex);
    expect(toHex(peelOnion(ec, sks[19]!, p, ad).payload)).toBe('020114');
  });

  it('fuzz: a corrupted, truncated or extended packet is refused with the one code test code expects for where it was changed', () => {
    const packet = fromHex(vec.onion);
    const ad = fromHex(vec.generate.associated_data);
    const key = fromHex(vec.decode[0]);
    // BOLT 4's order of checks: length, version byte, ephemeral key (a point? decided by test-code secp256k1), HMAC.
    const expected = (bad: Uint8Array): [string, number] =>
      bad.length !== PACKET_SIZE ? ['E_ONION_PACKET_LENGTH', 3]
        : bad[0] !== 0 ? ['E_ONION_VERSION', 3]
          : decodeCompressed(bad.subarray(1, 34)) === null ? ['E_ONION_EPHEMERAL_KEY', 3]
            : ['E_ONION_HMAC', 4];
    const seen = new Set<string>();
    const flipped = fc.tuple(fc.nat(PACKET_SIZE - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
      const bad = packet.slice();
      bad[i]! ^= x;
      return bad;
    });
    const resized = fc.oneof(fc.nat(PACKET_SIZE - 1).map((n) => packet.subarray(0, n)), fc.uint8Array({ minLength: 1, maxLength: 40 }).map((extra) => Uint8Array.from([...packet, ...extra])));
    // The version byte and the key are 34 of 1366 bytes: aim a share of the flips there so each branch runs.
    const early = fc.tuple(fc.nat(33), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
      const bad = packet.slice();
      bad[i]! ^= x;
      return bad;
    });
    fc.assert(
      fc.property(fc.oneof(flipped, early, resized), (bad) => {
        const [code, exit] = expected(bad);
        refusal(() => peelOnion(ec, key, bad, ad), code, exit);
        seen.add(code);
      }),
      { numRuns: 400 },
    );
    expect([...seen].sort()).toEqual(['E_ONION_EPHEMERAL_KEY', 'E_ONION_HMAC', 'E_ONION_PACKET_LENGTH', 'E_ONION_VERSION']);
  });

  it('refuses a hop whose node id is not a compressed point, naming the hop, every time (a node id that failed is not remembered), on every build of the route', () => {
    const good = secp256k1.getPublicKey(fromHex('4242424242424242424242424242424242424242424242424242424242424242'), true);
    // x with no point on the curve, found by test code's own secp256k1
    let x = 1;
    while (decodeCompressed(Uint8Array.from([2, ...new Uint8Array(31), x])) !== null) x++;
    const offCurve = Uint8Array.from([2, ...new Uint8Array(31), x]);
    const cases: [Uint8Array, string][] = [[offCurve, 'off the curve'], [Uint8Array.from([4, ...good.subarray(1)]), 'prefix 04'], [good.subarray(0, 32), '32 bytes'], [good.subarray(1), 'no prefix']];
    for (const [bad] of cases) {
      for (let round = 0; round < 2; round++) {
        const route = [{ pubkey: good, payload: new Uint8Array(10) }, { pubkey: bad, payload: new Uint8Array(10) }];
        const e = refusal(() => buildOnion(ec, fromHex('41'.repeat(32)), route, new Uint8Array(32)), 'E_ONION_HOP_PUBKEY', 4);
        expect(e.message).toBe('hop 1: node id is not a valid compressed secp256k1 point');
      }
    }
    expect(codeOf(() => buildOnion(ec, fromHex('41'.repeat(32)), [{ pubkey: good, payload: new Uint8Array(10) }, { pubkey: good, payload: new Uint8Array(10) }], new Uint8Array(32)))).toBeUndefined();
  });

  it('refuses a route whose payloads do not fit in 1300 bytes', () => {
    const pk = secp256k1.getPublicKey(fromHex('4242424242424242424242424242424242424242424242424242424242424242'), true);
    // one hop: 3 (BigSize) + 1266 + 32 = 1301 > 1300; 1265 fits exactly
    expect(codeOf(() => buildOnion(ec, fromHex('41'.repeat(32)), [{ pubkey: pk, payload: new Uint8Array(1266) }], new Uint8Array(32)))).toBe('E_ONION_ROUTE_TOO_LARGE');
    expect(codeOf(() => buildOnion(ec, fromHex('41'.repeat(32)), [{ pubkey: pk, payload: new Uint8Array(1265) }], new Uint8Array(32)))).toBeUndefined();
    const twenty = Array.from({ length: 21 }, () => ({ pubkey: pk, payload: new Uint8Array(30) }));
    expect(codeOf(() => buildOnion(ec, fromHex('41'.repeat(32)), twenty, new Uint8Array(32)))).toBe('E_ONION_ROUTE_TOO_LARGE');
  });
});
