/**
 * docs/ecash.md's message examples are the fixtures, byte for byte (fixtures/credit/,
 * made by scripts/fixtures-ecash.ts from the built CLI): the docs cannot drift from what
 * the commands print.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.ts';

describe('docs/ecash.md examples', () => {
  it('each ```json block is one of the ecash fixtures, byte for byte', () => {
    const doc = readFileSync(join(ROOT, 'docs/ecash.md'), 'utf8');
    const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const fixtures = ['ecash-receipt.json', 'ecash-balance.json'].map((f) => readFileSync(join(ROOT, 'fixtures/credit', f), 'utf8'));
    expect(blocks).toHaveLength(2);
    expect(blocks).toEqual(fixtures);
  });
});
