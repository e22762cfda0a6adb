/**
 * secp256k1 and BIP-340 written in test code, straight from the BIP-340 text: the
 * curve y² = x³ + 7 over F_p, points in Jacobian coordinates, plain double-and-add,
 * `lift_x`, tagged hashes (node:crypto's SHA-256) and Verify. Nothing here comes from
 * the product or from the libraries it signs with (@noble/curves, @scure/btc-signer):
 * this is the arithmetic of the independent verifier (./schnorr.ts) and of the keys it
 * derives (./keys.ts).
 *
 * Slow on purpose (no windows, no endomorphism, variable time): only public data and
 * test keys go through it. Checked against the BIP-340 vectors in ./independent.test.ts.
 */
import { createHash } from 'node:crypto';

export const P = 2n ** 256n - 2n ** 32n - 977n;
export const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const GX = 0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798n;
const GY = 0x483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8n;

/** An affine point; `null` is the point at infinity. */
export type Point = { x: bigint; y: bigint } | null;
export const G: Point = { x: GX, y: GY };

const mod = (a: bigint, m = P): bigint => {
  const r = a % m;
  return r >= 0n ? r : r + m;
};

function pow(base: bigint, exp: bigint, m = P): bigint {
  let result = 1n;
  let b = mod(base, m);
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
  }
  return result;
}

/** Modular inverse by the extended Euclidean algorithm. */
function inv(a: bigint, m = P): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new Error('not invertible');
  return mod(s0, m);
}

type Jacobian = { X: bigint; Y: bigint; Z: bigint };
const INFINITY: Jacobian = { X: 1n, Y: 1n, Z: 0n };

function double(p: Jacobian): Jacobian {
  if (p.Z === 0n || p.Y === 0n) return INFINITY;
  const YY = mod(p.Y * p.Y);
  const S = mod(4n * p.X * YY);
  const M = mod(3n * p.X * p.X);
  const X = mod(M * M - 2n * S);
  return { X, Y: mod(M * (S - X) - 8n * YY * YY), Z: mod(2n * p.Y * p.Z) };
}

function add(p: Jacobian, q: Jacobian): Jacobian {
  if (p.Z === 0n) return q;
  if (q.Z === 0n) return p;
  const Z1Z1 = mod(p.Z * p.Z);
  const Z2Z2 = mod(q.Z * q.Z);
  const U1 = mod(p.X * Z2Z2);
  const U2 = mod(q.X * Z1Z1);
  const S1 = mod(p.Y * q.Z * Z2Z2);
  const S2 = mod(q.Y * p.Z * Z1Z1);
  if (U1 === U2) return S1 === S2 ? double(p) : INFINITY;
  const H = mod(U2 - U1);
  const R = mod(S2 - S1);
  const HH = mod(H * H);
  const HHH = mod(H * HH);
  const X = mod(R * R - HHH - 2n * U1 * HH);
  return { X, Y: mod(R * (U1 * HH - X) - S1 * HHH), Z: mod(H * p.Z * q.Z) };
}

const toJacobian = (p: Point): Jacobian => (p === null ? INFINITY : { X: p.x, Y: p.y, Z: 1n });

function toAffine(p: Jacobian): Point {
  if (p.Z === 0n) return null;
  const zi = inv(p.Z);
  const zi2 = mod(zi * zi);
  return { x: mod(p.X * zi2), y: mod(p.Y * zi2 * zi) };
}

export function pointAdd(a: Point, b: Point): Point {
  return toAffine(add(toJacobian(a), toJacobian(b)));
}

export function pointNegate(a: Point): Point {
  return a === null ? null : { x: a.x, y: mod(-a.y) };
}

/**
 * Results of the slow steps below, by their inputs: tests derive the same keys and outputs
 * over and over (a property re-derives each HTLC output after every step), and a product
 * of the same point and scalar is the same point. Points are frozen, so a cached one cannot
 * be changed by a caller; each cache is emptied when full (a bound, not a policy).
 */
const CACHE_LIMIT = 20_000;
function remembered<K, V>(cache: Map<K, V>, key: K, compute: () => V): V {
  const hit = cache.get(key);
  if (hit !== undefined || cache.has(key)) return hit as V;
  const value = compute();
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, value);
  return value;
}
const frozen = (p: Point): Point => (p === null ? null : Object.freeze(p));
const products = new Map<string, Point>();
const lifted = new Map<bigint, Point>();
let G_DOUBLINGS: Jacobian[] | undefined;

/** k·A by double-and-add (k is reduced mod n first). */
export function pointMul(a: Point, k: bigint): Point {
  return remembered(products, a === null ? `∞ ${k}` : `${a.x} ${a.y} ${k}`, () => frozen(multiply(a, k)));
}

function multiply(a: Point, k: bigint): Point {
  let e = mod(k, N);
  let acc = INFINITY;
  // For G the successive doublings below are always the same 256 points: computed once, in
  // the same way (the table is exactly the `addend`s of the loop), so only the additions remain.
  const doublings = a !== null && a.x === GX && a.y === GY ? gDoublings() : undefined;
  let addend = toJacobian(a);
  for (let i = 0; e > 0n; i++) {
    if (e & 1n) acc = add(acc, doublings ? doublings[i]! : addend);
    if (!doublings) addend = double(addend);
    e >>= 1n;
  }
  return toAffine(acc);
}

function gDoublings(): Jacobian[] {
  if (!G_DOUBLINGS) {
    G_DOUBLINGS = [toJacobian(G)];
    for (let i = 1; i < 256; i++) G_DOUBLINGS.push(double(G_DOUBLINGS[i - 1]!));
  }
  return G_DOUBLINGS;
}

export const hasEvenY = (p: { y: bigint }): boolean => p.y % 2n === 0n;

/** BIP-340 lift_x: the point with x coordinate x and an even y, or null if there is none. */
export function liftX(x: bigint): Point {
  return remembered(lifted, x, () => frozen(lift(x)));
}

function lift(x: bigint): Point {
  if (x >= P) return null;
  const c = mod(x * x * x + 7n);
  const y = pow(c, (P + 1n) / 4n);
  if (mod(y * y) !== c) return null;
  return { x, y: hasEvenY({ y }) ? y : P - y };
}

/** BIP-327 cpoint: a 33-byte compressed point, or null when it is not one. */
export function decodeCompressed(bytes: Uint8Array): Point {
  if (bytes.length !== 33 || (bytes[0] !== 2 && bytes[0] !== 3)) return null;
  const p = liftX(int(bytes.subarray(1)));
  if (p === null) return null;
  return bytes[0] === 2 ? p : pointNegate(p);
}

export function encodeCompressed(p: Point): Uint8Array {
  if (p === null) throw new Error('the point at infinity has no encoding');
  const out = new Uint8Array(33);
  out[0] = hasEvenY(p) ? 2 : 3;
  out.set(bytes32(p.x), 1);
  return out;
}

export const xOnly = (p: Point): Uint8Array => {
  if (p === null) throw new Error('the point at infinity has no x coordinate');
  return bytes32(p.x);
};

export function int(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

export function bytes32(n: bigint): Uint8Array {
  if (n < 0n || n >= 2n ** 256n) throw new Error('not a 256-bit number');
  return Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex'));
}

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** BIP-340 hash_tag(x) = SHA256(SHA256(tag) || SHA256(tag) || x). */
export function taggedHash(tag: string, ...parts: Uint8Array[]): Uint8Array {
  const t = sha256(new TextEncoder().encode(tag));
  return sha256(t, t, ...parts);
}

/**
 * BIP-340 Verify(pk, m, sig), step by step as the BIP writes it. Any message length
 * (BIP-340 since 2022-12); malformed lengths are simply not valid signatures.
 */
export function bip340Verify(sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean {
  if (sig.length !== 64 || pk.length !== 32) return false;
  const Pk = liftX(int(pk));
  if (Pk === null) return false;
  const r = int(sig.subarray(0, 32));
  if (r >= P) return false;
  const s = int(sig.subarray(32, 64));
  if (s >= N) return false;
  const e = mod(int(taggedHash('BIP0340/challenge', sig.subarray(0, 32), pk, msg)), N);
  const R = pointAdd(pointMul(G, s), pointNegate(pointMul(Pk, e)));
  if (R === null || !hasEvenY(R)) return false;
  return R.x === r;
}

/**
 * BIP-340 Sign(sk, m) with auxiliary randomness `aux`, step by step as the BIP writes it — for a
 * test that plays a signer (a faulty mint) without the product's signing path or its library.
 */
export function bip340Sign(msg: Uint8Array, secretKey: Uint8Array, aux: Uint8Array = new Uint8Array(32)): Uint8Array {
  const d0 = int(secretKey);
  if (secretKey.length !== 32 || d0 === 0n || d0 >= N) throw new Error('secret key out of range');
  const Pk = pointMul(G, d0)!;
  const d = hasEvenY(Pk) ? d0 : N - d0;
  const t = bytes32(d ^ int(taggedHash('BIP0340/aux', aux)));
  const k0 = mod(int(taggedHash('BIP0340/nonce', t, xOnly(Pk), msg)), N);
  if (k0 === 0n) throw new Error('k = 0');
  const R = pointMul(G, k0)!;
  const k = hasEvenY(R) ? k0 : N - k0;
  const e = mod(int(taggedHash('BIP0340/challenge', xOnly(R), xOnly(Pk), msg)), N);
  return Uint8Array.from([...xOnly(R), ...bytes32(mod(k + e * d, N))]);
}

/** The public key of a secret key (33-byte compressed), for keys this test holds. */
export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  const d = int(secretKey);
  if (secretKey.length !== 32 || d === 0n || d >= N) throw new Error('secret key out of range');
  return encodeCompressed(pointMul(G, d));
}
