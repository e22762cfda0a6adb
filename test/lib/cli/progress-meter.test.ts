/**
 * The progress line (issue 28 item 8): on a TTY only, never with -q, and only for work
 * that has run ~2 s; then the count and the rate, at most 4 updates a second.
 */
import { describe, expect, it } from 'vitest';
import { createTerminal, PROGRESS_AFTER_MS } from '../../../src/lib/cli/terminal.ts';

function fakeStderr(isTTY: boolean) {
  const writes: string[] = [];
  return { stream: { isTTY, write: (s: string) => (writes.push(s), true) } as unknown as NodeJS.WriteStream, writes };
}

function drive(isTTY: boolean, quiet: boolean) {
  const { stream, writes } = fakeStderr(isTTY);
  const term = createTerminal(stream, { NO_COLOR: '1' });
  term.quiet = quiet;
  let now = 0;
  const meter = term.meter('transactions', () => now);
  // 1,000 items a second for 3 s, one tick each millisecond.
  for (let i = 1; i <= 3000; i++) {
    now = i;
    meter.tick();
  }
  meter.done();
  return writes;
}

describe('progress meter', () => {
  it('on a TTY: nothing for the first 2 s, then count and rate, throttled, cleared at the end', () => {
    const writes = drive(true, false);
    const lines = writes.filter((w) => w.includes('transactions'));
    expect(lines[0]).toBe('\r\x1b[K2,000 transactions, 1,000/s');
    // From 2.0 s to 3.0 s, one update every 250 ms at most: 2000, 2250, 2500, 2750, 3000.
    expect(lines).toHaveLength(5);
    expect(lines.at(-1)).toBe('\r\x1b[K3,000 transactions, 1,000/s');
    expect(writes.at(-1)).toBe('\r\x1b[K');
    expect(PROGRESS_AFTER_MS).toBe(2000);
  });
  it('not a TTY: nothing at all', () => expect(drive(false, false)).toEqual([]));
  it('-q: nothing at all', () => expect(drive(true, true)).toEqual([]));
});
