/**
 * --debug (issue 28 item 5): the stack after the coded line names the TypeScript sources
 * (src/…ts:line:column, through dist/offchain.cjs.map), not the minified bundle's
 * one-line columns; without --debug there is no stack at all.
 */
import { describe, expect, it } from 'vitest';
import { run } from './cli.ts';

describe('--debug stacks point into src/', () => {
  it('a coded refusal: the line, then a stack whose frames are src/…ts', () => {
    const r = run(['psbt', 'decode', '--debug', '--in', '/nonexistent/offchain-debug-test']);
    expect(r.status).toBe(2);
    const [first, ...stack] = r.stderr.trim().split('\n');
    expect(first).toMatch(/^offchain: error E_INPUT_FILE: cannot read --in /);
    const frames = stack.filter((l) => /^\s+at /.test(l));
    expect(frames.length).toBeGreaterThan(2);
    expect(frames[0]).toMatch(/\/src\/lib\/cli\/input\.ts:\d+:\d+\)$/);
    expect(stack.join('\n')).not.toMatch(/dist\/offchain\.cjs:\d+/);
  });
  it('the answer itself is unchanged by --debug', () => {
    const a = run(['psbt', 'decode', '--in', 'fixtures/psbt/musig-keypath-unsigned.psbt']);
    const b = run(['psbt', 'decode', '--debug', '--in', 'fixtures/psbt/musig-keypath-unsigned.psbt']);
    expect(b.status).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    expect(b.stderr).toBe('');
  });
  it('without --debug: one line, no stack', () => {
    const r = run(['psbt', 'decode', '--in', '/nonexistent/offchain-debug-test']);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
