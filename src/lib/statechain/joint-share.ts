/**
 * The joint share O = A + B of a coin two parties own (./joint.ts has the protocol and its
 * invariants): a part's public description, the sum of the parts with every part's proof
 * of possession checked, a receiver's proof (one owner's or a pair's), and the joint public
 * nonce. The operator (./operator.ts), a single receiver's sender (./transfer.ts) and the
 * pair (./joint.ts, ./joint-send.ts) all check these the same way.
 * Not here: a part's secret or any step of the pair (./joint.ts, ./joint-send.ts).
 */
import { concatBytes, fromHex, toHex } from '../bytes.ts';
import { activeSecp256k1 } from '../musig/engine/select.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { parsePublicKey } from '../keys/keys.ts';
import { verifyPossession } from './signer.ts';

/** One part of a joint share, public: its key, its proof of possession for the coin, and its party's authentication key. */
export type JointPart = { share: string; pop: string; auth: string };

/** O = Σ parts, every part's proof checked for this coin. */
export function jointShare(coinId: string, parts: readonly JointPart[]): string {
  if (parts.length < 2) throw new MalformedInputError('E_STATECHAIN_PARTIES', 'a joint owner has at least two parts');
  const ec = activeSecp256k1();
  const points = parts.map((p, i) => {
    const share = parsePublicKey(p.share, `part ${i}'s share`);
    if (!verifyPossession(share, fromHex(coinId, 'coin id', 16), fromHex(p.pop, `part ${i}'s proof`, 64))) {
      throw new RefusedError('E_BAD_POSSESSION', `part ${i}'s proof of possession does not verify for this coin`);
    }
    return ec.pointFromBytes(share)!;
  });
  const total = points.reduce<unknown>((a, b) => ec.add(a, b), null);
  if (total === null) throw new Error('the parts of a joint share sum to infinity'); // each part proved: one party holds a and −a
  return toHex(ec.pointToBytes(total));
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
  const ec = activeSecp256k1();
  const sum = (at: number) => {
    const total = pubnonces
      .map((n, i) => {
        const p = n.length === 66 ? ec.pointFromBytes(n.subarray(at, at + 33)) : undefined;
        if (p === undefined) throw new RefusedError('E_BAD_PUBNONCE', `part ${i}'s public nonce is not two points on the curve`);
        return p;
      })
      .reduce<unknown>((a, b) => ec.add(a, b), null);
    if (total === null) throw new RefusedError('E_BAD_PUBNONCE', 'the parts\' nonces sum to infinity');
    return ec.pointToBytes(total);
  };
  return concatBytes(sum(0), sum(33));
}
