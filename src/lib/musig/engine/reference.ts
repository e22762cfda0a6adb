/**
 * The `reference` engine: @scure/btc-signer's BIP-327 over @noble/curves, which the
 * toolkit used before it had its own. Kept to cross-check our engine on every backend
 * (the vectors and the property tests run it side by side). Its errors are translated
 * into `Bip327Error`; the aggregate nonces are checked here first because btc-signer
 * does not say whose an invalid one is.
 */
import * as scure from '@scure/btc-signer/musig2.js';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { Bip327Error, type ContributionKind } from './errors.ts';
import type { Bip327Engine, EngineSession, SessionContext } from './engine.ts';

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

const NO_ADAPTOR = 'the reference engine (@scure/btc-signer) has no MuSig2 adaptor signatures; use noble, native or libsecp256k1';

class ReferenceSession implements EngineSession {
  private readonly inner: scure.Session;
  constructor(ctx: SessionContext) {
    if (ctx.adaptor !== undefined) throw new Bip327Error(NO_ADAPTOR);
    checkAggregateNonce(ctx.aggnonce, 'aggnonce');
    this.inner = translate(() => new scure.Session(ctx.aggnonce, [...ctx.pubkeys], ctx.msg, [...ctx.tweaks], [...ctx.isXonly]), 'pubkey');
  }
  /** SignOptions are hints: btc-signer's Sign always derives d·G and checks its own output. */
  sign(secnonce: Uint8Array, sk: Uint8Array): Uint8Array {
    return translate(() => this.inner.sign(secnonce, sk));
  }
  partialSigVerify(psig: Uint8Array, pubnonces: readonly Uint8Array[], signerIndex: number): boolean {
    return translate(() => this.inner.partialSigVerify(psig, [...pubnonces], signerIndex), 'pubnonce');
  }
  partialSigAgg(psigs: readonly Uint8Array[]): Uint8Array {
    return translate(() => this.inner.partialSigAgg([...psigs]), 'psig');
  }
  nonceParity(): 0 | 1 {
    throw new Bip327Error(NO_ADAPTOR);
  }
}

export const referenceEngine: Bip327Engine = {
  name: 'reference',
  keySort: (pubkeys) => translate(() => scure.sortKeys([...pubkeys]), 'pubkey'),
  keyAgg(pubkeys, tweaks, isXonly) {
    const plain = translate(() => scure.keyAggregate([...pubkeys]), 'pubkey');
    const tweaked = tweaks.length ? translate(() => scure.keyAggregate([...pubkeys], [...tweaks], [...isXonly]), 'tweak') : plain;
    return { aggregatePubkey: plain.aggPublicKey.toBytes(true), xOnly: scure.keyAggExport(tweaked) };
  },
  nonceGen(pk, sk, aggpk, msg, extraIn, rand) {
    const n = translate(() => scure.nonceGen(pk, sk, aggpk, msg, extraIn, rand));
    return { secnonce: n.secret, pubnonce: n.public };
  },
  nonceAgg: (pubnonces) => translate(() => scure.nonceAggregate([...pubnonces]), 'pubnonce'),
  session: (ctx) => new ReferenceSession(ctx),
  deterministicSign(sk, aggothernonce, pubkeys, tweaks, isXonly, msg, rand) {
    // Blame precisely: keys first (a bad key is that signer's fault), then the other
    // signers' aggregate nonce (nobody's in particular), then sign.
    translate(() => scure.keyAggregate([...pubkeys]), 'pubkey');
    checkAggregateNonce(aggothernonce, 'aggothernonce');
    const out = translate(() => scure.deterministicSign(sk, aggothernonce, [...pubkeys], msg, [...tweaks], [...isXonly], rand));
    return { pubnonce: out.publicNonce, psig: out.partialSig };
  },
  verifySchnorr(sig, msg, pk) {
    try {
      return schnorr.verify(sig, msg, pk);
    } catch {
      return false;
    }
  },
  verifyPreSignature() {
    throw new Bip327Error(NO_ADAPTOR);
  },
};
