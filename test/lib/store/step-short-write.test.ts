/**
 * A step record's line written short (store/state-step.ts STEP RECORD, review 41): write(2) on a
 * file may write part of a buffer and return the count (a full filesystem between two pages,
 * a file-size limit) without an error. A line noted short has no newline: recovery reads it
 * as torn, "never acted on" — so the change it guards must not be made. Here the child's
 * file-size limit (prlimit) cuts a line; it is killed just after that write.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { recoverInterruptedSteps } from '../../../src/lib/store/step-recovery.ts';
import { tempDir } from '../../helpers.ts';
import { bundleChild } from './spawn.ts';

let tmp: { path: string; cleanup: () => void };
let script: string;
beforeAll(() => {
  tmp = tempDir('offchain-step-short-');
  script = bundleChild(tmp.path);
});
afterAll(() => tmp.cleanup());

const hasPrlimit = spawnSync('prlimit', ['--version']).status === 0;

it.skipIf(!hasPrlimit)('a record line written short: the write it guards is not made, so a crash then leaves every file as before', async () => {
  const home = join(tmp.path, 'regtest');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const k = 12;
  for (let i = 0; i < k; i++) writeFileSync(join(home, `f${i}.json`), 'old\n', { mode: 0o600 });
  // 1500 bytes: the owner line and a few write lines fit, one is cut.
  const child = spawn('prlimit', ['--fsize=1500:1500', process.execPath, script, 'step-short', home, String(k)], { stdio: 'ignore' });
  const signal = await new Promise((r) => child.once('exit', (_c, s) => r(s)));
  expect(signal).toBe('SIGKILL');
  recoverInterruptedSteps(home);
  for (let i = 0; i < k; i++) expect(readFileSync(join(home, `f${i}.json`), 'utf8'), `f${i}.json`).toBe('old\n');
});
