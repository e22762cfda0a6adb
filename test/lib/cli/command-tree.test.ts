/**
 * The folders are the command tree (STYLE.md, issue 43): `offchain credit open` lives in
 * src/commands/credit/open.ts, `offchain onion error create` in
 * src/commands/onion/error/create.ts. Read from src/cli.ts's explicit command table (what
 * oclif runs) and from the files on disk, so a command registered under one id but kept in
 * another file, or a command file nobody registered, fails here. Every file under
 * src/commands/ is a command, as oclif has it: what a topic's commands share (base class,
 * flags, steps) lives in src/topics/<topic>/.
 * (test/e2e/topics.test.ts runs every alias: the old names still work.)
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../../helpers.ts';
import { COMMANDS } from '../../../src/cli.ts';

const COMMANDS_DIR = join(ROOT, 'src/commands');

function commandFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return commandFiles(p);
    return p.endsWith('.ts') ? [relative(COMMANDS_DIR, p)] : [];
  });
}

const cli = readFileSync(join(ROOT, 'src/cli.ts'), 'utf8');
/** The command table as written: id → the file its loader imports, from src/cli.ts's LOADERS lines. */
const table = [...cli.matchAll(/^ {2}'([a-z0-9:-]+)': \(\) => import\('\.\/commands\/([^']+)'\),$/gm)].map((m) => [m[1]!, m[2]!] as const);

describe('the command tree is the file tree', () => {
  it('the table read from src/cli.ts is the table oclif runs', () => {
    expect(table.map(([id]) => id).sort()).toEqual(Object.keys(COMMANDS).sort());
    expect(table.length).toBeGreaterThan(70);
  });

  it.each(table)('%s is in src/commands/<its words>.ts', (id, file) => {
    expect(file).toBe(`${id.replaceAll(':', '/')}.ts`);
  });

  it('every file under src/commands is a registered command', () => {
    const registered = new Set(table.map(([, file]) => file));
    const files = commandFiles(COMMANDS_DIR);
    expect(files.length).toBe(table.length);
    expect(files.filter((f) => !registered.has(f))).toEqual([]);
  });
});
