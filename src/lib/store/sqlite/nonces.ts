/**
 * SINGLE-USE SECRET NONCES, every signer's (the mint, the gateway, the credit user, `musig`,
 * the statechain owner, `ptlc presign`), as rows of one table (schema.ts `nonces`).
 * BIP-327: two partial signatures with one secret nonce give away the secret key.
 *
 * - **Issue**: the counter (meta `nonce_counter`, in deterministic test mode part of the
 *   randomness label) is ticked, the nonce drawn by the caller's NonceGen, and its row
 *   inserted — the secret sealed under the signer's key (seal.ts), with its id and context as
 *   the label — in the caller's step: the public nonce leaves only after that step's COMMIT.
 *   A public nonce issued before (unused or consumed: a consumed row keeps its id) holds the
 *   primary key: E_NONCE_REPEATED, never a second row.
 * - **Take**: one conditional `UPDATE … SET consumed = 1, sealed = NULL WHERE id = ? AND
 *   consumed = 0 AND context = ?` (Nutshell's proofs_used pattern): of any number of steps
 *   racing for a nonce, across processes, exactly one changes its row; the others find it
 *   consumed. The secret is opened only by the step whose UPDATE changed the row (read in
 *   its transaction, which BEGIN IMMEDIATE keeps every other writer out of), and the
 *   signature made with it leaves only after that step's COMMIT. A step that fails after its take rolls back: the nonce is
 *   unused again — and nothing signed with it left the process.
 * - Refusals, before anything is written: never issued here → E_NONCE_UNKNOWN (exit 5);
 *   consumed → E_NONCE_USED (exit 5); issued for another context → E_NONCE_MISBOUND (exit 4),
 *   **without consuming it** (nothing is signed on that path, and burning it would let anyone
 *   who saw the public nonce kill an honest session); a secret that does not open under this
 *   signer's key (another key's nonce, or an altered row) → E_STATE_CORRUPT (exit 3).
 * - A consumed row keeps only its id: `secure_delete` zeroes the freed secret in the file,
 *   and the WAL is checkpointed and truncated at close.
 *
 * The id is the first 16 bytes of SHA-256 of the public nonce's hex text (as the mint and
 * PostgreSQL have always keyed it), 32 hex digits.
 */
import { createHash } from 'node:crypto';
import { toHex } from '../../bytes.ts';
import { MalformedInputError, OffchainError, RefusedError, StateConflictError } from '../../errors.ts';
import type { NoncePort, NonceStatus } from '../../musig/nonce-port.ts';
import type { Sealer } from '../seal.ts';
import { errnoCode } from '../write-errors.ts';
import type { StateDb } from './database.ts';
import { preparedOnce } from './prepared.ts';
import type BetterSqlite3 from 'better-sqlite3';

/** BIP-327 pubnonce: two compressed points. */
const PUBNONCE_LENGTH = 66;
const MAX_CONTEXT_LENGTH = 1024;

/** A nonce's row id: SHA-256 of its public nonce's hex text, 16 bytes, hex. */
export function nonceId(pubnonce: Uint8Array | string): string {
  const hex = typeof pubnonce === 'string' ? pubnonce : toHex(pubnonce);
  return createHash('sha256').update(hex).digest('hex').slice(0, 32);
}

/** The first byte of a secret kept in the clear by a store before sealing (an imported unused nonce): sealed at its signer's first use, or read once when taken. */
export const CLEAR_SECRET = 0x00;

/** The meta key the import of the older file layout leaves while nonces it took are in the clear. */
export const CLEAR_NONCES_KEY = 'clear_nonces';

type Row = { context: string | null; sealed: Buffer | null; consumed: number };

export class SqliteNonces implements NoncePort {
  private opened: { db: StateDb; q: ReturnType<typeof statements> } | undefined;

  /**
   * `db`: the database, or how to open it — created only when a nonce is issued (a take, a
   * burn or a look on a directory without one finds nothing, and creates nothing).
   */
  constructor(
    private readonly db: StateDb | ((create: boolean) => Promise<StateDb | undefined>),
    /** The signer's seal; a view (status only) has none. */
    private readonly sealer: Sealer | undefined,
    /** Whose nonces, for messages: "the mint's nonce", "nonce". */
    private readonly whose = 'nonce',
    /** The signer's compressed public key: its nonces an older store kept in the clear are sealed at its first use (`sealImported`). */
    private readonly signer?: Uint8Array,
  ) {}

  private async use(create: boolean): Promise<{ db: StateDb; q: ReturnType<typeof statements> } | undefined> {
    if (this.opened === undefined) {
      const db = typeof this.db === 'function' ? await this.db(create) : this.db;
      if (db !== undefined) this.opened = { db, q: preparedOnce(db.sql, statements) };
    }
    if (this.opened !== undefined && !this.importSealed) await this.sealImported(this.opened.db);
    return this.opened;
  }

  /** Set once the sealing of imported clear nonces is known committed (see `sealImported`). */
  private importSealed = false;

  /**
   * The unused nonces a store of the older file layout kept in the clear (migrate-v0.ts marks
   * them, meta `clear_nonces`), sealed under this signer's key at its first use: a BIP-327
   * secret nonce ends with its signer's public key (k1 ‖ k2 ‖ pk), so each signer takes only its
   * own. The mark goes with the last of them. Run outside any transaction it commits on its own
   * and is done for the process; inside a step or a batch — which may yet be rolled back, the
   * sealing with it — it is tried again at the next use until one commits (a meta lookup).
   * The mint's store runs it at its open, before its first batch (`prepare`).
   */
  private async sealImported(db: StateDb): Promise<void> {
    const alone = !db.sql.inTransaction;
    if (!this.sealer || !this.signer || db.meta(CLEAR_NONCES_KEY) === undefined) {
      if (alone || !this.sealer || !this.signer) this.importSealed = true;
      return;
    }
    const sealer = this.sealer;
    const signer = Buffer.from(this.signer);
    await db.step(() => {
      const rows = db.sql.prepare<[], { id: string; context: string; sealed: Buffer }>('SELECT id, context, sealed FROM nonces WHERE consumed = 0 AND substr(sealed, 1, 1) = x\'00\'').all();
      let left = 0;
      const reseal = db.sql.prepare<[Buffer, string]>('UPDATE nonces SET sealed = ? WHERE id = ? AND consumed = 0');
      for (const r of rows) {
        const secret = r.sealed.subarray(1);
        if (secret.length === 97 && secret.subarray(64).equals(signer)) reseal.run(sealer.seal('nonce', [r.id, r.context], secret), r.id);
        else left++;
      }
      if (left === 0) db.dropMeta(CLEAR_NONCES_KEY);
    });
    if (alone) this.importSealed = true;
  }

  /** Open the store now and seal what an import left in the clear, in a transaction of its own (a long-running signer, before its first batch). */
  async prepare(): Promise<void> {
    await this.use(false);
  }

  /** Where it lives, for messages. */
  private get where(): string {
    return this.opened?.db.dir ?? 'this state directory';
  }

  async issue(context: string, generate: (counter: number) => { secnonce: Uint8Array; pubnonce: Uint8Array }): Promise<{ pubnonce: Uint8Array }> {
    checkContext(context);
    const { db, q } = (await this.use(true))!;
    return db.step(() => {
      const counter = Number(q.counter.get()?.value ?? 0) + 1;
      q.setCounter.run(String(counter));
      const { secnonce, pubnonce } = generate(counter);
      try {
        if (!(pubnonce instanceof Uint8Array) || pubnonce.length !== PUBNONCE_LENGTH) {
          throw new OffchainError('E_NONCE_GENERATOR', `nonce generator returned a ${pubnonce?.length}-byte pubnonce, expected ${PUBNONCE_LENGTH}`);
        }
        if (!(secnonce instanceof Uint8Array) || secnonce.length === 0) throw new OffchainError('E_NONCE_GENERATOR', 'nonce generator returned no secnonce');
        const hex = toHex(pubnonce);
        const id = nonceId(hex);
        try {
          q.insert.run(id, context, hex, this.keyed().seal('nonce', [id, context], secnonce));
        } catch (e) {
          if (errnoCode(e) !== 'SQLITE_CONSTRAINT_PRIMARYKEY') throw e;
          // The same public nonce twice means the same secret twice: a replayed test seed or a reset store.
          throw new StateConflictError('E_NONCE_REPEATED', `the generated public nonce ${hex.slice(0, 16)}… was issued before (counter ${counter}): refusing to hand it out twice — was the state directory reset?`, { id });
        }
        return { pubnonce: Uint8Array.from(pubnonce) };
      } finally {
        if (secnonce instanceof Uint8Array) secnonce.fill(0);
      }
    });
  }

  async take(pubnonce: Uint8Array, expectedContext: string): Promise<Uint8Array> {
    const { db, q } = await this.existing(pubnonce);
    return db.step(() => {
      const { id, sealed } = this.unused(q, pubnonce, expectedContext);
      if (q.consume.run(id, expectedContext).changes !== 1) throw this.used(id);
      const secret = this.openSecret(id, expectedContext, sealed);
      if (secret === undefined) {
        throw new MalformedInputError('E_STATE_CORRUPT', `the ${this.whose} ${id} in ${db.dir} does not open under this key for ${expectedContext}: it was issued for another key, or its row was altered; nothing was signed`, { id });
      }
      return secret;
    });
  }

  async burn(pubnonce: Uint8Array, expectedContext: string): Promise<void> {
    const { db, q } = await this.existing(pubnonce);
    await db.step(() => {
      const { id } = this.unused(q, pubnonce, expectedContext);
      if (q.consume.run(id, expectedContext).changes !== 1) throw this.used(id);
    });
  }

  async status(pubnonce: Uint8Array, context?: string): Promise<NonceStatus> {
    const t = await this.use(false);
    const row = t?.q.get.get(nonceId(pubnonce));
    if (!row) return 'unknown';
    if (row.consumed) return 'consumed';
    return context !== undefined && row.context !== context ? 'misbound' : 'unused';
  }

  /** The database a take or burn needs: none means no nonce was ever issued here (E_NONCE_UNKNOWN, nothing created). */
  private async existing(pubnonce: Uint8Array): Promise<{ db: StateDb; q: ReturnType<typeof statements> }> {
    const t = await this.use(false);
    if (t === undefined) throw this.unknown(toHex(pubnonce));
    return t;
  }

  private unknown(hex: string): StateConflictError {
    return new StateConflictError('E_NONCE_UNKNOWN', `${this.whose} ${hex.slice(0, 16)}… was never issued by this store (or the store was replaced); request a fresh nonce`, { id: nonceId(hex) });
  }

  /** The secret in a row's `sealed`: sealed under this signer's key, or kept in the clear by the store this one imported. */
  private openSecret(id: string, context: string, sealed: Buffer): Uint8Array | undefined {
    if (sealed.length > 1 && sealed[0] === CLEAR_SECRET) return new Uint8Array(sealed.subarray(1));
    const plain = this.keyed().open('nonce', [id, context], sealed);
    return plain && new Uint8Array(plain);
  }

  /** The row of an unused nonce issued for `expectedContext`; every refusal before anything is written. */
  private unused(q: ReturnType<typeof statements>, pubnonce: Uint8Array, expectedContext: string): { id: string; sealed: Buffer } {
    const hex = toHex(pubnonce);
    const id = nonceId(hex);
    const row = q.get.get(id);
    if (!row) throw this.unknown(hex);
    if (row.consumed) throw this.used(id);
    if (row.context !== expectedContext) {
      throw new RefusedError('E_NONCE_MISBOUND', `${this.whose} ${hex.slice(0, 16)}… was issued for ${row.context}, not ${expectedContext}; refusing to sign with it (it stays unused for its own context)`, {
        id,
        issuedFor: row.context,
        requested: expectedContext,
      });
    }
    return { id, sealed: row.sealed! };
  }

  private keyed(): Sealer {
    if (!this.sealer) throw new OffchainError('E_INTERNAL', 'a view of the nonces holds no key: it issues and takes none');
    return this.sealer;
  }

  private used(id: string): StateConflictError {
    return new StateConflictError('E_NONCE_USED', `${this.whose} ${id} has already been used; request a fresh nonce`, { id });
  }
}

/** The nonces' statements (prepared once per connection: ./prepared.ts). */
function statements(sql: BetterSqlite3.Database) {
  return {
    counter: sql.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'nonce_counter'"),
    setCounter: sql.prepare<[string]>("INSERT INTO meta (key, value) VALUES ('nonce_counter', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
    get: sql.prepare<[string], Row>('SELECT context, sealed, consumed FROM nonces WHERE id = ?'),
    insert: sql.prepare<[string, string, string, Buffer]>('INSERT INTO nonces (id, context, pubnonce, sealed) VALUES (?, ?, ?, ?)'),
    // The gate: of every step racing for a nonce, in any process, one changes its row (SQLite's
    // RETURNING gives the row after the UPDATE, so the sealed secret is read in the same
    // transaction just before it; BEGIN IMMEDIATE holds every other writer in between).
    consume: sql.prepare<[string, string]>('UPDATE nonces SET consumed = 1, sealed = NULL, context = NULL, pubnonce = NULL WHERE id = ? AND consumed = 0 AND context = ?'),
  };
}

function checkContext(context: string): void {
  if (typeof context !== 'string' || context.length === 0 || context.length > MAX_CONTEXT_LENGTH) {
    throw new OffchainError('E_NONCE_CONTEXT', `nonce context must be a non-empty string of at most ${MAX_CONTEXT_LENGTH} characters`);
  }
}
