/**
 * The system-libsecp256k1 backend (src/lib/musig/engine/backend-libsecp256k1.ts, through
 * koffi) against noble, the reference, on random and hostile inputs: encodings that are
 * no point (x ≥ p, x = 0, x with no y, wrong prefixes and lengths), the point at
 * infinity (P + −P, P + k·G = ∞), scalars 0, n − 1, n and above, BIP-340 signatures with
 * r ≥ p, r in [n, p), s ≥ n, keys that are no x coordinate, messages of any length; ECDSA
 * (src/lib/bolt3/ecdsa.ts) with high S, r or s zero or ≥ n, hybrid and uncompressed keys,
 * digests that are not 32 bytes. Every answer and every refusal must be noble's. Then the
 * loader: a library that answers wrongly is refused by the self-test with a reason, a file
 * that is not libsecp256k1 too, and nothing is ever loaded from a path of ours.
 *
 * Seeded by test/setup/fast-check.ts (FC_SEED replays); LIBSECP256K1_PROPERTY_RUNS=<n>
 * overrides the run counts.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { loadBackend } from '../../../src/lib/musig/engine/select.ts';
import { nobleBackend } from '../../../src/lib/musig/engine/backend-noble.ts';
import type { Secp256k1Backend } from '../../../src/lib/musig/engine/backend.ts';
import { N, P as FIELD_P, bytes32, int } from '../../../src/lib/musig/engine/scalar.ts';
import { LIBSECP256K1_ENV, type Koffi } from '../../../src/lib/musig/engine/libsecp256k1.ts';
import { libsecp256k1Ecdsa, nobleEcdsa, type EcdsaSigner } from '../../../src/lib/bolt3/ecdsa.ts';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { backendUnderTest, systemLibsecp256k1 } from '../../setup/backends.ts';
import { nativeBackend, type NativeSecp256k1 } from '../../../src/lib/musig/engine/backend-native.ts';

const RUNS = Number(process.env.LIBSECP256K1_PROPERTY_RUNS ?? 0) || 150;
const Point = secp256k1.Point;
const noble = nobleBackend as Secp256k1Backend<unknown>;
const under = await systemLibsecp256k1();

/** An answer or the fact of a refusal, comparable across backends. */
function outcome<T>(f: () => T, show: (v: T) => unknown = (v) => v): unknown {
  try {
    return { ok: show(f()) };
  } catch {
    return 'throws';
  }
}

type CFunction = (...args: unknown[]) => unknown;

async function realKoffi(): Promise<Koffi> {
  const mod = (await import('koffi')) as { default?: unknown };
  return (mod.default ?? mod) as Koffi;
}

/** koffi whose libraries' functions go through `wrap`, by C name: to lie, or to count calls. */
function wrappedKoffi(real: Koffi, wrap: (name: string, f: CFunction) => CFunction): Koffi {
  return {
    ...real,
    load(path) {
      const lib = real.load(path);
      return { func: (prototype: string) => wrap(/(\w+)\(/.exec(prototype)?.[1] ?? '', lib.func(prototype)) };
    },
  };
}

/**
 * The backend under test answers every case as noble does (`answers` gives [ours, noble's]);
 * and the cases do what their kinds say: noble accepts every case of the `valid` kinds and
 * none of the others, except the `either` kinds (a flipped bit, a shorter digest).
 */
function sameAsNoble<C extends { kind: string }>(cases: fc.Arbitrary<C>, answers: (c: C) => [boolean, boolean], valid: string[], either: string[]): void {
  fc.assert(
    fc.property(cases, (c) => {
      const [ours, nobles] = answers(c);
      expect(ours).toBe(nobles);
    }),
    { numRuns: RUNS },
  );
  for (const c of fc.sample(cases, { numRuns: 100, seed: 1 })) {
    if (!either.includes(c.kind)) expect(answers(c)[1], c.kind).toBe(valid.includes(c.kind));
  }
}

// Scalars: random, and the edges around 0 and n (n and above are refused as noble refuses them).
const scalar = fc.oneof(
  fc.bigInt({ min: 1n, max: N - 1n }),
  fc.constantFrom(0n, 1n, 2n, N - 1n, N - 2n, N, N + 1n, (1n << 256n) - 1n, 1n << 256n, -1n),
);
const secretKey = fc.bigInt({ min: 1n, max: N - 1n });
// x coordinates: random (half have no y), 0, p and above, and p + x for a valid x.
const xCoord = fc.oneof(
  fc.uint8Array({ minLength: 32, maxLength: 32 }),
  fc.constantFrom(0n, 1n, FIELD_P - 1n, FIELD_P, FIELD_P + 1n, (1n << 256n) - 1n).map(bytes32),
  fc.nat({ max: 2 ** 32 - 1 }).map((v) => bytes32(FIELD_P + BigInt(v))), // x ≥ p, where x − p is sometimes a valid x
);
const encoding = fc.oneof(
  secretKey.map((k) => Point.BASE.multiply(k).toBytes(true)),
  fc.tuple(fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 0xff), xCoord).map(([prefix, x]) => Uint8Array.of(prefix, ...x)),
  secretKey.map((k) => Point.BASE.multiply(k).toBytes(false)),
  secretKey.map((k) => {
    const u = Point.BASE.multiply(k).toBytes(false);
    u[0] = 6 + (u[64]! & 1); // hybrid: libsecp256k1's parser takes it, noble's does not
    return u;
  }),
  fc.uint8Array({ maxLength: 66 }),
);

const describeOn = under.skipped === undefined ? describe : describe.skip;
const name = under.skipped === undefined ? 'libsecp256k1' : `libsecp256k1: SKIPPED, ${under.skipped}`;

describeOn(`${name}: every answer and every refusal is noble's`, async () => {
  const ec = (under.loaded ? await loadBackend('libsecp256k1') : noble) as Secp256k1Backend<unknown>;
  const hex = (b: Secp256k1Backend<unknown>, p: unknown) => (p === null ? 'infinity' : toHex(b.pointToBytes(p)));
  const both = (bytes: Uint8Array) => [noble.pointFromBytes(bytes), ec.pointFromBytes(bytes)] as const;
  const pointOf = (k: bigint) => [noble.mulBase(k)!, ec.mulBase(k)!] as const;

  it('decoding (cpoint) and lift_x: the same points, the same refusals, parity and negation alike', () => {
    fc.assert(
      fc.property(encoding, xCoord, fc.uint8Array({ maxLength: 40 }), (bytes, x, anyX) => {
        const [a, b] = both(bytes);
        expect(b === undefined).toBe(a === undefined);
        if (a !== undefined && b !== undefined) {
          expect(hex(ec, b)).toBe(hex(noble, a));
          expect(ec.hasEvenY(b)).toBe(noble.hasEvenY(a));
          expect(hex(ec, ec.negate(b))).toBe(hex(noble, noble.negate(a)));
        }
        for (const candidate of [x, anyX]) {
          const [la, lb] = [noble.liftX(candidate), ec.liftX(candidate)];
          expect(lb === undefined).toBe(la === undefined);
          if (la !== undefined) expect(hex(ec, lb)).toBe(hex(noble, la));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('addition, with infinity on either side, P + −P = ∞ and P + P', () => {
    fc.assert(
      fc.property(secretKey, secretKey, fc.constantFrom('random', 'opposite', 'double', 'left ∞', 'right ∞'), (i, j, shape) => {
        const [pa, pb] = pointOf(i);
        let [qa, qb]: readonly [unknown, unknown] = pointOf(j);
        if (shape === 'opposite') [qa, qb] = [noble.negate(pa), ec.negate(pb)];
        if (shape === 'double') [qa, qb] = [pa, pb];
        const left = shape === 'left ∞';
        const right = shape === 'right ∞';
        const sumA = noble.add(left ? null : pa, right ? null : qa);
        const sumB = ec.add(left ? null : pb, right ? null : qb);
        expect(hex(ec, sumB)).toBe(hex(noble, sumA));
        expect(ec.equals(sumB, ec.add(right ? null : qb, left ? null : pb))).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('k·P, secret k·P, k·G and P + k·G for any scalar: the same point, infinity, or a refusal', () => {
    fc.assert(
      fc.property(secretKey, scalar, fc.boolean(), (i, k, towardInfinity) => {
        const [pa, pb] = pointOf(i);
        const show = (b: Secp256k1Backend<unknown>) => (p: unknown) => hex(b, p);
        expect(outcome(() => ec.mul(pb, k), show(ec))).toEqual(outcome(() => noble.mul(pa, k), show(noble)));
        expect(outcome(() => ec.mulSecret!(pb, k), show(ec))).toEqual(outcome(() => noble.mul(pa, k), show(noble)));
        expect(outcome(() => ec.mulBase(k), show(ec))).toEqual(outcome(() => noble.mulBase(k), show(noble)));
        // P = −(k·G) makes P + k·G infinity.
        const [qa, qb] = towardInfinity && k > 0n && k < N ? [noble.negate(noble.mulBase(k)!), ec.negate(ec.mulBase(k)!)] : [pa, pb];
        expect(outcome(() => ec.addMulBase!(qb, k), show(ec))).toEqual(outcome(() => noble.addMulBase!(qa, k), show(noble)));
      }),
      { numRuns: RUNS },
    );
  });

  it('ecdhSha256 is SHA256(compressed(k·P)) (BOLT 4\'s shared secret) for k as 32 bytes, and refuses k = 0, k ≥ n and other lengths', () => {
    fc.assert(
      fc.property(secretKey, scalar, fc.constantFrom(32, 32, 32, 31, 33), (i, k, length) => {
        const [pa, pb] = pointOf(i);
        const want = outcome(() => {
          if (k <= 0n || k >= N || length !== 32) throw new RangeError('no scalar');
          return toHex(createHash('sha256').update(noble.pointToBytes(noble.mul(pa, k))).digest());
        });
        // k mod 2^(8·length), big-endian in `length` bytes: k < 0 and k ≥ 2^256 land on 0 or on n and above.
        const bytes = fromHex(BigInt.asUintN(8 * length, k).toString(16).padStart(2 * length, '0'));
        expect(outcome(() => toHex(ec.ecdhSha256!(pb, bytes)))).toEqual(want);
      }),
      { numRuns: RUNS },
    );
  });

  it('BIP-340 Verify: valid signatures on messages of any length, and every kind of invalid one', () => {
    const cases = fc
      .tuple(secretKey, fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat(), fc.constantFrom(
        'valid', 'bit flipped', 'r ≥ p', 'r in [n, p)', 's = n', 's ≥ n', 'key x ≥ p', 'key not on curve', 'other key',
        'sig 63 bytes', 'sig 65 bytes', 'key 31 bytes', 'key 33 bytes',
      ))
      .map(([k, msg, aux, at, kind]) => {
        let sig: Uint8Array = schnorr.sign(msg, bytes32(k), aux);
        let pk: Uint8Array = schnorr.getPublicKey(bytes32(k));
        const withR = (v: bigint) => Uint8Array.of(...bytes32(v), ...sig.subarray(32));
        const withS = (v: bigint) => Uint8Array.of(...sig.subarray(0, 32), ...bytes32(v));
        if (kind === 'bit flipped') sig[at % 64]! ^= 1 << (at % 8);
        if (kind === 'r ≥ p') sig = withR(FIELD_P + BigInt(at % 977));
        if (kind === 'r in [n, p)') sig = withR(N + BigInt(at) % (FIELD_P - N));
        if (kind === 's = n') sig = withS(N);
        if (kind === 's ≥ n') sig = withS(N + BigInt(at));
        if (kind === 'key x ≥ p') pk = bytes32(FIELD_P + BigInt(at % 977));
        if (kind === 'key not on curve') pk = bytes32(5n); // x = 5: x³ + 7 = 132 is no square mod p
        if (kind === 'other key') pk = schnorr.getPublicKey(bytes32(k === N - 1n ? 1n : k + 1n));
        if (kind === 'sig 63 bytes') sig = sig.subarray(0, 63);
        if (kind === 'sig 65 bytes') sig = Uint8Array.of(...sig, 0);
        if (kind === 'key 31 bytes') pk = pk.subarray(1);
        if (kind === 'key 33 bytes') pk = Uint8Array.of(2, ...pk);
        return { sig, msg, pk, kind };
      });
    sameAsNoble(cases, ({ sig, msg, pk }) => [ec.verifySchnorr(sig, msg, pk), noble.verifySchnorr(sig, msg, pk)], ['valid'], ['bit flipped']);
  });
});

describeOn(`${name}: ECDSA as BOLT 3 signs, byte for byte noble's`, () => {
  const lib = under.loaded!;
  const ours: EcdsaSigner = under.loaded ? libsecp256k1Ecdsa(lib) : nobleEcdsa;

  it('RFC 6979 signatures are noble\'s bytes (low S, no extra entropy), for 32-byte digests and any other length', () => {
    fc.assert(
      fc.property(secretKey, fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 64 })), (k, digest) => {
        const sk = bytes32(k);
        expect(toHex(ours.signCompact(digest, sk))).toBe(toHex(nobleEcdsa.signCompact(digest, sk)));
      }),
      { numRuns: RUNS },
    );
  });

  it('a secret key that is 0, n or above, or not 32 bytes is refused as noble refuses it', () => {
    const digest = new Uint8Array(32).fill(7);
    for (const sk of [bytes32(0n), bytes32(N), bytes32(N + 1n), bytes32((1n << 256n) - 1n), new Uint8Array(31).fill(1), new Uint8Array(33).fill(1)]) {
      expect(outcome(() => toHex(ours.signCompact(digest, sk)))).toBe('throws');
      expect(outcome(() => toHex(nobleEcdsa.signCompact(digest, sk)))).toBe('throws');
    }
  });

  it('verification: valid, high S (refused exactly as noble\'s lowS refuses it), r or s 0 or ≥ n, other keys and encodings', () => {
    const cases = fc
      .tuple(secretKey, fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat(), fc.constantFrom(
        'valid', 'high S', 'bit flipped', 'r = 0', 's = 0', 'r = n', 's ≥ n', 'uncompressed key', 'hybrid key', 'key x ≥ p',
        'key not on curve', 'other key', 'sig 63 bytes', 'key 32 bytes', 'digest 31 bytes',
      ))
      .map(([k, digest, at, kind]) => {
        let sig: Uint8Array = nobleEcdsa.signCompact(digest, bytes32(k));
        let pk: Uint8Array = secp256k1.getPublicKey(bytes32(k), true);
        let d = digest;
        const s = int(sig.subarray(32));
        if (kind === 'high S') sig = Uint8Array.of(...sig.subarray(0, 32), ...bytes32(N - s));
        if (kind === 'bit flipped') sig[at % 64]! ^= 1 << (at % 8);
        if (kind === 'r = 0') sig = Uint8Array.of(...bytes32(0n), ...sig.subarray(32));
        if (kind === 's = 0') sig = Uint8Array.of(...sig.subarray(0, 32), ...bytes32(0n));
        if (kind === 'r = n') sig = Uint8Array.of(...bytes32(N), ...sig.subarray(32));
        if (kind === 's ≥ n') sig = Uint8Array.of(...sig.subarray(0, 32), ...bytes32(N + BigInt(at)));
        if (kind === 'uncompressed key') pk = secp256k1.getPublicKey(bytes32(k), false);
        if (kind === 'hybrid key') {
          pk = secp256k1.getPublicKey(bytes32(k), false);
          pk[0] = 6 + (pk[64]! & 1);
        }
        if (kind === 'key x ≥ p') pk = Uint8Array.of(2, ...bytes32(FIELD_P + BigInt(at % 977)));
        if (kind === 'key not on curve') pk = Uint8Array.of(2, ...bytes32(5n));
        if (kind === 'other key') pk = secp256k1.getPublicKey(bytes32(k === N - 1n ? 1n : k + 1n), true);
        if (kind === 'sig 63 bytes') sig = sig.subarray(0, 63);
        if (kind === 'key 32 bytes') pk = pk.subarray(1);
        if (kind === 'digest 31 bytes') d = digest.subarray(1);
        return { sig, d, pk, kind };
      });
    sameAsNoble(cases, ({ sig, d, pk }) => [ours.verifyCompact(sig, d, pk), nobleEcdsa.verifyCompact(sig, d, pk)], ['valid', 'uncompressed key'], ['bit flipped', 'digest 31 bytes']);
  });
});

describeOn(`${name}: the binding's own contract (what the backend never passes it is still refused)`, () => {
  const lib = under.loaded!;
  const G = Point.BASE.toBytes(false);
  const k = bytes32(0xabcdefn);
  it('wrong-length buffers, scalars 0 and ≥ n, and points that are not 65-byte uncompressed encodings are refused, never passed on', () => {
    for (const bad of [bytes32(0n), bytes32(N), bytes32((1n << 256n) - 1n), new Uint8Array(31).fill(1), new Uint8Array(33).fill(1)]) {
      expect(outcome(() => lib.mul(G, bad))).toBe('throws');
      expect(outcome(() => lib.mulConst(G, bad))).toBe('throws');
      expect(outcome(() => lib.mulBase(bad))).toBe('throws');
      expect(outcome(() => lib.ecdhSha256(G, bad))).toBe('throws');
      if (bad.length === 32 && int(bad) === 0n) expect(toHex(lib.addMulBase(G, bad)!)).toBe(toHex(G)); // P + 0·G = P
      else expect(outcome(() => lib.addMulBase(G, bad))).toBe('throws');
    }
    const offCurve = Uint8Array.from(G);
    offCurve[64] = offCurve[64]! ^ 1;
    for (const p of [Point.BASE.toBytes(true), offCurve, G.subarray(0, 64), Uint8Array.of(6 + (G[64]! & 1), ...G.subarray(1)), new Uint8Array(65)]) {
      for (const op of [() => lib.mul(p, k), () => lib.mulConst(p, k), () => lib.addMulBase(p, k), () => lib.ecdhSha256(p, k), () => lib.add(p, G), () => lib.add(G, p)]) {
        expect(outcome(op)).toBe('throws');
      }
    }
    // decompress: SEC1 compressed or uncompressed only (no hybrid 06/07, which libsecp256k1's parser would take).
    expect(toHex(lib.decompress(Point.BASE.toBytes(true))!)).toBe(toHex(G));
    expect(toHex(lib.decompress(G)!)).toBe(toHex(G));
    for (const p of [Uint8Array.of(6 + (G[64]! & 1), ...G.subarray(1)), offCurve, G.subarray(0, 33), new Uint8Array(33)]) expect(lib.decompress(p)).toBeUndefined();
    // The sum's infinity is an answer, not a refusal.
    const minusG = Point.BASE.negate().toBytes(false);
    expect(lib.add(G, minusG)).toBeUndefined();
    expect(lib.addMulBase(minusG, bytes32(1n))).toBeUndefined();
  });
});

describeOn(`${name}: the loader refuses a library it cannot trust, with a reason`, () => {
  /** koffi whose libraries answer one function wrongly (`lie` wraps the real one). */
  const lyingKoffi = (real: Koffi, fn: string, lie: (real: CFunction) => CFunction): Koffi => wrappedKoffi(real, (name, f) => (name === fn ? lie(f) : f));

  const cases: [string, string, (real: CFunction) => CFunction, RegExp][] = [
    ['k·G', 'secp256k1_ec_pubkey_create', (f) => (ctx, pk, sk) => f(ctx, pk, bytes32(int(sk as Uint8Array) === 1n ? 1n : 2n)), /k·G/],
    ['addition', 'secp256k1_ec_pubkey_combine', (f) => (ctx, out, ins) => f(ctx, out, ins, 1), /P \+ Q/],
    ['ECDH', 'secp256k1_ecdh', (f) => (ctx, out, pk, sk, hashfp, data) => {
      const r = f(ctx, out, pk, sk, hashfp, data);
      if (out instanceof Uint8Array) out[0] = out[0]! ^ 1;
      return r;
    }, /ECDH/],
    ['BIP-340 Verify', 'secp256k1_schnorrsig_verify', () => () => 1, /BIP-340 Verify/],
  ];
  for (const [what, fn, lie, reason] of cases) {
    it(`a library whose ${what} is wrong (${fn}) is refused by the self-test, and selection falls back to noble saying why`, async () => {
      const liar = lyingKoffi(await realKoffi(), fn, lie);
      await expect(loadBackend('libsecp256k1', async () => liar)).rejects.toThrow(reason);
      const { selectBackend, backendSelection } = await import('../../../src/lib/musig/engine/select.ts');
      try {
        const sel = await selectBackend('libsecp256k1', { importer: async () => liar });
        expect(sel).toMatchObject({ requested: 'libsecp256k1', engine: 'noble' });
        expect(sel.fallbackReason).toMatch(/^libsecp256k1 is not available: Error: it gets a known computation wrong \(.+\); using noble$/);
        expect(sel.fallbackReason).toMatch(reason);
      } finally {
        await selectBackend('noble');
      }
      expect(backendSelection().engine).toBe('noble');
    });
  }

  it(`a file that is not libsecp256k1 (${LIBSECP256K1_ENV}=libc.so.6) or not there is refused, naming what was tried`, async () => {
    const saved = process.env[LIBSECP256K1_ENV];
    try {
      process.env[LIBSECP256K1_ENV] = 'libc.so.6';
      await expect(loadBackend('libsecp256k1')).rejects.toThrow(/secp256k1_/);
      process.env[LIBSECP256K1_ENV] = '/nonexistent/libsecp256k1.so';
      await expect(loadBackend('libsecp256k1')).rejects.toThrow(/no libsecp256k1 found \(\/nonexistent\/libsecp256k1\.so: .+\); install the system's/);
    } finally {
      if (saved === undefined) delete process.env[LIBSECP256K1_ENV];
      else process.env[LIBSECP256K1_ENV] = saved;
    }
  });

  it('the product names no absolute path to a library: only sonames and the environment variable', async () => {
    const { readFileSync } = await import('node:fs');
    const source = readFileSync(new URL('../../../src/lib/musig/engine/libsecp256k1.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/['"`]\/[^'"`]*\.so/);
    expect(source).toMatch(/libsecp256k1\.so\.1/);
  });
});

it('the fixed answers this file relies on', () => {
  // x = 5 has no y (132 is a non-residue mod p): noble agrees.
  expect(noble.liftX(bytes32(5n))).toBeUndefined();
  expect(toHex(fromHex(toHex(bytes32(N))))).toBe('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');
});

describeOn(`${name}: secret scalars go through the constant-time multiplication`, () => {
  it('mulSecret and ecdhSha256 call secp256k1_ecdh (ecmult_const), never pubkey_tweak_mul (variable-time ecmult); mul calls tweak_mul', async () => {
    const calls: string[] = [];
    const counting = wrappedKoffi(await realKoffi(), (fn, f) => (fn.startsWith('secp256k1_') ? (...a: unknown[]) => (calls.push(fn), f(...a)) : f));
    const ec = await loadBackend('libsecp256k1', async () => counting);
    const P = ec.mulBase(12345n)!;
    const run = (f: () => unknown) => {
      calls.length = 0;
      f();
      return [...calls];
    };
    expect(run(() => ec.mulSecret!(P, 0xabcdefn))).toEqual(['secp256k1_ec_pubkey_parse', 'secp256k1_ecdh']);
    expect(run(() => ec.ecdhSha256!(P, bytes32(0xabcdefn)))).toEqual(['secp256k1_ec_pubkey_parse', 'secp256k1_ecdh']);
    expect(run(() => ec.mul(P, 0xabcdefn))).toEqual(['secp256k1_ec_pubkey_parse', 'secp256k1_ec_pubkey_tweak_mul', 'secp256k1_ec_pubkey_serialize']);
    expect(run(() => ec.mulBase(0xabcdefn))).toEqual(['secp256k1_ec_pubkey_create', 'secp256k1_ec_pubkey_serialize']);
  });
});

const native = await backendUnderTest('native', async () => {
  const mod = (await import('secp256k1/bindings.js' as string)) as { default?: unknown };
  return (mod.default ?? mod) as NativeSecp256k1;
});
(native.skipped === undefined ? describe : describe.skip)(`native${native.skipped ? `: SKIPPED, ${native.skipped}` : ''}: secret scalars through its ecdh too`, () => {
  it('mulSecret and ecdhSha256 call the binding\'s ecdh (ecmult_const), never publicKeyTweakMul; both equal noble', () => {
    const calls: string[] = [];
    const lib = native.loaded!;
    const counting = new Proxy(lib, {
      get: (target, key) => {
        const v = Reflect.get(target, key) as unknown;
        return typeof v === 'function' ? (...a: unknown[]) => (calls.push(String(key)), (v as (...x: unknown[]) => unknown).apply(target, a)) : v;
      },
    });
    const ec = nativeBackend(counting) as Secp256k1Backend<unknown>;
    const P = ec.mulBase(12345n)!;
    calls.length = 0;
    const S = ec.mulSecret!(P, 0xabcdefn);
    const secret = ec.ecdhSha256!(P, bytes32(0xabcdefn));
    expect(calls).toEqual(['ecdh', 'ecdh']);
    const want = noble.mul(noble.mulBase(12345n)!, 0xabcdefn);
    expect(toHex(ec.pointToBytes(S))).toBe(toHex(noble.pointToBytes(want)));
    expect(toHex(secret)).toBe(createHash('sha256').update(noble.pointToBytes(want)).digest('hex'));
  });
});
