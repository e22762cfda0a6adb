/**
 * The mint's signature on its answers (docs/credit.md, "Signed answers"). Without it a
 * relay between user and mint — a wrong or hostile `--peer`, a proxy, a file drop — could
 * invent a credit/receipt for a payment the mint never saw, or swap the next nonce of a
 * real one: the user would record it, sign its next state against a nonce the mint never
 * issued, and find every cooperative step after it refused (the next payment, credit
 * abandon, the close) — only the unilateral exits left.
 *
 * INVARIANTS
 * - Every answer whose acceptance moves the counterpart's record carries a BIP-340
 *   signature by the contract's mint key (the terms' mint_pubkey; a device channel's
 *   gateway key) over every other member of the answer: `mint_signature` on
 *   credit/open-accept, credit/receipt, credit/closed and credit/rollover-accept,
 *   `gateway_signature` on gateway/settle, gateway/fail and gateway/receipt (credit/abandoned
 *   has its own, abandon.ts). The user (the device) checks it against its own copy of the
 *   terms before it writes anything, and refuses an answer whose signature is wrong or
 *   missing with E_RECEIPT_FORGED: no member of a real answer can be changed, no answer
 *   invented. A real answer of another contract, state or step verifies, and is refused by
 *   the step's own checks (E_RECEIPT_MISMATCH, E_STATE_NUMBER, …), before anything is written.
 * - The signature completes nothing, so the mint still never hands the user a signature on
 *   a state. It is a BIP-340 signature under the mint's own key P over
 *   TaggedHash("offchain/credit/v1/answer", the answer's canonical JSON line without it):
 *   (1) a spend of the contract needs a signature under the output key Q, the KeyAgg of both
 *   keys taproot-tweaked, never under P; (2) a transaction signature signs a BIP-341
 *   TapSighash digest, a tagged hash under another tag, so the two messages coincide only by
 *   a SHA-256 collision (likewise the mint key's other BIP-340 messages, each under its own
 *   tag: the abandon's, the next keyset's); (3) its nonce is BIP-340's own, derived from the
 *   key, the auxiliary randomness and this digest, never one of the single-use MuSig2 nonces:
 *   it reveals nothing of them, and a partial signature — the answer to one session's
 *   aggregate nonce and challenge made with the mint's secret nonce for that session — cannot
 *   be derived from it.
 * - Answers are signed with zero auxiliary randomness (BIP-340 allows it: the nonce still depends
 *   on the key and the message), so one answer is one signature: an answer stored before answers
 *   were signed (an older toolkit's), signed when it is given again, gets the same bytes each time.
 */
import { fromHex, toHex, utf8 } from '../bytes.ts';
import { RefusedError } from '../errors.ts';
import { stringifyLine } from '../json.ts';
import type { KeyPair } from '../keys/keys.ts';
import { taggedHash } from '../musig/engine/scalar.ts';
import { activeSecp256k1 } from '../musig/engine/select.ts';
import { schnorrSign } from '../taproot/schnorr.ts';

export const ANSWER_TAG = 'offchain/credit/v1/answer';

/** Who signs an answer, and the member its signature goes in. */
export type AnswerSigner = 'mint' | 'gateway';
const MEMBER = { mint: 'mint_signature', gateway: 'gateway_signature' } as const;

/** The tagged hash under `tag` of a message's canonical JSON line (stringifyLine) without its signature `member` (also request-signature.ts). */
export function messageDigest(tag: string, message: Record<string, unknown>, member: string): Uint8Array {
  const { [member]: _signature, ...body } = message;
  return taggedHash(tag, utf8(stringifyLine(body)));
}

/** What the signature signs: the tagged hash of the answer's canonical JSON line without its signature member. */
export function answerDigest(answer: Record<string, unknown>, signer: AnswerSigner = 'mint'): Uint8Array {
  return messageDigest(ANSWER_TAG, answer, MEMBER[signer]);
}

/**
 * BIP-340's auxiliary randomness for an answer: none (zeros, which BIP-340 allows — the nonce is
 * still derived from the key and the digest). An answer is the same bytes however often and
 * wherever it is signed: a retry, an answer signed again, a documented example run twice.
 */
const NO_AUX = new Uint8Array(32);

/** `message` with `member` set to `key`'s BIP-340 signature over `digest`, made with zero auxiliary randomness (NO_AUX). */
export function withSignature<T extends Record<string, unknown>>(message: T, member: string, digest: Uint8Array, key: KeyPair): T {
  return { ...message, [member]: toHex(schnorrSign(digest, key.secretKey, NO_AUX, key.publicKey)) };
}

/** The answer with its signature by `key` (the contract's mint or gateway key). */
export function signAnswer<T extends Record<string, unknown>>(answer: T, key: KeyPair, signer: AnswerSigner = 'mint'): T {
  return withSignature(answer, MEMBER[signer], answerDigest(answer, signer), key);
}

/** A stored answer as it is given again: as stored when signed; one stored unsigned (by an older toolkit), signed now, deterministically. */
export function signedAgain<T extends Record<string, unknown>>(answer: T, key: KeyPair, signer: AnswerSigner = 'mint'): T {
  return typeof answer[MEMBER[signer]] === 'string' ? answer : signAnswer(answer, key, signer);
}

/** BIP-340 Verify on the selected secp256k1 backend (libsecp256k1 where it loads: ~30× noble's); false for anything malformed. */
function verified(sig: Uint8Array, msg: Uint8Array, xOnly: Uint8Array): boolean {
  try {
    return activeSecp256k1().verifySchnorr(sig, msg, xOnly);
  } catch {
    return false;
  }
}

/** Whether `sig` (a member's value, of any JSON type) is a 64-byte hex BIP-340 signature over `digest` by `pubkey` (compressed or x-only). */
export function signedBy(sig: unknown, digest: Uint8Array, pubkey: Uint8Array): boolean {
  return typeof sig === 'string' && /^[0-9a-f]{128}$/.test(sig) && verified(fromHex(sig, 'signature', 64), digest, pubkey.length === 33 ? pubkey.subarray(1) : pubkey);
}

/**
 * The counterpart's check, before it writes anything: `answer` is signed by `pubkey` (the
 * terms' mint key, compressed or x-only), every member as signed. E_RECEIPT_FORGED otherwise.
 */
export function checkAnswer(answer: Record<string, unknown>, pubkey: Uint8Array, signer: AnswerSigner = 'mint'): void {
  const sig = answer[MEMBER[signer]];
  const type = String(answer.type);
  if (typeof sig !== 'string') {
    throw new RefusedError('E_RECEIPT_FORGED', `the ${type} carries no ${MEMBER[signer]}: not an answer of this contract's ${signer} (a relay invented or stripped it, or the ${signer} runs a toolkit older than signed answers: upgrade it); nothing was written`);
  }
  if (!signedBy(sig, answerDigest(answer, signer), pubkey)) {
    throw new RefusedError('E_RECEIPT_FORGED', `the ${type} is not signed by this contract's ${signer} key as it stands (forged, or changed on its way: ask the ${signer} itself again); nothing was written`);
  }
}
