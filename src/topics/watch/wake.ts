/**
 * When a watcher's next look at the node may start (./rounds.ts watchLoop): after the poll
 * interval, or as soon as something wakes it — a block announced by the node over ZMQ
 * (./hashblock.ts). A wake only hastens the poll: the loop then asks the node for its tip, as at
 * any poll, and starts a round only for a tip it has not evaluated.
 *
 * INVARIANTS (test/lib/watch/wake.test.ts):
 * - A wait ends at the latest after its interval (the poll is the safety net: a notification
 *   may be lost), at once when the signal aborts, and otherwise only by a wake.
 * - Wakes coalesce: any number of them while no one waits leave one pending wake, which the next
 *   wait takes and returns at once — a flood of notifications is at most one look more.
 * - A wake carries nothing the loop believes: not a hash, not a height.
 */

export type WakeReason = 'woken' | 'interval' | 'aborted';

export class Wake {
  private pending = false;
  private waiter: (() => void) | undefined;

  /** Ends the wait under way, or, when none is, makes the next one end at once. */
  wake(): void {
    if (this.waiter) this.waiter();
    else this.pending = true;
  }

  /** Until `ms` have passed, a wake, or `signal` aborts (one wait at a time: the loop's). */
  wait(ms: number, signal: AbortSignal): Promise<WakeReason> {
    if (signal.aborted) return Promise.resolve('aborted');
    if (this.pending) {
      this.pending = false;
      return Promise.resolve('woken');
    }
    return new Promise((resolve) => {
      const end = (why: WakeReason) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', aborted);
        this.waiter = undefined;
        resolve(why);
      };
      const aborted = () => end('aborted');
      const timer = setTimeout(() => end('interval'), ms);
      signal.addEventListener('abort', aborted);
      this.waiter = () => end('woken');
    });
  }
}
