/**
 * The mint we front, as test code: Nutshell's key derivation (cashu/core/crypto/keys.py
 * `derive_keys`: BIP-32 master from the seed string's UTF-8 bytes, PATH/i' for amount 2^i)
 * and keyset id (`derive_keyset_id_v2`, NUT-02 v01 with unit and fee, what 0.20.3 creates;
 * or `derive_keyset_id`, v00, what a mint upgraded from 0.19 keeps), and its redemption
 * check C == k·hash_to_curve(secret) (NUT-00). Written from Nutshell's text with node:crypto
 * and ./secp256k1.ts; shares nothing with src/ (not its curve, BIP-32 or hashing).
 * A proof this accepts is one Nutshell with the same seed would accept.
 */
import { createHash, createHmac } from 'node:crypto';
import { G, N, decodeCompressed, encodeCompressed, int, bytes32, liftX, pointMul, type Point } from './secp256k1.ts';

const hmac512 = (key: Uint8Array, data: Uint8Array) => new Uint8Array(createHmac('sha512', key).update(data).digest());
const sha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

/** BIP-32: master, then hardened children only (all Nutshell's path uses). */
function derivePrivate(seed: Uint8Array, hardenedPath: number[]): bigint {
  let I = hmac512(Buffer.from('Bitcoin seed'), seed);
  let k = int(I.subarray(0, 32));
  let c = I.subarray(32);
  for (const i of hardenedPath) {
    const data = new Uint8Array(37);
    data.set(bytes32(k), 1);
    new DataView(data.buffer).setUint32(33, (i + 0x8000_0000) >>> 0);
    I = hmac512(c, data);
    k = (int(I.subarray(0, 32)) + k) % N;
    c = I.subarray(32);
  }
  return k;
}

export type NutshellKeyset = { id: string; privateKeys: Map<bigint, bigint>; publicKeys: Map<bigint, string> };

/**
 * derive_keys(seed, path) for amounts 2^0 … 2^63, and the keyset's id as Nutshell makes it:
 * by default a fresh 0.20.3's (v01, unit sat, MINT_INPUT_FEE_PPK 100); `idVersion: '00'` as
 * 0.19 made it (the keys alone).
 */
export function nutshellKeyset(seed: string, path = "m/0'/0'/0'", opts: { inputFeePpk?: number; idVersion?: '00' | '01' } = {}): NutshellKeyset {
  const steps = path.split('/').slice(1).map((s) => {
    if (!s.endsWith("'")) throw new Error('Nutshell paths are hardened');
    return Number(s.slice(0, -1));
  });
  const privateKeys = new Map<bigint, bigint>();
  const publicKeys = new Map<bigint, string>();
  const concat: Uint8Array[] = [];
  const pairs: string[] = [];
  for (let i = 0; i < 64; i++) {
    const k = derivePrivate(Buffer.from(seed, 'utf8'), [...steps, i]);
    const K = encodeCompressed(pointMul(G, k));
    privateKeys.set(1n << BigInt(i), k);
    publicKeys.set(1n << BigInt(i), Buffer.from(K).toString('hex'));
    concat.push(K);
    pairs.push(`${1n << BigInt(i)}:${Buffer.from(K).toString('hex')}`);
  }
  const fee = opts.inputFeePpk ?? 100;
  const id = (opts.idVersion ?? '01') === '00'
    ? '00' + Buffer.from(sha(...concat)).toString('hex').slice(0, 14)
    : '01' + Buffer.from(sha(Buffer.from(pairs.join(',') + '|unit:sat' + (fee > 0 ? `|input_fee_ppk:${fee}` : ''), 'utf8'))).toString('hex');
  return { id, privateKeys, publicKeys };
}

/** NUT-00 hash_to_curve, from the spec's text. */
export function hashToCurve(message: Uint8Array): Point {
  const msgHash = sha(Buffer.from('Secp256k1_HashToCurve_Cashu_'), message);
  for (let counter = 0; counter < 2 ** 16; counter++) {
    const ctr = Buffer.alloc(4);
    ctr.writeUInt32LE(counter);
    const p = liftX(int(sha(msgHash, ctr))); // the 02 prefix: even y
    if (p) return p;
  }
  throw new Error('no point');
}

/** Nutshell's mint check of a proof: its keyset, its amount's key, C == k·hash_to_curve(secret). */
export function nutshellAccepts(ks: NutshellKeyset, proof: { id: string; amount: bigint; secret: string; C: string }): boolean {
  if (proof.id !== ks.id) return false;
  const k = ks.privateKeys.get(proof.amount);
  if (k === undefined) return false;
  const C = decodeCompressed(Buffer.from(proof.C, 'hex'));
  if (!C) return false;
  const expected = pointMul(hashToCurve(Buffer.from(proof.secret, 'utf8')), k);
  return expected !== null && expected.x === C.x && expected.y === C.y;
}

/** The fields of a credit update the user's outputs signature commits to (docs/ecash.md). */
export interface CreditOutputsFields {
  contract_id: string;
  state: number;
  amount_sat: number | bigint;
  cumulative_sat: number | bigint;
  outputs: ReadonlyArray<{ amount: number | bigint; id: string; B_: string }>;
}

/**
 * docs/ecash.md's outputs digest, by hand: tagged SHA-256 ("offchain/credit/v1/outputs") of
 * contract id, state (u32), the state's txid, the mint's public nonce, amount and cumulative
 * (u64), the output count (u16), then each output's amount (u64), id length, id and B_.
 */
export function creditOutputsDigest(r: CreditOutputsFields, txid: string, mintPubnonce: Uint8Array): Uint8Array {
  const tag = createHash('sha256').update('offchain/credit/v1/outputs').digest();
  const h = createHash('sha256').update(tag).update(tag);
  const u = (n: number | bigint, len: number) => Buffer.from(BigInt(n).toString(16).padStart(len * 2, '0'), 'hex');
  h.update(Buffer.from(r.contract_id, 'hex')).update(u(r.state, 4)).update(Buffer.from(txid, 'hex')).update(mintPubnonce);
  h.update(u(r.amount_sat, 8)).update(u(r.cumulative_sat, 8)).update(u(r.outputs.length, 2));
  for (const o of r.outputs) h.update(u(o.amount, 8)).update(Buffer.from([o.id.length / 2])).update(Buffer.from(o.id, 'hex')).update(Buffer.from(o.B_, 'hex'));
  return new Uint8Array(h.digest());
}
