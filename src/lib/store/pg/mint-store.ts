/**
 * The mint's state on PostgreSQL (`--store postgres://…`): the same contract as the
 * SQLite store (mint-store-port.ts), for any number of mint processes on any number of
 * machines sharing one database. This file opens the store and renews its epoch, and keeps
 * the records, the funding index and the blind signatures; the class is built in layers, one
 * concern each: the connection (mint-connection.ts), the writes held back to a step's next
 * statement or its tick (mint-held-back.ts), transactions and the epoch's restore check
 * (mint-transactions.ts), the sealed nonces (mint-nonces.ts), the opening transaction
 * (mint-open.ts).
 *
 * Single-use rules are database constraints (schema.ts): one contract per funding
 * outpoint, a nonce id issued once, consumed once (a trigger refuses consumed → unused
 * and deleting a nonce row; the secret column is NULL once consumed, CHECKed), a B_
 * signed once.
 *
 * THE RESTORE RULE — a restore can never make a nonce sign twice.
 * A database can go back in time: a backup restored, a standby promoted that had not
 * received the last commits, a point-in-time recovery. Any secret nonce whose
 * consumption is undone by that comes back unused, and one nonce signing two different
 * messages gives away the mint's key. So:
 *
 * 1. A secret nonce is stored only sealed (../seal.ts, its id, epoch and context as its
 *    label) under an epoch key the database never sees: each mint process (`serve mint`,
 *    `serve gateway`, `sign-update --stream`; a one-shot command that would use nonces is
 *    refused, E_STORE_ONE_SHOT) draws a fresh random key when it opens the store, keeps it in
 *    memory only, and registers a fresh epoch id (a row of `epochs`). Only that process can
 *    open the nonces it issued. A process that exits takes its key with it; every restore
 *    that restarts the processes (all of them, since a restore stops the server) leaves
 *    ciphertexts nobody can open: a revived nonce can be burned (`credit abandon`) but never
 *    signed with.
 * 2. A process that survives the restore (it reconnects to a server that went back in
 *    time) detects it from what the database cannot roll back: its own memory. Every
 *    transaction that issues, takes or burns a nonce increments its epoch's counter in the
 *    database just before its COMMIT (`tick`), and checks that the new value is exactly its
 *    in-memory value + 1 (the memory advances only after COMMIT; only this process writes
 *    its row). If any of its nonce takes were undone, so was the counter increment committed
 *    with it, and its next nonce transaction sees a lower counter (or no row at all) before
 *    anything of it leaves the process: the process wipes its key, refuses
 *    (E_STORE_ROLLED_BACK) and the store is broken — it exits, or (a stream, a service)
 *    renews it with a fresh epoch, its old key gone either way. A restore that undid none of
 *    its takes revives none of its nonces; and its ledger (below) refuses a revived one
 *    whatever the counter says. Other epochs' nonces are not its business: it cannot open
 *    them. (Why not the WAL position or the timeline: other processes' writes move the LSN
 *    past a restored point before this one looks, and a copy restore keeps the timeline.
 *    The per-epoch counter is exact for the only nonces the epoch can use; its row is this
 *    process's alone, so no two processes wait on it.)
 *
 * The cost: a nonce can be used only by the process that issued it. A request whose nonce
 * another live process issued is refused without burning it (E_NONCE_ELSEWHERE, exit 5,
 * retryable): route requests by contract (a load balancer's hash of the contract id, or the
 * Offchain-Contract header `--peer` sends), so a contract's nonces stay with one process.
 * When a process is gone — restarted, crashed, or a restore — its nonces are dead: the user's
 * request is refused (the same E_NONCE_ELSEWHERE) and the user recovers with `credit
 * abandon` (`--peer` does it by itself), whose answer the mint gives by burning the dead
 * nonce (no secret needed) and issuing a fresh one from the serving process. Restarting a
 * mint process therefore costs each of its users one abandon. States the mint signed after
 * the backup are lost to the mint by a restore (it exits with an older state, which pays it
 * less): a backup protects the contracts, not the payments since; use synchronous
 * replication for those.
 *
 * THE LEDGER RULE — a database writer gets no second signature (nonce-ledger.ts).
 * The restore rule sees a database gone back as a whole; a writer of the database (the
 * mint's own role, a DBA, a managed database's staff, a table owner) can instead put one
 * nonce's row back after it was used, past the single-use trigger, with the contract's row.
 * So each process keeps, in its memory, the ledger of the nonces it may still open, and
 * `take` opens only what that ledger holds: a nonce offered again is refused before its secret is touched (E_NONCE_REOPENED,
 * exit 1, an alarm; nothing signed, nothing written) — unless it is offered for the very
 * signing session it was opened for, which signs the same partial signature again (the
 * invariant is "never two different partial signatures under one secret nonce"). A COMMIT
 * whose answer was lost keeps its nonces opened for every other session even when the
 * database says it did not happen; so a stream serving such a request again (outages.ts)
 * opens the nonce again only because it is the same request, not on the database's word.
 *
 * WHAT A DATABASE WRITER CAN STILL DO. It cannot make this process produce two different
 * partial signatures with one nonce, read a secret nonce or a signed state (both sealed
 * under keys it never sees: ../mint-records.ts), or get tables of its own adopted
 * (`checkOwners`). A row put back with the same request replayed gets the same signature
 * again — the signed state the requester holds already — and the alarm; nothing new. It can deny service:
 * hide, consume or corrupt nonces and records (users abandon; a corrupt sealed state is
 * E_STATE_CORRUPT), refuse or slow every step; and it can roll a contract back to an older
 * state — the mint then exits with that state and is paid less, as after a restore — or
 * drop the record of a payment: the database holds the mint's accounts, and a writer of it
 * is trusted with them. Keep the mint's role to the mint (docs/deployment.md).
 *
 * With OFFCHAIN_TEST_SEED (deterministic randomness, tests only) nonces derive from a
 * counter the restore rolls back too: never run a PostgreSQL mint that way against a
 * backup you restore.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FundingBinding, SignedBlindedMessage } from '../../credit/ports.ts';
import { OffchainError, RefusedError } from '../../errors.ts';
import type { MintStorePort } from '../mint-store-port.ts';
import { RENEWABLE } from '../outages.ts';
import { StoreWriteError } from '../write-errors.ts';
import type { PgTarget } from './connect.ts';
import { isConnectionError, newClient, storeConnectError, storeIdentity } from './mint-connection.ts';
import { PgMintNonces } from './mint-nonces.ts';
import type { NonceRow } from './mint-transactions.ts';
import { nonceId as nonceKey } from '../sqlite/nonces.ts';
import { MIGRATION_CLAIM_KEY, migratingInto, OPEN_LOCK, openingTransaction, type MigrationClaim } from './mint-open.ts';
import { storeError } from './client.ts';
import { mintRecordOf, mintRecordText } from '../mint-records.ts';
import { Sealer } from '../seal.ts';
import { TABLES, UNFUNDED_OPEN_SQL, WATCH_HEIGHT_INLINE_SQL, WATCH_HEIGHT_SQL } from './schema.ts';
import type { Due, IdRange, Sliced } from '../../watch/ports.ts';

/** A record written (held back: `put`); bench/pg-statements.ts sends it too. */
export const CONTRACT_PUT_SQL = 'INSERT INTO contracts (contract_id, record) VALUES ($1, $2) ON CONFLICT (contract_id) DO UPDATE SET record = EXCLUDED.record';

/** A contract's row, locked for the open transaction (`get`). */
const CONTRACT_LOCKED = 'SELECT record FROM contracts WHERE contract_id = $1 FOR UPDATE';

/**
 * The same, and then the row of the nonce the request names, locked too (`get` with a nonce):
 * the contract first — the CTE is materialized and the nonce's subquery refers to it, so the
 * nonce is locked only after the contract, in the order a step without the hint takes them.
 * The nonce is read in the statement's snapshot, taken before any wait on the contract: a row
 * updated since is followed to its latest version (FOR UPDATE); one inserted since is not
 * seen, and is read again by `status` or `take` in a statement of its own. A nonce row another
 * transaction holds is skipped, not waited for (SKIP LOCKED), and read the same way: this statement
 * comes before the request is shown to be the user's (checkUserSigned), and whoever knows a
 * contract id and a nonce must not make the step wait on that nonce, or be refused in other words,
 * before then (attack review). bench/pg-statements.ts sends it too.
 */
export const CONTRACT_AND_NONCE_LOCKED = 'WITH c AS MATERIALIZED (SELECT record FROM contracts WHERE contract_id = $1 FOR UPDATE) '
  + 'SELECT c.record, n.context, n.epoch, n.sealed, n.consumed, n.id IS NOT NULL AS found FROM c '
  + 'LEFT JOIN LATERAL (SELECT id, context, epoch, sealed, consumed FROM nonces WHERE id = $2 AND c.record IS NOT NULL FOR UPDATE SKIP LOCKED) n ON true';

export interface PgMintStoreOptions {
  /** Read only (monitoring, `credit list`): no epoch, no key, nothing written. */
  view?: boolean;
  /** The mint's secret key: its records' fully signed states are sealed under it (../mint-records.ts). The mint's commands pass it; a view does not. */
  key?: Uint8Array;
  /** Called with the text of an alarm (a nonce offered again: nonce-ledger.ts `LedgerOptions.alarm`), e.g. to print it on stderr. */
  alarm?: (message: string, refused: boolean) => void;
}

export class PgMintStore<R extends { contract_id: string }> extends PgMintNonces implements MintStorePort<R> {
  /** Seals the fully signed states in records (../mint-records.ts); without it (a view) they stay sealed. */
  private stateSeal: Sealer | undefined;
  /**
   * The watch height as this store's index holds it: WATCH_HEIGHT_SQL, or, for a view of a store
   * no writer of this toolkit has opened yet (its function missing), the expression before it.
   */
  private watchHeight = WATCH_HEIGHT_SQL;

  /**
   * A STREAM GOES ON after its store broke — the database went back in time under it
   * (E_STORE_ROLLED_BACK), or a COMMIT's outcome could not be told (E_STATE_WRITE: the
   * server restarted before it could be asked, or could not be reached in time). What a
   * restarted process would do, without the restart: the key that sealed this process's
   * nonces is wiped, the old epoch's row is deleted (its nonces are dead, as a process that
   * exits leaves them), and a fresh epoch is registered with a fresh random key, on a new
   * connection, waited for with bounded backoff up to `withinMs`. No nonce sealed
   * under the old key can ever be opened again, by this process or any other, so a revived or
   * undecided nonce cannot sign twice; the users holding one recover with `credit abandon`.
   * The request in flight is then served again: committed, the replay finds its stored
   * answer; not committed, its nonce is the old epoch's and it is refused E_NONCE_ELSEWHERE.
   * Returns the retired epoch (for the warning). Throws the original failure when the store is
   * not broken that way, or stays unreachable.
   */
  async renew(withinMs: number): Promise<string> {
    const failed = this.failed;
    if (!failed || this.closed || this.viewOnly || !(failed instanceof OffchainError) || !RENEWABLE.has(failed.code)) throw failed ?? new StoreWriteError('the mint store is not broken');
    const old = this.epoch;
    this.wipe();
    this.lost ??= new OffchainError('E_STORE_UNREACHABLE', 'renewing the epoch', 1);
    this.inTransaction = false;
    this.beginPending = false;
    this.lockedNonces.clear();
    this.savepoints = 0;
    this.pendingCounter = undefined;
    this.nonceTouched = false;
    try {
      await this.reconnectWithin(withinMs);
      const epoch = randomBytes(16).toString('hex');
      await openingTransaction(this.client, this.target, this.network, { view: false, epoch, retire: old });
      this.epoch = epoch;
      this.sealer = Sealer.random();
    } catch (e) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw e instanceof OffchainError ? e : isConnectionError(e) ? storeError(e, this.target) : failed;
    }
    this.counter = 0;
    this.failed = undefined;
    // The new epoch's ledger: the old epoch's nonces are sealed under a key wiped above, so
    // none of them can be opened again whatever its ledger said (they are refused
    // E_NONCE_ELSEWHERE before any ledger is asked).
    this.ledger = this.newLedger();
    return old;
  }

  /** Connect, create the schema on first use (refusing a newer one), register this process's epoch. */
  static async open<R extends { contract_id: string }>(target: PgTarget, network: string, opts: PgMintStoreOptions = {}): Promise<PgMintStore<R>> {
    const client = newClient(await import('pg'), target);
    try {
      await client.connect();
    } catch (e) {
      await client.end().catch(() => undefined);
      throw storeConnectError(e, target);
    }
    const epoch = randomBytes(16).toString('hex');
    let reached = '';
    // A writer's open makes the indexes' functions (pg/mint-open.ts); a view finds them or not.
    let indexFunctions = true;
    try {
      await openingTransaction(client, target, network, { view: opts.view ?? false, storeId: !opts.view, epoch: !opts.view ? epoch : undefined, ...(!opts.view && opts.key ? { key: opts.key } : {}) });
      reached = await storeIdentity(client);
      if (opts.view) indexFunctions = (await client.query<{ t: string | null }>("SELECT to_regprocedure('offchain_watch_height(text)')::text AS t")).rows[0]!.t !== null;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end().catch(() => undefined);
      if (e instanceof OffchainError) throw e;
      if (isConnectionError(e)) throw storeConnectError(e, target);
      throw new OffchainError('E_STATE_CORRUPT', `the store ${target.url} cannot be opened: ${(e as Error).message}`, 3);
    }
    const store = new PgMintStore<R>(client, target, epoch, opts.view ? undefined : Sealer.random());
    store.network = network;
    store.reached = reached;
    if (opts.view) {
      store.viewOnly = true;
      if (!indexFunctions) store.watchHeight = WATCH_HEIGHT_INLINE_SQL;
    } else {
      store.stateSeal = opts.key && Sealer.fromSecret(opts.key);
      store.alarm = opts.alarm;
      store.ledger = store.newLedger();
    }
    return store;
  }

  // ——— records ———

  async get(id: string, nonce?: Uint8Array): Promise<R | undefined> {
    if (!this.inTransaction) {
      const row = (await this.q<{ record: string }>('SELECT record FROM contracts WHERE contract_id = $1', [id])).rows[0];
      return row ? this.decode(row.record) : undefined;
    }
    const key = nonce && nonceKey(nonce);
    return key === undefined || this.lockedNonces.has(key) ? this.lockedOrNew(id) : this.lockedWithNonce(id, key);
  }

  /**
   * The contract's row and the request's nonce row in one round trip (CONTRACT_AND_NONCE_LOCKED):
   * the nonce row kept for `status` and `take` when it was read; no contract row, the advisory lock's way.
   */
  private async lockedWithNonce(id: string, key: string): Promise<R | undefined> {
    const row = (await this.q<{ record: string } & NonceRow & { found: boolean }>(CONTRACT_AND_NONCE_LOCKED, [id, key])).rows[0];
    if (!row) return this.afterOpenLock(id);
    if (row.found) this.lockedNonces.set(key, { context: row.context, epoch: row.epoch, sealed: row.sealed, consumed: row.consumed });
    return this.decode(row.record);
  }

  /** The contract's row locked for the open transaction, or, with no row, its id's advisory lock and a fresh read. */
  private async lockedOrNew(id: string): Promise<R | undefined> {
    // The request's lock on this contract, held to COMMIT: its row's. A second request for it
    // waits here, then reads the first one's commit (FOR UPDATE returns the row's latest
    // version, or none once deleted). A contract with no row yet has nothing to lock: the
    // advisory lock on its id serialises its opens, and the read after it — a statement of
    // its own, so a snapshot of its own — sees an open committed while it waited.
    const row = (await this.q<{ record: string }>(CONTRACT_LOCKED, [id])).rows[0];
    return row ? this.decode(row.record) : this.afterOpenLock(id);
  }

  /** A contract its locked read found no row for: its id's advisory lock, then the row read again. */
  private async afterOpenLock(id: string): Promise<R | undefined> {
    await this.q('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`contract:${id}`]);
    const row = (await this.q<{ record: string }>(CONTRACT_LOCKED, [id])).rows[0];
    return row ? this.decode(row.record) : undefined;
  }

  /** A stored record: its fully signed states opened with the mint's key, or left sealed (a view). */
  private decode(text: string): R {
    return mintRecordOf<R>(text, this.stateSeal, this.dir);
  }

  async put(record: R): Promise<void> {
    await this.begin();
    // A fully signed state never reaches the database in the clear (../mint-records.ts).
    const text = mintRecordText(record, this.stateSeal, this.dir);
    // Held back to the transaction's next statement or its COMMIT (pg/mint-held-back.ts `defer`).
    this.defer(CONTRACT_PUT_SQL, [record.contract_id, text], `contract:${record.contract_id}`, true);
  }

  async list(): Promise<R[]> {
    return (await this.q<{ record: string }>('SELECT record FROM contracts ORDER BY contract_id')).rows.map((r) => this.decode(r.record));
  }

  async due(upTo: number): Promise<Due<R>> {
    // The expression of the index itself (schema.ts): the database computes each row's height from its record.
    const rows = (await this.q<{ record: string }>(`SELECT record FROM contracts WHERE ${this.watchHeight} <= $1 ORDER BY contract_id`, [upTo])).rows;
    const rest = (await this.q<{ n: string; next: string | null }>(`SELECT COUNT(*) AS n, (SELECT MIN(${this.watchHeight}) FROM contracts WHERE ${this.watchHeight} > $1) AS next FROM contracts`, [upTo])).rows[0]!;
    return { records: rows.map((r) => this.decode(r.record)), others: Number(rest.n) - rows.length, ...(rest.next !== null ? { next: Number(rest.next) } : {}) };
  }

  async slice(range: IdRange): Promise<Sliced<R>[]> {
    // A key range of the primary key; the height is the index's expression, computed here from the record read.
    const rows = range.to === undefined
      ? (await this.q<{ record: string; h: string }>(`SELECT record, ${this.watchHeight}::text AS h FROM contracts WHERE contract_id >= $1 ORDER BY contract_id`, [range.from])).rows
      : (await this.q<{ record: string; h: string }>(`SELECT record, ${this.watchHeight}::text AS h FROM contracts WHERE contract_id >= $1 AND contract_id < $2 ORDER BY contract_id`, [range.from, range.to])).rows;
    return rows.map((r) => ({ record: this.decode(r.record), height: Number(r.h) }));
  }

  async counts(): Promise<{ contracts: number; unusedNonces: number }> {
    const row = (await this.q<{ contracts: string; unused: string }>('SELECT (SELECT COUNT(*) FROM contracts) AS contracts, (SELECT COUNT(*) FROM nonces WHERE NOT consumed) AS unused')).rows[0]!;
    return { contracts: Number(row.contracts), unusedNonces: Number(row.unused) };
  }

  async remove(id: string): Promise<void> {
    await this.begin();
    // The advisory lock too: a request that found no row waits on it (`get`), and its read
    // after it must not fall between this DELETE and a put of the same id after it.
    await this.q('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`contract:${id}`]);
    await this.q('DELETE FROM contracts WHERE contract_id = $1', [id]);
  }

  async unfundedOpens(openedBefore: number, limit: number): Promise<R[]> {
    const rows = await this.q<{ record: string }>(
      `SELECT record FROM contracts WHERE ${UNFUNDED_OPEN_SQL} IS NOT NULL AND ${UNFUNDED_OPEN_SQL} < $1 ORDER BY ${UNFUNDED_OPEN_SQL} LIMIT $2`,
      [openedBefore, limit],
    );
    return rows.rows.map((r) => this.decode(r.record));
  }

  async readDoc<T>(name: string): Promise<T | undefined> {
    const row = (await this.q<{ value: string }>('SELECT value FROM meta WHERE key = $1', [`doc:${name}`])).rows[0];
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  async writeDoc(name: string, value: unknown): Promise<void> {
    const ours = !this.inTransaction;
    await this.begin();
    // Publishing the offer is the one write a store without a mint takes: a process that
    // opened the empty database before a migration claimed it must not write into it now
    // (the copy would be refused, the source left marked). Under the lock the claim is made in.
    await this.q('SELECT pg_advisory_xact_lock($1)', [OPEN_LOCK]);
    const claim = (await this.q<{ value: string }>('SELECT value FROM meta WHERE key = $1', [MIGRATION_CLAIM_KEY])).rows[0];
    if (claim) {
      if (ours) await this.rollback();
      throw migratingInto(this.dir, JSON.parse(claim.value) as MigrationClaim);
    }
    await this.q('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [`doc:${name}`, JSON.stringify(value)]);
    await this.commit();
  }

  // ——— the funding-outpoint index: the PRIMARY KEY is the rule ———

  async fundingOwner(outpoint: string): Promise<FundingBinding | undefined> {
    const row = (await this.q<{ contract_id: string; kind: string; from_contract_id: string | null }>('SELECT contract_id, kind, from_contract_id FROM funding WHERE outpoint = $1', [outpoint])).rows[0];
    if (!row) return undefined;
    return { contract_id: row.contract_id, kind: row.kind as FundingBinding['kind'], ...(row.from_contract_id ? { from_contract_id: row.from_contract_id } : {}) };
  }

  async bindFunding(outpoint: string, binding: FundingBinding): Promise<void> {
    await this.begin();
    // A racing binder of the same outpoint waits for our COMMIT, then takes the DO UPDATE
    // branch, whose WHERE only lets the same contract through.
    const r = await this.q(
      `INSERT INTO funding (outpoint, contract_id, kind, from_contract_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (outpoint) DO UPDATE SET kind = EXCLUDED.kind, from_contract_id = EXCLUDED.from_contract_id WHERE funding.contract_id = EXCLUDED.contract_id`,
      [outpoint, binding.contract_id, binding.kind, binding.from_contract_id ?? null],
    );
    if (r.rowCount === 0) {
      const owner = await this.fundingOwner(outpoint);
      throw new RefusedError('E_FUNDING_IN_USE', `funding outpoint ${outpoint} already belongs to contract ${owner?.contract_id ?? '(another)'}`);
    }
  }

  // ——— blind signatures: the PRIMARY KEY on B_ is the rule ———

  async blindSignatureOwner(B_: string): Promise<{ contract_id: string; state: number } | undefined> {
    return (await this.q<{ contract_id: string; state: number }>('SELECT contract_id, state FROM blind_signatures WHERE b_ = $1', [B_])).rows[0];
  }

  async recordBlindSignatures(contractId: string, state: number, rows: { B_: string; keyset_id: string; amount: number; C_: string }[]): Promise<void> {
    await this.begin();
    for (const r of rows) {
      const res = await this.q('INSERT INTO blind_signatures (b_, contract_id, state, keyset_id, amount, c_) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (b_) DO NOTHING', [r.B_, contractId, state, r.keyset_id, r.amount, r.C_]);
      if (res.rowCount !== 1) throw new RefusedError('E_BLINDED_MESSAGE_REUSED', `the blinded message ${r.B_.slice(0, 16)}… was already signed: a blinded message is signed once`);
    }
  }

  /** Read-only (NUT-09 restore): the asked blinded messages that were signed. */
  async signedBlindedMessages(B_s: string[]): Promise<SignedBlindedMessage[]> {
    if (B_s.length === 0) return [];
    // SELECT *: a view of a store whose writer has not added c_ yet reads its rows as without one
    const rows = await this.q<{ b_: string; contract_id: string; state: number; keyset_id: string; amount: string; c_?: string | null }>('SELECT * FROM blind_signatures WHERE b_ = ANY($1::text[])', [B_s]);
    return rows.rows.map((r) => ({ B_: r.b_, contract_id: r.contract_id, state: r.state, keyset_id: r.keyset_id, amount: Number(r.amount), C_: r.c_ ?? null }));
  }

  async ecashIssuance(): Promise<{ keyset_id: string; issued_sat: number; signatures: number }[]> {
    const rows = await this.q<{ keyset_id: string; issued_sat: string; signatures: string }>('SELECT keyset_id, SUM(amount) AS issued_sat, COUNT(*) AS signatures FROM blind_signatures GROUP BY keyset_id ORDER BY keyset_id');
    return rows.rows.map((r) => ({ keyset_id: r.keyset_id, issued_sat: Number(r.issued_sat), signatures: Number(r.signatures) }));
  }

  /** SHA-256 over every row as this connection sees them (tests: a refusal wrote nothing). */
  async contentDigest(): Promise<string> {
    const h = createHash('sha256');
    for (const table of TABLES) {
      for (const row of (await this.q(`SELECT * FROM ${table} ORDER BY 1`)).rows) h.update(`${table}:${JSON.stringify(row)}\n`);
    }
    return h.digest('hex');
  }
}
