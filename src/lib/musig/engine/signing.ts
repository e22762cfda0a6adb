/**
 * BIP-327 "Session Context" (GetSessionValues, GetSessionKeyAggCoeff), "Signing"
 * (Sign), "Partial Signature Verification" (PartialSigVerify, PartialSigVerifyInternal),
 * "Partial Signature Aggregation" (PartialSigAgg) and "Deterministic and Stateless
 * Signing" (DeterministicSign), on any secp256k1 backend.
 *
 * A `SigningSession` computes the session values (Q, gacc, tacc, b, R, e) once; the
 * key-set work under them comes from the KeyAggCache. Sign runs the spec's optional
 * self-check (PartialSigVerifyInternal on its own output), as the reference backend did,
 * so a faulty computation never leaves as a partial signature — unless its caller aggregates
 * and verifies the final signature before anything leaves (`SignOptions`).
 */
import { concatBytes, equalBytes } from '../../bytes.ts';
import { baseMinusMul, plusMulBase, xBytes, type Secp256k1Backend } from './backend.ts';
import { Bip327Error, badArgument, invalidContribution } from './errors.ts';
import type { KeyAggCache, KeyGenContext, KeySet } from './key-aggregation.ts';
import { auxBlind, cbytesExt, decodeAggregateNonce, nonceAgg, type NonceAggCache } from './nonces.ts';
import { N, bytes32, int, mod, taggedScalar, uintBE } from './scalar.ts';

export type SessionContext = {
  aggnonce: Uint8Array;
  pubkeys: readonly Uint8Array[];
  tweaks: readonly Uint8Array[];
  isXonly: readonly boolean[];
  msg: Uint8Array;
  /**
   * An adaptor point T (33-byte compressed): the session signs for R1 + T instead of R1
   * (secp256k1-zkp's convention, ./adaptor.ts), so PartialSigAgg yields a pre-signature
   * that only t = log(T) completes. Absent: plain BIP-327, byte for byte.
   */
  adaptor?: Uint8Array;
};

/**
 * How Sign may be spared work by a caller that already holds the answers:
 * - `publicKey`: the signer's cbytes(d·G), computed when its key was loaded — Sign compares
 *   the secret nonce's key with it instead of computing d·G again;
 * - `selfCheck: false`: skip the optional PartialSigVerifyInternal of Sign's own output. Only
 *   for a caller that aggregates at once and verifies the BIP-340 signature before anything
 *   leaves (a faulty partial signature then fails that verification); engines may ignore it.
 */
export type SignOptions = { publicKey?: Uint8Array; selfCheck?: boolean };

/** What a signing session needs besides its inputs: the backend, its caches and G. */
export type EngineContext<P> = { ec: Secp256k1Backend<P>; keys: KeyAggCache<P>; nonces: NonceAggCache<P>; G: P };

export class SigningSession<P> {
  private readonly aggnonce: Uint8Array;
  private readonly keySet: KeySet<P>;
  private readonly keyGen: KeyGenContext<P>;
  private readonly b: bigint;
  private readonly R: P;
  private readonly e: bigint;

  constructor(private readonly ctx: EngineContext<P>, session: SessionContext) {
    const { ec } = ctx;
    // The aggregate nonce first, then the keys: the order in which blame was always given.
    // An aggregate this engine just made is not decoded again (two square roots on noble).
    const [R1plain, R2] = ctx.nonces.decoded(session.aggnonce) ?? decodeAggregateNonce(ec, session.aggnonce, 'aggnonce');
    this.aggnonce = Uint8Array.from(session.aggnonce);
    this.keySet = ctx.keys.keySet(session.pubkeys);
    this.keyGen = ctx.keys.keyGen(this.keySet, session.tweaks, session.isXonly);
    // With an adaptor point T, R1' = R1 + T enters the nonce coefficient and R.
    let R1 = R1plain;
    let coefNonce = this.aggnonce;
    if (session.adaptor !== undefined) {
      const T = session.adaptor.length === 33 ? ec.pointFromBytes(session.adaptor) : undefined;
      if (T === undefined) throw new Bip327Error('invalid adaptor point: not a 33-byte compressed point', undefined, 'adaptor');
      R1 = ec.add(R1plain, T);
      coefNonce = concatBytes(cbytesExt(ec, R1), this.aggnonce.subarray(33));
    }
    // GetSessionValues
    const Qx = this.keyGen.xOnly;
    this.b = taggedScalar('MuSig/noncecoef', coefNonce, Qx, session.msg);
    const Rprime = ec.add(R1, R2 === null ? null : ec.mul(R2, this.b));
    this.R = Rprime ?? ctx.G;
    this.e = taggedScalar('BIP0340/challenge', xBytes(ec, this.R), Qx, session.msg);
  }

  /** The final nonce's parity (0: even y): what adapt and extract need beside the pre-signature. */
  nonceParity(): 0 | 1 {
    return this.ctx.ec.hasEvenY(this.R) ? 0 : 1;
  }

  /** GetSessionKeyAggCoeff(session_ctx, P), with P given as cbytes(P). */
  private keyAggCoeff(pk: Uint8Array): bigint {
    const i = this.keySet.pubkeys.findIndex((p) => equalBytes(p, pk));
    if (i < 0) throw new Bip327Error("The signer's pubkey must be included in the list of pubkeys");
    return this.keySet.coefficients[i]!;
  }

  /** g = 1 if has_even_y(Q) else n − 1, times gacc. */
  private gTimesGacc(): bigint {
    return this.keyGen.evenY ? this.keyGen.gacc : mod(-this.keyGen.gacc);
  }

  /**
   * Sign(secnonce, sk, session_ctx). Zeroes secnonce's k1 || k2 as soon as it is read,
   * so a second call with the same array fails. k1 / k2 out of range are worded as the
   * reference backend (@scure/btc-signer) worded them.
   */
  sign(secnonce: Uint8Array, sk: Uint8Array, opts: SignOptions = {}): Uint8Array {
    const { ec } = this.ctx;
    if (sk.length !== 32) throw badArgument('secret key must be 32 bytes');
    if (secnonce.length !== 97) throw badArgument(`secnonce must be 97 bytes, got ${secnonce.length}`);
    const k1p = int(secnonce.subarray(0, 32));
    const k2p = int(secnonce.subarray(32, 64));
    const pkOfNonce = secnonce.slice(64, 97);
    secnonce.fill(0, 0, 64);
    if (k1p === 0n || k1p >= N) throw new Bip327Error(`Reader(k1): expected valid n: 1 <= n < ${N}, got ${k1p}`);
    if (k2p === 0n || k2p >= N) throw new Bip327Error(`Reader(k2): expected valid n: 1 <= n < ${N}, got ${k2p}`);
    const evenR = ec.hasEvenY(this.R);
    const k1 = evenR ? k1p : N - k1p;
    const k2 = evenR ? k2p : N - k2p;
    const dp = int(sk);
    if (dp === 0n || dp >= N) throw new Bip327Error('secret key value is out of range');
    const P = opts.publicKey === undefined ? ec.mulBase(dp)! : undefined;
    const pk = P === undefined ? opts.publicKey! : ec.pointToBytes(P);
    if (!equalBytes(pk, pkOfNonce)) throw new Bip327Error('Public key does not match nonceGen argument');
    const a = this.keyAggCoeff(pk);
    const d = mod(this.gTimesGacc() * dp);
    const s = mod(k1 + this.b * k2 + this.e * a * d);
    const psig = bytes32(s);
    if (opts.selfCheck === false) return psig;
    // The optional self-check: PartialSigVerifyInternal(psig, cbytes(k1'·G) || cbytes(k2'·G), pk).
    if (!this.verifyInternal(s, ec.mulBase(k1p)!, ec.mulBase(k2p)!, P ?? ec.pointFromBytes(pk)!, a)) {
      throw new Bip327Error('Partial signature verification failed');
    }
    return psig;
  }

  /**
   * PartialSigVerify(psig, pubnonce_1..u, pk_1..u, tweaks, is_xonly, m, i) for this
   * session's keys, tweaks and message: false also when the pubnonces do not aggregate
   * to this session's aggnonce. A pubnonce that is not two points is blamed on its signer.
   */
  partialSigVerify(psig: Uint8Array, pubnonces: readonly Uint8Array[], i: number): boolean {
    if (psig.length !== 32) throw badArgument(`partial signature must be 32 bytes, got ${psig.length}`);
    const n = this.keySet.pubkeys.length;
    if (pubnonces.length !== n) throw badArgument('The pubNonces and publicKeys arrays must have the same length');
    if (!Number.isSafeInteger(i) || i < 0 || i >= n) throw badArgument('index outside of pubKeys/pubNonces');
    const { aggnonce, points } = this.ctx.nonces.aggregate(pubnonces);
    if (!equalBytes(aggnonce, this.aggnonce)) return false;
    const s = int(psig);
    if (s >= N) return false;
    const [R1, R2] = points[i]!;
    return this.verifyInternal(s, R1, R2, this.keySet.points[i]!, this.keySet.coefficients[i]!);
  }

  /**
   * PartialSigVerifyInternal's equation s·G = Re + c·P (c = e·a·g·gacc, Re = ±(R1 + b·R2) by
   * R's parity), checked as s·G − c·P = Re. A backend with a·P + b·Q in one chain (noble)
   * checks the same equation moved across, s·G − c·P ∓ b·R2 = ±R1: both public products in
   * one multi-multiplication (~0.7 ms less on noble).
   */
  private verifyInternal(s: bigint, R1: P, R2: P, P: P, a: bigint): boolean {
    const { ec } = this.ctx;
    const c = mod(this.e * a * this.gTimesGacc());
    const evenR = ec.hasEvenY(this.R);
    if (ec.mulAdd) {
      const X = ec.mulAdd(R2, evenR ? mod(-this.b) : this.b, P, mod(-c));
      const lhs = X === null ? ec.mulBase(s) : plusMulBase(ec, X, s);
      return ec.equals(lhs, evenR ? R1 : ec.negate(R1));
    }
    const ReP = ec.add(R1, ec.mul(R2, this.b));
    const Re = ReP === null || evenR ? ReP : ec.negate(ReP);
    return ec.equals(baseMinusMul(ec, s, c, P), Re);
  }

  /** PartialSigAgg(psig_1..u, session_ctx): the final BIP-340 signature. */
  partialSigAgg(psigs: readonly Uint8Array[]): Uint8Array {
    psigs.forEach((p, i) => {
      if (p.length !== 32) throw badArgument(`partial signature ${i} must be 32 bytes, got ${p.length}`);
    });
    const n = this.keySet.pubkeys.length;
    if (psigs.length !== n) throw badArgument(`partialSigs.length=${psigs.length} must equal participant count=${n}`);
    let s = 0n;
    psigs.forEach((p, i) => {
      const si = int(p);
      if (si >= N) throw invalidContribution(i, 'psig');
      s += si;
    });
    const g = this.keyGen.evenY ? 1n : N - 1n;
    s = mod(s + this.e * g * this.keyGen.tacc);
    return concatBytes(xBytes(this.ctx.ec, this.R), bytes32(s));
  }
}

/**
 * DeterministicSign(sk, aggothernonce, pk_1..u, tweaks, is_xonly, m, rand). Blame in
 * the order callers have always seen: keys, then aggothernonce, then the rest.
 */
export function deterministicSign<P>(
  ctx: EngineContext<P>,
  sk: Uint8Array,
  aggothernonce: Uint8Array,
  pubkeys: readonly Uint8Array[],
  tweaks: readonly Uint8Array[],
  isXonly: readonly boolean[],
  msg: Uint8Array,
  rand?: Uint8Array,
): { pubnonce: Uint8Array; psig: Uint8Array } {
  const { ec } = ctx;
  const keySet = ctx.keys.keySet(pubkeys);
  decodeAggregateNonce(ec, aggothernonce, 'aggothernonce');
  if (sk.length !== 32) throw badArgument('secret key must be 32 bytes');
  if (rand !== undefined && rand.length !== 32) throw badArgument('rand must be 32 bytes');
  const aggpk = ctx.keys.keyGen(keySet, tweaks, isXonly).xOnly;
  const skPrime = rand !== undefined ? auxBlind(sk, rand) : sk;
  const k = (i: number) => taggedScalar('MuSig/deterministic/nonce', skPrime, aggothernonce, aggpk, uintBE(msg.length, 8), msg, Uint8Array.of(i));
  const k1 = k(0);
  const k2 = k(1);
  if (rand !== undefined) skPrime.fill(0);
  if (k1 === 0n || k2 === 0n) throw new Bip327Error('DeterministicSign produced a zero nonce');
  const d = int(sk);
  if (d === 0n || d >= N) throw new Bip327Error('secret key value is out of range');
  const pubnonce = concatBytes(ec.pointToBytes(ec.mulBase(k1)!), ec.pointToBytes(ec.mulBase(k2)!));
  const secnonce = concatBytes(bytes32(k1), bytes32(k2), ec.pointToBytes(ec.mulBase(d)!));
  const aggnonce = nonceAgg(ec, [pubnonce, aggothernonce]);
  try {
    const psig = new SigningSession(ctx, { aggnonce, pubkeys, tweaks, isXonly, msg }).sign(secnonce, sk);
    return { pubnonce, psig };
  } finally {
    secnonce.fill(0);
  }
}
