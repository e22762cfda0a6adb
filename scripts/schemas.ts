/** Writes schemas/<type>.json from the definitions in src/lib/schemas.ts. */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MESSAGE_SCHEMAS, schemaDocument, schemaFileName } from '../src/lib/schemas.ts';

const dir = join(import.meta.dirname, '..', 'schemas');
mkdirSync(dir, { recursive: true });
for (const f of readdirSync(dir)) if (f.endsWith('.json')) rmSync(join(dir, f));
for (const schema of MESSAGE_SCHEMAS) {
  writeFileSync(join(dir, schemaFileName(schema.$id!)), schemaDocument(schema));
}
console.error(`wrote ${MESSAGE_SCHEMAS.length} schemas to schemas/`);
