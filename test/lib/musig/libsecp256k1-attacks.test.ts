/**
 * The system-libsecp256k1 binding (src/lib/musig/engine/libsecp256k1.ts) attacked as a
 * long-running mint, gateway or operator meets it: bytes that arrive as views into larger
 * buffers (Node's Buffer pool, a subarray of a packet), empty and detached views, a library
 * that reports an illegal argument and carries on, a library that returns 1 without calling
 * the ECDH hash function (and a `secp256k1` binding that does the same), a library with the
 * 2021 schnorrsig ABI, a file on the search path that loads but is no libsecp256k1, an
 * ECDSA that answers wrongly, and the binding used from several threads at once. Every
 * answer is compared with noble (never with the code under test), and the process must
 * survive each one.
 *
 * The equivalence properties on random and hostile inputs are in ./libsecp256k1-backend.test.ts.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Worker } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { LIBSECP256K1_ENV, openLibsecp256k1, type Koffi, type Libsecp256k1 } from '../../../src/lib/musig/engine/libsecp256k1.ts';
import { libsecp256k1Backend } from '../../../src/lib/musig/engine/backend-libsecp256k1.ts';
import { nobleBackend } from '../../../src/lib/musig/engine/backend-noble.ts';
import { libsecp256k1Ecdsa, nobleEcdsa } from '../../../src/lib/bolt3/ecdsa.ts';
import { N, P as FIELD_P, bytes32, int } from '../../../src/lib/musig/engine/scalar.ts';
import { toHex } from '../../../src/lib/bytes.ts';
import { secretMul } from '../../../src/lib/musig/engine/secret-mul.ts';
import { backendUnderTest, systemLibsecp256k1 } from '../../setup/backends.ts';
import { nativeBackend, type NativeSecp256k1 } from '../../../src/lib/musig/engine/backend-native.ts';

const RUNS = Number(process.env.LIBSECP256K1_PROPERTY_RUNS ?? 0) || 60;
const Point = secp256k1.Point;
const under = await systemLibsecp256k1();
const describeOn = under.skipped === undefined ? describe : describe.skip;
const name = under.skipped === undefined ? 'libsecp256k1' : `libsecp256k1: SKIPPED, ${under.skipped}`;
/** The environment that opens exactly the library under test (a soname, or the file $OFFCHAIN_LIBSECP256K1 named). */
const sameLibrary = (): Record<string, string> => ({ [LIBSECP256K1_ENV]: under.loaded!.path });

type CFunction = (...args: unknown[]) => unknown;

async function realKoffi(): Promise<Koffi> {
  const mod = (await import('koffi')) as { default?: unknown };
  return (mod.default ?? mod) as Koffi;
}

/** koffi whose libraries' functions go through `wrap`, by C name (a missing one: `wrap` throws). */
function wrappedKoffi(real: Koffi, wrap: (name: string, f: CFunction) => CFunction, load: (path: string) => ReturnType<Koffi['load']> = (p) => real.load(p)): Koffi {
  return {
    ...real,
    load(path) {
      const lib = load(path);
      return { func: (prototype: string) => wrap(/(\w+)\(/.exec(prototype)?.[1] ?? '', lib.func(prototype)) };
    },
  };
}

/** An answer or the fact of a refusal. */
function outcome(f: () => unknown): unknown {
  try {
    const v = f();
    return { ok: v instanceof Uint8Array ? toHex(v) : v };
  } catch {
    return 'throws';
  }
}

/** `bytes` as a view at an odd offset inside a larger buffer of `fill` bytes (what a packet's subarray is). */
function embedded(bytes: Uint8Array, offset: number, fill: number): { view: Uint8Array; whole: Uint8Array } {
  const whole = new Uint8Array(offset + bytes.length + 29).fill(fill);
  whole.set(bytes, offset);
  return { view: whole.subarray(offset, offset + bytes.length), whole };
}

const G65 = Point.BASE.toBytes(false);

describeOn(`${name}: bytes are read where the view says, nowhere else`, () => {
  const lib = under.loaded!;

  it('every operation answers the same for views at an offset in a larger buffer and for Node Buffers from the pool, and writes nothing around them', () => {
    const secret = fc.bigInt({ min: 1n, max: N - 1n });
    fc.assert(
      fc.property(secret, secret, fc.integer({ min: 1, max: 40 }), fc.constantFrom(0x00, 0xff, 0x5a), fc.uint8Array({ maxLength: 70 }), (i, j, offset, fill, msg) => {
        const P = Point.BASE.multiply(i);
        const [p65, p33, k, digest] = [P.toBytes(false), P.toBytes(true), bytes32(j), createHash('sha256').update(msg).digest()];
        const sig = schnorr.sign(msg, bytes32(i), new Uint8Array(32));
        const ecdsaSig = nobleEcdsa.signCompact(digest, bytes32(i));
        const xOnly = schnorr.getPublicKey(bytes32(i));
        // Each operation, its arguments fresh.
        const ops: [string, Uint8Array[], (...a: Uint8Array[]) => unknown][] = [
          ['decompress 33', [p33], (a) => lib.decompress(a!)],
          ['decompress 65', [p65], (a) => lib.decompress(a!)],
          ['add', [p65, G65], (a, b) => lib.add(a!, b!)],
          ['mul', [p65, k], (a, b) => lib.mul(a!, b!)],
          ['mulConst', [p65, k], (a, b) => lib.mulConst(a!, b!)],
          ['mulBase', [k], (a) => lib.mulBase(a!)],
          ['addMulBase', [p65, k], (a, b) => lib.addMulBase(a!, b!)],
          ['ecdhSha256', [p65, k], (a, b) => lib.ecdhSha256(a!, b!)],
          ['verifySchnorr', [sig, msg, xOnly], (a, b, c) => lib.verifySchnorr!(a!, b!, c!)],
          ['ecdsaSign', [digest, k], (a, b) => lib.ecdsaSign(a!, b!)],
          ['ecdsaVerify', [ecdsaSig, digest, p33], (a, b, c) => lib.ecdsaVerify(a!, b!, c!)],
        ];
        for (const [what, args, op] of ops) {
          const fresh = outcome(() => op(...args.map((a) => Uint8Array.from(a))));
          const views = args.map((a, n) => embedded(a, offset + 3 * n, fill));
          const before = views.map((v) => toHex(v.whole));
          expect(outcome(() => op(...views.map((v) => v.view))), `${what} on views at an offset`).toEqual(fresh);
          expect(views.map((v) => toHex(v.whole)), `${what} wrote into its arguments`).toEqual(before);
          expect(outcome(() => op(...args.map((a) => Buffer.from(toHex(a), 'hex')))), `${what} on pooled Buffers`).toEqual(fresh);
        }
        // The fresh answers are noble's (so "the same" above is the right answer).
        expect(toHex(lib.mulConst(p65, k))).toBe(toHex(P.multiply(j).toBytes(false)));
        expect(lib.verifySchnorr!(sig, msg, xOnly)).toBe(true);
        expect(toHex(lib.ecdsaSign(digest, k))).toBe(toHex(nobleEcdsa.signCompact(digest, k)));
      }),
      { numRuns: RUNS },
    );
  });

  it('empty views, views of a detached buffer and a view at the very end of its buffer are refused, and the library answers correctly after', () => {
    const detached = (length: number) => {
      const buffer = new ArrayBuffer(length);
      const view = new Uint8Array(buffer);
      structuredClone(buffer, { transfer: [buffer] });
      return view;
    };
    const k = bytes32(0xc0ffeen);
    const hostile: Uint8Array[] = [new Uint8Array(0), detached(32), detached(65), new Uint8Array(new ArrayBuffer(64), 64), Buffer.alloc(0)];
    for (const bad of hostile) {
      for (const op of [
        () => lib.decompress(bad), () => lib.add(bad, G65), () => lib.add(G65, bad), () => lib.mul(bad, k), () => lib.mul(G65, bad),
        () => lib.mulConst(bad, k), () => lib.mulConst(G65, bad), () => lib.mulBase(bad), () => lib.addMulBase(bad, k),
        () => lib.ecdhSha256(bad, k), () => lib.ecdhSha256(G65, bad), () => lib.ecdsaSign(bad, k), () => lib.ecdsaSign(k, bad),
      ]) {
        const got = outcome(op);
        expect(got === 'throws' || (got as { ok: unknown }).ok === undefined, `${bad.constructor.name}(${bad.length})`).toBe(true);
      }
      expect(lib.verifySchnorr!(bad, new Uint8Array(32), new Uint8Array(32))).toBe(false);
      expect(lib.verifySchnorr!(new Uint8Array(64), new Uint8Array(32), bad)).toBe(false);
      expect(lib.ecdsaVerify(bad, new Uint8Array(32), Point.BASE.toBytes(true))).toBe(false);
      expect(lib.ecdsaVerify(new Uint8Array(64), bad, Point.BASE.toBytes(true))).toBe(false);
      expect(lib.ecdsaVerify(new Uint8Array(64), new Uint8Array(32), bad)).toBe(false);
    }
    // An empty message is a message (BIP-340 allows it), from an empty or a detached view alike.
    const sk = bytes32(7n);
    const sig = schnorr.sign(new Uint8Array(0), sk, new Uint8Array(32));
    expect(lib.verifySchnorr!(sig, new Uint8Array(0), schnorr.getPublicKey(sk))).toBe(true);
    expect(lib.verifySchnorr!(sig, detached(16), schnorr.getPublicKey(sk))).toBe(true);
    expect(toHex(lib.mulConst(G65, k))).toBe(toHex(Point.BASE.multiply(0xc0ffeen).toBytes(false)));
  });
});

describeOn(`${name}: coordinates at or above p are no encoding of the point they reduce to`, () => {
  it('04 || x + p || y for the point with x = 1 (x + p < 2^256) is refused by decompress, by every operation and as an ECDSA key, as noble refuses it', () => {
    const lib = under.loaded!;
    const P = nobleBackend.liftX(bytes32(1n))!; // x = 1 is on the curve (noble decides)
    const valid = P.toBytes(false);
    const aliased = Uint8Array.of(4, ...bytes32(1n + FIELD_P), ...valid.subarray(33));
    expect(() => Point.fromBytes(aliased)).toThrow();
    expect(toHex(lib.decompress(valid)!)).toBe(toHex(valid));
    expect(lib.decompress(aliased)).toBeUndefined();
    const k = bytes32(3n);
    for (const op of [() => lib.mul(aliased, k), () => lib.mulConst(aliased, k), () => lib.addMulBase(aliased, k), () => lib.ecdhSha256(aliased, k), () => lib.add(aliased, G65)]) {
      expect(outcome(op)).toBe('throws');
    }
    const digest = new Uint8Array(32).fill(9);
    expect(lib.ecdsaVerify(nobleEcdsa.signCompact(digest, bytes32(5n)), digest, aliased)).toBe(false);
  });
});

describeOn(`${name}: what the library reports or skips is never taken for an answer`, () => {
  it('an illegal argument the library reports (its callback) makes that operation throw, not abort the process, and the next operation answers', async () => {
    // A binding whose parse hands the library a NULL input once: libsecp256k1's ARG_CHECK calls the callback.
    let sabotage = false;
    const koffi = wrappedKoffi(await realKoffi(), (fn, f) =>
      fn === 'secp256k1_ec_pubkey_parse' ? (ctx, pk, input, len) => f(ctx, pk, sabotage ? ((sabotage = false), null) : input, len) : f,
    );
    const lib = openLibsecp256k1(koffi, sameLibrary());
    const k = bytes32(0xabcn);
    sabotage = true;
    expect(() => lib.mul(G65, k)).toThrow(/libsecp256k1 refused an argument: input != NULL/);
    expect(toHex(lib.mul(G65, k))).toBe(toHex(Point.BASE.multiply(0xabcn).toBytes(false)));
    sabotage = true;
    expect(() => lib.decompress(Point.BASE.toBytes(true))).toThrow(/refused an argument/);
    expect(toHex(lib.decompress(Point.BASE.toBytes(true))!)).toBe(toHex(G65));
  });

  it('secp256k1_ecdh given a pubkey struct it reports as invalid returns 1 with bytes of (0, 0): mulConst and ecdhSha256 throw instead of answering', async () => {
    let zeroStruct = false;
    const koffi = wrappedKoffi(await realKoffi(), (fn, f) =>
      fn === 'secp256k1_ecdh' ? (ctx, out, pk, ...rest) => f(ctx, out, zeroStruct ? new Uint8Array(64) : pk, ...rest) : f,
    );
    const lib = openLibsecp256k1(koffi, sameLibrary());
    const k = bytes32(0xabcn);
    zeroStruct = true;
    expect(() => lib.mulConst(G65, k)).toThrow(/refused an argument/);
    expect(() => lib.ecdhSha256(G65, k)).toThrow(/refused an argument/);
    zeroStruct = false;
    expect(toHex(lib.mulConst(G65, k))).toBe(toHex(Point.BASE.multiply(0xabcn).toBytes(false)));
  });

  it('an ECDH that returns 1 without calling the hash function (an older ABI, a wrong library) is refused: never the previous call\'s secret product', async () => {
    let skipHash = false;
    const koffi = wrappedKoffi(await realKoffi(), (fn, f) =>
      fn === 'secp256k1_ecdh' ? (ctx, out, pk, sk, hashfp, data) => f(ctx, out, pk, sk, skipHash ? null : hashfp, data) : f,
    );
    const lib = openLibsecp256k1(koffi, sameLibrary());
    const first = lib.mulConst(Point.BASE.multiply(5n).toBytes(false), bytes32(0x5ec12e7n));
    expect(toHex(first)).toBe(toHex(Point.BASE.multiply(5n * 0x5ec12e7n).toBytes(false)));
    skipHash = true;
    expect(() => lib.mulConst(G65, bytes32(3n))).toThrow(/without calling its hash function/);
    skipHash = false;
    expect(toHex(lib.mulConst(G65, bytes32(3n)))).toBe(toHex(Point.BASE.multiply(3n).toBytes(false)));
  });
});

describeOn(`${name}: the loader and what a library must be`, () => {
  it('a library without secp256k1_schnorrsig_sign32 (the 2021 schnorrsig ABI: verify(ctx, sig, msg32, pubkey)) never has its schnorrsig_verify called; Verify stays noble\'s', async () => {
    const calls: string[] = [];
    const koffi = wrappedKoffi(await realKoffi(), (fn, f) => {
      if (fn === 'secp256k1_schnorrsig_sign32') throw new Error(`Cannot find function '${fn}' in shared library`);
      return (...a: unknown[]) => (calls.push(fn), f(...a));
    });
    const ec = libsecp256k1Backend(openLibsecp256k1(koffi, sameLibrary()));
    const sk = bytes32(0x1234n);
    for (const msg of [new Uint8Array(0), new Uint8Array(32).fill(1), new Uint8Array(45).fill(2)]) {
      const sig = schnorr.sign(msg, sk, new Uint8Array(32));
      const forged = Uint8Array.from(sig);
      forged[5] = forged[5]! ^ 1;
      for (const s of [sig, forged]) expect(ec.verifySchnorr(s, msg, schnorr.getPublicKey(sk))).toBe(nobleBackend.verifySchnorr(s, msg, schnorr.getPublicKey(sk)));
    }
    expect(calls).not.toContain('secp256k1_schnorrsig_verify');
  });

  it('a file on the search path that loads but is no libsecp256k1 (the first soname here is libc) is passed over for the next soname, and its reason kept', async () => {
    const real = await realKoffi();
    // The sonames in order, the first being libc and the last the library under test.
    const koffi = wrappedKoffi(real, (_fn, f) => f, (path) => real.load(path === 'libsecp256k1.so.7' ? 'libc.so.6' : path === 'libsecp256k1.so.1' ? under.loaded!.path : path));
    const lib = openLibsecp256k1(koffi, {});
    expect(lib.path).not.toBe('libsecp256k1.so.7');
    expect(toHex(lib.mulBase(bytes32(9n)))).toBe(toHex(Point.BASE.multiply(9n).toBytes(false)));
    // Where every candidate is wrong, the error names each one and why.
    const none = wrappedKoffi(real, (_fn, f) => f, () => real.load('libc.so.6'));
    expect(() => openLibsecp256k1(none, {})).toThrow(/libsecp256k1\.so\.7: .*secp256k1_.*; libsecp256k1\.so\.6: .*; libsecp256k1\.so\.1: /);
  });

  it('a library that decodes a non-point (x = 5, or x = p + 1 read as 1) is refused by the self-test, naming it: the door to an invalid-curve attack on a secret scalar', async () => {
    const { loadBackend } = await import('../../../src/lib/musig/engine/select.ts');
    const noY = Uint8Array.of(2, ...bytes32(5n));
    const pPlus1 = Uint8Array.of(2, ...bytes32(FIELD_P + 1n));
    expect(nobleBackend.pointFromBytes(noY)).toBeUndefined(); // noble: both are no point
    expect(nobleBackend.pointFromBytes(pPlus1)).toBeUndefined();
    const cases: [Uint8Array, Uint8Array, RegExp][] = [
      [noY, Point.BASE.toBytes(true), /a non-point decoded/],
      [pPlus1, Uint8Array.of(2, ...bytes32(1n)), /x ≥ p decoded/],
    ];
    for (const [bad, as, reason] of cases) {
      const koffi = wrappedKoffi(await realKoffi(), (fn, f) =>
        fn === 'secp256k1_ec_pubkey_parse' ? (ctx, pk, input, len) => f(ctx, pk, toHex(input as Uint8Array) === toHex(bad) ? as : input, len) : f,
      );
      await expect(loadBackend('libsecp256k1', async () => koffi)).rejects.toThrow(reason);
    }
  });

  it('ECDSA from a library that signs with high S, accepts high S or accepts any digest is refused when it is adapted, naming what it got wrong', () => {
    const lib = under.loaded!;
    const highS = (sig: Uint8Array) => Uint8Array.of(...sig.subarray(0, 32), ...bytes32(N - int(sig.subarray(32))));
    const lowS = (sig: Uint8Array) => (int(sig.subarray(32)) > N / 2n ? highS(sig) : sig);
    expect(() => libsecp256k1Ecdsa(lib)).not.toThrow();
    const liars: [string, Pick<Libsecp256k1, 'ecdsaSign' | 'ecdsaVerify'>, RegExp][] = [
      ['signs with high S', { ecdsaSign: (d, k) => highS(lib.ecdsaSign(d, k)), ecdsaVerify: (s, d, p) => lib.ecdsaVerify(lowS(s), d, p) }, /\(sign[,)]/],
      ['accepts high S', { ecdsaSign: (d, k) => lib.ecdsaSign(d, k), ecdsaVerify: (s, d, p) => lib.ecdsaVerify(lowS(s), d, p) }, /high S accepted/],
      ['accepts any digest', { ecdsaSign: (d, k) => lib.ecdsaSign(d, k), ecdsaVerify: (s, _d, p) => lib.ecdsaVerify(s, new Uint8Array(32).fill(0x5e), p) }, /another digest accepted/],
    ];
    for (const [, liar, reason] of liars) expect(() => libsecp256k1Ecdsa(liar)).toThrow(reason);
  });
});

describeOn(`${name}: ECDSA at the edges of the digest and the key`, () => {
  it('digests 0, n − 1, n, n + 1 and 2^256 − 1 (reduced mod n as RFC 6979 and bits2int say) under keys 1, n − 1 and another: noble\'s bytes, and they verify', () => {
    const ours = libsecp256k1Ecdsa(under.loaded!);
    for (const digest of [0n, N - 1n, N, N + 1n, (1n << 256n) - 1n].map(bytes32)) {
      for (const k of [1n, N - 1n, 0x1234n]) {
        const sig = ours.signCompact(digest, bytes32(k));
        expect(toHex(sig)).toBe(toHex(nobleEcdsa.signCompact(digest, bytes32(k))));
        expect(ours.verifyCompact(sig, digest, secp256k1.getPublicKey(bytes32(k), true))).toBe(true);
      }
    }
  });
});

describeOn(`${name}: one process, several threads`, () => {
  it('worker threads each load koffi and the library and compute at the same time as the main thread: every answer is noble\'s', async () => {
    const worker = (seed: number) =>
      new Promise<{ bad: string[]; n: number }>((resolve, reject) => {
        const w = new Worker(new URL('./libsecp256k1-worker.mjs', import.meta.url), { workerData: { seed, n: 40, env: sameLibrary() } });
        w.once('message', resolve);
        w.once('error', reject);
        w.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
      });
    const running = [1, 2, 3].map(worker);
    const lib = under.loaded!;
    for (let i = 1n; i <= 40n; i++) {
      const P = Point.BASE.multiply(i + 11n);
      expect(toHex(lib.mulConst(P.toBytes(false), bytes32(i * 7919n)))).toBe(toHex(P.multiply(i * 7919n).toBytes(false)));
    }
    for (const r of await Promise.all(running)) expect(r).toEqual({ bad: [], n: 40 });
  });
});

describeOn(`${name}: secret k·P in the onion code (the w-review finding, fixed in src/lib/onion/ecdh.ts)`, () => {
  // secretMul once reached the backend's `mul`, libsecp256k1's pubkey_tweak_mul —
  // secp256k1_ecmult, variable time in every release (eckey_impl.h). It now takes the
  // backend's mulSecret (secp256k1_ecdh, ecmult_const) first; this was it.fails until then.
  it('a peel\'s node-key multiplication goes through secp256k1_ecdh, never pubkey_tweak_mul', async () => {
    const calls: string[] = [];
    const koffi = wrappedKoffi(await realKoffi(), (fn, f) => (fn.startsWith('secp256k1_') ? (...a: unknown[]) => (calls.push(fn), f(...a)) : f));
    const ec = libsecp256k1Backend(openLibsecp256k1(koffi, sameLibrary()));
    const E = ec.mulBase(0xe1n)!;
    calls.length = 0;
    const S = secretMul(ec, E, 0x5ec12e7n);
    expect(toHex(ec.pointToBytes(S!))).toBe(toHex(Point.BASE.multiply(0xe1n * 0x5ec12e7n).toBytes(true)));
    expect(calls).not.toContain('secp256k1_ec_pubkey_tweak_mul');
    expect(calls).toContain('secp256k1_ecdh');
  });
});

const native = await backendUnderTest('native', async () => {
  const mod = (await import('secp256k1/bindings.js' as string)) as { default?: unknown };
  return (mod.default ?? mod) as NativeSecp256k1;
});
(native.skipped === undefined ? describe : describe.skip)(`native${native.skipped ? `: SKIPPED, ${native.skipped}` : ''}: its secret k·P is refused when the binding skips the hash function`, () => {
  it('an ecdh that returns without calling hashfn makes mulSecret throw, not answer 04 || 0…0', () => {
    const lib = native.loaded!;
    let skip = false;
    const lying = new Proxy(lib, {
      get: (target, key) => {
        const v = Reflect.get(target, key) as unknown;
        if (key !== 'ecdh' || typeof v !== 'function') return v;
        return (p: Uint8Array, k: Uint8Array, options: object | undefined, output: Uint8Array) =>
          skip ? (v as CFunction).call(target, p, k, {}, new Uint8Array(32)) : (v as CFunction).call(target, p, k, options, output);
      },
    });
    const ec = nativeBackend(lying);
    const P = ec.mulBase(77n)!;
    expect(toHex(ec.pointToBytes(ec.mulSecret!(P, 5n)!))).toBe(toHex(Point.BASE.multiply(385n).toBytes(true)));
    skip = true;
    expect(() => ec.mulSecret!(P, 5n)).toThrow(/without calling its hash function/);
  });
});
