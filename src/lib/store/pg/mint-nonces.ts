/**
 * The mint's secret nonces on PostgreSQL (pg/mint-store.ts, "THE RESTORE RULE" and "THE
 * LEDGER RULE"): each stored only sealed (../seal.ts, purpose `nonce`) under this process's
 * epoch key, with the nonce id, epoch and context as its label; issued once, taken or burned once (the
 * schema's constraints and trigger, schema.ts), and opened only for what the epoch's ledger
 * still holds (nonce-ledger.ts). Every issue, take and burn marks the transaction so its
 * COMMIT ticks the epoch (pg/mint-transactions.ts `tick`). Not here: nonce generation
 * (musig/), the records.
 */
import { toHex } from '../../bytes.ts';
import { nonceId as nonceKey } from '../sqlite/nonces.ts';
import { MalformedInputError, RefusedError, StateConflictError } from '../../errors.ts';
import { PgMintTransactions, type NonceRow } from './mint-transactions.ts';
import type { NonceStatus } from '../../musig/nonce-port.ts';

/** A nonce issued (held back: `issue`); bench/pg-statements.ts sends it too. */
export const NONCE_ISSUE_SQL = 'INSERT INTO nonces (id, context, pubnonce, epoch, sealed) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING';

/** A nonce consumed (`take`, `burn`); bench/pg-statements.ts sends it too. `AND NOT consumed`: even a second taker that skipped the row lock changes nothing. */
export const NONCE_CONSUME_SQL = 'UPDATE nonces SET consumed = true, sealed = NULL, context = NULL, pubnonce = NULL WHERE id = $1 AND NOT consumed';

/** How many values of the nonce counter a process takes from its sequence at once (one round trip). */
const COUNTERS_AT_ONCE = 32;

export abstract class PgMintNonces extends PgMintTransactions {
  /**
   * Values of the nonce counter taken from the sequence and not yet used: each is used once
   * (popped before use), whether its transaction commits or not — as nextval's are.
   */
  private counters: number[] = [];
  private async nextCounter(): Promise<number> {
    if (this.counters.length === 0) {
      const rows = (await this.q<{ n: string }>("SELECT nextval('nonce_counter') AS n FROM generate_series(1, $1)", [COUNTERS_AT_ONCE])).rows;
      this.counters = rows.map((r) => Number(r.n)).sort((a, b) => a - b);
    }
    return this.counters.shift()!;
  }

  /** The nonce row `id`, locked for this transaction (read once per transaction). */
  private async lockedRow(id: string): Promise<NonceRow | undefined> {
    const held = this.lockedNonces.get(id);
    if (held) return held;
    const row = (await this.q<NonceRow>('SELECT context, epoch, sealed, consumed FROM nonces WHERE id = $1 FOR UPDATE', [id])).rows[0];
    if (row) this.lockedNonces.set(id, row);
    return row;
  }

  private seal(id: string, context: string, secret: Uint8Array): Buffer {
    return this.keySeal().seal('nonce', [id, this.epoch, context], secret);
  }

  /**
   * The secret nonce sealed for `id` in `context`, or E_STATE_CORRUPT (exit 3) when it does not
   * open: a writer of the database swapped sealed secrets between rows or relabelled a
   * nonce's context (the associated data names id, epoch and context). Thrown inside the
   * step's transaction, which rolls back: nothing written, the ledger's claim discarded.
   */
  private open(id: string, context: string, sealed: Buffer): Uint8Array {
    const plain = this.keySeal().open('nonce', [id, this.epoch, context], sealed);
    if (plain !== undefined) return new Uint8Array(plain);
    throw new MalformedInputError('E_STATE_CORRUPT', `the mint's nonce ${id.slice(0, 16)}… in the store ${this.dir} does not open under this epoch's key for ${context}: its row was altered (a sealed secret moved from another row, or its context changed); nothing was signed or written — find out who writes the mint's store (docs/postgres.md, "The ledger rule"); its user abandons ("credit abandon")`, { nonce: id });
  }

  // ——— nonces: sealed under this process's epoch key ———

  async issue(context: string, generate: (counter: number) => { secnonce: Uint8Array; pubnonce: Uint8Array }): Promise<{ pubnonce: Uint8Array }> {
    await this.begin();
    this.nonceTouched = true;
    const counter = await this.nextCounter();
    const { secnonce, pubnonce } = generate(counter);
    const id = nonceKey(pubnonce);
    const sealed = this.seal(id, context, secnonce);
    secnonce.fill(0);
    this.lockedNonces.delete(id);
    // Held back to the transaction's next statement or its tick (pg/mint-transactions.ts
    // `defer`); the public nonce leaves the process only after COMMIT, so a repeat refuses it
    // there — after the ledger settled, at the tick: so the refusal takes the id out of the
    // ledger again (its row is an earlier issuance's, perhaps opened already: it must not
    // become openable by this one).
    this.defer(NONCE_ISSUE_SQL, [id, context, toHex(pubnonce), this.epoch, sealed], `nonce:${id}`, false, (rows) => {
      if (rows === 1) return;
      this.ledger?.refused(id);
      throw new StateConflictError('E_NONCE_REPEATED', 'the generated public nonce was issued before: refusing to hand it out twice');
    });
    this.ledger!.issued(id);
    return { pubnonce };
  }

  /** The live nonce row, locked; every refusal before anything is written. */
  private async live(pubnonce: Uint8Array, expectedContext: string) {
    await this.begin();
    const id = nonceKey(pubnonce);
    const n = await this.lockedRow(id);
    const short = `${toHex(pubnonce).slice(0, 16)}…`;
    if (n?.consumed) throw new StateConflictError('E_NONCE_USED', `the mint's nonce ${short} has already been used; request a fresh nonce`);
    if (!n || n.sealed === null) throw new StateConflictError('E_NONCE_UNKNOWN', `the mint's nonce ${short} was never issued by this store (or the store was restored from an older copy); abandon the request ("credit abandon") for a fresh nonce`);
    if (n.context !== expectedContext) {
      throw new RefusedError('E_NONCE_MISBOUND', `the mint's nonce ${short} was issued for ${n.context}, not ${expectedContext}; refusing to sign with it (it stays unused for its own context)`);
    }
    return { id, short, n: n as { context: string; epoch: string; sealed: Buffer; consumed: false } };
  }

  private async consume(id: string, short: string): Promise<void> {
    this.lockedNonces.delete(id);
    const r = await this.q(NONCE_CONSUME_SQL, [id]);
    if (r.rowCount !== 1) throw new StateConflictError('E_NONCE_USED', `the mint's nonce ${short} has already been used; request a fresh nonce`);
  }

  async take(pubnonce: Uint8Array, expectedContext: string, session?: Uint8Array): Promise<Uint8Array> {
    await this.begin();
    this.nonceTouched = true;
    const { id, short, n } = await this.live(pubnonce, expectedContext);
    if (n.epoch !== this.epoch) {
      const alive = (await this.q<{ pid: number; host: string }>('SELECT pid, host FROM epochs WHERE epoch = $1', [n.epoch])).rows[0];
      const who = alive ? `, pid ${alive.pid} on ${alive.host}` : ', a process that is gone';
      // Not burned: the process that issued it may still serve it.
      throw new StateConflictError(
        'E_NONCE_ELSEWHERE',
        `the mint's nonce ${short} was issued by another mint process (epoch ${n.epoch.slice(0, 8)}…${who}); only it can sign with it: send the contract's requests there, or, if it is gone, abandon the request ("credit abandon") for a fresh nonce`,
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

  async status(pubnonce: Uint8Array, context?: string): Promise<NonceStatus> {
    // Inside a step (a request's transaction: `take` or `burn` usually follows) the row is read
    // locked, as `live` reads it, and kept for it; outside one (or in a view), a plain read.
    const id = nonceKey(pubnonce);
    const n = this.inTransaction && !this.viewOnly ? await this.lockedRow(id) : (await this.q<NonceRow>('SELECT context, epoch, sealed, consumed FROM nonces WHERE id = $1', [id])).rows[0];
    if (!n) return 'unknown';
    if (n.consumed) return 'consumed';
    // As `live` (take, burn) sees it: a row without its secret is one this store never issued.
    if (n.sealed === null) return 'unknown';
    return context !== undefined && n.context !== context ? 'misbound' : 'unused';
  }
}
