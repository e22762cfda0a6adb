/**
 * The peel's node key reaches the ECDH as its 32 bytes (no integer made of it), and the
 * libsecp256k1 backends pass scalars and ECDH outputs through reused scratch buffers. What
 * must hold, on every backend, against noble's own answers (never the code under test):
 * - isSecretKey32 is noble's isValidSecretKey on random and edge keys (0, 1, n − 1, n, n + 1,
 *   2^256 − 1, one byte either side of n, other lengths false);
 * - a node key given in another length (leading zero bytes added or dropped) peels as its
 *   32-byte form; 0 and n and above are E_ONION_NODE_KEY;
 * - the shared secret is SHA256(compressed(k·E)) by noble, for any key and point, called
 *   back to back with other scalars in between (nothing of one call in the next), and the
 *   caller's key bytes are left as they were.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { toHex } from '../../../src/lib/bytes.ts';
import { codeOf } from '../../helpers.ts';
import { isSecretKey32 } from '../../../src/lib/musig/engine/scalar.ts';
import { buildOnion, peelOnion } from '../../../src/lib/onion/sphinx.ts';
import { sharedSecret, sharedSecretOf } from '../../../src/lib/onion/ecdh.ts';
import { nobleBackend } from '../../../src/lib/musig/engine/backend-noble.ts';
import { loadBackend } from '../../../src/lib/musig/engine/select.ts';
import type { Secp256k1Backend } from '../../../src/lib/musig/engine/backend.ts';
import { ALL_BACKENDS, backendUnderTest } from '../../setup/backends.ts';

const N = secp256k1.Point.CURVE().n;
const be = (v: bigint, length: number): Uint8Array => Uint8Array.from(Buffer.from(BigInt.asUintN(8 * length, v).toString(16).padStart(2 * length, '0'), 'hex'));
const edges = [0n, 1n, 2n, N - 2n, N - 1n, N, N + 1n, N + 255n, N - 256n, (1n << 256n) - 1n, 1n << 255n, (1n << 248n) - 1n];

const backends: [string, Secp256k1Backend<unknown>][] = [];
for (const name of ALL_BACKENDS) {
  const b = await backendUnderTest(name, () => loadBackend(name));
  if (b.skipped === undefined) backends.push([name, b.loaded]);
  else describe.skip(`node key on ${name}: SKIPPED, ${b.skipped}`, () => it('peel', () => {}));
}

describe('isSecretKey32: decided on the bytes, as noble decides', () => {
  it('random 32-byte strings, the edges around 0 and n, and other lengths', () => {
    const key = fc.oneof(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.constantFrom(...edges).map((v) => be(v, 32)),
      fc.bigInt({ min: N - 1000n, max: N + 1000n }).map((v) => be(v, 32)),
      fc.uint8Array({ minLength: 0, maxLength: 40 }),
    );
    fc.assert(
      fc.property(key, (k) => {
        expect(isSecretKey32(k)).toBe(k.length === 32 && secp256k1.utils.isValidSecretKey(k));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('the peel\'s node key as bytes', () => {
  const hops = [0x11, 0x22, 0x33].map((b) => {
    const sk = new Uint8Array(32).fill(b);
    sk[0] = 0; // a leading zero byte: the key also has a 31-byte form
    return { sk, pubkey: secp256k1.getPublicKey(sk, true), payload: Uint8Array.from({ length: 20 + b }, (_, j) => j ^ b) };
  });
  const session = new Uint8Array(32).fill(0x41);
  const ad = new Uint8Array(32).fill(0x42);
  const packet = buildOnion(nobleBackend, session, hops, ad).packet;
  const reference = peelOnion(nobleBackend, hops[0]!.sk, packet, ad);

  for (const [name, ec] of backends) {
    it(`${name}: a key with leading zero bytes added or dropped peels as its 32-byte form; 0, n and above are E_ONION_NODE_KEY; the key bytes are left as given`, () => {
      const sk = hops[0]!.sk;
      for (const form of [sk, sk.subarray(1), Uint8Array.of(0, ...sk), Uint8Array.of(0, 0, ...sk)]) {
        const given = Uint8Array.from(form);
        const peeled = peelOnion(ec, given, packet, ad);
        expect(toHex(peeled.nextPacket!)).toBe(toHex(reference.nextPacket!));
        expect(toHex(peeled.sharedSecret)).toBe(toHex(reference.sharedSecret));
        expect(toHex(given)).toBe(toHex(form));
      }
      for (const bad of [new Uint8Array(32), be(N, 32), be(N + 1n, 32), be((1n << 256n) - 1n, 32), Uint8Array.of(0, ...be(N, 32)), new Uint8Array(0)]) {
        expect(codeOf(() => peelOnion(ec, bad, packet, ad))).toBe('E_ONION_NODE_KEY');
      }
    });

    it(`${name}: sharedSecret (key bytes) and sharedSecretOf (key integer) are SHA256(compressed(k·P)) by noble, call after call, other scalars in between`, () => {
      fc.assert(
        fc.property(
          fc.oneof(fc.bigInt({ min: 1n, max: N - 1n }), fc.constantFrom(1n, 2n, N - 1n, N - 2n, 1n << 255n)),
          fc.bigInt({ min: 1n, max: N - 1n }),
          fc.bigInt({ min: 1n, max: N - 1n }),
          (k, p, other) => {
            const P = secp256k1.Point.BASE.multiply(p);
            const want = createHash('sha256').update(P.multiply(k).toBytes(true)).digest('hex');
            const point = ec.pointFromBytes(P.toBytes(true))!;
            const kb = be(k, 32);
            expect(toHex(sharedSecret(ec, point, kb))).toBe(want);
            expect(toHex(kb)).toBe(toHex(be(k, 32)));
            // Another multiplication in between (the scratch scalar rewritten), then the same answer again.
            ec.mul(point, other);
            ec.mulBase(other);
            expect(toHex(sharedSecretOf(ec, point, k))).toBe(want);
            expect(toHex(sharedSecret(ec, point, kb.subarray(0)))).toBe(want);
          },
        ),
        { numRuns: 40 },
      );
    });
  }
});
