/**
 * The test harness itself: a stale dist/ is named, file by file (./dist.ts); a child
 * process killed at its time limit, or by a signal, fails with what killed it and when,
 * never an empty result (../e2e/cli.ts `finished`, which every spawn helper uses).
 */
import { describe, it, expect, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.ts';
import { staleInputs } from './dist.ts';
import { KilledError, cleanEnv, finished } from '../e2e/cli.ts';

describe('staleInputs: what dist/ was built from, against the files now', () => {
  const root = tempDir('offchain-harness-');
  afterAll(() => root.cleanup());
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  mkdirSync(join(root.path, 'dist'));
  mkdirSync(join(root.path, 'src'));
  const record = (files: Record<string, string>) =>
    writeFileSync(join(root.path, 'dist', 'build-inputs.json'), JSON.stringify({ sha256: Object.fromEntries(Object.entries(files).map(([p, t]) => [p, sha256(t)])) }));

  it('nothing is stale when every recorded file has the recorded content', () => {
    writeFileSync(join(root.path, 'src/a.ts'), 'export const a = 1;\n');
    writeFileSync(join(root.path, 'src/b.ts'), 'export const b = 2;\n');
    record({ 'src/a.ts': 'export const a = 1;\n', 'src/b.ts': 'export const b = 2;\n' });
    expect(staleInputs(root.path)).toEqual([]);
  });

  it('names a file whose content changed and a file that is gone', () => {
    writeFileSync(join(root.path, 'src/a.ts'), 'export const a = 3;\n');
    rmSync(join(root.path, 'src/b.ts'));
    expect(staleInputs(root.path)).toEqual(['src/a.ts', 'src/b.ts']);
  });

  it('a file the build saw change while it ran is stale whatever it holds now', () => {
    writeFileSync(join(root.path, 'src/a.ts'), 'export const a = 1;\n');
    writeFileSync(join(root.path, 'dist', 'build-inputs.json'), JSON.stringify({ sha256: { 'src/a.ts': 'modified during the build' } }));
    expect(staleInputs(root.path)).toEqual(['src/a.ts']);
  });
});

const sh = (script: string, detached = false) => spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'], detached });
const failure = (p: Promise<unknown>) => p.then((r) => { throw new Error(`expected a rejection, got ${JSON.stringify(r)}`); }, (e: unknown) => e);
/** Whether `pid` still runs (a zombie waiting for a reaper has ended; Linux shows it as state Z). */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
};

describe('a child that does not exit by itself fails the test', () => {
  it('killed at its time limit: "killed by SIGKILL after N ms (its 300 ms time limit)", with its stderr, at once', async () => {
    const started = performance.now();
    const error = await failure(finished(sh('echo started >&2; sleep 30'), 'sleeper', 300));
    expect(error).toBeInstanceOf(KilledError);
    expect((error as Error).message).toMatch(/^sleeper was killed by SIGKILL after \d+ ms \(its 300 ms time limit\)\n {2}stderr so far: started$/);
    // Reported when the shell died, not when the orphaned sleep that holds its pipes ends.
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('with group, the time limit kills the whole process group (a shell and what it started)', async () => {
    const child = sh('sleep 30 & echo $! >&2; wait', true);
    const error = await failure(finished(child, 'a shell pipeline', 300, { group: true }));
    expect(error).toBeInstanceOf(KilledError);
    const sleeper = Number(/stderr so far: (\d+)/.exec((error as Error).message)?.[1]);
    expect(sleeper).toBeGreaterThan(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(sleeper), `sleep (pid ${sleeper}) outlived the time limit`).toBe(false);
  });

  it('killed by a signal from outside the harness: the signal is named', async () => {
    const error = await failure(finished(sh('kill -TERM $$'), 'self-terminating shell', 30_000));
    expect(error).toBeInstanceOf(KilledError);
    expect((error as Error).message).toMatch(/^self-terminating shell was killed by SIGTERM after \d+ ms \(a signal from outside the harness\)/);
  });

  it('a program that cannot start is an error, not an empty result', async () => {
    const child = spawn('/nonexistent/offchain-harness-probe', [], { stdio: ['ignore', 'pipe', 'pipe'] });
    const error = await failure(finished(child, 'a missing program', 30_000));
    expect((error as Error).message).toMatch(/^a missing program could not run: spawn \/nonexistent\/offchain-harness-probe ENOENT$/);
  });

  it('an exit code, even a failing one, is a result', async () => {
    expect(await finished(sh('echo out; echo err >&2; exit 3'), 'exit 3', 30_000)).toEqual({ status: 3, stdout: 'out\n', stderr: 'err\n' });
  });
});

describe('children get an operator\'s environment (../e2e/cli.ts cleanEnv)', () => {
  it('no NODE_ENV (vitest sets "test", which sends oclif looking for TypeScript sources), no OFFCHAIN_* of the developer', () => {
    const saved = { NODE_ENV: process.env.NODE_ENV, OFFCHAIN_STATE_DIR: process.env.OFFCHAIN_STATE_DIR };
    process.env.NODE_ENV = 'test';
    process.env.OFFCHAIN_STATE_DIR = '/somewhere';
    try {
      const env = cleanEnv({ OFFCHAIN_TEST_SEED: 'x' });
      expect('NODE_ENV' in env).toBe(false);
      expect(Object.keys(env).filter((k) => k.startsWith('OFFCHAIN_')).sort()).toEqual(['OFFCHAIN_CONFIG', 'OFFCHAIN_TEST_SEED']);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
