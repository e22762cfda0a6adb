/**
 * The demo contract the docs' credit examples open first (`OFFCHAIN_DEMO_DIR=$D sh
 * fixtures/credit/open-demo.sh`: four CLI processes), opened once per test file by that
 * script and copied into $D (modes kept: cp -p) in place of that one line, the rest of the
 * example run as pasted. open-demo.sh is deterministic (a test seed, fixed keys, tip and
 * funding PSBT; its state names no path), so the copy is the contract the line opens:
 *   - an example or block whose output varies runs first exactly as pasted (so the line
 *     itself runs), then, to see whether its output still varies, from the copy — after
 *     checking that its first run's own open-demo.sh opened the copy's contract (offer.json
 *     and opened.json, signatures included, byte for byte);
 *   - one whose output the snapshot keeps as bytes runs once, from the copy, and must print
 *     the bytes recorded when it ran from the line as pasted.
 * Used by examples.test.ts and readme.test.ts (golden.ts says when a second run is made).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ROOT } from '../helpers.ts';
import { runShellAsync, shellQuote } from './process.ts';

export const OPEN_DEMO = 'OFFCHAIN_DEMO_DIR=$D sh fixtures/credit/open-demo.sh';

/** A function that opens the demo contract in `dir()` on its first call (the same script, the same environment) and returns `dir()` on every call. */
export function demoOpenedOnce(dir: () => string, env: () => NodeJS.ProcessEnv): () => Promise<string> {
  let opened: Promise<string> | undefined;
  return () =>
    (opened ??= (async () => {
      const r = await runShellAsync(`OFFCHAIN_DEMO_DIR=${shellQuote(dir())} sh fixtures/credit/open-demo.sh`, { env: env(), cwd: ROOT, timeoutMs: 60_000 });
      if (r.status !== 0) throw new Error(`open-demo.sh failed: ${r.stderr}`);
      expect(readdirSync(dir()).sort()).toEqual(['mint', 'offer.json', 'opened.json', 'user']);
      return dir();
    })());
}

/**
 * `code` with the demo contract's line replaced by a copy of `template`. `firstRun`: the
 * TMPDIR of a first run that ran the line as pasted (its $D is a mktemp -d there), whose
 * contract must be the template's.
 */
export function withOpenedDemo(code: string, template: string, firstRun?: string): string {
  expect(code.split(OPEN_DEMO), 'the demo contract is opened once').toHaveLength(2);
  if (firstRun !== undefined) {
    const first = readdirSync(firstRun).filter((d) => existsSync(join(firstRun, d, 'opened.json')));
    expect(first, 'the first run opened one demo contract').toHaveLength(1);
    for (const f of ['offer.json', 'opened.json']) expect(readFileSync(join(firstRun, first[0]!, f), 'utf8'), f).toBe(readFileSync(join(template, f), 'utf8'));
  }
  return code.replace(OPEN_DEMO, `cp -Rp ${shellQuote(template)}/. "$D"`);
}
