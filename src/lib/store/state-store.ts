/**
 * JSON documents under one state directory (e.g. a mint's contract records): each
 * document is `<dir>/<name>.json`, written atomically, and every write goes through
 * the directory lock so a read-modify-write (`update`) never loses a concurrent one.
 *
 * Not here: schemas (callers decode what `read` returns, it is `unknown` by default),
 * history or backups, secrets that must be single-use (nonce-store.ts).
 */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { OffchainError } from '../errors.ts';
import { ensureDir, readJsonFile, writeJsonAtomic } from './atomic.ts';
import { shredFile } from './sync-fs.ts';
import { withLock } from './lock.ts';

/** Lower-case names, no dots in front, no path separators: they become file names. */
const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,199}$/;

export interface StateStoreOptions {
  lockTimeoutMs?: number;
}

export class StateStore {
  readonly dir: string;
  private readonly lockTimeoutMs: number | undefined;

  constructor(dir: string, opts: StateStoreOptions = {}) {
    this.dir = resolve(dir);
    this.lockTimeoutMs = opts.lockTimeoutMs;
  }

  /** The stored document, or undefined if there is none. Lock-free: writes are atomic. */
  async read<T = unknown>(name: string): Promise<T | undefined> {
    return readJsonFile<T>(this.path(name));
  }

  async write(name: string, value: unknown): Promise<void> {
    const path = this.path(name);
    await withLock(this.dir, () => writeJsonAtomic(path, value), { timeoutMs: this.lockTimeoutMs });
  }

  /**
   * Read, transform, write, all under the lock; returns what was written. `fn` must not
   * call this store's `write`/`update` (the lock is not re-entrant: E_LOCK_REENTRANT).
   * `keep`: the write stays even if the command's step fails (atomic.ts writeFileAtomic).
   */
  async update<T>(name: string, fn: (current: T | undefined) => T | Promise<T>, opts: { keep?: boolean } = {}): Promise<T> {
    const path = this.path(name);
    return withLock(
      this.dir,
      async () => {
        const next = await fn(await readJsonFile<T>(path));
        await writeJsonAtomic(path, next, opts.keep ? { keep: true } : {});
        return next;
      },
      { timeoutMs: this.lockTimeoutMs },
    );
  }

  /** Delete a document (its bytes overwritten first: documents may hold secrets). */
  async remove(name: string): Promise<void> {
    const path = this.path(name);
    await withLock(this.dir, () => shredFile(path), { timeoutMs: this.lockTimeoutMs });
  }

  /** Names of the stored documents, sorted (runbooks list contracts with it). */
  async list(): Promise<string[]> {
    await ensureDir(this.dir);
    return (await readdir(this.dir))
      .filter((f) => f.endsWith('.json') && NAME_RE.test(f.slice(0, -'.json'.length)))
      .map((f) => f.slice(0, -'.json'.length))
      .sort();
  }

  private path(name: string): string {
    if (!NAME_RE.test(name) || name.endsWith('.json')) {
      throw new OffchainError('E_STATE_NAME', `state document name ${JSON.stringify(name)} must match ${NAME_RE.source} (no ".json" suffix)`);
    }
    return join(this.dir, `${name}.json`);
  }
}
