/**
 * THE LEDGER RULE — a live signer never signs twice with a secret nonce it opened, whatever
 * its store says later.
 *
 * A PostgreSQL store keeps the mint's secret nonces (sealed under the key of the one process
 * that issued them: pg/mint-store.ts) where others than that process can write: the mint's own
 * database role, a DBA, a managed database's provider, the owner of a table, a restore. Such
 * a writer copies a nonce's row (and the contract's) before a payment and puts them back after
 * it: the store then offers the consumed nonce as unused, and the mint would sign a second
 * message with it — a third, and the key is solved (BIP-327: each partial signature is
 * k1 + b·k2 + e·a·x, three equations in three unknowns).
 *
 * So each mint process keeps, in its own memory, the ledger of the nonces it may still open:
 * each nonce it issues enters it, each nonce it opens or burns leaves it, and it opens only a
 * nonce its ledger holds — with one exception below; anything else is refused before the
 * secret is touched (E_NONCE_REOPENED, exit 1, an alarm: nothing signed, nothing written).
 * Only the process that issued a nonce holds the key that opens it, so its memory is the
 * whole record: no file, no lock, no journal. (On SQLite the database file is the authority,
 * and no ledger is kept: sqlite/database.ts.)
 *
 * THE INVARIANT, precisely: a signer never produces two DIFFERENT partial signatures with
 * one secret nonce. BIP-327 Sign is deterministic: the partial signature is a function of
 * the secret nonce, the secret key and the session — the aggregate nonce (every
 * participant's public nonce), the participants and tweak (the key aggregate) and the
 * message. Producing the SAME partial signature again gives nobody a new equation. So
 * when a nonce is opened for signing, the ledger records the digest of that session
 * (musig/psbt-keypath.ts `signingSessionDigest`), and the one exception is: a nonce it opened
 * may be opened again for a session with the same digest, byte for byte — never for another,
 * and never one opened without a digest or burned. That is what lets a stream serve a request
 * again in the same process after its transaction was rolled back or its COMMIT was lost and
 * found not to have happened (store/outages.ts): the identical session, signed identically.
 *
 * Invariants:
 * - An id enters the ledger only when this signer issues it, from a fresh secret nonce: an
 *   id that left it never comes back (its pubnonce would need the same secret nonce again).
 * - An id opened for session digest D is opened again only for D: whatever the store says,
 *   this signer's partial signatures under one secret nonce are all the same one.
 * - Entries of an open transaction are pending; `settle` makes them final BEFORE the store
 *   sends COMMIT, so no signature and no pubnonce leaves a process before its ledger says so.
 *   `discard` (a rollback before COMMIT was sent: nothing of the transaction left) forgets
 *   them, and the nonces it claimed stay openable — a deadlock retried, a request refused
 *   after its nonce was taken. After `settle`, whatever the COMMIT's outcome, an opened nonce
 *   is gone for every other session: offered again for one it is the alarm, or — when this
 *   signer cannot tell whether that COMMIT happened (its answer lost: `commitLost`; a failure
 *   after `settle`) — refused as used (E_NONCE_USED, exit 5: its user abandons once, or sends
 *   the same request again).
 * - Dropping an id or a digest only ever refuses more.
 *
 * Bounded: the ledger holds the nonces issued and not yet opened or burned here — about one
 * per open contract this process serves — and the digests of the last COMPACT_MIN openings.
 * What never comes back (a nonce burned by another process's abandon, a contract exited) is
 * pruned against the store: ids whose row the store shows consumed are dropped (trusting the
 * store here only refuses more).
 *
 * What the store's writer can still do: deny service (hide, consume or corrupt a nonce, so
 * its user abandons), roll a contract back to an older state (the mint then exits with it:
 * a backup protects contracts, not the payments since — docs/postgres.md), but not make this
 * signer produce a second partial signature with one nonce. A rewound row with the SAME
 * request replayed is signed again: the same partial signature, so the same final signature
 * and the same signed state — bytes the requester already had — nothing new; the signer
 * raises the alarm all the same (a committed nonce offered again is evidence of a writer at
 * work), without refusing.
 */
import { OffchainError, StateConflictError } from '../errors.ts';

/** A session digest: 32 bytes of hex. */
const DIGEST_RE = /^[0-9a-f]{64}$/;

/** The store offered a nonce this signer already opened (or never issued): an alarm. Exit 1. */
export class NonceReopenedError extends OffchainError {
  constructor(message: string, detail?: Record<string, unknown>) {
    super('E_NONCE_REOPENED', message, 1, detail);
  }
}

/** The committed openings whose digest is kept; the ledger is pruned against the store past twice its size. */
export const COMPACT_MIN = 4096;

/**
 * What a transaction does to the ledger, op by op. `open` and `reopen` carry the session
 * digest they open the nonce for (hex; none: never opened again). `reopen`: an id opened
 * before for that same digest.
 */
export type Op = { kind: 'issue' | 'burn'; id: string } | { kind: 'open' | 'reopen'; id: string; session: string | undefined };

/** The session digest an op opens its nonce for; none for an issue, a burn, or an opening without one. */
function sessionOf(op: Op): string | undefined {
  return op.kind === 'open' || op.kind === 'reopen' ? op.session : undefined;
}

export interface LedgerOptions {
  /** Whose ledger, for messages: "this process (pid 12, epoch 1a2b…)". */
  who: string;
  /** Where the nonces are kept, for messages (a URL without its password). */
  where: string;
  /** Of `ids`, those the store shows consumed: dropped from the ledger (it only refuses more). */
  consumed?: (ids: string[]) => Promise<Set<string>>;
  /**
   * Called with the alarm's text when the store offers a nonce this signer opened: `refused`
   * when it is refused (E_NONCE_REOPENED), false when it was committed and is opened again
   * for the same session (signed again identically, but someone put its row back). A stream
   * prints both on stderr.
   */
  alarm?: (message: string, refused: boolean) => void;
}

export class NonceLedger {
  private readonly live = new Set<string>();
  /** Gone by a COMMIT not known to have happened: a transaction settled whose COMMIT did not return, or whose answer was lost. */
  private readonly unsure = new Set<string>();
  /** The session digest each opening still remembered was made for (insertion order: oldest first). */
  private readonly sessions = new Map<string, string>();
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
  /** Every id the last settled transaction took out (for `committed`). */
  private settledGone: string[] = [];
  /** The nonces the last settled transaction opened (for `commitLost`). */
  private settledOpens: string[] = [];
  /** Opened by a transaction whose COMMIT answer was lost: refused as used, not as an attack. */
  private readonly lost = new Set<string>();

  /** A process's ledger: memory only. */
  constructor(private readonly opts: LedgerOptions) {}

  /** Entries this ledger holds now (tests, and the bound). */
  get size(): number {
    return this.live.size;
  }

  /** A nonce issued in the open transaction. */
  issued(id: string): void {
    this.addPending({ kind: 'issue', id });
  }

  /**
   * A nonce the store refused as issued before (E_NONCE_REPEATED), perhaps after `settle`
   * applied its issue: it leaves the ledger, whatever the transaction's end (another issuance
   * owns its row). Only refuses more.
   */
  refused(id: string): void {
    this.live.delete(id);
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
    if (this.openable(id)) {
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
      throw new StateConflictError('E_NONCE_USED', `the mint's nonce ${short} was opened by a step whose COMMIT did not return: whether it signed cannot be told, so it signs nothing but that same request again; send that one again, or abandon this one ("credit abandon") for a fresh nonce`);
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

  /** The COMMIT after the last `settle` happened: its entries are no longer unsure. Never throws: the COMMIT is done whatever happens here. */
  async committed(): Promise<void> {
    const gone = this.settledGone;
    this.settledGone = [];
    this.settledOpens = [];
    if (gone.length === 0) return;
    for (const id of gone) {
      this.lost.delete(id);
      this.unsure.delete(id);
    }
    this.trimSessions();
  }

  /** The digests of the last COMPACT_MIN committed openings are kept, older ones forgotten (refusing more). */
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

  /** Just before COMMIT is sent: the open transaction's entries become final. */
  async settle(): Promise<void> {
    const ops = this.pending;
    this.settledOpens = ops.filter((op) => op.kind === 'open' || op.kind === 'reopen').map((op) => op.id);
    this.settledGone = ops.filter((op) => op.kind !== 'issue').map((op) => op.id);
    if (ops.length === 0) return;
    this.apply(ops);
    this.clearPending();
    if (this.live.size > this.pruneAt) await this.prune();
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
