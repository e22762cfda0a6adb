/**
 * The mint's PostgreSQL writes held back (`defer`): a step's record put and its next nonce
 * issued wait for the step's next statement — any `q` sends them first, in order, so every
 * read of the step sees them — or for its COMMIT, where they go with the epoch tick as one
 * prepared statement (`writesWithTick`; pg/mint-transactions.ts `tick`): a payment's writes
 * cost no round trip of their own. A write that fails, whichever call sent it, dooms its
 * transaction (`writeFailed`). Not here: the transactions, the tick and its restore check
 * (pg/mint-transactions.ts), what is written (pg/mint-store.ts, pg/mint-nonces.ts).
 */
import type pg from 'pg';
import { PgMintConnection } from './mint-connection.ts';

/**
 * A write the open transaction holds back (`defer`): its statement ($1… its own parameters),
 * what it writes (`key`), and the check of how many rows it wrote.
 */
export type Deferred = { sql: string; params: unknown[]; key: string; check: ((rows: number) => void) | undefined };

/**
 * The deferred writes and the epoch tick as one statement: each write a data-modifying WITH
 * of its own (every one runs, once), then the tick; one row back, the counter and each
 * write's count. Its text depends only on the writes' statements, so it is prepared once.
 */
export function writesWithTick(writes: readonly Deferred[], epoch: string): { text: string; params: unknown[] } {
  const params: unknown[] = [];
  const ctes = writes.map((w, i) => {
    const shift = params.length;
    params.push(...w.params);
    return `w${i} AS (${w.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + shift}`)} RETURNING 1)`;
  });
  params.push(epoch);
  ctes.push(`t AS (UPDATE epochs SET counter = counter + 1 WHERE epoch = $${params.length} RETURNING counter)`);
  const counts = writes.map((_, i) => `, (SELECT count(*) FROM w${i}) AS w${i}`).join('');
  return { text: `WITH ${ctes.join(', ')} SELECT (SELECT counter FROM t) AS counter${counts}`, params };
}

export abstract class PgMintHeldBack extends PgMintConnection {
  /**
   * The open transaction's writes not sent yet (`defer`): sent before its next statement, or
   * with its tick just before COMMIT. Emptied at every transaction's end; a savepoint rolled
   * back drops those after it.
   */
  protected deferred: Deferred[] = [];

  /**
   * A write of the open transaction, held back until its next statement (any `q` sends it
   * first, so every read of the transaction sees it) or its COMMIT, where it goes with the
   * epoch tick: a mint update's next nonce and record cost no round trip of their own. Its
   * `check` sees how many rows it wrote; what it throws rolls the transaction back, as it
   * would have where the write was made — nothing of the transaction has left the process
   * before its COMMIT. A write of the same `key` already waiting is replaced when
   * `replaces` (a record put twice: the later one is what the first would have become), else
   * sent first.
   */
  protected defer(sql: string, params: unknown[], key: string, replaces: boolean, check?: (rows: number) => void): void {
    if (!this.inTransaction) throw new Error('defer outside a transaction');
    const same = this.deferred.findIndex((d) => d.key === key);
    if (same >= 0 && replaces) this.deferred.splice(same, 1);
    this.deferred.push({ sql, params, key, check });
  }

  /** Two writes waiting with one key (a key not replaced): they go one by one, in order, not in one statement. */
  protected get keysRepeat(): boolean {
    return new Set(this.deferred.map((d) => d.key)).size !== this.deferred.length;
  }
  /**
   * A held-back write failed, sent before some later statement: the error is the step's that
   * made the write, whichever call sent it, so every later statement of the transaction and
   * its COMMIT throw it again (a caller that tolerates the failure of, say, a nested step
   * cannot commit without the write). A savepoint rolled back clears it if it came after.
   */
  protected writeFailed: unknown;

  protected override async q<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<pg.QueryResult<T>> {
    if (this.writeFailed !== undefined) throw this.writeFailed;
    if (this.deferred.length > 0) await this.sendDeferred();
    return super.q<T>(text, params);
  }

  /** The deferred writes, one statement each, in the order they were made. */
  protected async sendDeferred(): Promise<void> {
    const writes = this.takeDeferred();
    try {
      for (const w of writes) {
        const r = await super.q(w.sql, w.params);
        w.check?.(r.rowCount ?? 0);
      }
    } catch (e) {
      this.writeFailed = e;
      throw e;
    }
  }

  protected takeDeferred(): Deferred[] {
    const writes = this.deferred;
    this.deferred = [];
    return writes;
  }

  /** The transaction (or the savepoint the writes came after) ended without them: none is sent, none failed. */
  protected dropHeldBack(): void {
    this.deferred = [];
    this.writeFailed = undefined;
  }
}
