/**
 * When a watcher looks at the node again (src/topics/watch/wake.ts), its invariants: a wait
 * ends at its interval at the latest, at once on abort, otherwise only by a wake; wakes while
 * no one waits coalesce into one pending wake; a flood is at most one look more.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Wake } from '../../../src/topics/watch/wake.ts';

const never = new AbortController().signal;
const elapsed = async (p: Promise<unknown>) => {
  const t0 = performance.now();
  const r = await p;
  return { r, ms: performance.now() - t0 };
};

describe('a wait ends at its interval at the latest, at once on abort, otherwise only by a wake', () => {
  it('no wake: the interval (the poll goes on)', async () => {
    const { r, ms } = await elapsed(new Wake().wait(80, never));
    expect(r).toBe('interval');
    expect(ms).toBeGreaterThanOrEqual(75);
  });

  it('a wake during the wait ends it at once, long before its interval', async () => {
    const wake = new Wake();
    setTimeout(() => wake.wake(), 20);
    const { r, ms } = await elapsed(wake.wait(60_000, never));
    expect(r).toBe('woken');
    expect(ms).toBeLessThan(1_000);
  });

  it('an abort ends it at once, and a wait on an aborted signal does not start', async () => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 20);
    const { r, ms } = await elapsed(new Wake().wait(60_000, stop.signal));
    expect(r).toBe('aborted');
    expect(ms).toBeLessThan(1_000);
    expect(await new Wake().wait(60_000, stop.signal)).toBe('aborted');
  });
});

describe('wakes coalesce: at most one pending, whatever their number', () => {
  it('a flood of 10,000 wakes while no one waits: the next wait returns at once, the one after it waits its interval', async () => {
    const wake = new Wake();
    for (let i = 0; i < 10_000; i++) wake.wake();
    expect(await wake.wait(60_000, never)).toBe('woken');
    expect(await wake.wait(30, never)).toBe('interval');
  });

  it('a wake that ended a wait leaves nothing pending', async () => {
    const wake = new Wake();
    const waiting = wake.wait(60_000, never);
    wake.wake();
    expect(await waiting).toBe('woken');
    expect(await wake.wait(30, never)).toBe('interval');
  });

  it('property: over any schedule of wakes and waits, each wait ends as a model with one pending flag says', async () => {
    // Each step: some wakes while no one waits, then a wait (short interval), some wakes while it is under way.
    const step = fc.record({ before: fc.nat(5), during: fc.nat(3) });
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 8 }), async (steps) => {
      const wake = new Wake();
      let pending = false; // the model: a wake while no one waits sets it; a wait takes it
      for (const { before, during } of steps) {
        for (let i = 0; i < before; i++) wake.wake();
        pending ||= before > 0;
        let waiting = !pending;
        const expected = pending ? 'woken' : during > 0 ? 'woken' : 'interval';
        pending = false;
        const r = wake.wait(5, never);
        for (let i = 0; i < during; i++) {
          wake.wake();
          if (waiting) waiting = false;
          else pending = true;
        }
        expect(await r).toBe(expected);
      }
      // What is left pending at the end: one wake at most, taken by the next wait.
      expect(await wake.wait(5, never)).toBe(pending ? 'woken' : 'interval');
      expect(await wake.wait(5, never)).toBe('interval');
    }), { numRuns: 60 });
  });
});
