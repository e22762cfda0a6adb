/**
 * The PTLC's claim pre-signature: payer and payee run BIP-327 over the claim
 * transaction's key-path sighash in an adaptor session with the lock point T
 * (../musig/engine/adaptor.ts), in three steps, one message each way:
 *
 *   payee  start   builds the claim transaction and issues its nonce (single-use store)
 *   payer  sign    issues, consumes and signs with its own nonce at once (durably consumed
 *                  before the partial signature leaves), so it never keeps a nonce open
 *   payee  finish  checks the payer's partial signature, consumes its nonce, signs,
 *                  aggregates the pre-signature and checks it against T
 *
 * and the payer checks the finished message (`checkPresigned`): both partial signatures
 * and the pre-signature recomputed from them — from then on the claim, once on chain,
 * hands it t.
 *
 * Refused: a claim transaction that does not spend the PTLC output alone
 * (E_PTLC_CLAIM_TX), a partial signature that does not verify in this session (names the
 * signer, E_BAD_PARTIAL_SIG), a pre-signature that does not verify against T
 * (E_BAD_PRESIGNATURE).
 */
import type { Static } from '@sinclair/typebox';
import type { Transaction } from '@scure/btc-signer';
import { equalBytes, fromHex, toHex, utf8 } from '../bytes.ts';
import { InvalidContributionError, MalformedInputError, RefusedError } from '../errors.ts';
import type { KeyPair } from '../keys/keys.ts';
import { Session, nonceAgg, nonceGen, verifyPreSignature } from '../musig/bip327.ts';
import type { RandomSource } from '../random.ts';
import { keyPathSighash } from '../taproot/taproot.ts';
import { validatePubNonce } from '../musig/psbt-keypath.ts';
import type { PtlcOutput } from './ptlc.ts';
import type { PtlcPresignSchema } from './schemas.ts';
import type { NoncePort } from '../musig/nonce-port.ts';

export type PtlcPresign = Static<typeof PtlcPresignSchema>;

/** The claim's signature message, after checking the transaction spends this PTLC alone. */
export function claimMessage(ptlc: PtlcOutput, tx: Transaction): Uint8Array {
  if (tx.inputsLength !== 1) throw new RefusedError('E_PTLC_CLAIM_TX', `the claim transaction must spend the PTLC output alone, not ${tx.inputsLength} inputs`);
  const utxo = tx.getInput(0).witnessUtxo;
  if (!utxo || !equalBytes(utxo.script, ptlc.scriptPubKey)) throw new RefusedError('E_PTLC_CLAIM_TX', 'the claim transaction does not spend this PTLC\'s output');
  return keyPathSighash(tx, 0);
}

/** Binds a nonce to this PTLC's claim: a nonce drawn for one claim is useless for another. */
export function nonceContext(ptlc: PtlcOutput, tx: Transaction): string {
  return `ptlc/claim/${tx.id}/${toHex(ptlc.spec.point)}`;
}

function session(ptlc: PtlcOutput, pubnonces: readonly Uint8Array[], msg: Uint8Array): Session {
  return new Session({ aggnonce: nonceAgg(pubnonces), pubkeys: ptlc.participants, tweaks: [ptlc.tweak], isXonly: [true], msg, adaptor: ptlc.spec.point });
}

/** Nonces in participant (KeyAgg) order, from the payer's and the payee's. */
function ordered(ptlc: PtlcOutput, payerNonce: Uint8Array, payeeNonce: Uint8Array): Uint8Array[] {
  return ptlc.participants.map((p) => (equalBytes(p, ptlc.spec.payer) ? payerNonce : payeeNonce));
}

function index(ptlc: PtlcOutput, who: Uint8Array): number {
  return ptlc.participants.findIndex((p) => equalBytes(p, who));
}

async function issue(ptlc: PtlcOutput, tx: Transaction, msg: Uint8Array, signer: KeyPair, store: NoncePort, random: RandomSource) {
  const context = nonceContext(ptlc, tx);
  return store.issue(context, (counter) => nonceGen(signer.publicKey, signer.secretKey, ptlc.outputKey, msg, utf8(context), random.bytes(32, `ptlc/nonce/${counter}`)));
}

export async function payeeStart(ptlc: PtlcOutput, tx: Transaction, payee: KeyPair, store: NoncePort, random: RandomSource): Promise<Uint8Array> {
  return (await issue(ptlc, tx, claimMessage(ptlc, tx), payee, store, random)).pubnonce;
}

export async function payerSign(ptlc: PtlcOutput, tx: Transaction, payer: KeyPair, payeeNonce: Uint8Array, store: NoncePort, random: RandomSource) {
  const msg = claimMessage(ptlc, tx);
  validatePubNonce(payeeNonce, ptlc.spec.payee); // before anything of ours is issued
  const { pubnonce } = await issue(ptlc, tx, msg, payer, store, random);
  const secnonce = await store.take(pubnonce, nonceContext(ptlc, tx)); // consumed on disk before the signature exists
  const psig = session(ptlc, ordered(ptlc, pubnonce, payeeNonce), msg).sign(secnonce, payer.secretKey);
  return { pubnonce, psig };
}

export type Presigned = { preSignature: Uint8Array; parity: 0 | 1; payeePsig: Uint8Array };

export async function payeeFinish(
  ptlc: PtlcOutput, tx: Transaction, payee: KeyPair, nonces: { payer: Uint8Array; payee: Uint8Array }, payerPsig: Uint8Array, store: NoncePort,
): Promise<Presigned> {
  const msg = claimMessage(ptlc, tx);
  const pubnonces = ordered(ptlc, nonces.payer, nonces.payee);
  validatePubNonce(nonces.payer, ptlc.spec.payer);
  const s = session(ptlc, pubnonces, msg);
  // The payer's partial signature first: nothing of ours is consumed for a bad one.
  if (payerPsig.length !== 32 || !s.partialSigVerify(payerPsig, pubnonces, index(ptlc, ptlc.spec.payer))) {
    throw new InvalidContributionError('E_BAD_PARTIAL_SIG', toHex(ptlc.spec.payer), 'the payer\'s partial signature does not verify in this adaptor session');
  }
  const secnonce = await store.take(nonces.payee, nonceContext(ptlc, tx));
  const payeePsig = s.sign(secnonce, payee.secretKey);
  const psigs = ptlc.participants.map((p) => (equalBytes(p, ptlc.spec.payer) ? payerPsig : payeePsig));
  const preSignature = s.partialSigAgg(psigs);
  const parity = s.nonceParity();
  if (!verifyPreSignature(preSignature, parity, ptlc.spec.point, ptlc.outputKey, msg)) {
    throw new RefusedError('E_BAD_PRESIGNATURE', 'the pre-signature does not verify against the lock point');
  }
  return { preSignature, parity, payeePsig };
}

/** The payer's check of the finished pre-signature: both partial signatures, the aggregate, T. */
export function checkPresigned(
  ptlc: PtlcOutput, tx: Transaction, nonces: { payer: Uint8Array; payee: Uint8Array }, psigs: { payer: Uint8Array; payee: Uint8Array }, p: { preSignature: Uint8Array; parity: number },
): void {
  const msg = claimMessage(ptlc, tx);
  const pubnonces = ordered(ptlc, nonces.payer, nonces.payee);
  const s = session(ptlc, pubnonces, msg);
  for (const [who, key, psig] of [['payer', ptlc.spec.payer, psigs.payer], ['payee', ptlc.spec.payee, psigs.payee]] as const) {
    if (psig.length !== 32 || !s.partialSigVerify(psig, pubnonces, index(ptlc, key))) {
      throw new InvalidContributionError('E_BAD_PARTIAL_SIG', toHex(key), `the ${who}'s partial signature does not verify in this adaptor session`);
    }
  }
  const pre = s.partialSigAgg(ptlc.participants.map((k) => (equalBytes(k, ptlc.spec.payer) ? psigs.payer : psigs.payee)));
  if (!equalBytes(pre, p.preSignature) || p.parity !== s.nonceParity() || !verifyPreSignature(pre, p.parity, ptlc.spec.point, ptlc.outputKey, msg)) {
    throw new RefusedError('E_BAD_PRESIGNATURE', 'the pre-signature is not the aggregate of these partial signatures for the lock point');
  }
}

/**
 * Steps 2–4 on a `ptlc/presign` message, dispatched on what it already holds (the table at
 * the top): a pre-signature → the payer's check (4); no payer nonce → the payer signs (2);
 * else → the payee finishes (3). `signer` must be the party whose step it is. Returns the
 * message to pass on.
 */
export async function presignStep(m: PtlcPresign, ptlc: PtlcOutput, tx: Transaction, signer: KeyPair, store: NoncePort, random: RandomSource): Promise<PtlcPresign> {
  const nonces = { payee: fromHex(m.payee_pubnonce, 'payee_pubnonce', 66) };
  const base = { ...m };

  if (m.pre_signature !== undefined) {
    // Step 4: the payer checks what it will extract t against.
    if (!equalBytes(signer.publicKey, ptlc.spec.payer)) throw new RefusedError('E_KEY_MISMATCH', 'this message is complete: only the payer has a check left to make');
    checkPresigned(
      ptlc, tx, { payer: fromHex(m.payer_pubnonce!, 'payer_pubnonce', 66), payee: nonces.payee },
      { payer: fromHex(m.payer_partial_sig!, 'payer_partial_sig', 32), payee: fromHex(m.payee_partial_sig!, 'payee_partial_sig', 32) },
      { preSignature: fromHex(m.pre_signature, 'pre_signature', 64), parity: m.nonce_parity! },
    );
    return { ...base, next: 'claim' };
  }
  if (m.payer_pubnonce === undefined) {
    // Step 2: the payer.
    if (!equalBytes(signer.publicKey, ptlc.spec.payer)) throw new RefusedError('E_KEY_MISMATCH', 'step 2 is the payer\'s: this key is not the PTLC\'s payer');
    const out = await payerSign(ptlc, tx, signer, nonces.payee, store, random);
    return { ...base, payer_pubnonce: toHex(out.pubnonce), payer_partial_sig: toHex(out.psig), next: 'payee' };
  }
  // Step 3: the payee finishes.
  if (!equalBytes(signer.publicKey, ptlc.spec.payee)) throw new RefusedError('E_KEY_MISMATCH', 'step 3 is the payee\'s: this key is not the PTLC\'s payee');
  if (m.payer_partial_sig === undefined) throw new MalformedInputError('E_MALFORMED_MESSAGE', 'ptlc/presign: the payer\'s nonce came without its partial signature');
  const done = await payeeFinish(ptlc, tx, signer, { payer: fromHex(m.payer_pubnonce, 'payer_pubnonce', 66), payee: nonces.payee }, fromHex(m.payer_partial_sig, 'payer_partial_sig', 32), store);
  return { ...base, payee_partial_sig: toHex(done.payeePsig), pre_signature: toHex(done.preSignature), nonce_parity: done.parity, next: 'payer' };
}
