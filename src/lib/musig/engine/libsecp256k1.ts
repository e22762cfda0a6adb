/**
 * libsecp256k1 as the operating system ships it (Debian's `libsecp256k1-1`, …), called
 * through koffi, an FFI library whose npm package carries its prebuilt binaries. No
 * compiler, no N-API glue of ours: koffi declares the C functions from their prototypes
 * and passes typed arrays as pointers (≈0.1 µs a call measured, against 20–40 µs for the
 * curve work itself).
 *
 * The library is found by soname, newest ABI first (upstream's libtool versions: 0.8 →
 * .so.7, 0.7 → .so.6, 0.6 → .so.5, 0.3–0.5 → .so.2, 0.2 → .so.1), or at the path
 * $OFFCHAIN_LIBSECP256K1 names; never by an absolute path of ours. Every function used
 * here exists, with the same prototype, in every release from 0.2.0 on.
 *
 * One context per library, randomized with 32 fresh bytes (side-channel blinding of k·G),
 * never destroyed. Its illegal-argument callback, which would abort() the process by
 * default, records the message and returns; every operation checks the record after its
 * last call and throws: the checks below are meant to keep every such argument away from
 * the library, and a miss costs an exception, not a mint process. Checking after the call
 * matters: a function whose argument check fails does not always stop there (0.2.0's
 * secp256k1_ecdh on a zeroed pubkey struct reports it, computes on (0, 0) and returns 1).
 * No callback of ours throws: koffi would catch the exception at its trampoline, hand C a
 * 0 and rethrow when the outer call returns (koffi's "Handling of exceptions"), but
 * recording is the same outcome without relying on it.
 *
 * The file loaded is trusted configuration, as LD_LIBRARY_PATH is: loading a library
 * runs its code in this process. The self-test (./select.ts) refuses a library that gets
 * known answers wrong, not one written to deceive.
 *
 * Every operation uses preallocated structs and the fewest calls the API allows (parse,
 * the operation, serialize). k·P comes in two kinds: `mul` is pubkey_tweak_mul, which
 * runs libsecp256k1's VARIABLE-time multiplication (secp256k1_ecmult, in every release up
 * to 0.8.0) and is for public scalars only; `mulConst` is secp256k1_ecdh (ecmult_const,
 * constant time) with a hash function that hands back x and y, for secret scalars.
 *
 * This file only binds and checks lengths; ./backend-libsecp256k1.ts makes a
 * Secp256k1Backend of it and ../../bolt3/ecdsa.ts an ECDSA signer.
 */
import { randomBytes } from 'node:crypto';
import { N, bytes32 } from './scalar.ts';

/** The part of koffi's API used here (declared, not imported: koffi is optional). */
export type Koffi = {
  load(path: string): KoffiLibrary;
  proto(prototype: string): unknown;
  type(name: string): unknown;
  pointer(type: unknown): unknown;
  register(fn: (...args: never[]) => unknown, type: unknown): unknown;
  alloc(type: string, length: number): bigint;
  sizeof(type: string): number;
};
type KoffiLibrary = { func(prototype: string): (...args: unknown[]) => unknown };

/** The environment variable that names the library file to load instead of the sonames below. */
export const LIBSECP256K1_ENV = 'OFFCHAIN_LIBSECP256K1';

/** The sonames tried, newest ABI first. */
export const LIBSECP256K1_SONAMES: readonly string[] = ['libsecp256k1.so.7', 'libsecp256k1.so.6', 'libsecp256k1.so.5', 'libsecp256k1.so.2', 'libsecp256k1.so.1'];

/** Where to look: $OFFCHAIN_LIBSECP256K1 alone when set, else the sonames. */
export function libsecp256k1Candidates(env: Record<string, string | undefined> = process.env): readonly string[] {
  const named = env[LIBSECP256K1_ENV]?.trim();
  return named ? [named] : LIBSECP256K1_SONAMES;
}

/** A 65-byte uncompressed point (04 || x || y). */
type Point65 = Uint8Array;

/** The operations this module offers, over bytes. Scalars are 32 bytes, big-endian. */
export type Libsecp256k1 = {
  /** The file that was loaded (a soname, or $OFFCHAIN_LIBSECP256K1). */
  readonly path: string;
  /** A 33-byte (02/03) or 65-byte (04) SEC1 encoding → 65 bytes; undefined when it is not a point. */
  decompress(bytes: Uint8Array): Point65 | undefined;
  /** a + b; undefined when the sum is infinity. */
  add(a: Point65, b: Point65): Point65 | undefined;
  /** k·p for a PUBLIC k in [1, n) (variable time); throws on any other k. */
  mul(p: Point65, k: Uint8Array): Point65;
  /** k·p for a SECRET k in [1, n), constant time (ECDH's multiplication); throws on any other k. */
  mulConst(p: Point65, k: Uint8Array): Point65;
  /** k·G for k in [1, n) (constant time); throws on any other k. */
  mulBase(k: Uint8Array): Point65;
  /** p + k·G for a public k in [0, n); undefined when the sum is infinity; throws on k ≥ n. */
  addMulBase(p: Point65, k: Uint8Array): Point65 | undefined;
  /** SHA256(compressed(k·p)) for a secret k in [1, n), constant time (secp256k1_ecdh's default hash); throws on any other k. */
  ecdhSha256(p: Point65, k: Uint8Array): Uint8Array;
  /**
   * secp256k1_ecdsa_recover on r || s (64 bytes), a recovery id and z (32 bytes): a 65-byte
   * point; throws when r or s is not below n or nothing is recovered. Absent when the library
   * has no recovery module.
   */
  recover?(rs: Uint8Array, recid: number, z: Uint8Array): Point65;
  /** BIP-340 Verify with secp256k1_schnorrsig_verify; absent when the library has no schnorrsig module. */
  verifySchnorr?(sig: Uint8Array, msg: Uint8Array, xOnly: Uint8Array): boolean;
  /** RFC 6979 ECDSA (the default nonce function, no extra data), low S: 64-byte compact r || s. Throws on an invalid key. */
  ecdsaSign(digest32: Uint8Array, secretKey: Uint8Array): Uint8Array;
  /** ECDSA verification of a compact signature; high S, r or s ≥ n, and keys that are not points are false. */
  ecdsaVerify(sig64: Uint8Array, digest32: Uint8Array, publicKey: Uint8Array): boolean;
};

const SECP256K1_CONTEXT_SIGN_VERIFY = 0x0301; // SIGN | VERIFY: what 0.2.0+ calls CONTEXT_NONE plus two flags it ignores
const SECP256K1_EC_UNCOMPRESSED = 0x0002;

/** Bound libraries, per koffi instance and file: one context each for the process's life. */
const opened = new WeakMap<Koffi, Map<string, Libsecp256k1>>();

/**
 * Load the system's libsecp256k1 through `koffi` (memoized per file). Throws an Error
 * naming every file tried and why each failed, or the first function that is missing.
 */
export function openLibsecp256k1(koffi: Koffi, env: Record<string, string | undefined> = process.env): Libsecp256k1 {
  const failures: string[] = [];
  let byPath = opened.get(koffi);
  if (!byPath) opened.set(koffi, (byPath = new Map()));
  for (const path of libsecp256k1Candidates(env)) {
    const hit = byPath.get(path);
    if (hit) return hit;
    let lib: KoffiLibrary;
    try {
      lib = koffi.load(path);
    } catch (e) {
      failures.push(`${path}: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
      continue;
    }
    let bound: Libsecp256k1;
    try {
      bound = bind(koffi, lib, path);
    } catch (e) {
      // A file that loads but is not a usable libsecp256k1 (a missing function, a
      // context that cannot be made): the next soname may be.
      failures.push(`${path}: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
      continue;
    }
    byPath.set(path, bound);
    return bound;
  }
  throw new Error(`no libsecp256k1 found (${failures.join('; ')}); install the system's (Debian: apt-get install libsecp256k1-1) or set ${LIBSECP256K1_ENV}`);
}

function bind(koffi: Koffi, lib: KoffiLibrary, path: string): Libsecp256k1 {
  const fn = (prototype: string) => lib.func(prototype) as (...args: unknown[]) => number;
  const optional = (prototype: string) => {
    try {
      return fn(prototype);
    } catch {
      return undefined; // a module this build left out
    }
  };
  const contextCreate = lib.func('void *secp256k1_context_create(unsigned int flags)') as (flags: number) => bigint | null;
  const contextRandomize = fn('int secp256k1_context_randomize(void *ctx, const uint8_t *seed32)');
  const setIllegalCallback = lib.func('void secp256k1_context_set_illegal_callback(void *ctx, void *fun, void *data)') as (...a: unknown[]) => void;
  const parse = fn('int secp256k1_ec_pubkey_parse(void *ctx, void *pubkey, const uint8_t *input, size_t inputlen)');
  const serialize = fn('int secp256k1_ec_pubkey_serialize(void *ctx, uint8_t *output, void *outputlen, const void *pubkey, unsigned int flags)');
  const combine = fn('int secp256k1_ec_pubkey_combine(void *ctx, void *out, const void *ins, size_t n)');
  const create = fn('int secp256k1_ec_pubkey_create(void *ctx, void *pubkey, const uint8_t *seckey)');
  const tweakAdd = fn('int secp256k1_ec_pubkey_tweak_add(void *ctx, void *pubkey, const uint8_t *tweak32)');
  const tweakMul = fn('int secp256k1_ec_pubkey_tweak_mul(void *ctx, void *pubkey, const uint8_t *tweak32)');
  const ecdhHash = prototype(koffi, 'offchain_ecdh_hash', 'int offchain_ecdh_hash(void *output, void *x32, void *y32, void *data)');
  const ecdh = fn('int secp256k1_ecdh(void *ctx, uint8_t *output, const void *pubkey, const uint8_t *seckey, void *hashfp, void *data)');
  const sigParse = fn('int secp256k1_ecdsa_signature_parse_compact(void *ctx, void *sig, const uint8_t *input64)');
  const sigSerialize = fn('int secp256k1_ecdsa_signature_serialize_compact(void *ctx, uint8_t *output64, const void *sig)');
  const ecdsaSign = fn('int secp256k1_ecdsa_sign(void *ctx, void *sig, const uint8_t *msghash32, const uint8_t *seckey, void *noncefp, void *ndata)');
  const ecdsaVerify = fn('int secp256k1_ecdsa_verify(void *ctx, const void *sig, const uint8_t *msghash32, const void *pubkey)');
  const recSigParse = optional('int secp256k1_ecdsa_recoverable_signature_parse_compact(void *ctx, void *sig, const uint8_t *input64, int recid)');
  const recover = recSigParse && optional('int secp256k1_ecdsa_recover(void *ctx, void *pubkey, const void *sig, const uint8_t *msghash32)');
  const xonlyParse = optional('int secp256k1_xonly_pubkey_parse(void *ctx, void *pubkey, const uint8_t *input32)');
  // schnorrsig_verify took (ctx, sig64, msg32, pubkey) until the July 2021 API overhaul
  // (upstream #844), and libraries of that time are still shipped (sonames .so.0, bundled
  // copies): called with msglen it would read the length as the key's address and crash
  // the process. `schnorrsig_sign32` exists only in libraries with the current
  // verify (0.2.0 on), so without it this backend verifies with its point operations.
  const schnorrCurrentAbi = optional('int secp256k1_schnorrsig_sign32(void *ctx, uint8_t *sig64, const uint8_t *msg32, const void *keypair, const uint8_t *aux_rand32)');
  const schnorrVerify = schnorrCurrentAbi && optional('int secp256k1_schnorrsig_verify(void *ctx, const uint8_t *sig64, const uint8_t *msg, size_t msglen, const void *pubkey)');
  // The C library's memcpy, found through libsecp256k1's own dependencies (dlsym searches them).
  const memcpy = fn('void *memcpy(void *dest, void *src, size_t n)');

  const ctx = contextCreate(SECP256K1_CONTEXT_SIGN_VERIFY);
  if (!ctx) throw new Error(`${path}: secp256k1_context_create failed`);
  let illegal: string | undefined;
  const onIllegal = koffi.register((message: string) => {
    illegal = message;
  }, koffi.pointer(prototype(koffi, 'offchain_secp256k1_callback', 'void offchain_secp256k1_callback(const char *message, void *data)')));
  setIllegalCallback(ctx, onIllegal, null);
  const seed = randomBytes(32);
  const randomized = contextRandomize(ctx, seed);
  seed.fill(0);
  if (randomized !== 1) throw new Error(`${path}: secp256k1_context_randomize failed`);

  // Preallocated: two secp256k1_pubkey structs in native memory (combine takes an array of
  // pointers to them), one in JS for results, signature and x-only key structs, outputlen.
  const ins = koffi.alloc('uint8_t', 128);
  const [pkA, pkB] = [ins, ins + 64n];
  const insArray = koffi.sizeof('void *') === 8 ? new BigUint64Array([pkA, pkB]) : new Uint32Array([Number(pkA), Number(pkB)]);
  const pkOut = new Uint8Array(64);
  // Byte strings a call reads or writes go through this off-heap scratch, copied in and out in
  // JS: a typed array of 64 bytes or fewer lives on V8's heap, and the first time native code
  // asks for its address V8 moves it to a backing store of its own (an allocation, ~0.5–1 µs
  // per fresh scalar or digest) — a copy of 32 bytes costs nanoseconds. The scalar and the
  // ECDH output are wiped after each call.
  const io = new Uint8Array(160);
  const K = io.subarray(0, 32);
  const SS = io.subarray(32, 64);
  const IN65 = io.subarray(64, 129);
  const IN33 = IN65.subarray(0, 33);
  const sigStruct = new Uint8Array(64);
  const xonlyStruct = new Uint8Array(64);
  const recSigStruct = new Uint8Array(65);
  const outputLen = koffi.sizeof('size_t') === 8 ? new BigUint64Array(1) : new Uint32Array(1);
  const setOutputLen65 = outputLen instanceof BigUint64Array ? () => (outputLen[0] = 65n) : () => ((outputLen as Uint32Array)[0] = 65);
  // secp256k1_ecdh's hash function for mulConst: x || y written straight into the
  // output buffer the call was given (64 bytes), so the secret product is never kept in
  // a buffer of ours; `hashed` tells a call that returned 1 without calling it (an older
  // ABI, a wrong library) from one that did.
  let hashed = false;
  const copyXY = koffi.register((out: bigint, x: bigint, y: bigint) => {
    memcpy(out, x, 32);
    memcpy(out + 32n, y, 32);
    hashed = true;
    return 1;
  }, koffi.pointer(ecdhHash));

  /** Throws when the library reported an illegal argument during the last call. */
  const checked = <T>(value: T): T => {
    if (illegal !== undefined) {
      const message = illegal;
      illegal = undefined;
      throw new Error(`libsecp256k1 refused an argument: ${message}`);
    }
    return value;
  };
  const serialized = (pubkey: unknown): Point65 => {
    const out = new Uint8Array(65);
    setOutputLen65();
    if (serialize(ctx, out, outputLen, pubkey, SECP256K1_EC_UNCOMPRESSED) !== 1) throw checked(new Error('libsecp256k1: pubkey_serialize failed'));
    return out;
  };
  const parsed = (into: unknown, bytes: Uint8Array): boolean => parse(ctx, into, bytes, bytes.length) === 1;
  const point = (p: Point65, into: unknown) => {
    if (p.length !== 65 || p[0] !== 4 || !parsed(into, p)) throw checked(new RangeError('not a 65-byte uncompressed point'));
  };
  /** k copied into the scratch K for one call (the caller wipes K after it). */
  const scalar = (k: Uint8Array): Uint8Array => {
    if (k.length !== 32) throw new RangeError('a scalar is 32 bytes');
    K.set(k);
    return K;
  };
  const refused = (what: string) => checked(new RangeError(`libsecp256k1 refused ${what}: the scalar is 0 or not below n`));

  const bound: Libsecp256k1 = {
    path,
    decompress(bytes) {
      if (!(bytes.length === 33 && (bytes[0] === 2 || bytes[0] === 3)) && !(bytes.length === 65 && bytes[0] === 4)) return undefined;
      const input = bytes.length === 33 ? IN33 : IN65;
      input.set(bytes);
      const ok = parse(ctx, pkOut, input, bytes.length) === 1;
      if (!ok) return checked(undefined);
      return checked(serialized(pkOut));
    },
    add(a, b) {
      point(a, pkA);
      point(b, pkB);
      if (combine(ctx, pkOut, insArray, 2) !== 1) return checked(undefined); // infinity
      return checked(serialized(pkOut));
    },
    mul(p, k) {
      point(p, pkOut);
      const ok = tweakMul(ctx, pkOut, scalar(k)) === 1;
      K.fill(0);
      if (!ok) throw refused('k·P');
      return checked(serialized(pkOut));
    },
    mulConst(p, k) {
      point(p, pkOut);
      const out = new Uint8Array(65);
      hashed = false;
      let ok: boolean;
      try {
        ok = ecdh(ctx, out.subarray(1), pkOut, scalar(k), copyXY, null) === 1;
      } finally {
        K.fill(0);
      }
      if (!ok || !hashed || illegal !== undefined) {
        out.fill(0);
        if (!ok) throw refused('k·P');
        throw checked(new Error('libsecp256k1: secp256k1_ecdh returned without calling its hash function'));
      }
      out[0] = 4;
      return out;
    },
    mulBase(k) {
      let ok: boolean;
      try {
        ok = create(ctx, pkOut, scalar(k)) === 1;
      } finally {
        K.fill(0);
      }
      if (!ok) throw refused('k·G');
      return checked(serialized(pkOut));
    },
    addMulBase(p, k) {
      point(p, pkOut);
      const ok = tweakAdd(ctx, pkOut, scalar(k)) === 1;
      K.fill(0);
      if (!ok) {
        // 0 for infinity or for k ≥ n: only the first is an answer.
        if (!k.some((b) => b !== 0) || compare32(k, ORDER) >= 0) throw refused('P + k·G');
        return checked(undefined);
      }
      return checked(serialized(pkOut));
    },
    ecdhSha256(p, k) {
      point(p, pkOut);
      let ok: boolean, out: Uint8Array;
      try {
        ok = ecdh(ctx, SS, pkOut, scalar(k), null, null) === 1;
        out = SS.slice(); // 32 bytes: on V8's heap
      } finally {
        K.fill(0);
        SS.fill(0);
      }
      if (!ok) throw refused('ECDH');
      return checked(out);
    },
    ...(recSigParse && recover
      ? {
          recover(rs: Uint8Array, recid: number, z: Uint8Array): Point65 {
            if (rs.length !== 64 || z.length !== 32 || !Number.isInteger(recid) || recid < 0 || recid > 3) {
              throw new RangeError('recovery takes r || s (64 bytes), a recovery id in [0, 3] and 32 bytes');
            }
            if (recSigParse(ctx, recSigStruct, rs, recid) !== 1) throw checked(new RangeError('libsecp256k1 refused the recoverable signature: r or s not below n'));
            if (recover(ctx, pkOut, recSigStruct, z) !== 1) throw checked(new RangeError('libsecp256k1: no point recovered'));
            return checked(serialized(pkOut));
          },
        }
      : {}),
    ...(xonlyParse && schnorrVerify
      ? {
          verifySchnorr(sig: Uint8Array, msg: Uint8Array, xOnly: Uint8Array): boolean {
            if (sig.length !== 64 || xOnly.length !== 32) return false;
            if (xonlyParse(ctx, xonlyStruct, xOnly) !== 1) return checked(false);
            return checked(schnorrVerify(ctx, sig, msg, msg.length, xonlyStruct) === 1);
          },
        }
      : {}),
    ecdsaSign(digest, secretKey) {
      if (digest.length !== 32 || secretKey.length !== 32) throw new RangeError('ECDSA signs a 32-byte digest with a 32-byte key');
      let ok: boolean;
      try {
        ok = ecdsaSign(ctx, sigStruct, digest, scalar(secretKey), null, null) === 1;
      } finally {
        K.fill(0);
      }
      if (!ok) throw checked(new RangeError('libsecp256k1 refused the secret key: 0 or not below n'));
      const out = new Uint8Array(64);
      sigSerialize(ctx, out, sigStruct);
      return checked(out);
    },
    ecdsaVerify(sig, digest, publicKey) {
      if (sig.length !== 64 || digest.length !== 32) return false;
      if (!(publicKey.length === 33 && (publicKey[0] === 2 || publicKey[0] === 3)) && !(publicKey.length === 65 && publicKey[0] === 4)) return false;
      if (sigParse(ctx, sigStruct, sig) !== 1 || !parsed(pkOut, publicKey)) return checked(false);
      return checked(ecdsaVerify(ctx, sigStruct, digest, pkOut) === 1);
    },
  };
  return bound;
}

/** A callback type, declared once per koffi (its names are global there; a second library reuses them). */
function prototype(koffi: Koffi, name: string, declaration: string): unknown {
  try {
    return koffi.type(name);
  } catch {
    return koffi.proto(declaration);
  }
}

/** n, big-endian: tweak_add answers 0 both for infinity and for a tweak ≥ n. */
const ORDER = bytes32(N);

function compare32(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}
