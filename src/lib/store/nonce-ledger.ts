/**
 * THE LEDGER RULE — a live signer never signs twice with a secret nonce it opened, whatever
 * its store says later.
 *
 * A store that keeps the mint's secret nonces (sealed or not) can be written by others than
 * the process that signs: the mint's own database role, a DBA, a managed database's
 * provider, the owner of a table; for SQLite, whoever can write the file or puts an old copy
 * of it back. Such a writer copies a nonce's row (and the contract's) before a payment and
 * puts them back after it: the store then offers the consumed nonce as unused, and the mint
 * would sign a second message with it — a third, and the key is solved (BIP-327: each
 * partial signature is k1 + b·k2 + e·a·x, three equations in three unknowns). Epoch
 * counters and witnesses catch a restored database, not one rewound row.
 *
 * So the signer keeps its own ledger of the nonces it may still open: each nonce it issues
 * enters it, each nonce it opens or burns leaves it, and it opens only a nonce its ledger
 * holds — anything else is refused before the secret is touched (E_NONCE_REOPENED, exit 1,
 * an alarm: nothing signed, nothing written). The ledger lives where the store's writer
 * cannot reach:
 *
 * | signer                                   | ledger                                         |
 * |------------------------------------------|------------------------------------------------|
 * | PostgreSQL, process epoch (a stream)     | in the process's memory (only it can open its nonces) |
 * | PostgreSQL, host epoch (one-shot commands) | a journal beside the host's key under --state-dir |
 * | SQLite (one-shot commands and streams)   | a journal beside mint.sqlite                   |
 *
 * Invariants:
 * - An id enters the ledger only when this signer issues it, from a fresh secret nonce: an
 *   id that left it never comes back (its pubnonce would need the same secret nonce again).
 * - Entries of an open transaction are pending; `settle` makes them final (the journal:
 *   appended and fsynced, under its lock, with every claimed id checked still live — a
 *   racing command of the same host may have opened it) BEFORE the store sends COMMIT, so
 *   no signature and no pubnonce leaves a process before its ledger says so. `discard`
 *   (a rollback before COMMIT was sent: nothing of the transaction left) forgets them, and
 *   the nonces it claimed stay openable — a deadlock retried, a request refused after its
 *   nonce was taken. After COMMIT was sent, whatever its outcome, an opened nonce is gone:
 *   offered again it is the alarm, or — when this signer cannot tell whether that COMMIT
 *   happened (its answer lost: `commitLost`; a crash between the journal and the COMMIT's
 *   `committed` mark) — refused as used (E_NONCE_USED, exit 5: its user abandons once).
 *   SQLite alone reopens an interrupted one the database still offers (`reopenInterrupted`:
 *   there the database and the journal are one domain, and an interrupted COMMIT left
 *   nothing).
 * - Dropping an id only ever refuses more: a crash between `settle` and COMMIT, a pruned
 *   entry, a torn journal tail cost a user one `credit abandon`, never a second signature.
 *
 * Bounded: the ledger holds the nonces issued and not yet opened or burned here — about
 * one per open contract. What never comes back (a nonce burned by another epoch's abandon,
 * a contract exited) is pruned against the store: ids whose row the store shows consumed
 * are dropped (trusting the store here only refuses more). The journal is one line per
 * issue and per opening (35 bytes), compacted to the live ids when it holds more than
 * twice as many lines as live ids (and at least COMPACT_MIN).
 *
 * What the store's writer can still do: deny service (hide, consume or corrupt a nonce, so
 * its user abandons), roll a contract back to an older state (the mint then exits with it:
 * a backup protects contracts, not the payments since — docs/postgres.md), but not make
 * this signer sign twice with one nonce. For SQLite the journal is in the same directory as
 * the database: it catches a rewound row or the file restored on its own, not a whole
 * --state-dir put back together (never back that directory up: docs/state.md).
 */
import { constants } from 'node:fs';
import { open, readFile, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { MalformedInputError, OffchainError, StateConflictError } from '../errors.ts';
import { ensureDir, errnoCode, syncDir, writeFileAtomic } from './atomic.ts';
import { withLock } from './lock.ts';

/** The store offered a nonce this signer already opened (or never issued): an alarm. Exit 1. */
export class NonceReopenedError extends OffchainError {
  constructor(message: string, detail?: Record<string, unknown>) {
    super('E_NONCE_REOPENED', message, 1, detail);
  }
}

/** Journal lines before compaction is considered. */
export const COMPACT_MIN = 4096;

const ID_RE = /^[0-9a-f]{32}$/;
const JOURNAL = 'journal';

type Op = { kind: 'issue' | 'open' | 'burn'; id: string };

/** What a journal says: the ids still openable, and those gone by a COMMIT not known to have happened. */
type Entries = { live: Set<string>; unsure: Set<string> };

export interface LedgerOptions {
  /** Whose ledger, for messages: "this stream (epoch 1a2b…)", "this host's one-shot commands". */
  who: string;
  /** Where the nonces are kept, for messages (a URL without its password, a directory). */
  where: string;
  /** Of `ids`, those the store shows consumed: dropped from the ledger (it only refuses more). */
  consumed?: (ids: string[]) => Promise<Set<string>>;
  /** Called with the alarm's text when a nonce is refused (a stream prints it on stderr). */
  alarm?: (message: string) => void;
  /**
   * A journal entry gone by a step interrupted between its ledger and its COMMIT (a crash)
   * may be opened again if the store still offers it (SQLite: the file and the journal are
   * one domain, and a COMMIT that did not happen left nothing); otherwise it is refused as
   * used (PostgreSQL host epochs: the database is the party not trusted).
   */
  reopenInterrupted?: boolean;
}

/**
 * The journal file: `journal` in its own directory (0700, its own lock), a header naming
 * the ledger, then one line per entry: `+<id>` issued; `-<id>` opened or burned, written
 * (fsynced) before its COMMIT is sent; `=<id>` that COMMIT done (written after it, not
 * fsynced: lost, the entry only stays unsure). An id with `-` and no `=` belongs to a step
 * interrupted between the two (a crash): whether it committed the journal cannot tell.
 */
class Journal {
  readonly path: string;
  /** Bytes read so far, and the file they were read from (a compaction replaces it). */
  private offset = 0;
  private ino: bigint | undefined;
  lines = 0;

  constructor(readonly dir: string, private readonly header: string) {
    this.path = join(dir, JOURNAL);
  }

  async exists(): Promise<boolean> {
    return (await this.identity()) !== undefined;
  }

  private async identity(): Promise<bigint | undefined> {
    try {
      return (await stat(this.path, { bigint: true })).ino;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw e;
    }
  }

  /**
   * Apply what was appended since the last read to `live` (everything, after a compaction
   * replaced the file): complete lines only — a torn last line is an append whose COMMIT was
   * never sent. `undefined` when there is no journal.
   */
  async refresh(e: Entries): Promise<boolean> {
    const ino = await this.identity();
    if (ino === undefined) return false;
    if (ino !== this.ino) {
      e.live.clear();
      e.unsure.clear();
      this.offset = 0;
      this.lines = 0;
      this.ino = ino;
    }
    let text: Buffer;
    try {
      text = await readFile(this.path);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return false;
      throw e;
    }
    const end = text.lastIndexOf(0x0a) + 1;
    if (end <= this.offset) return true;
    const chunk = text.subarray(this.offset, end).toString('latin1').split('\n');
    chunk.pop();
    for (const line of chunk) {
      if (this.offset === 0 && this.lines === 0 && line === this.header) {
        this.lines++;
        continue;
      }
      if (this.lines === 0) throw this.corrupt('its first line does not name this ledger');
      const id = line.slice(1);
      if (!ID_RE.test(id) || !'+-='.includes(line[0]!)) throw this.corrupt(`line ${this.lines + 1} is not an entry`);
      if (line[0] === '+') e.live.add(id);
      else if (line[0] === '-') {
        e.live.delete(id);
        e.unsure.add(id);
      } else e.unsure.delete(id);
      this.lines++;
    }
    this.offset = end;
    return true;
  }

  /** Under the lock: append `lines`, fsync (unless `sync` is false). A torn tail (no final newline) is cut first. */
  async append(lines: string[], sync = true): Promise<void> {
    // No file, or an empty one (its creation outlived a crash): the header first.
    const size = (await this.identity()) === undefined ? undefined : (await stat(this.path)).size;
    const fresh = size === undefined || size === 0;
    if (!fresh && size !== this.offset) await truncate(this.path, this.offset); // refresh() ran just before, under the lock
    const fh = await open(this.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    let body = lines.map((l) => `${l}\n`).join('');
    if (fresh) body = `${this.header}\n${body}`;
    try {
      await fh.write(body);
      if (sync || fresh) await fh.sync();
    } finally {
      await fh.close();
    }
    if (fresh) {
      await syncDir(this.dir);
      this.ino = await this.identity();
      this.offset = 0;
      this.lines = 0;
    }
    // Read back what we wrote (and nothing else can have been: we hold the lock).
    this.offset += Buffer.byteLength(body, 'latin1');
    this.lines += fresh ? lines.length + 1 : lines.length;
  }

  /** Under the lock: replace the file by the header and the entries. */
  async compact(e: Entries): Promise<void> {
    const lines = [this.header, ...[...e.live].map((id) => `+${id}`), ...[...e.unsure].flatMap((id) => [`+${id}`, `-${id}`])];
    const body = lines.map((l) => `${l}\n`).join('');
    await writeFileAtomic(this.path, body, { mode: 0o600 });
    this.ino = await this.identity();
    this.offset = Buffer.byteLength(body, 'latin1');
    this.lines = lines.length;
  }

  private corrupt(why: string): MalformedInputError {
    return new MalformedInputError('E_STATE_CORRUPT', `the nonce ledger ${this.path} is damaged (${why}): move its directory aside; the nonces it held can then not be opened (their users abandon once)`, { path: this.path });
  }
}

export class NonceLedger {
  private readonly live = new Set<string>();
  /** Gone by a COMMIT not known to have happened (a journal's `-` without `=`: a step interrupted). */
  private readonly unsure = new Set<string>();
  private get entries(): Entries {
    return { live: this.live, unsure: this.unsure };
  }
  private pending: Op[] = [];
  private pruneAt = COMPACT_MIN;
  /** The journal read once (on first need: a command that opens no nonce never reads it). */
  private loaded = false;
  /** The nonces the last settled transaction opened (for `commitLost`), and every id it took out (for `committed`). */
  private settledOpens: string[] = [];
  private settledGone: string[] = [];
  /** Opened by a transaction whose COMMIT answer was lost: refused as used, not as an attack. */
  private readonly lost = new Set<string>();

  private constructor(
    private readonly opts: LedgerOptions,
    private readonly journal: Journal | undefined,
    /** No journal yet: the entries it starts from (SQLite: the store's unused nonces). */
    private readonly bootstrap: (() => Promise<string[]>) | undefined,
  ) {}

  /** A process epoch's ledger: memory only. */
  static inMemory(opts: Omit<LedgerOptions, 'reopenInterrupted'>): NonceLedger {
    return new NonceLedger(opts, undefined, undefined);
  }

  /**
   * A ledger kept in `dir` (created on first settle), read on first need. `bootstrap` gives
   * the entries a journal starts from when there is none; without it a missing journal
   * starts empty.
   */
  static onDisk(dir: string, name: string, opts: LedgerOptions, bootstrap?: () => Promise<string[]>): NonceLedger {
    return new NonceLedger(opts, new Journal(dir, `offchain nonce ledger v1 ${name}`), bootstrap);
  }

  private async load(): Promise<void> {
    if (this.loaded || !this.journal) return;
    if (!(await this.journal.refresh(this.entries)) && this.bootstrap) for (const id of await this.bootstrap()) this.live.add(id);
    this.loaded = true;
  }

  /** Whether a journal file exists (a host epoch used before without one is retired: pg/host-epoch.ts). */
  static async journalExists(dir: string): Promise<boolean> {
    return new Journal(dir, '').exists();
  }

  /** Entries this ledger holds now (tests, and the bound). */
  get size(): number {
    return this.live.size;
  }

  /** A nonce issued in the open transaction. */
  issued(id: string): void {
    this.pending.push({ kind: 'issue', id });
  }

  /** A nonce burned (consumed, never opened) in the open transaction: it may be any epoch's. */
  burned(id: string): void {
    this.pending.push({ kind: 'burn', id });
  }

  /**
   * About to open the secret nonce `id`: refused unless this signer issued it and has not
   * opened it since (also not earlier in this transaction).
   */
  async claim(id: string, short: string): Promise<void> {
    if (this.lost.has(id)) {
      throw new StateConflictError('E_NONCE_USED', `the mint's nonce ${short} was opened for a request whose COMMIT answer was lost; the store says it was not kept, but a store cannot be trusted to say so and a nonce is opened once: abandon the request ("credit abandon") for a fresh nonce`);
    }
    await this.load();
    if (!this.openable(id) && this.journal) await this.journal.refresh(this.entries); // another command of this host may have issued it
    if (!this.openable(id)) {
      if (this.unsure.has(id) && !this.pending.some((op) => op.id === id)) {
        throw new StateConflictError('E_NONCE_USED', `the mint's nonce ${short} was opened by a step that was interrupted (a crash) between its ledger and its COMMIT: whether it signed cannot be told, so it is not opened again; abandon the request ("credit abandon") for a fresh nonce`);
      }
      throw this.reopened(id, short);
    }
    this.pending.push({ kind: 'open', id });
  }

  private openable(id: string): boolean {
    if (this.pending.some((op) => op.id === id && op.kind !== 'issue')) return false;
    return this.live.has(id) || (this.opts.reopenInterrupted === true && this.unsure.has(id)) || this.pending.some((op) => op.id === id && op.kind === 'issue');
  }

  private reopened(id: string, short: string): NonceReopenedError {
    const message = `ALARM: the store ${this.opts.where} offers the mint's nonce ${short} as unused, but ${this.opts.who} already opened it (or never issued it): someone who can write the store put a consumed nonce back — a second signature with it would give away the mint's key. Nothing was signed; find out who writes the mint's store (docs/postgres.md, "The ledger rule")`;
    this.opts.alarm?.(message);
    return new NonceReopenedError(message, { nonce: id });
  }

  /**
   * The COMMIT sent after the last `settle` lost its answer and the store says it did not
   * happen. Whatever the store says, the nonces that transaction opened stay gone (its
   * answer may have been kept and replayed — a close carries a signature — and the store's
   * writer could say otherwise); a request on one is refused E_NONCE_USED rather than as
   * an alarm, and its user abandons once.
   */
  commitLost(): void {
    for (const id of this.settledOpens) this.lost.add(id);
  }

  /**
   * The COMMIT after the last `settle` happened: its entries are no longer unsure (the
   * journal's `=` lines, not fsynced — lost in a crash, they leave the entries unsure,
   * which only refuses more). Never throws: the COMMIT is done whatever happens here.
   */
  async committed(): Promise<void> {
    const gone = this.settledGone;
    this.settledGone = [];
    if (!this.journal || gone.length === 0) return;
    const journal = this.journal;
    await withLock(journal.dir, async () => {
      await journal.refresh(this.entries);
      await journal.append(gone.map((id) => `=${id}`), false);
      for (const id of gone) this.unsure.delete(id);
    }).catch(() => undefined);
  }

  /** Where a savepoint starts: `discard(mark)` forgets what came after it. */
  mark(): number {
    return this.pending.length;
  }

  /** The transaction (or the savepoint at `mark`) was rolled back before COMMIT was sent. */
  discard(mark = 0): void {
    this.pending.length = Math.min(mark, this.pending.length);
  }

  /**
   * Just before COMMIT is sent: the open transaction's entries become final — durably, for
   * a journal, with every claimed id checked once more under the journal's lock. Throws
   * (nothing final) when a claimed id is no longer live: the caller rolls back.
   */
  async settle(): Promise<void> {
    const ops = this.pending;
    this.settledOpens = ops.filter((op) => op.kind === 'open').map((op) => op.id);
    this.settledGone = ops.filter((op) => op.kind !== 'issue').map((op) => op.id);
    // A journal is created by the first transaction that ticks its epoch, even one whose
    // entries were all rolled back to a savepoint: a used epoch without one is retired.
    if (ops.length === 0 && (!this.journal || (await this.journal.exists()))) return;
    if (!this.journal) {
      this.apply(ops);
      this.pending = [];
      if (this.live.size > this.pruneAt) await this.prune();
      return;
    }
    const journal = this.journal;
    await this.load();
    await ensureDir(journal.dir);
    await withLock(journal.dir, async () => {
      const had = await journal.refresh(this.entries);
      if (!had && this.bootstrap) {
        this.live.clear();
        for (const id of await this.bootstrap()) this.live.add(id);
      }
      const view = new Set(this.opts.reopenInterrupted ? [...this.live, ...this.unsure] : this.live);
      for (const op of ops) {
        if (op.kind === 'open' && !view.has(op.id)) throw this.reopened(op.id, `${op.id.slice(0, 16)}…`);
        if (op.kind === 'issue') view.add(op.id);
        else view.delete(op.id);
      }
      const initial = !had && this.bootstrap ? [...this.live].map((id) => `+${id}`) : [];
      await journal.append([...initial, ...ops.map((op) => `${op.kind === 'issue' ? '+' : '-'}${op.id}`)]);
      this.apply(ops);
      if (journal.lines > Math.max(COMPACT_MIN, 2 * (this.live.size + this.unsure.size))) {
        await this.prune();
        await journal.compact(this.entries);
      }
    });
    this.pending = [];
  }

  private apply(ops: Op[]): void {
    for (const op of ops) {
      if (op.kind === 'issue') this.live.add(op.id);
      else {
        this.live.delete(op.id);
        // Unsure until `committed` (a journal's; memory dies with the process).
        if (this.journal) this.unsure.add(op.id);
      }
    }
  }

  /** Drop the ids the store shows consumed (never opened here: burned elsewhere, or lost). */
  private async prune(): Promise<void> {
    if (this.opts.consumed && this.live.size + this.unsure.size > 0) {
      const gone = await this.opts.consumed([...this.live, ...this.unsure]);
      for (const id of gone) {
        this.live.delete(id);
        this.unsure.delete(id); // consumed: the store refuses it before any ledger is asked
      }
    }
    this.pruneAt = Math.max(COMPACT_MIN, 2 * this.live.size);
  }
}
