/**
 * BIP-341 key-path signature hash (hash_TapSighash of SigMsg, no annex) for SIGHASH_DEFAULT
 * and SIGHASH_ALL, from a transaction's fields, with the parts that depend only on what the
 * inputs spend — sha_prevouts, sha_amounts, sha_scriptpubkeys, sha_sequences — hashed once
 * per set of spent outputs and kept (a mint signs state after state of one contract: the
 * same funding outpoint, amount, script and sequence each time), and the TapSighash tag's
 * hash computed once. Per signature only sha_outputs and the tagged 175-byte SigMsg are
 * hashed, each in one call into OpenSSL.
 *
 * ./taproot.ts `keyPathSighash` routes here for those two hash types (the BIP-341 wallet
 * vectors check both, multi-input) and keeps @scure/btc-signer's `preimageWitnessV1` for
 * every other; test/lib/taproot/sighash.test.ts checks the two agree on random transactions.
 * Public values only.
 */
import type { Hash } from 'node:crypto';
import { Lru } from '../lru.ts';
import { compactSizeLength } from '../tx/policy.ts';

/** What the signature hash reads of an input: its outpoint (txid in display order), sequence and spent output. */
export type SighashInput = { txid: Uint8Array; index: number; sequence: number; amount: bigint; script: Uint8Array };
export type SighashOutput = { amount: bigint; script: Uint8Array };

/**
 * node:crypto, loaded at the first signature hash rather than with this module: `psbt decode`'s
 * second shortcut bundle (bin/run.js, src/fast-decode/signer.ts) reaches this module through
 * the PSBT reader and never hashes, and loading node:crypto was ~10 ms of its ~80 ms CPU cold
 * start. Looked up once: `process.getBuiltinModule` on every hash showed in the mint's profile.
 */
let nodeCrypto: typeof import('node:crypto') | undefined;
const crypto = (): typeof import('node:crypto') => (nodeCrypto ??= process.getBuiltinModule('node:crypto'));
const createHash = (algorithm: 'sha256'): Hash => crypto().createHash(algorithm);
/** SHA256 in one call into OpenSSL (no Hash object per message). */
const sha256 = (data: Uint8Array): Buffer => crypto().hash('sha256', data, 'buffer') as unknown as Buffer;

/**
 * hash_TapSighash's message with its tag in front: sha256(tag) ‖ sha256(tag) ‖ SigMsg (175
 * bytes for a key-path spend without annex), hashed in one call. Built per signature hash:
 * the tag's 64 bytes copied from here.
 */
let tapSighashTag: Uint8Array | undefined;
function tapSighashPrefix(): Uint8Array {
  if (!tapSighashTag) {
    const tag = sha256(new TextEncoder().encode('TapSighash'));
    tapSighashTag = new Uint8Array(64);
    tapSighashTag.set(tag, 0);
    tapSighashTag.set(tag, 32);
  }
  return tapSighashTag;
}

/** sha_prevouts ‖ sha_amounts ‖ sha_scriptpubkeys ‖ sha_sequences of one set of inputs. */
const spentParts = new Lru<Uint8Array>(4096);

function u32le(out: Uint8Array, at: number, n: number): void {
  out[at] = n & 0xff;
  out[at + 1] = (n >>> 8) & 0xff;
  out[at + 2] = (n >>> 16) & 0xff;
  out[at + 3] = (n >>> 24) & 0xff;
}

/** An amount as a transaction serializes it: 8 bytes, little-endian. */
export function u64le(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n, true);
  return out;
}

/** A length as a transaction serializes it (CompactSize). */
export function compactSize(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n);
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >>> 8);
  const out = new Uint8Array(5);
  out[0] = 0xfe;
  u32le(out, 1, n);
  return out;
}

function outpoint(i: SighashInput): Uint8Array {
  const out = new Uint8Array(36);
  for (let k = 0; k < 32; k++) out[k] = i.txid[31 - k]!;
  u32le(out, 32, i.index);
  return out;
}

/**
 * The cache key of a set of spent outputs: every input's outpoint, amount, script and sequence
 * as bytes (one latin1 character each), so two sets share a key only when they are equal.
 */
function spentKey(inputs: readonly SighashInput[]): string {
  let size = 0;
  for (const i of inputs) size += 36 + 8 + 4 + 4 + i.script.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const i of inputs) {
    out.set(outpoint(i), at);
    view.setBigUint64(at + 36, i.amount, true);
    u32le(out, at + 44, i.sequence);
    u32le(out, at + 48, i.script.length);
    out.set(i.script, at + 52);
    at += 52 + i.script.length;
  }
  return Buffer.from(out.buffer, 0, size).toString('latin1');
}

function hashSpent(inputs: readonly SighashInput[]): Uint8Array {
  const prevouts = createHash('sha256');
  const amounts = createHash('sha256');
  const scripts = createHash('sha256');
  const sequences = createHash('sha256');
  const seq = new Uint8Array(4);
  for (const i of inputs) {
    prevouts.update(outpoint(i));
    amounts.update(u64le(i.amount));
    scripts.update(compactSize(i.script.length)).update(i.script);
    u32le(seq, 0, i.sequence);
    sequences.update(seq);
  }
  const out = new Uint8Array(128);
  [prevouts, amounts, scripts, sequences].forEach((h: Hash, k) => out.set(h.digest(), 32 * k));
  return out;
}

/**
 * hash_TapSighash(SigMsg(hash_type, ext_flag = 0)) of input `index`, for hash_type 0x00
 * (SIGHASH_DEFAULT) or 0x01 (SIGHASH_ALL) only: both commit to every input and output.
 */
export function keyPathSighashAll(version: number, lockTime: number, inputs: readonly SighashInput[], outputs: readonly SighashOutput[], index: number, hashType: 0 | 1): Uint8Array {
  if (!Number.isSafeInteger(index) || index < 0 || index >= inputs.length) throw new Error(`Invalid input idx=${index}`);
  const key = spentKey(inputs);
  const spent = spentParts.get(key) ?? spentParts.set(key, hashSpent(inputs));
  // sha_outputs: every output serialized (amount, CompactSize script length, script) into one buffer, hashed once.
  let size = 0;
  for (const o of outputs) size += 8 + compactSizeLength(o.script.length) + o.script.length;
  const serialized = new Uint8Array(size);
  const view = new DataView(serialized.buffer);
  let at = 0;
  for (const o of outputs) {
    view.setBigUint64(at, o.amount, true);
    at = writeCompactSize(serialized, at + 8, o.script.length);
    serialized.set(o.script, at);
    at += o.script.length;
  }
  const msg = new Uint8Array(64 + 175);
  msg.set(tapSighashPrefix(), 0);
  msg[64] = 0x00; // epoch
  msg[65] = hashType;
  u32le(msg, 66, version);
  u32le(msg, 70, lockTime);
  msg.set(spent, 74);
  msg.set(sha256(serialized), 202);
  msg[234] = 0x00; // spend_type: key path, no annex
  u32le(msg, 235, index);
  return Uint8Array.from(sha256(msg));
}

function writeCompactSize(out: Uint8Array, at: number, n: number): number {
  const bytes = compactSize(n);
  out.set(bytes, at);
  return at + bytes.length;
}
