/**
 * Why a PSBT was rejected: the first concrete problem in one that @scure/btc-signer refused
 * (framing, version, duplicate or malformed keys and values, a missing required field, a
 * PSBT_IN_NON_WITNESS_UTXO that is not the spent transaction), and a library message
 * reduced to one readable line. Explains only: parse.ts decides and throws.
 */
import { Transaction } from '@scure/btc-signer';
import { RawOutput } from '@scure/btc-signer/script.js';
import { PSBTGlobal, PSBTInput, PSBTOutput } from '@scure/btc-signer/psbt.js';
import { toHex } from '../bytes.ts';
import { describeRecord, fieldName, type MapScope } from './fields.ts';
import { FramingError, readCompactSize, splitPsbtMaps, type PsbtRecord } from './maps.ts';
import { INSPECT_TX_OPTS } from './tx-opts.ts';

/** A library message reduced to one readable line: no decoder paths, no hex dumps. */
export function libraryReason(e: unknown): string {
  let text = e instanceof Error ? e.message : String(e);
  text = text.replace(/Reader\([^)]*\):\s*/g, '').replace(/\b(?:Type|Range)?Error:\s*/g, '');
  text = text.replace(/\s*\((?:key|value)=[^)]*\)?/g, '').replace(/\b[0-9a-f]{65,}\b/gi, (h) => `${h.slice(0, 16)}…`);
  text = text.replace(/(\d+) bytes \d+ bits left after unpack.*/, '$1 unexpected bytes after its end');
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > 200 ? `${text.slice(0, 200)}…` : text || 'unknown error';
}

export type Problem = { message: string; detail: Record<string, unknown> };
type FieldTable = Readonly<Record<string, readonly [number, unknown, unknown, readonly number[], readonly number[], boolean]>>;
type Coder = { decode(bytes: Uint8Array): unknown };

const TABLES: Record<MapScope, FieldTable> = { global: PSBTGlobal, input: PSBTInput, output: PSBTOutput };

function fieldInfo(scope: MapScope, type: number) {
  for (const entry of Object.values(TABLES[scope])) {
    if (entry[0] === type) return { keyCoder: entry[1] as Coder | false, valueCoder: entry[2] as Coder, required: entry[3], allowed: entry[4] };
  }
  return undefined;
}

function decodeOrReason(coder: Coder, bytes: Uint8Array): string | undefined {
  try {
    coder.decode(bytes);
    return undefined;
  } catch (e) {
    return libraryReason(e);
  }
}

/** Check every record of one map on its own: duplicates, key shape, value shape, version. */
function checkMap(scope: MapScope, label: string, records: PsbtRecord[], version: number): Problem | undefined {
  const seen = new Set<string>();
  const at = (r: PsbtRecord, message: string): Problem => ({
    message: `${label}: ${message}`,
    detail: { map: label, field: fieldName(scope, r.keyType), offset: r.offset },
  });
  for (const r of records) {
    const id = toHex(r.key);
    if (seen.has(id)) return at(r, `duplicate key ${id} (${fieldName(scope, r.keyType)})`);
    seen.add(id);
    const info = fieldInfo(scope, r.keyType);
    if (!info) continue; // unknown or future fields pass through untouched
    const name = fieldName(scope, r.keyType);
    if (!info.allowed.includes(version)) return at(r, `${name} is not allowed in PSBT version ${version}`);
    if (!info.keyCoder && r.keyData.length > 0) {
      return at(r, `${name} must have no key data, but the key carries ${r.keyData.length} extra byte(s)`);
    }
    const { key: expectKey, value: expectValue } = describeRecord(scope, r.keyType);
    if (info.keyCoder) {
      const why = decodeOrReason(info.keyCoder, r.keyData);
      if (why) return at(r, `${name} key data (${r.keyData.length} bytes) is not ${expectKey} (${why})`);
    }
    const why = decodeOrReason(info.valueCoder, r.value);
    if (why) {
      if (scope === 'global' && r.keyType === 0 && isWitnessTx(r.value)) {
        return at(r, 'the unsigned transaction uses the witness serialization; BIP-174 requires the legacy (non-witness) format');
      }
      return at(r, `${name} value (${r.value.length} bytes) is not ${expectValue} (${why})`);
    }
  }
  for (const entry of Object.values(TABLES[scope])) {
    if (entry[3].includes(version) && !records.some((r) => r.keyType === entry[0])) {
      return { message: `${label}: the required field ${fieldName(scope, entry[0])} is missing (PSBT version ${version})`, detail: { map: label } };
    }
  }
  return undefined;
}

/**
 * BIP-144 serialization of an unsigned transaction: marker 00, flag 01, then the legacy body
 * with one empty witness stack (a 00 byte) per input before the locktime.
 */
function isWitnessTx(bytes: Uint8Array): boolean {
  if (bytes.length < 10 || bytes[4] !== 0 || bytes[5] !== 1) return false;
  try {
    const [inputs] = readCompactSize(bytes, 6, 'input count');
    const witnessAt = bytes.length - 4 - inputs;
    if (inputs === 0 || witnessAt <= 6 || bytes.subarray(witnessAt, bytes.length - 4).some((b) => b !== 0)) return false;
    const legacy = new Uint8Array(bytes.length - 2 - inputs);
    legacy.set(bytes.subarray(0, 4));
    legacy.set(bytes.subarray(6, witnessAt), 4);
    legacy.set(bytes.subarray(bytes.length - 4), legacy.length - 4);
    PSBTGlobal.unsignedTx[2].decode(legacy);
    return true;
  } catch {
    return false;
  }
}

type UnsignedTxShape = { inputs: { txid: Uint8Array; index: number; finalScriptSig?: Uint8Array }[]; outputs: unknown[] };

/** Explain why `bytes` (which start with the magic) are not a valid PSBT, or undefined. */
export function diagnose(bytes: Uint8Array): Problem | undefined {
  let maps: PsbtRecord[][];
  try {
    maps = splitPsbtMaps(bytes);
  } catch (e) {
    if (e instanceof FramingError) return { message: e.message, detail: { offset: e.offset } };
    return undefined;
  }
  const global = maps[0];
  if (!global) return { message: 'the PSBT has no global map after the magic bytes', detail: {} };
  const versionRecord = global.find((r) => r.keyType === 0xfb && r.keyData.length === 0);
  const version = versionRecord && versionRecord.value.length === 4 ? new DataView(versionRecord.value.buffer, versionRecord.value.byteOffset).getUint32(0, true) : 0;
  if (version !== 0 && version !== 2) return { message: `unsupported PSBT version ${version} (we read versions 0 and 2)`, detail: { map: 'global' } };
  const globalProblem = checkMap('global', 'global', global, version);
  if (globalProblem) return globalProblem;

  let inputCount: number;
  let outputCount: number;
  let unsigned: UnsignedTxShape | undefined;
  if (version === 0) {
    unsigned = PSBTGlobal.unsignedTx[2].decode(global.find((r) => r.keyType === 0)!.value) as UnsignedTxShape;
    const filled = unsigned.inputs.findIndex((i) => (i.finalScriptSig?.length ?? 0) > 0);
    if (filled >= 0) {
      return { message: `global: input ${filled} of the unsigned transaction has a non-empty scriptSig; signatures belong in PSBT_IN_FINAL_SCRIPTSIG`, detail: { map: 'global' } };
    }
    inputCount = unsigned.inputs.length;
    outputCount = unsigned.outputs.length;
  } else {
    inputCount = PSBTGlobal.inputCount[2].decode(global.find((r) => r.keyType === 4)!.value);
    outputCount = PSBTGlobal.outputCount[2].decode(global.find((r) => r.keyType === 5)!.value);
  }
  const found = maps.length - 1;
  if (found < inputCount + outputCount) {
    const inputsFound = Math.min(found, inputCount);
    const what = inputsFound < inputCount ? `${inputsFound} of ${inputCount} input maps` : `${found - inputCount} of ${outputCount} output maps`;
    return { message: `the PSBT ends after ${what}; the unsigned transaction has ${inputCount} input(s) and ${outputCount} output(s)`, detail: {} };
  }
  for (let i = 0; i < inputCount; i++) {
    const problem = checkMap('input', `input ${i}`, maps[1 + i]!, version) ?? checkUtxo(maps[1 + i]!, i, unsigned);
    if (problem) return problem;
  }
  for (let o = 0; o < outputCount; o++) {
    const problem = checkMap('output', `output ${o}`, maps[1 + inputCount + o]!, version);
    if (problem) return problem;
  }
  const extra = maps.slice(1 + inputCount + outputCount);
  // bip174js writes one extra empty map in some cases; btc-signer tolerates it, so do we.
  if (extra.length > 1 || (extra.length === 1 && extra[0]!.length > 0)) {
    return { message: `${extra.length} map(s) follow the last output map; the unsigned transaction has only ${outputCount} output(s)`, detail: {} };
  }
  return undefined;
}

/** PSBT_IN_NON_WITNESS_UTXO must be the transaction the input spends (BIP-174 v0 inputs). */
function checkUtxo(records: PsbtRecord[], index: number, unsigned: UnsignedTxShape | undefined): Problem | undefined {
  const record = records.find((r) => r.keyType === 0);
  const spends = unsigned?.inputs[index];
  if (!record || !spends) return undefined;
  const label = `input ${index}`;
  let prev: Transaction;
  try {
    prev = Transaction.fromRaw(record.value, { ...INSPECT_TX_OPTS, allowUnknownInputs: true });
  } catch {
    return undefined; // already reported as a value problem, or left to the library's reason
  }
  const want = toHex(spends.txid);
  if (prev.id !== want) {
    return { message: `${label}: PSBT_IN_NON_WITNESS_UTXO is transaction ${prev.id}, but the input spends ${want}`, detail: { map: label, field: 'PSBT_IN_NON_WITNESS_UTXO' } };
  }
  if (spends.index >= prev.outputsLength) {
    return { message: `${label}: spends output ${spends.index}, but PSBT_IN_NON_WITNESS_UTXO has only ${prev.outputsLength} output(s)`, detail: { map: label } };
  }
  const witness = records.find((r) => r.keyType === 1);
  const spent = prev.getOutput(spends.index) as { amount: bigint; script: Uint8Array };
  if (witness && toHex(witness.value) !== toHex(RawOutput.encode(spent))) {
    return { message: `${label}: PSBT_IN_WITNESS_UTXO disagrees with output ${spends.index} of PSBT_IN_NON_WITNESS_UTXO`, detail: { map: label, field: 'PSBT_IN_WITNESS_UTXO' } };
  }
  return undefined;
}
