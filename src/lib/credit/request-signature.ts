/**
 * The user's signature on a request that carries no partial signature of its own: round 1 of
 * a rollover (docs/credit.md, "Rolling over"). An update, a close and round 2 of a rollover
 * are the user's by their partial signature on the contract input (signing.ts
 * checkUserSigned); round 1 is unsigned by design — the user signs nothing that moves its
 * funds before it holds the next contract's verified refund — so without this a stranger who
 * knows a contract's id would read its state from round 1's refusals (issue 72), and a relay
 * could get a rollover the user never asked for co-signed and so block the user's own
 * (E_ROLLOVER_PROPOSED until the next payment).
 *
 * INVARIANTS
 * - A credit/rollover-request carries `user_signature`: a BIP-340 signature by the contract's
 *   user key (the terms' user_pubkey) over TaggedHash("offchain/credit/v1/request", the
 *   request's canonical JSON line without it) — every other member, `mint_pubnonce` (the mint
 *   nonce of the state it is for) and `state` among them. The mint checks it right after
 *   loading the contract, before any rule that reads the contract's state, and refuses a
 *   request without it, by another key, or with any member changed, with E_REQUEST_UNSIGNED,
 *   in words that name nothing of the contract; nothing is written.
 * - A signed request is only ever the user's own, as it made it: it can be replayed, not
 *   changed, and the mint serves a replay only while `mint_pubnonce` is the live nonce of its
 *   state (mint.ts checkStateNonce): an older round 1 (its nonce used or abandoned since) is
 *   refused as neutrally.
 * - The signature completes nothing, for the reasons answer-signature.ts gives for the mint's:
 *   its key is the user's own P, never the contract's output key Q; its tag is its own, so it
 *   coincides with no BIP-341 sighash and no other message of the user's key (the abandon's,
 *   the ecash outputs'); its nonce is BIP-340's, derived from key and digest, never a MuSig2
 *   nonce. Like answers, requests are signed with zero auxiliary randomness: a request is one
 *   set of bytes however often it is made — a resend, one stored by an older toolkit signed when
 *   it is sent again, a documented example run twice (docs/credit.md equals the demo's output).
 */
import { RefusedError } from '../errors.ts';
import type { KeyPair } from '../keys/keys.ts';
import { messageDigest, signedBy, withSignature } from './answer-signature.ts';

export const REQUEST_TAG = 'offchain/credit/v1/request';
const MEMBER = 'user_signature';

/** What the user signs: the tagged hash of the request's canonical JSON line without `user_signature`. */
export function requestDigest(request: Record<string, unknown>): Uint8Array {
  return messageDigest(REQUEST_TAG, request, MEMBER);
}

/** The request with the user's signature by `user` (the contract's user key). */
export function signRequest<T extends Record<string, unknown>>(request: T, user: KeyPair): T {
  return withSignature(request, MEMBER, requestDigest(request), user);
}

/**
 * The mint's check, before it reads anything of the contract but its terms: `request` is
 * signed by `userPubkey`, every member as signed. One refusal, E_REQUEST_UNSIGNED, whatever
 * is wrong: its words depend on the request alone.
 */
export function checkRequestSigned(request: Record<string, unknown>, userPubkey: Uint8Array): void {
  const type = String(request.type);
  if (request[MEMBER] === undefined) {
    throw new RefusedError('E_REQUEST_UNSIGNED', `the ${type} carries no ${MEMBER}: the mint answers only the contract's user (made by a toolkit older than signed requests? upgrade it and run the step again); nothing was written`);
  }
  if (!signedBy(request[MEMBER], requestDigest(request), userPubkey)) {
    throw new RefusedError('E_REQUEST_UNSIGNED', `the ${type} is not signed by this contract's user key as it stands: the mint answers only the contract's user; nothing was written`);
  }
}
