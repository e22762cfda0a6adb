/**
 * Between tests, the worker lets its event loop turn once through the poll phase, so the
 * runner's answers to its progress reports are read.
 *
 * Why: a vitest worker reports progress to the main process over IPC and gives each
 * report's answer a fixed 60 s (birpc's default; no option reaches it). Many tests here
 * block the worker's event loop — `run()` is `spawnSync` of the built CLI, properties are
 * synchronous — and vitest goes from one synchronous test to the next without letting the
 * loop reach its poll phase. On a loaded 2-core CI machine a file of such tests blocked
 * the worker past 60 s: every test passed and the run still exited 1 with
 * "[vitest-worker]: Timeout calling onTaskUpdate". Node runs expired timers before it
 * reads sockets, so the loop must turn before the 60 s are up, not after: once per test.
 *
 * Two `setImmediate`s: the first may run in the check phase right after the current poll
 * phase; the second then needs a whole turn of the loop, poll phase included.
 */
import { afterEach, beforeEach } from 'vitest';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function breathe(): Promise<void> {
  await turn();
  await turn();
}

beforeEach(breathe);
afterEach(breathe);
