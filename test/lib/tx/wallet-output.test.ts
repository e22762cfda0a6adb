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

const THIRD = publicKeyOf(secret(3));
const X3 = THIRD.subarray(1);
const STRANGER = publicKeyOf(secret(9)); // nobody's record: the key of whoever the output would pay
const XS = STRANGER.subarray(1);
/** BIP-341's NUMS point H (lift_x of SHA-256 of G's uncompressed encoding): an internal key nobody can spend with. */
const NUMS = Uint8Array.from(Buffer.from('50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0', 'hex'));

// Tapscript leaves: pk(X2) and pk(X3), multi_a(2, X2, X3), an OP_TRUE leaf, a stranger's pk.
const pkLeaf = (x: Uint8Array) => cat(Uint8Array.of(0x20), x, Uint8Array.of(0xac));
const LEAF_A = pkLeaf(X2);
const LEAF_C = pkLeaf(X3);
const MULTI_A = cat(Uint8Array.of(0x20), X2, Uint8Array.of(0xac, 0x20), X3, Uint8Array.of(0xba, 0x52, 0x9c));
const LEAF_TRUE = Uint8Array.of(0x51);
const LEAF_STRANGER = pkLeaf(XS);
const two = (a: Uint8Array<ArrayBuffer>, b: Uint8Array<ArrayBuffer>) => [{ depth: 1, version: 0xc0, script: a }, { depth: 1, version: 0xc0, script: b }];
const TREE = two(LEAF_A, LEAF_C);
const TREE_OUTPUT = taprootOutput(X, branch(leafHash(LEAF_A), leafHash(LEAF_C))).script;
/** Several tap records at once. */
const taps = (...recs: [Uint8Array, Uint8Array[]][]) => ({ tapBip32Derivation: recs.map(([k, hashes]) => [k, { hashes, der: DER }]) as [Uint8Array, { hashes: Uint8Array[]; der: typeof DER }][] });
const ecdsas = (...keys: Uint8Array[]) => ({ bip32Derivation: keys.map((k) => [k, DER]) as [Uint8Array, typeof DER][] });
const p2wsh = (ws: Uint8Array) => cat(Uint8Array.of(0x00, 0x20), sha256(ws));
const multi = (m: number, ...keys: Uint8Array[]) => cat(Uint8Array.of(0x50 + m), ...keys.map((k) => cat(Uint8Array.of(k.length), k)), Uint8Array.of(0x50 + keys.length, 0xae));
const pk = (k: Uint8Array) => cat(Uint8Array.of(k.length), k, Uint8Array.of(0xac));

describe('a derivation record makes the output\'s script', () => {
  const made: [string, MarkedOutput][] = [
    ['P2WPKH of the derived key', { script: p2wpkh(K), ...ecdsa(K) }],
    ['P2SH-P2WPKH of the derived key', { script: p2sh(p2wpkh(K)), ...ecdsa(K) }],
    ['P2PKH of the derived key', { script: p2pkh(K), ...ecdsa(K) }],
    ['P2WSH pk() of the derived key', { script: p2wsh(pk(K)), witnessScript: pk(K), ...ecdsa(K) }],
    ['P2WSH multi(1, …) whose every key is derived (Core\'s multisig wallet records them all)', { script: p2wsh(multisig(OTHER, K)), witnessScript: multisig(OTHER, K), ...ecdsas(K, OTHER) }],
    ['P2SH multi(2, …) whose every key is derived', { script: p2sh(multi(2, K, OTHER)), redeemScript: multi(2, K, OTHER), ...ecdsas(K, OTHER) }],
    ['P2SH-P2WSH multi(2, …) whose every key is derived', { script: p2sh(p2wsh(multi(2, K, OTHER, THIRD))), redeemScript: p2wsh(multi(2, K, OTHER, THIRD)), witnessScript: multi(2, K, OTHER, THIRD), ...ecdsas(THIRD, K, OTHER) }],
    ['P2TR key path (BIP-86): the derived key is the internal key, tweaked with no tree', { script: taprootOutput(X).script, tapInternalKey: X, ...tapDer(X) }],
    ['P2TR key path, the internal key known only from the record with no leaf', { script: taprootOutput(X).script, ...tapDer(X) }],
    ['P2TR tr(K, {pk(A), pk(B)}): a derived internal key, each leaf\'s key derived for that leaf', { script: TREE_OUTPUT, tapInternalKey: X, tapTree: TREE, ...taps([X, []], [X2, [leafHash(LEAF_A)]], [X3, [leafHash(LEAF_C)]]) }],
    ['P2TR tr(NUMS, multi_a(2, A, B)): the unspendable internal key, every key of the leaf derived', { script: taprootOutput(NUMS, leafHash(MULTI_A)).script, tapInternalKey: NUMS, tapTree: [{ depth: 0, version: 0xc0, script: MULTI_A }], ...taps([X2, [leafHash(MULTI_A)]], [X3, [leafHash(MULTI_A)]]) }],
  ];
  it.each(made)('%s', (_, o) => expect(derivationMakesScript(o)).toBe(true));

  const notMade: [string, MarkedOutput][] = [
    ['a stranger\'s P2WPKH with the wallet\'s record', { script: p2wpkh(OTHER), ...ecdsa(K) }],
    ['a stranger\'s P2PKH with the wallet\'s record', { script: p2pkh(OTHER), ...ecdsa(K) }],
    ['a stranger\'s P2SH (no redeem script) with the wallet\'s record', { script: p2sh(p2wpkh(OTHER)), ...ecdsa(K) }],
    ['a P2WSH whose witness script is not the one committed', { script: p2wsh(multisig(OTHER)), witnessScript: multisig(K), ...ecdsa(K) }],
    ['a P2WSH committing to a script without the derived key', { script: p2wsh(multisig(OTHER)), witnessScript: multisig(OTHER), ...ecdsa(K) }],
    ['a stranger\'s P2TR with the wallet\'s internal-key record', { script: taprootOutput(X2).script, tapInternalKey: X, ...tapDer(X) }],
    ['a P2TR key-path record for another key than the internal one', { script: taprootOutput(X).script, tapInternalKey: X, ...tapDer(X2) }],
    ['a P2TR whose tree is not the committed one', { script: taprootOutput(X).script, tapInternalKey: X, tapTree: TREE, ...tapDer(X2, [leafHash(LEAF_A)]) }],
    ['a P2TR leaf record for a leaf that does not push the key', { script: TREE_OUTPUT, tapInternalKey: X, tapTree: TREE, ...tapDer(X2, [leafHash(LEAF_C)]) }],
    ['a P2TR record for a key (P2WPKH-style record on a taproot output)', { script: taprootOutput(X).script, ...ecdsa(K) }],
    ['no record at all', { script: p2wpkh(K) }],
    ['an output type no key makes (P2A)', { script: Uint8Array.of(0x51, 0x02, 0x4e, 0x73), ...ecdsa(K) }],
  ];
  it.each(notMade)('not made: %s', (_, o) => expect(derivationMakesScript(o)).toBe(false));

  // Review of issue 37 (finding 7's fix): each of these passed — the wallet's own record moved onto a script that
  // pushes its key, or commits to it, while someone else (or anyone) can spend the output.
  const strangerSpends: [string, MarkedOutput][] = [
    ['P2TR: the wallet\'s own key-path record (Core\'s, internal key K) on K tweaked by a tree holding a stranger\'s leaf', { script: taprootOutput(X, leafHash(LEAF_STRANGER)).script, tapInternalKey: X, tapTree: [{ depth: 0, version: 0xc0, script: LEAF_STRANGER }], ...tapDer(X) }],
    ['P2TR: a stranger\'s internal key, the wallet\'s key in a leaf (the stranger spends by the key path)', { script: taprootOutput(XS, leafHash(LEAF_A)).script, tapInternalKey: XS, tapTree: [{ depth: 0, version: 0xc0, script: LEAF_A }], ...tapDer(X2, [leafHash(LEAF_A)]) }],
    ['P2TR: the wallet\'s leaf beside an OP_TRUE leaf (anyone spends), internal key not the wallet\'s', { script: taprootOutput(X, branch(leafHash(LEAF_A), leafHash(LEAF_TRUE))).script, tapInternalKey: X, tapTree: two(LEAF_A, LEAF_TRUE), ...tapDer(X2, [leafHash(LEAF_A)]) }],
    ['P2TR: a leaf pushing the key\'s bytes inside a 33-byte push (an unknown key type in tapscript: anyone spends)', (() => {
      const leaf = cat(Uint8Array.of(0x21, 0x20), X2, Uint8Array.of(0xac));
      return { script: taprootOutput(NUMS, leafHash(leaf)).script, tapInternalKey: NUMS, tapTree: [{ depth: 0, version: 0xc0, script: leaf }], ...tapDer(X2, [leafHash(leaf)]) };
    })()],
    ['P2WSH multi(1, K, stranger) with the wallet\'s record for K only (the stranger signs alone)', { script: p2wsh(multisig(K, STRANGER)), witnessScript: multisig(K, STRANGER), ...ecdsa(K) }],
    ['P2WSH <stranger> OP_CHECKSIG that also pushes and drops the wallet\'s key', (() => {
      const ws = cat(Uint8Array.of(0x21), K, Uint8Array.of(0x75), pk(STRANGER));
      return { script: p2wsh(ws), witnessScript: ws, ...ecdsa(K) };
    })()],
    ['P2WSH OP_TRUE after a data push that holds <0x21 K> (no push of the key at all)', (() => {
      const ws = cat(Uint8Array.of(0x22, 0x21), K, Uint8Array.of(0x75, 0x51));
      return { script: p2wsh(ws), witnessScript: ws, ...ecdsa(K) };
    })()],
    ['P2SH-P2WSH of a script pushing the wallet\'s key and dropping it (anyone spends)', (() => {
      const ws = cat(Uint8Array.of(0x21), K, Uint8Array.of(0x75, 0x51));
      return { script: p2sh(p2wsh(ws)), redeemScript: p2wsh(ws), witnessScript: ws, ...ecdsa(K) };
    })()],
    ['P2SH legacy redeem script <K> OP_DROP <stranger> OP_CHECKSIG', (() => {
      const rs = cat(Uint8Array.of(0x21), K, Uint8Array.of(0x75), pk(STRANGER));
      return { script: p2sh(rs), redeemScript: rs, ...ecdsa(K) };
    })()],
  ];
  it.each(strangerSpends)('not made (a stranger or anyone spends): %s', (_, o) => expect(derivationMakesScript(o)).toBe(false));
});
