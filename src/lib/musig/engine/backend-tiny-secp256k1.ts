/**
 * The WASM backend: tiny-secp256k1 2.x, libsecp256k1 compiled to WebAssembly. An
 * optional dependency, loaded by ./select.ts with a dynamic import; this module only
 * adapts an already loaded instance (so it imports nothing of tiny-secp256k1 and type
 * checks without it installed).
 *
 * Gaps filled here: tiny-secp256k1 has no point at infinity (its functions return null
 * or throw), takes scalars only in [1, n), and verifies BIP-340 only for 32-byte
 * messages and signatures with r < n (BIP-340 allows r < p). Those cases go through
 * ./backend.ts's verifySchnorrWith, on this backend's own point operations.
 */
import { verifySchnorrWith, type Secp256k1Backend } from './backend.ts';
import { N, int } from './scalar.ts';
import { uncompressedBackend, type Uncompressed } from './uncompressed.ts';

/** The part of tiny-secp256k1's API used here. */
export type TinySecp256k1 = {
  pointCompress(p: Uint8Array, compressed?: boolean): Uint8Array;
  pointAdd(a: Uint8Array, b: Uint8Array, compressed?: boolean): Uint8Array | null;
  pointMultiply(p: Uint8Array, tweak: Uint8Array, compressed?: boolean): Uint8Array | null;
  pointFromScalar(d: Uint8Array, compressed?: boolean): Uint8Array | null;
  pointAddScalar?(p: Uint8Array, tweak: Uint8Array, compressed?: boolean): Uint8Array | null;
  verifySchnorr(h: Uint8Array, Q: Uint8Array, signature: Uint8Array): boolean;
  recover?(h: Uint8Array, signature: Uint8Array, recoveryId: number, compressed?: boolean): Uint8Array | null;
};

export function tinySecp256k1Backend(lib: TinySecp256k1): Secp256k1Backend<Uncompressed> {
  return uncompressedBackend(
    'tiny-secp256k1',
    {
      decompress: (bytes) => lib.pointCompress(bytes, false),
      add: (a, b) => lib.pointAdd(a, b, false),
      mul: (p, k) => lib.pointMultiply(p, k, false),
      mulBase: (k) => lib.pointFromScalar(k, false)!,
      ...(lib.pointAddScalar
        ? {
            addMulBase: (p: Uint8Array, k: Uint8Array) => {
              const sum = lib.pointAddScalar!(p, k, false);
              if (sum === null) throw new RangeError('infinity');
              return sum;
            },
          }
        : {}),
      ...(lib.recover
        ? {
            recover: (rs: Uint8Array, recid: number, z: Uint8Array) => {
              const p = lib.recover!(z, rs, recid, false);
              if (p === null) throw new RangeError('no point recovered');
              return p;
            },
          }
        : {}),
    },
    (ec, sig, msg, pk) => {
      if (sig.length !== 64 || pk.length !== 32) return false;
      if (msg.length !== 32 || int(sig.subarray(0, 32)) >= N) return verifySchnorrWith(ec, sig, msg, pk);
      try {
        return lib.verifySchnorr(msg, pk, sig);
      } catch {
        return false; // s ≥ n, or pk not an x coordinate on the curve
      }
    },
  );
}
