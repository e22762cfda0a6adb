/**
 * The in-process runner (in-process.ts) as the files that use it rely on it: while a run
 * awaits, process.env is the run's own, and a child that another test spawns meanwhile (a
 * second lane of a regtest file, an operator in a race) is given the environment as it is
 * outside the run, never the run's variables (a party's key, a seed).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.ts';
import { cleanEnv, environmentOutsideRuns } from './cli.ts';
import { pipelineInProcess, runInProcess } from './in-process.ts';

describe('a child spawned while an in-process run awaits', () => {
  it('gets the environment outside the run, not the run\'s', async () => {
    const marker = 'OFFCHAIN_TEST_IN_PROCESS_MARKER_NOT_A_SETTING';
    const key = 'IN_PROCESS_RUN_KEY';
    expect(process.env[key]).toBeUndefined();
    // Up to the command's first await, runInProcess runs synchronously: the run's environment is in place now.
    const pending = runInProcess(['invoice', 'decode', '--in', 'fixtures/invoice/regtest.bolt11', '--now', '1795488100'], { env: { [key]: 'secret-of-the-run' } });
    try {
      expect(process.env[key], 'the run is under way, with its own environment').toBe('secret-of-the-run');
      expect(environmentOutsideRuns()[key]).toBeUndefined();
      expect(cleanEnv({ [marker]: '1' })[key]).toBeUndefined();
      expect(cleanEnv({ [marker]: '1' })[marker]).toBe('1');
    } finally {
      const r = await pending;
      expect(r.status, r.stderr).toBe(0);
    }
    expect(process.env[key]).toBeUndefined();
    expect(environmentOutsideRuns()).toBe(process.env);
  });
});

describe('runs asked for at once', () => {
  it('go one after another, each with its own input, and answer as they do one at a time', async () => {
    const decode = ['invoice', 'decode', '--in', 'fixtures/invoice/regtest.bolt11', '--now', '1795488100'];
    const route = ['route', 'plan', '--in', 'fixtures/route/seed-request.json'];
    const alone = [await runInProcess(decode), await runInProcess(route)];
    const bolt11 = readFileSync(join(ROOT, 'fixtures/invoice/regtest.bolt11'), 'utf8');
    // The invoice on standard input this time: the same message.
    const [a, b, [piped]] = await Promise.all([runInProcess(decode), runInProcess(route), pipelineInProcess([{ args: ['invoice', 'decode', '--now', '1795488100'] }], bolt11)]);
    expect([a, b]).toEqual(alone);
    expect(alone.map((r) => r.status)).toEqual([0, 0]);
    expect(piped).toEqual(alone[0]);
  });
});
