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
 * Point arithmetic goes through the project's secp256k1 backends
 * (../musig/engine/backend.ts: noble by default, libsecp256k1 in WASM or native when
 * selected): a commitment derives five keys, and with noble that costs more than
 * signing it. Decoded basepoints are cached (public values only). A hash that is not a
 * valid scalar, or a sum at infinity, is refused as libsecp256k1's tweak functions
 * refuse it (never seen: probability ~2^-128).
 */
import { sha256 } from '../hash.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { Lru, keyOf } from '../lru.ts';
import { mulPlusMul, plusMulBase, type Secp256k1Backend } from '../musig/engine/backend.ts';
import { nobleBackend } from '../musig/engine/backend-noble.ts';
import { N, bytes32, int, mod } from '../musig/engine/scalar.ts';

/** Any backend: its point type stays inside this module. */
export type Ec = Secp256k1Backend<unknown>;

const decoded = new WeakMap<Ec, Lru<unknown>>();

/** A compressed point through `ec`, not cached; malformed when it is not on the curve. */
function parsePoint(ec: Ec, bytes: Uint8Array, field: string): unknown {
  const p = bytes.length === 33 && (bytes[0] === 2 || bytes[0] === 3) ? ec.pointFromBytes(bytes) : undefined;
  if (p === undefined) throw new MalformedInputError('E_BAD_PUBKEY', `${field} is not a 33-byte compressed point on secp256k1`);
  return p;
}

/** A compressed point through `ec`, cached; malformed when it is not on the curve. */
export function decodePoint(ec: Ec, bytes: Uint8Array, field: string): unknown {
  let cache = decoded.get(ec);
  if (!cache) decoded.set(ec, (cache = new Lru<unknown>(256)));
  const key = bytes.length === 33 ? keyOf([bytes]) : '';
  const hit = key ? cache.get(key) : undefined;
  if (hit !== undefined) return hit;
  return cache.set(key, parsePoint(ec, bytes, field));
}

/**
 * A point the derivations use both ways: its 33 bytes (which they hash) and the backend's
 * decoding of them (which they add and multiply).
 */
export type KeyPoint = { readonly bytes: Uint8Array; readonly point: unknown };

function scalar(bytes: Uint8Array, field: string): bigint {
  const k = bytes.length === 32 ? int(bytes) : 0n;
  if (k <= 0n || k >= N) throw new MalformedInputError('E_BAD_SECRET_KEY', `${field} must be a 32-byte scalar in [1, n-1]`);
  return k;
}

/** SHA256(a || b) as a scalar; a hash ≥ n is refused like libsecp256k1's tweak. */
function tweak(a: Uint8Array, b: Uint8Array): bigint {
  const t = int(sha256(a, b));
  if (t >= N) throw new RefusedError('E_BAD_DERIVED_KEY', 'the key derivation hash is not a valid scalar');
  return t;
}

function scalarBytes(k: bigint): Uint8Array {
  if (k === 0n) throw new RefusedError('E_BAD_DERIVED_KEY', 'the derived secret key is zero');
  return bytes32(k);
}

function pointBytes(ec: Ec, p: unknown): Uint8Array {
  if (p === null) throw new RefusedError('E_BAD_DERIVED_KEY', 'the derived public key is the point at infinity');
  return ec.pointToBytes(p);
}

/** `pubkey = basepoint + SHA256(per_commitment_point || basepoint) * G`. */
export function derivePubkey(basepoint: Uint8Array, perCommitmentPoint: Uint8Array, ec: Ec = nobleBackend): Uint8Array {
  const base = { bytes: basepoint, point: decodePoint(ec, basepoint, 'basepoint') };
  return derivePubkeyAt(ec, base, { bytes: perCommitmentPoint, point: decodePoint(ec, perCommitmentPoint, 'per_commitment_point') });
}

/** derivePubkey of points already decoded (a channel's basepoints are decoded once: ./channel.ts). */
export function derivePubkeyAt(ec: Ec, basepoint: KeyPoint, perCommitmentPoint: KeyPoint): Uint8Array {
  const t = tweak(perCommitmentPoint.bytes, basepoint.bytes); // a public hash: one variable-time call where the backend has it
  return pointBytes(ec, plusMulBase(ec, basepoint.point, t));
}

/**
 * `privkey = basepoint_secret + SHA256(per_commitment_point || basepoint)`. A caller that
 * has already checked `basepoint` to be the secret's point may pass it to save a
 * multiplication; otherwise it is computed.
 */
export function derivePrivkey(basepointSecret: Uint8Array, perCommitmentPoint: Uint8Array, ec: Ec = nobleBackend, knownBasepoint?: Uint8Array): Uint8Array {
  const secret = scalar(basepointSecret, 'basepoint secret');
  const basepoint = knownBasepoint ?? pointBytes(ec, ec.mulBase(secret));
  return scalarBytes(mod(secret + tweak(perCommitmentPoint, basepoint)));
}

/**
 * `revocationpubkey = revocation_basepoint * SHA256(revocation_basepoint || per_commitment_point)
 * + per_commitment_point * SHA256(per_commitment_point || revocation_basepoint)`.
 */
export function deriveRevocationPubkey(revocationBasepoint: Uint8Array, perCommitmentPoint: Uint8Array, ec: Ec = nobleBackend): Uint8Array {
  const R = { bytes: revocationBasepoint, point: decodePoint(ec, revocationBasepoint, 'revocation_basepoint') };
  return deriveRevocationPubkeyAt(ec, R, { bytes: perCommitmentPoint, point: decodePoint(ec, perCommitmentPoint, 'per_commitment_point') });
}

/** deriveRevocationPubkey of points already decoded. */
export function deriveRevocationPubkeyAt(ec: Ec, revocationBasepoint: KeyPoint, perCommitmentPoint: KeyPoint): Uint8Array {
  // Both scalars are public hashes: the backends' variable-time k·P is allowed, in one
  // multi-multiplication where the backend has one (noble).
  const a = tweak(revocationBasepoint.bytes, perCommitmentPoint.bytes);
  const b = tweak(perCommitmentPoint.bytes, revocationBasepoint.bytes);
  return pointBytes(ec, mulPlusMul(ec, revocationBasepoint.point, a, perCommitmentPoint.point, b));
}

/**
 * `revocationprivkey = revocation_basepoint_secret * SHA256(revocation_basepoint || per_commitment_point)
 * + per_commitment_secret * SHA256(per_commitment_point || revocation_basepoint)`.
 */
export function deriveRevocationPrivkey(revocationBasepointSecret: Uint8Array, perCommitmentSecret: Uint8Array, ec: Ec = nobleBackend): Uint8Array {
  const r = scalar(revocationBasepointSecret, 'revocation basepoint secret');
  const p = scalar(perCommitmentSecret, 'per_commitment_secret');
  const revocationBasepoint = pointBytes(ec, ec.mulBase(r));
  const perCommitmentPoint = pointBytes(ec, ec.mulBase(p));
  return scalarBytes(mod(r * tweak(revocationBasepoint, perCommitmentPoint) + p * tweak(perCommitmentPoint, revocationBasepoint)));
}

/** The public point of a 32-byte secret (a basepoint of its secret, a per-commitment point of its secret). */
export function pointOf(secret: Uint8Array, field = 'secret', ec: Ec = nobleBackend): Uint8Array {
  return pointBytes(ec, ec.mulBase(scalar(secret, field)));
}
