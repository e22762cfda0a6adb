/**
 * Whether a wallet output's BIP-32 records make its script (src/lib/tx/wallet-output.ts;
 * issue 37 finding 7): each output type Core's wallet writes, made and not made. Every
 * expected script is built by test code — HASH160 and SHA-256 from node:crypto
 * (test/independent/base58check.ts), the BIP-341 tweak and TapLeaf/TapBranch hashes from
 * test/independent/keys.ts and node:crypto here — never by the product.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { derivationMakesScript, type MarkedOutput } from '../../../src/lib/tx/wallet-output.ts';
import { hash160, sha256 } from '../../independent/base58check.ts';
import { taprootOutput } from '../../independent/keys.ts';
import { publicKeyOf } from '../../independent/secp256k1.ts';

const secret = (b: number) => new Uint8Array(32).fill(b);
const K = publicKeyOf(secret(1));
const OTHER = publicKeyOf(secret(2));
const X = K.subarray(1);
const X2 = OTHER.subarray(1);
const DER = { fingerprint: 0x1c4aec8a, path: [0x80000056, 0x80000001, 0x80000000, 1, 7] };
const cat = (...p: Uint8Array[]) => Uint8Array.from(Buffer.concat(p));
const tagged = (tag: string, ...data: Uint8Array[]) => {
  const t = createHash('sha256').update(tag).digest();
  return Uint8Array.from(createHash('sha256').update(t).update(t).update(Buffer.concat(data)).digest());
};
const leafHash = (script: Uint8Array) => tagged('TapLeaf', Uint8Array.of(0xc0, script.length), script);
const branch = (a: Uint8Array, b: Uint8Array) => (Buffer.compare(a, b) <= 0 ? tagged('TapBranch', a, b) : tagged('TapBranch', b, a));

const p2wpkh = (k: Uint8Array) => cat(Uint8Array.of(0x00, 0x14), hash160(k));
const p2sh = (redeem: Uint8Array) => cat(Uint8Array.of(0xa9, 0x14), hash160(redeem), Uint8Array.of(0x87));
const p2pkh = (k: Uint8Array) => cat(Uint8Array.of(0x76, 0xa9, 0x14), hash160(k), Uint8Array.of(0x88, 0xac));
const multisig = (...keys: Uint8Array[]) => cat(Uint8Array.of(0x51), ...keys.map((k) => cat(Uint8Array.of(33), k)), Uint8Array.of(0x50 + keys.length, 0xae));
const ecdsa = (k: Uint8Array) => ({ bip32Derivation: [[k, DER]] as [Uint8Array, typeof DER][] });
const tapDer = (k: Uint8Array, hashes: Uint8Array[] = []) => ({ tapBip32Derivation: [[k, { hashes, der: DER }]] as [Uint8Array, { hashes: Uint8Array[]; der: typeof DER }][] });

// A two-leaf tree: <X2> OP_CHECKSIG, and an OP_TRUE leaf; its internal key X (no derivation for it).
const LEAF_A = cat(Uint8Array.of(0x20), X2, Uint8Array.of(0xac));
const LEAF_B = Uint8Array.of(0x51);
const TREE = [{ depth: 1, version: 0xc0, script: LEAF_A }, { depth: 1, version: 0xc0, script: LEAF_B }];
const TREE_OUTPUT = taprootOutput(X, branch(leafHash(LEAF_A), leafHash(LEAF_B))).script;

describe('a derivation record makes the output\'s script', () => {
  const made: [string, MarkedOutput][] = [
    ['P2WPKH of the derived key', { script: p2wpkh(K), ...ecdsa(K) }],
    ['P2SH-P2WPKH of the derived key', { script: p2sh(p2wpkh(K)), ...ecdsa(K) }],
    ['P2PKH of the derived key', { script: p2pkh(K), ...ecdsa(K) }],
    ['P2WSH multisig pushing the derived key, its witness script given', { script: cat(Uint8Array.of(0x00, 0x20), sha256(multisig(OTHER, K))), witnessScript: multisig(OTHER, K), ...ecdsa(K) }],
    ['P2SH multisig pushing the derived key, its redeem script given', { script: p2sh(multisig(K, OTHER)), redeemScript: multisig(K, OTHER), ...ecdsa(K) }],
    ['P2TR key path (BIP-86): the derived key is the internal key, tweaked with no tree', { script: taprootOutput(X).script, tapInternalKey: X, ...tapDer(X) }],
    ['P2TR key path, the internal key known only from the record with no leaf', { script: taprootOutput(X).script, ...tapDer(X) }],
    ['P2TR script path: the derived key is pushed by a leaf of the committed tree', { script: TREE_OUTPUT, tapInternalKey: X, tapTree: TREE, ...tapDer(X2, [leafHash(LEAF_A)]) }],
  ];
  it.each(made)('%s', (_, o) => expect(derivationMakesScript(o)).toBe(true));

  const notMade: [string, MarkedOutput][] = [
    ['a stranger\'s P2WPKH with the wallet\'s record', { script: p2wpkh(OTHER), ...ecdsa(K) }],
    ['a stranger\'s P2PKH with the wallet\'s record', { script: p2pkh(OTHER), ...ecdsa(K) }],
    ['a stranger\'s P2SH (no redeem script) with the wallet\'s record', { script: p2sh(p2wpkh(OTHER)), ...ecdsa(K) }],
    ['a P2WSH whose witness script is not the one committed', { script: cat(Uint8Array.of(0x00, 0x20), sha256(multisig(OTHER))), witnessScript: multisig(K), ...ecdsa(K) }],
    ['a P2WSH committing to a script without the derived key', { script: cat(Uint8Array.of(0x00, 0x20), sha256(multisig(OTHER))), witnessScript: multisig(OTHER), ...ecdsa(K) }],
    ['a stranger\'s P2TR with the wallet\'s internal-key record', { script: taprootOutput(X2).script, tapInternalKey: X, ...tapDer(X) }],
    ['a P2TR key-path record for another key than the internal one', { script: taprootOutput(X).script, tapInternalKey: X, ...tapDer(X2) }],
    ['a P2TR whose tree is not the committed one', { script: taprootOutput(X).script, tapInternalKey: X, tapTree: TREE, ...tapDer(X2, [leafHash(LEAF_A)]) }],
    ['a P2TR leaf record for a leaf that does not push the key', { script: TREE_OUTPUT, tapInternalKey: X, tapTree: TREE, ...tapDer(X2, [leafHash(LEAF_B)]) }],
    ['a P2TR record for a key (P2WPKH-style record on a taproot output)', { script: taprootOutput(X).script, ...ecdsa(K) }],
    ['no record at all', { script: p2wpkh(K) }],
    ['an output type no key makes (P2A)', { script: Uint8Array.of(0x51, 0x02, 0x4e, 0x73), ...ecdsa(K) }],
  ];
  it.each(notMade)('not made: %s', (_, o) => expect(derivationMakesScript(o)).toBe(false));
});
