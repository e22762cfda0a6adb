/**
 * The README's and docs/*.md's ```sh blocks, with the mark on the line before each:
 * `<!-- illustrative: why -->` (not run: it needs what no test gives it) or
 * `<!-- quickstart: why -->` (runs as written against `node scripts/quickstart.mjs
 * --nodes-only` after `source <work directory>/env.sh`: test/regtest/doc-nodes.test.ts).
 * Unmarked blocks run on their own (test/e2e/readme.test.ts).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';

export type Block = { file: string; n: number; line: number; code: string; illustrative?: string; quickstart?: string };

export function blocksOf(file: string): Block[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/^([ \t]*)```sh\n([\s\S]*?)^[ \t]*```/gm)].map((m, i) => {
    const before = text.slice(0, m.index).split('\n');
    const previous = before[before.length - 2]?.trim() ?? '';
    const mark = /^<!-- (illustrative|quickstart): (.*) -->$/.exec(previous);
    const indent = m[1]!;
    const code = m[2]!.split('\n').map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l)).join('\n');
    return { file, n: i + 1, line: before.length, code, ...(mark ? { [mark[1]!]: mark[2]! } : {}) };
  });
}

export const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
