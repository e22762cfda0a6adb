/**
 * The mint's durable state — its contracts and its single-use secret nonces — as a
 * snapshot plus an append-only journal, so a mint serving a stream of payments makes
 * each batch durable with ONE append and ONE fsync (group commit) instead of several
 * fsynced files per payment.
 *
 * Rules that keep it safe:
 * - Every effect of a protocol step (nonce consumed, state stored, next nonce issued) is
 *   staged in memory and reaches disk in the same journal append, so after a crash they
 *   are all there or none is.
 * - Nothing derived from a step (receipt, signature, response) may leave the process
 *   before `commit()` has resolved: a nonce consumed only in memory is as good as unused
 *   on disk, which is safe exactly because the signature made with it was never released.
 * - A nonce is marked consumed in memory the moment it is taken, so no two steps of one
 *   batch can use it; the journal replays in order, so a consumed nonce never revives.
 * - Only one process writes: the owner holds the directory lock (RecordBook.exclusive or
 *   withLock) for as long as the store is open.
 *
 * Secret nonces are in the journal until it is compacted (on `close()`, and whenever it
 * grows past a threshold): the snapshot keeps only unused ones, and the old journal is
 * overwritten with zeros before deletion. The files are 0600. Like the per-file nonce
 * store, never back this directory up: restoring an old copy can revive consumed nonces.
 */
import { createHash } from 'node:crypto';
import { open, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { toHex } from '../bytes.ts';
import { MalformedInputError, RefusedError, StateConflictError } from '../errors.ts';
import { ensureDir, shredFile, syncDir, writeJsonAtomic } from './atomic.ts';

type NonceEntry = { context: string; pubnonce: string; secnonce: string };

type Op =
  | { op: 'put'; record: { contract_id: string } & Record<string, unknown> }
  | { op: 'issue'; id: string; context: string; pubnonce: string; secnonce: string; counter: number }
  | { op: 'take'; id: string };

type Snapshot = {
  generation: number;
  counter: number;
  records: Record<string, { contract_id: string } & Record<string, unknown>>;
  /** Unused nonces, with their secrets. */
  nonces: Record<string, NonceEntry>;
  /** Ids of consumed nonces (no secret, no context): enough to say "already used". */
  consumed: string[];
  docs: Record<string, unknown>;
};

const EMPTY: Snapshot = { generation: 0, counter: 0, records: {}, nonces: {}, consumed: [], docs: {} };

const COMPACT_AFTER_OPS = 20_000;

function nonceKey(pubnonce: Uint8Array | string): string {
  const hex = typeof pubnonce === 'string' ? pubnonce : toHex(pubnonce);
  return createHash('sha256').update(hex).digest('hex').slice(0, 32);
}

export class MintStore<R extends { contract_id: string }> {
  readonly dir: string;
  private snap: Snapshot = structuredClone(EMPTY);
  private consumed = new Set<string>();
  private staged: Op[] = [];
  private journalOps = 0;

  private constructor(dir: string) {
    this.dir = resolve(dir);
  }

  /** Load the snapshot and replay the journal. The caller must hold the directory lock. */
  static async open<R extends { contract_id: string }>(dir: string): Promise<MintStore<R>> {
    const store = new MintStore<R>(dir);
    await ensureDir(store.dir);
    await store.load();
    return store;
  }

  private journalPath(generation: number): string {
    return join(this.dir, `journal-${generation}.jsonl`);
  }

  private async load(): Promise<void> {
    const text = await readFile(join(this.dir, 'snapshot.json'), 'utf8').catch((e) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
    if (text !== undefined) {
      try {
        this.snap = JSON.parse(text) as Snapshot;
        this.consumed = new Set(this.snap.consumed);
      } catch {
        throw new MalformedInputError('E_STATE_CORRUPT', `${join(this.dir, 'snapshot.json')} is not valid JSON`);
      }
    }
    const journal = await readFile(this.journalPath(this.snap.generation), 'utf8').catch((e) => (e.code === 'ENOENT' ? '' : Promise.reject(e)));
    const lines = journal.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (!line) continue;
      let batch: Op[];
      try {
        batch = JSON.parse(line) as Op[];
      } catch {
        // Only the very last line can be torn (a crash mid-append): it never committed.
        if (i >= lines.length - 2) break;
        throw new MalformedInputError('E_STATE_CORRUPT', `journal line ${i + 1} in ${this.dir} is damaged`);
      }
      for (const op of batch) this.apply(op);
      this.journalOps += batch.length;
    }
    // Journals of older generations are leftovers of an interrupted compaction.
    for (const f of await readdir(this.dir)) {
      const m = /^journal-(\d+)\.jsonl$/.exec(f);
      if (m && Number(m[1]) < this.snap.generation) await shredFile(join(this.dir, f));
    }
  }

  private apply(op: Op): void {
    switch (op.op) {
      case 'put':
        this.snap.records[op.record.contract_id] = op.record;
        break;
      case 'issue':
        // Replay order guarantees an issue precedes its take; a consumed id never revives.
        if (!this.consumed.has(op.id)) this.snap.nonces[op.id] = { context: op.context, pubnonce: op.pubnonce, secnonce: op.secnonce };
        this.snap.counter = Math.max(this.snap.counter, op.counter);
        break;
      case 'take':
        delete this.snap.nonces[op.id];
        this.consumed.add(op.id);
        break;
    }
  }

  private stage(op: Op): void {
    this.apply(op);
    this.staged.push(op);
  }

  // ——— records (RecordPort) ———

  async get(id: string): Promise<R | undefined> {
    const r = this.snap.records[id];
    return r ? (structuredClone(r) as unknown as R) : undefined;
  }

  async put(record: R): Promise<void> {
    this.stage({ op: 'put', record: structuredClone(record) as unknown as { contract_id: string } & Record<string, unknown> });
  }

  async list(): Promise<R[]> {
    return Object.keys(this.snap.records)
      .sort()
      .map((id) => structuredClone(this.snap.records[id]) as unknown as R);
  }

  readDoc<T>(name: string): T | undefined {
    return this.snap.docs[name] as T | undefined;
  }

  // ——— nonces (NoncePort) ———

  async issue(context: string, generate: (counter: number) => { secnonce: Uint8Array; pubnonce: Uint8Array }): Promise<{ pubnonce: Uint8Array }> {
    const counter = this.snap.counter + 1;
    const { secnonce, pubnonce } = generate(counter);
    const id = nonceKey(pubnonce);
    if (this.snap.nonces[id] || this.consumed.has(id)) throw new StateConflictError('E_NONCE_REPEATED', 'the generated public nonce was issued before: refusing to hand it out twice');
    this.stage({ op: 'issue', id, context, pubnonce: toHex(pubnonce), secnonce: toHex(secnonce), counter });
    secnonce.fill(0);
    return { pubnonce };
  }

  async take(pubnonce: Uint8Array, expectedContext: string): Promise<Uint8Array> {
    const id = nonceKey(pubnonce);
    if (this.consumed.has(id)) throw new StateConflictError('E_NONCE_USED', `the mint's nonce ${toHex(pubnonce).slice(0, 16)}… was already used; it is single-use`);
    const n = this.snap.nonces[id];
    if (!n) throw new StateConflictError('E_NONCE_UNKNOWN', `the mint never issued nonce ${toHex(pubnonce).slice(0, 16)}… (or its state was restored from a backup)`);
    if (n.context !== expectedContext) {
      // Refused without burning: nothing was signed, and burning would let anyone who saw
      // the public nonce kill an honest session.
      throw new RefusedError('E_NONCE_MISBOUND', `the mint's nonce ${toHex(pubnonce).slice(0, 16)}… was issued for ${n.context}, not ${expectedContext}`);
    }
    const secnonce = Uint8Array.from(Buffer.from(n.secnonce, 'hex'));
    this.stage({ op: 'take', id });
    return secnonce;
  }

  async status(pubnonce: Uint8Array): Promise<'unused' | 'consumed' | 'unknown'> {
    const id = nonceKey(pubnonce);
    return this.consumed.has(id) ? 'consumed' : this.snap.nonces[id] ? 'unused' : 'unknown';
  }

  // ——— durability ———

  /** Staged effects since the last commit, if any. */
  get dirty(): boolean {
    return this.staged.length > 0;
  }

  /** Make everything staged durable: one append, one fsync (group commit). */
  async commit(): Promise<void> {
    if (this.staged.length === 0) return;
    const line = JSON.stringify(this.staged) + '\n';
    const path = this.journalPath(this.snap.generation);
    const fh = await open(path, 'a', 0o600);
    try {
      await fh.write(line);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (this.journalOps === 0) await syncDir(this.dir); // the journal file itself is new
    this.journalOps += this.staged.length;
    this.staged = [];
    if (this.journalOps >= COMPACT_AFTER_OPS) await this.compact();
  }

  /** Store a small document (e.g. the mint's offer) durably at once. */
  async writeDoc(name: string, value: unknown): Promise<void> {
    await this.commit();
    this.snap.docs[name] = value;
    await this.compact();
  }

  /**
   * Write a snapshot (unused nonces with their secrets, consumed ones as bare ids) and
   * start a new journal generation; the old journal, which held the secrets of the
   * nonces consumed since, is zeroed and deleted.
   */
  async compact(): Promise<void> {
    await this.commit();
    const old = this.snap.generation;
    this.snap.consumed = [...this.consumed];
    this.snap.generation = old + 1;
    await writeJsonAtomic(join(this.dir, 'snapshot.json'), this.snap);
    this.journalOps = 0;
    await shredFile(this.journalPath(old));
  }

  /**
   * Commit, then compact if the journal holds anything: a step that consumed a nonce
   * leaves its secret in the journal until compaction, so do not leave it there.
   */
  async close(): Promise<void> {
    await this.commit();
    if (this.journalOps > 0) await this.compact();
  }
}
