/**
 * BOLT 3 "Key Derivation": the per-commitment keys every commitment's scripts use.
 *
 *     pubkey  = basepoint + SHA256(per_commitment_point || basepoint) * G
 *     privkey = basepoint_secret + SHA256(per_commitment_point || basepoint)
 *
 * gives `localpubkey`, `remotepubkey`, `local_htlcpubkey`, `remote_htlcpubkey`,
 * `local_delayedpubkey` and `remote_delayedpubkey` (and their secrets), and
 *
 *     revocationpubkey = revocation_basepoint * SHA256(revocation_basepoint || per_commitment_point)
 *                      + per_commitment_point * SHA256(per_commitment_point || revocation_basepoint)
 *
 * whose secret needs BOTH the revocation basepoint secret (held by the node that will
 * punish) and the per-commitment secret (held by the node that broadcasts, revealed
 * only to revoke): neither party alone can spend a revocation path until the
 * commitment is revoked.
 *
 * Every format here has option_static_remotekey, so `remotepubkey` is the remote
 * `payment_basepoint` itself (./commitment-keys.ts); `derivePubkey` still serves a
 * caller that needs the pre-static form. A hash that is not a valid scalar, or a sum
 * at infinity, is refused as libsecp256k1's tweak functions refuse it (never seen:
 * probability ~2^-128).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes } from '../bytes.ts';
import { bytesToBigInt } from '../keys/keys.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';

const Point = secp256k1.Point;
type Point = InstanceType<typeof Point>;
const N = Point.Fn.ORDER;

function point(bytes: Uint8Array, field: string): Point {
  if (bytes.length !== 33) throw new MalformedInputError('E_BAD_PUBKEY', `${field} must be a 33-byte compressed point`);
  try {
    return Point.fromBytes(bytes);
  } catch {
    throw new MalformedInputError('E_BAD_PUBKEY', `${field} is not a point on secp256k1`);
  }
}

function scalar(bytes: Uint8Array, field: string): bigint {
  const k = bytes.length === 32 ? bytesToBigInt(bytes) : 0n;
  if (k <= 0n || k >= N) throw new MalformedInputError('E_BAD_SECRET_KEY', `${field} must be a 32-byte scalar in [1, n-1]`);
  return k;
}

/** SHA256(a || b) as a scalar; a hash ≥ n is refused like libsecp256k1's tweak. */
function tweak(a: Uint8Array, b: Uint8Array): bigint {
  const t = bytesToBigInt(sha256(concatBytes(a, b)));
  if (t >= N) throw new RefusedError('E_BAD_DERIVED_KEY', 'the key derivation hash is not a valid scalar');
  return t;
}

function scalarBytes(k: bigint): Uint8Array {
  if (k === 0n) throw new RefusedError('E_BAD_DERIVED_KEY', 'the derived secret key is zero');
  return Point.Fn.toBytes(k);
}

function pointBytes(p: Point): Uint8Array {
  if (p.is0()) throw new RefusedError('E_BAD_DERIVED_KEY', 'the derived public key is the point at infinity');
  return p.toBytes(true);
}

/** `pubkey = basepoint + SHA256(per_commitment_point || basepoint) * G`. */
export function derivePubkey(basepoint: Uint8Array, perCommitmentPoint: Uint8Array): Uint8Array {
  const base = point(basepoint, 'basepoint');
  point(perCommitmentPoint, 'per_commitment_point');
  return pointBytes(base.add(Point.BASE.multiply(tweak(perCommitmentPoint, basepoint))));
}

/** `privkey = basepoint_secret + SHA256(per_commitment_point || basepoint)`. */
export function derivePrivkey(basepointSecret: Uint8Array, perCommitmentPoint: Uint8Array): Uint8Array {
  const secret = scalar(basepointSecret, 'basepoint secret');
  const basepoint = Point.BASE.multiply(secret).toBytes(true);
  return scalarBytes(Point.Fn.add(secret, tweak(perCommitmentPoint, basepoint)));
}

/**
 * `revocationpubkey = revocation_basepoint * SHA256(revocation_basepoint || per_commitment_point)
 * + per_commitment_point * SHA256(per_commitment_point || revocation_basepoint)`.
 */
export function deriveRevocationPubkey(revocationBasepoint: Uint8Array, perCommitmentPoint: Uint8Array): Uint8Array {
  const R = point(revocationBasepoint, 'revocation_basepoint');
  const P = point(perCommitmentPoint, 'per_commitment_point');
  const a = R.multiplyUnsafe(tweak(revocationBasepoint, perCommitmentPoint));
  const b = P.multiplyUnsafe(tweak(perCommitmentPoint, revocationBasepoint));
  return pointBytes(a.add(b));
}

/**
 * `revocationprivkey = revocation_basepoint_secret * SHA256(revocation_basepoint || per_commitment_point)
 * + per_commitment_secret * SHA256(per_commitment_point || revocation_basepoint)`.
 */
export function deriveRevocationPrivkey(revocationBasepointSecret: Uint8Array, perCommitmentSecret: Uint8Array): Uint8Array {
  const r = scalar(revocationBasepointSecret, 'revocation basepoint secret');
  const p = scalar(perCommitmentSecret, 'per_commitment_secret');
  const revocationBasepoint = Point.BASE.multiply(r).toBytes(true);
  const perCommitmentPoint = Point.BASE.multiply(p).toBytes(true);
  const { Fn } = Point;
  return scalarBytes(
    Fn.add(Fn.mul(r, tweak(revocationBasepoint, perCommitmentPoint)), Fn.mul(p, tweak(perCommitmentPoint, revocationBasepoint))),
  );
}

/** The public point of a 32-byte secret (a basepoint of its secret, a per-commitment point of its secret). */
export function pointOf(secret: Uint8Array, field = 'secret'): Uint8Array {
  return Point.BASE.multiply(scalar(secret, field)).toBytes(true);
}
