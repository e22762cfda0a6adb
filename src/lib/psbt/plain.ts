/**
 * The PSBTs that carry no key — BIP-174's Creator and early Updater output: a version 0 PSBT
 * whose global map is the unsigned transaction alone, whose input maps hold at most a
 * PSBT_IN_WITNESS_UTXO paying an output script of a keyless shape (below), and whose output
 * maps are empty — read without @scure/btc-signer, into the objects `Transaction.fromPSBT`
 * builds for them.
 *
 * Read here for everyone: read.ts builds its Transaction from this reading (no generic
 * coder), and `psbt decode`'s shortcut renders it without loading btc-signer or the curve at
 * all (src/fast-decode/plain.ts) — on such a PSBT nothing needs them: no record holds a key to
 * check, and BIP-174's signer check of a witness_utxo alone (`checkScript`) refuses only bare
 * key scripts (pk, multisig, the taproot leaf shapes), which are not among the shapes taken.
 *
 * It never refuses: anything else — another record, a PSBT version 2, a non-minimal or
 * oversized CompactSize, an unusual transaction version, a script of another shape — gives
 * undefined, and btc-signer reads the PSBT (accepting it or saying why not). test/lib/psbt/
 * plain.test.ts holds every reading equal to `fromPSBT`'s, and every PSBT it does not take
 * to one `fromPSBT` reads or refuses.
 */
import { isP2pkh, isP2sh, witnessProgram } from '../address.ts';
import { readCompactSize, type PsbtRecord } from './maps.ts';

/** The unsigned transaction of a PSBT version 0, as btc-signer's RawOldTx decodes it (txid in display order). */
export type UnsignedTx = {
  version: number;
  inputs: { txid: Uint8Array; index: number; finalScriptSig: Uint8Array; sequence: number }[];
  outputs: { amount: bigint; script: Uint8Array }[];
  lockTime: number;
};

export type WitnessUtxo = { amount: bigint; script: Uint8Array };
export type PlainInput = { txid: Uint8Array; index: number; sequence: number; witnessUtxo?: WitnessUtxo };
export type PlainOutput = { amount: bigint; script: Uint8Array };

const GLOBAL_UNSIGNED_TX = 0x00;
const IN_WITNESS_UTXO = 0x01;

/**
 * A plain PSBT, with the members of btc-signer's `Transaction` that reading it needs
 * (decode.ts, views.ts): its input and output maps as `fromPSBT` fills them.
 */
export class PlainPsbt {
  readonly inputs: PlainInput[];
  readonly outputs: PlainOutput[];
  constructor(
    readonly unsigned: UnsignedTx,
    /** The unsigned transaction's bytes, as the global map holds them (and btc-signer re-encodes them). */
    readonly unsignedTx: Uint8Array,
    witnessUtxos: (WitnessUtxo | undefined)[],
  ) {
    this.inputs = unsigned.inputs.map(({ txid, index, sequence }, i) => {
      const utxo = witnessUtxos[i];
      return utxo ? { txid, index, sequence, witnessUtxo: utxo } : { txid, index, sequence };
    });
    this.outputs = unsigned.outputs.map((o) => ({ ...o }));
  }
  get version(): number {
    return this.unsigned.version;
  }
  get lockTime(): number {
    return this.unsigned.lockTime;
  }
  get inputsLength(): number {
    return this.inputs.length;
  }
  get outputsLength(): number {
    return this.outputs.length;
  }
  getInput(index: number): PlainInput {
    return this.inputs[index]!;
  }
  getOutput(index: number): PlainOutput {
    return this.outputs[index]!;
  }
}

/** The plain PSBT these maps (./maps.ts, magic checked) are, or undefined for any other. */
export function readPlainPsbt(maps: readonly (readonly PsbtRecord[])[]): PlainPsbt | undefined {
  const global = maps[0];
  if (!global || global.length !== 1 || global[0]!.keyType !== GLOBAL_UNSIGNED_TX || global[0]!.key.length !== 1) return undefined;
  // First the cheap look that turns away a PSBT with keys (more records, or others) before its
  // transaction is read; which maps are inputs is known only then.
  for (let m = 1; m < maps.length; m++) {
    const records = maps[m]!;
    if (records.length > 1 || (records.length === 1 && (records[0]!.keyType !== IN_WITNESS_UTXO || records[0]!.key.length !== 1))) return undefined;
  }
  const raw = global[0]!.value;
  const unsigned = readUnsignedTx(raw);
  if (!unsigned || maps.length !== 1 + unsigned.inputs.length + unsigned.outputs.length) return undefined;
  const utxos: (WitnessUtxo | undefined)[] = [];
  for (let i = 0; i < unsigned.inputs.length; i++) {
    const record = maps[1 + i]![0]; // a witness_utxo or nothing (above)
    if (record === undefined) {
      utxos.push(undefined);
      continue;
    }
    const utxo = readWitnessUtxo(record.value);
    if (!utxo || !isKeylessScript(utxo.script)) return undefined;
    utxos.push(utxo);
  }
  for (let m = 1 + unsigned.inputs.length; m < maps.length; m++) if (maps[m]!.length) return undefined;
  return new PlainPsbt(unsigned, raw, utxos);
}

/**
 * A PSBT version 0 unsigned transaction (legacy serialisation: every scriptSig empty, no
 * witness) of version 1, 2 or 3, with at least one input and one output, as btc-signer's
 * RawOldTx decodes it; undefined for anything else. Inputs come first after the version, so
 * no input count of 0 is read (that byte would be a witness marker, which BIP-174 forbids).
 */
export function readUnsignedTx(raw: Uint8Array): UnsignedTx | undefined {
  try {
    if (raw.length < 4 + 1 + 41 + 1 + 9 + 4) return undefined;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const version = view.getInt32(0, true);
    if (version < 1 || version > 3) return undefined;
    const [inputCount, inputsAt] = readCompactSize(raw, 4, 'input count');
    if (inputCount < 1 || inputsAt + 41 * inputCount > raw.length) return undefined;
    const inputs: UnsignedTx['inputs'] = [];
    let at = inputsAt;
    for (let i = 0; i < inputCount; i++, at += 41) {
      if (raw[at + 36] !== 0) return undefined; // a scriptSig: btc-signer says why not
      // txid in display order, as btc-signer keeps it
      inputs.push({ txid: raw.slice(at, at + 32).reverse(), index: view.getUint32(at + 32, true), finalScriptSig: new Uint8Array(0), sequence: view.getUint32(at + 37, true) });
    }
    let count: number;
    [count, at] = readCompactSize(raw, at, 'output count');
    if (count < 1) return undefined;
    const outputs: UnsignedTx['outputs'] = [];
    for (let o = 0; o < count; o++) {
      if (at + 8 > raw.length) return undefined;
      const amount = view.getBigUint64(at, true);
      const [length, scriptAt] = readCompactSize(raw, at + 8, 'script length');
      if (scriptAt + length > raw.length) return undefined;
      outputs.push({ amount, script: raw.slice(scriptAt, scriptAt + length) });
      at = scriptAt + length;
    }
    if (at + 4 !== raw.length) return undefined;
    return { version, inputs, outputs, lockTime: view.getUint32(at, true) };
  } catch {
    return undefined; // a CompactSize cut off or not minimal
  }
}

/** PSBT_IN_WITNESS_UTXO's value (amount, CompactSize script length, script), all of it; undefined otherwise. */
function readWitnessUtxo(value: Uint8Array): WitnessUtxo | undefined {
  if (value.length < 9) return undefined;
  try {
    const [length, scriptAt] = readCompactSize(value, 8, 'script length');
    if (scriptAt + length !== value.length) return undefined;
    return { amount: new DataView(value.buffer, value.byteOffset, 8).getBigUint64(0, true), script: value.slice(scriptAt) };
  } catch {
    return undefined;
  }
}

/**
 * Output scripts that hold no key, so a witness_utxo paying one is checked by nothing but its
 * decoding: a witness program of any version (BIP-141's shape: a version opcode, then one push of
 * 2 to 40 bytes), P2SH and P2PKH. (A taproot output key is not read as a point by the signer check
 * either: read.ts, checkTaprootSpend.)
 */
export function isKeylessScript(s: Uint8Array): boolean {
  return witnessProgram(s) !== undefined || isP2sh(s) || isP2pkh(s);
}
