/**
 * The demo contract the docs' credit examples open first (`OFFCHAIN_DEMO_DIR=$D sh
 * fixtures/credit/open-demo.sh`: four CLI processes), opened once per test run by that
 * script (`openedDemo`) and copied into $D (modes kept: cp -p) in place of that one line, the
 * rest of the example run as pasted. open-demo.sh is deterministic (a test seed, fixed keys,
 * tip and funding PSBT; its state names no path), so the copy is the contract the line opens:
 *   - one example or block per file whose output varies (the first) runs first exactly as
 *     pasted (so the line itself runs, in a reader's directory), then, to see whether its
 *     output still varies, from the copy — after checking that its first run's own
 *     open-demo.sh opened the copy's contract (offer.json and opened.json, signatures
 *     included, byte for byte); the file's other varying ones run both times from the copy;
 *   - one whose output the snapshot keeps as bytes runs once, from the copy, and must print
 *     the bytes recorded when it ran from the line as pasted.
 * Used by examples.test.ts and readme.test.ts (golden.ts says when a second run is made), and,
 * through `openedDemo`, by the files that start from the demo contract (fixtures.ts
 * openDemoChannel).
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ROOT } from '../helpers.ts';
import { BUILD_INPUTS } from '../setup/dist.ts';
import { assertFreshBuild, cleanEnv } from './cli.ts';
import { shellQuote } from './process.ts';

export const OPEN_DEMO = 'OFFCHAIN_DEMO_DIR=$D sh fixtures/credit/open-demo.sh';

/**
 * The directory open-demo.sh opened the demo contract in (mint/, user/, offer.json,
 * opened.json), made once per test RUN and shared by every file that starts from that
 * contract — read only: each user copies it. It lives in the run's own temp dir (every
 * worker's TMPDIR: test/setup/run-tmp.ts, removed when the run ends), named after the build
 * it was opened with (a later build never meets it), and is made under a temp name and
 * renamed into place, so a file that loses the race to make it removes its own and takes the
 * winner's: a file never sees half of one. Four CLI processes once a run, not once in each of
 * the nine files that start from the demo contract.
 */
export function openedDemo(): string {
  assertFreshBuild();
  const build = createHash('sha256').update(readFileSync(BUILD_INPUTS)).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `offchain-open-demo-${build}`);
  if (existsSync(dir)) return dir;
  const making = mkdtempSync(`${dir}.making-`);
  try {
    const r = spawnSync('sh', [join(ROOT, 'fixtures/credit/open-demo.sh')], { cwd: ROOT, env: cleanEnv({ OFFCHAIN_DEMO_DIR: making }), encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`open-demo.sh failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ''}): ${r.stderr}`);
    expect(readdirSync(making).sort()).toEqual(['mint', 'offer.json', 'opened.json', 'user']);
    renameSync(making, dir);
  } catch (e) {
    rmSync(making, { recursive: true, force: true });
    if (!existsSync(dir)) throw e; // another file made it first (rename onto its directory fails): take that one
  }
  return dir;
}

/**
 * The one varying example or block of a file that runs the demo line as pasted (see above): the
 * first, in the file's order, whose code has the line. Undefined when none has it.
 */
export function pastedDemoSample<T>(items: T[], code: (t: T) => string, varying: (t: T) => boolean): T | undefined {
  return items.find((t) => varying(t) && code(t).includes(OPEN_DEMO));
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
