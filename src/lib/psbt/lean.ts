/**
 * A lean BIP-174 (version 0) map reader: the magic bytes, then key-value maps — each
 * record a CompactSize key length, the key (CompactSize key type, key data), a
 * CompactSize value length and the value, each map ended by 0x00 — one global map, then
 * one map per input and one per output of the unsigned transaction (decoded with
 * btc-signer's `RawTx`).
 *
 * Why it exists: measured on the mint's streaming mode (50 contracts × 8 payments, one
 * core), @scure/btc-signer's `Transaction.fromPSBT` cost ~2 ms per update request, most
 * of it validating every public key of the BIP-373 MuSig2 fields about three times over
 * (raw map decoding, version checks, input validation), each a pure-JS square root —
 * whichever secp256k1 backend the mint selected. The mint's hot path
 * (../musig/psbt-keypath.ts `parseMusigPsbt`) reads the framing here and decodes the few
 * fields it needs itself, checking each key once on the selected backend.
 *
 * Strict framing, every failure one `MalformedInputError('E_MALFORMED_PSBT')` with a
 * one-line reason: duplicate keys in a map, truncation, bytes after the last output map,
 * map counts that do not match the unsigned transaction, a non-empty scriptSig or a
 * witness in the unsigned transaction, PSBT version 2.
 *
 * Deliberately not here: any decoding or validation of fields other than the unsigned
 * transaction (callers decode what they read, and hand everything else to `parsePsbt`);
 * PSBT version 2; the empty map bip174js may append, which btc-signer tolerates; and
 * diagnosis — `parsePsbt` explains rejections, so callers that need the explanation, or
 * btc-signer's tolerance, fall back to it.
 */
import { RawTx } from '@scure/btc-signer/script.js';
import { toHex } from '../bytes.ts';
import { MalformedInputError } from '../errors.ts';
import { FramingError, PSBT_MAGIC, looksLikePsbt, readCompactSize } from './parse.ts';

export type LeanRecord = {
  keyType: number;
  /** Key data after the key type. */
  keyData: Uint8Array;
  value: Uint8Array;
};

export type LeanUnsignedTx = ReturnType<typeof RawTx.decode>;

export type LeanPsbt = {
  /** PSBT_GLOBAL_UNSIGNED_TX as it appears in the PSBT (legacy serialization). */
  unsignedTxBytes: Uint8Array;
  unsignedTx: LeanUnsignedTx;
  /** Records in wire order; byte arrays are views into the PSBT, not copies. */
  global: LeanRecord[];
  inputs: LeanRecord[][];
  outputs: LeanRecord[][];
};

const UNSIGNED_TX = 0x00;
const GLOBAL_VERSION = 0xfb;

/** Read a version 0 PSBT's maps. Throws only `MalformedInputError('E_MALFORMED_PSBT')`. */
export function readLeanPsbt(bytes: Uint8Array): LeanPsbt {
  if (!looksLikePsbt(bytes)) throw malformed('not a PSBT: the magic bytes 70736274ff are missing');
  try {
    return readMaps(bytes);
  } catch (e) {
    if (e instanceof FramingError) throw malformed(e.message);
    throw e;
  }
}

function readMaps(bytes: Uint8Array): LeanPsbt {
  const reader = { pos: PSBT_MAGIC.length };
  const global = readMap(bytes, reader, 'the global map');
  const unsignedTxBytes = globalUnsignedTx(global);
  const unsignedTx = decodeUnsignedTx(unsignedTxBytes);
  const inputs = unsignedTx.inputs.map((_, i) => readMap(bytes, reader, `input map ${i}`));
  const outputs = unsignedTx.outputs.map((_, o) => readMap(bytes, reader, `output map ${o}`));
  if (reader.pos !== bytes.length) {
    throw malformed(`${bytes.length - reader.pos} byte(s) follow the last output map; the unsigned transaction has ${outputs.length} output(s)`);
  }
  return { unsignedTxBytes, unsignedTx, global, inputs, outputs };
}

/** One map: records up to the 0x00 separator, no two with the same key. */
function readMap(bytes: Uint8Array, reader: { pos: number }, label: string): LeanRecord[] {
  const records: LeanRecord[] = [];
  const seen = new Set<string>();
  for (;;) {
    if (reader.pos >= bytes.length) throw malformed(`truncated: ${label} is missing or ends without its 0x00 separator`);
    const at = reader.pos;
    const [keyLen, keyAt] = readCompactSize(bytes, at, 'key length');
    if (keyLen === 0) {
      reader.pos = keyAt;
      return records;
    }
    if (keyAt + keyLen > bytes.length) throw malformed(`truncated: a ${keyLen}-byte key at byte ${at} runs past the end`);
    const key = bytes.subarray(keyAt, keyAt + keyLen);
    let keyType: number;
    let keyDataAt: number;
    try {
      [keyType, keyDataAt] = readCompactSize(key, 0, 'key type');
    } catch {
      throw malformed(`${label}: the key at byte ${at} does not start with a valid key type`);
    }
    const [valueLen, valueAt] = readCompactSize(bytes, keyAt + keyLen, 'value length');
    if (valueAt + valueLen > bytes.length) throw malformed(`truncated: a ${valueLen}-byte value at byte ${valueAt} runs past the end`);
    const id = toHex(key);
    if (seen.has(id)) throw malformed(`${label}: duplicate key ${id.length > 32 ? `${id.slice(0, 32)}…` : id}`);
    seen.add(id);
    records.push({ keyType, keyData: key.subarray(keyDataAt), value: bytes.subarray(valueAt, valueAt + valueLen) });
    reader.pos = valueAt + valueLen;
  }
}

/** PSBT_GLOBAL_UNSIGNED_TX, after checking that this is a version 0 PSBT. */
function globalUnsignedTx(global: LeanRecord[]): Uint8Array {
  let unsigned: Uint8Array | undefined;
  for (const r of global) {
    if (r.keyType === GLOBAL_VERSION) {
      const version = r.keyData.length === 0 && r.value.length === 4 ? new DataView(r.value.buffer, r.value.byteOffset, 4).getUint32(0, true) : -1;
      if (version !== 0) throw malformed(version < 0 ? 'the global map: PSBT_GLOBAL_VERSION is not a 4-byte integer without key data' : `PSBT version ${version} is not read here (version 0 only)`);
    } else if (r.keyType === UNSIGNED_TX) {
      if (r.keyData.length > 0) throw malformed('the global map: PSBT_GLOBAL_UNSIGNED_TX must have no key data');
      unsigned = r.value;
    }
  }
  if (!unsigned) throw malformed('the global map has no PSBT_GLOBAL_UNSIGNED_TX (a version 0 PSBT needs one)');
  return unsigned;
}

function decodeUnsignedTx(raw: Uint8Array): LeanUnsignedTx {
  let tx: LeanUnsignedTx;
  try {
    tx = RawTx.decode(raw);
  } catch {
    throw malformed(`PSBT_GLOBAL_UNSIGNED_TX (${raw.length} bytes) is not a transaction`);
  }
  // BIP-174: the legacy serialization, scriptSigs empty. A transaction without inputs is
  // refused too: its legacy form can read as the witness serialization (00 01 …).
  if (tx.segwitFlag) throw malformed('PSBT_GLOBAL_UNSIGNED_TX uses the witness serialization; BIP-174 requires the legacy format');
  if (tx.inputs.length === 0) throw malformed('PSBT_GLOBAL_UNSIGNED_TX has no inputs');
  const filled = tx.inputs.findIndex((i) => i.finalScriptSig.length > 0);
  if (filled >= 0) throw malformed(`input ${filled} of PSBT_GLOBAL_UNSIGNED_TX has a non-empty scriptSig`);
  return tx;
}

function malformed(message: string): MalformedInputError {
  return new MalformedInputError('E_MALFORMED_PSBT', message);
}
