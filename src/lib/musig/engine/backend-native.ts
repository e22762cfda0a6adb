/**
 * The native backend: the `secp256k1` package's N-API binding to libsecp256k1 (it ships
 * prebuilt binaries). Loaded by ./select.ts from `secp256k1/bindings.js` directly, never
 * through the package's index, which silently falls back to a pure-JS `elliptic` build.
 * The binding has no BIP-340, so Verify is ./backend.ts's verifySchnorrWith on its
 * point operations. Its functions throw on infinity and on a zero scalar; those cases
 * are decided here before calling it.
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
};

export function nativeBackend(lib: NativeSecp256k1): Secp256k1Backend<Uncompressed> {
  return uncompressedBackend('native', {
    decompress: (bytes) => lib.publicKeyConvert(bytes, false),
    add: (a, b) => lib.publicKeyCombine([a, b], false),
    mul: (p, k) => lib.publicKeyTweakMul(p, k, false),
    mulBase: (k) => lib.publicKeyCreate(k, false),
    ...(lib.publicKeyTweakAdd ? { addMulBase: (p: Uint8Array, k: Uint8Array) => lib.publicKeyTweakAdd!(p, k, false) } : {}),
  });
}
