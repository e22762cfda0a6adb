/**
 * The mint's state on PostgreSQL (`--store postgres://…`): the same contract as the
 * SQLite store (mint-store-port.ts), for any number of mint processes on any number of
 * machines sharing one database.
 *
 * Transactions. Each protocol step (`step`) is its own transaction, committed before
 * `step` returns, so a result leaves the process only after its COMMIT has returned.
 * Inside it the contract is locked for the request: `get(id)` takes a transaction-level
 * advisory lock on the contract id (which also serialises two opens of a contract that
 * does not exist yet) and reads the row `SELECT … FOR UPDATE`. Two processes serving the
 * same contract therefore run one after the other; the second sees the first's commit
 * (READ COMMITTED re-reads after the lock) and answers a replay with the stored answer.
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
 * 1. A secret nonce is stored only sealed (AES-256-GCM, the nonce id, epoch and context
 *    as associated data) under an epoch key that the database never sees, of one of two
 *    kinds:
 *    - a PROCESS epoch (`sign-update --stream`): the process draws a fresh random key when
 *      it opens the store, keeps it in memory only, and registers a fresh epoch id (a row
 *      of `epochs`). Only that process can open the nonces it issued. A process that exits
 *      takes its key with it; every restore that restarts the processes (all of them,
 *      since a restore stops the server) leaves ciphertexts nobody can open: a revived
 *      nonce can be burned (`credit abandon`) but never signed with.
 *    - a HOST epoch (every one-shot mint command, so every gateway step): the key lives in
 *      a 0600 file under the host's --state-dir, shared by the host's one-shot commands,
 *      with a rollback witness beside it on local disk (host-epoch.ts says how a restore is
 *      caught before a revived nonce is opened, and why a crash at the wrong moment
 *      retires the key rather than risk it).
 * 2. A process that survives the restore (it reconnects to a server that went back in
 *    time) detects it from something the database cannot roll back: its own memory (a
 *    process epoch) or the host's witness (a host epoch). Every transaction that issues,
 *    takes or burns a nonce increments its epoch's counter in the database just before
 *    its COMMIT (`tick`), and checks that the new value is exactly its in-memory value + 1
 *    (the memory advances only after COMMIT; only this process writes its row) — or, for
 *    a host epoch, exactly the witness + 1, which it then raises before COMMIT. If any of its
 *    nonce takes were undone, so was the counter increment committed with it, and its next
 *    nonce transaction sees a lower counter (or no row at all) before anything of it
 *    leaves the process: the process wipes its key (a host epoch's file is shredded),
 *    refuses (E_STORE_ROLLED_BACK) and the store is broken — it exits, or (a stream) renews
 *    it with a fresh epoch, its old key gone either way. A restore that
 *    undid none of its takes revives none of its nonces. Other epochs' nonces are not its
 *    business: it cannot open them.
 *    (Why not the WAL position or the timeline: other processes' writes move the LSN
 *    past a restored point before this one looks, and a copy restore keeps the
 *    timeline. The per-epoch counter is exact for the only nonces the epoch can use.)
 *
 * The cost: a nonce can be used only by the process (stream) or host (one-shot commands)
 * that issued it. A request whose nonce another live epoch issued is refused without
 * burning it (E_NONCE_ELSEWHERE, exit 5, retryable): route requests by contract (the
 * contract id chooses the process or host, as a load balancer's hash of the contract id
 * does), so a contract's nonces stay with one epoch. When a process epoch's process is
 * gone — restarted, crashed, or a restore — its nonces are dead: the user's request is
 * refused (the same E_NONCE_ELSEWHERE) and the user recovers with `credit abandon`, whose
 * answer the mint gives by burning the dead nonce (no secret needed) and issuing a fresh
 * one from the serving epoch. Restarting a stream process therefore invalidates the
 * nonces it handed out: restart in a quiet hour, or accept that those users abandon once;
 * a host epoch survives restarts and dies only with a restore (or a crash between witness
 * and COMMIT). States the mint signed after the backup are lost to the mint by a restore
 * (it exits with an older state, which pays it less): a backup protects the contracts,
 * not the payments since; use synchronous replication for those.
 *
 * THE LEDGER RULE — a database writer gets no second signature (nonce-ledger.ts).
 * The restore rule sees a database gone back as a whole; a writer of the database (the
 * mint's own role, a DBA, a managed database's staff, a table owner) can instead put one
 * nonce's row back after it was used, past the single-use trigger, with the contract's row.
 * So each epoch keeps its own ledger of the nonces it may still open — the process's
 * memory, or a journal beside the host's key — and `take` opens only what that ledger
 * holds: a nonce offered again is refused before its secret is touched (E_NONCE_REOPENED,
 * exit 1, an alarm; nothing signed, nothing written) — unless it is offered for the very
 * signing session it was opened for, which signs the same partial signature again (the
 * invariant is "never two different partial signatures under one secret nonce"). A COMMIT
 * whose answer was lost keeps its nonces opened for every other session even when the
 * database says it did not happen; so a stream serving such a request again (outages.ts)
 * opens the nonce again only because it is the same request, not on the database's word.
 *
 * WHAT A DATABASE WRITER CAN STILL DO. It cannot make this process produce two different
 * partial signatures with one nonce, read a secret nonce or a signed state (both sealed
 * under keys it never sees: state-seal.ts), or get tables of its own adopted
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
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import { toHex } from '../../bytes.ts';
import type { FundingBinding, SignedBlindedMessage } from '../../credit/ports.ts';
import { MalformedInputError, OffchainError, RefusedError, StateConflictError, UsageError } from '../../errors.ts';
import type { MintStorePort } from '../mint-store-port.ts';
import { RENEWABLE, reconnectWindowMs } from '../outages.ts';
import { StoreWriteError } from '../mint-store.ts';
import { pgConfig, storeError } from './client.ts';
import type { PgTarget } from './connect.ts';
import { HostEpoch, type RetiredEpoch } from './host-epoch.ts';
import { NonceLedger } from '../nonce-ledger.ts';
import { sealStoredRecords, storedRecord, storedText, type StateSeal } from '../state-seal.ts';
import { foreignOwnerError, ownership } from './owners.ts';
import { OWNED_RELATIONS, SCHEMA_SQL, SCHEMA_VERSION, SEALED_STATES_VERSION, TABLES } from './schema.ts';

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

function nonceKey(pubnonce: Uint8Array | string): string {
  const hex = typeof pubnonce === 'string' ? pubnonce : toHex(pubnonce);
  return createHash('sha256').update(hex).digest('hex').slice(0, 32);
}

const RETRYABLE = new Set(['40001', '40P01']);
const CONNECTION = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004']);

function codeOf(e: unknown): string | undefined {
  return (e as { code?: string }).code;
}

function isConnectionError(e: unknown): boolean {
  const c = codeOf(e);
  if (c && CONNECTION.has(c)) return true;
  return /Connection terminated|Client has encountered a connection error|not queryable/i.test((e as Error).message ?? '');
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
async function storeIdentity(client: pg.Client): Promise<string> {
  return (await client.query<{ s: string }>(
    `SELECT concat_ws('/', pg_postmaster_start_time()::text, d.oid::text, to_regclass('epochs')::oid::text, pg_relation_filenode(to_regclass('epochs'))::text) AS s
       FROM pg_database d WHERE d.datname = current_database()`,
  )).rows[0]!.s;
}

function newClient(mod: { default: typeof pg }, target: PgTarget): pg.Client {
  const client = new mod.default.Client(pgConfig(target, 'offchain-mint'));
  // From the first byte: a connection lost while the store is opened or reconnects — before
  // `watch` — fails the query in flight (coded by its caller) instead of raising an 'error'
  // event nobody listens to, which would end the process uncoded.
  client.on('error', () => undefined);
  return client;
}



/**
 * The lock every process that opens the store for writing takes in its opening
 * transaction (a mint registering its epoch, a migration checking the database is empty
 * and claiming it): so a migration's check and claim cannot interleave with a mint's start.
 */
export const OPEN_LOCK = 7283547001;

/** The meta row an unfinished migration into this database keeps (migrate.ts); no mint process opens it meanwhile. */
export const MIGRATION_CLAIM_KEY = 'migrating_from';
export interface MigrationClaim { from: string; id: string; at: string }

/** Refused: a migration into this store has started and not finished. Exit 5; nothing written. */
export function migratingInto(url: string, claim: MigrationClaim): StateConflictError {
  return new StateConflictError('E_STORE_MIGRATING', `a migration of the mint in ${claim.from} into the store ${url} started at ${claim.at} and has not finished: run "credit store migrate --to ${url}" on that mint again to finish it, then start this one`);
}

/**
 * Inside an open transaction (holding OPEN_LOCK unless `view`): create the schema on first
 * use, refuse a newer one, record the network (first use) and refuse another.
 */
export async function prepareSchema(client: pg.Client, target: PgTarget, network: string, view: boolean): Promise<void> {
  const exists = (await client.query<{ t: string | null }>("SELECT to_regclass('schema_version')::text AS t")).rows[0]!.t;
  let version = exists ? (await client.query<{ version: number }>('SELECT version FROM schema_version')).rows[0]?.version : undefined;
  if (version === undefined && view) throw new UsageError('E_NO_MINT_POLICY', `no mint in the store ${target.url} (nothing was created there): publish an offer first`);
  // A writer adopts only tables of its own: before creating (CREATE … IF NOT EXISTS adopts
  // anything found) and after.
  if (!view) await checkOwners(client, target);
  if (version === undefined) {
    await client.query(SCHEMA_SQL);
    await client.query('INSERT INTO schema_version (version) VALUES ($1)', [SCHEMA_VERSION]);
    version = SCHEMA_VERSION;
  }
  if (version > SCHEMA_VERSION) {
    throw new OffchainError('E_STORE_SCHEMA_NEWER', `the store ${target.url} has schema version ${version}, newer than this toolkit's ${SCHEMA_VERSION}: upgrade offchain`, 1);
  }
  if (!view) await checkOwners(client, target, { complete: true });
  // Rows keep the C_ they answered (ecash-restore.ts); a store created before gets the column once (its old rows none).
  if (!view && !(await client.query("SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'blind_signatures' AND column_name = 'c_'")).rowCount) {
    await client.query('ALTER TABLE blind_signatures ADD COLUMN IF NOT EXISTS c_ text');
  }
  if (!view) await client.query("INSERT INTO meta (key, value) VALUES ('network', $1) ON CONFLICT (key) DO NOTHING", [network]);
  const stored = (await client.query<{ value: string }>("SELECT value FROM meta WHERE key = 'network'")).rows[0]?.value ?? network;
  if (stored !== network) throw new RefusedError('E_NETWORK_MISMATCH', `the store ${target.url} holds a ${stored} mint, not ${network}`);
}

export interface PgMintStoreOptions {
  /** Read only (monitoring, `credit list`): no epoch, no key, nothing written. */
  view?: boolean;
  /** A one-shot command: the host's epoch, kept in this directory (host-epoch.ts). */
  hostDir?: string;
  /** Seals and opens the records' fully signed states (state-seal.ts): the mint's commands pass it. */
  seal?: StateSeal;
  /** Called with the text of an alarm (a nonce offered again: nonce-ledger.ts `LedgerOptions.alarm`), e.g. to print it on stderr. */
  alarm?: (message: string, refused: boolean) => void;
}

export { StoreOwnerError } from './owners.ts';

/**
 * Every relation of the mint's schema that exists (all of them once `complete`) must be
 * owned by this role or a role it is a member of (owners.ts): the mint refuses to keep its
 * state in tables another role created (E_STORE_TABLE_OWNER, exit 4). Checked inside the
 * opening transaction, under OPEN_LOCK.
 */
async function checkOwners(client: pg.Client, target: PgTarget, opts: { complete?: boolean } = {}): Promise<void> {
  const { missing: absent, foreign } = await ownership(client, OWNED_RELATIONS, ['nonce_consumed_once()']);
  if (foreign) throw foreignOwnerError(foreign, target.url, "the mint's");
  if (!opts.complete) return;
  const missing = absent[0];
  const trigger = (await client.query<{ enabled: string }>("SELECT tgenabled AS enabled FROM pg_trigger WHERE tgrelid = to_regclass('nonces') AND tgname = 'nonce_consumed_once'")).rows[0];
  if (missing || trigger?.enabled !== 'O') {
    throw new OffchainError('E_STATE_CORRUPT', `the store ${target.url} is missing ${missing ?? 'its nonce trigger nonce_consumed_once (or it was disabled)'}: the schema was altered; nothing was written`, 3);
  }
}

/** This host's epoch for the store `client` is on, keyed by the store's id (host-epoch.ts): at open, and again at `renew`. */
async function joinHostEpoch(client: pg.Client, hostDir: string): Promise<HostEpoch> {
  const storeId = (await client.query<{ value: string }>("SELECT value FROM meta WHERE key = 'store_id'")).rows[0]!.value;
  return HostEpoch.join(client, hostDir, storeId);
}

/**
 * Schema 1 (older toolkits) stored fully signed states in the clear: sealed here, once, by
 * the first process that opens the store with the mint's key (under OPEN_LOCK, in the
 * opening transaction), which then marks the schema 2. Stop the older processes first: one
 * still running would store its next state in the clear (schema 2 refuses their restart).
 */
async function sealStoredStates(client: pg.Client, seal: StateSeal): Promise<void> {
  const version = (await client.query<{ version: number }>('SELECT version FROM schema_version')).rows[0]!.version;
  if (version >= SEALED_STATES_VERSION) return;
  const rows = (await client.query<{ contract_id: string; record: string }>("SELECT contract_id, record FROM contracts WHERE record LIKE '%\"hex\"%'")).rows;
  for (const r of sealStoredRecords(rows, seal)) await client.query('UPDATE contracts SET record = $2 WHERE contract_id = $1', [r.contract_id, r.record]);
  await client.query('UPDATE schema_version SET version = $1', [SEALED_STATES_VERSION]);
}

export class PgMintStore<R extends { contract_id: string }> implements MintStorePort<R> {
  readonly dir: string;
  /** The epoch whose key seals this process's nonces: its own (kept in memory alone) or its host's (`host`); a new one after `renew`. */
  epoch: string;
  private key: Buffer;
  private counter = 0;
  private pendingCounter: number | undefined;
  /** Set by a nonce issued, taken or burned in the open transaction: its COMMIT ticks the epoch (`tick`). */
  private nonceTouched = false;
  /** The host's epoch (one-shot commands): the key from --state-dir, the counter checked against the host's witness. */
  private host: HostEpoch | undefined;
  /** Where the host's epoch lives (--state-dir), and the network the store serves: for `renew`. */
  private hostDir: string | undefined;
  private network = '';
  /** A process epoch: its row is deleted when the process closes the store. */
  private processEpoch = false;
  /** The nonces this epoch may still open (nonce-ledger.ts): the process's memory, or the host's journal; a new one after `renew`. */
  private ledger: NonceLedger | undefined;
  private alarm: ((message: string, refused: boolean) => void) | undefined;
  /** Seals the fully signed states in records (state-seal.ts); without it (a view) they stay sealed. */
  private stateSeal: StateSeal | undefined;
  private inTransaction = false;
  private savepoints = 0;
  private failed: Error | undefined;
  private closed = false;
  private viewOnly = false;

  /** The connection was lost outside a COMMIT: the next use reconnects (see `reconnect`). */
  private lost: OffchainError | undefined;
  /**
   * The store this connection reached, as a restore would change it (`storeIdentity`): a
   * lost COMMIT's absence is conclusive only on the store that was sent the COMMIT, not
   * restarted or restored since (see `resolveCommit`).
   */
  private reached = '';

  private constructor(private client: pg.Client, private readonly target: PgTarget, epoch: string, key: Buffer) {
    this.dir = target.url;
    this.epoch = epoch;
    this.key = key;
    this.watch(client);
  }

  private watch(client: pg.Client): void {
    client.on('error', (e) => {
      // An idle connection lost (server restart): the next use reconnects.
      if (client === this.client) this.lose(e);
    });
  }

  private lose(e: unknown): OffchainError {
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
  private async reconnectWithin(withinMs: number): Promise<void> {
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

  /**
   * A STREAM GOES ON after its store broke — the database went back in time under it
   * (E_STORE_ROLLED_BACK), or a COMMIT's outcome could not be told (E_STATE_WRITE: the
   * server restarted before it could be asked, or could not be reached in time). What a
   * restarted process would do, without the restart: the key that sealed this process's
   * nonces is wiped (a host epoch's key file retired: host-epoch.ts), the old epoch's row is
   * deleted (a process epoch: its nonces are dead, as a process that exits leaves them), and a
   * fresh epoch is registered — a fresh random key (process) or the host's next key (host) —
   * on a new connection, waited for with bounded backoff up to `withinMs`. No nonce sealed
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
    if (this.host) await this.host.retire(old);
    this.lost ??= new OffchainError('E_STORE_UNREACHABLE', 'renewing the epoch', 1);
    this.inTransaction = false;
    this.savepoints = 0;
    this.pendingCounter = undefined;
    this.nonceTouched = false;
    try {
      await this.reconnectWithin(withinMs);
      if (this.host) {
        const host = await joinHostEpoch(this.client, this.hostDir!);
        this.host = host;
        this.epoch = host.epoch;
        this.key = host.key;
      } else {
        const epoch = randomBytes(16).toString('hex');
        await this.client.query('BEGIN');
        await this.client.query('SELECT pg_advisory_xact_lock($1)', [OPEN_LOCK]);
        await prepareSchema(this.client, this.target, this.network, false);
        const claim = (await this.client.query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [MIGRATION_CLAIM_KEY])).rows[0];
        if (claim) throw migratingInto(this.target.url, JSON.parse(claim.value) as MigrationClaim);
        await this.client.query('INSERT INTO epochs (epoch, counter, pid, host) VALUES ($1, 0, $2, $3)', [epoch, process.pid, hostname()]);
        await this.client.query('DELETE FROM epochs WHERE epoch = $1', [old]);
        await this.client.query('COMMIT');
        this.epoch = epoch;
        this.key = randomBytes(32);
      }
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
    const key = randomBytes(32);
    let reached = '';
    try {
      await client.query('BEGIN');
      // Many processes start at once: one creates the schema, the others wait and find it.
      // A view (credit list, monitoring; a read-only role is enough) writes nothing.
      if (!opts.view) await client.query('SELECT pg_advisory_xact_lock($1)', [OPEN_LOCK]);
      await prepareSchema(client, target, network, opts.view ?? false);
      // A migration into this database that has not finished (migrate.ts): serving it now
      // would serve a mint without its contracts, and anything written would stop the copy.
      const claim = (await client.query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [MIGRATION_CLAIM_KEY])).rows[0];
      if (claim) throw migratingInto(target.url, JSON.parse(claim.value) as MigrationClaim);
      if (!opts.view) await client.query("INSERT INTO meta (key, value) VALUES ('store_id', $1) ON CONFLICT (key) DO NOTHING", [randomBytes(16).toString('hex')]);
      if (!opts.view && !opts.hostDir) await client.query('INSERT INTO epochs (epoch, counter, pid, host) VALUES ($1, 0, $2, $3)', [epoch, process.pid, hostname()]);
      // States stored plain by an older toolkit (schema 1) are sealed once, by the first process holding the key.
      if (!opts.view && opts.seal) await sealStoredStates(client, opts.seal);
      await client.query('COMMIT');
      reached = await storeIdentity(client);
      if (!opts.view && opts.hostDir) {
        const host = await joinHostEpoch(client, opts.hostDir);
        key.fill(0);
        const store = new PgMintStore<R>(client, target, host.epoch, host.key);
        store.host = host;
        store.hostDir = opts.hostDir;
        store.network = network;
        store.reached = reached;
        store.stateSeal = opts.seal;
        store.alarm = opts.alarm;
        store.ledger = store.newLedger();
        return store;
      }
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end().catch(() => undefined);
      if (e instanceof OffchainError) throw e;
      if (isConnectionError(e)) throw storeConnectError(e, target);
      throw new OffchainError('E_STATE_CORRUPT', `the store ${target.url} cannot be opened: ${(e as Error).message}`, 3);
    }
    const store = new PgMintStore<R>(client, target, epoch, key);
    store.processEpoch = !opts.view;
    store.network = network;
    store.reached = reached;
    if (opts.view) {
      store.wipe();
      store.viewOnly = true;
    } else {
      store.stateSeal = opts.seal;
      store.alarm = opts.alarm;
      store.ledger = store.newLedger();
    }
    return store;
  }

  /** The ledger of this store's epoch (nonce-ledger.ts): the host's journal beside its key, or the process's memory. */
  private newLedger(): NonceLedger {
    const common = { where: this.target.url, consumed: (ids: string[]) => this.consumedOf(ids), ...(this.alarm ? { alarm: this.alarm } : {}) };
    return this.host
      ? NonceLedger.onDisk(this.host.ledgerDir, this.host.epoch, { who: `this host's one-shot mint commands (epoch ${this.host.epoch.slice(0, 8)}…, under ${this.hostDir})`, ...common })
      : NonceLedger.inMemory({ who: `this process (pid ${process.pid}, epoch ${this.epoch.slice(0, 8)}…)`, ...common });
  }

  /** Of `ids`, the nonces the store shows consumed (the ledger drops them: nonce-ledger.ts). */
  private async consumedOf(ids: string[]): Promise<Set<string>> {
    const rows = await this.q<{ id: string }>('SELECT id FROM nonces WHERE id = ANY($1::text[]) AND consumed', [ids]);
    return new Set(rows.rows.map((r) => r.id));
  }

  get broken(): Error | undefined {
    return this.failed;
  }

  /** When opening found this host's nonce key outlived by a restore and drew a new one: what was retired. */
  get retiredHostEpoch(): RetiredEpoch | undefined {
    return this.host?.retired;
  }

  // ——— transactions ———

  private usable(): void {
    if (this.failed) throw this.failed instanceof OffchainError ? this.failed : new StoreWriteError(`the mint's store failed earlier (${this.failed.message}); restart the mint`);
    if (this.closed) throw new StoreWriteError('the mint store is closed');
  }

  private async q<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<pg.QueryResult<T>> {
    this.usable();
    if (this.lost) {
      if (this.inTransaction) throw this.lost;
      await this.reconnect();
    }
    try {
      return await this.client.query<T>(text, params);
    } catch (e) {
      if (isConnectionError(e)) throw this.lose(e);
      throw e;
    }
  }

  private async begin(): Promise<void> {
    if (this.viewOnly) throw new UsageError('E_STORE_READ_ONLY', `this view of the store ${this.dir} writes nothing`);
    this.usable();
    if (!this.inTransaction) {
      await this.q('BEGIN');
      this.inTransaction = true;
      this.pendingCounter = undefined;
      this.nonceTouched = false;
    }
  }

  private async rollback(): Promise<void> {
    this.inTransaction = false;
    this.pendingCounter = undefined;
    this.nonceTouched = false;
    // Rolled back before COMMIT was sent: nothing of it left; the nonces it claimed stay openable.
    this.ledger?.discard();
    if (!this.failed) await this.client.query('ROLLBACK').catch(() => undefined);
  }

  /**
   * One protocol step, one transaction: BEGIN, the step, COMMIT — all before this
   * returns. A deadlock or serialization failure runs the step again (nothing of it
   * left the process). Inside a transaction already open, a savepoint (as SQLite).
   */
  async step<T>(fn: () => Promise<T>): Promise<T> {
    this.usable();
    if (this.inTransaction) {
      const name = `step${++this.savepoints}`;
      await this.q(`SAVEPOINT ${name}`);
      const mark = this.ledger?.mark() ?? 0;
      try {
        const result = await fn();
        await this.q(`RELEASE ${name}`);
        return result;
      } catch (e) {
        // (A nonce it touched keeps `nonceTouched` set: one tick too many at COMMIT is harmless.)
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
      await this.commit();
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
    if (this.nonceTouched && this.pendingCounter === undefined) {
      try {
        // The ledger first (nonce-ledger.ts): what this transaction issued and opened is final
        // before COMMIT is sent; a claim a racing command of the host settled first refuses here.
        await this.ledger?.settle();
        await this.tick();
      } catch (e) {
        if (this.inTransaction) await this.rollback();
        throw e;
      }
    }
    try {
      await this.client.query('COMMIT');
      if (this.pendingCounter !== undefined) this.counter = this.pendingCounter;
      await this.ledger?.committed();
    } catch (e) {
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
      this.pendingCounter = undefined;
      this.nonceTouched = false;
    }
  }

  /**
   * The answer to a COMMIT was lost: ask a new connection whether the transaction's tick
   * of the epoch counter is there. It is (`pending`, or for a host epoch more: another
   * command of the host ticked after it): it committed — the caller may release its
   * result. It is not (the counter this process knew): it did not — the request is
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
      await this.client.query('COMMIT');
      found = row ? Number(row.counter) : undefined;
    } catch (e) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      this.failed = new StoreWriteError(`the answer to a COMMIT was lost and the store ${this.dir} cannot be asked whether it committed (${(e as Error).message}): nothing of this request was released; restart the mint`);
      throw this.failed;
    }
    // A host epoch: our witness already holds `pending`, so no later tick of this host
    // could have passed (exactly witness + 1) unless this transaction committed — a counter
    // above `pending` is another command of this host that ticked after it, not a rollback.
    if (found === pending || (this.host && found !== undefined && found > pending)) {
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
    // not catch it: the process stops, as on any rollback. (A host epoch's witness already
    // holds `pending`, written before COMMIT, so after "did not commit" its next nonce step
    // retires the key anyway: it cannot tell "never committed" from "committed, then
    // restored" — see host-epoch.ts.)
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
    if (this.host) await this.host.retire(this.epoch);
    throw this.failed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (!this.failed && !this.viewOnly) {
        await this.commit();
        // A process epoch's nonces die with its key: the row only kept the rollback check,
        // now moot. A host epoch lives on in --state-dir for the host's next command.
        if (this.processEpoch) await this.q('DELETE FROM epochs WHERE epoch = $1', [this.epoch]);
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

  private wipe(): void {
    this.key.fill(0);
  }

  /**
   * The restore check, once per transaction that issued, took or burned a nonce, just
   * before its COMMIT (nothing of the transaction has left the process yet): the epoch's
   * counter is incremented and must be exactly this process's memory + 1 (a process
   * epoch), or exactly the host's witness + 1 (a host epoch, whose witness then rises to
   * it — on disk, before the COMMIT). Anything else means the database went back in time
   * (or, for a host epoch, that its key is also held under another witness).
   */
  private async tick(): Promise<void> {
    const row = (await this.q<{ counter: string }>('UPDATE epochs SET counter = counter + 1 WHERE epoch = $1 RETURNING counter', [this.epoch])).rows[0];
    const found = row ? Number(row.counter) : undefined;
    const floor = this.host ? await this.host.seen() : this.counter;
    // A host epoch: exactly the witness + 1, as a process epoch's memory + 1 (host-epoch.ts,
    // "THE WITNESS IS EXACT": a counter ahead of the witness was written by a holder of this
    // key that this witness does not cover).
    const ok = found !== undefined && found === floor + 1;
    if (!ok) {
      this.wipe();
      this.failed = new StoreRolledBackError(
        this.host?.foreignWitness
          ? `this host's nonce key under --state-dir is a copy (its rollback witness was written beside another key file: the directory was copied from another host or restored from a file-level backup), so a restore of the store ${this.dir} could revive nonces the original signed with; nothing was signed. This host retired its nonce key: run the step again (a fresh key is drawn); users whose nonces were lost recover with "credit abandon"`
          : this.host
          ? `the store ${this.dir} went back in time (this host's nonce epoch ${this.epoch.slice(0, 8)}… counter is ${found === undefined ? 'gone' : found - 1}, but this host committed ${floor}): a backup, failover or point-in-time recovery was restored, a step died between its witness and its COMMIT, or another copy of this --state-dir holds the key; nothing was signed. This host retired its nonce key: run the step again (a fresh key is drawn); users whose nonces were lost recover with "credit abandon"`
          : `the store ${this.dir} went back in time under this process (its epoch ${this.epoch.slice(0, 8)}… counter is ${found ?? 'gone'}, this process counted ${this.counter}): a backup or failover was restored; this process wiped its nonce key and stops — restart it (users whose nonces were lost recover with "credit abandon")`,
      );
      await this.client.query('ROLLBACK').catch(() => undefined);
      this.inTransaction = false;
      if (this.host) await this.host.retire(this.epoch);
      throw this.failed;
    }
    if (this.host) await this.host.advance(found);
    this.pendingCounter = found;
  }

  private seal(id: string, context: string, secret: Uint8Array): Buffer {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(`${id}\n${this.epoch}\n${context}`));
    const body = Buffer.concat([c.update(secret), c.final()]);
    return Buffer.concat([iv, body, c.getAuthTag()]);
  }

  /**
   * The secret nonce sealed for `id` in `context`, or E_STATE_CORRUPT (exit 3) when it does not
   * open: a writer of the database swapped sealed secrets between rows or relabelled a
   * nonce's context (the associated data names id, epoch and context). Thrown inside the
   * step's transaction, which rolls back: nothing written, the ledger's claim discarded.
   */
  private open(id: string, context: string, sealed: Buffer): Uint8Array {
    try {
      if (sealed.length < 12 + 16) throw new Error('short');
      const d = createDecipheriv('aes-256-gcm', this.key, sealed.subarray(0, 12));
      d.setAAD(Buffer.from(`${id}\n${this.epoch}\n${context}`));
      d.setAuthTag(sealed.subarray(sealed.length - 16));
      return new Uint8Array(Buffer.concat([d.update(sealed.subarray(12, sealed.length - 16)), d.final()]));
    } catch {
      throw new MalformedInputError('E_STATE_CORRUPT', `the mint's nonce ${id.slice(0, 16)}… in the store ${this.dir} does not open under this epoch's key for ${context}: its row was altered (a sealed secret moved from another row, or its context changed); nothing was signed or written — find out who writes the mint's store (docs/postgres.md, "The ledger rule"); its user abandons ("credit abandon")`, { nonce: id });
    }
  }

  // ——— records ———

  async get(id: string): Promise<R | undefined> {
    if (this.inTransaction) {
      // The request's lock on this contract, held to COMMIT; also when it does not exist yet.
      await this.q('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`contract:${id}`]);
      const row = (await this.q<{ record: string }>('SELECT record FROM contracts WHERE contract_id = $1 FOR UPDATE', [id])).rows[0];
      return row ? this.decode(row.record) : undefined;
    }
    const row = (await this.q<{ record: string }>('SELECT record FROM contracts WHERE contract_id = $1', [id])).rows[0];
    return row ? this.decode(row.record) : undefined;
  }

  /** A stored record: its fully signed states opened with the mint's key, or left sealed (a view). */
  private decode(text: string): R {
    return storedRecord<R>(text, this.stateSeal, this.dir);
  }

  async put(record: R): Promise<void> {
    await this.begin();
    // A fully signed state never reaches the database in the clear (state-seal.ts).
    const text = storedText(record, this.stateSeal, this.dir);
    await this.q('INSERT INTO contracts (contract_id, record) VALUES ($1, $2) ON CONFLICT (contract_id) DO UPDATE SET record = EXCLUDED.record', [record.contract_id, text]);
  }

  async list(): Promise<R[]> {
    return (await this.q<{ record: string }>('SELECT record FROM contracts ORDER BY contract_id')).rows.map((r) => this.decode(r.record));
  }

  async remove(id: string): Promise<void> {
    await this.begin();
    await this.q('DELETE FROM contracts WHERE contract_id = $1', [id]);
  }

  async unfundedOpens(openedBefore: number, limit: number): Promise<R[]> {
    const rows = await this.q<{ record: string }>(
      `SELECT record FROM contracts WHERE (record::jsonb ->> 'status') = 'open' AND (record::jsonb -> 'latest') IS NULL AND (record::jsonb -> 'funding_seen') IS NULL
       AND ((record::jsonb ->> 'opened_at_height')::bigint) < $1 ORDER BY ((record::jsonb ->> 'opened_at_height')::bigint) LIMIT $2`,
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

  // ——— nonces: sealed under this process's epoch key ———

  async issue(context: string, generate: (counter: number) => { secnonce: Uint8Array; pubnonce: Uint8Array }): Promise<{ pubnonce: Uint8Array }> {
    await this.begin();
    this.nonceTouched = true;
    const counter = Number((await this.q<{ n: string }>("SELECT nextval('nonce_counter') AS n")).rows[0]!.n);
    const { secnonce, pubnonce } = generate(counter);
    const id = nonceKey(pubnonce);
    const sealed = this.seal(id, context, secnonce);
    secnonce.fill(0);
    const r = await this.q('INSERT INTO nonces (id, context, pubnonce, epoch, sealed) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING', [id, context, toHex(pubnonce), this.epoch, sealed]);
    if (r.rowCount !== 1) throw new StateConflictError('E_NONCE_REPEATED', 'the generated public nonce was issued before: refusing to hand it out twice');
    this.ledger!.issued(id);
    return { pubnonce };
  }

  /** The live nonce row, locked; every refusal before anything is written. */
  private async live(pubnonce: Uint8Array, expectedContext: string) {
    await this.begin();
    const id = nonceKey(pubnonce);
    const n = (await this.q<{ context: string | null; epoch: string | null; sealed: Buffer | null; consumed: boolean }>('SELECT context, epoch, sealed, consumed FROM nonces WHERE id = $1 FOR UPDATE', [id])).rows[0];
    const short = `${toHex(pubnonce).slice(0, 16)}…`;
    if (n?.consumed) throw new StateConflictError('E_NONCE_USED', `the mint's nonce ${short} has already been used; request a fresh nonce`);
    if (!n || n.sealed === null) throw new StateConflictError('E_NONCE_UNKNOWN', `the mint's nonce ${short} was never issued by this store (or the store was restored from an older copy); abandon the request ("credit abandon") for a fresh nonce`);
    if (n.context !== expectedContext) {
      throw new RefusedError('E_NONCE_MISBOUND', `the mint's nonce ${short} was issued for ${n.context}, not ${expectedContext}; refusing to sign with it (it stays unused for its own context)`);
    }
    return { id, short, n: n as { context: string; epoch: string; sealed: Buffer; consumed: false } };
  }

  private async consume(id: string, short: string): Promise<void> {
    // `AND NOT consumed`: even a second taker that skipped the row lock changes nothing.
    const r = await this.q('UPDATE nonces SET consumed = true, sealed = NULL, context = NULL, pubnonce = NULL WHERE id = $1 AND NOT consumed', [id]);
    if (r.rowCount !== 1) throw new StateConflictError('E_NONCE_USED', `the mint's nonce ${short} has already been used; request a fresh nonce`);
  }

  async take(pubnonce: Uint8Array, expectedContext: string, session?: Uint8Array): Promise<Uint8Array> {
    await this.begin();
    this.nonceTouched = true;
    const { id, short, n } = await this.live(pubnonce, expectedContext);
    if (n.epoch !== this.epoch) {
      const alive = (await this.q<{ pid: number | null; host: string }>('SELECT pid, host FROM epochs WHERE epoch = $1', [n.epoch])).rows[0];
      const who = !alive ? '' : alive.pid === null ? `, the one-shot commands of ${alive.host}` : `, pid ${alive.pid} on ${alive.host}`;
      // Not burned: the process (or host) that issued it may still serve it.
      throw new StateConflictError(
        'E_NONCE_ELSEWHERE',
        `the mint's nonce ${short} was issued by another mint process or host (epoch ${n.epoch.slice(0, 8)}…${who}); only it can sign with it: send the contract's requests there, or, if it is gone, abandon the request ("credit abandon") for a fresh nonce`,
      );
    }
    // THE LEDGER RULE: the database says unused; this epoch's own record must say so too
    // (or say it was opened for this very signing session: signed again, identically).
    await this.ledger!.claim(id, short, session && toHex(session));
    await this.consume(id, short);
    return this.open(id, expectedContext, n.sealed);
  }

  async burn(pubnonce: Uint8Array, expectedContext: string): Promise<void> {
    await this.begin();
    this.nonceTouched = true;
    const { id, short } = await this.live(pubnonce, expectedContext);
    await this.consume(id, short);
    this.ledger!.burned(id);
  }

  async status(pubnonce: Uint8Array): Promise<'unused' | 'consumed' | 'unknown'> {
    const n = (await this.q<{ consumed: boolean }>('SELECT consumed FROM nonces WHERE id = $1', [nonceKey(pubnonce)])).rows[0];
    return !n ? 'unknown' : n.consumed ? 'consumed' : 'unused';
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
