/**
 * The BIP-341 signature message and hash of a key-path spend, written from the BIP
 * text ("Common signature message", ext_flag = 0) in test code: SigMsg(hash_type, 0)
 * serialized by hand and hashed as hash_TapSighash(0x00 || SigMsg). Every hash type
 * BIP-341 allows is supported (SIGHASH_DEFAULT, ALL, NONE, SINGLE, each with or without
 * ANYONECANPAY); the annex is not (the product never writes one, and a witness that
 * carries one is refused by the verifier rather than mis-hashed).
 *
 * Not @scure/btc-signer's `preimageWitnessV1` (which the product's signer uses) and no
 * product code. Checked against every `sigMsg`, the five transaction-wide hashes and
 * every `sigHash` of the BIP-341 wallet vectors in ./independent.test.ts.
 */
import { sha256, taggedHash } from './secp256k1.ts';
import { compactSize, concat, serializeOutput, u32le, u64le, type ParsedTx, type TxOutput } from './tx.ts';

export const SIGHASH_DEFAULT = 0x00;
export const SIGHASH_ALL = 0x01;
export const SIGHASH_NONE = 0x02;
export const SIGHASH_SINGLE = 0x03;
export const SIGHASH_ANYONECANPAY = 0x80;
/** BIP-341: "hash_type ... must be one of 0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83". */
export const VALID_HASH_TYPES: readonly number[] = [0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83];

/** The transaction-wide SHA256 values SigMsg commits to (named as in the wallet vectors). */
export type TxHashes = {
  hashPrevouts: Uint8Array;
  hashAmounts: Uint8Array;
  hashScriptPubkeys: Uint8Array;
  hashSequences: Uint8Array;
  hashOutputs: Uint8Array;
};

/** The spent output of one input: what BIP-341 calls amount and scriptPubKey. */
export type SpentOutput = TxOutput;

export function txHashes(tx: ParsedTx, spent: readonly SpentOutput[]): TxHashes {
  if (spent.length !== tx.inputs.length) throw new Error(`BIP-341 needs every spent output: ${spent.length} given for ${tx.inputs.length} inputs`);
  return {
    hashPrevouts: sha256(...tx.inputs.map((i) => i.outpoint)),
    hashAmounts: sha256(...spent.map((s) => u64le(s.amount))),
    // "the serialization of all spent output scriptPubKeys ... serialized as script inside CTxOut"
    hashScriptPubkeys: sha256(...spent.map((s) => concat(compactSize(s.script.length), s.script))),
    hashSequences: sha256(...tx.inputs.map((i) => u32le(i.sequence))),
    hashOutputs: sha256(...tx.outputs.map(serializeOutput)),
  };
}

/**
 * 0x00 || SigMsg(hash_type, ext_flag = 0) for input `index`: the epoch byte first, as the
 * BIP-341 wallet vectors write `sigMsg`.
 */
export function keyPathSigMsg(tx: ParsedTx, spent: readonly SpentOutput[], index: number, hashType: number): Uint8Array {
  return sigMsg(tx, spent, index, hashType);
}

/**
 * 0x00 || SigMsg(hash_type, ext_flag = 1) || ext for a BIP-342 tapscript spend: ext is
 * tapleaf_hash || key_version 0x00 || codesep_pos 0xffffffff (no OP_CODESEPARATOR executed).
 */
export function scriptPathSigHash(tx: ParsedTx, spent: readonly SpentOutput[], index: number, hashType: number, leafScript: Uint8Array): Uint8Array {
  const leafHash = taggedHash('TapLeaf', concat(Uint8Array.of(0xc0), compactSize(leafScript.length), leafScript));
  const ext = concat(leafHash, Uint8Array.of(0x00), u32le(0xffff_ffff));
  return taggedHash('TapSighash', concat(sigMsg(tx, spent, index, hashType, 1), ext));
}

function sigMsg(tx: ParsedTx, spent: readonly SpentOutput[], index: number, hashType: number, extFlag: 0 | 1 = 0): Uint8Array {
  if (!VALID_HASH_TYPES.includes(hashType)) throw new Error(`BIP-341: invalid hash_type 0x${hashType.toString(16)}`);
  if (!Number.isInteger(index) || index < 0 || index >= tx.inputs.length) throw new Error(`no input ${index}`);
  const h = txHashes(tx, spent);
  const anyoneCanPay = (hashType & SIGHASH_ANYONECANPAY) !== 0;
  const outputType = hashType & 0x03; // SIGHASH_DEFAULT counts as ALL
  const parts: Uint8Array[] = [Uint8Array.of(0x00), Uint8Array.of(hashType), u32le(tx.version), u32le(tx.lockTime)];
  if (!anyoneCanPay) parts.push(h.hashPrevouts, h.hashAmounts, h.hashScriptPubkeys, h.hashSequences);
  if (outputType !== SIGHASH_NONE && outputType !== SIGHASH_SINGLE) parts.push(h.hashOutputs);
  const annexPresent = 0;
  parts.push(Uint8Array.of(extFlag * 2 + annexPresent));
  if (anyoneCanPay) {
    const input = tx.inputs[index]!;
    const s = spent[index]!;
    parts.push(input.outpoint, u64le(s.amount), compactSize(s.script.length), s.script, u32le(input.sequence));
  } else {
    parts.push(u32le(index));
  }
  if (outputType === SIGHASH_SINGLE) {
    const output = tx.outputs[index];
    if (!output) throw new Error(`BIP-341: SIGHASH_SINGLE for input ${index} without a matching output`);
    parts.push(sha256(serializeOutput(output)));
  }
  return concat(...parts);
}

/** hash_TapSighash(0x00 || SigMsg): the 32 bytes a BIP-340 key-path signature signs. */
export function keyPathSigHash(tx: ParsedTx, spent: readonly SpentOutput[], index: number, hashType: number): Uint8Array {
  return taggedHash('TapSighash', keyPathSigMsg(tx, spent, index, hashType));
}
