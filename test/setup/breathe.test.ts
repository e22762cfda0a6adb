/**
 * The worker's event loop reaches its poll phase between two synchronous tests
 * (breathe.ts): an I/O completion (one stat) that is ready while one test blocks has been handled
 * by the time the next test starts. Without breathe.ts the second test fails: vitest
 * alone goes from test to test in microtasks.
 */
import { stat } from 'node:fs';
import { describe, expect, test } from 'vitest';

describe('between tests the event loop turns', () => {
  let handled = false;

  test('a test that blocks while a stat completes', () => {
    stat(__filename, () => {
      handled = true;
    });
    const until = Date.now() + 200; // the thread pool finishes the stat meanwhile
    while (Date.now() < until) {
      /* blocking, as spawnSync does */
    }
    expect(handled).toBe(false);
  });

  test('the next test starts after the stat was handled', () => {
    expect(handled).toBe(true);
  });
});
