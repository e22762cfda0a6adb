/**
 * BIP-327 MuSig2, the algorithms by their spec names: KeySort, KeyAgg (with plain and
 * x-only tweaks), NonceGen, NonceAgg, Sign, PartialSigVerify, PartialSigAgg,
 * DeterministicSign. Everything in the toolkit that does MuSig2 goes through this
 * module, so the engine behind it can change while the BIP-327 vectors keep proving
 * every path byte for byte.
 *
 * The engine is chosen once at start-up with `selectBackend` (./engine/select.ts):
 * our own BIP-327 (./engine/) on noble (pure JS, the default), the native libsecp256k1
 * binding or the system's libsecp256k1, or `reference`, @scure/btc-signer's BIP-327.
 * Every engine raises `Bip327Error`, which says which signer's contribution was bad
 * (the spec's InvalidContributionError) so callers can blame a participant by key.
 * KeyAgg work is cached per participant set (./engine/key-aggregation.ts).
 */
import { activeEngine } from './engine/select.ts';
import type { EngineSession, KeyAggContext, SessionContext, SignOptions } from './engine/engine.ts';

export { Bip327Error, type ContributionKind } from './engine/errors.ts';
export type { KeyAggContext, SessionContext } from './engine/engine.ts';
export {
  selectBackend, backendSelection, parseBackendChoice, SECP256K1_ENV, BACKEND_CHOICES,
  type BackendChoice, type BackendSelection,
} from './engine/select.ts';

export function keySort(pubkeys: readonly Uint8Array[]): Uint8Array[] {
  return activeEngine().keySort(pubkeys);
}

export function keyAgg(pubkeys: readonly Uint8Array[], tweaks: readonly Uint8Array[] = [], isXonly: readonly boolean[] = []): KeyAggContext {
  return activeEngine().keyAgg(pubkeys, tweaks, isXonly);
}

export function nonceGen(
  pk: Uint8Array,
  sk: Uint8Array | undefined,
  aggpk: Uint8Array | undefined,
  msg: Uint8Array | undefined,
  extraIn: Uint8Array | undefined,
  rand: Uint8Array,
): { secnonce: Uint8Array; pubnonce: Uint8Array } {
  return activeEngine().nonceGen(pk, sk, aggpk, msg, extraIn, rand);
}

export function nonceAgg(pubnonces: readonly Uint8Array[]): Uint8Array {
  return activeEngine().nonceAgg(pubnonces);
}

/** A signing session (BIP-327 session context), computed once and reused. */
export class Session {
  private readonly inner: EngineSession;
  constructor(readonly ctx: SessionContext) {
    this.inner = activeEngine().session(ctx);
  }

  /** Sign; zeroes `secnonce` whatever happens, so it cannot be used twice from memory. */
  sign(secnonce: Uint8Array, sk: Uint8Array, opts?: SignOptions): Uint8Array {
    try {
      return this.inner.sign(secnonce, sk, opts);
    } finally {
      secnonce.fill(0);
    }
  }

  partialSigVerify(psig: Uint8Array, pubnonces: readonly Uint8Array[], signerIndex: number): boolean {
    return this.inner.partialSigVerify(psig, pubnonces, signerIndex);
  }

  /** PartialSigAgg: the BIP-340 signature, or with an adaptor point the pre-signature. */
  partialSigAgg(psigs: readonly Uint8Array[]): Uint8Array {
    return this.inner.partialSigAgg(psigs);
  }

  /** The final nonce's parity (0: even y), carried with a pre-signature for adapt / extract. */
  nonceParity(): 0 | 1 {
    return this.inner.nonceParity();
  }
}

/** Sign without pre-generated nonce state (the last signer). */
export function deterministicSign(
  sk: Uint8Array,
  aggothernonce: Uint8Array,
  pubkeys: readonly Uint8Array[],
  tweaks: readonly Uint8Array[],
  isXonly: readonly boolean[],
  msg: Uint8Array,
  rand?: Uint8Array,
): { pubnonce: Uint8Array; psig: Uint8Array } {
  return activeEngine().deterministicSign(sk, aggothernonce, pubkeys, tweaks, isXonly, msg, rand);
}

/** A MuSig2 adaptor pre-signature against its adaptor point T (engine/adaptor.ts). */
export function verifyPreSignature(preSignature: Uint8Array, parity: number, adaptor: Uint8Array, outputKey: Uint8Array, msg: Uint8Array): boolean {
  return activeEngine().verifyPreSignature(preSignature, parity, adaptor, outputKey, msg);
}

export { adapt, extractAdaptor } from './engine/adaptor.ts';

/** BIP-340 Verify on the selected backend (the same answer as any other verifier). */
export function bip340Verify(sig: Uint8Array, msg: Uint8Array, xOnlyPubkey: Uint8Array): boolean {
  return activeEngine().verifySchnorr(sig, msg, xOnlyPubkey);
}
