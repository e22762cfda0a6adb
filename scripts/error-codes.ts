/** Writes docs/cli.md's "Every error code" section from src/lib/error-codes.ts (scripts/error-codes-doc.ts). */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withErrorCodes } from './error-codes-doc.ts';

const page = join(import.meta.dirname, '..', 'docs', 'cli.md');
writeFileSync(page, withErrorCodes(readFileSync(page, 'utf8')));
console.error('docs/cli.md: error codes regenerated');
