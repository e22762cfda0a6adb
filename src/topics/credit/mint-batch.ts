/**
 * The credit mint's group commit, shared by the streaming mint (./stream.ts) and the service
 * (`serve mint`): requests are served one at a time, each as one savepoint (SQLite) or one
 * transaction (PostgreSQL) through the store's outages (src/lib/store/outages.ts); a batch is
 * made durable with one `store.commit()` once no request is waiting (the event loop turned
 * twice with nothing new: I/O polled once) or at its limit (BATCH for a service, STREAM_BATCH for
 * the stream) — and only then are its answers and refusals released, in the order the requests came.
 *
 * Invariants:
 * - nothing a request produced leaves before the commit of its batch returned;
 * - a failed commit, or a store broken in a way no renewal leaves behind (`mustStop`), ends
 *   the batcher: every request of the batch not yet released is rejected with that failure
 *   (none was answered), and so is every later one;
 * - a refused request left nothing (its savepoint/transaction rolled back).
 */
import type { MintContext, MintContractRecord } from '../../lib/credit/ports.ts';
import type { MintStorePort } from '../../lib/store/mint-store-port.ts';
import type { Outages } from '../../lib/store/outages.ts';
import type { MintSteps, MintStepType } from './mint-steps.ts';

/** The most requests one commit holds: a service's answers wait for their batch. */
export const BATCH = 256;

/**
 * The stream's limit: a pipe of bulk requests waits for throughput, not for one answer, and
 * each commit costs about the same whatever it holds — the COMMIT, the WAL's one fsync, and
 * the CPU the process spends more after waiting that fsync out (the stream fed one request at
 * a time, each its own commit: 2.6 ms of CPU an update; fed them all at once: 1.8 ms — one
 * contract's 300 payments, load 8; a 4 ms sleep in place of the fsync costs as much).
 */
export const STREAM_BATCH = 1024;

/** `prepare` gives the store work (a step bound to its checked message) or throws the refusal; `store`: run it in a savepoint/transaction. */
type Job = { prepare: () => () => Promise<unknown>; store: boolean; resolve: (v: unknown) => void; reject: (e: unknown) => void; served: () => void };
/**
 * A served request waiting for its batch's commit: only how to answer it. Not its job — whose
 * `prepare` holds the decoded request (a PSBT's text among it) — so a batch of STREAM_BATCH
 * holds receipts, not requests, through the scavenges before its commit.
 */
type Answer = Pick<Job, 'resolve' | 'reject'>;
type Outcome = { to: Answer; ok: true; value: unknown } | { to: Answer; ok: false; error: unknown };

export class MintBatch {
  private queue: Job[] = [];
  private batch: Outcome[] = [];
  private wake: (() => void) | undefined;
  private closing = false;
  /** Set once the batcher ended on a store failure: every later request is rejected with it. */
  failure: unknown;
  /** Rejects (with `failure`) when the batcher ends on a store failure; resolves after close(). */
  readonly ended: Promise<void>;
  private end!: { resolve: () => void; reject: (e: unknown) => void };

  constructor(
    private readonly ctx: MintContext,
    private readonly store: Pick<MintStorePort<MintContractRecord>, 'commit' | 'broken'>,
    private readonly outages: Outages,
    private readonly steps: MintSteps,
    /** Commit at this many requests even while more are waiting. */
    private readonly limit = BATCH,
  ) {
    this.ended = new Promise((resolve, reject) => (this.end = { resolve, reject }));
    this.ended.catch(() => undefined); // observed by whoever awaits it; not an unhandled rejection
    void this.pump();
  }

  /** Serve one message (its type pinned by `expect`, if given); the answer once its batch is committed. */
  submit(value: unknown, expect?: MintStepType, where?: string): Promise<unknown> {
    return this.enqueue(value, expect, where).answer;
  }

  /**
   * As submit, also telling when the request was served (not yet committed): a reader that
   * takes its next request only then (the stream) holds at most one request unserved.
   */
  enqueue(value: unknown, expect?: MintStepType, where?: string): { answer: Promise<unknown>; served: Promise<void> } {
    // The envelope, the network and the schema are checked before the store is touched (a refusal there waits for no outage).
    return this.add(() => this.steps.bind(this.ctx, value, expect, where));
  }

  /**
   * As submit, for a message its caller already decoded as `type` (a service route, whose body
   * check ran readEnvelope, the network and decodeMessage before its handler: MintSteps.decoded).
   */
  submitDecoded(message: unknown, type: MintStepType): Promise<unknown> {
    return this.add(() => this.steps.decoded(this.ctx, message, type)).answer;
  }

  /** A read of the store in the same order as the steps (it sees what the batch will commit, and is released after it). */
  read<T>(fn: () => Promise<T>): Promise<T> {
    return this.add(() => fn).answer as Promise<T>;
  }

  /**
   * A refusal known before any step (a line that is not JSON), released in its place among
   * the answers: it touches no store (an outage must not turn it into E_STORE_UNREACHABLE).
   */
  refuse(e: unknown): Promise<never> {
    return this.add(() => () => Promise.reject(e), false).answer as Promise<never>;
  }

  /** Serve what is queued, commit, release, and end. Rejects with the failure if the batcher ended on one. */
  async close(): Promise<void> {
    this.closing = true;
    this.wake?.();
    await this.ended;
  }

  private add(prepare: () => () => Promise<unknown>, store = true): { answer: Promise<unknown>; served: Promise<void> } {
    let served!: () => void;
    const servedP = new Promise<void>((r) => (served = r));
    const answer = new Promise<unknown>((resolve, reject) => {
      if (this.failure !== undefined) {
        reject(this.failure);
        served();
        return;
      }
      if (this.closing) {
        reject(new Error('the mint\'s batcher is closed'));
        served();
        return;
      }
      this.queue.push({ prepare, store, resolve, reject, served });
    });
    this.wake?.();
    return { answer, served: servedP };
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        if (this.queue.length === 0) {
          if (this.batch.length > 0) {
            // A request its submitter already holds (the stream's next line, read with the
            // last) is queued within the microtasks now pending: once they have run (a
            // nextTick scheduled from a microtask runs after them), serve it without turning
            // the event loop — two turns per request were two polls of I/O for nothing.
            await new Promise<void>((res) => process.nextTick(res));
            if (this.queue.length > 0) continue;
            // Commit as soon as nothing more came in a whole turn of the event loop, I/O
            // polled once. (One setImmediate is not enough: a read that completed while the
            // batch was served is only seen in the next poll phase.)
            await new Promise<void>((res) => setImmediate(() => setImmediate(res)));
            if (this.queue.length === 0) await this.flush();
            continue;
          }
          if (this.closing) {
            await this.flush(); // as the stream always ended: one last commit
            break;
          }
          await new Promise<void>((res) => (this.wake = res));
          this.wake = undefined;
          continue;
        }
        const job = this.queue.shift()!;
        const to: Answer = { resolve: job.resolve, reject: job.reject };
        try {
          // One request, one savepoint (SQLite) or one transaction (PostgreSQL): a refused request leaves nothing.
          const run = job.prepare();
          this.batch.push({ to, ok: true, value: job.store ? await this.outages.step(run) : await run() });
        } catch (e) {
          // A store that failed in a way no fresh epoch leaves behind (SQLite's commit) ends
          // the batcher: nothing more may be answered from this process.
          if (this.outages.mustStop()) {
            job.served();
            // In the batch, so that it is rejected with the others below (it was never answered).
            this.batch.push({ to, ok: false, error: e });
            throw e;
          }
          this.batch.push({ to, ok: false, error: e });
        }
        job.served();
        if (this.batch.length >= this.limit) await this.flush();
      }
      this.end.resolve();
    } catch (e) {
      this.failure = e;
      for (const o of this.batch) o.to.reject(e);
      for (const j of this.queue) {
        j.reject(e);
        j.served();
      }
      this.batch = [];
      this.queue = [];
      this.end.reject(e);
    }
  }

  private async flush(): Promise<void> {
    // A PostgreSQL store broken and not yet renewed (unreachable past the window) has
    // nothing to commit — each request committed itself — and the next request renews it.
    if (!this.store.broken || this.outages.mustStop()) await this.store.commit();
    const done = this.batch;
    this.batch = [];
    for (const o of done) {
      if (o.ok) o.to.resolve(o.value);
      else o.to.reject(o.error);
    }
  }
}
