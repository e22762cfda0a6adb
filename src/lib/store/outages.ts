/**
 * A long-running mint (`sign-update --stream`) through the store's outages: a server
 * restarted (even `-m immediate`), a failover, a connection cut. Each request is answered
 * exactly once, and the process goes on:
 *
 * | what the step met                          | what happens                                              |
 * |--------------------------------------------|-----------------------------------------------------------|
 * | connection lost, nothing committed          | wait for the store (bounded backoff), serve it again     |
 * | a COMMIT's answer lost, committed           | resolved by the store itself (pg/mint-store.ts): answered |
 * | the store broken (rolled back, or a COMMIT  | `renew`: a fresh nonce epoch, the old key wiped; serve    |
 * |   whose outcome cannot be told)             |   it again — the stored answer, or E_NONCE_ELSEWHERE       |
 * | still unreachable when the window closes    | refused E_STORE_UNREACHABLE (exit_code 1): retry it       |
 * | broken, and not renewed in the window       | refused with the store's code; the next request renews    |
 * | any other refusal                           | that refusal                                              |
 *
 * Serving a request again is safe: its transaction was rolled back by the server, so no
 * effect of it remains and nothing derived from it left the process (a result leaves only
 * after its COMMIT returned) — it is the user's own retry, made for them. And it is safe
 * without trusting the server's word: the mint nonce it opened is opened again for this
 * same signing session only (nonce-ledger.ts), so it produces the same partial signature
 * as the first attempt — never a second, different one, whatever the database says or
 * later puts back. The window is shared by the requests of one outage (`Outages`): once it
 * has passed, each request gets one attempt, so a long outage does not hold every line for
 * the whole window.
 *
 * A store without `reachable`/`renew` (SQLite) is served once, as before: a broken store
 * ends the stream.
 */
import { OffchainError, UsageError } from '../errors.ts';
import type { MintStorePort } from './mint-store-port.ts';

/**
 * The failures a broken PostgreSQL store can be renewed from (a fresh epoch, the old key
 * wiped): the database went back in time, or a COMMIT's outcome could not be told. Any other
 * (a refusal of a later rule, SQLite's failed commit) ends the stream, as it always did.
 */
export const RENEWABLE = new Set(['E_STORE_ROLLED_BACK', 'E_STATE_WRITE']);

/**
 * How long a lost connection is waited for (bounded backoff, `reconnectWithin`): a COMMIT
 * whose answer was lost, and a stream's request in flight, wait this long for the server to
 * come back (a restart, a failover) before they are refused. OFFCHAIN_STORE_RECONNECT_SECONDS
 * sets it (0: one attempt).
 */
export function reconnectWindowMs(env: NodeJS.ProcessEnv = process.env): number {
  const text = env['OFFCHAIN_STORE_RECONNECT_SECONDS'];
  if (text === undefined || text === '') return 30_000;
  if (!/^[0-9]{1,5}$/.test(text)) throw new UsageError('E_USAGE', `OFFCHAIN_STORE_RECONNECT_SECONDS must be a whole number of seconds (0 to 99999), got ${JSON.stringify(text.slice(0, 20))}`);
  return Number(text) * 1000;
}

export class Outages {
  /** When the store was first found unreachable in the outage going on, if one is. */
  private since: number | undefined;

  constructor(
    private readonly store: Pick<MintStorePort<{ contract_id: string }>, 'step' | 'broken' | 'reachable' | 'renew'>,
    private readonly windowMs: number,
    /** Told when a broken store was renewed: the epoch it retired. */
    private readonly renewed: (retired: string, why: Error) => void,
  ) {}

  /** `store.step(serve)`, through the outages above. */
  async step<T>(serve: () => Promise<T>): Promise<T> {
    let renewedOnce = false;
    for (;;) {
      try {
        const result = await this.store.step(serve);
        this.since = undefined;
        return result;
      } catch (e) {
        const broken = this.store.broken;
        if (broken) {
          // Once per request: a store that breaks again on the same request ends the stream.
          if (!this.store.renew || renewedOnce) throw e;
          if (!this.mayRenew()) throw e;
          renewedOnce = true;
          let retired: string;
          try {
            retired = await this.store.renew(Math.max(0, this.left()));
          } catch (r) {
            // Unreachable still: this request is refused with the store's own code; the store
            // stays broken (it refuses everything, touching nothing) and the next request tries again.
            if (r instanceof OffchainError && r.code === 'E_STORE_UNREACHABLE') {
              this.since ??= Date.now();
              throw e;
            }
            throw r;
          }
          this.renewed(retired, broken);
          continue;
        }
        if (!(e instanceof OffchainError) || e.code !== 'E_STORE_UNREACHABLE' || !this.store.reachable) throw e;
        this.since ??= Date.now();
        if (this.left() <= 0 || !(await this.store.reachable(this.left()))) throw e;
      }
    }
  }

  /** The stream must stop: its store broke in a way no renewal leaves behind. */
  mustStop(): boolean {
    return this.store.broken !== undefined && !this.mayRenew();
  }

  private mayRenew(): boolean {
    const b = this.store.broken;
    return this.store.renew !== undefined && b instanceof OffchainError && RENEWABLE.has(b.code);
  }

  private left(): number {
    return (this.since ?? Date.now()) + this.windowMs - Date.now();
  }
}
