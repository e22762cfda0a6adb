/**
 * The native backend: the `secp256k1` package's N-API binding to libsecp256k1 (it ships
 * prebuilt binaries). Loaded by ./select.ts from `secp256k1/bindings.js` directly, never
 * through the package's index, which silently falls back to a pure-JS `elliptic` build.
 * The binding has no BIP-340 and no a·P + b·G, but its ECDSA recovery is one: Verify and
 * s·G − c·P are each one recovery (./uncompressed.ts's recoverMulAdd). Its functions throw on infinity and on a zero scalar; those cases
 * are decided here before calling it.
 *
 * Its k·P (publicKeyTweakMul) is libsecp256k1's variable-time secp256k1_ecmult: for
 * public scalars. Secret ones go through its `ecdh` (secp256k1_ecmult_const, constant
 * time) — with a hash function of ours that keeps x and y for `mulSecret`, with
 * libsecp256k1's default hash (SHA256 of the compressed point) for `ecdhSha256`.
 */
import type { Secp256k1Backend } from './backend.ts';
import { uncompressedBackend, type Uncompressed } from './uncompressed.ts';

/** The part of the `secp256k1` package's API used here. */
export type NativeSecp256k1 = {
  publicKeyConvert(pubkey: Uint8Array, compressed?: boolean): Uint8Array;
  publicKeyCombine(pubkeys: Uint8Array[], compressed?: boolean): Uint8Array;
  publicKeyTweakMul(pubkey: Uint8Array, tweak: Uint8Array, compressed?: boolean): Uint8Array;
  publicKeyCreate(seckey: Uint8Array, compressed?: boolean): Uint8Array;
  publicKeyTweakAdd?(pubkey: Uint8Array, tweak: Uint8Array, compressed?: boolean): Uint8Array;
  ecdsaRecover?(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed?: boolean): Uint8Array;
  ecdh?(
    pubkey: Uint8Array, seckey: Uint8Array,
    options?: { hashfn?: (x: Uint8Array, y: Uint8Array) => Uint8Array; xbuf?: Uint8Array; ybuf?: Uint8Array },
    output?: Uint8Array,
  ): Uint8Array;
};

/**
 * Scalars reach the binding through one off-heap scratch, copied in and wiped after the call:
 * a typed array of 64 bytes or fewer lives on V8's heap, and the binding asking for its
 * address moves it to a backing store of its own (an allocation per fresh scalar); a
 * 32-byte copy costs nanoseconds. ECDH's 32-byte output comes back the same way.
 */
type WithScalar = <T>(k: Uint8Array, f: (scratch: Uint8Array) => T) => T;

function scalarScratch(): WithScalar {
  const K = new Uint8Array(96).subarray(0, 32);
  return (k, f) => {
    if (k.length !== 32) throw new RangeError('a scalar is 32 bytes');
    K.set(k);
    try {
      return f(K);
    } finally {
      K.fill(0);
    }
  };
}

export function nativeBackend(lib: NativeSecp256k1): Secp256k1Backend<Uncompressed> {
  const withScalar = scalarScratch();
  return uncompressedBackend('native', {
    decompress: (bytes) => lib.publicKeyConvert(bytes, false),
    add: (a, b) => lib.publicKeyCombine([a, b], false),
    mul: (p, k) => withScalar(k, (K) => lib.publicKeyTweakMul(p, K, false)),
    mulBase: (k) => withScalar(k, (K) => lib.publicKeyCreate(K, false)),
    ...(lib.publicKeyTweakAdd ? { addMulBase: (p: Uint8Array, k: Uint8Array) => withScalar(k, (K) => lib.publicKeyTweakAdd!(p, K, false)) } : {}),
    ...(lib.ecdh ? nativeEcdh(lib.ecdh.bind(lib), withScalar) : {}),
    ...(lib.ecdsaRecover ? { recover: (rs: Uint8Array, recid: number, z: Uint8Array) => lib.ecdsaRecover!(rs, recid, z, false) } : {}),
  });
}

function nativeEcdh(ecdh: NonNullable<NativeSecp256k1['ecdh']>, withScalar: WithScalar) {
  // The hash function's output is empty (the binding copies outputlen bytes of what it returns).
  const none = new Uint8Array(0);
  const xbuf = new Uint8Array(32);
  const ybuf = new Uint8Array(32);
  // ecdhSha256's output, off-heap like the scratch scalar, wiped after each call.
  const secret = new Uint8Array(96).subarray(0, 32);
  const sha256Options = {};
  let target = none;
  let hashed = false;
  const options = {
    hashfn: (x: Uint8Array, y: Uint8Array) => {
      target.set(x, 1);
      target.set(y, 33);
      hashed = true;
      return none;
    },
    xbuf,
    ybuf,
  };
  return {
    mulConst(p: Uncompressed, k: Uint8Array): Uncompressed {
      const out = (target = new Uint8Array(65));
      out[0] = 4;
      hashed = false;
      try {
        withScalar(k, (K) => ecdh(p, K, options, none));
      } finally {
        target = none;
        xbuf.fill(0);
        ybuf.fill(0);
      }
      // A binding that returned without calling the hash function left 04 || 0…0: no point.
      if (!hashed) throw new Error('secp256k1 binding: ecdh returned without calling its hash function');
      return out;
    },
    ecdhSha256(p: Uncompressed, k: Uint8Array): Uint8Array {
      try {
        withScalar(k, (K) => ecdh(p, K, sha256Options, secret));
        return secret.slice(); // 32 bytes: on V8's heap
      } finally {
        secret.fill(0);
      }
    },
  };
}
