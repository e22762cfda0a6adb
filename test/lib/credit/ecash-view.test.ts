/**
 * Tokens read as a wallet reads them (issue 36, findings 2 and 3): a proof counted once
 * (the same Y twice is refused before any signature is checked), a cap on a token's
 * proofs, a token decoded without a keyset (structure, amounts, ids; `verified: false`),
 * a mint's GET /v1/keys answer accepted with either keyset id version (NUT-02 00 and 01,
 * its input_fee_ppk and final_expiry), a V4 token's short keyset id resolved, and a wrong
 * keyset refused saying which keyset the proofs need and where to get it.
 *
 * Expected values come from test code: cashu-ts decodes and re-encodes tokens, the
 * test-code Nutshell mint (test/independent/cashu.ts) gives Y = hash_to_curve(secret),
 * and NUT-02 version-01 ids are hashed here with node:crypto from the spec's text.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { getDecodedToken, getEncodedToken, type Proof } from '@cashu/cashu-ts';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers.ts';
import { refusal } from '../../setup/refusal.ts';
import { hashToCurve, nutshellKeyset } from '../../independent/cashu.ts';
import { encodeCompressed } from '../../independent/secp256k1.ts';
import { Value } from '@sinclair/typebox/value';
import { keysetFromDocument, tokenMessage } from '../../../src/lib/credit/ecash-view.ts';
import { TokenSchema } from '../../../src/lib/credit/schemas-ecash.ts';
import { MAX_TOKEN_PROOFS, decodeToken, encodeTokenV4 } from '../../../src/lib/ecash/token.ts';

const fixture = (p: string) => readFileSync(join(ROOT, 'fixtures/credit', p), 'utf8');
const TEXT = fixture('token.txt').trim();
const KEYSET = JSON.parse(fixture('keyset.json'));
// The fixture's keyset: Nutshell's test seed as a fresh 0.20.3 mint announces it (NUT-02 version 01, input fee 100).
const ID = KEYSET.keysets[0].id as string;
const TOKEN = getDecodedToken(TEXT, [ID]);
const yOf = (secret: string) => Buffer.from(encodeCompressed(hashToCurve(Buffer.from(secret, 'utf8')))).toString('hex');
const decode = (text: string, doc?: unknown) => tokenMessage('regtest', text, decodeToken(text), doc === undefined ? undefined : keysetFromDocument(doc));

/** NUT-02 version 01, from the spec's text: SHA-256 of "amount:key,…|unit:U[|input_fee_ppk:F][|final_expiry:T]". */
function v01Id(keys: Record<string, string>, unit: string, fee?: number, expiry?: number): string {
  let pre = Object.entries(keys).sort(([a], [b]) => (BigInt(a) < BigInt(b) ? -1 : 1)).map(([a, k]) => `${a}:${k}`).join(',') + `|unit:${unit}`;
  if (fee) pre += `|input_fee_ppk:${fee}`;
  if (expiry) pre += `|final_expiry:${expiry}`;
  return '01' + createHash('sha256').update(pre, 'utf8').digest('hex');
}

describe('a proof is counted once', () => {
  it('one 1024-sat proof ten times: E_DUPLICATE_PROOF (exit 4), with or without a keyset — not amount 10240, all_valid', () => {
    const copies = getEncodedToken({ ...TOKEN, proofs: Array(10).fill(TOKEN.proofs[0]) });
    const e = refusal(() => decode(copies, KEYSET), 'E_DUPLICATE_PROOF', 4);
    expect(e.message).toMatch(/^proof 1 repeats proof 0 \(the same Y/);
    refusal(() => decode(copies), 'E_DUPLICATE_PROOF', 4);
    // V3 too
    const plain = (p: Proof) => ({ id: p.id, amount: Number(p.amount.toString()), secret: p.secret, C: p.C });
    const v3 = 'cashuA' + Buffer.from(JSON.stringify({ token: [{ mint: TOKEN.mint, proofs: [plain(TOKEN.proofs[1]!), plain(TOKEN.proofs[0]!), plain(TOKEN.proofs[1]!)] }], unit: 'sat' })).toString('base64url');
    expect(refusal(() => decode(v3), 'E_DUPLICATE_PROOF', 4).message).toMatch(/^proof 2 repeats proof 0/);
  });

  it('before any signature work: a repeated proof whose DLEQ is broken is refused as a duplicate, not as a bad DLEQ', () => {
    const broken: Proof = { ...TOKEN.proofs[0]!, dleq: { ...TOKEN.proofs[0]!.dleq!, s: 'ff'.repeat(31) + '00' } };
    refusal(() => decode(getEncodedToken({ ...TOKEN, proofs: [broken] }), KEYSET), 'E_BAD_DLEQ', 4); // alone: its DLEQ fails
    refusal(() => decode(getEncodedToken({ ...TOKEN, proofs: [broken, ...TOKEN.proofs] }), KEYSET), 'E_DUPLICATE_PROOF', 4);
  });

  it('the same secret under another C is the same Y: refused', () => {
    const other: Proof = { ...TOKEN.proofs[0]!, C: TOKEN.proofs[1]!.C };
    refusal(() => decode(getEncodedToken({ ...TOKEN, proofs: [TOKEN.proofs[0]!, other] })), 'E_DUPLICATE_PROOF', 4);
  });
});

describe('a cap on a token\'s proofs', () => {
  const many = (n: number) => getEncodedToken({ mint: TOKEN.mint, unit: 'sat', proofs: Array.from({ length: n }, (_, i) => ({ id: ID, amount: 1, secret: `secret-${i}`, C: TOKEN.proofs[0]!.C } as unknown as Proof)) });

  it(`${MAX_TOKEN_PROOFS} proofs decode; ${MAX_TOKEN_PROOFS + 1} are E_TOKEN_TOO_LARGE (exit 3) naming the cap`, () => {
    expect(MAX_TOKEN_PROOFS).toBe(1000); // Nutshell's default mint_max_request_length
    const ok = decode(many(MAX_TOKEN_PROOFS)) as { proofs: unknown[]; amount_sat: number };
    expect(ok.proofs).toHaveLength(1000);
    expect(ok.amount_sat).toBe(1000);
    expect(refusal(() => decode(many(MAX_TOKEN_PROOFS + 1)), 'E_TOKEN_TOO_LARGE', 3).message).toMatch(/carries 1001 proofs; a mint takes at most 1000/);
  });

  it('a 1 MiB token of copies of one proof is refused at once (it took 33 s to decode and counted every copy)', () => {
    const big = getEncodedToken({ ...TOKEN, proofs: Array(3400).fill(TOKEN.proofs[0]) });
    expect(big.length).toBeGreaterThan(1_000_000);
    expect(big.length).toBeLessThan(1 << 20);
    const started = performance.now();
    refusal(() => decode(big, KEYSET), 'E_TOKEN_TOO_LARGE', 3);
    expect(performance.now() - started).toBeLessThan(5_000); // typically ~0.1 s
    const under = getEncodedToken({ ...TOKEN, proofs: Array(MAX_TOKEN_PROOFS).fill(TOKEN.proofs[0]) });
    refusal(() => decode(under, KEYSET), 'E_DUPLICATE_PROOF', 4);
  });
});

describe('decoded without a keyset, as a wallet reads it', () => {
  it('structure, amounts, ids and Y of every proof, marked verified: false; the same token verified with its keyset', () => {
    const plain = decode(TEXT) as Record<string, unknown> & { proofs: Record<string, unknown>[] };
    expect(plain).toEqual({
      type: 'credit/token', version: 1, network: 'regtest', version_prefix: 'cashuB', mint: TOKEN.mint, unit: 'sat',
      amount_sat: TOKEN.proofs.reduce((s, p) => s + Number(p.amount), 0), verified: false,
      proofs: TOKEN.proofs.map((p) => ({ id: p.id, amount: Number(p.amount), Y: yOf(p.secret), C: p.C, dleq: 'not checked' })),
    });
    expect(plain.amount_sat).toBe(1000);
    const verified = decode(TEXT, KEYSET) as Record<string, unknown>;
    expect(verified).toEqual({ ...plain, keyset_id: ID, verified: true, all_valid: true, proofs: plain.proofs.map((p) => ({ ...p, dleq: 'valid' })) });
  });

  it('a proof without its DLEQ is shown "absent" without a keyset, and refused (E_BAD_DLEQ) with one', () => {
    const bare = getEncodedToken({ ...TOKEN, proofs: TOKEN.proofs.map(({ dleq: _d, ...p }) => p as Proof) });
    expect((decode(bare) as { proofs: { dleq: string }[] }).proofs.map((p) => p.dleq)).toEqual(Array(6).fill('absent'));
    expect(refusal(() => decode(bare, KEYSET), 'E_BAD_DLEQ', 4).message).toMatch(/carries no DLEQ proof/);
  });
});

describe('a mint\'s GET /v1/keys answer of either id version', () => {
  const keys = KEYSET.keysets[0].keys as Record<string, string>;
  // the keys of Nutshell's test seed, as a fresh 0.20 mint with its default input fee (100 ppk) announces them
  const V01 = v01Id(keys, 'sat', 100);
  const v01Answer = { keysets: [{ id: V01, unit: 'sat', active: true, input_fee_ppk: 100, keys }] };
  // cashu-ts writes a version-01 id in its short form (NUT-00), as wallets do; the full form with our encoder
  const underV01 = (short: boolean) => (short
    ? getEncodedToken({ ...TOKEN, proofs: TOKEN.proofs.map((p) => ({ ...p, id: V01 })) })
    : encodeTokenV4({ ...decodeToken(TEXT), proofs: decodeToken(TEXT).proofs.map((p) => ({ ...p, id: V01 })) }));
  // the same keys as a mint upgraded from 0.19 announces them (NUT-02 version 00: the keys alone, test code's hash)
  const V00 = nutshellKeyset('TEST_PRIVATE_KEY', undefined, { idVersion: '00' }).id;
  const v00Answer = { keysets: [{ id: V00, unit: 'sat', active: true, input_fee_ppk: 100, keys }] };
  const underV00 = encodeTokenV4({ ...decodeToken(TEXT), proofs: decodeToken(TEXT).proofs.map((p) => ({ ...p, id: V00 })) });

  it('the test keys are Nutshell\'s (test-code derivation), and version 01 is not version 00', () => {
    expect(Object.fromEntries([...nutshellKeyset('TEST_PRIVATE_KEY').publicKeys].map(([a, k]) => [a.toString(), k]))).toEqual(keys);
    expect(V01.length).toBe(66);
    expect(V01).toBe(ID); // the fixture's keyset is the fresh default mint's
    expect(V00).toMatch(/^00[0-9a-f]{14}$/);
  });

  it('a token under the version-01 id verifies against that answer, by its full id and by its short id (V4), and reads the same without a keyset', () => {
    for (const short of [false, true]) {
      const m = decode(underV01(short), v01Answer) as { keyset_id: string; proofs: { id: string; dleq: string }[]; all_valid: boolean };
      expect(m.keyset_id).toBe(V01);
      expect(m.proofs.map((p) => [p.id, p.dleq])).toEqual(Array(6).fill([V01, 'valid']));
      expect(m.all_valid).toBe(true);
      expect((decode(underV01(short)) as { proofs: { id: string }[] }).proofs.map((p) => p.id)).toEqual(Array(6).fill(short ? V01.slice(0, 16) : V01));
    }
  });

  it('the decoded message is a credit/token by its schema: a V4 short id as the token gives it (unverified), the full id once verified; an id of no NUT-02 form is not', () => {
    for (const short of [false, true]) for (const doc of [undefined, v01Answer]) expect([...Value.Errors(TokenSchema, decode(underV01(short), doc))].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
    const plain = decode(underV01(true)) as { proofs: { id: string }[] };
    expect(plain.proofs[0]!.id).toBe(V01.slice(0, 16));
    for (const id of ['02' + 'ab'.repeat(7), V01.slice(0, 18), V01.toUpperCase(), '00' + 'ab'.repeat(32), '00' + 'ab'.repeat(8)]) {
      expect(Value.Check(TokenSchema, { ...plain, proofs: plain.proofs.map((p) => ({ ...p, id })) }), id).toBe(false);
    }
  });

  it('a token under the version-00 id verifies against that answer (a mint upgraded from 0.19); under the version-01 answer it is another keyset\'s', () => {
    const m = decode(underV00, v00Answer) as { keyset_id: string; proofs: { id: string; dleq: string }[]; all_valid: boolean };
    expect([m.keyset_id, m.all_valid]).toEqual([V00, true]);
    expect(m.proofs.map((p) => [p.id, p.dleq])).toEqual(Array(6).fill([V00, 'valid']));
    expect(refusal(() => decode(underV00, v01Answer), 'E_TOKEN_MISMATCH', 4).message).toContain(`--keyset does not hold keyset ${V00}`);
  });

  it('every NUT-02 vector keyset is accepted as a /v1/keys answer; its fee or expiry changed, refused naming them', () => {
    const v = JSON.parse(readFileSync(join(ROOT, 'test/vectors/cashu/nut02.json'), 'utf8'));
    expect(v.v00).toHaveLength(2);
    expect(v.v01).toHaveLength(3);
    for (const c of v.v00) expect(keysetFromDocument({ keysets: [{ id: c.id, unit: 'sat', keys: c.keys }] }).keysets.map((k) => k.id)).toEqual([c.id]);
    for (const c of v.v01) {
      const answer = { id: c.id, unit: c.unit, input_fee_ppk: c.input_fee_ppk, final_expiry: c.final_expiry, keys: c.keys };
      expect(keysetFromDocument({ keysets: [answer] }).keysets.map((k) => k.id)).toEqual([c.id]);
      const e = refusal(() => keysetFromDocument({ keysets: [{ ...answer, input_fee_ppk: (c.input_fee_ppk ?? 0) + 1 }] }), 'E_KEYSET_ID_MISMATCH', 4);
      expect(e.message).toMatch(/NUT-02 version 01: a hash of its keys, unit, input_fee_ppk and final_expiry/);
      expect(e.message).toContain(`input_fee_ppk ${(c.input_fee_ppk ?? 0) + 1}`);
    }
  });

  it('every /v1/keys answer real Nutshell 0.20.3 mints gave (test/vectors/nutshell: fresh, fee 0, upgraded from 0.19, rotated) is accepted; the fixture token verifies against the fresh default mint\'s', () => {
    const dir = join(ROOT, 'test/vectors/nutshell');
    const files = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).flatMap((d) => readdirSync(join(dir, d.name)).filter((f) => /^keys(-[0-9a-f]+)?\.json$/.test(f)).map((f) => join(dir, d.name, f)));
    expect(files.length).toBe(20); // every keys*.json there (keysets.json carry no keys)
    let keysets = 0;
    for (const f of files) {
      const answer = JSON.parse(readFileSync(f, 'utf8'));
      expect(keysetFromDocument(answer).keysets.map((k) => k.id), f).toEqual(answer.keysets.map((k: { id: string }) => k.id));
      keysets += answer.keysets.length;
    }
    expect(keysets).toBe(22);
    const fresh = JSON.parse(readFileSync(join(dir, 'default/keys.json'), 'utf8'));
    expect(fresh.keysets[0].id).toBe(V01); // what test code hashed above is what the mint announced
    const m = decode(underV01(true), fresh) as { keyset_id: string; all_valid: boolean };
    expect([m.keyset_id, m.all_valid]).toEqual([V01, true]);
  });

  it('the issue\'s case: the mint\'s own /v1/keys answer (version 01) no longer reads as a wrong seed, and a version-00 answer whose keys are another\'s still does', () => {
    expect(keysetFromDocument(v01Answer).keysets[0]!.id).toBe(V01);
    const other = nutshellKeyset('ANOTHER_SEED', undefined, { idVersion: '00' });
    const wrongKeys = { keysets: [{ id: V00, unit: 'sat', keys: Object.fromEntries([...other.publicKeys].map(([a, k]) => [a.toString(), k])) }] };
    expect(refusal(() => keysetFromDocument(wrongKeys), 'E_KEYSET_ID_MISMATCH', 4).message).toMatch(new RegExp(`keyset ${V00} \\(NUT-02 version 00, a hash of its keys alone\\): these keys hash to ${other.id}`));
  });

  it('a /v1/keys answer with several keysets: each proof is checked against its own', () => {
    const other = nutshellKeyset('ANOTHER_SEED'); // v01 at fee 100
    const both = { keysets: [{ id: other.id, unit: 'sat', input_fee_ppk: 100, keys: Object.fromEntries([...other.publicKeys].map(([a, k]) => [a.toString(), k])) }, KEYSET.keysets[0]] };
    expect((decode(TEXT, both) as { keyset_id: string; all_valid: boolean }).keyset_id).toBe(ID);
  });
});

describe('a short keyset id resolved as NUT-00 says', () => {
  // No two real keysets share an id's first 8 bytes (that is a 64-bit collision), so the view is made here:
  // the fixture's keyset and another entry whose id has the same first 8 bytes.
  const view = keysetFromDocument(KEYSET);
  const twin = { ...view.keysets[0]!, id: ID.slice(0, 16) + 'ff'.repeat(25) };
  const short = getEncodedToken(TOKEN); // cashu-ts writes the v01 id short
  const full = TEXT; // our encoder writes it whole

  it('a short id that resolves to two known keysets fails the token: E_TOKEN_MISMATCH, "ambiguous", naming both', () => {
    expect(decodeToken(short).proofs[0]!.id).toBe(ID.slice(0, 16));
    const e = refusal(() => tokenMessage('regtest', short, decodeToken(short), { keysets: [view.keysets[0]!, twin] }), 'E_TOKEN_MISMATCH', 4);
    expect(e.message).toMatch(/ambiguous \(NUT-00\)/);
    expect(e.message).toContain(ID);
    expect(e.message).toContain(twin.id);
  });

  it('the full id is not ambiguous, nor is one keyset listed twice', () => {
    expect((tokenMessage('regtest', full, decodeToken(full), { keysets: [view.keysets[0]!, twin] }) as { keyset_id: string }).keyset_id).toBe(ID);
    expect((tokenMessage('regtest', short, decodeToken(short), { keysets: [view.keysets[0]!, view.keysets[0]!] }) as { keyset_id: string }).keyset_id).toBe(ID);
  });
});

describe('a wrong keyset says what is wrong and what to pass', () => {
  it('proofs under another keyset than --keyset holds: E_TOKEN_MISMATCH naming the token\'s keyset and where its keys come from (was "DLEQ other keyset against keyset X")', () => {
    const other = nutshellKeyset('ANOTHER_SEED');
    const doc = { keysets: [{ id: other.id, unit: 'sat', input_fee_ppk: 100, keys: Object.fromEntries([...other.publicKeys].map(([a, k]) => [a.toString(), k])) }] };
    const e = refusal(() => decode(TEXT, doc), 'E_TOKEN_MISMATCH', 4);
    expect(e.message).toContain(`--keyset does not hold keyset ${ID} (it holds ${other.id})`);
    expect(e.message).toContain(`GET /v1/keys/${ID}`);
    expect(e.message).toMatch(/leave out --keyset to read the token unverified/);
  });
});
