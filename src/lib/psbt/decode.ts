/**
 * A typed, deterministic JSON view of a PSBT for humans and scripts (BIP-174/370 maps,
 * BIP-371 taproot fields, BIP-373 MuSig2 fields). Key names mirror Bitcoin Core's
 * `decodepsbt` (v30) so operators recognise them; docs/psbt.md has the table.
 *
 * Deliberate differences from Core: amounts are integer satoshis (`amount_sat`, `fee_sat`),
 * never BTC floats; scripts carry `hex` and `type` but no `asm`/`desc`; `non_witness_utxo`
 * shows the previous transaction's txid, version, locktime and outputs only. Fields that
 * Core does not decode either (silent payments, pay-to-contract, proof-of-reserves, DNSSEC)
 * appear raw under `unknown`, exactly as Core shows them.
 *
 * Returns plain objects with `bigint` amounts and `Uint8Array` bytes; `src/lib/json.ts`
 * renders them. Reads only: no signature or nonce is verified here.
 */
import { OutScript, Script } from '@scure/btc-signer';
import type { Transaction } from '@scure/btc-signer';
import { RawTx } from '@scure/btc-signer/script.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { compareBytes, concatBytes, toHex } from '../bytes.ts';
import type { Network } from '../network.ts';
import { isP2pkh, isP2sh, scriptAddress, witnessProgram } from '../address.ts';
import { splitPsbtMaps, type PsbtRecord } from './maps.ts';
import {
  addExtensions,
  bip32Views,
  byHexKey,
  musigEntries,
  participantViews,
  proprietaryViews,
  readU32,
  tapBip32Views,
  taprootScripts,
  unknownRecords,
  xpubView,
  type Bip32DerivView,
  type GlobalXpubView,
  type Musig2PartialSigView,
  type Musig2ParticipantsView,
  type Musig2PubNonceView,
  type ProprietaryView,
  type TaprootBip32DerivView,
  type TaprootLeafView,
  type TaprootScriptPathSigView,
  type TaprootScriptView,
} from './field-views.ts';

/** Core's script type names (`TxoutType`), e.g. `witness_v1_taproot`. */
export type ScriptType =
  | 'pubkey' | 'pubkeyhash' | 'scripthash' | 'multisig' | 'nulldata' | 'anchor'
  | 'witness_v0_keyhash' | 'witness_v0_scripthash' | 'witness_v1_taproot' | 'witness_unknown' | 'nonstandard';

export type ScriptPubKeyView = { hex: Uint8Array; type: ScriptType; address?: string };
export type TxOutView = { n: number; amount_sat: bigint; scriptPubKey: ScriptPubKeyView };
export type TxInView = { txid: string; vout: number; sequence: number };
/** The unsigned transaction; `txid` is that of the unsigned transaction, as in Core. */
export type TxView = { txid: string; version: number; locktime: number; vin: TxInView[]; vout: TxOutView[] };
export type PrevTxView = { txid: string; version: number; locktime: number; vout: TxOutView[] };
export type ScriptView = { hex: Uint8Array; type: ScriptType };
export type DecodedPsbtInput = {
  non_witness_utxo?: PrevTxView;
  witness_utxo?: { amount_sat: bigint; scriptPubKey: ScriptPubKeyView };
  partial_signatures?: Record<string, Uint8Array>;
  sighash?: string;
  redeem_script?: ScriptView;
  witness_script?: ScriptView;
  bip32_derivs?: Bip32DerivView[];
  final_scriptSig?: { hex: Uint8Array };
  final_scriptwitness?: Uint8Array[];
  ripemd160_preimages?: Record<string, Uint8Array>;
  sha256_preimages?: Record<string, Uint8Array>;
  hash160_preimages?: Record<string, Uint8Array>;
  hash256_preimages?: Record<string, Uint8Array>;
  required_time_locktime?: number;
  required_height_locktime?: number;
  taproot_key_path_sig?: Uint8Array;
  taproot_script_path_sigs?: TaprootScriptPathSigView[];
  taproot_scripts?: TaprootScriptView[];
  taproot_bip32_derivs?: TaprootBip32DerivView[];
  taproot_internal_key?: Uint8Array;
  taproot_merkle_root?: Uint8Array;
  musig2_participant_pubkeys?: Musig2ParticipantsView[];
  musig2_pubnonces?: Musig2PubNonceView[];
  musig2_partial_sigs?: Musig2PartialSigView[];
  proprietary?: ProprietaryView[];
  unknown?: Record<string, Uint8Array>;
};

export type DecodedPsbtOutput = {
  redeem_script?: ScriptView;
  witness_script?: ScriptView;
  bip32_derivs?: Bip32DerivView[];
  taproot_internal_key?: Uint8Array;
  taproot_tree?: TaprootLeafView[];
  taproot_bip32_derivs?: TaprootBip32DerivView[];
  musig2_participant_pubkeys?: Musig2ParticipantsView[];
  proprietary?: ProprietaryView[];
  unknown?: Record<string, Uint8Array>;
};

export type DecodedPsbt = {
  psbt_version: number;
  tx: TxView;
  global_xpubs: GlobalXpubView[];
  /** PSBTv2 only (BIP-370 PSBT_GLOBAL_TX_MODIFIABLE bit field). */
  tx_modifiable?: number;
  proprietary: ProprietaryView[];
  unknown: Record<string, Uint8Array>;
  inputs: DecodedPsbtInput[];
  outputs: DecodedPsbtOutput[];
  /** Sum of input values minus sum of output values, when every input's value is known. */
  fee_sat?: bigint;
};

// Key types this view renders by name; anything else in a map is shown under `unknown`.
const RENDERED = {
  global: new Set([0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0xfb, 0xfc]),
  input: new Set([...range(0x00, 0x08), ...range(0x0a, 0x18), 0x1a, 0x1b, 0x1c, 0xfc]),
  output: new Set([...range(0x00, 0x08), 0xfc]),
};

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

const SIGHASH_NAMES: Record<number, string> = {
  0x00: 'DEFAULT', 0x01: 'ALL', 0x02: 'NONE', 0x03: 'SINGLE',
  0x81: 'ALL|ANYONECANPAY', 0x82: 'NONE|ANYONECANPAY', 0x83: 'SINGLE|ANYONECANPAY',
};

/** Core's names for the standard sighash types; any other value as 0x-prefixed hex. */
export function sighashName(value: number): string {
  return SIGHASH_NAMES[value] ?? `0x${value.toString(16).padStart(8, '0')}`;
}

/**
 * What a view is read from: a parsed PSBT — btc-signer's `Transaction`, or a PSBT that carries
 * no key as ./plain.ts reads it (the same members, filled alike).
 */
export type DecodableTx = Pick<Transaction, 'inputsLength' | 'outputsLength' | 'version' | 'lockTime' | 'unsignedTx' | 'getInput' | 'getOutput'>;

/** The `psbt/decoded` message `psbt decode` prints; `bytes` as in `decodePsbt`. */
export function decodedMessage(tx: DecodableTx, network: Network, bytes: Uint8Array): Record<string, unknown> {
  const decoded = decodePsbt(tx, network, bytes);
  return { type: 'psbt/decoded', version: 1, network, txid: decoded.tx.txid, ...decoded }; // tx.id would hash it again
}

/**
 * Decode a parsed PSBT into the view above. The same PSBT always gives the same object.
 *
 * `bytes`: the PSBT `tx` was parsed from, unchanged since (or `serializePsbt(tx)`). Its raw maps
 * are read from them rather than from a serialisation of `tx` made here, which is quadratic in the number of key-value
 * pairs: @scure/btc-signer writes the whole PSBT through one micro-packed Writer whose
 * terminated-array encoder (every PSBT map is one) calls `finish(false)` after each pair —
 * a copy of everything written so far (micro-packed 0.11.1). Measured: 8,000 inputs 7 s,
 * 20,000 inputs ~100 s that way; linear from the bytes (test/e2e/scale.test.ts).
 */
export function decodePsbt(tx: DecodableTx, network: Network, bytes: Uint8Array): DecodedPsbt {
  const maps = splitPsbtMaps(bytes);
  const global = maps[0] ?? [];
  const version = global.find((r) => r.keyType === 0xfb);
  const psbtVersion = version ? readU32(version.value) : 0;
  const decoded: DecodedPsbt = {
    psbt_version: psbtVersion,
    tx: txView(tx, network),
    global_xpubs: global.filter((r) => r.keyType === 0x01).map(xpubView),
    proprietary: proprietaryViews(global),
    unknown: unknownRecords(global, RENDERED.global),
    inputs: [],
    outputs: [],
  };
  const modifiable = global.find((r) => r.keyType === 0x06);
  if (psbtVersion === 2 && modifiable) decoded.tx_modifiable = modifiable.value[0] ?? 0;
  for (let i = 0; i < tx.inputsLength; i++) decoded.inputs.push(inputView(tx, i, maps[1 + i] ?? [], network));
  for (let o = 0; o < tx.outputsLength; o++) decoded.outputs.push(outputView(tx, o, maps[1 + tx.inputsLength + o] ?? []));
  const fee = knownFee(tx);
  if (fee !== undefined) decoded.fee_sat = fee;
  return decoded;
}

/**
 * The network a PSBT's own bytes name, where they can: its global extended public keys
 * (BIP-32 version bytes: xpub is mainnet, tpub every test network). Output scripts cannot
 * tell (an address is only their rendering), so a PSBT without xpubs names none.
 */
export function psbtNetworkHint(bytes: Uint8Array): 'mainnet' | 'test' | undefined {
  const global = splitPsbtMaps(bytes)[0] ?? [];
  const versions = new Set(global.filter((r) => r.keyType === 0x01 && r.keyData.length >= 4).map((r) => toHex(r.keyData.subarray(0, 4))));
  if (versions.size !== 1) return undefined;
  const [v] = versions;
  return v === '0488b21e' ? 'mainnet' : v === '043587cf' ? 'test' : undefined;
}

/** Input values minus output values, or undefined when some input's value is unknown. */
export function knownFee(tx: DecodableTx): bigint | undefined {
  let total = 0n;
  for (let i = 0; i < tx.inputsLength; i++) {
    const amount = prevoutOf(tx, i)?.amount;
    if (amount === undefined) return undefined;
    total += amount;
  }
  for (let o = 0; o < tx.outputsLength; o++) total -= tx.getOutput(o).amount ?? 0n;
  return total;
}

/** The output an input spends, from PSBT_IN_NON_WITNESS_UTXO (preferred, as Core) or PSBT_IN_WITNESS_UTXO. */
export function prevoutOf(tx: DecodableTx, index: number): { amount: bigint; script: Uint8Array } | undefined {
  const input = tx.getInput(index);
  if (input.nonWitnessUtxo && input.index !== undefined) return input.nonWitnessUtxo.outputs[input.index];
  return input.witnessUtxo;
}

function txView(tx: DecodableTx, network: Network): TxView {
  const vin: TxInView[] = [];
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    vin.push({ txid: toHex(input.txid ?? new Uint8Array(32)), vout: input.index ?? 0, sequence: input.sequence ?? 0xffffffff });
  }
  const vout: TxOutView[] = [];
  for (let o = 0; o < tx.outputsLength; o++) {
    const output = tx.getOutput(o);
    vout.push(txOutView(o, output.amount ?? 0n, output.script ?? new Uint8Array(0), network));
  }
  return { txid: txidOf(tx.unsignedTx), version: tx.version, locktime: tx.lockTime, vin, vout };
}

function txidOf(legacySerialization: Uint8Array): string {
  return toHex(sha256(sha256(legacySerialization)).reverse());
}

function txOutView(n: number, amount: bigint, script: Uint8Array, network: Network): TxOutView {
  return { n, amount_sat: amount, scriptPubKey: scriptPubKeyView(script, network) };
}

/** An output script as `psbt decode` shows it: hex, Core's type name, and its address where Core gives one. */
export function scriptPubKeyView(script: Uint8Array, network: Network): ScriptPubKeyView {
  const view: ScriptPubKeyView = { hex: script, type: scriptType(script) };
  const address = scriptAddress(script, network);
  if (address !== undefined && view.type !== 'nonstandard' && view.type !== 'nulldata') view.address = address;
  return view;
}

/**
 * Classify a script the way Core's `Solver` names it. The shapes that hold no key are read off
 * their bytes — a witness program by its version and length, P2SH, P2PKH — and btc-signer's
 * OutScript names the rest (bare keys and multisig), as it named them all before
 * (test/lib/psbt/decode.test.ts holds the two equal): rendering a keyless script loads no
 * btc-signer (psbt decode's shortcut, src/fast-decode/plain.ts).
 */
export function scriptType(script: Uint8Array): ScriptType {
  if (script[0] === 0x6a) return isPushOnly(script.subarray(1)) ? 'nulldata' : 'nonstandard';
  const witness = witnessProgram(script);
  if (witness) return witnessType(witness.version, witness.program);
  if (isP2pkh(script)) return 'pubkeyhash';
  if (isP2sh(script)) return 'scripthash';
  let kind: string;
  try {
    kind = OutScript.decode(script).type;
  } catch {
    kind = 'unknown';
  }
  return kind === 'pk' ? 'pubkey' : kind === 'ms' ? 'multisig' : 'nonstandard';
}

/**
 * A witness program's type: version 0 by its program's length (any other length is not
 * standard), version 1 taproot for any 32-byte program — its key not checked, as in Core
 * (OutScript would lift it, refusing one off the curve, and spend a square root on every other)
 * — or the pay-to-anchor program, and any other a version nobody has defined yet (BIP-141).
 */
function witnessType(version: number, program: Uint8Array): ScriptType {
  if (version === 0) return program.length === 20 ? 'witness_v0_keyhash' : program.length === 32 ? 'witness_v0_scripthash' : 'nonstandard';
  if (version === 1 && program.length === 32) return 'witness_v1_taproot';
  if (version === 1 && program.length === 2 && program[0] === 0x4e && program[1] === 0x73) return 'anchor';
  return 'witness_unknown';
}

function isPushOnly(script: Uint8Array): boolean {
  try {
    return Script.decode(script).every((op) => op instanceof Uint8Array || typeof op === 'number');
  } catch {
    return false;
  }
}

function inputView(tx: DecodableTx, index: number, records: PsbtRecord[], network: Network): DecodedPsbtInput {
  const input = tx.getInput(index);
  const view: DecodedPsbtInput = {};
  if (input.nonWitnessUtxo) {
    const prev = input.nonWitnessUtxo;
    const legacy = RawTx.encode({ ...prev, segwitFlag: false, witnesses: undefined });
    view.non_witness_utxo = {
      txid: txidOf(legacy),
      version: prev.version,
      locktime: prev.lockTime,
      vout: prev.outputs.map((o, n) => txOutView(n, o.amount, o.script, network)),
    };
  }
  if (input.witnessUtxo) {
    view.witness_utxo = { amount_sat: input.witnessUtxo.amount, scriptPubKey: scriptPubKeyView(input.witnessUtxo.script, network) };
  }
  if (input.partialSig?.length) view.partial_signatures = byHexKey(input.partialSig);
  if (input.sighashType !== undefined) view.sighash = sighashName(input.sighashType);
  if (input.redeemScript) view.redeem_script = { hex: input.redeemScript, type: scriptType(input.redeemScript) };
  if (input.witnessScript) view.witness_script = { hex: input.witnessScript, type: scriptType(input.witnessScript) };
  if (input.bip32Derivation?.length) view.bip32_derivs = bip32Views(input.bip32Derivation);
  if (input.finalScriptSig?.length) view.final_scriptSig = { hex: input.finalScriptSig };
  if (input.finalScriptWitness?.length) view.final_scriptwitness = input.finalScriptWitness;
  if (input.ripemd160?.length) view.ripemd160_preimages = byHexKey(input.ripemd160);
  if (input.sha256?.length) view.sha256_preimages = byHexKey(input.sha256);
  if (input.hash160?.length) view.hash160_preimages = byHexKey(input.hash160);
  if (input.hash256?.length) view.hash256_preimages = byHexKey(input.hash256);
  if (input.requiredTimeLocktime !== undefined) view.required_time_locktime = input.requiredTimeLocktime;
  if (input.requiredHeightLocktime !== undefined) view.required_height_locktime = input.requiredHeightLocktime;
  if (input.tapKeySig) view.taproot_key_path_sig = input.tapKeySig;
  if (input.tapScriptSig?.length) {
    view.taproot_script_path_sigs = input.tapScriptSig
      .map(([k, sig]) => ({ pubkey: k.pubKey, leaf_hash: k.leafHash, sig }))
      .sort((a, b) => compareBytes(concatBytes(a.pubkey, a.leaf_hash), concatBytes(b.pubkey, b.leaf_hash)));
  }
  if (input.tapLeafScript?.length) view.taproot_scripts = taprootScripts(input.tapLeafScript);
  if (input.tapBip32Derivation?.length) view.taproot_bip32_derivs = tapBip32Views(input.tapBip32Derivation);
  if (input.tapInternalKey) view.taproot_internal_key = input.tapInternalKey;
  if (input.tapMerkleRoot) view.taproot_merkle_root = input.tapMerkleRoot;
  if (input.musig2ParticipantPubkeys?.length) view.musig2_participant_pubkeys = participantViews(input.musig2ParticipantPubkeys);
  if (input.musig2PubNonce?.length) {
    view.musig2_pubnonces = musigEntries(input.musig2PubNonce).map(({ key, value }) => ({ ...key, pubnonce: value }));
  }
  if (input.musig2PartialSig?.length) {
    view.musig2_partial_sigs = musigEntries(input.musig2PartialSig).map(({ key, value }) => ({ ...key, partial_sig: value }));
  }
  addExtensions(view, records, RENDERED.input);
  return view;
}

function outputView(tx: DecodableTx, index: number, records: PsbtRecord[]): DecodedPsbtOutput {
  const output = tx.getOutput(index);
  const view: DecodedPsbtOutput = {};
  if (output.redeemScript) view.redeem_script = { hex: output.redeemScript, type: scriptType(output.redeemScript) };
  if (output.witnessScript) view.witness_script = { hex: output.witnessScript, type: scriptType(output.witnessScript) };
  if (output.bip32Derivation?.length) view.bip32_derivs = bip32Views(output.bip32Derivation);
  if (output.tapInternalKey) view.taproot_internal_key = output.tapInternalKey;
  // Tree order is meaningful (depth-first), so it is kept as written.
  if (output.tapTree?.length) view.taproot_tree = output.tapTree.map((l) => ({ depth: l.depth, leaf_ver: l.version, script: l.script }));
  if (output.tapBip32Derivation?.length) view.taproot_bip32_derivs = tapBip32Views(output.tapBip32Derivation);
  if (output.musig2ParticipantPubkeys?.length) view.musig2_participant_pubkeys = participantViews(output.musig2ParticipantPubkeys);
  addExtensions(view, records, RENDERED.output);
  return view;
}
