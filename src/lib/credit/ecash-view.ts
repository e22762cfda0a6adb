/**
 * Read-only views of ecash, as a wallet reads them: keysets from any document that
 * carries them (their ids recomputed, NUT-02 version 00 or 01), and a token decoded —
 * structure, amounts, keyset ids, Y of each proof — then, given keysets, checked proof by
 * proof (NUT-12 DLEQ, with the r the token carries). Without keysets nothing is verified,
 * and the answer says so (`verified: false`); a proof under a keyset the document does
 * not hold is refused naming that keyset and where its keys come from.
 */
import { toHex } from '../bytes.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { compressed, pointFromBytes, type Point } from '../ecash/curve.ts';
import { secretPoint } from '../ecash/nut00.ts';
import { parseKeys } from '../ecash/nut01.ts';
import { isShortKeysetId, keysetIdMatches, keysetIdV00, keysetIdV01, type KeysetKeys } from '../ecash/nut02.ts';
import { verifyProofDleq } from '../ecash/nut12.ts';
import type { Token } from '../ecash/token.ts';

/** One keyset: its id (recomputed from what the document gives), unit and keys. */
export type KeysetEntry = { id: string; unit: string; points: Map<bigint, Point> };

/** The keysets a document holds, and — from a credit/offer — the mint URL its tokens must name. */
export type KeysetView = { keysets: KeysetEntry[]; mintUrl?: string };

type KeysetJson = { id?: unknown; unit?: unknown; keys?: unknown; input_fee_ppk?: unknown; final_expiry?: unknown };

/** An optional non-negative integer field of a keyset (NUT-02: absent or null means none). */
function optionalInt(v: unknown, field: string, id: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new MalformedInputError('E_BAD_KEYSET', `keyset ${id}: ${field} must be a non-negative integer or null`);
  return v;
}

/**
 * The id a keyset's data gives, checked against the one it names: version 00 from the
 * keys alone; version 01 from the keys, the unit, input_fee_ppk and final_expiry (as a
 * mint's /v1/keys answer carries them). A mismatch says which of them cannot be right.
 */
function checkId(claimed: string, keys: KeysetKeys, unit: string, fee: number | undefined, expiry: number | undefined): string {
  if (/^00[0-9a-f]{14}$/.test(claimed)) {
    const id = keysetIdV00(keys);
    if (id !== claimed) throw new RefusedError('E_KEYSET_ID_MISMATCH', `keyset ${claimed} (NUT-02 version 00, a hash of its keys alone): these keys hash to ${id}, so they are another keyset's keys`);
    return id;
  }
  if (/^01[0-9a-f]{64}$/.test(claimed)) {
    // keysetIdMatches: also Nutshell's form of a final_expiry of 0 (nut02.ts)
    if (keysetIdMatches(claimed, keys, { unit, input_fee_ppk: fee, final_expiry: expiry })) return claimed;
    const id = keysetIdV01(keys, unit, fee, expiry);
    const asV00 = keysetIdV00(keys);
    const given = `unit ${JSON.stringify(unit)}, input_fee_ppk ${fee ?? 'none'}, final_expiry ${expiry ?? 'none'}`;
    throw new RefusedError(
      'E_KEYSET_ID_MISMATCH',
      `keyset ${claimed.slice(0, 18)}… (NUT-02 version 01: a hash of its keys, unit, input_fee_ppk and final_expiry): these keys with ${given} hash to ${id.slice(0, 18)}…; ` +
        `give the keyset as the mint's GET /v1/keys answer, which carries its input_fee_ppk and final_expiry (as version 00 these keys would be ${asV00})`,
    );
  }
  throw new MalformedInputError('E_BAD_KEYSET', `keyset id ${JSON.stringify(claimed)} is not a NUT-02 keyset id (00 + 14 hex digits, or 01 + 64)`);
}

function entryOf(k: KeysetJson, unitDefault: string): KeysetEntry {
  if (typeof k.id !== 'string' || k.keys === undefined) throw new MalformedInputError('E_BAD_KEYSET', '--keyset holds no keyset (credit/keyset, a /v1/keys answer, or a credit/offer with ecash)');
  const unit = k.unit ?? unitDefault;
  if (typeof unit !== 'string') throw new MalformedInputError('E_BAD_KEYSET', `keyset ${k.id}: its unit is not a string`);
  const parsed = parseKeys(k.keys);
  const id = checkId(k.id, parsed.keys, unit, optionalInt(k.input_fee_ppk, 'input_fee_ppk', k.id), optionalInt(k.final_expiry, 'final_expiry', k.id));
  return { id, unit, points: parsed.points };
}

/**
 * credit/keyset or a mint's GET /v1/keys answer ({keysets: [{id, unit, keys, input_fee_ppk?, final_expiry?}, …]},
 * every keyset in it), or a credit/offer's ecash ({keyset_id, unit, mint_url, keys}); every id is recomputed.
 */
export function keysetFromDocument(doc: unknown): KeysetView {
  const d = doc as { keysets?: unknown; ecash?: { keyset_id?: unknown; unit?: unknown; mint_url?: unknown; keys?: unknown; input_fee_ppk?: unknown; final_expiry?: unknown } };
  if (Array.isArray(d?.keysets)) {
    if (d.keysets.length === 0) throw new MalformedInputError('E_BAD_KEYSET', '--keyset holds an empty keysets list');
    // NUT-01 names each keyset's unit; a credit/keyset's is sat.
    return { keysets: d.keysets.map((k) => entryOf((k ?? {}) as KeysetJson, 'sat')) };
  }
  const e = d?.ecash;
  if (e && typeof e === 'object') {
    if (e.mint_url !== undefined && typeof e.mint_url !== 'string') throw new MalformedInputError('E_BAD_KEYSET', 'the offer\'s mint_url is not a string');
    // An offer's keyset carries the fee and final expiry its v01 id commits to.
    const k = { id: e.keyset_id, unit: e.unit, keys: e.keys, input_fee_ppk: e.input_fee_ppk, final_expiry: e.final_expiry };
    return { keysets: [entryOf(k, 'sat')], ...(e.mint_url !== undefined ? { mintUrl: e.mint_url as string } : {}) };
  }
  throw new MalformedInputError('E_BAD_KEYSET', '--keyset holds no keyset (credit/keyset, a /v1/keys answer, or a credit/offer with ecash)');
}

/** The keyset a proof names — its full id, or the short form of a version-01 id (NUT-00) — among the view's. */
function keysetOf(view: KeysetView, id: string): KeysetEntry | undefined {
  if (isShortKeysetId(id)) {
    // NUT-00: a short id that resolves to more than one known keyset fails the token.
    const matches = view.keysets.filter((k, i) => k.id.startsWith(id) && view.keysets.findIndex((o) => o.id === k.id) === i);
    if (matches.length > 1) throw new RefusedError('E_TOKEN_MISMATCH', `the short keyset id ${id} matches ${matches.length} keysets of --keyset (${matches.map((k) => k.id).join(', ')}): it is ambiguous (NUT-00)`);
    return matches[0];
  }
  return view.keysets.find((k) => k.id === id);
}

const ids = (view: KeysetView) => view.keysets.map((k) => k.id).join(', ');

/**
 * A token read as a wallet reads it. Without `view`: its structure, amounts, keyset ids
 * and each proof's Y, `verified: false` (nothing is checked but the encoding). With
 * `view`: each proof's keyset must be in it, in the token's unit (and, from an offer, the
 * token must name the offer's mint URL — valid proofs in a token naming another mint would
 * be handed to that mint by the receiver's wallet), and every DLEQ must verify.
 */
export function tokenMessage(network: string, text: string, t: Token, view?: KeysetView): Record<string, unknown> {
  if (view?.mintUrl !== undefined && t.mint !== view.mintUrl) {
    throw new RefusedError('E_TOKEN_MISMATCH', `the token names the mint ${t.mint}, not the offer's ${view.mintUrl}: a wallet would hand its proofs to that server`);
  }
  let amount = 0n;
  const keysetIds = new Set<string>();
  const proofs = t.proofs.map((p, i) => {
    amount += p.amount;
    const Y = toHex(compressed(secretPoint(p.secret)));
    const what = `proof ${i} (${p.amount} ${t.unit}, keyset ${p.id})`;
    if (!view) {
      keysetIds.add(p.id);
      return { id: p.id, amount: Number(p.amount), Y, C: toHex(p.C), dleq: p.dleq?.r ? 'not checked' : 'absent' };
    }
    const ks = keysetOf(view, p.id);
    if (!ks) {
      throw new RefusedError(
        'E_TOKEN_MISMATCH',
        `${what}: --keyset does not hold keyset ${p.id} (it holds ${ids(view)}); pass the issuing mint's GET /v1/keys answer (or GET /v1/keys/${p.id}), or "credit keyset" of the seed and path that made it — or leave out --keyset to read the token unverified`,
      );
    }
    keysetIds.add(ks.id);
    if (t.unit !== ks.unit) throw new RefusedError('E_TOKEN_MISMATCH', `the token is in ${JSON.stringify(t.unit)}; keyset ${ks.id} signs ${JSON.stringify(ks.unit)}`);
    const A = ks.points.get(p.amount);
    if (!A) throw new RefusedError('E_TOKEN_MISMATCH', `${what}: keyset ${ks.id} has no key for amount ${p.amount}`);
    if (!p.dleq?.r) throw new RefusedError('E_BAD_DLEQ', `${what}: it carries no DLEQ proof with its blinding factor r (NUT-12), so it cannot be checked offline; only its mint can say whether it is good`);
    const C = pointFromBytes(p.C, 'C');
    if (!verifyProofDleq({ e: p.dleq.e, s: p.dleq.s, r: p.dleq.r }, A, p.secret, C)) {
      throw new RefusedError('E_BAD_DLEQ', `${what}: its DLEQ proof does not show C was signed with keyset ${ks.id}'s key for ${p.amount}: a forged or altered proof`);
    }
    return { id: ks.id, amount: Number(p.amount), Y, C: toHex(p.C), dleq: 'valid' };
  });
  const one = keysetIds.size === 1 ? [...keysetIds][0]! : undefined;
  return {
    type: 'credit/token', version: 1, network, version_prefix: text.startsWith('cashuA') ? 'cashuA' : 'cashuB', mint: t.mint, unit: t.unit,
    ...(t.memo !== undefined ? { memo: t.memo } : {}), amount_sat: Number(amount), ...(view && one ? { keyset_id: one } : {}), proofs,
    verified: view !== undefined, ...(view ? { all_valid: true } : {}),
  };
}
