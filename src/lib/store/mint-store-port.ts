/**
 * The mint's store port: everything the credit protocol and the mint's commands need from
 * the place the mint keeps its state. Two implementations, one contract:
 *
 * - `SqliteMintStore` (sqlite/mint.ts): embedded SQLite in --state-dir, one writer process,
 *   group commit (a `step` is a SAVEPOINT, `commit` ends the batch).
 * - `PgMintStore` (pg/mint-store.ts): PostgreSQL named by --store / OFFCHAIN_STORE_URL,
 *   any number of processes, each `step` its own transaction (committed before `step`
 *   returns; `commit` then has nothing left to do).
 *
 * The rules both keep (the protocol code relies on them and knows nothing else):
 * - Every effect of a step (nonce consumed, state stored, next nonce issued, outpoint
 *   bound, B_ recorded) is durable at the same commit, or none is.
 * - Nothing derived from a step may leave the process before `commit()` has resolved
 *   (PostgreSQL: before `step()` has resolved, which includes its COMMIT).
 * - A failed commit makes the store refuse all further use (`broken`): the process must
 *   exit without releasing anything of what it was committing — or, on PostgreSQL, `renew`
 *   it, which is what exiting and starting again would do.
 */
import type { BlindSignaturePort, FundingIndexPort, MintRecordPort } from '../credit/ports.ts';
import type { NoncePort } from '../musig/nonce-port.ts';
import type { Due, IdRange, Sliced } from '../watch/ports.ts';

export interface MintStorePort<R extends { contract_id: string }> extends FundingIndexPort, NoncePort, BlindSignaturePort {
  /** Where it lives, for messages: a directory, or the store's URL without its password. */
  readonly dir: string;
  /**
   * A contract's record; inside a step, locked to its end. `nonce`: the mint nonce the request
   * names, which the step asks about next (`status`, `take`): a store may read its row in the
   * same statement (PostgreSQL: one round trip less). The answers are the same with or without it.
   */
  get(id: string, nonce?: Uint8Array): Promise<R | undefined>;
  put(record: R): Promise<void>;
  list(): Promise<R[]>;
  /**
   * What a watcher's round reads: the contracts whose watch height (src/lib/watch/ports.ts) is at
   * most `upTo` (its tip plus the safety margin, mintDueUpTo), by contract id — through an index,
   * the others unread — how many others the store holds, and the lowest height among them.
   */
  due(upTo: number): Promise<Due<R>>;
  /**
   * The watcher's rolling audit (src/lib/watch/ports.ts auditSlice): every contract whose id is in
   * `range`, by id, each with the watch height the store computes from the record it holds.
   */
  slice(range: IdRange): Promise<Sliced<R>[]>;
  /** What a service's metrics show (one query each): the contracts kept (open, closing or rolling over) and the nonces issued and not yet consumed. */
  counts(): Promise<{ contracts: number; unusedNonces: number }>;
  remove(id: string): Promise<void>;
  unfundedOpens(openedBefore: number, limit: number): Promise<R[]>;
  readDoc<T>(name: string): Promise<T | undefined>;
  /**
   * Where the store can tell cheaply: a value that changes whenever a document may have changed
   * since it was read (taken before the read). Without it (PostgreSQL) a reader reads again.
   */
  docStamp?(): string;
  /** Store a small document (the mint's offer) durably at once. */
  writeDoc(name: string, value: unknown): Promise<void>;
  /** Run one protocol step atomically: if it throws, nothing it wrote remains. */
  step<T>(fn: () => Promise<T>): Promise<T>;
  /** Make everything written durable. */
  commit(): Promise<void>;
  close(): Promise<void>;
  /** Close without committing (what a crash leaves). */
  abandon(): void | Promise<void>;
  /** Set once a commit failed or the store found itself rolled back: exit, release nothing. */
  readonly broken: Error | undefined;
  /**
   * SQLite: this process alone runs long on the store's directory — a service or a stream, whose
   * batch and nonces live in its memory — E_LOCK_HELD when another already does (sqlite/service-lock.ts).
   * PostgreSQL has none: any number of processes share a store.
   */
  holdAlone?(what: string): void;
  /** PostgreSQL: after a lost connection, wait (bounded backoff) until the store answers again; false when it did not in `withinMs`. */
  reachable?(withinMs: number): Promise<boolean>;
  /** PostgreSQL: leave a broken store behind with a fresh nonce epoch, as a restart would (pg/mint-store.ts `renew`); the retired epoch. */
  renew?(withinMs: number): Promise<string>;
}

