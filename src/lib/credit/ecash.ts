/**
 * Credit becomes ecash (BRIEF §3.1, "Ecash for credit"): each payment's update request
 * carries NUT-00 blinded messages for exactly the amount paid, signed by the user; the
 * mint signs them, with NUT-12 DLEQ proofs, in the same store transaction that stores the
 * co-signed state; the user verifies every proof, unblinds, and holds a cashuB token the
 * mint we front redeems (its keyset is derived as that mint derives its own: nut01.ts).
 *
 * Invariants (tests: test/lib/credit/ecash*.test.ts, test/e2e/credit-ecash*.test.ts):
 * - Ecash issued under a contract = its cumulative amount credited: a state's outputs sum
 *   to exactly its amount_sat, and signatures exist only for stored states (they are
 *   written in the same transaction; a refused or failed step writes neither).
 * - The outputs are the payer's: the user signs them (BIP-340, its key, outputsDigest:
 *   contract, state, txid, the mint nonce, amounts, every output in order) and the mint
 *   signs no output that signature does not cover. Whoever holds a copy of the request on
 *   its way (relay, queue, log, proxy) can have it refused, never signed for itself; the
 *   refusal comes before the nonce is taken, so the genuine request still goes through.
 * - One signature per point: B_ and its negation (02 ↔ 03) are one point; a point signed
 *   for one (contract, state) is refused in any other request, and twice in one request.
 *   The `blind_signatures` table keys B_ as given (a second row is a constraint violation).
 *   A replayed request gets the stored receipt — byte-identical signatures (the DLEQ
 *   nonce is deterministic, NUT-12), so NUT-09 restore semantics hold.
 * - A nonce signs once: the state's MuSig2 nonce rules are unchanged (mint.ts); the
 *   DLEQ nonce is derived from (a, A, B_, C_), so it never meets a second challenge.
 * - The user writes nothing — no token, no record — unless every DLEQ verifies against
 *   the keyset its offer named (a mint signing with another key is refused: E_BAD_DLEQ).
 *   Its NUT-13 counter is advanced before a request leaves and never reused.
 *
 *   role  state                   message in               checks                                      written                           out
 *   user  open, confirmed n       --amount A               offer had ecash → wallet seed               pending + counter += k            request with k outputs (Σ = A) + outputs_signature
 *   mint  next_state n+1          update-request+outputs   keyset (ecash-keysets.ts), Σ = A, points,   state, receipt, blind_signatures  receipt with k signatures+DLEQ
 *                                                          ≤64, user's signature over them, no point                                     (+ next_keyset, signed, if not
 *                                                          signed before                                                                 under the active keyset)
 *   user  pending n+1             receipt+signatures       k sigs, ids, amounts, every DLEQ; a         token file (0600), then record    credit/balance (+ token)
 *                                                          next_keyset: signed by the mint, its id     (next_keyset adopted)
 *   user  pending n+1, abandoned  the mint's stored receipt  for this state; its ecash not for        state confirmed, payment unpaid   credit/balance (unpaid_sat): no further payment;
 *                                                          these outputs                               (next_keyset adopted)             claim (ecash-claim.ts) or close
 */
import { fromHex, toHex } from '../bytes.ts';
import { schnorr } from '@noble/curves/secp256k1.js';
import { bip340Verify } from '../musig/bip327.ts';
import { MalformedInputError, RefusedError, UsageError } from '../errors.ts';
import type { KeyPair } from '../keys/keys.ts';
import { taggedHash } from '../musig/engine/scalar.ts';
import { compressed, pointFromBytes, scalarToBytes, type Point } from '../ecash/curve.ts';
import { blindMessage, secretPoint, signBlindedMessage, splitAmount, unblindSignature } from '../ecash/nut00.ts';
import { keysObject, parseKeys, type MintKeyset } from '../ecash/nut01.ts';
import { keysetId, keysetIdMatches, keysetIdVersion, type KeysetKeys } from '../ecash/nut02.ts';
import { createDleq, verifyDleq } from '../ecash/nut12.ts';
import { deriveSecret } from '../ecash/nut13.ts';
import type { Proof } from '../ecash/token.ts';
import { checkAnnouncement } from './ecash-announce.ts';
import type { NextKeysetJson } from './ecash-keysets.ts';

/** The offer's ecash part: the mint that redeems, and the keyset (its fee and final expiry are what its v01 id commits to). */
export type EcashOfferJson = { mint_url: string; unit: 'sat'; keyset_id: string; input_fee_ppk?: number; final_expiry?: number | null; keys: Record<string, string> };
export type BlindedMessageJson = { amount: number; id: string; B_: string };
export type BlindSignatureJson = { amount: number; id: string; C_: string; dleq: { e: string; s: string } };

/** NUT-00 allows any number of outputs; one payment's amount needs at most 64 powers of two. */
export const MAX_OUTPUTS = 64;

function refuse(code: string, message: string): never {
  throw new RefusedError(code, message);
}

/** The offer's ecash part, as the mint publishes it: the public side of the keyset it issues under now. */
export function ecashOffer(keyset: { id: string; unit: string; input_fee_ppk: number; final_expiry: number | null; keys: KeysetKeys | Record<string, string> }, mintUrl: string): EcashOfferJson {
  let url: URL;
  try {
    url = new URL(mintUrl);
  } catch {
    throw new MalformedInputError('E_BAD_MINT_URL', `--mint-url ${mintUrl} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new MalformedInputError('E_BAD_MINT_URL', `--mint-url ${mintUrl} is not an http(s) URL`);
  if (keyset.unit !== 'sat') throw new UsageError('E_USAGE', `the credit contract pays in sat; keyset ${keyset.id} is in ${keyset.unit}`);
  return {
    mint_url: mintUrl, unit: 'sat', keyset_id: keyset.id, input_fee_ppk: keyset.input_fee_ppk,
    ...(keyset.final_expiry !== null ? { final_expiry: keyset.final_expiry } : {}), keys: keyset.keys instanceof Map ? keysObject(keyset.keys) : keyset.keys,
  };
}

/** The user's check of an offer's keyset: its keys, unit, fee and expiry hash to its id (NUT-02, v00 or v01), each key a point. */
export function checkEcashOffer(e: Pick<EcashOfferJson, 'keyset_id' | 'unit' | 'input_fee_ppk' | 'final_expiry' | 'keys'>): { id: string; points: Map<bigint, Point> } {
  const { keys, points } = parseKeys(e.keys);
  if (!keysetIdMatches(e.keyset_id, keys, e)) {
    const version = keysetIdVersion(e.keyset_id);
    const computed = version ? keysetId(version, keys, e) : 'no NUT-02 id (version 00 or 01)';
    refuse('E_KEYSET_ID_MISMATCH', `the keyset's keys (unit ${e.unit}, fee ${e.input_fee_ppk ?? 0}) hash to keyset ${computed}, not the ${e.keyset_id} it names`);
  }
  return { id: e.keyset_id, points };
}

/** The user's ecash record (ports.ts UserContractRecord.ecash) as far as keysets go. */
type UserEcashKeysets = EcashOfferJson & { counter: number; previous_keyset?: Pick<EcashOfferJson, 'keyset_id' | 'unit' | 'input_fee_ppk' | 'final_expiry' | 'keys'> };

/**
 * The user adopts the keyset a receipt announces for its next payment (the ecash mint
 * rotated): signed by the mint's key for this contract and state, and checked like an
 * offer's (keys hash to the id, with its unit, fee and expiry; the same unit; no key of the
 * current keyset — the same keys under another id are no rotation), then it is the keyset of the next request's outputs, with its own NUT-13
 * counter; the one it replaces is kept to check the last receipt again.
 */
export function adoptKeyset<E extends UserEcashKeysets>(e: E, next: NextKeysetJson, from: { contractId: string; state: number; mintPubkey: Uint8Array }): E {
  if (next.id === e.keyset_id) return e;
  checkAnnouncement(next, from.contractId, from.state, from.mintPubkey);
  if (next.unit !== e.unit) refuse('E_BAD_NEXT_KEYSET', `the receipt announces keyset ${next.id} in ${next.unit}, this contract takes ${e.unit}`);
  // A rotation derives new keys (the next index): the same keys under another id (their v00 id, another fee or expiry) are
  // none — an id the ecash mint may never have announced, which anyone can compute from public keys (a writer of the mint's store).
  const shared = Object.entries(next.keys).find(([a, K]) => e.keys[a] === K);
  if (shared) refuse('E_BAD_NEXT_KEYSET', `the receipt announces keyset ${next.id} with the keys this contract already issues under (keyset ${e.keyset_id}; the key of ${shared[0]}): the same keys under another id are not a rotation; not adopted, nothing kept`);
  checkEcashOffer({ keyset_id: next.id, unit: next.unit, input_fee_ppk: next.input_fee_ppk, final_expiry: next.final_expiry, keys: next.keys });
  const { keyset_id, unit, input_fee_ppk, final_expiry, keys } = e;
  return {
    ...e, keyset_id: next.id, input_fee_ppk: next.input_fee_ppk, final_expiry: next.final_expiry, keys: next.keys, counter: 0,
    previous_keyset: { keyset_id, unit, input_fee_ppk, final_expiry, keys },
  };
}

/** The keyset some outputs were made under: the record's, or the one it replaced (the last receipt fed again after a switch). */
export function keysetOfOutputs(e: UserEcashKeysets, outputs: BlindedMessageJson[]): Pick<EcashOfferJson, 'keyset_id' | 'unit' | 'input_fee_ppk' | 'final_expiry' | 'keys'> {
  const id = outputs[0]?.id;
  return id !== undefined && e.previous_keyset?.keyset_id === id ? e.previous_keyset : e;
}

// ——— the payer's authorization of its outputs ———

/**
 * What the user signs for each update that carries outputs (BIP-340, by its own key of
 * the contract): the tagged hash "offchain/credit/v1/outputs" of
 *
 *   contract_id (32) ‖ state (u32 BE) ‖ txid (32, as displayed) ‖ mint_pubnonce (66)
 *   ‖ amount_sat (u64 BE) ‖ cumulative_sat (u64 BE) ‖ count (u16 BE)
 *   ‖ per output, in order: amount (u64 BE) ‖ len(id) (u8) ‖ id bytes ‖ B_ (33)
 *
 * It binds the outputs to one signing session (the state transaction and the mint nonce
 * it is signed against), so a copy of the request cannot carry other outputs, nor the
 * outputs of an abandoned request under the next nonce. The tag makes it a message no
 * taproot sighash ("TapSighash") or other offchain message can be mistaken for, and the
 * user's own key never signs a sighash (the contract's key is the MuSig2 aggregate).
 * Like NUT-20's signature on a mint quote's outputs, for the same front-running.
 */
export type OutputsAuthorization = {
  contract_id: string;
  state: number;
  txid: string;
  mint_pubnonce: Uint8Array;
  amount_sat: number;
  cumulative_sat: number;
  outputs: BlindedMessageJson[];
};

const OUTPUTS_TAG = 'offchain/credit/v1/outputs';

function be(n: bigint | number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let v = BigInt(n);
  for (let i = bytes - 1; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

export function outputsDigest(a: OutputsAuthorization): Uint8Array {
  if (a.outputs.length > 0xffff) refuse('E_ECASH_OUTPUTS', `too many outputs (${a.outputs.length}; a payment carries 1–${MAX_OUTPUTS})`);
  const parts: Uint8Array[] = [
    fromHex(a.contract_id, 'contract_id', 32), be(a.state, 4), fromHex(a.txid, 'txid', 32), a.mint_pubnonce,
    be(a.amount_sat, 8), be(a.cumulative_sat, 8), be(a.outputs.length, 2),
  ];
  for (const [i, o] of a.outputs.entries()) {
    const id = fromHex(o.id, `outputs[${i}].id`);
    parts.push(be(o.amount, 8), Uint8Array.of(id.length), id, fromHex(o.B_, `outputs[${i}].B_`, 33));
  }
  return taggedHash(OUTPUTS_TAG, ...parts);
}

/** The user's signature over its outputs (hex), made with the key it holds in the contract. */
export function authorizeOutputs(user: KeyPair, a: OutputsAuthorization, aux: Uint8Array): string {
  return toHex(schnorr.sign(outputsDigest(a), user.secretKey, aux));
}

// ——— the mint ———

/** What binds a request's outputs: the contract's user key, the state's txid, the mint nonce in its PSBT. */
export type OutputsBinding = { userPubkey: Uint8Array; txid: string; mintPubnonce: Uint8Array | undefined };

/** An update request's ecash part, as checkOutputs reads it. */
export type OutputsRequest = {
  contract_id: string;
  state: number;
  amount_sat: number;
  cumulative_sat: number;
  outputs?: BlindedMessageJson[];
  outputs_signature?: string;
};

/** The same point's other encoding: a B_ and its negation share their x coordinate. */
export const negatedPointHex = (hex: string): string => (hex.startsWith('02') ? '03' : '02') + hex.slice(2);

/**
 * Every check on a request's outputs, before anything is signed or any nonce taken:
 * E_ECASH_OUTPUTS (count, sum), E_UNKNOWN_KEYSET, E_BAD_BLINDED_MESSAGE,
 * E_OUTPUTS_SIGNATURE (the user's signature over them missing or not valid),
 * E_BLINDED_MESSAGE_REUSED (twice in the request, or signed before — either encoding of
 * the point). All exit 4.
 */
export async function checkOutputs(
  ctx: { ecash?: { keyset: MintKeyset; signatures: { signedBlindedMessages(B_s: string[]): Promise<{ B_: string; contract_id: string; state: number }[]> } } },
  req: OutputsRequest,
  binding: OutputsBinding,
): Promise<Point[] | undefined> {
  const { outputs, amount_sat: amountSat } = req;
  if (!ctx.ecash) {
    if (outputs) refuse('E_NO_ECASH', 'this mint issues no ecash (its offer names no keyset): send the request without outputs');
    return undefined;
  }
  if (!outputs) refuse('E_ECASH_OUTPUTS', `this mint pays every credit in ecash: the request must carry blinded messages (outputs) for its ${amountSat} sat`);
  const ks = ctx.ecash.keyset;
  if (outputs.length === 0 || outputs.length > MAX_OUTPUTS) refuse('E_ECASH_OUTPUTS', `a payment carries 1–${MAX_OUTPUTS} outputs, not ${outputs.length}`);
  let sum = 0n;
  const seen = new Set<string>();
  const points: Point[] = [];
  for (const [i, o] of outputs.entries()) {
    if (o.id !== ks.id) refuse('E_UNKNOWN_KEYSET', `output ${i} names keyset ${o.id}; this mint signs with ${ks.id}`);
    if (!ks.privateKeys.has(BigInt(o.amount))) refuse('E_ECASH_OUTPUTS', `output ${i}: amount ${o.amount} is not a power of two of the keyset`);
    sum += BigInt(o.amount);
    // One point, one signature: B_ and its negation (02 ↔ 03) are the same point up to sign.
    const x = o.B_.slice(2);
    if (seen.has(x)) refuse('E_BLINDED_MESSAGE_REUSED', `output ${i}: the same B_ (or its negation) appears twice in this request`);
    seen.add(x);
    try {
      points.push(pointFromBytes(fromHex(o.B_, `outputs[${i}].B_`), `outputs[${i}].B_`));
    } catch {
      refuse('E_BAD_BLINDED_MESSAGE', `output ${i}: B_ is not a point on secp256k1`);
    }
  }
  if (sum !== BigInt(amountSat)) refuse('E_ECASH_OUTPUTS', `the outputs sum to ${sum} sat, not the payment's ${amountSat} sat`);
  checkOutputsSignature(req, outputs, binding);
  // Every B_ and its negation in one read (one query, not one per point: ~70 µs of statements for 5 outputs).
  const asked = outputs.flatMap((o) => [o.B_, negatedPointHex(o.B_)]);
  const owners = new Map((await ctx.ecash.signatures.signedBlindedMessages(asked)).map((r) => [r.B_, r]));
  for (const [i, o] of outputs.entries()) {
    for (const B_ of [o.B_, negatedPointHex(o.B_)]) {
      const owner = owners.get(B_);
      if (owner && !(owner.contract_id === req.contract_id && owner.state === req.state)) {
        refuse('E_BLINDED_MESSAGE_REUSED', `output ${i}: this ${B_ === o.B_ ? 'B_' : 'B_\'s negation'} was already signed (contract ${owner.contract_id}, state ${owner.state}); a point is signed once`);
      }
    }
  }
  return points;
}

/** The outputs are the user's: its signature over them, this state and this mint nonce. */
function checkOutputsSignature(req: OutputsRequest, outputs: BlindedMessageJson[], b: OutputsBinding): void {
  if (req.outputs_signature === undefined) {
    refuse('E_OUTPUTS_SIGNATURE', 'the request\'s outputs carry no signature by the user (outputs_signature): whoever relayed it may have put in its own; the user\'s "sign-update --role user" adds it (resend the request from there)');
  }
  if (!b.mintPubnonce) refuse('E_MISSING_NONCES', 'the PSBT does not carry the mint\'s public nonce');
  const digest = outputsDigest({ ...req, txid: b.txid, mint_pubnonce: b.mintPubnonce, outputs });
  let valid = false;
  try {
    // On the selected backend (noble's own verify here cost ~2.4 ms of a 9 ms payment on libsecp256k1).
    valid = bip340Verify(fromHex(req.outputs_signature, 'outputs_signature', 64), digest, b.userPubkey.subarray(1));
  } catch {
    valid = false;
  }
  if (!valid) {
    refuse('E_OUTPUTS_SIGNATURE', `the outputs_signature is not the contract user's signature over these outputs for state ${req.state}: the outputs were changed on the way (nothing was signed; the user's own request still goes through)`);
  }
}

/** C_ = k·B_ with the amount's key, and its deterministic DLEQ proof. */
export function signOutputs(ks: MintKeyset, outputs: BlindedMessageJson[], points: Point[]): BlindSignatureJson[] {
  return outputs.map((o, i) => {
    const k = ks.privateKeys.get(BigInt(o.amount))!;
    const C_ = signBlindedMessage(k, points[i]!);
    const d = createDleq(k, points[i]!, C_, ks.points.get(BigInt(o.amount))!);
    return { amount: o.amount, id: ks.id, C_: toHex(compressed(C_)), dleq: { e: toHex(d.e), s: toHex(d.s) } };
  });
}

// ——— the user ———

/** The outputs of a payment: its amount split into powers of two, secrets from NUT-13 at counter, counter+1, … */
export function makeOutputs(seed: Uint8Array, keysetId: string, counter: number, amount: bigint): BlindedMessageJson[] {
  return splitAmount(amount).map((a, i) => {
    const { secret, r } = deriveSecret(seed, keysetId, counter + i);
    return { amount: Number(a), id: keysetId, B_: toHex(compressed(blindMessage(secretPoint(secret), r))) };
  });
}

/**
 * The mint's answer, checked whole before anything is kept: one signature per output,
 * same keyset and amount, every DLEQ valid against the offer's key for that amount;
 * then unblinded (C = C_ − r·A) into proofs carrying their DLEQ with r (NUT-12), so
 * whoever receives the token can check it offline too.
 */
export function receiveSignatures(
  seed: Uint8Array,
  offer: UserEcashKeysets,
  pending: { counter: number; outputs: BlindedMessageJson[] },
  signatures: BlindSignatureJson[] | undefined,
): Proof[] {
  const { points } = checkEcashOffer(keysetOfOutputs(offer, pending.outputs));
  if (!signatures || signatures.length !== pending.outputs.length) {
    refuse('E_BAD_SIGNATURES', `the receipt carries ${signatures?.length ?? 0} blind signatures for ${pending.outputs.length} outputs`);
  }
  return pending.outputs.map((o, i) => {
    const s = signatures[i]!;
    if (s.id !== o.id || s.amount !== o.amount) refuse('E_BAD_SIGNATURES', `signature ${i} is for ${s.amount} under ${s.id}, the output for ${o.amount} under ${o.id}`);
    const { secret, r } = deriveSecret(seed, o.id, pending.counter + i);
    const B_ = blindMessage(secretPoint(secret), r);
    if (toHex(compressed(B_)) !== o.B_) throw new UsageError('E_WRONG_WALLET_SEED', `output ${i} does not derive from this wallet seed at counter ${pending.counter + i}: give the seed the request was made with`);
    const A = points.get(BigInt(o.amount))!;
    let C_: Point;
    try {
      C_ = pointFromBytes(fromHex(s.C_, 'C_'), `signatures[${i}].C_`);
    } catch {
      return refuse('E_BAD_DLEQ', `signature ${i}: C_ is not a point`);
    }
    const dleq = { e: fromHex(s.dleq.e, 'dleq.e', 32), s: fromHex(s.dleq.s, 'dleq.s', 32) };
    if (!verifyDleq(dleq, A, B_, C_)) refuse('E_BAD_DLEQ', `signature ${i} (${o.amount} sat): its DLEQ proof does not show it was made with the keyset's key for that amount; nothing was kept`);
    const C = unblindSignature(C_, r, A);
    return { id: o.id, amount: BigInt(o.amount), secret, C: compressed(C), dleq: { ...dleq, r: scalarToBytes(r) } };
  });
}

