/**
 * The signer's two MuSig2 rounds over a whole PSBT, as the `musig nonce` and
 * `musig sign` commands run them: find every MuSig2 key-path input this key takes part
 * in, contribute a nonce (kept in the single-use store, bound to the input), then sign
 * with it. Check everything first, consume nonces only when every input can be signed,
 * so a refusal never burns a nonce, and a nonce is consumed on disk before the
 * signature made with it exists.
 *
 * The nonce context names the transaction, the input and the aggregate key; it is both
 * stored with the secret nonce and fed to NonceGen's extra input, so a nonce drawn for
 * one input can never sign another.
 */
import type { Transaction } from '@scure/btc-signer';
import { equalBytes, toHex, utf8 } from '../bytes.ts';
import { RefusedError, StateConflictError } from '../errors.ts';
import type { KeyPair } from '../keys/keys.ts';
import type { RandomSource } from '../random.ts';
import {
  addPubNonce, isMusigInput, musigDeterministicSign, musigNonceGen, musigPartialSign, readMusigInput, type MusigInput,
} from './psbt-keypath.ts';
import type { NoncePort } from './nonce-port.ts';

export function nonceContext(tx: Transaction, input: MusigInput): string {
  return `offchain/musig-psbt/v1/${tx.id}/${input.index}/${toHex(input.key.aggregatePubkey)}`;
}

/** The MuSig2 inputs `signer` takes part in, read and checked. */
export function inputsFor(tx: Transaction, signer: KeyPair): { input: MusigInput; me: number }[] {
  const out: { input: MusigInput; me: number }[] = [];
  for (let i = 0; i < tx.inputsLength; i++) {
    if (!isMusigInput(tx, i)) continue;
    const input = readMusigInput(tx, i);
    const me = input.key.participants.findIndex((p) => equalBytes(p, signer.publicKey));
    if (me >= 0) out.push({ input, me });
  }
  if (out.length === 0) {
    // One code for "this key is not a party" across the toolkit (docs/cli.md; was E_NOT_A_PARTICIPANT).
    throw new RefusedError('E_KEY_MISMATCH', `this key (${toHex(signer.publicKey)}) is not a participant of any MuSig2 input of this PSBT`);
  }
  return out;
}

/** Round 1: a fresh nonce for every input of ours that has none yet. Returns the input indices. */
export async function contributeNonces(tx: Transaction, signer: KeyPair, store: NoncePort, random: RandomSource): Promise<number[]> {
  const todo = inputsFor(tx, signer).filter(({ input, me }) => !input.pubnonces[me]);
  if (todo.length === 0) throw new RefusedError('E_NOTHING_TO_DO', 'this key has already contributed a nonce to every one of its inputs');
  for (const { input } of todo) {
    const context = nonceContext(tx, input);
    const issued = await store.issue(context, (counter) =>
      musigNonceGen(input, signer, random.bytes(32, `musig/nonce/${counter}`), utf8(context)),
    );
    addPubNonce(tx, input, signer.publicKey, issued.pubnonce);
  }
  return todo.map(({ input }) => input.index);
}

/**
 * Round 2: a partial signature for every input of ours not yet signed. With
 * `deterministic`, inputs where this key has no nonce yet are signed with BIP-327
 * DeterministicSign (this signer keeps no nonce state; every other nonce must be in).
 */
export async function signInputs(tx: Transaction, signer: KeyPair, store: NoncePort, opts: { deterministic: boolean }): Promise<number[]> {
  const todo = inputsFor(tx, signer).filter(({ input, me }) => !input.partialSigs[me]);
  if (todo.length === 0) throw new RefusedError('E_NOTHING_TO_DO', 'this key has already signed every one of its inputs');
  // Check every input before consuming anything.
  for (const { input, me } of todo) {
    const missing = input.key.participants.filter((_, j) => j !== me && !input.pubnonces[j]).map(toHex);
    if (missing.length) throw new RefusedError('E_MISSING_NONCES', `input ${input.index} still lacks public nonces from ${missing.join(', ')}`);
    if (!input.pubnonces[me] && !opts.deterministic) {
      throw new RefusedError('E_MISSING_NONCES', `input ${input.index} has no nonce from this key: run "musig nonce" first, or sign with --deterministic`);
    }
    const status = input.pubnonces[me] ? await store.status(input.pubnonces[me]!) : 'unused';
    if (status !== 'unused') {
      const nonce = `input ${input.index}: this key's nonce ${toHex(input.pubnonces[me]!).slice(0, 16)}…`;
      // Two situations, two sentences; the next step is the same: a nonce signs once, so a new round.
      throw status === 'consumed'
        ? new StateConflictError('E_NONCE_USED', `${nonce} has signed already, and a nonce signs only once: start a new round with \`offchain musig nonce\``)
        : new StateConflictError('E_NONCE_UNKNOWN', `${nonce} was not issued from this state directory (another --state-dir, or another machine's): sign with the --state-dir that ran \`musig nonce\`, or start a new round with \`offchain musig nonce\``);
    }
  }
  for (const { input, me } of todo) {
    const pubnonce = input.pubnonces[me];
    if (!pubnonce) {
      musigDeterministicSign(tx, input, signer);
      continue;
    }
    const secnonce = await store.take(pubnonce, nonceContext(tx, input));
    musigPartialSign(tx, input, signer, secnonce);
  }
  return todo.map(({ input }) => input.index);
}
