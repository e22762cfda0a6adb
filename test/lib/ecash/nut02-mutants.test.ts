/**
 * NUT-02 keyset id forms (src/lib/ecash/nut02.ts) pinned where `npm run mutate` found a
 * planted change passing every test (issue 42, deliverable 2): a full id is "00" + 14 hex
 * or "01" + 64 hex and nothing around it; NUT-00's short form of a version-01 id is its
 * first 8 bytes ("01" + 14 hex) and names only the keysets whose full id starts with it.
 * Ids are the fixture keyset's (a real Nutshell 0.20.3 mint's, test/vectors/nutshell) and
 * hand-written strings; expected answers are the spec's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers.ts';
import { isKeysetId, isShortKeysetId, keysetIdVersion, namesKeyset, shortKeysetId } from '../../../src/lib/ecash/nut02.ts';

const ID = JSON.parse(readFileSync(join(ROOT, 'fixtures/credit/keyset.json'), 'utf8')).keysets[0].id as string; // 01884a74…
const V00 = '009a1f293253e41e'; // Nutshell's TEST_PRIVATE_KEY keyset as version 00 (test/vectors/cashu.test.ts)
const SHORT = ID.slice(0, 16);

describe('NUT-02 id forms', () => {
  it('full ids: nothing before or after the form', () => {
    expect([keysetIdVersion(ID), keysetIdVersion(V00)]).toEqual(['01', '00']);
    for (const id of ['ab' + ID, ID + 'ab', 'ab' + V00, V00 + 'ab', SHORT, ID.toUpperCase()]) {
      expect(keysetIdVersion(id), id).toBeUndefined();
      expect(isKeysetId(id), id).toBe(false);
    }
  });

  it('short ids: "01" + 14 hex exactly', () => {
    expect(isShortKeysetId(SHORT)).toBe(true);
    for (const id of ['ab' + SHORT, SHORT + 'ab', V00, ID, SHORT.slice(0, 15)]) expect(isShortKeysetId(id), id).toBe(false);
    expect(shortKeysetId(ID)).toBe(ID.slice(0, 16));
  });

  it('namesKeyset: the full id, or the short form of a version-01 id, and nothing else', () => {
    expect(namesKeyset(ID, ID)).toBe(true);
    expect(namesKeyset(SHORT, ID)).toBe(true);
    expect(namesKeyset(V00, V00)).toBe(true);
    expect(namesKeyset(ID, SHORT)).toBe(false); // a full id does not name its own short form
    expect(namesKeyset(SHORT, '01' + 'ab'.repeat(32))).toBe(false);
    expect(namesKeyset(ID.slice(0, 10), ID)).toBe(false); // a prefix that is not the short form
    expect(namesKeyset(V00, '01' + V00.slice(2) + 'ab'.repeat(25))).toBe(false);
    expect(namesKeyset(SHORT, SHORT + 'zz')).toBe(false); // a "full id" that is no id
  });
});
