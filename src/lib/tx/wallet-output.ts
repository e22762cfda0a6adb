/**
 * Whether a wallet PSBT output's BIP-32 derivation records make its script: the proof that
 * an output marked as the wallet's pays a key the wallet derived, not merely that a record
 * is present (issue 37 finding 7: a record with any key passed). What "makes" means, per
 * output type (BIP-174 / BIP-371 output fields, as Core's walletcreatefundedpsbt writes them):
 *
 *   P2WPKH        OP_0 <HASH160(K)>, K a derived compressed key
 *   P2SH-P2WPKH   P2SH of that P2WPKH program
 *   P2PKH         OP_DUP OP_HASH160 <HASH160(K)> OP_EQUALVERIFY OP_CHECKSIG
 *   P2WSH, P2SH   the output's witness (redeem) script hashes to the program, and pushes a derived key
 *   P2TR          OP_1 <Q>, Q the BIP-341 tweak of the internal key (PSBT_OUT_TAP_INTERNAL_KEY, or the
 *                 derived key recorded with no leaf) by the tree's Merkle root (PSBT_OUT_TAP_TREE), and
 *                 the derived key is that internal key, or is pushed by a leaf of that tree
 *
 * What it cannot prove: that the derived key is YOURS. Anyone who can edit the file can mark a
 * stranger's output with the stranger's own key; the file must come from your own wallet.
 */
import type { Transaction } from '@scure/btc-signer';
import { sha256 } from '@noble/hashes/sha2.js';
import { hash160 } from '@scure/btc-signer/utils.js';
import { concatBytes, equalBytes } from '../bytes.ts';
import { taprootOutput } from '../taproot/taproot.ts';
import { merkleRoot, tapLeafHash, type TapTree } from '../taproot/tree.ts';
import { standardScriptType } from './policy.ts';

type PsbtOutput = ReturnType<Transaction['getOutput']>;
export type MarkedOutput = Pick<PsbtOutput, 'bip32Derivation' | 'tapBip32Derivation' | 'tapInternalKey' | 'tapTree' | 'redeemScript' | 'witnessScript'> & { script: Uint8Array };

const p2wpkh = (k: Uint8Array) => concatBytes(Uint8Array.of(0x00, 0x14), hash160(k));
const p2sh = (redeem: Uint8Array) => concatBytes(Uint8Array.of(0xa9, 0x14), hash160(redeem), Uint8Array.of(0x87));
const p2pkh = (k: Uint8Array) => concatBytes(Uint8Array.of(0x76, 0xa9, 0x14), hash160(k), Uint8Array.of(0x88, 0xac));
const p2wsh = (ws: Uint8Array) => concatBytes(Uint8Array.of(0x00, 0x20), sha256(ws));

/** Whether `script` pushes exactly `key` (a push of its length, then its bytes). */
function pushes(script: Uint8Array, key: Uint8Array): boolean {
  for (let i = 0; i + 1 + key.length <= script.length; i++) {
    if (script[i] === key.length && equalBytes(script.subarray(i + 1, i + 1 + key.length), key)) return true;
  }
  return false;
}

/** PSBT_OUT_TAP_TREE's depth-first (depth, leaf version, script) list as the tree it describes. */
function treeOf(leaves: NonNullable<PsbtOutput['tapTree']>): TapTree | undefined {
  const stack: { depth: number; node: TapTree }[] = [];
  for (const l of leaves) {
    stack.push({ depth: l.depth, node: { script: l.script, leafVersion: l.version } });
    while (stack.length >= 2 && stack[stack.length - 1]!.depth === stack[stack.length - 2]!.depth && stack[stack.length - 1]!.depth > 0) {
      const right = stack.pop()!, left = stack.pop()!;
      stack.push({ depth: left.depth - 1, node: [left.node, right.node] });
    }
  }
  return stack.length === 1 && stack[0]!.depth === 0 ? stack[0]!.node : undefined;
}

function taprootMade(o: MarkedOutput): boolean {
  const tapKeys = o.tapBip32Derivation ?? [];
  const internal = o.tapInternalKey ?? tapKeys.find(([, d]) => d.hashes.length === 0)?.[0];
  if (!internal) return false;
  const tree = o.tapTree ? treeOf(o.tapTree) : undefined;
  if (o.tapTree && !tree) return false;
  let q: Uint8Array;
  try {
    q = taprootOutput(internal, tree ? merkleRoot(tree) : undefined).script;
  } catch {
    return false; // an internal key that is no point
  }
  if (!equalBytes(q, o.script)) return false;
  const leaves = (o.tapTree ?? []).map((l) => ({ script: l.script, hash: tapLeafHash(l.script, l.version) }));
  return tapKeys.some(([k, d]) => (d.hashes.length === 0 ? equalBytes(k, internal)
    : d.hashes.every((h) => leaves.some((l) => equalBytes(l.hash, h) && pushes(l.script, k)))));
}

/** Whether one of the output's derivation records makes its script (see the table above). */
export function derivationMakesScript(o: MarkedOutput): boolean {
  const keys = (o.bip32Derivation ?? []).map(([k]) => k);
  const type = standardScriptType(o.script);
  switch (type) {
    case 'p2wpkh':
      return keys.some((k) => k.length === 33 && equalBytes(p2wpkh(k), o.script));
    case 'p2pkh':
      return keys.some((k) => equalBytes(p2pkh(k), o.script));
    case 'p2wsh':
      return !!o.witnessScript && equalBytes(p2wsh(o.witnessScript), o.script) && keys.some((k) => pushes(o.witnessScript!, k));
    case 'p2sh': {
      if (keys.some((k) => k.length === 33 && equalBytes(p2sh(p2wpkh(k)), o.script))) return true;
      const redeem = o.redeemScript;
      if (!redeem || !equalBytes(p2sh(redeem), o.script)) return false;
      if (o.witnessScript && equalBytes(redeem, p2wsh(o.witnessScript))) return keys.some((k) => pushes(o.witnessScript!, k));
      return keys.some((k) => pushes(redeem, k));
    }
    case 'p2tr':
      return taprootMade(o);
    default:
      return false;
  }
}
