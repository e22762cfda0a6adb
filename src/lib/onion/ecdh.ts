/**
 * BOLT 4's ECDH: shared_secret = SHA256(compressed(k·P)) for a SECRET k (session key
 * chain, node key, path key), and k·P for the blindings (b is derived from the shared
 * secret, so it is treated as secret too). The backend interface's `mul` is for public
 * scalars and variable time on every backend (noble's multiplyUnsafe, libsecp256k1's
 * pubkey_tweak_mul), so a secret scalar goes only to a constant-time multiplication:
 * the backend's `ecdhSha256` where it has one, else ../musig/engine/secret-mul.ts's
 * `secretMul` (the backend's `mulSecret`, or noble's constant-time `multiply`).
 */
import type { Secp256k1Backend } from '../musig/engine/backend.ts';
import { N, bytes32, int } from '../musig/engine/scalar.ts';
import { nobleSecretMul } from '../musig/engine/secret-mul.ts';
import { sha256 } from '../hash.ts';

/**
 * SHA256(compressed(k·P)) for a secret key k given as its 32 bytes, in [1, n) (callers
 * check): the backend's one call when it has one (a node key goes to it as stored, no
 * integer made of it), else a constant-time k·P and SHA-256 of its encoding.
 */
export function sharedSecret<P>(ec: Secp256k1Backend<P>, p: P, k: Uint8Array): Uint8Array {
  if (ec.ecdhSha256) return ec.ecdhSha256(p, k);
  const s = int(k);
  if (k.length !== 32 || s === 0n || s >= N) throw new RangeError('a secret key is 32 bytes, an integer in [1, n)');
  if (ec.mulSecret) return sha256(ec.pointToBytes(ec.mulSecret(p, s)!));
  return sha256(nobleSecretMul(ec, p, s).toBytes(true));
}

/** sharedSecret for a secret held as an integer in [1, n) (the sender's key chain): its bytes made for the call, wiped after. */
export function sharedSecretOf<P>(ec: Secp256k1Backend<P>, p: P, k: bigint): Uint8Array {
  const d = bytes32(k);
  try {
    return sharedSecret(ec, p, d);
  } finally {
    d.fill(0);
  }
}
