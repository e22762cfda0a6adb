/**
 * BOLT 12 "Signature Calculation": the Merkle root of a TLV stream's non-signature
 * records (each leaf H("LnLeaf", tlv) paired with H("LnNonce"||first-tlv, type); inner
 * nodes H("LnBranch", lesser||greater); an uneven tree deepest on the lowest-order leaves)
 * and the BIP-340 signature over H("lightning"||messagename||fieldname, root).
 * Pure; the intermediate values are returned for the spec's signature-test.json.
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { compareBytes, concatBytes } from '../bytes.ts';
import type { TlvRecord } from './tlv.ts';

const enc = new TextEncoder();
/** SHA256(tag) of the fixed tags ("LnLeaf", "LnBranch", "lightning…"), keyed by their text; never of the LnNonce tag, which holds a whole TLV record. */
const tagHashes = new Map<string, Uint8Array>();
const tagHash = (tag: string): Uint8Array => {
  let th = tagHashes.get(tag);
  if (!th) {
    th = sha256(enc.encode(tag));
    if (tagHashes.size < 64) tagHashes.set(tag, th);
  }
  return th;
};
/** H(tag, msg) given SHA256(tag). */
const hashWith = (th: Uint8Array, msg: Uint8Array): Uint8Array => sha256(concatBytes(th, th, msg));

/** BIP-340's H(tag, msg) = SHA256(SHA256(tag) || SHA256(tag) || msg); `tag` as bytes (any length: nothing is spread onto the stack). */
export function taggedHash(tag: Uint8Array, msg: Uint8Array): Uint8Array {
  return hashWith(sha256(tag), msg);
}

export function branch(a: Uint8Array, b: Uint8Array): Uint8Array {
  return hashWith(tagHash('LnBranch'), compareBytes(a, b) <= 0 ? concatBytes(a, b) : concatBytes(b, a));
}

/** Signature TLV elements are types 240 through 1000 inclusive. */
export const isSignatureType = (type: bigint): boolean => type >= 240n && type <= 1000n;

export type MerkleLeaf = { leaf: Uint8Array; nonce: Uint8Array; node: Uint8Array };

/** Leaves (in TLV order) and root of the records that are not signature elements. */
export function merkleTree(records: readonly TlvRecord[]): { leaves: MerkleLeaf[]; root: Uint8Array } {
  const signed = records.filter((r) => !isSignatureType(r.type));
  if (signed.length === 0) throw new RangeError('no TLV records to sign');
  // SHA256("LnNonce" || first TLV) once: the first record may be as long as the stream.
  const nonceTag = sha256(concatBytes(enc.encode('LnNonce'), signed[0]!.raw));
  const leafTag = tagHash('LnLeaf');
  const leaves = signed.map((r) => {
    const leaf = hashWith(leafTag, r.raw);
    const nonce = hashWith(nonceTag, r.typeBytes);
    return { leaf, nonce, node: branch(leaf, nonce) };
  });
  // Pair neighbours at distance 1, 2, 4, …: the lowest-order leaves end up deepest.
  let level = leaves.map((l) => l.node);
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? branch(level[i]!, level[i + 1]!) : level[i]!);
    level = next;
  }
  return { leaves, root: level[0]! };
}

/** The message BIP-340 signs: H("lightning" || messagename || fieldname, root). */
export function signatureMessage(messageName: string, fieldName: string, root: Uint8Array): Uint8Array {
  return hashWith(tagHash(`lightning${messageName}${fieldName}`), root);
}

/** Whether `sig` is `key`'s BIP-340 signature of the stream (`key` compressed; its x coordinate is used). */
export function verifyBolt12Signature(records: readonly TlvRecord[], messageName: string, sig: Uint8Array, key: Uint8Array): boolean {
  const msg = signatureMessage(messageName, 'signature', merkleTree(records).root);
  try {
    return schnorr.verify(sig, msg, key.subarray(1));
  } catch {
    return false;
  }
}
