/**
 * The failure recap (./failure-recap.ts): a real `vitest run` of a planted file with a failing
 * test, a passing one and a file that fails outside its tests writes one line for each failure
 * to $OFFCHAIN_FAILURES_FILE, and nothing when the variable is unset or nothing failed.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { firstLine } from './failure-recap.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** Runs vitest over `files` in a temp dir with the recap reporter; returns what the recap wrote (undefined: no file). */
function recapOf(files: Record<string, string>, recapFile: boolean): { status: number | null; recap: string | undefined } {
  const dir = mkdtempSync(join(tmpdir(), 'recap-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    writeFileSync(join(dir, 'vitest.config.mjs'), `import R from ${JSON.stringify(join(ROOT, 'test', 'setup', 'failure-recap.ts'))};\nexport default { test: { include: ['*.test.mjs'], reporters: [new R()] } };\n`);
    const out = join(dir, 'failures.txt');
    const env = { ...process.env, OFFCHAIN_FAILURES_FILE: recapFile ? out : '' };
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--root', dir, '--config', join(dir, 'vitest.config.mjs')], { env, encoding: 'utf8' });
    return { status: r.status, recap: existsSync(out) ? readFileSync(out, 'utf8') : undefined };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const FAILING = `import { it, expect } from 'vitest';
it('passes', () => expect(1).toBe(1));
it('fails', () => expect(1, 'one is not two').toBe(2));
`;
const BROKEN = `throw new Error('the file breaks\\nsecond line');\n`;

describe('the failure recap', () => {
  it('writes one line per failed test and per file that failed outside its tests, nothing for what passed', () => {
    const { status, recap } = recapOf({ 'a.test.mjs': FAILING, 'b.test.mjs': BROKEN }, true);
    expect(status).toBe(1);
    const lines = recap!.trimEnd().split('\n').sort();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^a\.test\.mjs > fails: AssertionError: one is not two: expected 1 to be 2/);
    expect(lines[1]).toBe('b.test.mjs: the file breaks');
  }, 60_000);

  it('writes nothing when nothing failed, or when the variable is unset', () => {
    expect(recapOf({ 'a.test.mjs': `import { it } from 'vitest';\nit('passes', () => {});\n` }, true)).toEqual({ status: 0, recap: undefined });
    expect(recapOf({ 'a.test.mjs': FAILING }, false)).toEqual({ status: 1, recap: undefined });
  }, 60_000);

  it('cuts an error to its first non-empty line, at most 200 characters', () => {
    expect(firstLine({ message: '\nfirst\nsecond' })).toBe('first');
    expect(firstLine({ name: 'TypeError', message: 'x' })).toBe('TypeError: x');
    expect(firstLine({ message: 'y'.repeat(300) })).toHaveLength(200);
    expect(firstLine(undefined)).toBe('no message');
  });
});
