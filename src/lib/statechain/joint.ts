/**
 * A coin owned by two parties at once — the channel parties of a Lightning channel on a
 * statechain coin (BRIEF §3.2, issue 13 item 6). The joint owner's share is O = A + B,
 * so the operator's code is unchanged: a joint owner signs as one owner.
 *
 * - Proofs of possession: one per part, each naming the coin; the joint share is their sum.
 * - Signing: the owner's public nonce is the component-wise sum of A's and B's; each part
 *   signs in the three-party session [A, B, S] (A carries the taproot tweak), and
 *   sA + sB is the owner's partial signature in the operator's two-party session [A + B, S]:
 *   both sessions have the same P, R₁, R₂, b and e, so the sum verifies as one owner's.
 * - Receiving: the package (t₁ = o₁ + x₁) is sealed to A, the pair's representative; A
 *   checks the whole chain and hands B u = t₁ − a (sealed to B); B checks the chain too,
 *   with u·G = O₁ + X₁ − A, and gives t₂ = u − b sealed to the operator; A signs the
 *   acceptance. Then s₂·G + A + B = P. A learns nothing of b, B nothing of a or x₁.
 *
 * Not here: the commands (a joint owner's steps through pipes) — docs/statechain.md.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { concatBytes, fromHex, toHex } from '../bytes.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { parsePublicKey } from '../keys/keys.ts';
import type { RandomSource } from '../random.ts';
import { N, bytes32, int, mod } from '../musig/engine/scalar.ts';
import type { OwnerContext } from './owner.ts';
import { newShare, sign } from './owner.ts';
import type { PackageInner } from './schemas.ts';
import { seal, sealJson, unsealJson } from './seal.ts';
import { provePossession, verifyPossession } from './signer.ts';
import { verifyTransfer, type ChainFacts, type Expected, type Verified } from './verify.ts';

/** One part of a joint share, public: its key, its proof of possession for the coin, and its party's authentication key. */
export type JointPart = { share: string; pop: string; auth: string };

export function jointPart(coinId: string, auth: Uint8Array, random: RandomSource): { secret: Uint8Array; part: JointPart } {
  const { secret, share } = newShare(random, 'statechain/joint-part');
  const pop = provePossession(secret, fromHex(coinId, 'coin id', 16), random.bytes(32, 'statechain/pop-aux'));
  return { secret, part: { share: toHex(share), pop: toHex(pop), auth: toHex(auth) } };
}

/** O = Σ parts, every part's proof checked for this coin. */
export function jointShare(coinId: string, parts: readonly JointPart[]): string {
  if (parts.length < 2) throw new MalformedInputError('E_STATECHAIN_PARTIES', 'a joint owner has at least two parts');
  const points = parts.map((p, i) => {
    const share = parsePublicKey(p.share, `part ${i}'s share`);
    if (!verifyPossession(share, fromHex(coinId, 'coin id', 16), fromHex(p.pop, `part ${i}'s proof`, 64))) {
      throw new RefusedError('E_BAD_POSSESSION', `part ${i}'s proof of possession does not verify for this coin`);
    }
    return secp256k1.Point.fromBytes(share);
  });
  return points.reduce((a, b) => a.add(b)).toHex(true);
}

/**
 * A receiver's proof that it holds its new share: one proof for a single receiver, or one
 * per part for a joint receiver, whose parts must sum to the share.
 */
export function checkReceiverPossession(coinId: string, req: { receiver_share: string; receiver_pop?: string | undefined; receiver_parts?: readonly JointPart[] | undefined }): void {
  if ((req.receiver_pop === undefined) === (req.receiver_parts === undefined)) {
    throw new RefusedError('E_BAD_POSSESSION', 'a transfer request carries either the receiver\'s proof of possession or its parts\' proofs, exactly one');
  }
  if (req.receiver_parts !== undefined) {
    if (jointShare(coinId, req.receiver_parts) !== req.receiver_share) throw new RefusedError('E_BAD_POSSESSION', 'the receiver\'s parts do not sum to its share');
    return;
  }
  if (!verifyPossession(parsePublicKey(req.receiver_share, 'receiver_share'), fromHex(coinId, 'coin_id', 16), fromHex(req.receiver_pop!, 'receiver_pop', 64))) {
    throw new RefusedError('E_BAD_POSSESSION', 'the receiver\'s proof of possession of its new share does not verify for this coin');
  }
}

/** The joint owner's public nonce: each of the two points summed over the parts. */
export function jointPubnonce(pubnonces: readonly Uint8Array[]): Uint8Array {
  const sum = (at: number) => pubnonces.map((n) => secp256k1.Point.fromBytes(n.subarray(at, at + 33))).reduce((a, b) => a.add(b)).toBytes(true);
  return concatBytes(sum(0), sum(33));
}

/**
 * Signing for a jointly owned coin: each part signs with `partialSign(session, i, …)` in
 * the session [parts…, operator share] with the parts' own nonces and the operator's, and
 * `aggregate(session, psigs)` checks every partial signature there — the operator's
 * included, made in its two-party session [Σ parts, S] — and sums them (signer.ts).
 */
export { aggregate as jointAggregate, partialSign as jointPartialSign } from './signer.ts';

/** A, step 1: the request for a coin the pair will own; A signs it, B's part rides along. */
export function jointRequest(coinId: string, operatorAuth: Uint8Array, a: { secret: Uint8Array; part: JointPart }, b: JointPart, ctx: Pick<OwnerContext, 'auth' | 'random' | 'network'>, backupScript?: Uint8Array) {
  const share = jointShare(coinId, [a.part, b]);
  const body = {
    type: 'statechain/transfer-request', version: 1, network: ctx.network, coin_id: coinId, receiver_auth: a.part.auth, receiver_share: share,
    receiver_parts: [a.part, b], ...(backupScript === undefined ? {} : { backup_script: toHex(backupScript) }),
  };
  const pending = { coin_id: coinId, share, part_secret: toHex(a.secret), parts: [a.part, b], operator_auth: toHex(operatorAuth), backup_script: body.backup_script };
  return { pending, message: sign(body.type, body, 'receiver_sig', ctx) };
}

export type JointPending = ReturnType<typeof jointRequest>['pending'];

function expectOf(p: JointPending, transferId: string, t1Minus?: string): Expected {
  return {
    coinId: p.coin_id, transferId, receiverShare: p.share, receiverAuth: p.parts[0]!.auth, operatorAuth: parsePublicKey(p.operator_auth, 'operator_auth'),
    backupScript: p.backup_script, t1Minus,
  };
}

/** A, step 2: verify the package as any receiver, then hand B u = t₁ − a with the chain. */
export function jointOpen(inner: PackageInner, transferId: string, pending: JointPending, chain: ChainFacts, random: RandomSource): { verified: Verified; handoff: string } {
  const verified = verifyTransfer(inner, expectOf(pending, transferId), chain);
  const u = mod(int(fromHex(inner.t1, 't1', 32)) - int(fromHex(pending.part_secret, 'part', 32)));
  const handoff = sealJson(parsePublicKey(pending.parts[1]!.auth, 'part 1 auth'), { ...inner, t1: toHex(bytes32(u)) }, `${pending.coin_id}/${transferId}/joint`, newShare(random, 'statechain/seal').secret);
  return { verified, handoff };
}

/** B, step 3: verify the chain (u·G = O₁ + X₁ − A), and seal t₂ = u − b to the operator. */
export function jointFinish(handoff: string, transferId: string, pending: JointPending, bSecret: Uint8Array, bAuthSecret: Uint8Array, chain: ChainFacts, random: RandomSource) {
  const inner = unsealJson(bAuthSecret, handoff, `${pending.coin_id}/${transferId}/joint`, 'the handoff') as PackageInner;
  const verified = verifyTransfer(inner, expectOf(pending, transferId, pending.parts[0]!.share), chain);
  const t2 = mod(int(fromHex(inner.t1, 'u', 32)) - int(bSecret));
  if (t2 === 0n || t2 >= N) throw new RefusedError('E_BAD_T1', 'a degenerate t₂');
  const t2Sealed = seal(parsePublicKey(pending.operator_auth, 'operator_auth'), bytes32(t2), `${pending.coin_id}/${transferId}/t2`, newShare(random, 'statechain/seal').secret);
  return { verified, t2Sealed };
}

/** A, step 4: the acceptance the operator completes the transfer with. */
export function jointAccept(pending: JointPending, transferId: string, t2Sealed: string, ctx: Pick<OwnerContext, 'auth' | 'random' | 'network'>) {
  const body = {
    type: 'statechain/transfer-accept', version: 1, network: ctx.network, coin_id: pending.coin_id, transfer_id: transferId,
    receiver_auth: pending.parts[0]!.auth, receiver_share: pending.share, t2_sealed: t2Sealed,
  };
  return sign(body.type, body, 'receiver_sig', ctx);
}
