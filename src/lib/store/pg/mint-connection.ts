/**
 * The mint's PostgreSQL connection (pg/mint-store.ts): one connection per process, its
 * queries, and what happens when it is lost — the request in flight refused, the next use
 * reconnecting with the same epoch and key (`reconnect`), a stream waiting for the store to
 * answer again (`reachable`). The base of PgMintTransactions (pg/mint-transactions.ts), which
 * owns transactions and the epoch; not here: what a COMMIT whose answer was lost means
 * (`resolveCommit` there).
 */
import type pg from 'pg';
import { OffchainError } from '../../errors.ts';
import { StoreWriteError } from '../write-errors.ts';
import { pgConfig, storeError } from './client.ts';
import type { PgTarget } from './connect.ts';

export const RETRYABLE = new Set(['40001', '40P01']);
const CONNECTION = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004']);

export function codeOf(e: unknown): string | undefined {
  return (e as { code?: string }).code;
}

export function isConnectionError(e: unknown): boolean {
  const c = codeOf(e);
  if (c && CONNECTION.has(c)) return true;
  return /Connection terminated|Client has encountered a connection error|not queryable/i.test((e as Error).message ?? '');
}

/**
 * `text` with its parameters `$1`… written in as SQL literals — for sending it in the same
 * simple-protocol round trip as a BEGIN — when every one is a string of ASCII without a NUL
 * (quoted by the driver's escapeLiteral) or a safe integer; else undefined (it is sent as it
 * is, its parameters apart). Any other text the server may refuse whole — a NUL ends it on
 * the wire; a character the database's encoding lacks (LATIN1…) fails its conversion — and
 * then its BEGIN never ran: the step's later statements would each commit on their own. Bound
 * apart, such a parameter is refused inside the transaction, which it aborts.
 */
export function withLiterals(text: string, params: readonly unknown[], quote: (s: string) => string): string | undefined {
  const literals: string[] = [];
  for (const p of params) {
    if (typeof p === 'string' && /^[\x01-\x7f]*$/.test(p)) literals.push(quote(p));
    else if (typeof p === 'number' && Number.isSafeInteger(p)) literals.push(String(p));
    else return undefined;
  }
  let bad = false;
  const out = text.replace(/\$(\d+)/g, (_, n: string) => literals[Number(n) - 1] ?? ((bad = true), ''));
  return bad ? undefined : out;
}

/**
 * The statements a connection prepares once, by name, and then only binds and runs: parsed and
 * planned once per connection, not per request. Not one that returns `*`: its columns are fixed
 * when it is prepared, and once a column is added (a newer writer's migration, a DBA) the server
 * refuses it ("cached plan must not change result type") for the connection's life.
 */
const PREPARED = /^(SELECT|INSERT|UPDATE|DELETE|WITH)\b/;
const STAR = /\b(SELECT|RETURNING)\s+\*/i;
const names = new Map<string, string>();
function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) names.set(text, (name = `offchain_${names.size}`));
  return name;
}

/** A connection failure as the command-line contract words it (client.ts): the redacted URL, never the password. */
export const storeConnectError = storeError;

/**
 * What a restore changes about the store, whatever its kind: when the server started (a
 * physical restore, a point-in-time recovery, a failover, a crash), the database's OID (a
 * database dropped and created again from a dump), and the epochs table's OID and file
 * (a dump restored with --clean, or its tables truncated and reloaded). Row by row edits
 * by hand are not a restore it can see.
 */
export async function storeIdentity(client: pg.Client): Promise<string> {
  return (await client.query<{ s: string }>(
    `SELECT concat_ws('/', pg_postmaster_start_time()::text, d.oid::text, to_regclass('epochs')::oid::text, pg_relation_filenode(to_regclass('epochs'))::text) AS s
       FROM pg_database d WHERE d.datname = current_database()`,
  )).rows[0]!.s;
}

export function newClient(mod: { default: typeof pg }, target: PgTarget): pg.Client {
  const client = new mod.default.Client(pgConfig(target, 'offchain-mint'));
  // From the first byte: a connection lost while the store is opened or reconnects — before
  // `watch` — fails the query in flight (coded by its caller) instead of raising an 'error'
  // event nobody listens to, which would end the process uncoded.
  client.on('error', () => undefined);
  return client;
}

export abstract class PgMintConnection {
  readonly dir: string;
  protected inTransaction = false;
  /**
   * A transaction begun here but not yet on the server: BEGIN goes with its first statement,
   * in one round trip (`q`), or alone before it when its parameters cannot be written as
   * literals. A step that sends nothing sends no BEGIN, nor COMMIT.
   */
  protected beginPending = false;
  protected failed: Error | undefined;
  protected closed = false;

  /** The connection was lost outside a COMMIT: the next use reconnects (see `reconnect`). */
  protected lost: OffchainError | undefined;
  /**
   * The store this connection reached, as a restore would change it (`storeIdentity`): a
   * lost COMMIT's absence is conclusive only on the store that was sent the COMMIT, not
   * restarted or restored since (see `resolveCommit`).
   */
  protected reached = '';

  protected constructor(protected client: pg.Client, protected readonly target: PgTarget) {
    this.dir = target.url;
    this.watch(client);
  }

  private watch(client: pg.Client): void {
    client.on('error', (e) => {
      // An idle connection lost (server restart): the next use reconnects.
      if (client === this.client) this.lose(e);
    });
  }

  protected lose(e: unknown): OffchainError {
    // An open transaction stays open in name until its step rolls back: nothing more of it
    // may run (on a new connection it would run outside any transaction).
    this.lost ??= new OffchainError('E_STORE_UNREACHABLE', `lost the connection to the store ${this.dir} (${(e as Error).message ?? e}): nothing of this request was kept; retry it`, 1);
    return this.lost;
  }

  /**
   * RECONNECTING. A connection lost outside a COMMIT lost only an open transaction, which
   * the server rolls back: nothing of it was kept and nothing of it left the process, so
   * the request is refused (E_STORE_UNREACHABLE, exit 1, retryable) and the next use opens
   * a new connection with the same epoch and key — the process's nonces stay usable. The
   * restore check (`tick`) runs on the new connection as on the old: a server that came
   * back older is caught at the next nonce transaction. A COMMIT whose answer was lost is
   * resolved on the new connection by the epoch counter the transaction incremented (it
   * is there iff the transaction committed); without one, the outcome is unknown and the
   * store is broken.
   */
  private async reconnect(): Promise<void> {
    const old = this.client;
    const next = newClient(await import('pg'), this.target);
    let started: string;
    try {
      await next.connect();
      started = await storeIdentity(next);
    } catch (e) {
      await next.end().catch(() => undefined);
      throw storeError(e, this.target);
    }
    this.client = next;
    this.reached = started;
    this.watch(next);
    this.lost = undefined;
    void old.end().catch(() => undefined);
  }

  /**
   * `reconnect`, again and again with bounded backoff (0.1 s doubling to 2 s) while the store
   * is unreachable (a server restarting refuses connections, or takes one and drops it), for
   * up to `withinMs`; the last refusal when it stays unreachable. Any other refusal (the login,
   * the database gone) at once.
   */
  protected async reconnectWithin(withinMs: number): Promise<void> {
    const deadline = Date.now() + withinMs;
    for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
      try {
        return await this.reconnect();
      } catch (e) {
        if (!(e instanceof OffchainError && e.code === 'E_STORE_UNREACHABLE') || Date.now() + delay > deadline) throw e;
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /**
   * After a lost connection (a request refused E_STORE_UNREACHABLE): wait, with bounded
   * backoff, until the store answers again — true — or `withinMs` has passed — false. A
   * stream then serves the request again: nothing of it was kept (the server rolled its
   * transaction back) and nothing of it left the process.
   */
  async reachable(withinMs: number): Promise<boolean> {
    if (this.failed || this.closed) return false;
    if (!this.lost) return true;
    try {
      await this.reconnectWithin(withinMs);
      return true;
    } catch (e) {
      if (e instanceof OffchainError && e.code === 'E_STORE_UNREACHABLE') return false;
      throw e;
    }
  }

  protected usable(): void {
    if (this.failed) throw this.failed instanceof OffchainError ? this.failed : new StoreWriteError(`the mint's store failed earlier (${this.failed.message}); restart the mint`);
    if (this.closed) throw new StoreWriteError('the mint store is closed');
  }

  protected async q<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<pg.QueryResult<T>> {
    this.usable();
    if (this.lost) {
      // A transaction whose BEGIN is still here has nothing on the lost connection.
      if (this.inTransaction && !this.beginPending) throw this.lost;
      await this.reconnect();
    }
    try {
      if (this.beginPending) {
        this.beginPending = false;
        const literal = withLiterals(text, params, (s) => this.client.escapeLiteral(s));
        if (literal === undefined) await this.client.query('BEGIN');
        else return ((await this.client.query(`BEGIN; ${literal}`)) as unknown as pg.QueryResult<T>[])[1]!;
      }
      return await this.client.query<T>(PREPARED.test(text) && !STAR.test(text) ? { name: statementName(text), text, values: params } : { text, values: params });
    } catch (e) {
      if (isConnectionError(e)) throw this.lose(e);
      throw e;
    }
  }
}
