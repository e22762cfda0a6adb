/**
 * A P2WSH input's ECDSA signature checked by hand (BIP-143's signature hash for witness v0,
 * SIGHASH_ALL; BIP-66's DER; SEC 1 verification), for the independent verifier: the witness
 * script its last witness item carries must be the one the spent output commits to
 * (OP_0 <SHA256(script)>), and its first item a signature of the spending transaction by the
 * key the caller names. No script interpretation beyond that.
 */
import { ecdsaVerify } from './invoice.ts';
import { sha256 } from './secp256k1.ts';
import { bytesOf, compactSize, concat, hexOf, parseTx, serializeOutput, u32le, u64le, type ParsedTx, type TxOutput } from './tx.ts';

const hash256 = (...parts: Uint8Array[]) => sha256(sha256(...parts));

/** BIP-143's digest of input `index` (spending `amount`, its scriptCode `script`) under SIGHASH_ALL. */
export function bip143SigHash(tx: ParsedTx, index: number, script: Uint8Array, amount: bigint): Uint8Array {
  const input = tx.inputs[index]!;
  const preimage = concat(
    u32le(tx.version),
    hash256(...tx.inputs.map((i) => i.outpoint)),
    hash256(...tx.inputs.map((i) => u32le(i.sequence))),
    input.outpoint,
    compactSize(script.length), script,
    u64le(amount),
    u32le(input.sequence),
    hash256(...tx.outputs.map(serializeOutput)),
    u32le(tx.lockTime),
    u32le(0x01),
  );
  return hash256(preimage);
}

/** BIP-66 strict DER (r, s), the sighash byte after it. */
function derSignature(sig: Uint8Array): { r: bigint; s: bigint; hashType: number } {
  if (sig[0] !== 0x30 || sig[1] !== sig.length - 3) throw new Error('not a DER signature');
  const read = (at: number) => {
    if (sig[at] !== 0x02) throw new Error('DER: integer expected');
    const len = sig[at + 1]!;
    return { value: BigInt(`0x${hexOf(sig.subarray(at + 2, at + 2 + len))}`), next: at + 2 + len };
  };
  const r = read(2);
  const s = read(r.next);
  if (s.next !== sig.length - 1) throw new Error('DER: trailing bytes');
  return { r: r.value, s: s.value, hashType: sig[sig.length - 1]! };
}

/**
 * Input `index` of `hex` spends the P2WSH output `prevout` with a witness whose script hashes to it and whose item `item`
 * (the first unless said: a 2-of-2's are 1 and 2) is a SIGHASH_ALL ECDSA signature by `pubkey` (33 bytes) — else throws,
 * saying which. Returns the witness script.
 */
export function verifyP2wshSignature(hex: string, index: number, prevout: TxOutput, pubkey: Uint8Array, item = 0): Uint8Array {
  const tx = parseTx(bytesOf(hex));
  const witness = tx.inputs[index]!.witness;
  const script = witness[witness.length - 1]!;
  if (hexOf(prevout.script) !== `0020${hexOf(sha256(script))}`) throw new Error('the witness script is not the one the spent output commits to');
  const { r, s, hashType } = derSignature(witness[item]!);
  if (hashType !== 0x01) throw new Error(`sighash ${hashType}, not SIGHASH_ALL`);
  if (!ecdsaVerify(bip143SigHash(tx, index, script, prevout.amount), r, s, pubkey)) throw new Error('the signature does not verify against the key');
  return script;
}
