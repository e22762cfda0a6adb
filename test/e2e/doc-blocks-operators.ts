/**
 * The operators' pages' blocks that need a node (issue 39 item 4, the second half): a ```sh
 * block marked `<!-- quickstart-operators: why -->` on the line before it runs as written
 * against `node scripts/quickstart.mjs --nodes-only --lightning --postgres`, after `source
 * <work directory>/env.sh`, in test/regtest/doc-nodes-operators.test.ts — the page's marked
 * blocks in order in one shell, as a reader follows the page. A mark of its own, so
 * test/regtest/doc-nodes.test.ts (which starts the quick start without PostgreSQL and runs the
 * `quickstart:` blocks) does not take these; readme.test.ts counts them as run elsewhere
 * through asRunElsewhere.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';
import { DOCS, blocksOf, type Block } from './doc-blocks.ts';

export type OperatorsBlock = Block & { operators: string };

const MARK = /^<!-- quickstart-operators: (.*) -->$/;

/** The mark's reason for a block of doc-blocks.ts (the line before its fence), or undefined. */
export function operatorsMark(b: Block): string | undefined {
  const lines = readFileSync(join(ROOT, b.file), 'utf8').split('\n');
  return MARK.exec(lines[b.line - 2]?.trim() ?? '')?.[1];
}

/** Every docs block marked `quickstart-operators:`, in page order. */
export function operatorsBlocks(): OperatorsBlock[] {
  return DOCS.flatMap(blocksOf).flatMap((b) => {
    const operators = operatorsMark(b);
    return operators === undefined ? [] : [{ ...b, operators }];
  });
}

/** For readme.test.ts: a `quickstart-operators:` block is run elsewhere, as a `quickstart:` one is. */
export function asRunElsewhere(b: Block): Block {
  const operators = operatorsMark(b);
  return operators === undefined ? b : { ...b, quickstart: operators };
}
