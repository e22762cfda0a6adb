/**
 * The committed schemas/ files are exactly the definitions the decoders validate with,
 * and every fixture message validates against its own type's schema.
 */
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { ROOT } from '../helpers.ts';
import { MESSAGE_SCHEMAS, schemaDocument, schemaFileName } from '../../src/lib/schemas.ts';

describe('message schemas', () => {
  it('schemas/ matches the definitions (run npm run schemas after changing a message)', () => {
    const committed = readdirSync(join(ROOT, 'schemas')).sort();
    expect(committed).toEqual(MESSAGE_SCHEMAS.map((s) => schemaFileName(s.$id!)).sort());
    for (const schema of MESSAGE_SCHEMAS) {
      expect(readFileSync(join(ROOT, 'schemas', schemaFileName(schema.$id!)), 'utf8')).toBe(schemaDocument(schema));
    }
  });

  it('every JSON fixture message validates against the schema of its type, and every type has one', () => {
    const dirs = ['fixtures/messages', 'fixtures/psbt', 'fixtures/credit', 'fixtures/htlc', 'fixtures/ptlc', 'fixtures/route', 'fixtures/bolt3', 'fixtures/openassets', 'fixtures/onion', 'fixtures/statechain', 'fixtures/truc', 'fixtures/invoice', 'fixtures/device', 'fixtures/watch', 'fixtures/serve'];
    const seen = new Set<string>();
    for (const d of dirs) {
      for (const f of readdirSync(join(ROOT, d)).filter((f) => f.endsWith('.json'))) {
        const message = JSON.parse(readFileSync(join(ROOT, d, f), 'utf8'));
        const schema = MESSAGE_SCHEMAS.find((s) => s.$id === message.type);
        expect(schema, `${d}/${f}: no schema for ${message.type}`).toBeDefined();
        const errors = [...Value.Errors(schema!, message)].map((e) => `${e.path}: ${e.message}`);
        expect(errors, `${d}/${f}`).toEqual([]);
        seen.add(message.type);
      }
    }
    expect([...seen].sort()).toEqual(MESSAGE_SCHEMAS.map((s) => s.$id!).sort());
  });
});
