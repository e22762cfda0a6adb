/** The slowest-files report (./slowest-files.ts): slowest first, each file's slowest test against its limit. */
import { describe, it, expect } from 'vitest';
import { fileTimes, formatFileTimes } from './slowest-files.ts';
import type { TestModule } from 'vitest/node';

/** Just what fileTimes reads of vitest's TestModule. */
const module = (id: string, collect: number, run: number, tests: [string, number, number | undefined][]) =>
  ({
    moduleId: `/repo/${id}`,
    diagnostic: () => ({ collectDuration: collect, duration: run }),
    children: { allTests: () => tests.map(([fullName, duration, timeout]) => ({ fullName, diagnostic: () => ({ duration }), task: { timeout } })) },
  }) as unknown as TestModule;

describe('the slowest-files report', () => {
  const times = fileTimes([
    module('test/a.test.ts', 100, 900, [['a > quick', 10, undefined]]),
    module('test/e2e/b.test.ts', 500, 25_000, [['b > flow', 21_000, 60_000], ['b > other', 4_000, 60_000]]),
    module('test/c.test.ts', 60, 2_000, []),
  ], '/repo', 5_000);

  it('orders files by collect + run time and finds each one\'s slowest test and its limit', () => {
    expect(times.map((t) => [t.file, t.ms])).toEqual([['test/e2e/b.test.ts', 25_500], ['test/c.test.ts', 2_060], ['test/a.test.ts', 1_000]]);
    expect(times[0]!.slowestTest).toEqual({ name: 'b > flow', ms: 21_000, limit: 60_000 });
    expect(times[2]!.slowestTest).toEqual({ name: 'a > quick', ms: 10, limit: 5_000 }); // the config's limit when the test sets none
  });

  it('prints the top n and marks a test over a third of its limit', () => {
    expect(formatFileTimes(times, 2).split('\n')).toEqual([
      'Slowest 2 of 3 test files:',
      '    25.5 s  test/e2e/b.test.ts  slowest test 21.0 s of its 60.0 s limit — OVER A THIRD',
      '     2.1 s  test/c.test.ts',
    ]);
  });
});
