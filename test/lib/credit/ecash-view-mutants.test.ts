/**
 * What the ecash reader (src/lib/credit/ecash-view.ts) refuses, accepts and reports, pinned
 * where `npm run mutate` found a planted change passing every test (issue 42, deliverable 2):
 * the keyset document's shape (no keyset, an empty list, a unit or mint URL that is not a
 * string, a fee or final expiry that is not a whole number ≥ 0, an id of neither NUT-02
 * form), what a version-01 mismatch says, the defaults (unit sat), and the token view's
 * fields (version prefix, memo, keyset_id only for one keyset).
 *
 * Refusals are matched by code and message, not exit class (the classes of E_BAD_KEYSET are
 * being revised). Expected ids are hashed here with node:crypto from NUT-02's text; tokens
 * are written by cashu-ts or by hand; nothing expected is computed by src/.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getDecodedToken, getEncodedToken, type Proof } from '@cashu/cashu-ts';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers.ts';
import { thrown } from '../../setup/refusal.ts';
import { keysetFromDocument, tokenMessage, type KeysetView } from '../../../src/lib/credit/ecash-view.ts';
import { decodeToken, type Token } from '../../../src/lib/ecash/token.ts';

const fixture = (p: string) => readFileSync(join(ROOT, 'fixtures/credit', p), 'utf8');
const TEXT = fixture('token.txt').trim();
const KEYSET = JSON.parse(fixture('keyset.json'));
const OFFER = JSON.parse(fixture('ecash-offer.json'));
const ENTRY = KEYSET.keysets[0] as { id: string; unit: string; input_fee_ppk: number; final_expiry: null; keys: Record<string, string> };
const ID = ENTRY.id;
const KEYS = ENTRY.keys;
const TOKEN = getDecodedToken(TEXT, [ID]);

const sorted = (keys: Record<string, string>) => Object.entries(keys).sort(([a], [b]) => (BigInt(a) < BigInt(b) ? -1 : 1));
/** NUT-02 version 00: the first 7 bytes of SHA-256 over the keys' bytes, by amount. */
const v00Id = (keys: Record<string, string>) => '00' + createHash('sha256').update(Buffer.concat(sorted(keys).map(([, k]) => Buffer.from(k, 'hex')))).digest('hex').slice(0, 14);
/** NUT-02 version 01 without fee or expiry: SHA-256 of "amount:key,…|unit:U". */
const v01Id = (keys: Record<string, string>, unit: string) => '01' + createHash('sha256').update(sorted(keys).map(([a, k]) => `${a}:${k}`).join(',') + `|unit:${unit}`, 'utf8').digest('hex');

/** The error `fn` throws, its code and message (any exit class). */
const refused = (fn: () => unknown, code: string): string => {
  const e = thrown(fn);
  expect(e.code, e.message).toBe(code);
  return e.message;
};
const doc = (k: Record<string, unknown>) => ({ keysets: [k] });
const decode = (text: string, view?: KeysetView) => tokenMessage('regtest', text, decodeToken(text), view) as Record<string, unknown>;

describe('the keyset document: its shape', () => {
  it('no document, no keyset, an ecash part that is not an object → E_BAD_KEYSET "holds no keyset"', () => {
    for (const d of [null, undefined, {}, { ecash: null }, { keysets: 'x' }]) expect(refused(() => keysetFromDocument(d), 'E_BAD_KEYSET')).toMatch(/^--keyset holds no keyset \(credit\/keyset/);
  });

  it('a keyset without an id, with an id that is not a string, or without keys → "holds no keyset"', () => {
    for (const k of [{ unit: 'sat', keys: KEYS }, { id: 5, unit: 'sat', keys: KEYS }, { id: ID, unit: 'sat', input_fee_ppk: 100 }]) {
      expect(refused(() => keysetFromDocument(doc(k)), 'E_BAD_KEYSET')).toMatch(/^--keyset holds no keyset/);
    }
  });

  it('an empty keysets list → "an empty keysets list"', () => {
    expect(refused(() => keysetFromDocument({ keysets: [] }), 'E_BAD_KEYSET')).toBe('--keyset holds an empty keysets list');
  });

  it('a unit that is not a string → "its unit is not a string"', () => {
    expect(refused(() => keysetFromDocument(doc({ ...ENTRY, unit: 5 })), 'E_BAD_KEYSET')).toBe(`keyset ${ID}: its unit is not a string`);
  });

  it('input_fee_ppk or final_expiry not a whole number ≥ 0 (a fraction, a string, −1, 2^53) → refused naming the field', () => {
    for (const field of ['input_fee_ppk', 'final_expiry']) {
      for (const v of [1.5, '100', -1, 2 ** 53]) {
        expect(refused(() => keysetFromDocument(doc({ ...ENTRY, [field]: v })), 'E_BAD_KEYSET'), `${field} ${v}`).toBe(`keyset ${ID}: ${field} must be a non-negative integer or null`);
      }
    }
  });

  it('no unit means sat, in a keysets list and in an offer; null fee and expiry mean none', () => {
    const { unit: _u, ...noUnit } = ENTRY;
    expect(keysetFromDocument(doc(noUnit)).keysets.map((k) => [k.id, k.unit])).toEqual([[ID, 'sat']]);
    const { unit: _o, ...offerNoUnit } = OFFER.ecash;
    expect(keysetFromDocument({ ecash: offerNoUnit }).keysets.map((k) => [k.id, k.unit])).toEqual([[ID, 'sat']]);
    const plain = v01Id(KEYS, 'sat'); // no fee, no expiry
    expect(keysetFromDocument(doc({ id: plain, keys: KEYS, input_fee_ppk: null, final_expiry: null })).keysets[0]!.id).toBe(plain);
  });
});

describe('the keyset id: which form, and what a mismatch says', () => {
  it('an id of neither NUT-02 form (a prefix before 00/01, a suffix after, the wrong length) → "is not a NUT-02 keyset id"', () => {
    const v00 = v00Id(KEYS);
    for (const id of ['ab' + v00, v00 + 'ab', 'ab' + ID, ID + 'ab', ID.slice(0, 20), '02' + ID.slice(2)]) {
      expect(refused(() => keysetFromDocument(doc({ ...ENTRY, id })), 'E_BAD_KEYSET'), id).toBe(`keyset id ${JSON.stringify(id)} is not a NUT-02 keyset id (00 + 14 hex digits, or 01 + 64)`);
    }
  });

  it('a version-01 id its data does not hash to: the id shortened, what was given ("none" for an absent fee and expiry), the hash, and what to pass instead', () => {
    // the fixture's keys under the id they give with fee 100, given here with no fee and no expiry
    const m = refused(() => keysetFromDocument(doc({ id: ID, unit: 'sat', keys: KEYS })), 'E_KEYSET_ID_MISMATCH');
    const given = v01Id(KEYS, 'sat');
    expect(m).toBe(
      `keyset ${ID.slice(0, 18)}… (NUT-02 version 01: a hash of its keys, unit, input_fee_ppk and final_expiry): these keys with unit "sat", input_fee_ppk none, final_expiry none hash to ${given.slice(0, 18)}…; ` +
        `give the keyset as the mint's GET /v1/keys answer, which carries its input_fee_ppk and final_expiry (as version 00 these keys would be ${v00Id(KEYS)})`,
    );
    // an expiry given is written as given
    expect(refused(() => keysetFromDocument(doc({ ...ENTRY, final_expiry: 1_900_000_000 })), 'E_KEYSET_ID_MISMATCH')).toContain('input_fee_ppk 100, final_expiry 1900000000 hash to');
  });
});

describe('an offer: its mint URL', () => {
  it('a mint_url that is not a string → "the offer\'s mint_url is not a string"', () => {
    expect(refused(() => keysetFromDocument({ ecash: { ...OFFER.ecash, mint_url: 5 } }), 'E_BAD_KEYSET')).toBe('the offer\'s mint_url is not a string');
  });

  it('an offer without mint_url is read, and its view names no mint URL (not even undefined)', () => {
    const { mint_url: _m, ...noUrl } = OFFER.ecash;
    const view = keysetFromDocument({ ecash: noUrl });
    expect(Object.keys(view)).toEqual(['keysets']);
    expect(Object.keys(keysetFromDocument(OFFER))).toEqual(['keysets', 'mintUrl']);
    expect(keysetFromDocument(OFFER).mintUrl).toBe(OFFER.ecash.mint_url);
  });
});

describe('the token view', () => {
  const view = keysetFromDocument(KEYSET);
  const v00 = v00Id(KEYS);
  const both = keysetFromDocument({ keysets: [ENTRY, { id: v00, unit: 'sat', keys: KEYS }] });

  it('version_prefix: cashuA for a V3 token, cashuB for V4', () => {
    const plain = (p: Proof) => ({ id: ID, amount: Number(p.amount.toString()), secret: p.secret, C: p.C, dleq: p.dleq });
    const v3 = 'cashuA' + Buffer.from(JSON.stringify({ token: [{ mint: TOKEN.mint, proofs: TOKEN.proofs.map(plain) }], unit: 'sat' })).toString('base64url');
    expect(decode(v3).version_prefix).toBe('cashuA');
    expect(decode(v3, view).version_prefix).toBe('cashuA');
    expect(decode(TEXT).version_prefix).toBe('cashuB');
  });

  it('a memo is reported as written; without one there is no memo field', () => {
    const withMemo = getEncodedToken({ ...TOKEN, memo: 'rent, march' });
    expect(decode(withMemo, view).memo).toBe('rent, march');
    expect(decode(withMemo).memo).toBe('rent, march');
    expect('memo' in decode(TEXT, view)).toBe(false);
  });

  it('keyset_id only when every proof is under one keyset: proofs under two (the same keys as v01 and v00) → all valid, no keyset_id', () => {
    const mixed = getEncodedToken({ ...TOKEN, proofs: TOKEN.proofs.map((p, i) => ({ ...p, id: i < 3 ? ID : v00 })) });
    const m = decode(mixed, both);
    expect(m.all_valid).toBe(true);
    expect((m.proofs as { id: string }[]).map((p) => p.id)).toEqual([ID, ID, ID, v00, v00, v00]);
    expect('keyset_id' in m).toBe(false);
    expect(decode(TEXT, both).keyset_id).toBe(ID);
  });

  it('a proof under a keyset the document does not hold: the refusal lists every keyset it holds, comma-separated', () => {
    const other = '00' + 'ab'.repeat(7);
    const t = getEncodedToken({ ...TOKEN, proofs: TOKEN.proofs.map((p) => ({ ...p, id: other })) });
    expect(refused(() => decode(t, both), 'E_TOKEN_MISMATCH')).toContain(`--keyset does not hold keyset ${other} (it holds ${ID}, ${v00});`);
  });

  it('a short id matching two keysets: the refusal lists both, comma-separated', () => {
    const twin = { ...view.keysets[0]!, id: ID.slice(0, 16) + 'ff'.repeat(25) };
    const short = getEncodedToken(TOKEN); // cashu-ts writes the v01 id short
    expect(refused(() => tokenMessage('regtest', short, decodeToken(short), { keysets: [view.keysets[0]!, twin] }), 'E_TOKEN_MISMATCH')).toContain(`(${ID}, ${twin.id}): it is ambiguous`);
  });

  it('a proof id that is only a prefix of a keyset id (not NUT-00\'s short form) names no keyset: refused, not checked against it', () => {
    // decodeToken refuses such an id; tokenMessage is given the token as a library caller builds it
    const t = decodeToken(TEXT);
    for (const id of [ID.slice(0, 10), '', ID.slice(0, 30)]) {
      const odd: Token = { ...t, proofs: t.proofs.map((p) => ({ ...p, id })) };
      expect(refused(() => tokenMessage('regtest', TEXT, odd, view), 'E_TOKEN_MISMATCH'), id).toContain(`--keyset does not hold keyset ${id} `);
    }
  });

  it('a C that is not a point (a token built by a library caller) → E_BAD_POINT naming C', () => {
    const t = decodeToken(TEXT);
    const notPoint = Uint8Array.of(2, ...new Uint8Array(32).fill(0xff)); // x ≥ p: no point
    const odd: Token = { ...t, proofs: t.proofs.map((p, i) => (i === 0 ? { ...p, C: notPoint } : p)) };
    expect(refused(() => tokenMessage('regtest', TEXT, odd, view), 'E_BAD_POINT')).toMatch(/^C is not a point on secp256k1$/);
  });
});
