/**
 * Protocol records (a mint's or a user's contracts) as JSON files under one directory.
 * A protocol step is read → check → consume nonce → sign → write, and must run whole
 * under one lock: so this book does not lock per write; its owner runs each step in
 * `book.exclusive(step)`, which holds the directory lock for the step's duration and
 * serialises concurrent invocations (a second one waits, or fails with E_LOCK_HELD).
 */
import { readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { OffchainError } from '../errors.ts';
import { ensureDir, readJsonFile, syncDir, writeJsonAtomic } from './atomic.ts';
import { errnoCode } from './write-errors.ts';
import { withLock } from './lock.ts';

const ID_RE = /^[0-9a-f]{64}$/;

export class RecordBook<R extends { contract_id: string }> {
  readonly dir: string;
  private readonly recordsDir: string;

  constructor(dir: string, private readonly opts: { lockTimeoutMs?: number } = {}) {
    this.dir = resolve(dir);
    this.recordsDir = join(this.dir, 'contracts');
  }

  /** Run `step` holding this book's lock (the whole step, not single writes). */
  exclusive<T>(step: () => Promise<T>): Promise<T> {
    return withLock(this.dir, step, { timeoutMs: this.opts.lockTimeoutMs });
  }

  async get(id: string): Promise<R | undefined> {
    return readJsonFile<R>(this.path(id));
  }

  async put(record: R): Promise<void> {
    await ensureDir(this.recordsDir);
    await writeJsonAtomic(this.path(record.contract_id), record);
  }

  /** Remove a record (durably: the directory is synced). Missing is not an error. */
  async remove(id: string): Promise<void> {
    await rm(this.path(id), { force: true });
    await syncDir(this.recordsDir);
  }

  /** The records; none when the book's directory does not exist (reading creates nothing). */
  async list(): Promise<R[]> {
    let entries: string[];
    try {
      entries = await readdir(this.recordsDir);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return [];
      throw e;
    }
    const names = entries.filter((f) => ID_RE.test(f.slice(0, -5)) && f.endsWith('.json')).sort();
    const out: R[] = [];
    for (const f of names) {
      const r = await readJsonFile<R>(join(this.recordsDir, f));
      if (r) out.push(r);
    }
    return out;
  }

  /** A document beside the records (e.g. the mint's policy), atomic like them. */
  async readDoc<T>(name: string): Promise<T | undefined> {
    return readJsonFile<T>(join(this.dir, `${name}.json`));
  }

  async writeDoc(name: string, value: unknown): Promise<void> {
    await ensureDir(this.dir);
    await writeJsonAtomic(join(this.dir, `${name}.json`), value);
  }

  private path(id: string): string {
    if (!ID_RE.test(id)) throw new OffchainError('E_STATE_NAME', `contract id ${JSON.stringify(id)} is not 64 hex digits`);
    return join(this.recordsDir, `${id}.json`);
  }
}
