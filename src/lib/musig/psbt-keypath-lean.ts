/**
 * The lean reader of MuSig2 request PSBTs: a PSBT whose one input is a key-path MuSig2
 * input (a credit update or close request), read with ../psbt/lean.ts instead of
 * btc-signer's `fromPSBT`, which re-validates every key of the BIP-373 fields about
 * three times in pure JS (~2 ms per request; measured: the mint's streaming mode went
 * from ~180 to ~250 updates/s on native libsecp256k1). The result is exactly the one
 * `parsePsbt` + `readMusigInput(tx, 0)` gives; any PSBT outside the one shape it reads
 * goes to that path unchanged (test/lib/credit/lean-request.test.ts proves both).
 */
import { Transaction } from '@scure/btc-signer';
import { RawOutput } from '@scure/btc-signer/script.js';
import { concatBytes, equalBytes } from '../bytes.ts';
import { Lru, keyOf } from '../lru.ts';
import { readLeanPsbt, type LeanPsbt, type LeanRecord } from '../psbt/lean.ts';
import { MAX_MONEY, PSBT_TX_OPTS, parsePsbt } from '../psbt/parse.ts';
import { taprootOutput } from '../taproot/taproot.ts';
import { nonceAgg } from './bip327.ts';
import { musigInputFromFields, readMusigInput, type MusigFieldKey, type MusigInput, type MusigInputFields, type ReadOptions } from './psbt-keypath.ts';

/** A PSBT whose input 0 is a MuSig2 key-path input, read in two steps like the mint reads it. */
export type MusigPsbt = {
  /** The transaction for the protocol's rules: `parsePsbt`'s, or its lean equivalent. */
  tx: Transaction;
  /** `readMusigInput(tx, 0, opts)`: the same checks and errors, when the caller gets to them. */
  readInput(opts?: ReadOptions): MusigInput;
};

/**
 * `parsePsbt(bytes)`, and input 0 read as `readMusigInput` reads it. A PSBT of the shape an
 * honest request has goes through `leanMusigPsbt`; any other — anything that reader does not
 * handle or refuses — through `parsePsbt`, which then accepts it or explains its refusal.
 */
export function parseMusigPsbt(bytes: Uint8Array): MusigPsbt {
  const lean = leanMusigPsbt(bytes);
  if (lean) return lean;
  const tx = parsePsbt(bytes);
  return { tx, readInput: (opts) => readMusigInput(tx, 0, opts) };
}

/**
 * The lean reader alone: undefined for a PSBT it does not handle, or would refuse. It
 * handles exactly this shape, and checks what btc-signer's `fromPSBT` + `parsePsbt` check
 * on it, so that it accepts a PSBT only when they do, with the same transaction and fields:
 *
 * - framing, the unsigned transaction (legacy, empty scriptSigs): ../psbt/lean.ts, stricter
 *   than btc-signer (no trailing empty map);
 * - a version 0 global map holding only the unsigned transaction (and PSBT_GLOBAL_VERSION 0),
 *   one input, output maps without records;
 * - input 0 with only witness_utxo and tap_internal_key (both required), and optionally
 *   tap_merkle_root, sighash_type and the three BIP-373 fields, each decoded as btc-signer's
 *   coder would (lengths, no key data where none belongs, witness_utxo by `RawOutput`
 *   itself). Anything else — non_witness_utxo, final scripts, tap_key_sig, BIP-32
 *   derivations, proprietary or unknown records — goes to `parsePsbt`, which keeps today's
 *   behaviour for it: checked there, then ignored by the rules and by `readMusigInput`;
 * - every key btc-signer checks at parse time is a point: each key of the BIP-373 keys and
 *   participant lists (cpoint), the internal key (lift_x), on the selected backend, and
 *   remembered (a contract's requests repeat the same keys). Nonces and partial signatures are not points btc-signer checks; NonceAgg
 *   and PartialSigVerify check them later and blame the sender, as before;
 * - the amounts `parsePsbt` bounds (each output, their sum, the spent amount ≤ 21 M BTC);
 * - btc-signer's signer check: witness_utxo must be the P2TR output that tap_internal_key and
 *   tap_merkle_root commit to (cached per key and root). That equality also settles what
 *   btc-signer's `checkScript` would say about the spent script (a valid P2TR output).
 *
 * The transaction is `Transaction.fromRaw` of the unsigned transaction with input 0's
 * witness_utxo and sighash_type: version, locktime, inputs, outputs, txid and signature
 * message as `parsePsbt` gives them. The MuSig2 fields live in `readInput`, not in the
 * transaction, and it is made with `disableScriptCheck` (its input was checked above, and
 * `fromPSBT` checks no output scripts either): it is for reading, not for further updating.
 */
export function leanMusigPsbt(bytes: Uint8Array): MusigPsbt | undefined {
  let psbt: LeanPsbt;
  try {
    psbt = readLeanPsbt(bytes);
  } catch {
    return undefined;
  }
  if (psbt.inputs.length !== 1 || psbt.outputs.some((map) => map.length > 0)) return undefined;
  if (psbt.global.some((r) => r.keyType !== PSBT_GLOBAL_UNSIGNED_TX && r.keyType !== PSBT_GLOBAL_VERSION)) return undefined;
  const input = leanInputFields(psbt.inputs[0]!);
  if (!input) return undefined;
  const { fields, witnessUtxo, tapInternalKey } = input;
  let tx: Transaction;
  try {
    if (!amountsPossible(psbt.unsignedTx, witnessUtxo.amount) || !pointsValid(fieldKeys(fields, tapInternalKey))) return undefined;
    if (!equalBytes(witnessUtxo.script, committedScript(tapInternalKey, fields.tapMerkleRoot))) return undefined;
    tx = Transaction.fromRaw(psbt.unsignedTxBytes, LEAN_TX_OPTS);
    // finalScriptSig: undefined drops the empty scriptSig fromRaw keeps (fromPSBT drops it too).
    const update: Parameters<Transaction['updateInput']>[1] = { witnessUtxo, finalScriptSig: undefined };
    if (fields.sighashType !== undefined) update.sighashType = fields.sighashType;
    tx.updateInput(0, update, true);
  } catch {
    return undefined; // e.g. a taproot tweak out of range: parsePsbt decides and explains
  }
  return { tx, readInput: (opts) => musigInputFromFields(tx, 0, fields, opts ?? {}) };
}

const PSBT_GLOBAL_UNSIGNED_TX = 0x00;
const PSBT_GLOBAL_VERSION = 0xfb;
const PSBT_IN_WITNESS_UTXO = 0x01;
const PSBT_IN_SIGHASH_TYPE = 0x03;
const PSBT_IN_TAP_INTERNAL_KEY = 0x17;
const PSBT_IN_TAP_MERKLE_ROOT = 0x18;
const PSBT_IN_MUSIG2_PARTICIPANT_PUBKEYS = 0x1a;
const PSBT_IN_MUSIG2_PUB_NONCE = 0x1b;
const PSBT_IN_MUSIG2_PARTIAL_SIG = 0x1c;

const LEAN_TX_OPTS = Object.freeze({ ...PSBT_TX_OPTS, disableScriptCheck: true });

type WitnessUtxo = { amount: bigint; script: Uint8Array };
type LeanInput = { fields: MusigInputFields; witnessUtxo: WitnessUtxo; tapInternalKey: Uint8Array };

/** Input 0's records as MuSig2 fields, or undefined for any record or shape not handled here. */
function leanInputFields(records: readonly LeanRecord[]): LeanInput | undefined {
  const participantPubkeys: [Uint8Array, Uint8Array[]][] = [];
  const pubNonces: [MusigFieldKey, Uint8Array][] = [];
  const partialSigs: [MusigFieldKey, Uint8Array][] = [];
  let witnessUtxo: WitnessUtxo | undefined;
  let tapInternalKey: Uint8Array | undefined;
  let tapMerkleRoot: Uint8Array | undefined;
  let sighashType: number | undefined;
  // The lean reader refused duplicate keys, so each keyless field appears at most once.
  for (const { keyType, keyData, value } of records) {
    const keyless = keyData.length === 0;
    switch (keyType) {
      case PSBT_IN_WITNESS_UTXO:
        if (!keyless) return undefined;
        try {
          witnessUtxo = RawOutput.decode(value);
        } catch {
          return undefined;
        }
        break;
      case PSBT_IN_SIGHASH_TYPE:
        if (!keyless || value.length !== 4) return undefined;
        sighashType = new DataView(value.buffer, value.byteOffset, 4).getUint32(0, true);
        break;
      case PSBT_IN_TAP_INTERNAL_KEY:
        if (!keyless || value.length !== 32) return undefined;
        tapInternalKey = value.slice();
        break;
      case PSBT_IN_TAP_MERKLE_ROOT:
        if (!keyless || value.length !== 32) return undefined;
        tapMerkleRoot = value.slice();
        break;
      case PSBT_IN_MUSIG2_PARTICIPANT_PUBKEYS: {
        if (keyData.length !== 33 || value.length % 33 !== 0) return undefined;
        const list: Uint8Array[] = [];
        for (let at = 0; at < value.length; at += 33) list.push(value.slice(at, at + 33));
        participantPubkeys.push([keyData.slice(), list]);
        break;
      }
      case PSBT_IN_MUSIG2_PUB_NONCE:
      case PSBT_IN_MUSIG2_PARTIAL_SIG: {
        const key = musigFieldKey(keyData);
        const size = keyType === PSBT_IN_MUSIG2_PUB_NONCE ? 66 : 32;
        if (!key || value.length !== size) return undefined;
        (keyType === PSBT_IN_MUSIG2_PUB_NONCE ? pubNonces : partialSigs).push([key, value.slice()]);
        break;
      }
      default:
        return undefined;
    }
  }
  if (!witnessUtxo || !tapInternalKey) return undefined;
  const fields = { participantPubkeys, pubNonces, partialSigs, tapInternalKey, tapMerkleRoot, sighashType };
  return { fields, witnessUtxo, tapInternalKey };
}

/** BIP-373 key data: participant (33) ‖ aggregate or output key (33) ‖ optional leaf hash (32). */
function musigFieldKey(keyData: Uint8Array): MusigFieldKey | undefined {
  if (keyData.length !== 66 && keyData.length !== 98) return undefined;
  const key: MusigFieldKey = { participantPubkey: keyData.slice(0, 33), aggregatePubkey: keyData.slice(33, 66) };
  if (keyData.length === 98) key.leafHash = keyData.slice(66);
  return key;
}

/** The bounds `parsePsbt` puts on amounts: each output, their sum and the spent amount. */
function amountsPossible(unsigned: LeanPsbt['unsignedTx'], spent: bigint): boolean {
  let total = 0n;
  for (const o of unsigned.outputs) {
    if (o.amount > MAX_MONEY) return false;
    total += o.amount;
  }
  return total <= MAX_MONEY && spent <= MAX_MONEY;
}

/** Every key btc-signer validates at parse time, as 33-byte compressed encodings. */
function fieldKeys(fields: MusigInputFields, tapInternalKey: Uint8Array): Uint8Array[] {
  const keys = [concatBytes(Uint8Array.of(0x02), tapInternalKey)]; // lift_x(x) exists iff 02‖x is a point
  for (const [aggregate, participants] of fields.participantPubkeys) keys.push(aggregate, ...participants);
  for (const [k] of [...fields.pubNonces, ...fields.partialSigs]) keys.push(k.participantPubkey, k.aggregatePubkey);
  return keys;
}

/**
 * Keys already found to be points: a contract's requests repeat the same few (participants,
 * aggregate key, output key). Validity is a property of the bytes, whatever the backend.
 */
const validKeys = new Lru<true>(4096);

/**
 * Each key is a point (BIP-327 cpoint), checked on the selected backend: NonceAgg decodes
 * every 33-byte half of every public nonce with cpoint and refuses any that is not a point,
 * so unknown keys go to it in pairs.
 */
function pointsValid(keys: readonly Uint8Array[]): boolean {
  const fresh = new Map<string, Uint8Array>();
  for (const k of keys) {
    if (k.length !== 33 || (k[0] !== 0x02 && k[0] !== 0x03)) return false;
    const id = keyOf([k]);
    if (!validKeys.get(id)) fresh.set(id, k);
  }
  if (fresh.size === 0) return true;
  const points = [...fresh.values()];
  const pairs: Uint8Array[] = [];
  for (let i = 0; i < points.length; i += 2) pairs.push(concatBytes(points[i]!, points[i + 1] ?? points[i]!));
  try {
    nonceAgg(pairs);
  } catch {
    return false;
  }
  for (const id of fresh.keys()) validKeys.set(id, true);
  return true;
}

/** P2TR script of the output key that an internal key and merkle root commit to (BIP-341). */
const committedScripts = new Lru<Uint8Array>(1024);

function committedScript(internalKey: Uint8Array, merkleRoot: Uint8Array | undefined): Uint8Array {
  const id = keyOf(merkleRoot ? [internalKey, merkleRoot] : [internalKey]);
  return committedScripts.get(id) ?? committedScripts.set(id, taprootOutput(internalKey, merkleRoot).script);
}
