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
 * holds — with one exception below; anything else is refused before the secret is touched
 * (E_NONCE_REOPENED, exit 1, an alarm: nothing signed, nothing written). The ledger lives
 * where the store's writer cannot reach:
 *
 * | signer                                   | ledger                                         |
 * |------------------------------------------|------------------------------------------------|
 * | PostgreSQL, process epoch (a stream)     | in the process's memory (only it can open its nonces) |
 * | PostgreSQL, host epoch (one-shot commands) | a journal beside the host's key under --state-dir |
 * | SQLite (one-shot commands and streams)   | a journal beside mint.sqlite                   |
 *
 * THE INVARIANT, precisely: a signer never produces two DIFFERENT partial signatures with
 * one secret nonce. BIP-327 Sign is deterministic: the partial signature is a function of
 * the secret nonce, the secret key and the session — the aggregate nonce (every
 * participant's public nonce), the participants and tweak (the key aggregate) and the
 * message. Producing the SAME partial signature again gives nobody a new equation. So
 * when a nonce is opened for signing, the ledger records the digest of that session
 * (musig/psbt-keypath.ts `signingSessionDigest`; durably, in the journal's line, where the
 * ledger is a journal), and the one exception is: a nonce it opened may be opened again
 * for a session with the same digest, byte for byte — never for another, and never one
 * opened without a digest or burned. That is what lets a stream serve a request again in
 * the same process after its transaction was rolled back or its COMMIT was lost and found
 * not to have happened (store/outages.ts), and a SQLite mint killed between its journal
 * and its COMMIT answer the same request when it is sent again: each is the identical
 * session, signed identically.
 *
 * Invariants:
 * - An id enters the ledger only when this signer issues it, from a fresh secret nonce: an
 *   id that left it never comes back (its pubnonce would need the same secret nonce again).
 *   Where the ledger is a journal, a file read again may say otherwise — cut back to before
 *   an opening, or replaced — and is believed for what other processes did, never for what
 *   this one did: every nonce this process opened stays in its memory for as long as it lives
 *   (`openedHere`, 32 bytes an id), and is opened again only for the same session.
 * - An id opened for session digest D is opened again only for D: whatever the store says,
 *   this signer's partial signatures under one secret nonce are all the same one.
 * - Entries of an open transaction are pending; `settle` makes them final (the journal:
 *   appended and fsynced, under its lock, with every claimed id checked still live — or
 *   opened for the same digest — a racing command of the same host may have opened it)
 *   BEFORE the store sends COMMIT, so no signature and no pubnonce leaves a process before
 *   its ledger says so. `discard` (a rollback before COMMIT was sent: nothing of the
 *   transaction left) forgets them, and the nonces it claimed stay openable — a deadlock
 *   retried, a request refused after its nonce was taken. After `settle`, whatever the
 *   COMMIT's outcome, an opened nonce is gone for every other session: offered again for
 *   one it is the alarm, or — when this signer cannot tell whether that COMMIT happened (its
 *   answer lost: `commitLost`; a crash between the journal and the COMMIT's `committed`
 *   mark; a failure after `settle`) — refused as used (E_NONCE_USED, exit 5: its user
 *   abandons once, or sends the same request again).
 * - Dropping an id or a digest only ever refuses more: a crash between `settle` and COMMIT,
 *   a pruned entry, a compacted digest, a torn journal tail cost a user one `credit
 *   abandon`, never a second signature.
 *
 * Bounded: the ledger holds the nonces issued and not yet opened or burned here — about
 * one per open contract — and the digests of recent openings. What never comes back (a nonce
 * burned by another epoch's abandon, a contract exited) is pruned against the store: ids
 * whose row the store shows consumed are dropped (trusting the store here only refuses
 * more). The journal is one line per issue, per opening (with its digest) and per COMMIT
 * done, compacted to the live and unsure ids when it holds more than twice as many lines
 * (and at least COMPACT_MIN): a committed opening's digest goes with its lines. In memory,
 * the digests of committed openings are kept for the last COMPACT_MIN of them.
 *
 * What the store's writer can still do: deny service (hide, consume or corrupt a nonce, so
 * its user abandons), roll a contract back to an older state (the mint then exits with it:
 * a backup protects contracts, not the payments since — docs/postgres.md), but not make
 * this signer produce a second partial signature with one nonce. A rewound row with the
 * SAME request replayed (by the writer, or a user colluding with it) is signed again: the
 * same partial signature, so the same final signature and the same signed state — bytes
 * the requester already had and that the store holds sealed — nothing new. The contract's
 * record then holds that payment again and a fresh next nonce: no more than rolling the
 * contract back, which a writer can do anyway (above). The signer raises the alarm all the
 * same (a committed nonce offered again is evidence of a writer at work), without refusing. For SQLite the journal is in
 * the same directory as the database: it catches a rewound row or the file restored on its
 * own, not a whole --state-dir put back together (never back that directory up:
 * docs/state.md). A journal that vanishes under a live process that read or wrote it is
 * written again from that process's memory (with an alarm), never started again from the
 * store's unused nonces — that start is for a directory that never had one. A journal
 * REPLACED by a forged one is read as the host's record (another process of the host may
 * have compacted it): whoever can write that directory is trusted as the store's file is.
 */
import { firstUnopenable, sessionOf, type Op } from './nonce-ops.ts';
import { OffchainError, StateConflictError } from '../errors.ts';
import { ensureDir } from './atomic.ts';
import { withLock } from './lock.ts';
import { DIGEST_RE, Journal, openLine, type Entries } from './nonce-journal.ts';
import { IdSet } from './id-set.ts';

/** The store offered a nonce this signer already opened (or never issued): an alarm. Exit 1. */
export class NonceReopenedError extends OffchainError {
  constructor(message: string, detail?: Record<string, unknown>) {
    super('E_NONCE_REOPENED', message, 1, detail);
  }
}

/** Journal lines before compaction is considered; in memory, the committed openings whose digest is kept. */
export const COMPACT_MIN = 4096;

export type { Op } from './nonce-ops.ts';

export interface LedgerOptions {
  /** Whose ledger, for messages: "this stream (epoch 1a2b…)", "this host's one-shot commands". */
  who: string;
  /** Where the nonces are kept, for messages (a URL without its password, a directory). */
  where: string;
  /** Of `ids`, those the store shows consumed: dropped from the ledger (it only refuses more). */
  consumed?: (ids: string[]) => Promise<Set<string>>;
  /**
   * Called with the alarm's text when the store offers a nonce this signer opened: `refused`
   * when it is refused (E_NONCE_REOPENED), false when it was committed and is opened again
   * for the same session (signed again identically, but someone put its row back). A stream
   * prints both on stderr; a one-shot command the second (its error line is the first).
   */
  alarm?: (message: string, refused: boolean) => void;
}

export class NonceLedger {
  private readonly live = new Set<string>();
  /**
   * Gone by a COMMIT not known to have happened: a journal's `-` without `=` (a step
   * interrupted), a transaction settled whose COMMIT did not return, or whose answer was lost.
   */
  private readonly unsure = new Set<string>();
  /** The session digest each opening still remembered was made for (insertion order: oldest first). */
  private readonly sessions = new Map<string, string>();
  /**
   * Every nonce this process opened, where the ledger is a journal: a journal cut back to
   * before that opening (same file, shorter) or replaced is read afresh, and would otherwise
   * make it live again — a second session signed with it. Never shrinks; memory only.
   */
  private readonly openedHere = new IdSet();
  private get entries(): Entries {
    return { live: this.live, unsure: this.unsure, sessions: this.sessions };
  }
  private pending: Op[] = [];
  /**
   * How many of `pending` issue each id, and how many take it out (burn, open, reopen): what
   * `claim` asks of every request, without scanning a batch's pending entries each time
   * (a group commit of 256 requests holds ~512).
   */
  private readonly pendingIssues = new Map<string, number>();
  private readonly pendingTakes = new Map<string, number>();
  private addPending(op: Op): void {
    this.pending.push(op);
    const counts = op.kind === 'issue' ? this.pendingIssues : this.pendingTakes;
    counts.set(op.id, (counts.get(op.id) ?? 0) + 1);
  }
  private truncatePending(length: number): void {
    while (this.pending.length > length) {
      const op = this.pending.pop()!;
      const counts = op.kind === 'issue' ? this.pendingIssues : this.pendingTakes;
      const n = counts.get(op.id)! - 1;
      if (n > 0) counts.set(op.id, n);
      else counts.delete(op.id);
    }
  }
  private clearPending(): void {
    this.pending = [];
    this.pendingIssues.clear();
    this.pendingTakes.clear();
  }
  private pruneAt = COMPACT_MIN;
  /** The journal read once (on first need: a command that opens no nonce never reads it). */
  private loaded = false;
  /** Every id the last settled transaction took out (for `committed`). */
  private settledGone: string[] = [];
  /** The nonces the last settled transaction opened (for `commitLost`). */
  private settledOpens: string[] = [];
  /** Opened by a transaction whose COMMIT answer was lost: refused as used, not as an attack. */
  private readonly lost = new Set<string>();

  private constructor(
    private readonly opts: LedgerOptions,
    private readonly journal: Journal | undefined,
    /** No journal yet: the entries it starts from (SQLite: the store's unused nonces). */
    private readonly bootstrap: (() => Promise<string[]>) | undefined,
  ) {}

  /** A process epoch's ledger: memory only. */
  static inMemory(opts: LedgerOptions): NonceLedger {
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
    this.addPending({ kind: 'issue', id });
  }

  /** A nonce burned (consumed, never opened) in the open transaction: it may be any epoch's. */
  burned(id: string): void {
    this.addPending({ kind: 'burn', id });
  }

  /**
   * About to open the secret nonce `id` to sign the session whose digest is `session`
   * (hex, 32 bytes: `signingSessionDigest`; none for a nonce opened only to be wiped):
   * refused unless this signer issued it and has not opened it since (also not earlier in
   * this transaction) — or opened it for this very session, which signs the same again.
   */
  async claim(id: string, short: string, session?: string): Promise<void> {
    if (session !== undefined && !DIGEST_RE.test(session)) throw new Error('NonceLedger.claim: a session digest is 32 bytes of hex');
    if (this.pendingTakes.has(id)) throw this.reopened(id, short);
    await this.load();
    if (!this.openable(id) && this.journal) await this.journal.refresh(this.entries); // another command of this host may have issued it
    if (this.openable(id) && !this.openedHere.has(id)) {
      this.addPending({ kind: 'open', id, session });
      return;
    }
    if (session !== undefined && this.sessions.get(id) === session) {
      // The same session again: the same partial signature, nothing new. A committed opening
      // offered again means a writer put its row back: said, not refused.
      if (!this.unsure.has(id) && !this.lost.has(id)) this.opts.alarm?.(this.reopenedMessage(id, short, true), false);
      this.addPending({ kind: 'reopen', id, session });
      return;
    }
    if (this.lost.has(id)) {
      throw new StateConflictError('E_NONCE_USED', `the mint's nonce ${short} was opened for a request whose COMMIT answer was lost; the store says it was not kept, but a store cannot be trusted to say so and a nonce signs one session only: send that same request again (it is signed again, identically), or abandon this one ("credit abandon") for a fresh nonce`);
    }
    if (this.unsure.has(id)) {
      throw new StateConflictError('E_NONCE_USED', `the mint's nonce ${short} was opened by a step that was interrupted (a crash, a lost connection) between its ledger and its COMMIT: whether it signed cannot be told, so it signs nothing but that same request again; send that one again, or abandon this one ("credit abandon") for a fresh nonce`);
    }
    throw this.reopened(id, short);
  }

  private openable(id: string): boolean {
    return this.live.has(id) || this.pendingIssues.has(id);
  }

  private reopenedMessage(id: string, short: string, same: boolean): string {
    return same
      ? `ALARM: the store ${this.opts.where} offers the mint's nonce ${short} as unused, but ${this.opts.who} already opened it and its COMMIT was done: someone who can write the store put a consumed nonce back. The request is the one it was opened for, byte for byte, so it is signed again with the same signature — nothing new leaves; find out who writes the mint's store (docs/postgres.md, "The ledger rule")`
      : `ALARM: the store ${this.opts.where} offers the mint's nonce ${short} as unused, but ${this.opts.who} already opened it (or never issued it): someone who can write the store put a consumed nonce back — a second signature with it would give away the mint's key. Nothing was signed; find out who writes the mint's store (docs/postgres.md, "The ledger rule")`;
  }

  private reopened(id: string, short: string): NonceReopenedError {
    const message = this.reopenedMessage(id, short, false);
    this.opts.alarm?.(message, true);
    return new NonceReopenedError(message, { nonce: id });
  }

  /**
   * The COMMIT sent after the last `settle` lost its answer and the store says it did not
   * happen. Whatever the store says, the nonces that transaction opened stay gone for every
   * other session (its answer may have been kept and replayed — a close carries a signature
   * — and the store's writer could say otherwise); a request on one for another session is
   * refused E_NONCE_USED rather than as an alarm, and its user abandons once. The same
   * request again is signed again, identically.
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
    this.settledOpens = [];
    if (gone.length === 0) return;
    for (const id of gone) this.lost.delete(id);
    if (!this.journal) {
      for (const id of gone) this.unsure.delete(id);
      this.trimSessions();
      return;
    }
    const journal = this.journal;
    await withLock(journal.dir, async () => {
      await journal.refresh(this.entries);
      await journal.append(gone.map((id) => `=${id}`), false);
      for (const id of gone) this.unsure.delete(id);
    }).catch(() => undefined);
  }

  /** In memory: the digests of the last COMPACT_MIN committed openings are kept, older ones forgotten (refusing more). */
  private trimSessions(): void {
    let excess = this.sessions.size - COMPACT_MIN - this.unsure.size;
    for (const id of this.sessions.keys()) {
      if (excess <= 0) break;
      if (this.unsure.has(id)) continue;
      this.sessions.delete(id);
      excess--;
    }
  }

  /** Where a savepoint starts: `discard(mark)` forgets what came after it. */
  mark(): number {
    return this.pending.length;
  }

  /** The transaction (or the savepoint at `mark`) was rolled back before COMMIT was sent. */
  discard(mark = 0): void {
    this.truncatePending(Math.min(mark, this.pending.length));
  }

  /**
   * Just before COMMIT is sent: the open transaction's entries become final — durably, for
   * a journal, with every claimed id checked once more under the journal's lock. Throws
   * (nothing final) when a claimed id is no longer live (nor opened for the same session):
   * the caller rolls back.
   */
  async settle(): Promise<void> {
    const ops = this.pending;
    this.settledOpens = ops.filter((op) => op.kind === 'open' || op.kind === 'reopen').map((op) => op.id);
    this.settledGone = ops.filter((op) => op.kind !== 'issue').map((op) => op.id);
    // A journal is created by the first transaction that ticks its epoch, even one whose
    // entries were all rolled back to a savepoint: a used epoch without one is retired.
    if (ops.length === 0 && (!this.journal || (await this.journal.exists()))) return;
    if (!this.journal) {
      this.apply(ops);
      this.clearPending();
      if (this.live.size > this.pruneAt) await this.prune();
      return;
    }
    const journal = this.journal;
    await this.load();
    await ensureDir(journal.dir);
    await withLock(journal.dir, async () => {
      const had = await journal.refresh(this.entries);
      if (!had && journal.known) {
        // The journal this process read or wrote is gone (deleted, perhaps beside a rewound
        // row): its memory is the record — written back — never the store's unused nonces,
        // which would make a nonce it opened openable again.
        this.opts.alarm?.(`ALARM: the nonce ledger ${journal.path} of ${this.opts.who} was removed while it ran: it is written again from this process's memory, not from the store ${this.opts.where}; find out who writes that directory`, false);
        await journal.compact(this.entries);
      }
      const booting = !had && !journal.known && this.bootstrap !== undefined;
      if (booting) {
        this.live.clear();
        for (const id of await this.bootstrap!()) this.live.add(id);
      }
      const refused = firstUnopenable(ops, this.live, this.sessions, this.openedHere);
      if (refused) throw this.reopened(refused.id, `${refused.id.slice(0, 16)}…`);
      const initial = booting ? [...this.live].map((id) => `+${id}`) : [];
      await journal.append([...initial, ...ops.map((op) => (op.kind === 'issue' ? `+${op.id}` : openLine(op.id, sessionOf(op))))]);
      this.apply(ops);
      if (journal.lines > Math.max(COMPACT_MIN, 2 * (this.live.size + this.unsure.size))) {
        await this.prune();
        await journal.compact(this.entries);
      }
    });
    this.clearPending();
  }

  /**
   * The COMMIT after the last `settle` certainly did not happen (a full disk refused it
   * before its commit record was written) and nothing of it left the process: the
   * journal's lines of that settle are taken back, so the directory is as it was. The
   * memory is not: the store refuses all further use after a failed COMMIT. Without the
   * journal's lock (taking it writes a file, and the disk is full): for SQLite only, whose
   * writer holds the mint directory's lock, so no other process appends meanwhile — and
   * the lines are taken back only while the file still ends with them.
   */
  async unsettle(): Promise<void> {
    await this.journal?.undoLastAppend();
  }

  private apply(ops: Op[]): void {
    for (const op of ops) {
      if (op.kind === 'issue') {
        this.live.add(op.id);
        continue;
      }
      this.live.delete(op.id);
      // Unsure until `committed`.
      this.unsure.add(op.id);
      if (this.journal && (op.kind === 'open' || op.kind === 'reopen')) this.openedHere.add(op.id);
      const session = sessionOf(op);
      if (session !== undefined) this.sessions.set(op.id, session);
      else this.sessions.delete(op.id);
    }
  }

  /** Drop the ids the store shows consumed (never opened here: burned elsewhere, or lost). */
  private async prune(): Promise<void> {
    if (this.opts.consumed && this.live.size + this.unsure.size > 0) {
      const gone = await this.opts.consumed([...this.live, ...this.unsure]);
      for (const id of gone) {
        this.live.delete(id);
        this.unsure.delete(id); // consumed: the store refuses it before any ledger is asked
        this.sessions.delete(id);
        this.lost.delete(id);
      }
    }
    this.pruneAt = Math.max(COMPACT_MIN, 2 * this.live.size);
  }
}
