/**
 * The MuSig2 moves of the credit protocol, shared by both parties: nonce contexts
 * bound to contract and state, the mint's stored nonces, the user's deterministic
 * signatures, and finishing a single-input spend into a signed transaction.
 */
import type { Transaction } from '@scure/btc-signer';
import { equalBytes, fromHex, toHex, utf8 } from '../bytes.ts';
import { hash256 } from '../hash.ts';
import { InvalidContributionError, RefusedError, StateConflictError } from '../errors.ts';
import type { KeyPair } from '../keys/keys.ts';
import {
  addPubNonce, lastSignature, musigDeterministicSign, readMusigInput, signingSessionDigest, verifyPartialSigs, type MusigInput,
} from '../musig/psbt-keypath.ts';
import { nonceGen } from '../musig/bip327.ts';
import type { RandomSource } from '../random.ts';
import type { NextNonceJson } from './ports.ts';
import type { NoncePort } from '../musig/nonce-port.ts';
import type { CreditContract } from './terms.ts';
import { unsignedTxBytes } from '../psbt/views.ts';
import { parsePsbtBase64 } from '../psbt/parse.ts';

/** The mint's nonce for `state` of contract `id` serves that state and nothing else. */
export function stateNonceContext(id: string, state: number): string {
  return `offchain/credit/v1/${id}/state/${state}`;
}

/** The user's nonce for a contract's refund (the one user nonce kept on disk). */
export function refundNonceContext(id: string): string {
  return `offchain/credit/v1/${id}/refund`;
}

/**
 * A fresh secret nonce, stored single-use, for signing an as yet unknown message under
 * `context` (BIP-327 NonceGen without msg; the context is its extra input).
 */
export async function issueNonce(nonces: NoncePort, random: RandomSource, signer: KeyPair, c: CreditContract, context: string): Promise<Uint8Array> {
  const issued = await nonces.issue(context, (counter) =>
    nonceGen(signer.publicKey, signer.secretKey, c.key.output.outputKey, undefined, utf8(context), random.bytes(32, `credit/nonce/${counter}`)),
  );
  return issued.pubnonce;
}

export async function issueStateNonce(nonces: NoncePort, random: RandomSource, mint: KeyPair, c: CreditContract, state: number): Promise<NextNonceJson> {
  return { state, pubnonce: toHex(await issueNonce(nonces, random, mint, c, stateNonceContext(c.id, state))) };
}

function indexOf(input: MusigInput, key: Uint8Array): number {
  return input.key.participants.findIndex((p) => equalBytes(p, key));
}

/** The user's side of a state/close/rollover input: add the mint's nonce, DeterministicSign. */
export function userSignAgainst(tx: Transaction, index: number, user: KeyPair, mintPubkey: Uint8Array, mintNonce: NextNonceJson): void {
  const input = readMusigInput(tx, index);
  addPubNonce(tx, input, mintPubkey, fromHex(mintNonce.pubnonce, 'mint nonce', 66));
  musigDeterministicSign(tx, input, user);
}

/**
 * The request is the user's: its partial signature on the contract input is present and
 * valid (blamed on the user otherwise), beside the mint's public nonce and no signature in
 * the mint's name. The mint checks this before it says anything of the contract — its state,
 * what it was paid, whether it is frozen — so that a stranger who knows a contract's id
 * learns nothing from a refusal (issue 72: `latest is 3`, `previous 6000 sat`). Its words
 * name the request only. Checked once: mintComplete's own check is then free.
 */
export function checkUserSigned(input: MusigInput, mintPubkey: Uint8Array, userPubkey: Uint8Array): void {
  const me = indexOf(input, mintPubkey);
  const user = indexOf(input, userPubkey);
  if (me < 0 || user < 0) throw new RefusedError('E_WRONG_CONTRACT', 'the PSBT input is not signed for this contract\'s keys');
  if (!input.partialSigs[user]) {
    throw new InvalidContributionError('E_MISSING_PARTIAL_SIGS', toHex(userPubkey), 'the user\'s partial signature is missing');
  }
  if (!input.pubnonces[me]) throw new RefusedError('E_MISSING_NONCES', 'the PSBT does not carry the mint\'s public nonce');
  if (input.partialSigs[me]) throw new RefusedError('E_MUSIG_FIELDS', 'the PSBT already carries a partial signature in the mint\'s name');
  verifyPartialSigs(input);
}

/** The mint's public nonce in a request's contract input (present once checkUserSigned passed). */
export function mintPubnonceOf(input: MusigInput, mintPubkey: Uint8Array): Uint8Array {
  return input.pubnonces[indexOf(input, mintPubkey)]!;
}

/**
 * As much of an update's PSBT as reads without an error — its transaction, its MuSig2 input,
 * the mint's nonce in it — so the mint's store may read that nonce with the contract
 * (mint.ts acceptUpdate reads again, where it stands, any part that failed here).
 */
export function readUpdateEarly(psbt: string, mintPubkey: Uint8Array): { tx?: Transaction; input?: MusigInput; mintPubnonce?: Uint8Array } {
  const read: ReturnType<typeof readUpdateEarly> = {};
  try {
    read.tx = parsePsbtBase64(psbt, 'psbt');
    read.input = readMusigInput(read.tx, 0);
    read.mintPubnonce = mintPubnonceOf(read.input, mintPubkey);
  } catch {
    // Thrown again in its place.
  }
  return read;
}

/**
 * The mint nonce a request of the user's is signed against (its partial signature, or round 1's
 * signed `mint_pubnonce`) must be the one this mint issued for the state the request names:
 * the signature covers the transaction, not the JSON's `state` or amounts, so a relay holding
 * one signed request could otherwise edit them and read the contract's state from the
 * refusals. Asked of the nonce store (reads only) before any rule that reads the contract's
 * state: 'live' — unused, issued for `state` of contract `id` (the user's current request);
 * 'spent' — used: a request the mint signed (the caller serves its stored answer again if it
 * is that very request; refuseSpent otherwise) or abandoned. A nonce never issued here, or
 * issued for another state or contract, is refused in words that name only the request.
 */
export async function checkStateNonce(nonces: NoncePort, pubnonce: Uint8Array, id: string, state: number): Promise<'live' | 'spent'> {
  const status = await nonces.status(pubnonce, stateNonceContext(id, state));
  if (status === 'unused') return 'live';
  if (status === 'consumed') return 'spent';
  if (status === 'unknown') throw new StateConflictError('E_NONCE_UNKNOWN', 'the mint nonce this request is signed against was never issued by this store: nothing was written');
  throw new RefusedError('E_NONCE_MISBOUND', 'the mint nonce this request is signed against was not issued for the state the request names (a request is for the state of its nonce): nothing was written');
}

/** A request signed against a used nonce that is not the request the mint signed with it: what it holds is told only to the user's signed abandon. */
export function refuseSpent(contractId: string): never {
  throw new StateConflictError('E_NONCE_USED', `the mint nonce this request is signed against has already been used (the mint signed another request with it, or it was abandoned): this request is never signed; the user asks what the mint holds with "offchain credit abandon --role user --start --contract ${contractId}"`);
}

/**
 * The mint's side: the user's partial signature must be present and valid
 * (checkUserSigned), the mint's nonce must be the one issued for `context`; only then
 * is the secret nonce consumed — durably, with the digest of the session it signs — and
 * used. Returns the final signature, which has been verified against the output key.
 */
export async function mintComplete(tx: Transaction, input: MusigInput, mint: KeyPair, userPubkey: Uint8Array, nonces: NoncePort, context: string): Promise<Uint8Array> {
  checkUserSigned(input, mint.publicKey, userPubkey);
  const pubnonce = mintPubnonceOf(input, mint.publicKey);
  // The session it is opened for: a store's ledger opens it again only for this one (nonce-ledger.ts).
  const secnonce = await nonces.take(pubnonce, context, signingSessionDigest(input));
  return lastSignature(input, mint, secnonce);
}

/**
 * The mint's partial signature on a refund, with BIP-327 DeterministicSign as the last
 * signer: the refund needs no mint nonce state. The user's public nonce must be there.
 */
export function mintCosignRefund(tx: Transaction, mint: KeyPair, userPubkey: Uint8Array): void {
  const input = readMusigInput(tx, 0);
  const user = indexOf(input, userPubkey);
  if (user < 0 || indexOf(input, mint.publicKey) < 0) throw new RefusedError('E_WRONG_CONTRACT', 'the refund is not signed for this contract\'s keys');
  if (!input.pubnonces[user]) throw new InvalidContributionError('E_MISSING_NONCES', toHex(userPubkey), 'the refund carries no public nonce from the user');
  if (input.partialSigs.some(Boolean)) throw new RefusedError('E_MUSIG_FIELDS', 'the refund already carries partial signatures');
  musigDeterministicSign(tx, input, mint);
}

/**
 * The network transaction of a single-input key-path spend with `tapKeySig` as its
 * witness, spliced into the unsigned transaction's bytes (BIP-144: marker and flag after
 * the version, the witness before the locktime) — the PSBT is not re-encoded and the
 * inputs and outputs are not copied out of it: the mint needs only this.
 */
export function signedKeyPathTx(tx: Transaction, tapKeySig: Uint8Array): { txid: string; hex: string } {
  if (tx.inputsLength !== 1) throw new Error('signedKeyPathTx: a single-input spend only');
  const unsigned = unsignedTxBytes(tx);
  const end = unsigned.length - 4; // where the lock time starts
  const raw = new Uint8Array(unsigned.length + 2 + 2 + tapKeySig.length);
  raw.set(unsigned.subarray(0, 4), 0);
  raw[4] = 0; // marker
  raw[5] = 1; // flag
  raw.set(unsigned.subarray(4, end), 6);
  let at = 2 + end;
  raw[at++] = 1; // one stack item: the signature, 64 or 65 bytes
  raw[at++] = tapKeySig.length;
  raw.set(tapKeySig, at);
  raw.set(unsigned.subarray(end), at + tapKeySig.length);
  return { txid: toHex(hash256(unsigned).reverse()), hex: toHex(raw) };
}
