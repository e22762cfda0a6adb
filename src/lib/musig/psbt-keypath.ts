/**
 * MuSig2 (BIP-327) for a taproot key-path input, carried in a PSBT's BIP-373 fields:
 * PSBT_IN_MUSIG2_PARTICIPANT_PUBKEYS (aggregate key → participant keys), and
 * PSBT_IN_MUSIG2_PUB_NONCE / PSBT_IN_MUSIG2_PARTIAL_SIG keyed by the participant and
 * the key being signed for — for a key-path spend the *tweaked output key* Q as a
 * compressed point, not the untweaked aggregate (BIP-373, and its test vectors). This is the glue @scure/btc-signer leaves to us: sighash → session →
 * partial signatures → aggregated `tapKeySig`.
 *
 * Every contribution is checked when it arrives and blamed on its sender
 * (`InvalidContributionError` names the participant's public key). Only
 * SIGHASH_DEFAULT is signed unless the caller explicitly allows another type.
 *
 * `readMusigInput` reads the fields from the input `parsePsbt` decoded (../psbt/read.ts has
 * checked every key in them to be a point, once).
 *
 * Deliberately absent: script-path MuSig2 (leaf_hash-keyed fields) and BIP-32-derived
 * aggregate keys; nonce *storage* lives in src/lib/store (this module never keeps a
 * secret nonce beyond the call that uses it).
 */
import { Transaction } from '@scure/btc-signer';
import { equalBytes, toHex } from '../bytes.ts';
import { InvalidContributionError, RefusedError } from '../errors.ts';
import type { KeyPair } from '../keys/keys.ts';
import { inputView } from '../psbt/views.ts';
import { keyPathSighash, SIGHASH_DEFAULT } from '../taproot/taproot.ts';
import { musigKey, type MusigKey } from './keyagg.ts';
import { Bip327Error, Session, bip340Verify, deterministicSign, nonceAgg, nonceGen } from './bip327.ts';
import { taggedHash, uintBE } from './engine/scalar.ts';

export type MusigInput = {
  index: number;
  key: MusigKey;
  /** BIP-373 key of the nonce and partial-signature fields: the output key Q, compressed. */
  signingKey: Uint8Array;
  /** BIP-341 signature message of this input. */
  msg: Uint8Array;
  hashType: number;
  /** Public nonces present, in participant order (undefined where missing). */
  pubnonces: (Uint8Array | undefined)[];
  /** Partial signatures present, in participant order. */
  partialSigs: (Uint8Array | undefined)[];
};

export type ReadOptions = { allowedSighash?: readonly number[] };

/** Updater step: record the participants of a key-path MuSig2 input and check the output matches. */
export function setMusigParticipants(tx: Transaction, index: number, pubkeys: readonly Uint8Array[]): MusigKey {
  const input = tx.getInput(index);
  const key = musigKey(pubkeys, { merkleRoot: input.tapMerkleRoot });
  checkSpentScript(tx, index, key);
  tx.updateInput(index, {
    tapInternalKey: key.internalKey,
    musig2ParticipantPubkeys: [[key.aggregatePubkey, key.participants]],
  });
  return key;
}

function checkSpentScript(tx: Transaction, index: number, key: MusigKey): void {
  const utxo = inputView(tx, index).witnessUtxo;
  if (!utxo) throw new RefusedError('E_PSBT_MISSING_UTXO', `input ${index} has no witness_utxo`);
  if (!equalBytes(utxo.script, key.output.script)) {
    throw new RefusedError(
      'E_KEY_MISMATCH',
      `input ${index} spends ${toHex(utxo.script)}, not the P2TR output of the MuSig2 key ${toHex(key.output.outputKey)}`,
    );
  }
}

export function isMusigInput(tx: Transaction, index: number): boolean {
  return (inputView(tx, index).musig2ParticipantPubkeys?.length ?? 0) > 0;
}

/** A BIP-373 field key: the participant, the key signed for, and a leaf hash (script path only). */
export type MusigFieldKey = { participantPubkey: Uint8Array; aggregatePubkey: Uint8Array; leafHash?: Uint8Array };

/** Read and check everything a signer or aggregator needs from the PSBT input. */
export function readMusigInput(tx: Transaction, index: number, opts: ReadOptions = {}): MusigInput {
  const fields = inputView(tx, index);
  const entries = fields.musig2ParticipantPubkeys ?? [];
  if (entries.length !== 1) {
    throw new RefusedError('E_MUSIG_FIELDS', `input ${index} must carry exactly one MuSig2 participant list, found ${entries.length}`);
  }
  const [aggregatePubkey, participants] = entries[0]!;
  const key = musigKey(participants, { sort: false, merkleRoot: fields.tapMerkleRoot });
  if (!equalBytes(key.aggregatePubkey, aggregatePubkey)) {
    throw new RefusedError('E_MUSIG_FIELDS', `input ${index}: the aggregate key does not match KeyAgg of its participants`);
  }
  if (fields.tapInternalKey && !equalBytes(fields.tapInternalKey, key.internalKey)) {
    throw new RefusedError('E_MUSIG_FIELDS', `input ${index}: taproot internal key is not the MuSig2 aggregate key`);
  }
  checkSpentScript(tx, index, key);
  const hashType = fields.sighashType ?? SIGHASH_DEFAULT;
  const allowed = opts.allowedSighash ?? [SIGHASH_DEFAULT];
  if (!allowed.includes(hashType)) {
    throw new RefusedError('E_SIGHASH_NOT_ALLOWED', `input ${index} asks for sighash type 0x${hashType.toString(16)}; only SIGHASH_DEFAULT is signed`);
  }
  const signingKey = outputKeyCompressed(key);
  const pubNonces = fields.musig2PubNonce ?? [];
  const partialSigs = fields.musig2PartialSig ?? [];
  const pick = (list: typeof pubNonces) =>
    key.participants.map((p) => {
      const hit = list.find(([k]) => !k.leafHash && equalBytes(k.participantPubkey, p) && equalBytes(k.aggregatePubkey, signingKey));
      return hit?.[1].slice(); // a copy: the PSBT's field is read in place (inputView)
    });
  for (const [k] of [...pubNonces, ...partialSigs]) {
    if (equalBytes(k.aggregatePubkey, signingKey) && !key.participants.some((p) => equalBytes(p, k.participantPubkey))) {
      throw new InvalidContributionError('E_MUSIG_NOT_PARTICIPANT', toHex(k.participantPubkey), `input ${index}: a contribution from a key that is not a participant`);
    }
  }
  return {
    index,
    key,
    signingKey,
    msg: keyPathSighash(tx, index, hashType),
    hashType,
    pubnonces: pick(pubNonces),
    partialSigs: pick(partialSigs),
  };
}

/** Q with its parity as a 33-byte compressed point: BIP-373's key for key-path fields. */
export function outputKeyCompressed(key: MusigKey): Uint8Array {
  const out = new Uint8Array(33);
  out[0] = 0x02 + key.output.parity;
  out.set(key.output.outputKey, 1);
  return out;
}

function participantIndex(input: MusigInput, publicKey: Uint8Array): number {
  const i = input.key.participants.findIndex((p) => equalBytes(p, publicKey));
  if (i < 0) {
    // "This key is not a party": E_KEY_MISMATCH everywhere (was E_MUSIG_NOT_PARTICIPANT here).
    throw new RefusedError('E_KEY_MISMATCH', `this key (${toHex(publicKey)}) is not a participant of input ${input.index}`);
  }
  return i;
}

/**
 * BIP-327 NonceGen bound to this input: the signing key, the output key, the message
 * and `extraIn` (callers pass their protocol context, e.g. contract id and state
 * number) all feed the nonce, so a nonce drawn for one purpose is useless for another.
 */
export function musigNonceGen(input: MusigInput, signer: KeyPair, rand: Uint8Array, extraIn: Uint8Array): { secnonce: Uint8Array; pubnonce: Uint8Array } {
  participantIndex(input, signer.publicKey);
  return nonceGen(signer.publicKey, signer.secretKey, input.key.output.outputKey, input.msg, extraIn, rand);
}

/** Check a public nonce is two valid points before it is stored or used. */
export function validatePubNonce(pubnonce: Uint8Array, participant: Uint8Array): void {
  if (pubnonce.length !== 66) {
    throw new InvalidContributionError('E_BAD_PUBNONCE', toHex(participant), `public nonce of ${toHex(participant)} must be 66 bytes`);
  }
  try {
    nonceAgg([pubnonce]);
  } catch {
    throw new InvalidContributionError('E_BAD_PUBNONCE', toHex(participant), `public nonce of ${toHex(participant)} is not two valid points`);
  }
}

/** Add a participant's public nonce; a different nonce already recorded for it is refused. */
export function addPubNonce(tx: Transaction, input: MusigInput, participant: Uint8Array, pubnonce: Uint8Array): void {
  const i = participantIndex(input, participant);
  claimPubNonceSlot(input, i, participant, pubnonce);
  input.pubnonces[i] = pubnonce;
  tx.updateInput(input.index, {
    musig2PubNonce: [[{ participantPubkey: participant, aggregatePubkey: input.signingKey }, pubnonce]],
  });
}

/** `pubnonce` may be participant i's: a valid public nonce, and no other one from i already there. */
function claimPubNonceSlot(input: MusigInput, i: number, participant: Uint8Array, pubnonce: Uint8Array): void {
  validatePubNonce(pubnonce, participant);
  const existing = input.pubnonces[i];
  if (existing && !equalBytes(existing, pubnonce)) {
    throw new RefusedError('E_NONCE_CONFLICT', `input ${input.index} already has a different public nonce from ${toHex(participant)}`);
  }
}

function allNonces(input: MusigInput): Uint8Array[] {
  const missing = input.key.participants.filter((_, i) => !input.pubnonces[i]).map(toHex);
  if (missing.length) {
    throw new RefusedError('E_MISSING_NONCES', `input ${input.index} still lacks public nonces from ${missing.join(', ')}`, { missing });
  }
  return input.pubnonces as Uint8Array[];
}

function aggregateNonces(input: MusigInput, nonces: Uint8Array[], participants: readonly Uint8Array[]): Uint8Array {
  try {
    return nonceAgg(nonces);
  } catch (e) {
    if (e instanceof Bip327Error && e.signer !== undefined) {
      const who = toHex(participants[e.signer]!);
      throw new InvalidContributionError('E_BAD_PUBNONCE', who, `input ${input.index}: public nonce of ${who} is invalid`);
    }
    throw e;
  }
}

/** One session per input and aggregate nonce: built once, reused by sign, verify and aggregate. */
const sessions = new WeakMap<MusigInput, { aggnonce: Uint8Array; session: Session }>();

function session(input: MusigInput, aggnonce: Uint8Array): Session {
  const cached = sessions.get(input);
  if (cached && equalBytes(cached.aggnonce, aggnonce)) return cached.session;
  const fresh = new Session({ aggnonce, pubkeys: input.key.participants, msg: input.msg, tweaks: [input.key.output.tweak], isXonly: [true] });
  sessions.set(input, { aggnonce, session: fresh });
  return fresh;
}

/**
 * The digest of everything BIP-327 Sign's output depends on besides the secret nonce and
 * the secret key: the session context — the aggregate nonce (of every participant's public
 * nonce), the participants in KeyAgg order, the taproot tweak (x-only) — and the message.
 * Sign is deterministic, so one secret nonce opened twice for equal digests gives the same
 * partial signature (nothing new); for different ones, two equations in the nonce's secrets
 * — a store's nonce ledger (store/nonce-ledger.ts) allows the first and refuses the second.
 * Every public nonce must be present.
 */
export function signingSessionDigest(input: MusigInput): Uint8Array {
  const aggnonce = aggregateNonces(input, allNonces(input), input.key.participants);
  return taggedHash(
    'offchain/musig2-signing-session',
    aggnonce,
    uintBE(input.key.participants.length, 4), ...input.key.participants,
    Uint8Array.of(1), input.key.output.tweak, Uint8Array.of(1), // one tweak, x-only
    uintBE(input.msg.length, 4), input.msg,
  );
}

/** Partial signatures already verified in this process (by verifyPartialSigs or our own Sign). */
const verified = new WeakMap<MusigInput, Set<number>>();

function markVerified(input: MusigInput, i: number): void {
  const set = verified.get(input) ?? new Set<number>();
  set.add(i);
  verified.set(input, set);
}

function storePartialSig(tx: Transaction, input: MusigInput, participant: Uint8Array, psig: Uint8Array): void {
  input.partialSigs[participantIndex(input, participant)] = psig;
  tx.updateInput(input.index, {
    musig2PartialSig: [[{ participantPubkey: participant, aggregatePubkey: input.signingKey }, psig]],
  });
}

/**
 * BIP-327 Sign with a secret nonce from NonceGen. The caller must already have
 * consumed `secnonce` from durable storage; this function also zeroes it.
 */
export function musigPartialSign(tx: Transaction, input: MusigInput, signer: KeyPair, secnonce: Uint8Array): Uint8Array {
  const psig = partialSignature(input, signer, secnonce);
  storePartialSig(tx, input, signer.publicKey, psig);
  return psig;
}

/**
 * BIP-327 Sign for this input, as a value: recorded in `input` (and known verified, as
 * Sign checks its own output) but not written into the PSBT — a signer that only needs
 * the final transaction skips re-encoding the PSBT.
 */
export function partialSignature(input: MusigInput, signer: KeyPair, secnonce: Uint8Array): Uint8Array {
  const i = participantIndex(input, signer.publicKey);
  const nonces = allNonces(input);
  let psig: Uint8Array;
  try {
    psig = session(input, aggregateNonces(input, nonces, input.key.participants)).sign(secnonce, signer.secretKey);
  } catch (e) {
    if (e instanceof InvalidContributionError) throw e;
    throw new RefusedError('E_MUSIG_SIGN', `input ${input.index}: cannot sign as participant ${i}: ${(e as Error).message}`);
  } finally {
    secnonce.fill(0);
  }
  input.partialSigs[i] = psig;
  markVerified(input, i); // Sign verified its own output before returning it
  return psig;
}

/**
 * BIP-327 DeterministicSign: for the last signer, whose nonce is derived from its key,
 * the message and everyone else's nonces, so it keeps no nonce state at all.
 */
export function musigDeterministicSign(tx: Transaction, input: MusigInput, signer: KeyPair, rand?: Uint8Array): { pubnonce: Uint8Array; partialSig: Uint8Array } {
  const i = participantIndex(input, signer.publicKey);
  const others = input.key.participants.map((p, j) => ({ p, n: input.pubnonces[j], j })).filter((x) => x.j !== i);
  const missing = others.filter((x) => !x.n).map((x) => toHex(x.p));
  if (missing.length) {
    throw new RefusedError('E_MISSING_NONCES', `deterministic signing needs every other participant's nonce first; missing ${missing.join(', ')}`, { missing });
  }
  const aggOther = aggregateNonces(input, others.map((x) => x.n!), others.map((x) => x.p));
  let out: { pubnonce: Uint8Array; psig: Uint8Array };
  try {
    out = deterministicSign(signer.secretKey, aggOther, input.key.participants, [input.key.output.tweak], [true], input.msg, rand);
  } catch (e) {
    throw new RefusedError('E_MUSIG_SIGN', `input ${input.index}: deterministic signing failed: ${(e as Error).message}`);
  }
  // The nonce and the partial signature in one PSBT update: @scure/btc-signer checks the whole
  // input again at every update (each key lifted, the taproot tweak recomputed: ~7 ms on pure JS).
  claimPubNonceSlot(input, i, signer.publicKey, out.pubnonce);
  input.pubnonces[i] = out.pubnonce;
  input.partialSigs[i] = out.psig;
  const key = { participantPubkey: signer.publicKey, aggregatePubkey: input.signingKey };
  tx.updateInput(input.index, { musig2PubNonce: [[key, out.pubnonce]], musig2PartialSig: [[key, out.psig]] });
  return { pubnonce: out.pubnonce, partialSig: out.psig };
}

/** Verify every partial signature present; the first bad one is blamed on its sender. */
export function verifyPartialSigs(input: MusigInput): void {
  // None to check, or each verified already (a step checks the user's before it says anything, then completes).
  if (input.partialSigs.every((psig, i) => !psig || verified.get(input)?.has(i))) return;
  const nonces = allNonces(input);
  const s = session(input, aggregateNonces(input, nonces, input.key.participants));
  input.partialSigs.forEach((psig, i) => {
    if (!psig || verified.get(input)?.has(i)) return;
    let ok = false;
    try {
      ok = psig.length === 32 && s.partialSigVerify(psig, nonces, i);
    } catch {
      ok = false;
    }
    if (!ok) {
      const who = toHex(input.key.participants[i]!);
      throw new InvalidContributionError('E_BAD_PARTIAL_SIG', who, `input ${input.index}: partial signature of ${who} does not verify`);
    }
    markVerified(input, i);
  });
}

/**
 * Aggregate the partial signatures into the BIP-340 key-path signature, check it
 * against the output key (the product's own BIP-340 Verify, on the selected secp256k1
 * backend: a last line of defence, not an independent check), and record it as `tapKeySig`.
 */
export function aggregateMusigInput(tx: Transaction, input: MusigInput): Uint8Array {
  const tapKeySig = finalSignature(input);
  tx.updateInput(input.index, { tapKeySig }, true);
  return tapKeySig;
}

/**
 * The last signer's move, as a value: BIP-327 Sign with `secnonce` (which the caller has
 * already consumed from durable storage; zeroed here), PartialSigAgg, and BIP-340 Verify of
 * the result against the output key — which a faulty partial signature of ours would fail,
 * so Sign's own self-check and its d·G (the key pair's public key is known) are spared.
 * Every other participant's partial signature must be present and is verified first.
 * Only the final signature leaves; our partial signature is recorded in `input` only.
 */
export function lastSignature(input: MusigInput, signer: KeyPair, secnonce: Uint8Array): Uint8Array {
  try {
    const i = participantIndex(input, signer.publicKey);
    const missing = input.key.participants.filter((_, j) => j !== i && !input.partialSigs[j]).map(toHex);
    if (missing.length) {
      throw new RefusedError('E_MISSING_PARTIAL_SIGS', `input ${input.index} still lacks partial signatures from ${missing.join(', ')}`, { missing });
    }
    verifyPartialSigs(input);
    const s = session(input, aggregateNonces(input, allNonces(input), input.key.participants));
    try {
      input.partialSigs[i] = s.sign(secnonce, signer.secretKey, { publicKey: signer.publicKey, selfCheck: false });
    } catch (e) {
      throw new RefusedError('E_MUSIG_SIGN', `input ${input.index}: cannot sign as participant ${i}: ${(e as Error).message}`);
    }
    const sig = s.partialSigAgg(input.partialSigs as Uint8Array[]);
    if (!bip340Verify(sig, input.msg, input.key.output.outputKey)) {
      input.partialSigs[i] = undefined;
      throw new RefusedError('E_BAD_SIGNATURE', `input ${input.index}: aggregated signature does not verify against the output key`);
    }
    markVerified(input, i);
    return input.hashType === SIGHASH_DEFAULT ? sig : new Uint8Array([...sig, input.hashType]);
  } finally {
    secnonce.fill(0);
  }
}

/**
 * The aggregated BIP-340 signature (with the sighash byte unless SIGHASH_DEFAULT),
 * verified against the output key on the selected secp256k1 backend.
 */
export function finalSignature(input: MusigInput): Uint8Array {
  const missing = input.key.participants.filter((_, i) => !input.partialSigs[i]).map(toHex);
  if (missing.length) {
    throw new RefusedError('E_MISSING_PARTIAL_SIGS', `input ${input.index} still lacks partial signatures from ${missing.join(', ')}`, { missing });
  }
  verifyPartialSigs(input);
  const nonces = allNonces(input);
  const sig = session(input, aggregateNonces(input, nonces, input.key.participants)).partialSigAgg(input.partialSigs as Uint8Array[]);
  if (!bip340Verify(sig, input.msg, input.key.output.outputKey)) {
    // Unreachable when every partial signature verified; kept as a last line of defence.
    throw new RefusedError('E_BAD_SIGNATURE', `input ${input.index}: aggregated signature does not verify against the output key`);
  }
  return input.hashType === SIGHASH_DEFAULT ? sig : new Uint8Array([...sig, input.hashType]);
}
