/**
 * The independent verifier: `verifyKeyPathSpend(tx, prevouts, expectedOutputKey)` checks
 * a signed transaction's taproot key-path witnesses with nothing shared with the
 * signing path —
 *
 * - the transaction is parsed here (./tx.ts), not by the product or btc-signer;
 * - the BIP-341 signature hash is computed here (./sighash.ts), from the prevouts the
 *   *test* supplies, not read from the PSBT the product wrote;
 * - each prevout's scriptPubKey must be OP_1 <expected output key>, a key the test
 *   derived itself (./keys.ts), so a wrong contract key cannot verify against itself;
 * - BIP-340 Verify runs on an implementation the product is not using in this run
 *   (./schnorr.ts says which, and why), and before trusting a "valid" answer the
 *   verifier checks that the same implementation rejects the signature with one bit
 *   flipped, so a verifier that accepts everything cannot pass a test.
 *
 * `verifyScriptPathSpend` does the same for one tapscript leaf spend (a refund leaf
 * `and_v(v:pk(K),after(n))`, a claim leaf): the leaf is the one the test expects, the
 * control block proves it against the internal key and output key the test derived
 * (BIP-341 Merkle path, parity), and the signature verifies over the *script-path*
 * sighash (BIP-342: ext_flag 1, the leaf hash) by the leaf's key — a signature over the
 * key-path sighash fails.
 *
 * It throws `IndependentCheckError` naming the input and what failed; it returns the
 * parsed transaction (txid, vsize, outputs…) so a test can check the rest from it.
 */
import { independentSchnorr, type SchnorrVerifier } from './schnorr.ts';
import { keyPathSigHash, scriptPathSigHash, SIGHASH_DEFAULT, VALID_HASH_TYPES } from './sighash.ts';
import { p2trScript, taprootOutput } from './keys.ts';
import { taggedHash } from './secp256k1.ts';
import { compactSize, hexOf, parseTx, type ParsedTx } from './tx.ts';

/** The verifier of this run: the test code's BIP-340 (./schnorr.ts). */
export const VERIFIER: SchnorrVerifier = await independentSchnorr();

export class IndependentCheckError extends Error {
  constructor(message: string, verifier: SchnorrVerifier['name'] = VERIFIER.name) {
    super(`independent verifier (${verifier}): ${message}`);
    this.name = 'IndependentCheckError';
  }
}

/** A spent output as the test knows it; txid/vout, when given, must match the input's outpoint. */
export type Prevout = { amount: bigint; script: Uint8Array; txid?: string; vout?: number };

export type VerifiedSpend = ParsedTx & {
  /** Per input: the hash type and BIP-341 sighash that were verified (undefined where not checked). */
  hashTypes: (number | undefined)[];
  sighashes: (Uint8Array | undefined)[];
  verifier: SchnorrVerifier['name'];
};

export type VerifyOptions = {
  /** Hash types accepted (default: SIGHASH_DEFAULT only, the only type the product signs). */
  hashTypes?: readonly number[];
  /** Another implementation (e.g. the test-code one, when every engine is under test). */
  verifier?: SchnorrVerifier;
};

/**
 * Verify every taproot key-path input of `tx` (hex or bytes). `expectedOutputKey` is one
 * x-only key for all inputs, or one per input (`null`: an input this check skips, e.g.
 * a wallet's P2WPKH input).
 */
export function verifyKeyPathSpend(
  tx: string | Uint8Array,
  prevouts: readonly Prevout[],
  expectedOutputKey: Uint8Array | readonly (Uint8Array | null)[],
  opts: VerifyOptions = {},
): VerifiedSpend {
  const verifier = opts.verifier ?? VERIFIER;
  const allowed = opts.hashTypes ?? [SIGHASH_DEFAULT];
  const fail = (message: string): never => {
    throw new IndependentCheckError(message, verifier.name);
  };
  const parsed = parseTx(tx);
  if (prevouts.length !== parsed.inputs.length) fail(`${prevouts.length} prevouts given for ${parsed.inputs.length} inputs`);
  const keys = expectedOutputKey instanceof Uint8Array ? parsed.inputs.map(() => expectedOutputKey) : [...expectedOutputKey];
  if (keys.length !== parsed.inputs.length) fail(`${keys.length} expected keys given for ${parsed.inputs.length} inputs`);
  if (!keys.some((k) => k !== null)) fail('no input to check');

  const hashTypes: (number | undefined)[] = [];
  const sighashes: (Uint8Array | undefined)[] = [];
  parsed.inputs.forEach((input, i) => {
    const p = prevouts[i]!;
    if (p.txid !== undefined && p.txid !== input.txid) fail(`input ${i} spends ${input.txid}:${input.vout}, not ${p.txid}:${p.vout}`);
    if (p.vout !== undefined && p.vout !== input.vout) fail(`input ${i} spends output ${input.vout}, not ${p.vout}`);
    const key = keys[i];
    if (!key) return;
    if (key.length !== 32) fail(`input ${i}: the expected output key must be 32 bytes (x-only)`);
    if (hexOf(p.script) !== hexOf(p2trScript(key))) fail(`input ${i}: the prevout's scriptPubKey ${hexOf(p.script)} is not OP_1 <${hexOf(key)}>`);
    if (input.scriptSig.length !== 0) fail(`input ${i}: a taproot key-path spend has an empty scriptSig`);
    if (input.witness.length !== 1) fail(`input ${i}: a key-path witness is exactly one signature, found ${input.witness.length} items`);
    const sig = input.witness[0]!;
    let hashType: number;
    if (sig.length === 64) hashType = SIGHASH_DEFAULT;
    else if (sig.length === 65 && sig[64] !== SIGHASH_DEFAULT) hashType = sig[64]!;
    else hashType = fail(`input ${i}: a ${sig.length}-byte signature${sig.length === 65 ? ' ending in 0x00' : ''} is not a BIP-341 key-path signature`);
    if (!VALID_HASH_TYPES.includes(hashType)) fail(`input ${i}: hash type 0x${hashType.toString(16)} is not one BIP-341 allows`);
    if (!allowed.includes(hashType)) fail(`input ${i}: hash type 0x${hashType.toString(16)} where only ${allowed.map((t) => '0x' + t.toString(16)).join(', ')} is expected`);
    const msg = keyPathSigHash(parsed, prevouts, i, hashType);
    const sig64 = sig.subarray(0, 64);
    if (!verifier.verify(sig64, msg, key)) fail(`input ${i}: BIP-340 signature does not verify for output key ${hexOf(key)} over sighash ${hexOf(msg)}`);
    const flipped = Uint8Array.from(sig64);
    flipped[63] = flipped[63]! ^ 1;
    if (verifier.verify(flipped, msg, key)) fail(`input ${i}: the verifier also accepts a corrupted signature, so its "valid" means nothing`);
    sighashes[i] = msg;
    hashTypes[i] = hashType;
  });
  return { ...parsed, hashTypes, sighashes, verifier: verifier.name };
}

export type ScriptPathExpectation = {
  /** x-only output key and internal key the test derived for the spent output. */
  outputKey: Uint8Array;
  internalKey: Uint8Array;
  /** The leaf that must be executed, and the x-only key its `pk()` names. */
  leafScript: Uint8Array;
  signingKey: Uint8Array;
  /** Witness items below the signature the leaf consumes (e.g. a preimage), exactly. */
  before?: readonly Uint8Array[];
  /** The leaf's `after(n)`: OP_CHECKLOCKTIMEVERIFY passes only if nLockTime ≥ n of the same kind and the input's sequence is not final (BIP-65). */
  after?: number;
};

/** Verify input `index` of `tx` as a BIP-341 script-path spend of one leaf with one BIP-340 signature. */
export function verifyScriptPathSpend(tx: string | Uint8Array, prevouts: readonly Prevout[], index: number, e: ScriptPathExpectation, opts: VerifyOptions = {}): VerifiedSpend {
  const verifier = opts.verifier ?? VERIFIER;
  const allowed = opts.hashTypes ?? [SIGHASH_DEFAULT];
  const fail = (message: string): never => {
    throw new IndependentCheckError(`input ${index}: ${message}`, verifier.name);
  };
  const parsed = parseTx(tx);
  if (prevouts.length !== parsed.inputs.length) fail(`${prevouts.length} prevouts given for ${parsed.inputs.length} inputs`);
  const input = parsed.inputs[index] ?? fail('no such input');
  const p = prevouts[index]!;
  if (p.txid !== undefined && p.txid !== input.txid) fail(`spends ${input.txid}:${input.vout}, not ${p.txid}:${p.vout}`);
  if (p.vout !== undefined && p.vout !== input.vout) fail(`spends output ${input.vout}, not ${p.vout}`);
  if (hexOf(p.script) !== hexOf(p2trScript(e.outputKey))) fail(`the prevout's scriptPubKey ${hexOf(p.script)} is not OP_1 <${hexOf(e.outputKey)}>`);
  if (input.scriptSig.length !== 0) fail('a taproot spend has an empty scriptSig');
  const before = e.before ?? [];
  const w = input.witness;
  if (w.length !== before.length + 3) fail(`expected ${before.length + 3} witness items (${before.length} + signature, leaf, control block), found ${w.length}`);
  before.forEach((item, k) => {
    if (hexOf(w[k]!) !== hexOf(item)) fail(`witness item ${k} is ${hexOf(w[k]!)}, not ${hexOf(item)}`);
  });
  const [sig, leaf, cb] = [w[before.length]!, w[before.length + 1]!, w[before.length + 2]!];
  if (hexOf(leaf) !== hexOf(e.leafScript)) fail(`the executed leaf ${hexOf(leaf)} is not the expected ${hexOf(e.leafScript)}`);
  if (cb.length < 33 || (cb.length - 33) % 32 !== 0 || cb.length > 33 + 128 * 32) fail(`a ${cb.length}-byte control block`);
  if ((cb[0]! & 0xfe) !== 0xc0) fail(`leaf version 0x${(cb[0]! & 0xfe).toString(16)}, not tapscript 0xc0`);
  if (hexOf(cb.subarray(1, 33)) !== hexOf(e.internalKey)) fail(`the control block's internal key ${hexOf(cb.subarray(1, 33))} is not ${hexOf(e.internalKey)}`);
  let node = taggedHash('TapLeaf', Uint8Array.of(cb[0]! & 0xfe), compactSize(leaf.length), leaf);
  for (let off = 33; off < cb.length; off += 32) {
    const sibling = cb.subarray(off, off + 32);
    node = taggedHash('TapBranch', ...(Buffer.compare(Buffer.from(node), Buffer.from(sibling)) < 0 ? [node, sibling] : [sibling, node]));
  }
  const out = taprootOutput(e.internalKey, node);
  if (hexOf(out.outputKey) !== hexOf(e.outputKey)) fail(`the control block's Merkle path gives output key ${hexOf(out.outputKey)}, not ${hexOf(e.outputKey)}`);
  if ((cb[0]! & 1) !== out.parity) fail(`the control block's parity bit is ${cb[0]! & 1}, the output key's is ${out.parity}`);
  if (e.after !== undefined) {
    const THRESHOLD = 500_000_000;
    if ((parsed.lockTime < THRESHOLD) !== (e.after < THRESHOLD)) fail(`nLockTime ${parsed.lockTime} and after(${e.after}) are not the same kind (height / time)`);
    if (parsed.lockTime < e.after) fail(`nLockTime ${parsed.lockTime} is below after(${e.after}): CHECKLOCKTIMEVERIFY fails`);
    if (input.sequence === 0xffff_ffff) fail('a final sequence (0xffffffff) disables CHECKLOCKTIMEVERIFY');
  }
  let hashType: number;
  if (sig.length === 64) hashType = SIGHASH_DEFAULT;
  else if (sig.length === 65 && sig[64] !== SIGHASH_DEFAULT) hashType = sig[64]!;
  else hashType = fail(`a ${sig.length}-byte signature is not a BIP-342 signature`);
  if (!VALID_HASH_TYPES.includes(hashType) || !allowed.includes(hashType)) fail(`hash type 0x${hashType.toString(16)} where only ${allowed.map((t) => '0x' + t.toString(16)).join(', ')} is expected`);
  const msg = scriptPathSigHash(parsed, prevouts, index, hashType, leaf);
  const sig64 = sig.subarray(0, 64);
  if (!verifier.verify(sig64, msg, e.signingKey)) fail(`BIP-340 signature does not verify for ${hexOf(e.signingKey)} over the script-path sighash ${hexOf(msg)}`);
  const flipped = Uint8Array.from(sig64);
  flipped[63] = flipped[63]! ^ 1;
  if (verifier.verify(flipped, msg, e.signingKey)) fail('the verifier also accepts a corrupted signature, so its "valid" means nothing');
  const hashTypes: (number | undefined)[] = parsed.inputs.map((_, i) => (i === index ? hashType : undefined));
  const sighashes: (Uint8Array | undefined)[] = parsed.inputs.map((_, i) => (i === index ? msg : undefined));
  return { ...parsed, hashTypes, sighashes, verifier: verifier.name };
}
