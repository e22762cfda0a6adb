/**
 * An independent check of segwit v0 P2WSH ECDSA spends, sharing nothing with the code
 * under test (src/lib/bolt3): the transaction is parsed by test/independent/tx.ts, the
 * BIP-143 digest is written here from the BIP text with node:crypto's SHA-256, and the
 * ECDSA signature is verified by OpenSSL (node:crypto.verify with the compressed key
 * in a SubjectPublicKeyInfo) — not @noble/curves, which the product signs with.
 *
 * A verifier that accepts everything would make every test pass, so `verifyEcdsa`
 * first checks that the same call rejects the signature over a flipped digest.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { compactSize, concat, parseTx, serializeOutput, u32le, u64le, type ParsedTx } from '../../independent/tx.ts';

const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

export const SIGHASH_ALL = 0x01;
export const SIGHASH_SINGLE = 0x03;
export const SIGHASH_ANYONECANPAY = 0x80;

/**
 * BIP-143 preimage of input `index` (scriptCode = the P2WSH witness script), hashed once:
 * the signature is over SHA256 of this value, which OpenSSL computes itself.
 */
export function bip143SingleHash(tx: ParsedTx, index: number, witnessScript: Uint8Array, amount: bigint, hashType: number): Uint8Array {
  const acp = (hashType & SIGHASH_ANYONECANPAY) !== 0;
  const base = hashType & 0x1f;
  const zero = new Uint8Array(32);
  const hashPrevouts = acp ? zero : sha256(sha256(...tx.inputs.map((i) => i.outpoint)));
  const hashSequence = acp || base !== SIGHASH_ALL ? zero : sha256(sha256(...tx.inputs.map((i) => u32le(i.sequence))));
  const hashOutputs =
    base === SIGHASH_ALL
      ? sha256(sha256(...tx.outputs.map(serializeOutput)))
      : base === SIGHASH_SINGLE && index < tx.outputs.length
        ? sha256(sha256(serializeOutput(tx.outputs[index]!)))
        : zero;
  const input = tx.inputs[index]!;
  return sha256(
    concat(
      u32le(tx.version),
      hashPrevouts,
      hashSequence,
      input.outpoint,
      compactSize(witnessScript.length),
      witnessScript,
      u64le(amount),
      u32le(input.sequence),
      hashOutputs,
      u32le(tx.lockTime),
      u32le(hashType),
    ),
  );
}

// SubjectPublicKeyInfo for id-ecPublicKey / secp256k1 with a 33-byte compressed point.
const SPKI_PREFIX = Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex');

function opensslVerify(pubkey: Uint8Array, der: Uint8Array, singleHash: Uint8Array): boolean {
  const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pubkey]), format: 'der', type: 'spki' });
  return verify('sha256', singleHash, key, der);
}

/** Verify a DER signature (no sighash byte) over SHA256(singleHash) for a compressed key. */
export function verifyEcdsa(pubkey: Uint8Array, der: Uint8Array, singleHash: Uint8Array): boolean {
  const flipped = Uint8Array.from(singleHash);
  flipped[0]! ^= 1;
  if (opensslVerify(pubkey, der, flipped)) throw new Error('the independent ECDSA verifier accepts a signature over another message');
  return opensslVerify(pubkey, der, singleHash);
}

export function p2wshOf(witnessScript: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(0x00, 0x20), sha256(witnessScript));
}

export function hash160(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('ripemd160').update(sha256(data)).digest());
}

export { parseTx };
