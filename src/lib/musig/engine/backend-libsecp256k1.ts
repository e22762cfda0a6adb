/**
 * The system-library backend: libsecp256k1 as the operating system ships it, through
 * koffi (./libsecp256k1.ts binds it). A current release where the `native` package
 * bundles a 2019 snapshot: faster k·G and k·P (safegcd inversion, newer ecmult), and
 * modules the old one lacks — BIP-340 Verify is the library's own
 * secp256k1_schnorrsig_verify when the build has the schnorrsig module (0.2.0 and later
 * enable it by default), else ./backend.ts's verifySchnorrWith; ECDH
 * (secp256k1_ecdh: constant time) gives BOLT 4's shared secret and the secret k·P.
 *
 * Points are 65-byte uncompressed encodings, as in the other libsecp256k1 backends
 * (./uncompressed.ts decides infinity and zero scalars before the library sees them).
 */
import { verifySchnorrWith, type Secp256k1Backend } from './backend.ts';
import type { Libsecp256k1 } from './libsecp256k1.ts';
import { uncompressedBackend, type Uncompressed } from './uncompressed.ts';

export function libsecp256k1Backend(lib: Libsecp256k1): Secp256k1Backend<Uncompressed> {
  const verify = lib.verifySchnorr?.bind(lib);
  return uncompressedBackend(
    'libsecp256k1',
    {
      decompress(bytes) {
        const p = lib.decompress(bytes);
        if (p === undefined) throw new RangeError('not a point');
        return p;
      },
      add: (a, b) => lib.add(a, b) ?? null,
      mul: (p, k) => lib.mul(p, k),
      mulConst: (p, k) => lib.mulConst(p, k),
      mulBase: (k) => lib.mulBase(k),
      addMulBase(p, k) {
        const sum = lib.addMulBase(p, k);
        if (sum === undefined) throw new RangeError('infinity');
        return sum;
      },
      ecdhSha256: (p, k) => lib.ecdhSha256(p, k),
      ...(lib.recover ? { recover: (rs: Uint8Array, recid: number, z: Uint8Array) => lib.recover!(rs, recid, z) } : {}),
    },
    verify ? (_ec, sig, msg, pk) => verify(sig, msg, pk) : (ec, sig, msg, pk) => verifySchnorrWith(ec, sig, msg, pk),
  );
}
