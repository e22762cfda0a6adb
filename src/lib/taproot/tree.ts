/**
 * BIP-341 script trees ("Constructing and spending Taproot outputs", script validation
 * rules): the leaf hash of each script, the branch hash of two children in lexicographic
 * order, the Merkle root that `taprootOutput` tweaks the internal key with, and the
 * control block that proves one leaf is committed to by the output key:
 *
 *   (leaf version | parity of Q) || internal key P || Merkle path, nearest sibling first.
 *
 * A tree is shaped as the BIP-341 wallet vectors write `scriptTree`: a leaf
 * `{ script, leafVersion }` or a pair `[left, right]`. Leaves are numbered depth-first,
 * left to right, as the vectors' `leafHashes` and `scriptPathControlBlocks` are.
 *
 * Deliberately absent: choosing a tree shape (Huffman by spend probability), the
 * scripts themselves, and signing or executing a script-path spend.
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { compareBytes, concatBytes, equalBytes } from '../bytes.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { taprootOutput } from './taproot.ts';

/** BIP-342 tapscript, the only leaf version with defined semantics today. */
export const TAPSCRIPT_LEAF_VERSION = 0xc0;
/** BIP-341: a control block carries at most 128 path nodes, so no leaf is deeper. */
export const TAPROOT_CONTROL_MAX_NODE_COUNT = 128;

export type TapLeaf = { script: Uint8Array; leafVersion: number };
export type TapTree = TapLeaf | readonly [TapTree, TapTree];

/** tagged_hash("TapLeaf", leaf_version || compact_size(len(script)) || script). */
export function tapLeafHash(script: Uint8Array, leafVersion = TAPSCRIPT_LEAF_VERSION): Uint8Array {
  checkLeafVersion(leafVersion);
  return schnorr.utils.taggedHash('TapLeaf', concatBytes(new Uint8Array([leafVersion]), compactSize(script.length), script));
}

/** tagged_hash("TapBranch", min(a, b) || max(a, b)): a node does not record which child is left. */
export function tapBranchHash(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length !== 32 || b.length !== 32) throw new MalformedInputError('E_BAD_LENGTH', 'a TapBranch child must be a 32-byte hash');
  return schnorr.utils.taggedHash('TapBranch', compareBytes(a, b) <= 0 ? concatBytes(a, b) : concatBytes(b, a));
}

/** The root hash the output key commits to (the `merkle_root` of taproot_tweak_pubkey). */
export function merkleRoot(tree: TapTree): Uint8Array {
  return walk(tree).hash;
}

/** Every leaf's TapLeaf hash, depth-first, left to right. */
export function leafHashes(tree: TapTree): Uint8Array[] {
  return walk(tree).leaves.map((leaf) => leaf.hash);
}

/**
 * The control block that spends `leaf` (its depth-first index, or a leaf equal to one in
 * the tree) from the output built on `internalKey` and this tree.
 */
export function controlBlock(internalKey: Uint8Array, tree: TapTree, leaf: number | TapLeaf): Uint8Array {
  const { hash: root, leaves } = walk(tree);
  const index = typeof leaf === 'number' ? leaf : leaves.findIndex((l) => sameLeaf(l.leaf, leaf));
  const found = leaves[index];
  if (found === undefined) {
    const which = typeof leaf === 'number' ? `leaf ${leaf}` : 'the leaf';
    throw new RefusedError('E_LEAF_NOT_IN_TREE', `${which} is not in the script tree (${leaves.length} leaves)`);
  }
  if (found.path.length > TAPROOT_CONTROL_MAX_NODE_COUNT) {
    throw new RefusedError('E_TREE_TOO_DEEP', `leaf ${index} is ${found.path.length} deep; BIP-341 allows at most ${TAPROOT_CONTROL_MAX_NODE_COUNT}`);
  }
  const { parity } = taprootOutput(internalKey, root);
  return concatBytes(new Uint8Array([found.leaf.leafVersion | parity]), internalKey, ...found.path);
}

type WalkedLeaf = { leaf: TapLeaf; hash: Uint8Array; path: Uint8Array[] };

/**
 * One pass over the tree: the node's hash and, for each leaf below it, its Merkle path
 * up to this node. A sibling subtree's hash is appended as we climb, so paths end up
 * nearest sibling first, the order BIP-341 folds them in.
 */
function walk(tree: TapTree): { hash: Uint8Array; leaves: WalkedLeaf[] } {
  if (!isPair(tree)) {
    const hash = tapLeafHash(tree.script, tree.leafVersion);
    return { hash, leaves: [{ leaf: tree, hash, path: [] }] };
  }
  const left = walk(tree[0]);
  const right = walk(tree[1]);
  return {
    hash: tapBranchHash(left.hash, right.hash),
    leaves: [
      ...left.leaves.map((l) => ({ ...l, path: [...l.path, right.hash] })),
      ...right.leaves.map((l) => ({ ...l, path: [...l.path, left.hash] })),
    ],
  };
}

function isPair(tree: TapTree): tree is readonly [TapTree, TapTree] {
  return Array.isArray(tree);
}

function sameLeaf(a: TapLeaf, b: TapLeaf): boolean {
  return a.leafVersion === b.leafVersion && equalBytes(a.script, b.script);
}

/**
 * The leaf version sits in the control block's first byte beside the parity bit, so it
 * must be even; 0x50 is refused because it would read as an annex (BIP-341 footnote).
 */
function checkLeafVersion(leafVersion: number): void {
  if (!Number.isInteger(leafVersion) || leafVersion < 0 || leafVersion > 0xfe || leafVersion % 2 !== 0 || leafVersion === 0x50) {
    throw new MalformedInputError('E_BAD_LEAF_VERSION', `leaf version ${leafVersion} is not an even byte other than 0x50`);
  }
}

/** Bitcoin's CompactSize length prefix (a script's length fits 1, 3 or 5 bytes). */
function compactSize(n: number): Uint8Array {
  if (n < 0xfd) return new Uint8Array([n]);
  if (n <= 0xffff) return new Uint8Array([0xfd, n & 0xff, n >>> 8]);
  return new Uint8Array([0xfe, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]);
}
