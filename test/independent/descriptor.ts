/**
 * Output descriptors derived in test code, for checking the product's `tr(musig(…),…)`
 * descriptors of the taproot HTLC and the PTLC without its descriptor, miniscript,
 * taproot or MuSig2 code:
 * - the BIP-380 checksum, transcribed from the Python in bitcoin/bips bip-0380.mediawiki,
 *   section "Checksum" (checked against BIP-380's own examples in independent.test.ts);
 * - the two miniscript fragments the contracts use, compiled here from the miniscript
 *   spec's table: `and_v(v:pk(K),sha256(H))` = `<K> CHECKSIGVERIFY SIZE <32> EQUALVERIFY
 *   SHA256 <H> EQUAL`, `and_v(v:pk(K),after(n))` = `<K> CHECKSIGVERIFY <n> CHECKLOCKTIMEVERIFY`;
 * - BIP-341's TapLeaf / TapBranch hashes, the Merkle root, the control blocks, and the
 *   output key of the BIP-327 KeyAgg of the sorted keys (./keys.ts, BIP-390 `musig()`).
 * From the contract's *terms* (who pays, who is paid, hash, timeout) to the descriptor
 * string and the scriptPubKey it means: a descriptor with payer and recipient swapped
 * is a different string here.
 */
import { aggregateXOnly, keySort, taprootOutput, type TaprootOutput } from './keys.ts';
import { taggedHash } from './secp256k1.ts';
import { compactSize, concat, hexOf } from './tx.ts';

// ---------------------------------------------------------------------------------
// BIP-380 checksum
// ---------------------------------------------------------------------------------

const INPUT_CHARSET = "0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#\"\\ ";
const CHECKSUM_CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATOR = [0xf5dee51989n, 0xa9fdca3312n, 0x1bab10e32dn, 0x3706b1677an, 0x644d626ffdn];

function descsumPolymod(symbols: number[]): bigint {
  let chk = 1n;
  for (const value of symbols) {
    const top = chk >> 35n;
    chk = ((chk & 0x7ffffffffn) << 5n) ^ BigInt(value);
    for (let i = 0; i < 5; i++) if ((top >> BigInt(i)) & 1n) chk ^= GENERATOR[i]!;
  }
  return chk;
}

function descsumExpand(s: string): number[] | undefined {
  const groups: number[] = [];
  const symbols: number[] = [];
  for (const c of s) {
    const v = INPUT_CHARSET.indexOf(c);
    if (v < 0) return undefined;
    symbols.push(v & 31);
    groups.push(v >> 5);
    if (groups.length === 3) {
      symbols.push(groups[0]! * 9 + groups[1]! * 3 + groups[2]!);
      groups.length = 0;
    }
  }
  if (groups.length === 1) symbols.push(groups[0]!);
  else if (groups.length === 2) symbols.push(groups[0]! * 3 + groups[1]!);
  return symbols;
}

/** `descsum_create`: the descriptor with `#` and its 8-character checksum. */
export function descsumCreate(s: string): string {
  const symbols = descsumExpand(s);
  if (!symbols) throw new Error(`not a descriptor character in ${s}`);
  const checksum = descsumPolymod([...symbols, 0, 0, 0, 0, 0, 0, 0, 0]) ^ 1n;
  return `${s}#${Array.from({ length: 8 }, (_, i) => CHECKSUM_CHARSET[Number((checksum >> (5n * (7n - BigInt(i)))) & 31n)]).join('')}`;
}

/** `descsum_check`: a descriptor with a valid checksum. */
export function descsumCheck(s: string): boolean {
  if (s.at(-9) !== '#') return false;
  const checksum = s.slice(-8);
  if (![...checksum].every((c) => CHECKSUM_CHARSET.includes(c))) return false;
  const symbols = descsumExpand(s.slice(0, -9));
  if (!symbols) return false;
  return descsumPolymod([...symbols, ...[...checksum].map((c) => CHECKSUM_CHARSET.indexOf(c))]) === 1n;
}

// ---------------------------------------------------------------------------------
// Miniscript fragments and BIP-341 tree
// ---------------------------------------------------------------------------------

const OP_CHECKSIGVERIFY = 0xad;
const OP_SIZE = 0x82;
const OP_EQUALVERIFY = 0x88;
const OP_SHA256 = 0xa8;
const OP_EQUAL = 0x87;
const OP_CHECKLOCKTIMEVERIFY = 0xb1;

/** A minimal push of a script number n ≥ 1 (BIP-62: OP_1..OP_16, else little-endian with a sign byte when needed). */
function pushNumber(n: number): Uint8Array {
  if (n >= 1 && n <= 16) return Uint8Array.of(0x50 + n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.push(v % 256);
  if (bytes.at(-1)! & 0x80) bytes.push(0);
  return Uint8Array.of(bytes.length, ...bytes);
}
const push = (data: Uint8Array) => concat(Uint8Array.of(data.length), data);

/** `and_v(v:pk(K),sha256(H))` */
export const pkSha256Leaf = (xOnlyKey: Uint8Array, hash: Uint8Array): Uint8Array =>
  concat(push(xOnlyKey), Uint8Array.of(OP_CHECKSIGVERIFY, OP_SIZE), push(Uint8Array.of(32)), Uint8Array.of(OP_EQUALVERIFY, OP_SHA256), push(hash), Uint8Array.of(OP_EQUAL));

/** `and_v(v:pk(K),after(n))` */
export const pkAfterLeaf = (xOnlyKey: Uint8Array, n: number): Uint8Array =>
  concat(push(xOnlyKey), Uint8Array.of(OP_CHECKSIGVERIFY), pushNumber(n), Uint8Array.of(OP_CHECKLOCKTIMEVERIFY));

export const tapLeafHash = (script: Uint8Array): Uint8Array => taggedHash('TapLeaf', Uint8Array.of(0xc0), compactSize(script.length), script);
export const tapBranchHash = (a: Uint8Array, b: Uint8Array): Uint8Array =>
  taggedHash('TapBranch', ...(Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0 ? [a, b] : [b, a]));

export type DerivedContract = {
  descriptor: string;
  participants: Uint8Array[];
  internalKey: Uint8Array;
  merkleRoot: Uint8Array;
  output: TaprootOutput;
  leaves: Record<string, { script: Uint8Array; controlBlock: Uint8Array }>;
};

const xOnlyOf = (compressed: Uint8Array) => compressed.subarray(1);

/** The taproot HTLC: MuSig2 key path of both; claim leaf `and_v(v:pk(recipient),sha256(H))`, refund leaf `and_v(v:pk(payer),after(L))`. */
export function taprootHtlcContract(t: { payer: Uint8Array; recipient: Uint8Array; paymentHash: Uint8Array; locktime: number }): DerivedContract {
  const participants = keySort([t.payer, t.recipient]);
  const internalKey = aggregateXOnly(participants);
  const claim = pkSha256Leaf(xOnlyOf(t.recipient), t.paymentHash);
  const refund = pkAfterLeaf(xOnlyOf(t.payer), t.locktime);
  const [lc, lr] = [tapLeafHash(claim), tapLeafHash(refund)];
  const merkleRoot = tapBranchHash(lc, lr);
  const output = taprootOutput(internalKey, merkleRoot);
  const cb = (sibling: Uint8Array) => concat(Uint8Array.of(0xc0 | output.parity), internalKey, sibling);
  const descriptor = descsumCreate(
    `tr(musig(${participants.map(hexOf).join(',')}),{and_v(v:pk(${hexOf(xOnlyOf(t.recipient))}),sha256(${hexOf(t.paymentHash)})),` +
      `and_v(v:pk(${hexOf(xOnlyOf(t.payer))}),after(${t.locktime}))})`,
  );
  return { descriptor, participants, internalKey, merkleRoot, output, leaves: { claim: { script: claim, controlBlock: cb(lr) }, refund: { script: refund, controlBlock: cb(lc) } } };
}

/** The PTLC: MuSig2 key path of payer and payee; one refund leaf `and_v(v:pk(payer),after(L))`. */
export function ptlcContract(t: { payer: Uint8Array; payee: Uint8Array; locktime: number }): DerivedContract {
  const participants = keySort([t.payer, t.payee]);
  const internalKey = aggregateXOnly(participants);
  const refund = pkAfterLeaf(xOnlyOf(t.payer), t.locktime);
  const merkleRoot = tapLeafHash(refund); // a one-leaf tree: the root is the leaf
  const output = taprootOutput(internalKey, merkleRoot);
  const descriptor = descsumCreate(`tr(musig(${participants.map(hexOf).join(',')}),and_v(v:pk(${hexOf(xOnlyOf(t.payer))}),after(${t.locktime})))`);
  return { descriptor, participants, internalKey, merkleRoot, output, leaves: { refund: { script: refund, controlBlock: concat(Uint8Array.of(0xc0 | output.parity), internalKey) } } };
}
