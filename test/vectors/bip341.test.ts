/**
 * BIP-341 wallet vectors (bip-0341/wallet-test-vectors.json) through our taproot code
 * (src/lib/taproot/, src/lib/keys/, src/lib/address.ts, src/lib/psbt/roles.ts):
 *
 * - `scriptPubKey`: our `leafHashes(scriptTree)` must give every `leafHashes` entry, our
 *   `merkleRoot(scriptTree)` the vector's `merkleRoot` (null when there is no tree);
 *   `taprootOutput(internalKey, our merkle root)` the tweak, output key, scriptPubKey and
 *   (via `scriptAddress`) the bech32m address; and `controlBlock(internalKey, tree, i)`
 *   every `scriptPathControlBlocks` entry byte for byte (leaves numbered depth-first, as
 *   the vectors' `id`s are).
 * - `keyPathSpending`: for every input, `keyPathSighash` with the input's hash type must
 *   equal `intermediary.sigHash`, `keyPair` the internal key, `tapTweak` the tweak,
 *   `tweakSecretKey` the tweaked key, and `schnorrSign` must reproduce the witness; our
 *   signatures, put into the transaction and extracted by our `extractTransaction`, must
 *   give `auxiliary.fullySignedTx` byte for byte (the P2PKH and P2WPKH inputs, which are
 *   not taproot, keep the vector's own scriptSig and witness).
 *
 * What the project has no function for, and so is not checked here against our code:
 * - the signature message: `keyPathSighash` returns only hash_TapSighash (src/lib/taproot/
 *   sighash.ts for SIGHASH_DEFAULT and SIGHASH_ALL — the vectors' inputs of those types check
 *   it —, @scure/btc-signer's `preimageWitnessV1` for the others), so there is no project `sigMsg`,
 *   hashPrevouts, hashAmounts, hashScriptPubkeys, hashSequences or hashOutputs to
 *   compare. The independent verifier's own BIP-341 code (test/independent/sighash.ts) is
 *   checked against every one of them in test/independent/independent.test.ts.
 *
 * Aux rand: neither `given` nor `auxiliary` carries one (auxiliary only has the fully
 * signed transaction). The signatures reproduce with aux_rand = 32 zero bytes, which is
 * what these tests use; each witness is also checked with `schnorrVerify` against the
 * output key, which does not depend on that choice.
 */
import { describe, it, expect } from 'vitest';
import { Transaction } from '@scure/btc-signer';
import { loadVector } from '../helpers.ts';
import { keyPathSighash, taprootOutput, tapTweak, tweakSecretKey, SIGHASH_DEFAULT } from '../../src/lib/taproot/taproot.ts';
import { controlBlock, leafHashes, merkleRoot, type TapTree } from '../../src/lib/taproot/tree.ts';
import { schnorrSign, schnorrVerify } from '../../src/lib/taproot/schnorr.ts';
import { keyPair } from '../../src/lib/keys/keys.ts';
import { scriptAddress } from '../../src/lib/address.ts';
import { extractTransaction } from '../../src/lib/psbt/roles.ts';
import { concatBytes, fromHex, toHex } from '../../src/lib/bytes.ts';
import { parseTx } from '../independent/tx.ts';

type VectorLeaf = { id: number; script: string; leafVersion: number };
type VectorTree = VectorLeaf | [VectorTree, VectorTree];
type ScriptPubKeyCase = {
  given: { internalPubkey: string; scriptTree: VectorTree | null };
  intermediary: { merkleRoot: string | null; tweak: string; tweakedPubkey: string; leafHashes?: string[] };
  expected: { scriptPubKey: string; bip350Address: string; scriptPathControlBlocks?: string[] };
};
type InputSpending = {
  given: { txinIndex: number; internalPrivkey: string; merkleRoot: string | null; hashType: number };
  intermediary: { internalPubkey: string; tweak: string; tweakedPrivkey: string; sigMsg: string; sigHash: string };
  expected: { witness: string[] };
};
type KeyPathSpending = {
  given: { rawUnsignedTx: string; utxosSpent: { scriptPubKey: string; amountSats: number }[] };
  inputSpending: InputSpending[];
  auxiliary: { fullySignedTx: string };
};
type WalletVectors = { version: number; scriptPubKey: ScriptPubKeyCase[]; keyPathSpending: KeyPathSpending[] };

const v = loadVector<WalletVectors>('bips/bip-0341/wallet-test-vectors.json');
const ZERO_AUX = new Uint8Array(32);

/** The vector's transaction with every input's spent output attached as witness_utxo. */
function unsignedTx(spend: KeyPathSpending): Transaction {
  const tx = Transaction.fromRaw(fromHex(spend.given.rawUnsignedTx), {
    // The vector spends P2PKH and P2WPKH inputs too and pays to a non-standard script.
    allowUnknownOutputs: true,
    allowUnknownInputs: true,
    disableScriptCheck: true,
  });
  expect(tx.inputsLength).toBe(spend.given.utxosSpent.length);
  spend.given.utxosSpent.forEach((u, i) =>
    tx.updateInput(i, { witnessUtxo: { script: fromHex(u.scriptPubKey), amount: BigInt(u.amountSats) } }, true),
  );
  return tx;
}

/** The vector's `scriptTree` as our tree type: hex scripts become bytes, `id` is dropped. */
function tapTree(t: VectorTree): TapTree {
  return Array.isArray(t) ? [tapTree(t[0]), tapTree(t[1])] : { script: fromHex(t.script), leafVersion: t.leafVersion };
}

/** The vector's leaf ids, depth-first, left to right. */
function leafIds(t: VectorTree): number[] {
  return Array.isArray(t) ? [...leafIds(t[0]), ...leafIds(t[1])] : [t.id];
}

/** BIP-341: a 64-byte signature means SIGHASH_DEFAULT; any other type is appended. */
function witnessSignature(sig: Uint8Array, hashType: number): Uint8Array {
  return hashType === SIGHASH_DEFAULT ? sig : concatBytes(sig, new Uint8Array([hashType]));
}

describe('BIP-341 wallet vectors', () => {
  it('example: key-path output with no script tree (scriptPubKey case 0)', () => {
    // With no scripts the tweak is hash_TapTweak(P) alone; Q = P + t·G; the output is
    // OP_1 <x(Q)>, bech32m-encoded on mainnet.
    const c = v.scriptPubKey[0]!;
    expect(c.given.scriptTree).toBeNull();
    const internalKey = fromHex(c.given.internalPubkey);
    expect(toHex(tapTweak(internalKey))).toBe(c.intermediary.tweak);
    const out = taprootOutput(internalKey);
    expect(toHex(out.outputKey)).toBe(c.intermediary.tweakedPubkey);
    expect(toHex(out.script)).toBe(c.expected.scriptPubKey);
    expect(scriptAddress(out.script, 'mainnet')).toBe(c.expected.bip350Address);
  });

  it('has the expected shape (version 1, 7 scriptPubKey cases, 1 key-path spend of 7 inputs)', () => {
    expect(v.version).toBe(1);
    expect(v.scriptPubKey).toHaveLength(7);
    expect(v.keyPathSpending).toHaveLength(1);
    expect(v.keyPathSpending[0]!.inputSpending).toHaveLength(7);
  });

  it('example: a two-leaf tree (scriptPubKey case 3), leaf hashes to control blocks', () => {
    // Each leaf hashes as TapLeaf(leaf version || compact_size(len) || script); two
    // leaves join as TapBranch(smaller hash || larger hash), which is the Merkle root.
    // A leaf's control block is (leaf version | parity of Q) || P || its sibling's hash.
    const c = v.scriptPubKey[3]!;
    const tree = tapTree(c.given.scriptTree!);
    expect(leafHashes(tree).map(toHex)).toEqual(c.intermediary.leafHashes);
    expect(toHex(merkleRoot(tree))).toBe(c.intermediary.merkleRoot);
    const internalKey = fromHex(c.given.internalPubkey);
    expect(toHex(controlBlock(internalKey, tree, 0))).toBe(c.expected.scriptPathControlBlocks![0]);
    // Leaf 1 has leaf version 0xfa, not tapscript's 0xc0; here it is named by value.
    const [, second] = c.given.scriptTree as [VectorLeaf, VectorLeaf];
    expect(second.leafVersion).toBe(0xfa);
    const leaf1 = { script: fromHex(second.script), leafVersion: second.leafVersion };
    expect(toHex(controlBlock(internalKey, tree, leaf1))).toBe(c.expected.scriptPathControlBlocks![1]);
  });

  describe('scriptPubKey', () => {
    it('has script trees to check (6 of the 7 cases, 12 leaves in all)', () => {
      const trees = v.scriptPubKey.filter((c) => c.given.scriptTree !== null);
      expect(trees).toHaveLength(6);
      expect(trees.flatMap((c) => c.expected.scriptPathControlBlocks ?? [])).toHaveLength(12);
    });

    v.scriptPubKey.forEach((c, i) => {
      const what = c.given.scriptTree === null ? 'no script tree' : `${leafIds(c.given.scriptTree).length}-leaf script tree`;
      it(`case ${i} (${what}): leaf hashes, merkle root, tweak, output key, scriptPubKey, address, control blocks`, () => {
        const internalKey = fromHex(c.given.internalPubkey);
        const tree = c.given.scriptTree === null ? undefined : tapTree(c.given.scriptTree);
        const root = tree === undefined ? undefined : merkleRoot(tree);
        expect(root === undefined ? null : toHex(root)).toBe(c.intermediary.merkleRoot);

        const out = taprootOutput(internalKey, root);
        expect(toHex(out.tweak)).toBe(c.intermediary.tweak);
        expect(toHex(out.outputKey)).toBe(c.intermediary.tweakedPubkey);
        expect(toHex(out.script)).toBe(c.expected.scriptPubKey);
        expect(scriptAddress(out.script, 'mainnet')).toBe(c.expected.bip350Address);

        if (c.given.scriptTree === null || tree === undefined) {
          expect(c.intermediary.leafHashes).toBeUndefined();
          expect(c.expected.scriptPathControlBlocks).toBeUndefined();
          return;
        }
        // Our depth-first leaf order is the vectors' id order, so index i is leaf id i.
        const ids = leafIds(c.given.scriptTree);
        expect(ids).toEqual(ids.map((_, k) => k));
        expect(leafHashes(tree).map(toHex)).toEqual(c.intermediary.leafHashes);
        expect(c.expected.scriptPathControlBlocks).toHaveLength(ids.length);
        expect(ids.map((id) => toHex(controlBlock(internalKey, tree, id)))).toEqual(c.expected.scriptPathControlBlocks);
      });
    });
  });

  describe('keyPathSpending', () => {
    v.keyPathSpending.forEach((spend, s) => {
      for (const input of spend.inputSpending) {
        const { txinIndex, hashType } = input.given;
        it(`spend ${s} input ${txinIndex} (hashType 0x${hashType.toString(16).padStart(2, '0')}): sighash, tweaked key, witness`, () => {
          const tx = unsignedTx(spend);
          const sighash = keyPathSighash(tx, txinIndex, hashType);
          expect(toHex(sighash)).toBe(input.intermediary.sigHash);

          const internalPrivkey = fromHex(input.given.internalPrivkey);
          const merkleRoot = input.given.merkleRoot === null ? undefined : fromHex(input.given.merkleRoot);
          const internalKey = keyPair(internalPrivkey).xOnly;
          expect(toHex(internalKey)).toBe(input.intermediary.internalPubkey);
          expect(toHex(tapTweak(internalKey, merkleRoot))).toBe(input.intermediary.tweak);
          const tweaked = tweakSecretKey(internalPrivkey, merkleRoot);
          expect(toHex(tweaked)).toBe(input.intermediary.tweakedPrivkey);

          // The tweaked key signs for the output key the input actually spends.
          const outputKey = taprootOutput(internalKey, merkleRoot).outputKey;
          expect(toHex(tx.getInput(txinIndex).witnessUtxo!.script)).toBe('5120' + toHex(outputKey));

          const sig = schnorrSign(sighash, tweaked, ZERO_AUX);
          expect(schnorrVerify(sig, sighash, outputKey)).toBe(true);
          expect(input.expected.witness).toHaveLength(1);
          expect(toHex(witnessSignature(sig, hashType))).toBe(input.expected.witness[0]);
        });
      }

      it(`spend ${s}: our signatures, extracted by our Extractor, give auxiliary.fullySignedTx byte for byte`, () => {
        const tx = unsignedTx(spend);
        const ours = new Set(spend.inputSpending.map((input) => input.given.txinIndex));
        for (const input of spend.inputSpending) {
          const { txinIndex, hashType, internalPrivkey, merkleRoot } = input.given;
          const tweaked = tweakSecretKey(fromHex(internalPrivkey), merkleRoot === null ? undefined : fromHex(merkleRoot));
          const sig = schnorrSign(keyPathSighash(tx, txinIndex, hashType), tweaked, ZERO_AUX);
          tx.updateInput(txinIndex, { finalScriptWitness: [witnessSignature(sig, hashType)] }, true);
        }
        // The inputs that are not taproot key-path spends are not ours to sign: the vector's own.
        const signed = parseTx(spend.auxiliary.fullySignedTx);
        const others = signed.inputs.map((input, i) => ({ input, i })).filter(({ i }) => !ours.has(i));
        expect(others.map(({ i }) => i)).toEqual([2, 5]); // P2PKH (scriptSig), P2WPKH (witness)
        for (const { input, i } of others) {
          tx.updateInput(i, input.scriptSig.length ? { finalScriptSig: input.scriptSig } : { finalScriptWitness: input.witness }, true);
        }
        const extracted = extractTransaction(tx);
        expect(toHex(extracted.hex)).toBe(spend.auxiliary.fullySignedTx);
        expect(extracted.txid).toBe(signed.txid);
        expect(extracted.wtxid).toBe(signed.wtxid);
        expect(extracted.vsize).toBe(signed.vsize);
      });
    });
  });
});
