/**
 * The native backend: the `secp256k1` package's N-API binding to libsecp256k1 (it ships
 * prebuilt binaries). Loaded by ./select.ts from `secp256k1/bindings.js` directly, never
 * through the package's index, which silently falls back to a pure-JS `elliptic` build.
 * The binding has no BIP-340, so Verify is ./backend.ts's verifySchnorrWith on its
 * point operations. Its functions throw on infinity and on a zero scalar; those cases
 * are decided here before calling it.
 */
import { verifySchnorrWith, type Secp256k1Backend } from './backend.ts';
import { bytes32 } from './scalar.ts';
import { areOpposite, compress, equals, hasEvenY, isCompressedShape, negate, type Uncompressed } from './uncompressed.ts';

/** The part of the `secp256k1` package's API used here. */
export type NativeSecp256k1 = {
  publicKeyConvert(pubkey: Uint8Array, compressed?: boolean): Uint8Array;
  publicKeyCombine(pubkeys: Uint8Array[], compressed?: boolean): Uint8Array;
  publicKeyTweakMul(pubkey: Uint8Array, tweak: Uint8Array, compressed?: boolean): Uint8Array;
  publicKeyCreate(seckey: Uint8Array, compressed?: boolean): Uint8Array;
};

export function nativeBackend(lib: NativeSecp256k1): Secp256k1Backend<Uncompressed> {
  const ec: Secp256k1Backend<Uncompressed> = {
    name: 'native',
    pointFromBytes(bytes) {
      if (!isCompressedShape(bytes)) return undefined;
      try {
        return lib.publicKeyConvert(bytes, false);
      } catch {
        return undefined;
      }
    },
    liftX(x) {
      if (x.length !== 32) return undefined;
      const c = new Uint8Array(33);
      c[0] = 2;
      c.set(x, 1);
      return ec.pointFromBytes(c);
    },
    pointToBytes: compress,
    hasEvenY,
    equals,
    negate,
    add(a, b) {
      if (a === null) return b;
      if (b === null) return a;
      if (areOpposite(a, b)) return null;
      return lib.publicKeyCombine([a, b], false);
    },
    mul: (p, k) => (k === 0n ? null : lib.publicKeyTweakMul(p, bytes32(k), false)),
    mulBase(k) {
      if (k === 0n) return null;
      const d = bytes32(k);
      try {
        return lib.publicKeyCreate(d, false);
      } finally {
        d.fill(0);
      }
    },
    verifySchnorr: (sig, msg, pk) => verifySchnorrWith(ec, sig, msg, pk),
  };
  return ec;
}
