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
const tagHashes = new Map<string, Uint8Array>();
/** BIP-340's H(tag, msg) = SHA256(SHA256(tag) || SHA256(tag) || msg); `tag` as bytes. */
export function taggedHash(tag: Uint8Array, msg: Uint8Array): Uint8Array {
  const key = String.fromCharCode(...tag);
  let th = tagHashes.get(key);
  if (!th) {
    th = sha256(tag);
    if (tagHashes.size < 64) tagHashes.set(key, th);
  }
  return sha256(concatBytes(th, th, msg));
}

export function branch(a: Uint8Array, b: Uint8Array): Uint8Array {
  return compareBytes(a, b) <= 0 ? taggedHash(enc.encode('LnBranch'), concatBytes(a, b)) : taggedHash(enc.encode('LnBranch'), concatBytes(b, a));
}

/** Signature TLV elements are types 240 through 1000 inclusive. */
export const isSignatureType = (type: bigint): boolean => type >= 240n && type <= 1000n;

export type MerkleLeaf = { leaf: Uint8Array; nonce: Uint8Array; node: Uint8Array };

/** Leaves (in TLV order) and root of the records that are not signature elements. */
export function merkleTree(records: readonly TlvRecord[]): { leaves: MerkleLeaf[]; root: Uint8Array } {
  const signed = records.filter((r) => !isSignatureType(r.type));
  if (signed.length === 0) throw new RangeError('no TLV records to sign');
  const nonceTag = concatBytes(enc.encode('LnNonce'), signed[0]!.raw);
  const leaves = signed.map((r) => {
    const leaf = taggedHash(enc.encode('LnLeaf'), r.raw);
    const nonce = taggedHash(nonceTag, r.typeBytes);
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
  return taggedHash(enc.encode(`lightning${messageName}${fieldName}`), root);
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
