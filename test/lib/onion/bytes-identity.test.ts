/**
 * The onion's speed changes (one rho stream per hop for layer and filler, layers built in
 * place, the peel's ChaCha20 in one call, 64-bit scalar reads) must give the bytes BOLT 4
 * defines on every backend. The reference here is written from the BOLT 4 text in test
 * code: secp256k1 from @noble/curves (getSharedSecret, not the product's backends),
 * ChaCha20/HMAC/SHA-256 from node:crypto, the filler built hop by hop the way a peel makes
 * it, and no code from src/lib/onion. Routes: 1..27 hops, payloads from 1 byte to the
 * exact fill of the 1300-byte hop_payloads.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createCipheriv, createHash, createHmac } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { toHex } from '../../../src/lib/bytes.ts';
import { codeOf } from '../../helpers.ts';
import { buildOnion, peelOnion } from '../../../src/lib/onion/sphinx.ts';
import { nobleBackend } from '../../../src/lib/musig/engine/backend-noble.ts';
import { nativeBackend, type NativeSecp256k1 } from '../../../src/lib/musig/engine/backend-native.ts';
import type { Secp256k1Backend } from '../../../src/lib/musig/engine/backend.ts';
import { libsecp256k1Backend } from '../../../src/lib/musig/engine/backend-libsecp256k1.ts';
import { systemLibsecp256k1 } from '../../setup/backends.ts';

const N = secp256k1.Point.CURVE().n;
const sha = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const hmac = (key: string | Uint8Array, ...msg: Uint8Array[]): Uint8Array => {
  const h = createHmac('sha256', key);
  for (const m of msg) h.update(m);
  return new Uint8Array(h.digest());
};
const stream = (key: Uint8Array, length: number): Uint8Array => new Uint8Array(createCipheriv('chacha20', key, new Uint8Array(16)).update(new Uint8Array(length)));
const big = (b: Uint8Array): bigint => BigInt('0x' + Buffer.from(b).toString('hex'));
const be32 = (n: bigint): Uint8Array => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex'));
/** BOLT 1 BigSize, for lengths below 2^16 (a hop payload is at most 1300 bytes). */
const bigSize = (n: number): Uint8Array => (n < 0xfd ? Uint8Array.of(n) : Uint8Array.of(0xfd, n >> 8, n & 0xff));
const frameOf = (payload: Uint8Array): number => bigSize(payload.length).length + payload.length + 32;

type RefHop = { pubkey: Uint8Array; payload: Uint8Array };

/** BOLT 4 "Packet Construction", literally. */
function referenceBuild(sessionKey: Uint8Array, hops: RefHop[], ad: Uint8Array): { packet: Uint8Array; secrets: Uint8Array[] } {
  let e = big(sessionKey);
  const secrets: Uint8Array[] = [];
  for (const h of hops) {
    const E = secp256k1.getPublicKey(be32(e), true);
    const ss = sha(secp256k1.getSharedSecret(be32(e), h.pubkey, true));
    secrets.push(ss);
    e = (e * (big(sha(E, ss)) % N)) % N;
  }
  const rho = secrets.map((s) => hmac('rho', s));
  // The filler as the peels make it: hop i appends frame_i bytes of its stream past 1300,
  // and XORs what was already there with the stream bytes before 1300.
  let filler = new Uint8Array(0);
  for (let i = 0; i < hops.length - 1; i++) {
    const f = frameOf(hops[i]!.payload);
    const s = stream(rho[i]!, 1300 + f);
    const grown = new Uint8Array(filler.length + f);
    grown.set(filler);
    for (let j = 0; j < grown.length; j++) grown[j]! ^= s[1300 - filler.length + j]!;
    filler = grown;
  }
  let mix: Uint8Array = stream(hmac('pad', sessionKey), 1300);
  let next: Uint8Array = new Uint8Array(32);
  for (let i = hops.length - 1; i >= 0; i--) {
    const p = hops[i]!.payload;
    const layer = new Uint8Array(Buffer.concat([bigSize(p.length), p, next, mix]).subarray(0, 1300));
    const s = stream(rho[i]!, 1300);
    for (let j = 0; j < 1300; j++) layer[j]! ^= s[j]!;
    if (i === hops.length - 1) layer.set(filler, 1300 - filler.length);
    mix = layer;
    next = hmac(hmac('mu', secrets[i]!), mix, ad);
  }
  return { packet: new Uint8Array(Buffer.concat([Uint8Array.of(0), secp256k1.getPublicKey(sessionKey, true), mix, next])), secrets };
}

/** BOLT 4 "Packet Forwarding" for one hop: payload, next HMAC, next packet. */
function referencePeel(nodeKey: Uint8Array, packet: Uint8Array, ad: Uint8Array): { payload: Uint8Array; next?: Uint8Array } {
  const E = packet.subarray(1, 34);
  const ss = sha(secp256k1.getSharedSecret(nodeKey, E, true));
  if (toHex(hmac(hmac('mu', ss), packet.subarray(34, 1334), ad)) !== toHex(packet.subarray(1334))) throw new Error('reference: HMAC');
  const bytes = stream(hmac('rho', ss), 2600);
  for (let j = 0; j < 1300; j++) bytes[j]! ^= packet[34 + j]!;
  const [len, at] = bytes[0]! < 0xfd ? [bytes[0]!, 1] : [(bytes[1]! << 8) | bytes[2]!, 3];
  const payload = bytes.slice(at, at + len);
  const nextHmac = bytes.slice(at + len, at + len + 32);
  if (nextHmac.every((b) => b === 0)) return { payload };
  const En = secp256k1.Point.fromHex(toHex(E)).multiply(big(sha(E, ss)) % N).toBytes(true);
  return { payload, next: new Uint8Array(Buffer.concat([Uint8Array.of(0), En, bytes.subarray(at + len + 32, at + len + 32 + 1300), nextHmac])) };
}

const key = fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((k) => secp256k1.utils.isValidSecretKey(k));
/** 1..27 hops, payload sizes scaled to fit; `exact` makes the last one fill the 1300 bytes. */
const route = fc
  .tuple(fc.oneof(
      ...[1, 27].map((n) => fc.array(fc.tuple(key, fc.integer({ min: 1, max: 1300 })), { minLength: n, maxLength: n })),
      fc.array(fc.tuple(key, fc.integer({ min: 1, max: 400 })), { minLength: 2, maxLength: 26 }),
    ), fc.boolean(), fc.uint8Array({ minLength: 32, maxLength: 32 }), key)
  .map(([raw, exact, ad, session]) => {
    const budget = 1300 - raw.length * 33; // 1-byte length + 32-byte HMAC per hop at least
    const total = raw.reduce((s, [, n]) => s + n, 0);
    const sizes = raw.map(([, n]) => Math.max(1, Math.floor((n * budget) / Math.max(total, budget))));
    // Shrink while BigSize prefixes of 3 bytes push the frames past 1300.
    const used = (): number => sizes.reduce((s, n) => s + bigSize(n).length + n + 32, 0);
    while (used() > 1300) sizes[sizes.indexOf(Math.max(...sizes))]! -= 1;
    if (exact) {
      const last = sizes.length - 1;
      const room = 1300 - (used() - frameOf(new Uint8Array(sizes[last]!)));
      // A 1-byte prefix up to 252 bytes, a 3-byte one from 253 (room 286 and 287 fit neither exactly).
      const n = room - 33 <= 0xfc ? room - 33 : room - 35 >= 0xfd ? room - 35 : 0xfc;
      sizes[last] = n;
    }
    const hops = raw.map(([k], i) => ({ sk: k, pubkey: secp256k1.getPublicKey(k, true), payload: Uint8Array.from({ length: sizes[i]! }, (_, j) => (j * 7 + i) & 0xff) }));
    return { hops, ad, session };
  });

const backends: [string, () => Promise<Secp256k1Backend<unknown>>][] = [
  ['noble', async () => nobleBackend as Secp256k1Backend<unknown>],
  ['native', async () => {
    const mod = (await import('secp256k1/bindings.js' as string)) as { default?: unknown };
    return nativeBackend((mod.default ?? mod) as NativeSecp256k1) as Secp256k1Backend<unknown>;
  }],
];

// The system library may be absent: a visible skip (../../setup/backends.ts); present, koffi must bind it.
const systemLibrary = await systemLibsecp256k1();
if (systemLibrary.skipped === undefined) backends.push(['libsecp256k1', async () => libsecp256k1Backend(systemLibrary.loaded) as Secp256k1Backend<unknown>]);
else describe.skip(`onion bytes on libsecp256k1: SKIPPED, ${systemLibrary.skipped}`, () => it('build, peel, tampering', () => {}));

describe('onion bytes: the in-place build and the one-call peel against a BOLT 4 reference written in the test', () => {
  it('the route generator reaches 27 hops and an exactly full packet (so the properties below cover them)', () => {
    const samples = fc.sample(route, { numRuns: 40, seed: 1 });
    expect(samples.some((r) => r.hops.length === 27)).toBe(true);
    expect(samples.some((r) => r.hops.reduce((s, h) => s + frameOf(h.payload), 0) === 1300)).toBe(true);
  });

  for (const [name, load] of backends) {
    it(`${name}: build equals the reference; every peel gives the reference's payload and next packet; a tampered packet is E_ONION_HMAC`, async () => {
      const ec = await load();
      fc.assert(
        fc.property(route, fc.nat(), ({ hops, ad, session }, flipAt) => {
          const built = buildOnion(ec, session, hops, ad);
          const ref = referenceBuild(session, hops, ad);
          expect(toHex(built.packet)).toBe(toHex(ref.packet));
          expect(built.sharedSecrets.map(toHex)).toEqual(ref.secrets.map(toHex));
          let packet = built.packet;
          const kept: [Uint8Array, string][] = [];
          for (let i = 0; i < hops.length; i++) {
            if (i === 0 || i === hops.length - 1) {
              const tampered = Uint8Array.from(packet);
              tampered[34 + (flipAt % 1332)]! ^= 1 << (flipAt % 8);
              expect(codeOf(() => peelOnion(ec, hops[i]!.sk, tampered, ad))).toBe('E_ONION_HMAC');
            }
            const peeled = peelOnion(ec, hops[i]!.sk, packet, ad);
            const want = referencePeel(hops[i]!.sk, packet, ad);
            expect(toHex(peeled.payload)).toBe(toHex(hops[i]!.payload));
            expect(toHex(peeled.payload)).toBe(toHex(want.payload));
            expect(peeled.final).toBe(i === hops.length - 1);
            expect(peeled.nextPacket && toHex(peeled.nextPacket)).toBe(want.next && toHex(want.next));
            if (peeled.nextPacket) packet = peeled.nextPacket;
            kept.push([peeled.payload, toHex(peeled.payload)]);
          }
          // Nothing returned is a view of a buffer a later build or peel writes into.
          buildOnion(ec, hops[0]!.sk, hops.slice(0, 1), ad); // another session key, another route
          expect(toHex(built.packet)).toBe(toHex(ref.packet));
          for (const [b, hex] of kept) expect(toHex(b)).toBe(hex);
        }),
        { numRuns: 6 },
      );
    });
  }
  it('secret scalars (the session key chain, node keys) never reach a backend\'s variable-time `mul` (a peel\'s public blinding factor may): with `mul` refusing them, every backend builds and peels the reference\'s bytes', async () => {
    const hops = [1, 2, 3].map((i) => {
      const sk = new Uint8Array(32).fill(i + 0x10);
      return { sk, pubkey: secp256k1.getPublicKey(sk, true), payload: Uint8Array.from({ length: 30 + i }, (_, j) => j * i) };
    });
    const session = new Uint8Array(32).fill(0x21);
    const ad = new Uint8Array(32).fill(0x42);
    const ref = referenceBuild(session, hops, ad);
    // The secrets, computed here: node keys and e_0 … e_{n-1} (e_{i+1} = e_i · SHA256(E_i || ss_i)).
    const secrets = new Set(hops.map((h) => big(h.sk)));
    let e = big(session);
    for (let i = 0; i < hops.length; i++) {
      secrets.add(e);
      e = (e * (big(sha(secp256k1.getPublicKey(be32(e), true), ref.secrets[i]!)) % N)) % N;
    }
    for (const [name, load] of backends) {
      const real = await load();
      let publicMuls = 0;
      const guarded: Secp256k1Backend<unknown> = {
        ...real,
        mul: (p, k) => {
          if (secrets.has(k)) throw new Error(`${name}: a secret scalar went to the variable-time k·P`);
          publicMuls++;
          return real.mul(p, k);
        },
      };
      const built = buildOnion(guarded, session, hops, ad);
      expect(toHex(built.packet), name).toBe(toHex(ref.packet));
      let packet = built.packet;
      for (let i = 0; i < hops.length; i++) {
        const peeled = peelOnion(guarded, hops[i]!.sk, packet, ad);
        expect(toHex(peeled.payload), name).toBe(toHex(hops[i]!.payload));
        if (peeled.nextPacket) packet = peeled.nextPacket;
      }
      expect(publicMuls, name).toBe(hops.length - 1); // the peels' b·E, nothing else
    }
  });
  it('node ids are told apart by all 33 bytes: P and −P (the same x) on one route, twice, build the reference\'s packet on every backend', async () => {
    const sk = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
    const minus = be32(N - big(sk));
    const P = secp256k1.getPublicKey(sk, true);
    const negP = secp256k1.getPublicKey(minus, true);
    expect(toHex(P.subarray(1))).toBe(toHex(negP.subarray(1)));
    const hops = [P, negP, P, negP].map((pubkey, i) => ({ pubkey, payload: Uint8Array.from({ length: 20 + i }, (_, j) => j ^ i) }));
    const session = new Uint8Array(32).fill(0x33);
    const ad = new Uint8Array(32).fill(0x44);
    const want = toHex(referenceBuild(session, hops, ad).packet);
    for (const [, load] of backends) {
      const ec = await load();
      for (const order of [hops, [...hops].reverse()]) expect(toHex(buildOnion(ec, session, order, ad).packet)).toBe(toHex(referenceBuild(session, order, ad).packet));
      expect(toHex(buildOnion(ec, session, hops, ad).packet)).toBe(want);
    }
  });

  it('a packet with a valid HMAC whose length field is 0, non-canonical or one byte past the packet is E_ONION_PAYLOAD_LENGTH; the exact fill is accepted; one non-zero byte of the next HMAC makes it a forward', async () => {
    const nodeKey = new Uint8Array(32).fill(0x41);
    const session = new Uint8Array(32).fill(0x42);
    const ad = new Uint8Array(32).fill(0x43);
    // What a sender who controls the plaintext writes: the first bytes of the decrypted hop_payloads.
    const crafted = (plain: number[]): Uint8Array => {
      const ss = sha(secp256k1.getSharedSecret(session, secp256k1.getPublicKey(nodeKey, true), true));
      const payloads = stream(hmac('rho', ss), 1300);
      plain.forEach((b, i) => (payloads[i]! ^= b));
      return new Uint8Array(Buffer.concat([Uint8Array.of(0), secp256k1.getPublicKey(session, true), payloads, hmac(hmac('mu', ss), payloads, ad)]));
    };
    for (const [, load] of backends) {
      const ec = await load();
      expect(codeOf(() => peelOnion(ec, nodeKey, crafted([0x00]), ad))).toBe('E_ONION_PAYLOAD_LENGTH');
      expect(codeOf(() => peelOnion(ec, nodeKey, crafted([0xfd, 0x00, 0x10]), ad))).toBe('E_ONION_PAYLOAD_LENGTH');
      expect(codeOf(() => peelOnion(ec, nodeKey, crafted([0xfd, 0x04, 0xf2]), ad))).toBe('E_ONION_PAYLOAD_LENGTH'); // 3 + 1266 + 32 = 1301
      const full = peelOnion(ec, nodeKey, crafted([0xfd, 0x04, 0xf1]), ad); // 3 + 1265 + 32 = 1300
      expect([full.payload.length, full.final]).toEqual([1265, true]);
      // Final only when all 32 bytes of the next HMAC are zero: one non-zero byte anywhere makes a forward.
      for (const at of [0, 1, 15, 30, 31]) {
        const hmacBytes = Array.from({ length: 32 }, (_, j) => (j === at ? 0x80 : 0));
        const peeled = peelOnion(ec, nodeKey, crafted([0x02, 0xaa, 0xbb, ...hmacBytes]), ad);
        expect([toHex(peeled.payload), peeled.final, peeled.nextPacket?.length, peeled.nextPacket && toHex(peeled.nextPacket.subarray(1334))]).toEqual(['aabb', false, 1366, toHex(Uint8Array.from(hmacBytes))]);
      }
      expect(peelOnion(ec, nodeKey, crafted([0x02, 0xaa, 0xbb]), ad).final).toBe(true);
    }
  });
});
