/**
 * A BIP-327 engine: the algorithms ../bip327.ts exposes, behind one interface so that
 * module can route every call to the engine selected at start-up (./select.ts):
 * our own implementation (./key-aggregation.ts, ./nonces.ts, ./signing.ts) on a
 * secp256k1 backend, or the `reference` engine, @scure/btc-signer's BIP-327
 * (./reference.ts), kept for cross-checks.
 *
 * Engines throw `Bip327Error` only, with the same blame (signer, contribution) for the
 * same failure; the BIP-327 vectors check that for every engine.
 */
import type { BackendName, Secp256k1Backend } from './backend.ts';
import { KeyAggCache, keySort } from './key-aggregation.ts';
import { NonceAggCache } from './nonces.ts';
import { SigningSession, deterministicSign, type EngineContext, type SessionContext, type SignOptions } from './signing.ts';

export type { SignOptions };
import { verifyPreSignature } from './adaptor.ts';

export type { SessionContext } from './signing.ts';
export type EngineName = BackendName | 'reference';

export type KeyAggContext = {
  /** 33-byte aggregate public key before tweaks (BIP-373's "aggregate plain public key"). */
  aggregatePubkey: Uint8Array;
  /** 32-byte x-only key after all tweaks: what the final signature verifies against. */
  xOnly: Uint8Array;
};

export interface EngineSession {
  sign(secnonce: Uint8Array, sk: Uint8Array, opts?: SignOptions): Uint8Array;
  partialSigVerify(psig: Uint8Array, pubnonces: readonly Uint8Array[], signerIndex: number): boolean;
  partialSigAgg(psigs: readonly Uint8Array[]): Uint8Array;
  /** The final nonce's parity, which adapt / extract need (./adaptor.ts). */
  nonceParity(): 0 | 1;
}

export interface Bip327Engine {
  readonly name: EngineName;
  /** The secp256k1 backend under it (absent for the reference engine, which has its own). */
  readonly ec?: Secp256k1Backend<unknown>;
  keySort(pubkeys: readonly Uint8Array[]): Uint8Array[];
  keyAgg(pubkeys: readonly Uint8Array[], tweaks: readonly Uint8Array[], isXonly: readonly boolean[]): KeyAggContext;
  nonceGen(
    pk: Uint8Array, sk: Uint8Array | undefined, aggpk: Uint8Array | undefined, msg: Uint8Array | undefined,
    extraIn: Uint8Array | undefined, rand: Uint8Array,
  ): { secnonce: Uint8Array; pubnonce: Uint8Array };
  nonceAgg(pubnonces: readonly Uint8Array[]): Uint8Array;
  session(ctx: SessionContext): EngineSession;
  deterministicSign(
    sk: Uint8Array, aggothernonce: Uint8Array, pubkeys: readonly Uint8Array[], tweaks: readonly Uint8Array[],
    isXonly: readonly boolean[], msg: Uint8Array, rand?: Uint8Array,
  ): { pubnonce: Uint8Array; psig: Uint8Array };
  /** BIP-340 Verify on this engine's backend (the mint checks every final signature). */
  verifySchnorr(sig: Uint8Array, msg: Uint8Array, xOnlyPubkey: Uint8Array): boolean;
  /** A MuSig2 adaptor pre-signature against its adaptor point (./adaptor.ts). */
  verifyPreSignature(preSignature: Uint8Array, parity: number, adaptor: Uint8Array, outputKey: Uint8Array, msg: Uint8Array): boolean;
}

/** Our BIP-327 on `ec`, with its own KeyAgg cache. */
export function createEngine<P>(ec: Secp256k1Backend<P>): Bip327Engine {
  // G only where BIP-327 falls back to it (a final nonce at infinity): made on first need, not
  // at start-up — on noble that k·G builds the base-point table for a command that may need none
  // (psbt decode reads a PSBT through this engine: 13 M of a signed decode's 175 M instructions).
  let G: P | undefined;
  const ctx: EngineContext<P> = {
    ec, keys: new KeyAggCache(ec), nonces: new NonceAggCache(ec),
    get G() {
      return (G ??= ec.mulBase(1n)!);
    },
  };
  return {
    name: ec.name,
    ec: ec as Secp256k1Backend<unknown>,
    keySort,
    keyAgg(pubkeys, tweaks, isXonly) {
      const set = ctx.keys.keySet(pubkeys);
      const tweaked = tweaks.length ? ctx.keys.keyGen(set, tweaks, isXonly) : set.plain;
      return { aggregatePubkey: ec.pointToBytes(set.plain.Q), xOnly: Uint8Array.from(tweaked.xOnly) };
    },
    nonceGen: (pk, sk, aggpk, msg, extraIn, rand) => ctx.nonces.nonceGen(pk, sk, aggpk, msg, extraIn, rand),
    nonceAgg: (pubnonces) => Uint8Array.from(ctx.nonces.aggregate(pubnonces).aggnonce),
    session: (session) => new SigningSession(ctx, session),
    deterministicSign: (sk, aggothernonce, pubkeys, tweaks, isXonly, msg, rand) =>
      deterministicSign(ctx, sk, aggothernonce, pubkeys, tweaks, isXonly, msg, rand),
    verifySchnorr: (sig, msg, pk) => ec.verifySchnorr(sig, msg, pk),
    verifyPreSignature: (pre, parity, adaptor, outputKey, msg) => verifyPreSignature(ec, pre, parity, adaptor, outputKey, msg),
  };
}
