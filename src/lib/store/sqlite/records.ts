/**
 * Every role's records but the mint's, as JSON documents in one table (schema.ts `records`):
 * one row per (kind, id) — a credit user's contract (`credit-user`, the device's channel
 * inside it), a BOLT 2/3 party's channel (`bolt3`), a statechain owner's coin and the
 * documents around it (`statechain`: `coin-<coin>`, `joint-…`, `deposit-…`, `receive-…`), a statechain
 * operator's coin and the offers it made (`statechain-operator`, `statechain-offer`), and a
 * PostgreSQL operator host's rollback witness (`statechain-witness`, pg/witness.ts), a
 * watcher's view of the chain and its bids (`watch`: `chain`, `exit-<contract>`; src/topics/watch/),
 * and an HTLC's or a PTLC's payer's funded outputs for a watcher (`htlc-payer`, by `<txid>:<vout>`;
 * src/topics/htlc/watch-add.ts).
 *
 * A record is read and written inside its role's step (database.ts `step`): read, check,
 * write, all in one transaction, so a concurrent step on the same database waits and never
 * loses an update. A kind with secret fields (the operator's share) keeps them sealed under
 * its owner's key (seal.ts); a view without the key reads the record with them sealed.
 *
 * The JSON is stored as the text given (key order kept): a record answered again on a replay
 * is byte-identical.
 */
import { MalformedInputError, OffchainError, RefusedError } from '../../errors.ts';
import { hasPlainSecret, hasSealedSecret, openFields, sealFields, type Sealer, type SecretField } from '../seal.ts';
import type { StateDb } from './database.ts';
import type { Due } from '../../watch/ports.ts';
import type BetterSqlite3 from 'better-sqlite3';
import { preparedOnce } from './prepared.ts';

export type RecordKind = 'credit-user' | 'bolt3' | 'statechain' | 'statechain-operator' | 'statechain-offer' | 'statechain-witness' | 'watch' | 'htlc-payer';

/** The records table's statements (prepared once per connection: ./prepared.ts). */
const prepare = (sql: BetterSqlite3.Database) => ({
  get: sql.prepare<[string, string], { body: string }>('SELECT body FROM records WHERE kind = ? AND id = ?'),
  // The one writer of a record's row (a credit user's watch_height is SQLite's, from the body: schema.ts, version 3).
  put: sql.prepare<[string, string, string]>('INSERT INTO records (kind, id, body) VALUES (?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body'),
  remove: sql.prepare<[string, string]>('DELETE FROM records WHERE kind = ? AND id = ?'),
  list: sql.prepare<[string], { id: string; body: string }>('SELECT id, body FROM records WHERE kind = ? ORDER BY id'),
  ids: sql.prepare<[string], { id: string }>('SELECT id FROM records WHERE kind = ? ORDER BY id'),
});

/** A watcher's selection of the credit user's contracts by watch height (`due`). */
const prepareDue = (sql: BetterSqlite3.Database) => ({
  // Through credit_user_watch_height, unnamed (sqlite/mint.ts says why).
  due: sql.prepare<[number], { id: string; body: string }>("SELECT id, body FROM records WHERE kind = 'credit-user' AND watch_height <= ?"),
  next: sql.prepare<[number], { h: number | null }>("SELECT MIN(watch_height) AS h FROM records WHERE kind = 'credit-user' AND watch_height > ?"),
  count: sql.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM records WHERE kind = 'credit-user'"),
});

export class Records<R> {
  private readonly q;

  constructor(
    readonly db: StateDb,
    readonly kind: RecordKind,
    private readonly secrets: { fields: readonly SecretField[]; sealer?: Sealer } = { fields: [] },
  ) {
    this.q = preparedOnce(db.sql, prepare);
  }

  get(id: string): R | undefined {
    const row = this.q.get.get(this.kind, id);
    return row === undefined ? undefined : this.decode(id, row.body);
  }

  /** Inside the caller's step: written at its COMMIT. */
  put(id: string, record: R): void {
    if (this.secrets.fields.length > 0) {
      if (this.secrets.sealer) record = sealFields(record, id, this.secrets.fields, this.secrets.sealer);
      else if (hasPlainSecret(record, this.secrets.fields)) throw new OffchainError('E_INTERNAL', `refusing to store a ${this.kind} record's secret without its key`);
    }
    const text = JSON.stringify(record, refuseUnencoded);
    if (text === undefined) throw new OffchainError('E_STATE_UNSERIALISABLE', `refusing to store ${this.kind} ${id}: it is not JSON`);
    this.q.put.run(this.kind, id, text);
  }

  remove(id: string): void {
    this.q.remove.run(this.kind, id);
  }

  list(): { id: string; record: R }[] {
    return this.q.list.all(this.kind).map((row) => ({ id: row.id, record: this.decode(row.id, row.body) }));
  }

  ids(): string[] {
    return this.q.ids.all(this.kind).map((r) => r.id);
  }

  /**
   * A watcher's round: the credit user's contracts whose watch height (src/lib/watch/ports.ts) is
   * at most `upTo`, by id — through their index, the others unread — how many others there are,
   * and the lowest height among them.
   */
  due(upTo: number): Due<{ id: string; record: R }> {
    if (this.kind !== 'credit-user') throw new OffchainError('E_INTERNAL', `a watcher selects ${this.kind} records by no height`);
    const q = preparedOnce(this.db.sql, prepareDue);
    const rows = q.due.all(upTo).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const next = q.next.get(upTo)!.h;
    return { records: rows.map((row) => ({ id: row.id, record: this.decode(row.id, row.body) })), others: q.count.get()!.n - rows.length, ...(next !== null ? { next } : {}) };
  }

  private decode(id: string, body: string): R {
    let record: R;
    try {
      record = JSON.parse(body) as R;
    } catch {
      throw new MalformedInputError('E_STATE_CORRUPT', `the ${this.kind} record ${id} in ${this.db.path} is not JSON; restore the database from the copy you trust`, { id });
    }
    return this.secrets.sealer && this.secrets.fields.length > 0 ? openFields(record, id, this.secrets.fields, this.secrets.sealer, this.db.path) : record;
  }
}

function refuseUnencoded(key: string, v: unknown): unknown {
  if (v instanceof Uint8Array || typeof v === 'bigint') {
    throw new OffchainError('E_STATE_UNSERIALISABLE', `state field ${JSON.stringify(key)} must be encoded (hex / decimal string) before it is stored`);
  }
  return v;
}

/**
 * A role's contracts (the credit user's; the device's channel rides in them), keyed by
 * contract id: the record port its protocol declares (credit/ports.ts `UserRecordPort`), on
 * `records`. The protocol runs each of its steps in `exclusive(step)`, one transaction: the
 * step's reads, its nonces and its writes committed together before anything it returns
 * leaves.
 */
export class ContractBook<R extends { contract_id: string }> {
  private opened: Records<R> | undefined;

  /** `open(create)`: the database, made by the first step that writes (a step refused before it leaves nothing). */
  constructor(
    private readonly open: (create: boolean) => Promise<StateDb | undefined>,
    private readonly kind: RecordKind,
    /** Where it lives, for messages. */
    readonly dir: string,
  ) {}

  private async records(create: boolean): Promise<Records<R> | undefined> {
    if (this.opened === undefined) {
      const db = await this.open(create);
      if (db !== undefined) this.opened = new Records<R>(db, this.kind);
    }
    return this.opened;
  }

  /** Run `step` as one transaction of the state database (database.ts `step`). */
  async exclusive<T>(step: () => Promise<T>): Promise<T> {
    return (await this.records(true))!.db.step(step);
  }

  async get(id: string): Promise<R | undefined> {
    return (await this.records(false))?.get(id);
  }

  async put(record: R): Promise<void> {
    const r = (await this.records(true))!;
    await r.db.step(() => r.put(record.contract_id, record));
  }

  async remove(id: string): Promise<void> {
    const r = await this.records(false);
    if (r) await r.db.step(() => r.remove(id));
  }

  async list(): Promise<R[]> {
    return ((await this.records(false))?.list() ?? []).map((r) => r.record);
  }

  /** A watcher's round (Records `due`): the contracts whose watch height is at most `upTo`, how many others there are, the lowest height among them. */
  async due(upTo: number): Promise<Due<R>> {
    const due = (await this.records(false))?.due(upTo);
    return { ...due, records: due?.records.map((r) => r.record) ?? [], others: due?.others ?? 0 };
  }

  /** Whether it holds no record (a step on a directory of another role's is refused: E_NO_STATE). */
  async isEmpty(): Promise<boolean> {
    return ((await this.records(false))?.ids().length ?? 0) === 0;
  }
}

/** Who sealed a directory's documents, for telling a wrong key from an altered record: the owner's seal of nothing (synthetic iv: the same for the same key), no secret in it. */
function ownerCheck(sealer: Sealer, kind: RecordKind): string {
  return sealer.sealHex('share', ['owner-check', kind], new Uint8Array(0));
}

/** The opened database: its documents, and the statement that keeps the owner check (meta `owner_check:<kind>`), prepared once. */
type OpenedDocuments = { db: StateDb; records: Records<unknown>; keepOwnerCheck: BetterSqlite3.Statement<[string, string]> };

/**
 * The statechain owner's secrets in its documents: its share (`share_secret`: coin-, deposit-,
 * receive-, joint- and a sent coin's record), and a pair's part before the handoff
 * (`part_secret`), sealed under the owner's key, labelled by the document's name.
 */
export const OWNER_SECRETS: readonly SecretField[] = [
  { purpose: 'share', path: [], field: 'share_secret', encoding: 'hex' },
  { purpose: 'share', path: [], field: 'part_secret', encoding: 'hex' },
];

/**
 * Named JSON documents of one kind (the statechain owner's coins and the documents around
 * them: `coin-<coin>`, `joint-<coin>`, `deposit-<share>`, `receive-<coin>`, `part-<coin>`),
 * each write one step of its own — or part of the caller's, inside one (database.ts `step`).
 */
export class Documents {
  private opened: OpenedDocuments | undefined;
  private sealing: Promise<Sealer> | undefined;
  private checked: { sealer: Sealer; value: string } | undefined;

  /**
   * `open(create)`: the database, made by the first document written (reading creates nothing).
   * `secrets`: the fields of these documents that hold a secret (the owner's share), sealed under
   * the key `sealer` gives — asked only when a document to write holds one, or one read holds one
   * sealed (a read of a document without, a backup printed, needs no key).
   */
  constructor(
    private readonly open: (create: boolean) => Promise<StateDb | undefined>,
    private readonly kind: RecordKind,
    /** Where it lives, for messages. */
    readonly dir: string,
    private readonly secrets?: { fields: readonly SecretField[]; sealer: () => Promise<Sealer> },
  ) {}

  private async records(create: boolean): Promise<OpenedDocuments | undefined> {
    if (this.opened === undefined) {
      const db = await this.open(create);
      if (db !== undefined) {
        const keepOwnerCheck = db.sql.prepare<[string, string]>('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING');
        this.opened = { db, records: new Records<unknown>(db, this.kind), keepOwnerCheck };
      }
    }
    return this.opened;
  }

  /** The owner check of `sealer`, computed once (a seal of nothing: the same for the same key). */
  private ownerCheckOf(sealer: Sealer): string {
    if (this.checked?.sealer !== sealer) this.checked = { sealer, value: ownerCheck(sealer, this.kind) };
    return this.checked.value;
  }

  private sealer(): Promise<Sealer> {
    this.sealing ??= this.secrets!.sealer();
    return this.sealing;
  }

  /** A document as stored, its secrets opened (E_STATE_CORRUPT when one does not open under the owner's key). */
  private async openSecrets(opened: OpenedDocuments, name: string, stored: unknown): Promise<unknown> {
    if (!this.secrets || !hasSealedSecret(stored, this.secrets.fields)) return stored;
    return this.openWith(opened, name, stored, await this.sealer());
  }

  /**
   * `stored` with its secrets opened under `sealer`. One that does not open: E_KEY_MISMATCH
   * (exit 4) when the directory's owner check (meta `owner_check:<kind>`, written with the first
   * secret sealed) says the documents are another key's — the wrong --key, the common case —
   * otherwise E_STATE_CORRUPT (exit 3): the record was altered.
   */
  private openWith(opened: OpenedDocuments, name: string, stored: unknown, sealer: Sealer): unknown {
    try {
      return openFields(stored, name, this.secrets!.fields, sealer, this.dir);
    } catch (e) {
      const kept = opened.db.meta(`owner_check:${this.kind}`);
      if (kept !== undefined && kept !== this.ownerCheckOf(sealer)) {
        throw new RefusedError('E_KEY_MISMATCH', `the ${this.kind} documents in ${this.dir} are sealed under another key: this key is not their owner's — run the step with the key that made them`);
      }
      throw e;
    }
  }

  /** A document to store, its secrets sealed (the sealer resolved before any transaction begins), the directory's owner check kept beside them. */
  private sealed(opened: OpenedDocuments, name: string, value: unknown, sealer: Sealer | undefined): unknown {
    if (!this.secrets || !hasPlainSecret(value, this.secrets.fields)) return value;
    if (!sealer) throw new OffchainError('E_INTERNAL', `refusing to store ${this.kind} ${name}'s secret without its owner's key`);
    opened.keepOwnerCheck.run(`owner_check:${this.kind}`, this.ownerCheckOf(sealer));
    return sealFields(value, name, this.secrets.fields, sealer);
  }

  async read<T = unknown>(name: string): Promise<T | undefined> {
    const opened = await this.records(false);
    const stored = opened?.records.get(checkName(name));
    return (stored === undefined ? undefined : await this.openSecrets(opened!, name, stored)) as T | undefined;
  }

  async write(name: string, value: unknown): Promise<void> {
    checkName(name);
    const sealer = this.secrets && hasPlainSecret(value, this.secrets.fields) ? await this.sealer() : undefined;
    const opened = (await this.records(true))!;
    const { records } = opened;
    await records.db.step(() => records.put(name, this.sealed(opened, name, value, sealer)));
  }

  /**
   * Read, transform, write, as one step: returns what was written. `fn` may run steps of its
   * own (nonces taken): they are part of this one. Where there is no database yet one is made
   * for the step (and taken back when it commits nothing: database.ts `takeBack`), so that even
   * the first writes of a directory are one step each, never two racing updates lost. The
   * owner's key, where these documents hold secrets, is asked before the step begins.
   */
  async update<T>(name: string, fn: (current: T | undefined) => T | Promise<T>): Promise<T> {
    checkName(name);
    const sealer = this.secrets ? await this.sealer() : undefined;
    const opened = (await this.records(true))!;
    const { records } = opened;
    return records.db.step(async () => {
      const stored = records.get(name);
      const current = (stored === undefined ? undefined : this.secrets && sealer && hasSealedSecret(stored, this.secrets.fields) ? this.openWith(opened, name, stored, sealer) : stored) as T | undefined;
      const next = await fn(current);
      records.put(name, this.sealed(opened, name, next, sealer));
      return next;
    });
  }

  async remove(name: string): Promise<void> {
    const r = (await this.records(false))?.records;
    if (r) await r.db.step(() => r.remove(checkName(name)));
  }

  /** Names of the stored documents, sorted. */
  async list(): Promise<string[]> {
    return (await this.records(false))?.records.ids() ?? [];
  }
}

/** Lower-case names, no path separators (as the files they replace had them). */
const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,199}$/;

function checkName(name: string): string {
  if (!NAME_RE.test(name)) throw new OffchainError('E_STATE_NAME', `state document name ${JSON.stringify(name)} must match ${NAME_RE.source}`);
  return name;
}
