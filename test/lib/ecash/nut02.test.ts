/**
 * NUT-02 keyset ids (src/lib/ecash/nut02.ts) against three sources that share nothing with
 * it: the spec's text (the preimage written here by hand, hashed with node:crypto), the
 * official vectors (test/vectors/cashu/nut02.json), and what real Nutshell 0.20.3 mints
 * announced (test/vectors/nutshell/, captured from running mints: ids next to their keys,
 * unit, fee and final expiry). Then the properties a checker relies on: an id binds every
 * field it commits to, and nothing else.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseKeys } from '../../../src/lib/ecash/nut01.ts';
import {
  isKeysetId, keysetId, keysetIdMatches, keysetIdV00, keysetIdV01, keysetIdV01Preimage, keysetIdVersion, keysetIds, type KeysetKeys,
} from '../../../src/lib/ecash/nut02.ts';
import { TEST_DIR, loadVector } from '../../helpers.ts';

const v02 = loadVector('cashu/nut02.json');
const sha256hex = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

/** The spec's steps 1–7, by hand: "amount:hex" joined by ",", "|unit:", fee if non-zero, expiry if non-zero. */
function specPreimage(keys: Record<string, string>, unit: string, fee: number | null, expiry: number | null): string {
  const sorted = Object.entries(keys).sort(([a], [b]) => (BigInt(a) < BigInt(b) ? -1 : 1));
  let s = sorted.map(([a, k]) => `${a}:${k}`).join(',') + `|unit:${unit}`;
  if (fee) s += `|input_fee_ppk:${fee}`;
  if (expiry) s += `|final_expiry:${expiry}`;
  return s;
}

describe('NUT-02 keyset ids: the spec, its vectors', () => {
  it('v01 vector 1, step by step: the preimage the spec describes, its SHA-256, the version byte', () => {
    const c = v02.v01[0];
    expect(c.input_fee_ppk).toBe(100);
    expect(c.final_expiry).toBe(2059210353);
    const { keys } = parseKeys(c.keys);
    const pre = keysetIdV01Preimage(keys, c.unit, c.input_fee_ppk, c.final_expiry);
    expect(pre).toBe(specPreimage(c.keys, 'sat', 100, 2059210353));
    expect(pre.endsWith('|unit:sat|input_fee_ppk:100|final_expiry:2059210353')).toBe(true);
    expect('01' + sha256hex(pre)).toBe(c.id);
    expect(keysetIdV01(keys, c.unit, c.input_fee_ppk, c.final_expiry)).toBe(c.id);
  });

  it('every vector: id, preimage, version, and the match against its own metadata', () => {
    let n = 0;
    for (const c of v02.v00) {
      const { keys } = parseKeys(c.keys);
      const concat = Buffer.concat(Object.entries(c.keys as Record<string, string>).sort(([a], [b]) => (BigInt(a) < BigInt(b) ? -1 : 1)).map(([, k]) => Buffer.from(k, 'hex')));
      expect(c.id).toBe('00' + sha256hex(concat).slice(0, 14));
      expect(keysetIdV00(keys)).toBe(c.id);
      expect(keysetIdVersion(c.id)).toBe('00');
      expect(keysetId('00', keys, { unit: 'sat' })).toBe(c.id);
      expect(keysetIdMatches(c.id, keys, { unit: 'usd', input_fee_ppk: 7 })).toBe(true); // v00 commits to the keys only
      n++;
    }
    for (const c of v02.v01) {
      const { keys } = parseKeys(c.keys);
      const meta = { unit: c.unit, input_fee_ppk: c.input_fee_ppk, final_expiry: c.final_expiry };
      expect(keysetIdV01Preimage(keys, c.unit, c.input_fee_ppk, c.final_expiry)).toBe(specPreimage(c.keys, c.unit, c.input_fee_ppk, c.final_expiry));
      expect(keysetIdV01(keys, c.unit, c.input_fee_ppk, c.final_expiry)).toBe(c.id);
      expect(keysetId('01', keys, meta)).toBe(c.id);
      expect(keysetIdVersion(c.id)).toBe('01');
      expect(keysetIdMatches(c.id, keys, meta)).toBe(true);
      expect(keysetIdMatches(c.id, keys, { ...meta, input_fee_ppk: (c.input_fee_ppk ?? 0) + 1 })).toBe(false);
      n++;
    }
    expect(n).toBe(5);
  });
});

/** Every keyset a captured Nutshell mint announced, with the keys it served for it. */
function nutshellKeysets(): { folder: string; id: string; active: boolean; unit: string; input_fee_ppk: number; final_expiry: number | null; keys: KeysetKeys }[] {
  const root = join(TEST_DIR, 'vectors', 'nutshell');
  const out = [];
  for (const folder of readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    const listed = loadVector(`nutshell/${folder}/keysets.json`).keysets;
    for (const k of listed) {
      const served = loadVector(`nutshell/${folder}/keys-${k.id.slice(0, 16)}.json`).keysets;
      expect(served.length).toBe(1);
      expect(served[0].id).toBe(k.id);
      out.push({ folder, ...k, keys: parseKeys(served[0].keys).keys });
    }
  }
  return out;
}

describe('NUT-02 keyset ids: what Nutshell 0.20.3 announced', () => {
  const all = nutshellKeysets();

  it('all 13 announced keysets (7 mint states) match their keys and metadata; none of the 64-key sets is partial', () => {
    expect(all.length).toBe(13);
    for (const k of all) {
      expect(k.keys.size, k.folder).toBe(64);
      expect(keysetIdMatches(k.id, k.keys, k), `${k.folder} ${k.id}`).toBe(true);
    }
  });

  it('a fresh default mint: v01 committing to fee 100; with MINT_INPUT_FEE_PPK=0 the fee is left out', () => {
    const dflt = all.find((k) => k.folder === 'default')!;
    expect(dflt).toMatchObject({ id: '01884a74bb2fc5ee6e5f958f89f9e4e6cf79241fbc9fd1012d6811b054a78beffe', input_fee_ppk: 100, final_expiry: null });
    expect(keysetIdV01(dflt.keys, 'sat', 100)).toBe(dflt.id);
    expect(keysetIdV01(dflt.keys, 'sat', 0)).not.toBe(dflt.id);
    const fee0 = all.find((k) => k.folder === 'fee0')!;
    expect(fee0.id).toBe('01d8a63077d0a51f9855f066409782ffcb322dc8a2265291865221ed06c039f6bc');
    expect(fee0.keys).toEqual(dflt.keys); // the same seed and path: only the fee differs
    expect(keysetIdV01(fee0.keys, 'sat', 0)).toBe(fee0.id);
    expect(keysetIdV01(fee0.keys, 'sat', null)).toBe(fee0.id);
  });

  it('a mint upgraded from 0.19 keeps the v00 id of the same keys (which commits to no fee, though it charges 100)', () => {
    const up = all.find((k) => k.folder === 'upgraded-0.19')!;
    expect(up).toMatchObject({ id: '009a1f293253e41e', input_fee_ppk: 100 });
    expect(keysetIdV00(up.keys)).toBe(up.id);
    expect(up.keys).toEqual(all.find((k) => k.folder === 'default')!.keys);
  });

  it("Nutshell's rotation RPC stores final_expiry 0 and hashes \"|final_expiry:0\", which the spec's form leaves out: both are accepted", () => {
    const zero = all.filter((k) => k.final_expiry === 0);
    expect(zero.map((k) => k.folder)).toEqual(['default-rotated', 'default-rotated-once', 'upgraded-0.19-rotated']);
    for (const k of zero) {
      expect(keysetIdV01(k.keys, k.unit, k.input_fee_ppk, 0)).not.toBe(k.id); // the spec: 0 is omitted
      expect(keysetIdV01(k.keys, k.unit, k.input_fee_ppk, 0, 'nutshell')).toBe(k.id);
      expect('01' + sha256hex(specPreimage(Object.fromEntries([...k.keys].map(([a, K]) => [a.toString(), Buffer.from(K).toString('hex')])), 'sat', k.input_fee_ppk, null) + '|final_expiry:0')).toBe(k.id);
      expect(keysetIds('01', k.keys, k)).toEqual([keysetIdV01(k.keys, k.unit, k.input_fee_ppk, 0), k.id]);
      expect(keysetIdMatches(k.id, k.keys, { ...k, final_expiry: null })).toBe(false); // null is not 0 in Nutshell's form
    }
  });

  it('a final expiry that is set is hashed as the spec says (index 3 of the rotated mint)', () => {
    const k = all.find((x) => x.final_expiry === 2059210353)!;
    expect(k.folder).toBe('default-rotated');
    expect(keysetIdV01(k.keys, 'sat', 100, 2059210353)).toBe(k.id);
  });
});

describe('NUT-02 keyset ids: properties', () => {
  const base = parseKeys(v02.v01[1].keys).keys; // 64 real keys
  const metaArb = fc.record({
    unit: fc.constantFrom('sat', 'msat', 'usd'),
    input_fee_ppk: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: null }),
    final_expiry: fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: null }),
  });
  type Meta = { unit: string; input_fee_ppk: number | null; final_expiry: number | null };
  /** What the spec's preimage of two metadata has in common: fee 0 is none, expiry 0 is none. */
  const same = (a: Meta, b: Meta) => a.unit === b.unit && (a.input_fee_ppk ?? 0) === (b.input_fee_ppk ?? 0) && (a.final_expiry ?? 0) === (b.final_expiry ?? 0);

  it('a v01 id matches other metadata exactly when it commits to the same values (fee 0 = none; expiry 0 = none in the spec form)', () => {
    let matched = 0;
    let refused = 0;
    fc.assert(fc.property(metaArb, metaArb, fc.boolean(), (m1, m2, nutshellForm) => {
      const id = keysetIdV01(base, m1.unit, m1.input_fee_ppk, m1.final_expiry, nutshellForm ? 'nutshell' : 'spec');
      const ok = keysetIdMatches(id, base, m2);
      const nutshellZero = nutshellForm && m1.final_expiry === 0;
      const expected = nutshellZero ? m2.unit === m1.unit && (m2.input_fee_ppk ?? 0) === (m1.input_fee_ppk ?? 0) && m2.final_expiry === 0 : same(m1, m2);
      expect(ok).toBe(expected);
      if (ok) matched++;
      else refused++;
    }), {
      numRuns: 300,
      examples: [
        [{ unit: 'sat', input_fee_ppk: 100, final_expiry: 0 }, { unit: 'sat', input_fee_ppk: 100, final_expiry: null }, true],
        [{ unit: 'sat', input_fee_ppk: 100, final_expiry: 0 }, { unit: 'sat', input_fee_ppk: 100, final_expiry: 0 }, true],
        [{ unit: 'sat', input_fee_ppk: 0, final_expiry: 0 }, { unit: 'sat', input_fee_ppk: null, final_expiry: null }, false],
        [{ unit: 'usd', input_fee_ppk: 5, final_expiry: 9 }, { unit: 'usd', input_fee_ppk: 5, final_expiry: 9 }, false],
      ],
    });
    // Both outcomes occur, so neither branch passes by never running.
    expect(refused).toBeGreaterThan(100);
    expect(matched).toBeGreaterThanOrEqual(3);
  });

  it('any one key changed, dropped or moved to another amount changes both ids; the order keys are given in does not', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 63 }), fc.integer({ min: 0, max: 63 }), fc.constantFrom('change', 'drop', 'swap'), fc.boolean(), (i, j, how, shuffle) => {
      const entries = [...base.entries()];
      const v00 = keysetIdV00(base);
      const v01 = keysetIdV01(base, 'sat', 100);
      const reordered: KeysetKeys = new Map(shuffle ? [...entries].reverse() : entries);
      expect(keysetIdV00(reordered)).toBe(v00);
      expect(keysetIdV01(reordered, 'sat', 100)).toBe(v01);
      const altered = new Map(entries);
      if (how === 'change') altered.set(entries[i]![0], entries[(i + 1) % 64]![1]);
      else if (how === 'drop') altered.delete(entries[i]![0]);
      else {
        if (i === j) return;
        altered.set(entries[i]![0], entries[j]![1]);
        altered.set(entries[j]![0], entries[i]![1]);
      }
      expect(keysetIdV00(altered)).not.toBe(v00);
      expect(keysetIdV01(altered, 'sat', 100)).not.toBe(v01);
      expect(keysetIdMatches(v01, altered, { unit: 'sat', input_fee_ppk: 100 })).toBe(false);
    }), { numRuns: 100 });
  });

  it('ids of the wrong form are no keyset id: no version, no match', () => {
    const good = keysetIdV00(base);
    for (const bad of ['', '00', good.slice(0, 15), good + '0', good.toUpperCase(), '02' + good.slice(2), '01' + good.slice(2), 'AJkfKTJT5B4=']) {
      expect(isKeysetId(bad), bad).toBe(false);
      expect(keysetIdVersion(bad)).toBe(undefined);
      expect(keysetIdMatches(bad, base, { unit: 'sat' })).toBe(false);
    }
  });
});
