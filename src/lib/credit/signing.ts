/**
 * The MuSig2 moves of the credit protocol, shared by both parties: nonce contexts
 * bound to contract and state, the mint's stored nonces, the user's deterministic
 * signatures, and finishing a single-input spend into a signed transaction.
 */
import type { Transaction } from '@scure/btc-signer';
import { equalBytes, fromHex, toHex, utf8 } from '../bytes.ts';
import { InvalidContributionError, RefusedError } from '../errors.ts';
import type { KeyPair } from '../keys/keys.ts';
import { RawTx } from '@scure/btc-signer';
import {
  addPubNonce, finalSignature, musigDeterministicSign, partialSignature, readMusigInput, verifyPartialSigs, type MusigInput,
} from '../musig/psbt-keypath.ts';
import { nonceGen } from '../musig/bip327.ts';
import type { RandomSource } from '../random.ts';
import type { NextNonceJson, NoncePort } from './ports.ts';
import type { CreditContract } from './terms.ts';

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
 * The mint's side: the user's partial signature must be present and valid (blamed on
 * the user otherwise), the mint's nonce must be the one issued for `context`; only then
 * is the secret nonce consumed — durably — and used. Returns the final signature, which
 * has been verified against the output key.
 */
export async function mintComplete(tx: Transaction, input: MusigInput, mint: KeyPair, userPubkey: Uint8Array, nonces: NoncePort, context: string): Promise<Uint8Array> {
  const me = indexOf(input, mint.publicKey);
  const user = indexOf(input, userPubkey);
  if (me < 0 || user < 0) throw new RefusedError('E_WRONG_CONTRACT', 'the PSBT input is not signed for this contract\'s keys');
  if (!input.partialSigs[user]) {
    throw new InvalidContributionError('E_MISSING_PARTIAL_SIGS', toHex(userPubkey), 'the user\'s partial signature is missing');
  }
  const pubnonce = input.pubnonces[me];
  if (!pubnonce) throw new RefusedError('E_MISSING_NONCES', 'the PSBT does not carry the mint\'s public nonce');
  if (input.partialSigs[me]) throw new RefusedError('E_MUSIG_FIELDS', 'the PSBT already carries a partial signature in the mint\'s name');
  verifyPartialSigs(input);
  const secnonce = await nonces.take(pubnonce, context);
  partialSignature(input, mint, secnonce);
  return finalSignature(input);
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
 * witness, serialized directly (the PSBT is not re-encoded: the mint needs only this).
 */
export function signedKeyPathTx(tx: Transaction, tapKeySig: Uint8Array): { txid: string; hex: string } {
  const inputs = Array.from({ length: tx.inputsLength }, (_, i) => {
    const input = tx.getInput(i);
    return { txid: input.txid!, index: input.index!, finalScriptSig: new Uint8Array(), sequence: input.sequence ?? 0xffffffff };
  });
  const outputs = Array.from({ length: tx.outputsLength }, (_, i) => {
    const o = tx.getOutput(i);
    return { amount: o.amount!, script: o.script! };
  });
  const raw = RawTx.encode({ version: tx.version, segwitFlag: true, inputs, outputs, witnesses: [[tapKeySig]], lockTime: tx.lockTime });
  return { txid: tx.id, hex: toHex(raw) };
}
