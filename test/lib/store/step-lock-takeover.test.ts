/**
 * A step that waits for a lock whose holder dies mid-step (store/state-step.ts STEP RECORD, review
 * 41). The waiter's recovery ran in stateDir() while the holder was alive, so the holder's
 * record was rightly left alone; then the holder is killed, its lock goes stale, and the
 * waiter takes it. Before it reads under that lock the dead holder's step must be finished
 * (rolled back: it never sealed): otherwise the waiter builds on a version nothing kept, and
 * the next command's recovery, finding the dead holder's open record, puts ITS old version
 * back over the waiter's sealed write — a state that was replaced (a counter, a channel state)
 * is current again.
 */
import { spawn } from 'node:child_process';
import { linkSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readJsonFile, writeJsonAtomic } from '../../../src/lib/store/atomic.ts';
import { sealStateStep, stepHome, withStateStep } from '../../../src/lib/store/state-step.ts';
import { recoverInterruptedSteps } from '../../../src/lib/store/step-recovery.ts';
import { withLock } from '../../../src/lib/store/lock.ts';
import { currentProcess } from '../../../src/lib/store/process-identity.ts';
import { tempDir } from '../../helpers.ts';

let tmp: { path: string; cleanup: () => void };
beforeAll(() => (tmp = tempDir('offchain-step-takeover-')));
afterAll(() => tmp.cleanup());

/** Field 22 of /proc/<pid>/stat, read here (not lock.ts's reader). */
function startTime(pid: number): string {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ')[19]!;
}

for (const [name, lookedFirst] of [
  ['a waiter that takes over a dead holder\'s lock finishes the holder\'s step before it reads', false],
  ['so does a process that looked at the directory before the holder\'s step began (a long-running stream)', true],
] as const) it.skipIf(process.platform !== 'linux')(name, async () => {
  const home = join(tmp.path, lookedFirst ? 'looked' : 'regtest', 'regtest');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const file = join(home, 'counter.json');
  writeFileSync(file, '{"counter":5}\n', { mode: 0o600 });
  if (lookedFirst) recoverInterruptedSteps(home); // nothing there yet: this process will not look again by itself

  // The holder: a live process that has the lock and, mid-step, replaced counter.json (5 → 6)
  // under an open record (its old version kept as the record's .undo link), then is killed.
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 100));
  const who = { ...currentProcess(), pid: holder.pid!, procStart: startTime(holder.pid!) };
  const tag = '0123456789abcdef';
  const undo = join(home, `.counter.json.${tag}.undo`);
  linkSync(file, undo);
  const line = { t: file, b: undo, n: join(home, `.counter.json.${tag}.new`), p: join(home, `.counter.json.${tag}.tmp`) };
  writeFileSync(join(home, '.step.00000000000000aa.open'), `${JSON.stringify(who)}\n${JSON.stringify(line)}\n`, { mode: 0o600 });
  writeFileSync(join(home, 'counter.json.6'), '{"counter":6}\n', { mode: 0o600 });
  const { renameSync } = await import('node:fs');
  renameSync(join(home, 'counter.json.6'), file);
  writeFileSync(join(home, '.lock'), `${JSON.stringify({ ...who, since: new Date().toISOString(), token: 'ab'.repeat(16) })}\n`, { mode: 0o600 });

  let seen: unknown;
  const waiter = withStateStep(async () => {
    if (!lookedFirst) stepHome(home); // its recovery: the holder is alive, its record left alone
    return withLock(home, async () => {
      const cur = await readJsonFile<{ counter: number }>(file);
      seen = cur?.counter;
      await writeJsonAtomic(file, { counter: cur!.counter + 1 });
      sealStateStep(); // its act (a nonce drawn from this counter, a message sent)
    }, { timeoutMs: 10_000, retryMs: 20 });
  });
  await new Promise((r) => setTimeout(r, 150));
  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  await waiter;

  // The next command.
  recoverInterruptedSteps(home);
  expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ counter: 6 }); // the waiter's sealed write stands
  expect(seen).toBe(5); // the dead holder's unsealed 6 was never a base
});
