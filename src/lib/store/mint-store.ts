/**
 * The mint's durable state — its contracts, the funding-outpoint index and its
 * single-use secret nonces — in one SQLite database (`mint.sqlite`, WAL mode,
 * synchronous=FULL), so a mint serving a stream of payments makes each batch durable
 * with one transaction commit (one WAL append + fsync: group commit).
 *
 * Why SQLite and not a hand-made journal: a torn or short write, a full disk, a crash
 * at any byte are SQLite's problem, solved and tested far beyond what we could (a torn
 * WAL frame fails its checksum and the transaction it belonged to never happened);
 * each request touches a few B-tree rows, so its cost does not grow with the number of
 * contracts; and WAL readers see a consistent snapshot without blocking the writer.
 *
 * Rules that keep it safe:
 * - Every effect of a protocol step (nonce consumed, state stored, next nonce issued,
 *   outpoint bound) is written inside the open transaction, and reaches disk at the
 *   same COMMIT, so after a crash they are all there or none is.
 * - `step(fn)` wraps one protocol step in a SAVEPOINT: a step that fails part-way
 *   leaves nothing behind in the batch (a nonce it took is untaken: the signature made
 *   with it never left the process).
 * - Nothing derived from a step (receipt, signature, response) may leave the process
 *   before `commit()` has resolved. If a commit fails (disk full, I/O error) the
 *   transaction is rolled back and the store refuses all further use: the process must
 *   exit without releasing anything of that batch.
 * - Only one process writes: the owner holds the directory lock (withLock) for as long
 *   as the store is open; BEGIN IMMEDIATE would refuse a second writer anyway.
 *
 * Consumed secret nonces: `secure_delete` zeroes freed database content, and `close()`
 * checkpoints and truncates the WAL, so a consumed secret does not linger in either
 * file. The files are 0600. Never back this directory up: restoring an old copy
 * revives consumed nonces.
 *
 * THE LEDGER RULE (nonce-ledger.ts): whoever can write mint.sqlite (or puts an old copy of
 * it back) could turn a consumed nonce's row back into an unused one. The processes on
 * this directory — one-shot commands and streams share its nonces — keep their own
 * journal of the nonces still openable in `nonce-ledger/`, and open only what it holds: a
 * nonce offered again is refused (E_NONCE_REOPENED), nothing signed. It is in the same
 * directory, so it catches a rewound row or the database file restored alone, not the
 * whole directory put back. A journal is started from the database's unused nonces.
 *
 * SEALED STATES (state-seal.ts): a record's fully signed states are stored sealed under a
 * key derived from the mint's secret key; the mint's commands open the store with it
 * (`seal`), a view (`credit list`) without it sees them sealed. A store written before is
 * sealed once, by the first open with the key.
 *
 * A mint directory from before this store (snapshot.json + journal-N.jsonl) is imported
 * once, in one transaction, and its files shredded.
 *
 * One implementation of the mint's store port (mint-store-port.ts); the other is
 * PostgreSQL (pg/mint-store.ts, for many processes).
 */
import { createHash, hash } from 'node:crypto';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, rmSync, statfsSync } from 'node:fs';
import type BetterSqlite3 from 'better-sqlite3';
import { join, resolve } from 'node:path';
import { toHex } from '../bytes.ts';
import type { FundingBinding, SignedBlindedMessage } from '../credit/ports.ts';
import { MalformedInputError, OffchainError, RefusedError, StateConflictError } from '../errors.ts';
import { ensureDir } from './atomic.ts';
import { errnoCode, isFullError, stateAccessError, StoreFullError } from './write-errors.ts';

/** Below this many free bytes, an I/O error of SQLite's is taken for a full filesystem. */
const FULL_BELOW = 1 << 20;

function freeBytes(dir: string): number {
  try {
    const st = statfsSync(dir);
    return st.bavail * st.bsize;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
import { addUnfundedSince, LEDGER_DIR, migratedError, MIGRATION_KEY, MINT_DB_FILE, MintDatabase, SCHEMA, sqlite, STATES_SEALED_KEY, unfundedSince, type MigrationMark } from './mint-database.ts';
import { importLegacy } from './mint-store-legacy.ts';
import type { MintStorePort } from './mint-store-port.ts';
import { NonceLedger } from './nonce-ledger.ts';
import { sealStoredRecords, storedRecord, storedText, type StateSeal } from './state-seal.ts';

export interface MintStoreOptions {
  /** Seals and opens the records' fully signed states: the mint's commands pass it. */
  seal?: StateSeal;
  /** Called with the text of an alarm (a nonce offered again: nonce-ledger.ts `LedgerOptions.alarm`), e.g. to print it on stderr. */
  alarm?: (message: string, refused: boolean) => void;
}

function nonceKey(pubnonce: Uint8Array | string): string {
  const hex = typeof pubnonce === 'string' ? pubnonce : toHex(pubnonce);
  return hash('sha256', hex, 'hex').slice(0, 32);
}

export class MintStore<R extends { contract_id: string }> extends MintDatabase implements MintStorePort<R> {
  private stateSeal: StateSeal | undefined;

  /** Open (creating or importing as needed). The caller must hold the directory lock. */
  static async open<R extends { contract_id: string }>(dir: string, opts: MintStoreOptions = {}): Promise<MintStore<R>> {
    const abs = resolve(dir);
    await ensureDir(abs);
    // SQLite words an unwritable directory as "unable to open database file": say what it is.
    try {
      accessSync(abs, constants.W_OK);
    } catch (e) {
      throw stateAccessError(e, abs);
    }
    const store = MintStore.openDatabase<R>(abs);
    store.attach(opts);
    try {
      await importLegacy<R>({ dir: store.dir, db: store.db, q: store.q, begin: () => store.begin(), commit: () => store.commit() });
      await store.prepare(opts);
    } catch (e) {
      store.abandon();
      throw e;
    }
    return store;
  }

  /** Open synchronously, in a directory that holds no pre-SQLite files (tests' worlds). */
  static openSync<R extends { contract_id: string }>(dir: string, opts: MintStoreOptions = {}): MintStore<R> {
    const abs = resolve(dir);
    mkdirSync(abs, { recursive: true, mode: 0o700 });
    const store = MintStore.openDatabase<R>(abs);
    store.attach(opts);
    return store;
  }

  private attach(opts: MintStoreOptions): void {
    this.stateSeal = opts.seal;
    this.ledger = NonceLedger.onDisk(join(this.dir, LEDGER_DIR), 'sqlite', {
      who: `the mint processes of ${this.dir}`,
      where: join(this.dir, MINT_DB_FILE),
      // One statement over the ids as a JSON array, not one per id (a ledger prunes thousands).
      consumed: async (ids) => new Set(this.q.consumedOf.all(JSON.stringify(ids)).map((r) => r.id)),
      // A step killed between its ledger and its COMMIT: its nonce is opened again for that
      // same request only (the journal's digest; nonce-ledger.ts) — its COMMIT may have
      // happened and its `=` mark, not fsynced, been lost with the machine.
      ...(opts.alarm ? { alarm: opts.alarm } : {}),
    }, async () => this.db.prepare<[], { id: string }>('SELECT id FROM nonces WHERE consumed = 0 AND secnonce IS NOT NULL').all().map((r) => r.id));
  }

  /** With the mint's key: every state stored in the clear sealed, once (`attach` has set the ledger). */
  private async prepare(opts: MintStoreOptions): Promise<void> {
    if (opts.seal && !this.q.getMeta.get(STATES_SEALED_KEY)) {
      this.begin();
      const rows = this.db.prepare<[], { contract_id: string; record: string }>(`SELECT contract_id, record FROM contracts WHERE record LIKE '%"hex"%'`).all();
      for (const r of sealStoredRecords(rows, opts.seal)) this.q.rewriteContract.run(r.record, r.contract_id);
      this.q.putMeta.run(STATES_SEALED_KEY, '1');
      await this.commit();
    }
  }

  private static openDatabase<R extends { contract_id: string }>(abs: string): MintStore<R> {
    const path = join(abs, MINT_DB_FILE);
    // Opening in WAL mode creates the -wal and -shm files (and a new store the file itself):
    // an open that fails takes back what it created (we hold the directory lock: no other
    // process has the database open).
    const created = [path, `${path}-wal`, `${path}-shm`].filter((p) => !existsSync(p));
    let db: BetterSqlite3.Database | undefined;
    try {
      db = new (sqlite())(path);
      chmodSync(path, 0o600);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('secure_delete = ON');
      db.pragma('busy_timeout = 10000');
      const created = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() === undefined;
      db.exec(SCHEMA);
      addUnfundedSince(db);
      // Rows keep the C_ they answered (ecash-restore.ts: restore answers only that); a store from before gets the column, its old rows none.
      if (!db.prepare("SELECT 1 FROM pragma_table_info('blind_signatures') WHERE name = 'C_'").get()) db.exec('ALTER TABLE blind_signatures ADD COLUMN C_ TEXT');
      // A new store never held a state in the clear: marked so at its creation, not by a later command.
      if (created) db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run(STATES_SEALED_KEY, '1');
      const mark = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?').get(MIGRATION_KEY);
      if (mark) {
        db.close();
        throw migratedError(abs, JSON.parse(mark.value) as MigrationMark);
      }
      return new MintStore<R>(abs, db);
    } catch (e) {
      if (db?.open) db.close();
      const full = isFullError(e) || (/^SQLITE_(IOERR|CANTOPEN)/.test(errnoCode(e) ?? '') && freeBytes(abs) < FULL_BELOW);
      if (full || !(e instanceof OffchainError)) for (const p of created) rmSync(p, { force: true });
      if (e instanceof OffchainError) throw e;
      // SQLite words a full disk at open as "disk I/O error" (its -shm cannot be sized).
      if (full) throw new StoreFullError(abs, `the filesystem is full (${errnoCode(e)}: ${(e as Error).message})`);
      throw new MalformedInputError('E_STATE_CORRUPT', `the mint database ${path} cannot be opened: ${(e as Error).message}`);
    }
  }

  // ——— records (RecordPort) ———

  async get(id: string): Promise<R | undefined> {
    const row = this.q.getContract.get(id);
    return row ? this.decode(row.record) : undefined;
  }

  /** A stored record: its fully signed states opened with the mint's key, or left sealed (a view). */
  private decode(text: string): R {
    return storedRecord<R>(text, this.stateSeal, this.dir);
  }

  async put(record: R): Promise<void> {
    // A fully signed state is stored sealed (state-seal.ts).
    const text = storedText(record, this.stateSeal, this.dir);
    const since = unfundedSince(record);
    this.begin();
    if (this.q.updateContract.run(text, since, record.contract_id).changes === 0) this.q.putContract.run(record.contract_id, text, since);
  }

  async list(): Promise<R[]> {
    return this.q.listContracts.all().map((row) => this.decode(row.record));
  }

  async counts(): Promise<{ contracts: number; unusedNonces: number }> {
    return { contracts: this.q.countContracts.get()!.n, unusedNonces: this.q.countUnusedNonces.get()!.n };
  }

  async remove(id: string): Promise<void> {
    this.begin();
    this.q.removeContract.run(id);
  }

  /** Open contracts never paid nor seen funded, opened before `openedBefore` (records with `opened_at_height`). */
  async unfundedOpens(openedBefore: number, limit: number): Promise<R[]> {
    // The record says so too: a row written by an older toolkit (upgrade every process on one
    // store together, docs/deployment.md) may hold a stale column; such a row is never expired.
    return this.q.unfundedOpens.all(openedBefore, limit).map((row) => this.decode(row.record)).filter((r) => {
      const since = unfundedSince(r);
      return since !== null && since < openedBefore;
    });
  }

  async readDoc<T>(name: string): Promise<T | undefined> {
    const row = this.q.getMeta.get(`doc:${name}`);
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  /** Store a small document (e.g. the mint's offer) durably at once. */
  async writeDoc(name: string, value: unknown): Promise<void> {
    this.begin();
    this.q.putMeta.run(`doc:${name}`, JSON.stringify(value));
    await this.commit();
  }

  // ——— the funding-outpoint index (one outpoint, one contract) ———

  async fundingOwner(outpoint: string): Promise<FundingBinding | undefined> {
    const row = this.q.getFunding.get(outpoint);
    if (!row) return undefined;
    return { contract_id: row.contract_id, kind: row.kind as FundingBinding['kind'], ...(row.from_contract_id ? { from_contract_id: row.from_contract_id } : {}) };
  }

  async bindFunding(outpoint: string, binding: FundingBinding): Promise<void> {
    const existing = await this.fundingOwner(outpoint);
    if (existing && existing.contract_id !== binding.contract_id) {
      throw new RefusedError('E_FUNDING_IN_USE', `funding outpoint ${outpoint} already belongs to contract ${existing.contract_id}`);
    }
    this.begin();
    this.q.putFunding.run(outpoint, binding.contract_id, binding.kind, binding.from_contract_id ?? null);
  }

  // ——— nonces (NoncePort) ———

  async issue(context: string, generate: (counter: number) => { secnonce: Uint8Array; pubnonce: Uint8Array }): Promise<{ pubnonce: Uint8Array }> {
    this.begin();
    // Ticked before the nonce is drawn (in deterministic test mode it labels the randomness); it
    // reaches the disk with this nonce's row, at the same COMMIT (mint-database.ts `nextCounter`).
    const counter = this.nextCounter();
    const { secnonce, pubnonce } = generate(counter);
    const hex = toHex(pubnonce);
    const id = nonceKey(hex);
    try {
      // A nonce issued before — unused, or consumed (its row keeps its id) — holds the key.
      this.q.issueNonce.run(id, context, hex, toHex(secnonce));
    } catch (e) {
      if ((e as { code?: string }).code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') throw e;
      this.counter!--; // nothing issued: the tick is not kept
      throw new StateConflictError('E_NONCE_REPEATED', 'the generated public nonce was issued before: refusing to hand it out twice');
    } finally {
      secnonce.fill(0);
    }
    this.nonceTouched = true;
    this.ledger.issued(id);
    return { pubnonce };
  }

  async take(pubnonce: Uint8Array, expectedContext: string, session?: Uint8Array): Promise<Uint8Array> {
    const { id, n, short } = this.unusedNonce(pubnonce, expectedContext);
    // THE LEDGER RULE: the database says unused; this directory's own record must say so too
    // (or say it was opened for this very signing session).
    await this.ledger.claim(id, short, session && toHex(session));
    this.begin();
    this.nonceTouched = true;
    this.q.takeNonce.run(id);
    return Uint8Array.from(Buffer.from(n.secnonce, 'hex'));
  }

  /** Consume without using (an abandoned request's nonce): nothing is opened, so the ledger need not hold it. */
  async burn(pubnonce: Uint8Array, expectedContext: string): Promise<void> {
    const { id } = this.unusedNonce(pubnonce, expectedContext);
    this.begin();
    this.nonceTouched = true;
    this.q.takeNonce.run(id);
    this.ledger.burned(id);
  }

  /** The unused nonce row for `pubnonce`, issued for `expectedContext`; every refusal before anything is written. */
  private unusedNonce(pubnonce: Uint8Array, expectedContext: string) {
    const hex = toHex(pubnonce);
    const id = nonceKey(hex);
    const n = this.q.getNonce.get(id);
    const short = `${hex.slice(0, 16)}…`;
    if (n?.consumed) throw new StateConflictError('E_NONCE_USED', `the mint's nonce ${short} has already been used; request a fresh nonce`);
    if (!n || n.secnonce === null) throw new StateConflictError('E_NONCE_UNKNOWN', `the mint's nonce ${short} was never issued by this store (or the store was replaced); request a fresh nonce`);
    if (n.context !== expectedContext) {
      // Refused without burning: nothing was signed, and burning would let anyone who saw
      // the public nonce kill an honest session.
      throw new RefusedError('E_NONCE_MISBOUND', `the mint's nonce ${short} was issued for ${n.context}, not ${expectedContext}; refusing to sign with it (it stays unused for its own context)`);
    }
    return { id, short, n: n as { context: string; secnonce: string; consumed: number } };
  }

  // ——— blind signatures (BlindSignaturePort): a B_ is signed once ———

  async blindSignatureOwner(B_: string): Promise<{ contract_id: string; state: number } | undefined> {
    return this.q.getBlindSig.get(B_);
  }

  async recordBlindSignatures(contractId: string, state: number, rows: { B_: string; keyset_id: string; amount: number; C_: string }[]): Promise<void> {
    this.begin();
    for (const r of rows) {
      try {
        this.q.putBlindSig.run(r.B_, contractId, state, r.keyset_id, r.amount, r.C_);
      } catch (e) {
        if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
          throw new RefusedError('E_BLINDED_MESSAGE_REUSED', `the blinded message ${r.B_.slice(0, 16)}… was already signed: a blinded message is signed once`);
        }
        throw e;
      }
    }
  }

  async ecashIssuance(): Promise<{ keyset_id: string; issued_sat: number; signatures: number }[]> {
    return this.q.issuance.all();
  }

  async signedBlindedMessages(B_s: string[]): Promise<SignedBlindedMessage[]> {
    if (B_s.length === 0) return [];
    // One query over a JSON array of the asked B_ (no statement per B_, no SQL built from input).
    return this.db.prepare<[string], SignedBlindedMessage>(
      'SELECT B_, contract_id, state, keyset_id, amount, C_ FROM blind_signatures WHERE B_ IN (SELECT value FROM json_each(?))',
    ).all(JSON.stringify(B_s));
  }

  async status(pubnonce: Uint8Array): Promise<'unused' | 'consumed' | 'unknown'> {
    const n = this.q.getNonce.get(nonceKey(pubnonce));
    return !n ? 'unknown' : n.consumed ? 'consumed' : 'unused';
  }

  /**
   * SHA-256 over every row, as this connection sees them (uncommitted writes included):
   * lets a test show that a refused step wrote nothing, not even to the open batch.
   */
  contentDigest(): string {
    const h = createHash('sha256');
    for (const table of ['meta', 'contracts', 'funding', 'nonces', 'blind_signatures']) {
      for (const row of this.db.prepare(`SELECT * FROM ${table} ORDER BY 1`).all()) h.update(`${table}:${JSON.stringify(row)}\n`);
    }
    return h.digest('hex');
  }
}
