/**
 * src/lib/taproot/tree.ts: BIP-341 script trees. The wallet vectors check fixed trees
 * byte for byte (test/vectors/bip341.test.ts); here random trees check the invariants:
 *
 * - every leaf's control block spends from the output key: folding its Merkle path back
 *   up, as BIP-341's script validation rules write it, gives Q and its parity bit;
 * - a TapBranch does not depend on the order of its children;
 * - a leaf hash is tagged_hash("TapLeaf", v || compact_size(len) || script) at every
 *   CompactSize width, which the vectors' short scripts never leave.
 *
 * The fold, the tagged hashes and the curve arithmetic are test code
 * (test/independent/secp256k1.ts, tx.ts), not the tree functions under test.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { G, int, liftX, pointAdd, pointMul, taggedHash, hasEvenY, xOnly, N } from '../../independent/secp256k1.ts';
import { compactSize } from '../../independent/tx.ts';
import {
  controlBlock, leafHashes, merkleRoot, tapBranchHash, tapLeafHash, TAPSCRIPT_LEAF_VERSION, type TapLeaf, type TapTree,
} from '../../../src/lib/taproot/tree.ts';
import { taprootOutput } from '../../../src/lib/taproot/taproot.ts';
import { toHex } from '../../../src/lib/bytes.ts';
import { refusal } from '../../setup/refusal.ts';

/**
 * BIP-341 script validation, given the output key q, script s and control block c:
 * p = c[1:33], P = lift_x(p), v = c[0] & 0xfe, k0 = hash_TapLeaf(v || compact_size(|s|) || s),
 * k(j+1) = hash_TapBranch(min(kj, ej) || max(kj, ej)) over the 32-byte path nodes ej,
 * t = hash_TapTweak(p || km), Q = P + t·G; valid when q = x(Q) and c[0] & 1 = y(Q) mod 2.
 */
function spendsFrom(q: Uint8Array, script: Uint8Array, c: Uint8Array): boolean {
  const m = (c.length - 33) / 32;
  if (c.length < 33 || !Number.isInteger(m) || m > 128) return false;
  const p = c.subarray(1, 33);
  const P = liftX(int(p));
  if (P === null) return false;
  let k = taggedHash('TapLeaf', Uint8Array.of(c[0]! & 0xfe), compactSize(script.length), script);
  for (let j = 0; j < m; j++) {
    const e = c.subarray(33 + 32 * j, 65 + 32 * j);
    k = Buffer.compare(k, e) < 0 ? taggedHash('TapBranch', k, e) : taggedHash('TapBranch', e, k);
  }
  const t = int(taggedHash('TapTweak', p, k));
  if (t >= N) return false;
  const Q = pointAdd(P, pointMul(G, t));
  if (Q === null) return false;
  return toHex(xOnly(Q)) === toHex(q) && (c[0]! & 1) === (hasEvenY(Q) ? 0 : 1);
}

/** The tree's leaves depth-first, left to right (the numbering controlBlock uses). */
function leavesOf(tree: TapTree): TapLeaf[] {
  return Array.isArray(tree) ? [...leavesOf(tree[0]), ...leavesOf(tree[1])] : [tree as TapLeaf];
}

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const xOnlyKey = bytes32.filter((b) => liftX(int(b)) !== null);
/** Even leaf versions other than 0x50 (which would read as an annex), tapscript most often. */
const leafVersion = fc.oneof(
  { arbitrary: fc.constant(TAPSCRIPT_LEAF_VERSION), weight: 3 },
  { arbitrary: fc.integer({ min: 0, max: 0x7f }).map((n) => 2 * n).filter((v) => v !== 0x50), weight: 1 },
);
const leaf: fc.Arbitrary<TapLeaf> = fc.record({ script: fc.uint8Array({ maxLength: 80 }), leafVersion });
/** Random shapes: about a quarter single leaves, the rest up to a dozen leaves, 6 deep. */
const tree = fc.letrec<{ tree: TapTree; pair: TapTree }>((tie) => ({
  tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, { arbitrary: leaf, weight: 1 }, { arbitrary: tie('pair'), weight: 3 }),
  pair: fc.tuple(tie('tree'), tie('tree')),
})).tree;

/** A chain [[[leaf, x], x], …] whose deepest leaf (index 0) is `depth` below the root. */
function chain(depth: number): TapTree {
  let t: TapTree = { script: Uint8Array.of(0x51), leafVersion: TAPSCRIPT_LEAF_VERSION };
  for (let d = 0; d < depth; d++) t = [t, { script: Uint8Array.of(0x52, d & 0xff, d >> 8), leafVersion: TAPSCRIPT_LEAF_VERSION }];
  return t;
}

describe('taproot script trees', () => {
  it("every leaf's control block spends from the output key (the path folds back to Q and its parity)", () => {
    fc.assert(
      fc.property(xOnlyKey, tree, (internalKey, t) => {
        const q = taprootOutput(internalKey, merkleRoot(t)).outputKey;
        const leaves = leavesOf(t);
        leaves.forEach((l, i) => {
          const c = controlBlock(internalKey, t, i);
          expect(c[0]! & 0xfe).toBe(l.leafVersion);
          expect(toHex(c.subarray(1, 33))).toBe(toHex(internalKey));
          expect(spendsFrom(q, l.script, c)).toBe(true);
          // Named by value, a leaf gets the block of the first leaf equal to it.
          const first = leaves.findIndex((o) => o.leafVersion === l.leafVersion && toHex(o.script) === toHex(l.script));
          expect(toHex(controlBlock(internalKey, t, l))).toBe(toHex(controlBlock(internalKey, t, first)));
          // And the block commits to its own leaf: one more byte of script and it fails.
          expect(spendsFrom(q, Uint8Array.from([...l.script, 0x00]), c)).toBe(false);
        });
      }),
      { numRuns: 100 },
    );
  });

  it('a TapBranch is symmetric: hash(a, b) = hash(b, a) = tagged_hash("TapBranch", min || max)', () => {
    fc.assert(
      fc.property(bytes32, bytes32, (a, b) => {
        const ab = toHex(tapBranchHash(a, b));
        expect(toHex(tapBranchHash(b, a))).toBe(ab);
        const [lo, hi] = Buffer.compare(a, b) <= 0 ? [a, b] : [b, a];
        expect(ab).toBe(toHex(taggedHash('TapBranch', lo, hi)));
      }),
      { numRuns: 500 },
    );
  });

  it('swapping the children of any branch leaves the Merkle root unchanged', () => {
    const mirror = (t: TapTree): TapTree => (Array.isArray(t) ? [mirror(t[1]), mirror(t[0])] : t);
    fc.assert(
      fc.property(tree, (t) => {
        expect(toHex(merkleRoot(mirror(t)))).toBe(toHex(merkleRoot(t)));
      }),
      { numRuns: 200 },
    );
  });

  it('a leaf hash is tagged_hash("TapLeaf", v || compact_size(len) || script), across the 0xfd length boundary', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0xf0, maxLength: 0x110 }), leafVersion, (script, v) => {
        const expected = taggedHash('TapLeaf', Uint8Array.of(v), compactSize(script.length), script);
        expect(toHex(tapLeafHash(script, v))).toBe(toHex(expected));
      }),
      { numRuns: 200 },
    );
    // A script of 65,536 bytes takes the 5-byte CompactSize 0xfe 00 00 01 00.
    const big = new Uint8Array(0x10000).fill(0x61);
    expect(toHex(compactSize(big.length))).toBe('fe00000100');
    expect(toHex(tapLeafHash(big))).toBe(toHex(taggedHash('TapLeaf', Uint8Array.of(0xc0), compactSize(big.length), big)));
  });

  it('leafHashes numbers leaves depth-first, left to right', () => {
    fc.assert(
      fc.property(tree, (t) => {
        const expected = leavesOf(t).map((l) => toHex(taggedHash('TapLeaf', Uint8Array.of(l.leafVersion), compactSize(l.script.length), l.script)));
        expect(leafHashes(t).map(toHex)).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('a leaf 128 deep still spends; 129 deep is refused (BIP-341 path limit)', () => {
    const internalKey = xOnly(pointMul(G, 7n));
    const deepest = chain(128);
    const c = controlBlock(internalKey, deepest, 0);
    expect(c.length).toBe(33 + 32 * 128);
    expect(spendsFrom(taprootOutput(internalKey, merkleRoot(deepest)).outputKey, Uint8Array.of(0x51), c)).toBe(true);
    refusal(() => controlBlock(internalKey, chain(129), 0), 'E_TREE_TOO_DEEP', 4);
  });

  it('refuses a leaf version that is odd, above 0xfe or 0x50 (the annex tag)', () => {
    for (const v of [0xc1, 0x01, 0x100, -2, 0x50]) refusal(() => tapLeafHash(Uint8Array.of(0x51), v), 'E_BAD_LEAF_VERSION', 3);
    refusal(() => merkleRoot([{ script: Uint8Array.of(0x51), leafVersion: 0xc1 }, { script: Uint8Array.of(0x52), leafVersion: 0xc0 }]), 'E_BAD_LEAF_VERSION', 3);
  });

  it('refuses a control block for a leaf that is not in the tree', () => {
    const internalKey = xOnly(pointMul(G, 7n));
    const t: TapTree = [{ script: Uint8Array.of(0x51), leafVersion: 0xc0 }, { script: Uint8Array.of(0x52), leafVersion: 0xc0 }];
    for (const i of [2, -1, 0.5]) refusal(() => controlBlock(internalKey, t, i), 'E_LEAF_NOT_IN_TREE', 4);
    refusal(() => controlBlock(internalKey, t, { script: Uint8Array.of(0x51), leafVersion: 0xc2 }), 'E_LEAF_NOT_IN_TREE', 4);
  });

  it('refuses TapBranch children that are not 32-byte hashes', () => {
    refusal(() => tapBranchHash(new Uint8Array(31), new Uint8Array(32)), 'E_BAD_LENGTH', 3);
  });
});
