/**
 * NUT-00 tokens: how ecash proofs travel between people.
 * - V4 `cashuB` ‖ base64url(CBOR {t: [{i: id bytes, p: [{a, s, c, d?: {e, s, r}, w?}]}], d?: memo, m: mint, u: unit})
 *   (and its raw binary form `crawB` ‖ CBOR); what we write.
 * - V3 `cashuA` ‖ base64url(JSON {token: [{mint, proofs}], unit?, memo?}); read, and written
 *   for old wallets. A V3 token naming several mints is refused (E_BAD_TOKEN): a credit
 *   contract issues for one mint.
 * Every field is checked on the way in: keyset ids (NUT-02 forms, and in V4 the short
 * form of a version-01 id: its first 8 bytes, NUT-00), amounts powers of two, C a
 * compressed point, DLEQ parts 32 bytes. Then, before anyone spends signature work on it,
 * the token as a whole: at most MAX_TOKEN_PROOFS proofs (E_TOKEN_TOO_LARGE, exit 3) and
 * no proof twice — the same Y = hash_to_curve(secret), up to negation (E_DUPLICATE_PROOF,
 * exit 4): a mint refuses such a swap ("Duplicate inputs provided"), so counting a copy
 * would count money that is not there. Signatures are checked in credit/ecash-view.ts.
 */
import { base64urlnopad } from '@scure/base';
import { fromHex, toHex, utf8 } from '../bytes.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { decodeCbor, encodeCbor, type CborValue } from './cbor.ts';
import { compressed, pointFromBytes } from './curve.ts';
import { isPowerOfTwo, secretPoint } from './nut00.ts';
import { isKeysetId, isShortKeysetId } from './nut02.ts';

export type ProofDleq = { e: Uint8Array; s: Uint8Array; r?: Uint8Array };

export type Proof = { id: string; amount: bigint; secret: string; C: Uint8Array; dleq?: ProofDleq; witness?: string };

export type Token = { mint: string; unit: string; memo?: string; proofs: Proof[] };

const bad = (why: string): never => {
  throw new MalformedInputError('E_BAD_TOKEN', why);
};

const MAX_TOKEN_CHARS = 1 << 20;

/**
 * Proofs in one token: a mint takes at most this many inputs in one request (Nutshell's
 * default `mint_max_request_length`, 1000), so a larger token cannot be redeemed whole.
 */
export const MAX_TOKEN_PROOFS = 1000;

const tooLarge = (why: string): never => {
  throw new MalformedInputError('E_TOKEN_TOO_LARGE', why);
};

/**
 * The token's proofs once each: the same Y = hash_to_curve(secret) — compared by its x
 * coordinate, so also up to negation — twice is refused before any signature is checked.
 */
export function checkDistinctProofs(proofs: Proof[]): void {
  const seen = new Map<string, number>();
  proofs.forEach((p, i) => {
    const x = toHex(compressed(secretPoint(p.secret)).subarray(1));
    const first = seen.get(x);
    if (first !== undefined) throw new RefusedError('E_DUPLICATE_PROOF', `proof ${i} repeats proof ${first} (the same Y = hash_to_curve(secret)): a mint spends a proof once and refuses a token that carries it twice`);
    seen.set(x, i);
  });
}

function checkCount(n: number): void {
  if (n > MAX_TOKEN_PROOFS) tooLarge(`the token carries ${n} proofs; a mint takes at most ${MAX_TOKEN_PROOFS} in one request (split it into tokens of at most ${MAX_TOKEN_PROOFS})`);
}

function b64urlDecode(text: string): Uint8Array {
  const s = text.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) bad('the token is not base64url');
  try {
    return base64urlnopad.decode(s);
  } catch {
    return bad('the token is not base64url');
  }
}

function checkProof(p: Proof, where: string, short = false): Proof {
  if (!isKeysetId(p.id) && !(short && isShortKeysetId(p.id))) bad(`${where}: keyset id ${p.id} is not a NUT-02 keyset id`);
  if (!isPowerOfTwo(p.amount)) bad(`${where}: amount ${p.amount} is not a power of two below 2^64`);
  if (p.secret.length === 0 || p.secret.length > 8192) bad(`${where}: the secret must be 1–8192 characters`);
  try {
    pointFromBytes(p.C, `${where} C`);
  } catch {
    bad(`${where}: C is not a compressed secp256k1 point`);
  }
  const d = p.dleq;
  if (d && (d.e.length !== 32 || d.s.length !== 32 || (d.r && d.r.length !== 32))) bad(`${where}: DLEQ e, s and r must be 32 bytes each`);
  return p;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const str = (v: unknown, where: string): string => (typeof v === 'string' ? v : bad(`${where} must be a string`));
const bytes = (v: unknown, where: string): Uint8Array => (v instanceof Uint8Array ? v : bad(`${where} must be a byte string`));
const hexField = (v: unknown, where: string): Uint8Array => {
  if (typeof v !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(v)) bad(`${where} must be hex`);
  return fromHex((v as string).toLowerCase(), where);
};

function onlyKeys(o: Record<string, unknown>, allowed: string[], where: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) bad(`${where} has an unknown field ${JSON.stringify(k)}`);
}

// ——— V4 ———

export function encodeTokenV4Binary(t: Token): Uint8Array {
  const groups = new Map<string, Proof[]>();
  for (const p of t.proofs) groups.set(p.id, [...(groups.get(p.id) ?? []), p]);
  const value: CborValue = {
    t: [...groups.entries()].map(([id, ps]) => ({
      i: fromHex(id, 'keyset id'),
      p: ps.map((p) => {
        const o: { [k: string]: CborValue } = { a: p.amount, s: p.secret, c: p.C };
        if (p.dleq) o['d'] = p.dleq.r ? { e: p.dleq.e, s: p.dleq.s, r: p.dleq.r } : { e: p.dleq.e, s: p.dleq.s };
        if (p.witness !== undefined) o['w'] = p.witness;
        return o;
      }),
    })),
  };
  if (t.memo !== undefined) value['d'] = t.memo;
  value['m'] = t.mint;
  value['u'] = t.unit;
  return encodeCbor(value);
}

export const encodeTokenV4 = (t: Token): string => 'cashuB' + base64urlnopad.encode(encodeTokenV4Binary(t));

export function decodeTokenV4Binary(cbor: Uint8Array): Token {
  const v = decodeCbor(cbor);
  if (!isObj(v)) return bad('a V4 token is a CBOR map');
  const o = v as Record<string, CborValue>;
  onlyKeys(o, ['t', 'd', 'm', 'u'], 'the token');
  const mint = str(o['m'], 'm (mint URL)');
  const unit = str(o['u'], 'u (unit)');
  const memo = o['d'] === undefined ? undefined : str(o['d'], 'd (memo)');
  if (!Array.isArray(o['t']) || o['t'].length === 0) bad('t must be a non-empty array');
  checkCount((o['t'] as CborValue[]).reduce<number>((n, g) => n + (isObj(g) && Array.isArray((g as Record<string, CborValue>)['p']) ? ((g as Record<string, CborValue>)['p'] as CborValue[]).length : 0), 0));
  const proofs: Proof[] = [];
  (o['t'] as CborValue[]).forEach((g, gi) => {
    if (!isObj(g)) bad(`t[${gi}] must be a map`);
    const gm = g as Record<string, CborValue>;
    onlyKeys(gm, ['i', 'p'], `t[${gi}]`);
    const id = toHex(bytes(gm['i'], `t[${gi}].i`));
    if (!Array.isArray(gm['p']) || gm['p'].length === 0) bad(`t[${gi}].p must be a non-empty array`);
    (gm['p'] as CborValue[]).forEach((p, pi) => {
      const where = `t[${gi}].p[${pi}]`;
      if (!isObj(p)) bad(`${where} must be a map`);
      const pm = p as Record<string, CborValue>;
      onlyKeys(pm, ['a', 's', 'c', 'd', 'w'], where);
      const a = pm['a'];
      if (typeof a !== 'number' && typeof a !== 'bigint') bad(`${where}.a must be an unsigned integer`);
      let dleq: ProofDleq | undefined;
      if (pm['d'] !== undefined) {
        if (!isObj(pm['d'])) bad(`${where}.d must be a map`);
        const d = pm['d'] as Record<string, CborValue>;
        onlyKeys(d, ['e', 's', 'r'], `${where}.d`);
        dleq = { e: bytes(d['e'], `${where}.d.e`), s: bytes(d['s'], `${where}.d.s`), ...(d['r'] !== undefined ? { r: bytes(d['r'], `${where}.d.r`) } : {}) };
      }
      proofs.push(checkProof({
        id, amount: BigInt(a as number | bigint), secret: str(pm['s'], `${where}.s`), C: bytes(pm['c'], `${where}.c`),
        ...(dleq ? { dleq } : {}), ...(pm['w'] !== undefined ? { witness: str(pm['w'], `${where}.w`) } : {}),
      }, where, true));
    });
  });
  checkDistinctProofs(proofs);
  return { mint, unit, ...(memo !== undefined ? { memo } : {}), proofs };
}

// ——— V3 ———

export function encodeTokenV3(t: Token): string {
  const json = {
    token: [{
      mint: t.mint,
      proofs: t.proofs.map((p) => {
        if (p.amount > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedInputError('E_BAD_TOKEN', 'a V3 token cannot carry an amount above 2^53 − 1; use V4');
        return {
          amount: Number(p.amount), id: p.id, secret: p.secret, C: toHex(p.C),
          ...(p.dleq ? { dleq: { e: toHex(p.dleq.e), s: toHex(p.dleq.s), ...(p.dleq.r ? { r: toHex(p.dleq.r) } : {}) } } : {}),
          ...(p.witness !== undefined ? { witness: p.witness } : {}),
        };
      }),
    }],
    unit: t.unit,
    ...(t.memo !== undefined ? { memo: t.memo } : {}),
  };
  return 'cashuA' + base64urlnopad.encode(utf8(JSON.stringify(json)));
}

export function decodeTokenV3Json(text: string): Token {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return bad('a V3 token is base64url of JSON');
  }
  if (!isObj(v) || !Array.isArray(v['token']) || v['token'].length === 0) return bad('a V3 token has a non-empty "token" array');
  if (v['token'].length > 1) bad('this V3 token names several mints: a credit contract issues for one mint');
  const entry = v['token'][0];
  if (!isObj(entry) || !Array.isArray(entry['proofs']) || entry['proofs'].length === 0) return bad('token[0] must have a mint and non-empty proofs');
  checkCount(entry['proofs'].length);
  const proofs = (entry['proofs'] as unknown[]).map((p, i) => {
    const where = `token[0].proofs[${i}]`;
    if (!isObj(p)) return bad(`${where} must be an object`);
    if (typeof p['amount'] !== 'number' || !Number.isSafeInteger(p['amount'])) bad(`${where}.amount must be an integer (at most 2^53 − 1 in a V3 token)`);
    const d = p['dleq'];
    let dleq: ProofDleq | undefined;
    if (d !== undefined) {
      if (!isObj(d)) bad(`${where}.dleq must be an object`);
      const dd = d as Record<string, unknown>;
      dleq = { e: hexField(dd['e'], `${where}.dleq.e`), s: hexField(dd['s'], `${where}.dleq.s`), ...(dd['r'] !== undefined ? { r: hexField(dd['r'], `${where}.dleq.r`) } : {}) };
    }
    return checkProof({
      id: str(p['id'], `${where}.id`), amount: BigInt(p['amount'] as number), secret: str(p['secret'], `${where}.secret`), C: hexField(p['C'], `${where}.C`),
      ...(dleq ? { dleq } : {}), ...(typeof p['witness'] === 'string' ? { witness: p['witness'] } : {}),
    }, where);
  });
  checkDistinctProofs(proofs);
  return {
    mint: str(entry['mint'], 'token[0].mint'),
    unit: v['unit'] === undefined ? 'sat' : str(v['unit'], 'unit'),
    ...(v['memo'] !== undefined && v['memo'] !== null ? { memo: str(v['memo'], 'memo') } : {}),
    proofs,
  };
}

/** Any token: `cashuB…`, `cashuA…`, or raw `crawB…` bytes given as text is not accepted. */
export function decodeToken(text: string): Token {
  const t = text.trim();
  if (t.length > MAX_TOKEN_CHARS) tooLarge(`the token is over ${MAX_TOKEN_CHARS} characters`);
  if (t.startsWith('cashuB')) return decodeTokenV4Binary(b64urlDecode(t.slice(6)));
  if (t.startsWith('cashuA')) {
    let json: string;
    try {
      json = new TextDecoder('utf-8', { fatal: true }).decode(b64urlDecode(t.slice(6)));
    } catch (e) {
      if (e instanceof MalformedInputError) throw e;
      return bad('a V3 token is base64url of UTF-8 JSON');
    }
    return decodeTokenV3Json(json);
  }
  return bad('a Cashu token starts with cashuA (V3) or cashuB (V4)');
}

/** The raw binary V4 form: "craw" ‖ "B" ‖ CBOR. */
export function decodeTokenRaw(raw: Uint8Array): Token {
  const prefix = new TextDecoder().decode(raw.subarray(0, 5));
  if (prefix !== 'crawB') bad('a raw V4 token starts with "crawB"');
  return decodeTokenV4Binary(raw.subarray(5));
}

export function encodeTokenRaw(t: Token): Uint8Array {
  const body = encodeTokenV4Binary(t);
  const out = new Uint8Array(5 + body.length);
  out.set(utf8('crawB'));
  out.set(body, 5);
  return out;
}
