/**
 * Decorrelated multi-hop locks (Malavolta et al., "Anonymous Multi-Hop Locks", NDSS 2019;
 * scriptless-scripts multi-hop-locks.md). The payee's payment point Z = z·G is never
 * used as a lock: the sender draws y₀ … y_{n−1} and locks hop i's outgoing PTLC to
 *
 *     T_i = Z + (y₀ + … + y_i)·G
 *
 * so every PTLC on the route has a different point and no two hops can link them. Each
 * party gets a lock record {L, R, y} with R = L + y·G, which it checks before locking
 * anything (E_BAD_HOP_LOCK):
 *
 *     sender        L = Z,        R = T₀,       y = y₀     (keeps y₀: learns z = t₀ − y₀, the proof of payment)
 *     hop i (1…n−1) L = T_{i−1},  R = T_i,      y = y_i    (incoming L, outgoing R)
 *     payee         L = Z,        R = T_{n−1},  y = Σ y_j  (claims with t = z + Σ y_j)
 *
 * Settlement runs right to left: the payee claims with r = z + Σy, each hop extracts r_i
 * from its outgoing claim and completes its incoming one with l_i = r_i − y_i; the
 * sender, extracting t₀ from the first hop's claim, computes z = t₀ − y₀ and checks
 * z·G = Z. Only the sender learns z; each hop learns only its own y.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { equalBytes } from '../bytes.ts';
import { N, bytes32, int, mod } from '../musig/engine/scalar.ts';
import { RefusedError } from '../errors.ts';
import type { RandomSource } from '../random.ts';

const Point = secp256k1.Point;

export type LockRecord = {
  role: 'sender' | 'hop' | 'payee';
  /** 0 for the sender, 1…n−1 for the hops, n for the payee. */
  index: number;
  /** Incoming lock point (the payment point for sender and payee). */
  L: Uint8Array;
  /** Outgoing lock point (for the payee: the lock it claims). */
  R: Uint8Array;
  /** The secret tweak between them. */
  y: Uint8Array;
};

/** The lock records of a route with `hops` intermediate nodes, from the payee's point Z. */
export function planLocks(paymentPoint: Uint8Array, hops: number, random: RandomSource): LockRecord[] {
  if (!Number.isInteger(hops) || hops < 0 || hops > 26) throw new RefusedError('E_ROUTE_LENGTH', `a route has 0 to 26 intermediate hops, not ${hops}`);
  const Z = Point.fromBytes(paymentPoint);
  const ys: bigint[] = [];
  for (let i = 0; i <= hops; i++) {
    let y = 0n;
    while (y === 0n) y = mod(int(random.bytes(48, `ptlc/lock/${i}`)));
    ys.push(y);
  }
  const T: InstanceType<typeof Point>[] = [];
  let acc = Z;
  for (const y of ys) T.push((acc = acc.add(Point.BASE.multiply(y))));
  const out: LockRecord[] = [{ role: 'sender', index: 0, L: paymentPoint, R: T[0]!.toBytes(true), y: bytes32(ys[0]!) }];
  for (let i = 1; i <= hops; i++) out.push({ role: 'hop', index: i, L: T[i - 1]!.toBytes(true), R: T[i]!.toBytes(true), y: bytes32(ys[i]!) });
  out.push({ role: 'payee', index: hops + 1, L: paymentPoint, R: T[hops]!.toBytes(true), y: bytes32(mod(ys.reduce((a, b) => a + b, 0n))) });
  return out;
}

/** R = L + y·G, checked before a hop locks anything to R. */
export function checkLock(r: LockRecord): void {
  const y = int(r.y);
  if (y === 0n || y >= N) throw new RefusedError('E_BAD_HOP_LOCK', 'the lock tweak y is not a valid scalar');
  let ok = false;
  try {
    ok = Point.fromBytes(r.L).add(Point.BASE.multiply(y)).equals(Point.fromBytes(r.R));
  } catch {
    ok = false;
  }
  if (!ok) throw new RefusedError('E_BAD_HOP_LOCK', `hop ${r.index}: R ≠ L + y·G — the sender's lock record is inconsistent; lock nothing`);
}

/**
 * The other side's secret: from r (the outgoing claim's t, extracted) to l = r − y (the
 * incoming lock's); or, for the payee, from l = z to r = z + Σy. Checked against L or R.
 */
export function lockSecret(r: LockRecord, from: 'l' | 'r', secret: Uint8Array): Uint8Array {
  checkLock(r);
  const s = int(secret);
  const known = from === 'r' ? r.R : r.L;
  if (secret.length !== 32 || s === 0n || s >= N || !equalBytes(secp256k1.getPublicKey(secret, true), known)) {
    throw new RefusedError('E_WRONG_SECRET', `the secret given does not open ${from === 'r' ? 'R' : 'L'} of this lock record`);
  }
  const other = from === 'r' ? mod(s - int(r.y)) : mod(s + int(r.y));
  return bytes32(other);
}
