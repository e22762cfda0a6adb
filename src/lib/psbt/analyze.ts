/**
 * Which BIP-174 role a PSBT needs next, input by input — like Bitcoin Core's `analyzepsbt`,
 * but MuSig2-aware (BIP-373): for an input signed by a MuSig2 aggregate key it names the
 * participants whose public nonces, then partial signatures, are still missing, and who has
 * contributed. Once every partial signature is in, the input needs the finalizer (BIP-373:
 * the final signer or the finalizer runs PartialSigAgg).
 *
 * Reads fields only: no signature, nonce or partial signature is verified here (that is the
 * musig module's job), so "present" never means "valid". The vsize estimate assumes 72-byte
 * ECDSA and 64-byte Schnorr signatures (65 with a non-default sighash), as Core does.
 */
import { Script, TAPROOT_UNSPENDABLE_KEY } from '@scure/btc-signer';
import type { Transaction } from '@scure/btc-signer';
import { tapLeafHash } from '@scure/btc-signer/payment.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { equalBytes, toHex } from '../bytes.ts';
import { knownFee, prevoutOf } from './decode.ts';
import { inputCheckFailure } from './parse.ts';
import { decodeScript } from './script-shape.ts';
import { estimateVsize } from './vsize.ts';

export type PsbtRole = 'creator' | 'updater' | 'signer' | 'finalizer' | 'extractor';
export type InputRole = Exclude<PsbtRole, 'creator'>;
const ROLE_ORDER: PsbtRole[] = ['creator', 'updater', 'signer', 'finalizer', 'extractor'];

/** One MuSig2 signing session on an input: an aggregate key signing for the key path or a leaf. */
export type Musig2Session = {
  /** From PSBT_IN_MUSIG2_PARTICIPANT_PUBKEYS. */
  aggregate_pubkey: Uint8Array;
  path: 'key' | 'script';
  /** The x-only key the signature is for: the output key (key path) or the key in the leaf. */
  signing_key: Uint8Array;
  leaf_hash?: Uint8Array;
  participant_pubkeys: Uint8Array[];
  pubnonces_from: Uint8Array[];
  partial_sigs_from: Uint8Array[];
  missing_pubnonces: Uint8Array[];
  missing_partial_sigs: Uint8Array[];
  /** The aggregated BIP-340 signature is already in PSBT_IN_TAP_KEY_SIG / PSBT_IN_TAP_SCRIPT_SIG. */
  has_signature: boolean;
  next: 'signer' | 'finalizer';
};

export type MissingData = {
  /** Neither PSBT_IN_WITNESS_UTXO nor PSBT_IN_NON_WITNESS_UTXO. */
  utxo?: boolean;
  /** A non-segwit input has only a witness UTXO; a signer needs the whole previous transaction. */
  non_witness_utxo?: boolean;
  /** HASH160 of the redeem script the P2SH output commits to. */
  redeem_script?: Uint8Array;
  /** SHA256 of the witness script the P2WSH program commits to. */
  witness_script?: Uint8Array;
  /** Keys whose signature is missing (the HASH160 key id when only that is known). */
  signatures?: Uint8Array[];
  /** MuSig2 participants whose public nonce is missing. */
  musig2_pubnonces?: Uint8Array[];
  /** MuSig2 participants whose partial signature is missing. */
  musig2_partial_sigs?: Uint8Array[];
};

export type InputAnalysis = {
  index: number;
  has_utxo: boolean;
  is_final: boolean;
  next: InputRole;
  missing?: MissingData;
  musig2?: Musig2Session[];
  error?: string;
};

export type PsbtAnalysis = {
  inputs: InputAnalysis[];
  next: PsbtRole;
  fee_sat?: bigint;
  /** Estimated virtual size of the finished transaction. */
  estimated_vsize?: number;
  /** fee_sat * 1000 / estimated_vsize, rounded down (integer sat per 1000 vbytes); omitted when absurd (> 2^53). */
  estimated_feerate_sat_per_kvb?: bigint;
  error?: string;
  /** One line for humans. */
  summary: string;
};

type Input = ReturnType<Transaction['getInput']>;
type Verdict = { analysis: InputAnalysis; reason: string };

export function analyzePsbt(tx: Transaction): PsbtAnalysis {
  const verdicts: Verdict[] = [];
  for (let i = 0; i < tx.inputsLength; i++) verdicts.push(analyzeInput(tx, i));
  const inputs = verdicts.map((v) => v.analysis);
  const result: PsbtAnalysis = { inputs, next: 'extractor', summary: '' };
  for (const input of inputs) if (rank(input.next) < rank(result.next)) result.next = input.next;
  const fee = knownFee(tx);
  if (fee !== undefined) result.fee_sat = fee;
  if (tx.inputsLength === 0 || tx.outputsLength === 0) {
    result.next = 'creator';
    result.error = `the transaction has no ${tx.inputsLength === 0 ? 'inputs' : 'outputs'}`;
  } else if (fee !== undefined && fee < 0n) {
    result.next = 'creator';
    result.error = `the outputs spend ${-fee} sat more than the inputs hold`;
  }
  const vsize = estimateVsize(tx);
  if (vsize !== undefined) {
    result.estimated_vsize = vsize;
    const feerate = fee !== undefined && fee >= 0n ? (fee * 1000n) / BigInt(vsize) : undefined;
    // Above 2^53 sat/kvB (90 million sat/vB) a fee rate is absurd and no longer an exact JSON number.
    if (feerate !== undefined && feerate <= BigInt(Number.MAX_SAFE_INTEGER)) result.estimated_feerate_sat_per_kvb = feerate;
  }
  result.summary = summarize(result, verdicts);
  return result;
}

function rank(role: PsbtRole): number {
  return ROLE_ORDER.indexOf(role);
}

function analyzeInput(tx: Transaction, index: number): Verdict {
  const input = tx.getInput(index);
  const prevout = prevoutOf(tx, index);
  const isFinal = !!(input.finalScriptSig?.length || input.finalScriptWitness?.length);
  const analysis: InputAnalysis = { index, has_utxo: prevout !== undefined, is_final: isFinal, next: 'extractor' };
  const done = (next: InputRole, reason: string, missing?: MissingData): Verdict => {
    analysis.next = next;
    if (missing && Object.keys(missing).length) analysis.missing = missing;
    return { analysis, reason };
  };
  if (isFinal) return done('extractor', 'finalized');
  if (!prevout) return done('updater', 'the spent output (witness_utxo or non_witness_utxo) is missing', { utxo: true });
  const check = inputCheckFailure(input);
  if (check) {
    analysis.error = check;
    return done('updater', check);
  }
  const spent = decodeScript(prevout.script);
  if (spent.type === 'tr') return analyzeTaproot(input, spent.pubkey, analysis, done);
  return analyzeEcdsa(input, prevout.script, done);
}

type Done = (next: InputRole, reason: string, missing?: MissingData) => Verdict;

function analyzeTaproot(input: Input, outputKey: Uint8Array, analysis: InputAnalysis, done: Done): Verdict {
  const sessions = musigSessions(input, outputKey);
  if (sessions.length) analysis.musig2 = sessions;
  if (input.tapKeySig) return done('finalizer', 'the key-path signature is present');
  const leafReady = (input.tapLeafScript ?? []).some(([, s]) => leafSatisfied(s, input));
  if (leafReady) return done('finalizer', 'a script-path signature set is complete');
  const session = sessions.find((s) => s.path === 'key') ?? sessions.find((s) => s.next === 'finalizer') ?? sessions[0];
  if (session) {
    const n = session.participant_pubkeys.length;
    if (session.next === 'finalizer') return done('finalizer', `all ${n} MuSig2 partial signatures are in; aggregate them`);
    if (session.missing_pubnonces.length) {
      return done('signer', `waiting for MuSig2 public nonces from ${keyList(session.missing_pubnonces)} (${session.pubnonces_from.length} of ${n} in)`, {
        musig2_pubnonces: session.missing_pubnonces,
        musig2_partial_sigs: session.missing_partial_sigs,
      });
    }
    return done('signer', `waiting for MuSig2 partial signatures from ${keyList(session.missing_partial_sigs)} (${session.partial_sigs_from.length} of ${n} in)`, {
      musig2_partial_sigs: session.missing_partial_sigs,
    });
  }
  const internal = input.tapInternalKey;
  const keyPathUsable = internal === undefined || !equalBytes(internal, TAPROOT_UNSPENDABLE_KEY);
  const signers = keyPathUsable ? [internal ?? outputKey] : leafKeys(input);
  return done('signer', `a taproot signature is missing${signers.length ? ` (${keyList(signers)})` : ''}`, { signatures: signers });
}

/** BIP-373 sessions: link each aggregate key to the key path and/or the leaves it signs for. */
function musigSessions(input: Input, outputKey: Uint8Array): Musig2Session[] {
  const sessions: Musig2Session[] = [];
  const internal = input.tapInternalKey;
  for (const [aggregate, participants] of input.musig2ParticipantPubkeys ?? []) {
    const xAgg = aggregate.subarray(1);
    const keyPath =
      equalBytes(xAgg, outputKey) || (internal !== undefined && (equalBytes(xAgg, internal) || derivedFrom(aggregate, internal, input)));
    if (keyPath) sessions.push(session(input, aggregate, participants, outputKey, undefined));
    for (const [, scriptWithVersion] of input.tapLeafScript ?? []) {
      const script = scriptWithVersion.subarray(0, -1);
      const leafHash = tapLeafHash(script, scriptWithVersion[scriptWithVersion.length - 1]);
      for (const key of pushedKeys(script)) {
        if (equalBytes(key, xAgg) || derivedFrom(aggregate, key, input)) sessions.push(session(input, aggregate, participants, key, leafHash));
      }
    }
  }
  return sessions;
}

function session(input: Input, aggregate: Uint8Array, participants: Uint8Array[], signingKey: Uint8Array, leafHash: Uint8Array | undefined): Musig2Session {
  // BIP-373 keys nonces and partial signatures by the key being signed for (its x-only form
  // is the output key or the key in the script); accept the aggregate itself as well.
  const forThis = (k: { aggregatePubkey: Uint8Array; leafHash?: Uint8Array }) =>
    (equalBytes(k.aggregatePubkey.subarray(1), signingKey) || equalBytes(k.aggregatePubkey, aggregate)) &&
    (leafHash === undefined ? k.leafHash === undefined : k.leafHash !== undefined && equalBytes(k.leafHash, leafHash));
  const from = (entries: [{ participantPubkey: Uint8Array; aggregatePubkey: Uint8Array; leafHash?: Uint8Array }, Uint8Array][] | undefined) =>
    participants.filter((p) => (entries ?? []).some(([k]) => forThis(k) && equalBytes(k.participantPubkey, p)));
  const nonces = from(input.musig2PubNonce);
  const sigs = from(input.musig2PartialSig);
  const hasSignature =
    leafHash === undefined
      ? input.tapKeySig !== undefined
      : (input.tapScriptSig ?? []).some(([k]) => equalBytes(k.pubKey, signingKey) && equalBytes(k.leafHash, leafHash));
  const missingSigs = participants.filter((p) => !sigs.includes(p));
  const result: Musig2Session = {
    aggregate_pubkey: aggregate,
    path: leafHash === undefined ? 'key' : 'script',
    signing_key: signingKey,
    participant_pubkeys: participants,
    pubnonces_from: nonces,
    partial_sigs_from: sigs,
    missing_pubnonces: participants.filter((p) => !nonces.includes(p)),
    missing_partial_sigs: missingSigs,
    has_signature: hasSignature,
    next: hasSignature || missingSigs.length === 0 ? 'finalizer' : 'signer',
  };
  if (leafHash) result.leaf_hash = leafHash;
  return result;
}

/**
 * `key` was derived (BIP-32 unhardened, BIP-328 synthetic xpub) from `aggregate`: its
 * PSBT_IN_TAP_BIP32_DERIVATION names the aggregate's fingerprint, HASH160(aggregate)[0..4].
 */
function derivedFrom(aggregate: Uint8Array, key: Uint8Array, input: Input): boolean {
  const fingerprint = hash160(aggregate);
  const fp = ((fingerprint[0]! << 24) | (fingerprint[1]! << 16) | (fingerprint[2]! << 8) | fingerprint[3]!) >>> 0;
  return (input.tapBip32Derivation ?? []).some(([k, d]) => equalBytes(k, key) && d.der.fingerprint >>> 0 === fp && d.der.path.length > 0);
}

function hash160(bytes: Uint8Array): Uint8Array {
  return ripemd160(sha256(bytes));
}

function pushedKeys(script: Uint8Array): Uint8Array[] {
  try {
    return Script.decode(script).filter((op): op is Uint8Array => op instanceof Uint8Array && op.length === 32);
  } catch {
    return [];
  }
}

function leafKeys(input: Input): Uint8Array[] {
  return (input.tapLeafScript ?? []).flatMap(([, s]) => pushedKeys(s.subarray(0, -1)));
}

/** Enough script-path signatures for one leaf (single key, n-of-n or m-of-n leaves). */
function leafSatisfied(scriptWithVersion: Uint8Array, input: Input): boolean {
  const script = scriptWithVersion.subarray(0, -1);
  const leafHash = tapLeafHash(script, scriptWithVersion[scriptWithVersion.length - 1]);
  const signed = (input.tapScriptSig ?? []).filter(([k]) => equalBytes(k.leafHash, leafHash)).map(([k]) => k.pubKey);
  if (!signed.length) return false;
  const leaf = decodeScript(script);
  if (leaf.type === 'tr_ns') return leaf.pubkeys.every((p) => signed.some((s) => equalBytes(s, p)));
  if (leaf.type === 'tr_ms') return leaf.pubkeys.filter((p) => signed.some((s) => equalBytes(s, p))).length >= leaf.m;
  return true; // some signature for a leaf we cannot classify: let the finalizer try
}

function analyzeEcdsa(input: Input, spentScript: Uint8Array, done: Done): Verdict {
  const outer = decodeScript(spentScript);
  let last = outer;
  let segwit = outer.type === 'wpkh' || outer.type === 'wsh';
  if (outer.type === 'sh') {
    if (!input.redeemScript) return done('updater', 'redeem_script is missing', { redeem_script: outer.hash });
    last = decodeScript(input.redeemScript);
    segwit = last.type === 'wpkh' || last.type === 'wsh';
  }
  if (last.type === 'wsh') {
    if (!input.witnessScript) return done('updater', 'witness_script is missing', { witness_script: last.hash });
    last = decodeScript(input.witnessScript);
  }
  if (!segwit && !input.nonWitnessUtxo) {
    return done('updater', 'a non-segwit input needs the whole previous transaction (non_witness_utxo)', { non_witness_utxo: true });
  }
  const signedBy = (input.partialSig ?? []).map(([k]) => k);
  const has = (key: Uint8Array) => signedBy.some((k) => equalBytes(k, key));
  if (last.type === 'ms') {
    const missing = last.pubkeys.filter((p) => !has(p));
    if (last.pubkeys.length - missing.length >= last.m) return done('finalizer', `${last.m} of ${last.pubkeys.length} signatures present`);
    return done('signer', `${last.m} of ${last.pubkeys.length} signatures needed, missing ${keyList(missing)}`, { signatures: missing });
  }
  if (signedBy.length) return done('finalizer', 'a signature is present');
  let wanted: Uint8Array | undefined;
  if (last.type === 'pk') wanted = last.pubkey;
  if (last.type === 'pkh' || last.type === 'wpkh') {
    const keyId = last.hash;
    wanted = (input.bip32Derivation ?? []).map(([k]) => k).find((k) => equalBytes(hash160(k), keyId)) ?? keyId;
  }
  return done('signer', `a signature is missing${wanted ? ` (${keyList([wanted])})` : ''}`, wanted ? { signatures: [wanted] } : {});
}

function keyList(keys: Uint8Array[]): string {
  const shown = keys.slice(0, 3).map((k) => `${toHex(k).slice(0, 8)}…`);
  return keys.length > 3 ? `${shown.join(', ')} and ${keys.length - 3} more` : shown.join(', ');
}

function summarize(result: PsbtAnalysis, verdicts: Verdict[]): string {
  if (result.error) return `next: ${result.next} — ${result.error}`;
  if (result.next === 'extractor') return `next: extractor — all ${verdicts.length} input(s) are finalized`;
  const blocking = verdicts.filter((v) => v.analysis.next === result.next);
  const parts = blocking.slice(0, 3).map((v) => `input ${v.analysis.index}: ${v.reason}`);
  if (blocking.length > 3) parts.push(`and ${blocking.length - 3} more input(s)`);
  return `next: ${result.next} — ${parts.join('; ')}`;
}
