/**
 * The PSBT reader behind `parsePsbt` (./parse.ts): bytes → @scure/btc-signer `Transaction`,
 * exactly as `Transaction.fromPSBT` builds it (test/lib/psbt/read.test.ts compares the two on
 * every vector, fixture and fuzzed PSBT), without its cost.
 *
 * Why not `fromPSBT` alone: it checks every public key with a pure-JS square root about three
 * times (each key of the BIP-373 MuSig2 fields and the taproot internal key, decoding, input
 * validation, re-encoding), and re-derives each taproot output key in pure JS — ~3 ms for a
 * credit update request, whichever secp256k1 backend the process selected. So the records
 * that carry keys are read here, and btc-signer reads the rest:
 *
 * 1. the maps are split (./maps.ts);
 * 2. from each input map we take PSBT_IN_MUSIG2_PARTICIPANT_PUBKEYS, _PUB_NONCE and
 *    _PARTIAL_SIG, and — on an input whose checks are ours (below) — PSBT_IN_TAP_INTERNAL_KEY
 *    and PSBT_IN_WITNESS_UTXO; each is decoded to the value btc-signer's coder gives, every
 *    key checked to be a point once, on the selected backend, and remembered;
 * 3. btc-signer's `fromPSBT` reads what remains (framing, versions, counts, the unsigned
 *    transaction, every other field and cross-field rule, the signer checks of other inputs);
 * 4. our fields go into its inputs.
 *
 * The signer checks (BIP-174: the spent script and what the input claims about it) are ours
 * only on inputs of the one shape we sign most: a P2TR witness_utxo, no redeem/witness
 * script, no leaf scripts, no non_witness_utxo. There they are btc-signer's `checkScript` and
 * taproot commitment check spelled out: given an internal key, its tweak (with
 * tap_merkle_root) is the spent output's key. Any other input
 * keeps its witness_utxo and internal key for btc-signer to check as before.
 *
 * Throws whatever btc-signer throws, or an Error naming our field's problem; parse.ts turns
 * either into one explained `E_MALFORMED_PSBT`.
 */
import { Transaction, type TxOpts } from '@scure/btc-signer';
import { RawOutput } from '@scure/btc-signer/script.js';
import { concatBytes, equalBytes, toHex } from '../bytes.ts';
import { Lru, keyOf } from '../lru.ts';
import { activeSecp256k1 } from '../musig/engine/select.ts';
import { taprootOutput } from '../taproot/taproot.ts';
import { readCompactSize, splitPsbtMaps, type PsbtRecord } from './maps.ts';
import { readPlainPsbt, readUnsignedTx, type UnsignedTx, type WitnessUtxo } from './plain.ts';

const IN_NON_WITNESS_UTXO = 0x00;
const IN_WITNESS_UTXO = 0x01;
const IN_REDEEM_SCRIPT = 0x04;
const IN_WITNESS_SCRIPT = 0x05;
const IN_TAP_LEAF_SCRIPT = 0x15;
const IN_TAP_INTERNAL_KEY = 0x17;
const IN_TAP_MERKLE_ROOT = 0x18;
const IN_MUSIG2_PARTICIPANT_PUBKEYS = 0x1a;
const IN_MUSIG2_PUB_NONCE = 0x1b;
const IN_MUSIG2_PARTIAL_SIG = 0x1c;
const GLOBAL_UNSIGNED_TX = 0x00;
const GLOBAL_INPUT_COUNT = 0x04;
const GLOBAL_VERSION = 0xfb;

type MusigKey = { participantPubkey: Uint8Array; aggregatePubkey: Uint8Array; leafHash?: Uint8Array };
/** The fields this module reads, named and shaped as btc-signer's input objects hold them. */
type OurFields = {
  witnessUtxo?: WitnessUtxo;
  tapInternalKey?: Uint8Array;
  musig2ParticipantPubkeys?: [Uint8Array, Uint8Array[]][];
  musig2PubNonce?: [MusigKey, Uint8Array][];
  musig2PartialSig?: [MusigKey, Uint8Array][];
};
type InputPlan = { fields: OurFields; checksOurs: boolean; tapMerkleRoot?: Uint8Array };

/** Read a PSBT (magic bytes already checked) as `Transaction.fromPSBT(bytes, opts)` would. */
export function readPsbt(bytes: Uint8Array, opts: Readonly<TxOpts>): Transaction {
  const maps = splitPsbtMaps(bytes);
  const spend = readKeyPathSpend(maps, opts);
  if (spend) return spend;
  const plain = readPlainPsbt(maps);
  if (plain) return transactionOf(plain.unsigned, plain.inputs, opts);
  const inputCount = maps[0] ? countInputs(maps[0]) : undefined;
  if (inputCount === undefined || maps.length < 1 + inputCount) return Transaction.fromPSBT(bytes, opts);
  const checks = !opts.disableScriptCheck;
  const taken: PsbtRecord[] = [];
  const plans = maps.slice(1, 1 + inputCount).map((records, i) => planInput(records, i, checks, taken));
  const tx = Transaction.fromPSBT(taken.length ? without(bytes, taken) : bytes, opts);
  const inputs = (tx as unknown as { inputs: Record<string, unknown>[] }).inputs;
  plans.forEach((plan, i) => {
    if (plan.checksOurs) checkTaprootSpend(plan, i);
    Object.assign(inputs[i]!, plan.fields);
  });
  return tx;
}

/**
 * The one shape a credit mint reads on every update, read without btc-signer's generic coder
 * (~20% of an update): a version 0 PSBT whose global map is the unsigned transaction alone —
 * version 2 or 3, ONE input with an empty scriptSig, at least one output, no witness — whose
 * input map holds only the records `planInput` reads (witness_utxo paying P2TR, the taproot
 * internal key, the BIP-373 MuSig2 fields), and whose output maps are empty. The transaction is
 * built as `fromPSBT` builds it (the same objects, field for field: test/lib/credit/
 * request-reader.test.ts holds the two equal).
 *
 * An input map whose skeleton (`skeletons`) it has read and checked before is not checked
 * again: the keys of a contract's input, a point multiplication and a dozen point checks, once.
 *
 * It never refuses: anything else — another shape, a record it does not take, a field
 * `planInput` finds malformed, a commitment that does not match, a non-minimal CompactSize —
 * gives undefined and the general path reads the PSBT, so a refusal is the general path's,
 * code and message alike.
 */
export function readKeyPathSpend(maps: readonly (readonly PsbtRecord[])[], opts: Readonly<TxOpts>): Transaction | undefined {
  if (opts.disableScriptCheck) return undefined;
  const global = maps[0];
  if (!global || global.length !== 1 || global[0]!.keyType !== GLOBAL_UNSIGNED_TX || global[0]!.key.length !== 1) return undefined;
  const unsigned = readUnsignedTx(global[0]!.value);
  if (!unsigned || unsigned.inputs.length !== 1 || (unsigned.version !== 2 && unsigned.version !== 3) || maps.length !== 2 + unsigned.outputs.length) return undefined;
  for (let m = 2; m < maps.length; m++) if (maps[m]!.length) return undefined;
  const records = maps[1]!;
  const taken: PsbtRecord[] = [];
  const skeleton = inputSkeleton(records);
  const known = skeletons.get(skeleton) === true;
  let plan: InputPlan;
  try {
    plan = planInput(records, 0, true, taken, known);
    if (!plan.checksOurs || taken.length !== records.length || !plan.fields.tapInternalKey) return undefined;
    if (!known) {
      checkTaprootSpend(plan, 0);
      skeletons.set(skeleton, true);
    }
  } catch {
    return undefined; // the general path refuses it, in its words
  }
  const input = unsigned.inputs[0]!;
  return transactionOf(unsigned, [{ txid: input.txid, index: input.index, sequence: input.sequence, ...plan.fields }], opts);
}

/**
 * The Transaction `fromPSBT` builds for a PSBT version 0: the options its constructor validates
 * (the same for every PSBT of one version and lock time: validated once, ~8 µs), the unsigned
 * transaction's inputs (their empty scriptSigs dropped) merged with their maps, its outputs
 * (their maps empty), the global map.
 */
function transactionOf(unsigned: UnsignedTx, inputs: Record<string, unknown>[], opts: Readonly<TxOpts>): Transaction {
  const tx = Object.create(Transaction.prototype) as Transaction;
  Object.assign(tx, {
    global: { unsignedTx: unsigned, txVersion: unsigned.version, fallbackLocktime: unsigned.lockTime },
    inputs,
    outputs: unsigned.outputs.map((o) => ({ ...o })),
    // frozen, as btc-signer's own: a holder cannot loosen the checks toPSBT and signing re-read
    opts: validatedOpts(opts, unsigned.version, unsigned.lockTime),
  });
  return tx;
}

/**
 * Input maps this reader has read and checked — every key a point, no key twice, the internal
 * key committing to the spent output — remembered by their skeleton: the map's bytes with the
 * values of its public nonces and partial signatures left out (their lengths stay). All a
 * check reads is in the skeleton (a nonce or partial signature is checked for its length
 * only; nonces are checked to be points when they are aggregated), so a map with a known
 * skeleton passes them all again: a mint reads the same contract input, but for its nonces
 * and signatures, update after update. Public bytes only, as read: nothing a store holds.
 */
const skeletons = new Lru<true>(4096);

const leftOut = (r: PsbtRecord) => r.keyType === IN_MUSIG2_PUB_NONCE || r.keyType === IN_MUSIG2_PARTIAL_SIG;

function inputSkeleton(records: readonly PsbtRecord[]): string {
  let size = 0;
  for (const r of records) size += r.end - r.offset - (leftOut(r) ? r.value.length : 0);
  const out = new Uint8Array(size);
  let at = 0;
  for (const r of records) {
    // The record as framed in the PSBT (key length, key, value length, value), its value cut off if left out.
    const psbtStart = r.value.byteOffset - (r.end - r.value.length);
    const length = (leftOut(r) ? r.end - r.value.length : r.end) - r.offset;
    out.set(new Uint8Array(r.value.buffer, psbtStart + r.offset, length), at);
    at += length;
  }
  return Buffer.from(out.buffer, 0, at).toString('latin1');
}

const optsSeen = new WeakMap<Readonly<TxOpts>, Map<string, Readonly<Record<string, unknown>>>>();

/**
 * `new Transaction({ ...opts, version, lockTime, PSBTVersion: 0 }).opts`, remembered per options
 * object — only a frozen one (PSBT_TX_OPTS): a caller's mutable object may change between reads.
 */
function validatedOpts(opts: Readonly<TxOpts>, version: number, lockTime: number): Readonly<Record<string, unknown>> {
  if (!Object.isFrozen(opts)) return (new Transaction({ ...opts, version, lockTime, PSBTVersion: 0 }) as unknown as { opts: Readonly<Record<string, unknown>> }).opts;
  const byTx = optsSeen.get(opts) ?? new Map<string, Readonly<Record<string, unknown>>>();
  optsSeen.set(opts, byTx);
  const id = `${version}:${lockTime}`;
  let seen = byTx.get(id);
  if (!seen) {
    seen = Object.freeze({ ...(new Transaction({ ...opts, version, lockTime, PSBTVersion: 0 }) as unknown as { opts: Record<string, unknown> }).opts });
    if (byTx.size < 64) byTx.set(id, seen);
  }
  return seen;
}

/** The number of input maps the global map announces; undefined to leave it all to btc-signer. */
function countInputs(global: readonly PsbtRecord[]): number | undefined {
  const version = global.find((r) => r.keyType === GLOBAL_VERSION);
  const v2 = version !== undefined && version.value.length === 4 && version.value[0] === 2 && !version.value[1] && !version.value[2] && !version.value[3];
  // v0: the unsigned transaction's input count, the CompactSize after its 4-byte version (0 is
  // the witness marker, which BIP-174 forbids there); v2: PSBT_GLOBAL_INPUT_COUNT.
  const at = v2 ? global.find((r) => r.keyType === GLOBAL_INPUT_COUNT)?.value : global.find((r) => r.keyType === GLOBAL_UNSIGNED_TX)?.value.subarray(4);
  try {
    const count = at && at.length ? readCompactSize(at, 0, 'input count')[0] : 0;
    return count > 0 ? count : undefined;
  } catch {
    return undefined; // btc-signer refuses it, with its reason
  }
}

/** Which of an input map's records we read (collected in `taken`), decoded. */
/**
 * `known`: the map's skeleton was read and checked before (`skeletons`), so its keys are known
 * points and distinct — not checked again. What is built is the same.
 */
function planInput(records: readonly PsbtRecord[], index: number, checks: boolean, taken: PsbtRecord[], known = false): InputPlan {
  const scriptish = records.some((r) => [IN_NON_WITNESS_UTXO, IN_REDEEM_SCRIPT, IN_WITNESS_SCRIPT, IN_TAP_LEAF_SCRIPT].includes(r.keyType));
  const utxoRecord = records.find((r) => r.keyType === IN_WITNESS_UTXO && r.keyData.length === 0);
  const utxo = utxoRecord && !scriptish ? p2trUtxo(utxoRecord.value) : undefined;
  // Without signer checks nothing reads witness_utxo but its decoder: btc-signer keeps it.
  const checksOurs = checks && utxo !== undefined;
  const plan: InputPlan = { fields: {}, checksOurs };
  const f = plan.fields;
  const keys = new Set<string>();
  for (const r of records) {
    // The internal key is ours wherever btc-signer would not check it against the spent
    // script; witness_utxo only where we do that check.
    const ours =
      r.keyType === IN_MUSIG2_PARTICIPANT_PUBKEYS || r.keyType === IN_MUSIG2_PUB_NONCE || r.keyType === IN_MUSIG2_PARTIAL_SIG ||
      (r.keyType === IN_TAP_INTERNAL_KEY && (checksOurs || !checks)) || (r.keyType === IN_WITNESS_UTXO && checksOurs);
    if (r.keyType === IN_TAP_MERKLE_ROOT && r.keyData.length === 0) plan.tapMerkleRoot = r.value;
    if (!ours) continue;
    const where = `input ${index}`;
    if (!known) {
      const id = keyOf([r.key]);
      if (keys.has(id)) throw new Error(`${where}: duplicate key ${toHex(r.key)}`);
      keys.add(id);
    }
    taken.push(r);
    switch (r.keyType) {
      case IN_WITNESS_UTXO:
        if (r.keyData.length) throw new Error(`${where}: PSBT_IN_WITNESS_UTXO has key data`);
        f.witnessUtxo = utxo;
        break;
      case IN_TAP_INTERNAL_KEY:
        if (r.keyData.length) throw new Error(`${where}: PSBT_IN_TAP_INTERNAL_KEY has key data`);
        if (r.value.length !== 32 || !(known || isXOnlyKey(r.value))) throw new Error(`${where}: PSBT_IN_TAP_INTERNAL_KEY is not an x-only public key`);
        f.tapInternalKey = r.value.slice();
        break;
      case IN_MUSIG2_PARTICIPANT_PUBKEYS: {
        if (!(known || isCompressedKey(r.keyData)) || r.value.length % 33 !== 0) throw new Error(`${where}: malformed PSBT_IN_MUSIG2_PARTICIPANT_PUBKEYS`);
        const list: Uint8Array[] = [];
        for (let at = 0; at < r.value.length; at += 33) list.push(r.value.slice(at, at + 33));
        if (!known && !list.every(isCompressedKey)) throw new Error(`${where}: a MuSig2 participant key is not a point`);
        (f.musig2ParticipantPubkeys ??= []).push([r.keyData.slice(), list]);
        break;
      }
      default: {
        const nonce = r.keyType === IN_MUSIG2_PUB_NONCE;
        const key = musigFieldKey(r.keyData, known);
        if (!key || r.value.length !== (nonce ? 66 : 32)) throw new Error(`${where}: malformed ${nonce ? 'PSBT_IN_MUSIG2_PUB_NONCE' : 'PSBT_IN_MUSIG2_PARTIAL_SIG'}`);
        if (nonce) (f.musig2PubNonce ??= []).push([key, r.value.slice()]);
        else (f.musig2PartialSig ??= []).push([key, r.value.slice()]);
      }
    }
  }
  return plan;
}

/** witness_utxo (RawOutput) when it pays a P2TR script: OP_1 followed by a 32-byte push. */
function p2trUtxo(value: Uint8Array): WitnessUtxo | undefined {
  // The one P2TR encoding of 43 bytes (amount, length 34, OP_1 <32 bytes>): read in place; any
  // other value by btc-signer's coder.
  if (value.length === 43 && value[8] === 0x22) {
    if (value[9] !== 0x51 || value[10] !== 0x20) return undefined;
    return { amount: new DataView(value.buffer, value.byteOffset, 8).getBigUint64(0, true), script: value.slice(9) };
  }
  let out: WitnessUtxo;
  try {
    out = RawOutput.decode(value);
  } catch {
    return undefined; // btc-signer's coder refuses it
  }
  return out.script.length === 34 && out.script[0] === 0x51 && out.script[1] === 0x20 ? { amount: out.amount, script: out.script.slice() } : undefined;
}

/** BIP-373 key data: participant (33) ‖ aggregate or output key (33) ‖ optional leaf hash (32). */
function musigFieldKey(keyData: Uint8Array, known: boolean): MusigKey | undefined {
  if (keyData.length !== 66 && keyData.length !== 98) return undefined;
  const key: MusigKey = { participantPubkey: keyData.slice(0, 33), aggregatePubkey: keyData.slice(33, 66) };
  if (!known && (!isCompressedKey(key.participantPubkey) || !isCompressedKey(key.aggregatePubkey))) return undefined;
  if (keyData.length === 98) key.leafHash = keyData.slice(66);
  return key;
}

/**
 * btc-signer's signer checks of a P2TR key-path input: given an internal key, it and the merkle
 * root (or none) must tweak to the spent output's key. Without one there is nothing to check:
 * `checkScript` accepts a P2TR script whatever its key (one that is no point reads as an
 * unknown script, which it does not refuse either).
 */
function checkTaprootSpend(plan: InputPlan, index: number): void {
  const internal = plan.fields.tapInternalKey;
  if (internal && !equalBytes(committedOutputKey(internal, plan.tapMerkleRoot), plan.fields.witnessUtxo!.script.subarray(2))) {
    throw new Error(`input ${index}: Taproot commitment does not match previous output`);
  }
}

/** Public keys found to be points; validity is a property of the bytes, whatever the backend. */
const points = new Lru<true>(4096);

function isCompressedKey(k: Uint8Array): boolean {
  if (k.length !== 33 || (k[0] !== 0x02 && k[0] !== 0x03)) return false;
  const id = keyOf([k]);
  if (points.get(id)) return true;
  if (activeSecp256k1().pointFromBytes(k) === undefined) return false;
  points.set(id, true);
  return true;
}

/** lift_x(x) exists iff 02 ‖ x is a point. */
function isXOnlyKey(x: Uint8Array): boolean {
  return x.length === 32 && isCompressedKey(concatBytes(Uint8Array.of(0x02), x));
}

/** The output key an internal key and merkle root commit to (remembered by taprootOutput: a mint derives it from the terms first). */
function committedOutputKey(internalKey: Uint8Array, merkleRoot: Uint8Array | undefined): Uint8Array {
  return taprootOutput(internalKey, merkleRoot?.length === 32 ? merkleRoot : undefined).outputKey;
}

/** The PSBT with the given records cut out (they are ours to read), framing intact. */
function without(bytes: Uint8Array, records: readonly PsbtRecord[]): Uint8Array {
  const out = new Uint8Array(bytes.length - records.reduce((n, r) => n + r.end - r.offset, 0));
  let from = 0;
  let at = 0;
  for (const r of [...records].sort((a, b) => a.offset - b.offset)) {
    out.set(bytes.subarray(from, r.offset), at);
    at += r.offset - from;
    from = r.end;
  }
  out.set(bytes.subarray(from), at);
  return out;
}
