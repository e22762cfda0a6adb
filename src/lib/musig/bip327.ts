/**
 * BIP-327 MuSig2, the algorithms by their spec names: KeySort, KeyAgg (with plain and
 * x-only tweaks), NonceGen, NonceAgg, Sign, PartialSigVerify, PartialSigAgg,
 * DeterministicSign. Everything in the toolkit that does MuSig2 goes through this
 * module, so the backend behind it can change (a faster secp256k1 for the mint's hot
 * path) while the BIP-327 vectors keep proving every path byte for byte.
 *
 * The reference backend is @scure/btc-signer's BIP-327. Its errors are translated into
 * `Bip327Error`, which says which signer's contribution was bad (the spec's
 * InvalidContributionError) so callers can blame a participant by key.
 */
import * as scure from '@scure/btc-signer/musig2.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';

export type ContributionKind = 'pubkey' | 'pubnonce' | 'aggnonce' | 'aggothernonce' | 'psig' | 'tweak';

/** A BIP-327 failure: `signer` is set when one participant's contribution is to blame. */
export class Bip327Error extends Error {
  readonly signer: number | undefined;
  readonly contribution: ContributionKind | undefined;
  constructor(message: string, signer?: number, contribution?: ContributionKind) {
    super(message);
    this.name = 'Bip327Error';
    this.signer = signer;
    this.contribution = contribution;
  }
}

function translate<T>(fn: () => T, contribution?: ContributionKind): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof scure.InvalidContributionErr) {
      throw new Bip327Error(`invalid ${contribution ?? 'contribution'} of signer ${e.idx}`, e.idx, contribution);
    }
    throw new Bip327Error((e as Error).message);
  }
}

export type KeyAggContext = {
  /** 33-byte aggregate public key before tweaks (BIP-373's "aggregate plain public key"). */
  aggregatePubkey: Uint8Array;
  /** 32-byte x-only key after all tweaks: what the final signature verifies against. */
  xOnly: Uint8Array;
};

export function keySort(pubkeys: readonly Uint8Array[]): Uint8Array[] {
  return translate(() => scure.sortKeys([...pubkeys]), 'pubkey');
}

export function keyAgg(pubkeys: readonly Uint8Array[], tweaks: readonly Uint8Array[] = [], isXonly: readonly boolean[] = []): KeyAggContext {
  const plain = translate(() => scure.keyAggregate([...pubkeys]), 'pubkey');
  const tweaked = tweaks.length ? translate(() => scure.keyAggregate([...pubkeys], [...tweaks], [...isXonly]), 'tweak') : plain;
  return { aggregatePubkey: plain.aggPublicKey.toBytes(true), xOnly: scure.keyAggExport(tweaked) };
}

export function nonceGen(
  pk: Uint8Array,
  sk: Uint8Array | undefined,
  aggpk: Uint8Array | undefined,
  msg: Uint8Array | undefined,
  extraIn: Uint8Array | undefined,
  rand: Uint8Array,
): { secnonce: Uint8Array; pubnonce: Uint8Array } {
  const n = translate(() => scure.nonceGen(pk, sk, aggpk, msg, extraIn, rand));
  return { secnonce: n.secret, pubnonce: n.public };
}

export function nonceAgg(pubnonces: readonly Uint8Array[]): Uint8Array {
  return translate(() => scure.nonceAggregate([...pubnonces]), 'pubnonce');
}

export type SessionContext = {
  aggnonce: Uint8Array;
  pubkeys: readonly Uint8Array[];
  tweaks: readonly Uint8Array[];
  isXonly: readonly boolean[];
  msg: Uint8Array;
};

/**
 * An aggregate nonce is two 33-byte points, each possibly infinity (33 zero bytes:
 * BIP-327's cpoint_ext); DeterministicSign's aggothernonce is decoded with plain cpoint,
 * so infinity is invalid there. Either comes from no single signer, so a bad one is
 * blamed on the nonce itself, never on a participant.
 */
function checkAggregateNonce(aggnonce: Uint8Array, kind: 'aggnonce' | 'aggothernonce'): void {
  const bad = () => new Bip327Error(`invalid ${kind}`, undefined, kind);
  if (aggnonce.length !== 66) throw bad();
  for (const half of [aggnonce.subarray(0, 33), aggnonce.subarray(33)]) {
    if (kind === 'aggnonce' && half.every((b) => b === 0)) continue;
    try {
      secp256k1.Point.fromBytes(half);
    } catch {
      throw bad();
    }
  }
}

/** A signing session (BIP-327 session context), computed once and reused. */
export class Session {
  private readonly inner: scure.Session;
  constructor(readonly ctx: SessionContext) {
    checkAggregateNonce(ctx.aggnonce, 'aggnonce');
    this.inner = translate(() => new scure.Session(ctx.aggnonce, [...ctx.pubkeys], ctx.msg, [...ctx.tweaks], [...ctx.isXonly]), 'pubkey');
  }

  /** Sign; zeroes `secnonce` whatever happens, so it cannot be used twice from memory. */
  sign(secnonce: Uint8Array, sk: Uint8Array): Uint8Array {
    try {
      return translate(() => this.inner.sign(secnonce, sk));
    } finally {
      secnonce.fill(0);
    }
  }

  partialSigVerify(psig: Uint8Array, pubnonces: readonly Uint8Array[], signerIndex: number): boolean {
    return translate(() => this.inner.partialSigVerify(psig, [...pubnonces], signerIndex), 'pubnonce');
  }

  partialSigAgg(psigs: readonly Uint8Array[]): Uint8Array {
    return translate(() => this.inner.partialSigAgg([...psigs]), 'psig');
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
  // Blame precisely: keys first (a bad key is that signer's fault), then the other
  // signers' aggregate nonce (nobody's in particular), then sign.
  translate(() => scure.keyAggregate([...pubkeys]), 'pubkey');
  checkAggregateNonce(aggothernonce, 'aggothernonce');
  const out = translate(() => scure.deterministicSign(sk, aggothernonce, [...pubkeys], msg, [...tweaks], [...isXonly], rand));
  return { pubnonce: out.publicNonce, psig: out.partialSig };
}
