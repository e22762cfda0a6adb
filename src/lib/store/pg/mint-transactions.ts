/**
 * The mint's PostgreSQL transactions and its epoch's restore check (pg/mint-store.ts holds
 * the restore rule this enforces; the connection is pg/mint-connection.ts).
 *
 * Transactions. Each protocol step (`step`) is its own transaction, committed before
 * `step` returns, so a result leaves the process only after its COMMIT has returned.
 * Inside it the contract is locked for the request: `get(id)` reads its row `SELECT … FOR
 * UPDATE` (a second request waits, then reads the first's commit: the row's latest version);
 * a contract with no row yet takes a transaction-level advisory lock on its id (serialising
 * two opens of it) and is read again, a statement of its own (READ COMMITTED: a new snapshot,
 * after the lock). Two processes serving the same contract therefore run one after the other
 * and the second answers a replay with the stored answer. A step's writes of a record or a
 * new nonce are held back to its next statement or its tick (pg/mint-held-back.ts): a payment
 * is five round trips, its next nonce and record sent with the tick.
 * A deadlock (a rollover locks two contracts) or serialization failure rolls the
 * transaction back — nothing of it was released — and the step runs again, at most
 * RETRIES times. Group commit is PostgreSQL's business here: many processes commit at
 * once and share WAL flushes; `commit_delay`/`commit_siblings` in postgresql.conf trade
 * latency for fewer fsyncs (docs/postgres.md). A connection lost (server restart,
 * network) refuses the request in flight (E_STORE_UNREACHABLE, retryable) and the next
 * request reconnects, keeping the process's epoch (see `reconnect`); a COMMIT whose answer
 * was lost is resolved by the epoch counter on the new connection (its absence counts only
 * on the same server, not restarted since), and only when it cannot be resolved is the
 * store `broken`: nothing of the answer is released, and the retry, served by any
 * process, finds the stored answer if it committed. A one-shot command then exits; a
 * stream `renew`s the store — a fresh epoch, the old key wiped, as a restart would — and
 * goes on (store/outages.ts).
 *
 * Not here: opening and renewing the store (pg/mint-store.ts, pg/mint-open.ts), the nonces
 * (pg/mint-nonces.ts), the records.
 */
import type pg from 'pg';
import { OffchainError, StateConflictError, UsageError } from '../../errors.ts';
import { reconnectWindowMs } from '../outages.ts';
import { StoreWriteError } from '../write-errors.ts';
import type { PgTarget } from './connect.ts';
import { NonceLedger } from '../nonce-ledger.ts';
import type { Sealer } from '../seal.ts';
import { codeOf, isConnectionError, RETRYABLE } from './mint-connection.ts';
import { PgMintHeldBack, writesWithTick } from './mint-held-back.ts';

/** How many times a step runs again after a deadlock or serialization failure. */
export const RETRIES = 8;

/** How long the answer to a lost COMMIT waits for that transaction to end on the server (ms). */
const RESOLVE_WAIT_MS = 30_000;

/** The database went back in time under this process: it wiped its key (and exits, or renews: `renew`). Exit 1. */
export class StoreRolledBackError extends OffchainError {
  constructor(message: string) {
    super('E_STORE_ROLLED_BACK', message, 1);
  }
}

/** A nonce row as `take`, `burn` and `status` read it (pg/mint-nonces.ts). */
export type NonceRow = { context: string | null; epoch: string | null; sealed: Buffer | null; consumed: boolean };

export abstract class PgMintTransactions extends PgMintHeldBack {
  /** The epoch whose key seals this process's nonces: its own, kept in memory alone; a new one after `renew`. */
  epoch: string;
  /** The seal of this epoch's key (../seal.ts): a random key in this process's memory alone; gone once wiped (nothing it sealed opens again here). */
  protected sealer: Sealer | undefined;
  protected counter = 0;
  protected pendingCounter: number | undefined;
  /** Set by a nonce issued, taken or burned in the open transaction: its COMMIT ticks the epoch (`tick`). */
  protected nonceTouched = false;
  /** The network the store serves: for `renew`. */
  protected network = '';
  /** The nonces this epoch may still open (nonce-ledger.ts): the process's memory; a new one after `renew`. */
  protected ledger: NonceLedger | undefined;
  protected alarm: ((message: string, refused: boolean) => void) | undefined;
  protected savepoints = 0;
  /**
   * The nonce rows the open transaction read locked (pg/mint-nonces.ts: `status`, then
   * `take`, one round trip less): a row locked FOR UPDATE cannot change before COMMIT but by
   * this transaction, which drops it from here when it writes it. Emptied at every
   * transaction's end and when a savepoint is rolled back (which lets its locks go).
   */
  protected lockedNonces = new Map<string, NonceRow>();
  protected viewOnly = false;

  protected constructor(client: pg.Client, target: PgTarget, epoch: string, sealer: Sealer | undefined) {
    super(client, target);
    this.epoch = epoch;
    this.sealer = sealer;
  }

  /** The ledger of this store's epoch (nonce-ledger.ts): the process's memory. */
  protected newLedger(): NonceLedger {
    return new NonceLedger({
      who: `this process (pid ${process.pid}, epoch ${this.epoch.slice(0, 8)}…)`,
      where: this.target.url,
      consumed: (ids: string[]) => this.consumedOf(ids),
      ...(this.alarm ? { alarm: this.alarm } : {}),
    });
  }

  /** Of `ids`, the nonces the store shows consumed (the ledger drops them: nonce-ledger.ts). */
  private async consumedOf(ids: string[]): Promise<Set<string>> {
    const rows = await this.q<{ id: string }>('SELECT id FROM nonces WHERE id = ANY($1::text[]) AND consumed', [ids]);
    return new Set(rows.rows.map((r) => r.id));
  }

  get broken(): Error | undefined {
    return this.failed;
  }

  // ——— transactions ———

  protected async begin(): Promise<void> {
    if (this.viewOnly) throw new UsageError('E_STORE_READ_ONLY', `this view of the store ${this.dir} writes nothing`);
    this.usable();
    if (!this.inTransaction) {
      // BEGIN goes with the transaction's first statement (pg/mint-connection.ts `q`).
      this.inTransaction = true;
      this.beginPending = true;
      this.lockedNonces.clear();
      this.dropHeldBack();
      this.pendingCounter = undefined;
      this.nonceTouched = false;
    }
  }

  protected async rollback(): Promise<void> {
    const sent = !this.beginPending;
    this.beginPending = false;
    this.inTransaction = false;
    this.lockedNonces.clear();
    this.dropHeldBack();
    this.pendingCounter = undefined;
    this.nonceTouched = false;
    // Rolled back before COMMIT was sent: nothing of it left; the nonces it claimed stay openable.
    this.ledger?.discard();
    if (!this.failed && sent) await this.client.query('ROLLBACK').catch(() => undefined);
  }

  /**
   * One protocol step, one transaction: BEGIN, the step, COMMIT — all before this
   * returns. A deadlock or serialization failure runs the step again (nothing of it
   * left the process). Inside a transaction already open, a savepoint (as SQLite).
   */
  async step<T>(fn: () => Promise<T>): Promise<T> {
    this.usable();
    if (this.inTransaction) {
      const name = `step${this.savepoints + 1}`;
      // (SAVEPOINT sends the writes held back before it: one that fails dooms the transaction.)
      await this.q(`SAVEPOINT ${name}`);
      this.savepoints++;
      const mark = this.ledger?.mark() ?? 0;
      try {
        const result = await fn();
        await this.q(`RELEASE ${name}`);
        return result;
      } catch (e) {
        // (A nonce it touched keeps `nonceTouched` set: one tick too many at COMMIT is harmless.)
        // Its writes not sent yet were made after SAVEPOINT (which sent those before it): dropped.
        this.lockedNonces.clear();
        this.dropHeldBack();
        if (!this.failed) await this.q(`ROLLBACK TO ${name}`).then(() => this.q(`RELEASE ${name}`));
        this.ledger?.discard(mark);
        throw e;
      } finally {
        this.savepoints--;
      }
    }
    for (let attempt = 1; ; attempt++) {
      await this.begin();
      let result: T;
      try {
        result = await fn();
      } catch (e) {
        await this.rollback();
        if (RETRYABLE.has(codeOf(e) ?? '') && attempt < RETRIES) continue;
        throw this.mapped(e);
      }
      try {
        await this.commit();
      } catch (e) {
        // A deadlock or serialization failure of its held-back writes (sent with the tick), as
        // of any statement of the step: rolled back before COMMIT, nothing released — run again.
        if (!this.failed && RETRYABLE.has(codeOf(e) ?? '') && attempt < RETRIES) continue;
        throw this.mapped(e);
      }
      return result;
    }
  }

  private mapped(e: unknown): unknown {
    if (e instanceof OffchainError) return e;
    const c = codeOf(e);
    if (c && RETRYABLE.has(c)) return new StateConflictError('E_STORE_BUSY', `the store stayed busy (${c}) through ${RETRIES} attempts: retry the request`);
    return e;
  }

  /** COMMIT the open transaction; an unknown outcome breaks the store (exit, release nothing). */
  async commit(): Promise<void> {
    this.usable();
    if (!this.inTransaction) return;
    if (this.writeFailed !== undefined) {
      const e = this.writeFailed;
      await this.rollback();
      throw e;
    }
    if (this.nonceTouched && this.pendingCounter === undefined) {
      try {
        // The ledger first (nonce-ledger.ts): what this transaction issued and opened is final
        // before anything of its end is sent — a write or the tick that fails after this leaves
        // its nonces opened for their own sessions only (and a nonce the tick's statement
        // refuses as issued before leaves the ledger: pg/mint-nonces.ts `issue`). Then the
        // restore check, with the writes held back (`defer`) in its statement.
        await this.ledger?.settle();
        await this.tick();
      } catch (e) {
        if (this.inTransaction) await this.rollback();
        throw e;
      }
    } else if (this.deferred.length > 0) {
      try {
        await this.sendDeferred();
      } catch (e) {
        await this.rollback();
        throw e;
      }
    }
    if (this.beginPending) {
      // Nothing of it reached the server: nothing to commit.
      this.beginPending = false;
      this.inTransaction = false;
      return;
    }
    let aborted = false;
    try {
      // A transaction the server had already aborted (an error some caller swallowed) answers
      // its COMMIT with ROLLBACK, not an error: nothing of it was kept.
      aborted = (await this.client.query('COMMIT')).command !== 'COMMIT';
      if (aborted) throw new StoreWriteError(`the store ${this.dir} rolled this step back (a statement of it had failed): nothing of it was kept or released; send the request again`);
      if (this.pendingCounter !== undefined) this.counter = this.pendingCounter;
      await this.ledger?.committed();
    } catch (e) {
      // Rolled back for certain: the store stays usable; a nonce this step opened stays opened
      // for its own session only (settled: nonce-ledger.ts).
      if (aborted) throw e;
      if (isConnectionError(e) && this.pendingCounter !== undefined) {
        const pending = this.pendingCounter;
        this.lose(e);
        await this.resolveCommit(pending);
        return;
      }
      if (isConnectionError(e) && !this.nonceTouched) {
        // A step that used no nonce (a replay, a read): whether it was kept does not matter to
        // the restore rule, and nothing of it is released; sent again, it finds what it kept.
        this.lose(e);
        throw new OffchainError('E_STORE_UNREACHABLE', `lost the connection to the store ${this.dir} during the COMMIT of a step that used no nonce: it may have been kept, nothing of it was released; send the request again (a kept step answers its stored answer)`, 1);
      }
      this.failed = e as Error;
      throw new StoreWriteError(`could not make the mint's state durable in ${this.dir} (${(e as Error).message}): nothing of this request was released`);
    } finally {
      this.inTransaction = false;
      this.lockedNonces.clear();
      this.pendingCounter = undefined;
      this.nonceTouched = false;
    }
  }

  /**
   * The answer to a COMMIT was lost: ask a new connection whether the transaction's tick
   * of the epoch counter is there. It is (`pending`): it committed — the caller may release
   * its result. It is not (the counter this process knew): it did not — the request is
   * refused, retryable. Anything else (or no answer): broken.
   */
  private async resolveCommit(pending: number): Promise<void> {
    let found: number | undefined;
    const committedTo = this.reached;
    try {
      // The server may be restarting (an immediate shutdown, a failover): wait for it, bounded.
      await this.reconnectWithin(reconnectWindowMs());
      // The lost transaction holds the counter's row lock until its COMMIT has ended on the
      // server (or the server aborted it on noticing the connection gone). A plain read can
      // come before a COMMIT still in progress — waiting for a synchronous standby — is
      // visible, and would call it "not committed". So wait for the lock, a bounded time:
      // past it, the outcome is unknown (below: broken, nothing released).
      await this.client.query('BEGIN');
      await this.client.query(`SET LOCAL lock_timeout = ${RESOLVE_WAIT_MS}`);
      const row = (await this.client.query<{ counter: string }>('SELECT counter FROM epochs WHERE epoch = $1 FOR SHARE', [this.epoch])).rows[0];
      found = row ? Number(row.counter) : undefined;
      await this.client.query('COMMIT');
    } catch (e) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      this.failed = new StoreWriteError(`the answer to a COMMIT was lost and the store ${this.dir} cannot be asked whether it committed (${(e as Error).message}): nothing of this request was released; restart the mint`);
      throw this.failed;
    }
    if (found === pending) {
      this.counter = pending;
      await this.ledger?.committed();
      return;
    }
    // Not there — on the store that was sent the COMMIT, its server running and its tables
    // untouched ever since, that is conclusive. On another (a failover), a restarted server
    // (a restore, a crash with synchronous_commit off) or a store reloaded from a dump it is
    // not: the transaction may have committed, had its answer replayed by another process
    // from the stored answer — a close's partial signature — and then been lost, so its
    // nonce is as good as used. A process epoch's memory, advanced only after COMMIT, would
    // not catch it: the process stops, as on any rollback.
    if (found === pending - 1 && this.reached === committedTo) {
      // Its nonces stay opened for every other session all the same (nonce-ledger.ts,
      // `commitLost`): the store is not trusted to say which of its nonces signed. The same
      // request again is the same signing session: signed again, identically.
      this.ledger?.commitLost();
      throw new OffchainError('E_STORE_UNREACHABLE', `lost the connection to the store ${this.dir} during COMMIT, which did not happen: nothing of this request was kept; send the same request again (its mint nonce signs that request only: another one on it is refused E_NONCE_USED, abandon it for a fresh nonce)`, 1);
    }
    this.wipe();
    this.failed = new StoreRolledBackError(
      found === pending - 1
        ? `the answer to a COMMIT was lost and the store ${this.dir} restarted, failed over or was restored before it could be asked (its epoch counter is ${found}, without that transaction): whether it committed and was answered elsewhere cannot be told, so this process wiped its nonce key and stops — restart it (users whose nonces it issued recover with "credit abandon")`
        : `the store ${this.dir} went back in time under this process (its epoch counter is ${found ?? 'gone'} after a lost COMMIT, expected ${pending - 1} or ${pending}): this process wiped its nonce key and stops`,
    );
    throw this.failed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (!this.failed && !this.viewOnly) {
        await this.commit();
        // The epoch's nonces die with its key: the row only kept the rollback check, now moot.
        await this.q('DELETE FROM epochs WHERE epoch = $1', [this.epoch]);
      }
    } finally {
      this.wipe();
      this.closed = true;
      await this.client.end().catch(() => undefined);
    }
  }

  abandon(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.wipe();
    this.closed = true;
    return this.client.end().catch(() => undefined);
  }

  protected wipe(): void {
    this.sealer = undefined;
  }

  /** The seal of this epoch's key; none once the key is wiped. */
  protected keySeal(): Sealer {
    if (!this.sealer) throw new StoreWriteError(`this process's nonce key for ${this.dir} was wiped: restart the mint`);
    return this.sealer;
  }

  /**
   * The restore check, once per transaction that issued, took or burned a nonce, just
   * before its COMMIT (nothing of the transaction has left the process yet): the epoch's
   * counter is incremented and must be exactly this process's memory + 1. Anything else
   * means the database went back in time under this process.
   */
  private async tick(): Promise<void> {
    if (this.keysRepeat) await this.sendDeferred();
    const writes = this.takeDeferred();
    const { text, params } = writesWithTick(writes, this.epoch);
    const row = (await super.q<Record<string, string | null>>(text, params)).rows[0]!;
    const found = row.counter === null || row.counter === undefined ? undefined : Number(row.counter);
    if (found !== this.counter + 1) {
      this.wipe();
      this.failed = new StoreRolledBackError(`the store ${this.dir} went back in time under this process (its epoch ${this.epoch.slice(0, 8)}… counter is ${found ?? 'gone'}, this process counted ${this.counter}): a backup or failover was restored; this process wiped its nonce key and stops — restart it (users whose nonces were lost recover with "credit abandon")`);
      await this.client.query('ROLLBACK').catch(() => undefined);
      this.inTransaction = false;
      this.lockedNonces.clear();
      throw this.failed;
    }
    writes.forEach((w, i) => w.check?.(Number(row[`w${i}`])));
    this.pendingCounter = found;
  }
}

