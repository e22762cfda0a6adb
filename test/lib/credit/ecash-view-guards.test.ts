/**
 * Issue 42, items 3–5: tests that turn red when a check of the token reader is removed or
 * loosened by one (each was planted and seen red; the commit messages say which).
 *
 * 3. A `--keyset` document whose keys do not hash to the id it names is refused — one
 *    key swapped, the id, unit and fee left as the mint announced them (version 00 and 01,
 *    and inside a credit/offer).
 * 4. A token is reported `all_valid: true` only if every proof carries its DLEQ with r, the
 *    DLEQ verifies, and the proof's keyset, unit, amount and mint are the document's.
 * 5. A V3 token naming several mints is refused whole (E_BAD_TOKEN), its proofs real and
 *    non-empty: reading the first mint's proofs only would drop the others silently.
 *
 * Expected ids are hashed here with node:crypto from NUT-02's text; tokens are made by
 * cashu-ts; nothing expected is computed by src/.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getDecodedToken, getEncodedToken, type Proof } from '@cashu/cashu-ts';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers.ts';
import { refusal } from '../../setup/refusal.ts';
import { keysetFromDocument, tokenMessage } from '../../../src/lib/credit/ecash-view.ts';
import { decodeToken, encodeTokenV4 } from '../../../src/lib/ecash/token.ts';

const fixture = (p: string) => readFileSync(join(ROOT, 'fixtures/credit', p), 'utf8');
const TEXT = fixture('token.txt').trim();
const KEYSET = JSON.parse(fixture('keyset.json'));
const OFFER = JSON.parse(fixture('ecash-offer.json'));
const ID = KEYSET.keysets[0].id as string;
const KEYS = KEYSET.keysets[0].keys as Record<string, string>;
const TOKEN = getDecodedToken(TEXT, [ID]);
const decode = (text: string, doc?: unknown) => tokenMessage('regtest', text, decodeToken(text), doc === undefined ? undefined : keysetFromDocument(doc));

const sorted = (keys: Record<string, string>) => Object.entries(keys).sort(([a], [b]) => (BigInt(a) < BigInt(b) ? -1 : 1));
/** NUT-02 version 00: the first 7 bytes of SHA-256 over the keys' bytes, by amount. */
const v00Id = (keys: Record<string, string>) => '00' + createHash('sha256').update(Buffer.concat(sorted(keys).map(([, k]) => Buffer.from(k, 'hex')))).digest('hex').slice(0, 14);
/** NUT-02 version 01: SHA-256 of "amount:key,…|unit:U[|input_fee_ppk:F]". */
const v01Id = (keys: Record<string, string>, unit: string, fee?: number) =>
  '01' + createHash('sha256').update(sorted(keys).map(([a, k]) => `${a}:${k}`).join(',') + `|unit:${unit}` + (fee ? `|input_fee_ppk:${fee}` : ''), 'utf8').digest('hex');

/** The fixture's keys with the key of amount 1 replaced by the key of amount 2 (a valid point, another key). */
const SWAPPED = { ...KEYS, '1': KEYS['2']! };
/** The fixture token's proofs under another keyset id. */
const under = (id: string, proofs: Proof[] = TOKEN.proofs) => getEncodedToken({ ...TOKEN, proofs: proofs.map((p) => ({ ...p, id })) });

describe('issue 42 item 3: a keyset whose keys do not hash to the id it names is refused', () => {
  it('the unaltered documents are accepted (the test keys hash, by test code, to the ids they name)', () => {
    expect(v01Id(KEYS, 'sat', 100)).toBe(ID);
    expect(keysetFromDocument(KEYSET).keysets.map((k) => k.id)).toEqual([ID]);
    expect(keysetFromDocument({ keysets: [{ id: v00Id(KEYS), unit: 'sat', keys: KEYS }] }).keysets.map((k) => k.id)).toEqual([v00Id(KEYS)]);
    expect(OFFER.ecash.keyset_id).toBe(ID);
    expect(keysetFromDocument(OFFER).keysets.map((k) => k.id)).toEqual([ID]);
  });

  it('version 01: one key swapped, id, unit and fee as announced → E_KEYSET_ID_MISMATCH naming the hash the keys give', () => {
    const doc = { keysets: [{ ...KEYSET.keysets[0], keys: SWAPPED }] };
    const e = refusal(() => keysetFromDocument(doc), 'E_KEYSET_ID_MISMATCH', 4);
    expect(e.message).toContain(`hash to ${v01Id(SWAPPED, 'sat', 100).slice(0, 18)}…`);
    // and a token under that id is never checked against the swapped keys
    refusal(() => decode(TEXT, doc), 'E_KEYSET_ID_MISMATCH', 4);
  });

  it('version 00: one key swapped under the id of the true keys → E_KEYSET_ID_MISMATCH naming the hash the keys give', () => {
    const doc = { keysets: [{ id: v00Id(KEYS), unit: 'sat', keys: SWAPPED }] };
    expect(v00Id(SWAPPED)).not.toBe(v00Id(KEYS));
    expect(refusal(() => keysetFromDocument(doc), 'E_KEYSET_ID_MISMATCH', 4).message).toContain(`these keys hash to ${v00Id(SWAPPED)}`);
  });

  it('a credit/offer whose ecash keys are swapped → E_KEYSET_ID_MISMATCH', () => {
    refusal(() => keysetFromDocument({ ...OFFER, ecash: { ...OFFER.ecash, keys: SWAPPED } }), 'E_KEYSET_ID_MISMATCH', 4);
  });
});

describe('issue 42 item 4: all_valid only when every proof is checked against the document', () => {
  it('the fixture token is all_valid against its keyset (the baseline the refusals below depart from)', () => {
    const m = decode(TEXT, KEYSET) as { all_valid: boolean; proofs: { dleq: string }[] };
    expect(m.all_valid).toBe(true);
    expect(m.proofs.map((p) => p.dleq)).toEqual(Array(TOKEN.proofs.length).fill('valid'));
  });

  it('one proof of six without its DLEQ → E_BAD_DLEQ, not all_valid', () => {
    const proofs = TOKEN.proofs.map((p, i) => (i === 3 ? ({ ...p, dleq: undefined } as Proof) : p));
    expect(refusal(() => decode(getEncodedToken({ ...TOKEN, proofs }), KEYSET), 'E_BAD_DLEQ', 4).message).toMatch(/^proof 3 .*carries no DLEQ/);
  });

  it('a DLEQ without its blinding factor r (e and s only) → E_BAD_DLEQ: it cannot be checked offline', () => {
    // cashu-ts will not write such a proof; the V4 encoder of src/ does (input only: the expectation is the refusal)
    const t = decodeToken(TEXT);
    const bare = encodeTokenV4({ ...t, proofs: t.proofs.map((p) => ({ ...p, dleq: { e: p.dleq!.e, s: p.dleq!.s } })) });
    expect(decodeToken(bare).proofs.every((p) => p.dleq && p.dleq.e.length === 32 && p.dleq.r === undefined)).toBe(true);
    expect(refusal(() => decode(bare, KEYSET), 'E_BAD_DLEQ', 4).message).toMatch(/^proof 0 .*carries no DLEQ/);
  });

  it('one proof whose DLEQ s is altered (r kept) → E_BAD_DLEQ, not all_valid', () => {
    const proofs = TOKEN.proofs.map((p, i) => (i === 5 ? { ...p, dleq: { ...p.dleq!, s: p.dleq!.s.slice(0, 62) + (p.dleq!.s.endsWith('00') ? '01' : '00') } } : p));
    expect(refusal(() => decode(getEncodedToken({ ...TOKEN, proofs }), KEYSET), 'E_BAD_DLEQ', 4).message).toMatch(/^proof 5 .*does not show C was signed/);
  });

  it('proofs naming another keyset than the document holds → E_TOKEN_MISMATCH, not checked against the document\'s keys', () => {
    const other = v00Id(KEYS); // the same keys, another id: the proofs' DLEQs would verify against them
    expect(refusal(() => decode(under(other), KEYSET), 'E_TOKEN_MISMATCH', 4).message).toContain(`--keyset does not hold keyset ${other}`);
  });

  it('a token in another unit than the keyset signs → E_TOKEN_MISMATCH', () => {
    const usd = getEncodedToken({ ...TOKEN, unit: 'usd' });
    expect(refusal(() => decode(usd, KEYSET), 'E_TOKEN_MISMATCH', 4).message).toMatch(/the token is in "usd"; keyset .* signs "sat"/);
  });

  it('a proof for an amount the keyset has no key for → E_TOKEN_MISMATCH', () => {
    // the keyset of amounts 1…256 only (its v00 id hashed here); the token's 512-sat proof has no key in it
    const small = Object.fromEntries(sorted(KEYS).filter(([a]) => BigInt(a) <= 256n));
    const id = v00Id(small);
    expect(TOKEN.proofs.map((p) => Number(p.amount.toString()))).toContain(512);
    expect(refusal(() => decode(under(id), { keysets: [{ id, unit: 'sat', keys: small }] }), 'E_TOKEN_MISMATCH', 4).message).toContain(`has no key for amount 512`);
  });

  it('checked against a credit/offer: a token naming another mint than the offer\'s → E_TOKEN_MISMATCH', () => {
    expect(TOKEN.mint).toBe(OFFER.ecash.mint_url);
    expect((decode(TEXT, OFFER) as { all_valid: boolean }).all_valid).toBe(true);
    const evil = getEncodedToken({ ...TOKEN, mint: 'https://evil.example' });
    expect(refusal(() => decode(evil, OFFER), 'E_TOKEN_MISMATCH', 4).message).toContain('https://evil.example');
  });
});

describe('issue 42 item 5: a V3 token naming several mints is refused whole', () => {
  const plain = (p: Proof) => ({ id: p.id, amount: Number(p.amount.toString()), secret: p.secret, C: p.C, dleq: p.dleq });
  const v3 = (token: unknown[]) => 'cashuA' + Buffer.from(JSON.stringify({ token, unit: 'sat' })).toString('base64url');
  const first = TOKEN.proofs.slice(0, 3).map(plain);
  const second = TOKEN.proofs.slice(3).map(plain);

  it('each mint\'s proofs alone decode (non-empty, valid): the refusal below is for naming two mints, not for its proofs', () => {
    expect(decodeToken(v3([{ mint: TOKEN.mint, proofs: first }])).proofs).toHaveLength(3);
    expect(decodeToken(v3([{ mint: 'https://other.example', proofs: second }])).proofs).toHaveLength(3);
    expect((decode(v3([{ mint: TOKEN.mint, proofs: first }]), KEYSET) as { all_valid: boolean }).all_valid).toBe(true);
  });

  it('two mints, three proofs each → E_BAD_TOKEN "several mints" (not the first mint\'s three proofs, the others dropped)', () => {
    const two = v3([{ mint: TOKEN.mint, proofs: first }, { mint: 'https://other.example', proofs: second }]);
    expect(refusal(() => decodeToken(two), 'E_BAD_TOKEN', 3).message).toMatch(/several mints/);
    // the same mint named twice is two entries as well
    refusal(() => decodeToken(v3([{ mint: TOKEN.mint, proofs: first }, { mint: TOKEN.mint, proofs: second }])), 'E_BAD_TOKEN', 3);
  });
});
