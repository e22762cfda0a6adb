/**
 * Single-use store for MuSig2 secret nonces (BIP-327: signing twice with one secnonce
 * reveals the secret key). The mint hands out a public nonce, and later signs with the
 * matching secret exactly once.
 *
 * Layout under `dir` (dirs 0700, files 0600):
 *   counter.json          persistent issue counter (see `issue`)
 *   unused/<id>.json      { id, context, pubnonce, secnonce, counter, created }
 *   taking/<id>.<taker>.json   the same file while one `take` is consuming it
 *   consumed/<id>.json    tombstone: the record without `secnonce`, plus `consumed`
 *
 * Single use does not rest on the lock. The commit point of `take` is
 * rename(unused/<id>.json → taking/<id>.<taker>.json): of any number of concurrent
 * renamers exactly one finds the source, the others get ENOENT. The directories are
 * fsynced (source first, so a torn crash can lose a nonce but never keep two names for
 * it) before the secret is read; then a tombstone is written atomically and the
 * secret-bearing file is zeroed and unlinked. A crash after the rename leaves the secret
 * in taking/ under the name of a process that is gone; `recover()` (run before every
 * operation) buries such files. The `<taker>` part names host, pid, process start and
 * module instance, so a recovery never buries the file of a take still running.
 *
 * Mis-bound nonces are refused WITHOUT being consumed. Nothing is signed on that path,
 * so keeping the nonce cannot lead to reuse, while burning it would let anyone who
 * saw the (public) pubnonce destroy the honest session with one bogus request.
 *
 * Not here: nonce generation (musig/), expiry or pruning of issued-but-never-used
 * nonces, and any protection against restoring an old copy of `dir` (docs/state.md).
 */
import { readdir, readFile, rename, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { equalBytes, fromHex, toHex, wipe } from '../bytes.ts';
import { MalformedInputError, OffchainError, StateConflictError } from '../errors.ts';
import { ensureDir, readJsonFile, syncDir, writeJsonAtomic } from './atomic.ts';
import { sealStateStep, shredFile } from './state-step.ts';
import { errnoCode, isWriteFailure, stateAccessError } from './write-errors.ts';
import { withLock } from './lock.ts';
import { checkContext, inFlight, misbound, parseRecord, PUBNONCE_LENGTH, takerIsGone, takerTag, used, type Located, type NonceRecord, type Tombstone } from './nonce-files.ts';

export interface IssuedNonce {
  id: string;
  pubnonce: Uint8Array;
  context: string;
  counter: number;
}

export type NonceStatus = 'unused' | 'consumed' | 'unknown';

export type NonceStep =
  | 'issue:counter-saved'
  | 'issue:generated'
  | 'issue:persisted'
  | 'take:checked'
  | 'take:renamed'
  | 'take:synced'
  | 'take:read'
  | 'take:tombstoned'
  | 'take:done';

export interface NonceStoreOptions {
  lockTimeoutMs?: number;
  /** Test hook called after each step; throwing from it simulates a crash there. */
  onStep?: (step: NonceStep) => void;
}

/** Hex of sha256(pubnonce), first 16 bytes: a file name that reveals nothing extra. */
export function nonceId(pubnonce: Uint8Array): string {
  return toHex(sha256(pubnonce)).slice(0, 32);
}

export class NonceStore {
  readonly dir: string;
  private readonly unusedDir: string;
  private readonly takingDir: string;
  private readonly consumedDir: string;
  private readonly lockTimeoutMs: number | undefined;
  private readonly onStep: ((step: NonceStep) => void) | undefined;
  private ready: Promise<void> | undefined;

  constructor(dir: string, opts: NonceStoreOptions = {}) {
    this.dir = resolve(dir);
    this.unusedDir = join(this.dir, 'unused');
    this.takingDir = join(this.dir, 'taking');
    this.consumedDir = join(this.dir, 'consumed');
    this.lockTimeoutMs = opts.lockTimeoutMs;
    this.onStep = opts.onStep;
  }

  /**
   * Under the lock: increment the persistent counter (durably, BEFORE `generate` runs,
   * so a crash can skip a counter value but never hand the same one out twice — which
   * in deterministic test mode would mean the same secnonce), call `generate(counter)`,
   * persist the record, and only then return the public nonce. The `secnonce` buffer
   * returned by `generate` is wiped: the file is meant to be its only copy.
   */
  async issue(context: string, generate: (counter: number) => { secnonce: Uint8Array; pubnonce: Uint8Array }): Promise<IssuedNonce> {
    checkContext(context);
    await this.recover();
    return withLock(
      this.dir,
      async () => {
        await this.removeStaleTemps(this.unusedDir);
        const counter = (await this.readCounter()) + 1;
        await writeJsonAtomic(join(this.dir, 'counter.json'), { counter });
        this.step('issue:counter-saved');
        const { secnonce, pubnonce } = generate(counter);
        try {
          this.step('issue:generated');
          if (!(pubnonce instanceof Uint8Array) || pubnonce.length !== PUBNONCE_LENGTH) {
            throw new OffchainError('E_NONCE_GENERATOR', `nonce generator returned a ${pubnonce?.length}-byte pubnonce, expected ${PUBNONCE_LENGTH}`);
          }
          if (!(secnonce instanceof Uint8Array) || secnonce.length === 0) {
            throw new OffchainError('E_NONCE_GENERATOR', 'nonce generator returned no secnonce');
          }
          const id = nonceId(pubnonce);
          if ((await this.locate(id)).state !== 'unknown') {
            // Same pubnonce twice means the same secnonce twice: a replayed test seed or a
            // reset counter. Storing it again could let it be used a second time.
            throw new StateConflictError('E_NONCE_REPEATED', `nonce generator produced already-issued nonce ${id} (counter ${counter}); was the state directory reset?`);
          }
          const record: NonceRecord = { id, context, pubnonce: toHex(pubnonce), secnonce: toHex(secnonce), counter, created: new Date().toISOString() };
          await writeJsonAtomic(join(this.unusedDir, `${id}.json`), record);
          this.step('issue:persisted');
          return { id, pubnonce: Uint8Array.from(pubnonce), context, counter };
        } finally {
          if (secnonce instanceof Uint8Array) wipe(secnonce);
        }
      },
      { timeoutMs: this.lockTimeoutMs },
    );
  }

  /**
   * Consume the secret nonce for `pubnonce`, issued for `expectedContext`. When this
   * returns, the consumption is durable; the caller signs afterwards and should wipe
   * the returned buffer (musig's Session.sign does).
   */
  async take(pubnonce: Uint8Array, expectedContext: string): Promise<Uint8Array> {
    const id = nonceId(pubnonce);
    // No store here at all (a mistyped --state-dir): unknown, and nothing is created.
    const found = (await this.present()) ? (await this.recover(), await this.locate(id)) : ({ state: 'unknown', context: null } as const);
    if (found.state === 'unknown') {
      throw new StateConflictError('E_NONCE_UNKNOWN', `nonce ${id} was never issued by this store (or the store was replaced); request a fresh nonce`, { id });
    }
    if (found.context !== null && found.context !== expectedContext) throw misbound(id, found.context, expectedContext);
    if (found.state === 'consumed') throw used(id);
    this.step('take:checked');

    const takingName = `${id}.${takerTag()}.json`;
    const takingPath = join(this.takingDir, takingName);
    inFlight.add(takingName);
    let secnonce: Uint8Array | undefined;
    let renamed = false;
    let tombstoned = false;
    try {
      try {
        await rename(join(this.unusedDir, `${id}.json`), takingPath);
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') throw used(id); // another taker won the rename
        throw stateAccessError(e, this.dir);
      }
      renamed = true;
      this.step('take:renamed');
      await syncDir(this.unusedDir);
      await syncDir(this.takingDir);
      this.step('take:synced');
      const record = parseRecord(await readFile(takingPath, 'utf8'), takingPath);
      if (record.id !== id || !equalBytes(fromHex(record.pubnonce), pubnonce)) {
        throw new MalformedInputError('E_STATE_CORRUPT', `nonce file ${takingPath} does not match its name; the nonce stays consumed`);
      }
      // Cannot differ from the check above (the file is immutable); if it somehow does,
      // fail safe: refuse, and leave the nonce consumed rather than move it back.
      if (record.context !== expectedContext) throw misbound(id, record.context, expectedContext);
      secnonce = fromHex(record.secnonce);
      this.step('take:read');
      await this.bury(takingPath, record, false, () => (tombstoned = true));
      this.step('take:done');
      // Consumed durably: whatever fails after this, the step keeps it (withStateStep).
      sealStateStep();
      return secnonce;
    } catch (e) {
      wipe(secnonce);
      // Its tombstone could not be written (a full disk): nothing was signed with it and
      // the secret is wiped, so the nonce goes back to unused/ as it was. Once the
      // tombstone exists the scrub has begun: it stays consumed (recover() finishes it).
      if (renamed && !tombstoned && isWriteFailure(e)) await this.untake(takingPath, id).catch(() => undefined);
      throw e;
    } finally {
      inFlight.delete(takingName);
    }
  }

  /** Look without consuming: for idempotent retries and listings. */
  async status(pubnonce: Uint8Array): Promise<NonceStatus> {
    if (!(await this.present())) return 'unknown'; // looking creates nothing (a mistyped --state-dir leaves no trace)
    await this.recover();
    return (await this.locate(nonceId(pubnonce))).state;
  }

  /**
   * Bury secrets left in taking/ by takes that crashed after their commit rename.
   * Runs before every operation; returns how many files it buried.
   */
  async recover(): Promise<number> {
    await this.open();
    let buried = 0;
    for (const name of await readdir(this.takingDir)) {
      if (!name.endsWith('.json') || !takerIsGone(name)) continue;
      const path = join(this.takingDir, name);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') continue; // buried concurrently
        throw e;
      }
      const id = name.slice(0, 32);
      let record: NonceRecord | string;
      try {
        record = parseRecord(text, path);
      } catch {
        // Unreadable (or being zeroed by a concurrent recovery): still consumed. Keep a
        // better tombstone if one exists; otherwise bury what the name tells us.
        record = id;
        if (await this.readTombstone(id)) {
          await shredFile(path);
          continue;
        }
      }
      await this.bury(path, record, true);
      buried++;
    }
    return buried;
  }

  /** A take whose tombstone failed: its file back in unused/, both directories synced. */
  private async untake(takingPath: string, id: string): Promise<void> {
    await rename(takingPath, join(this.unusedDir, `${id}.json`));
    await syncDir(this.takingDir);
    await syncDir(this.unusedDir);
  }

  /** Tombstone first, then scrub: at every instant the nonce reads as consumed. */
  private async bury(takingPath: string, record: NonceRecord | string, recovered: boolean, tombstoned?: () => void): Promise<void> {
    const consumed = new Date().toISOString();
    const tomb: Tombstone =
      typeof record === 'string'
        ? { id: record, context: null, pubnonce: null, counter: null, created: null, consumed, recovered: true }
        : { id: record.id, context: record.context, pubnonce: record.pubnonce, counter: record.counter, created: record.created, consumed };
    if (recovered) tomb.recovered = true;
    await writeJsonAtomic(join(this.consumedDir, `${tomb.id}.json`), tomb);
    tombstoned?.();
    if (!recovered) this.step('take:tombstoned');
    await shredFile(takingPath);
    await syncDir(this.takingDir);
  }

  /**
   * Where the nonce is. Checked consumed → taking → unused, then taking → consumed again:
   * files only move forward, so a nonce that moves while we look is still found, and a
   * tombstone always wins over any other copy.
   */
  private async locate(id: string): Promise<Located> {
    const tomb = await this.readTombstone(id);
    if (tomb) return tomb;
    const taking = await this.readTaking(id);
    if (taking) return taking;
    const unusedPath = join(this.unusedDir, `${id}.json`);
    const unused = await readFile(unusedPath, 'utf8').catch((e: unknown) => {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw e;
    });
    if (unused !== undefined) {
      try {
        return { state: 'unused', context: parseRecord(unused, unusedPath).context };
      } catch (e) {
        // A take may have renamed and zeroed this very inode between our open and read:
        // that nonce is consumed, not damaged. Only a file that stayed put is corrupt.
        const movedOn = (await this.readTaking(id)) ?? (await this.readTombstone(id));
        if (movedOn) return movedOn;
        throw e;
      }
    }
    return (await this.readTaking(id)) ?? (await this.readTombstone(id)) ?? { state: 'unknown' };
  }

  private async readTombstone(id: string): Promise<Located | undefined> {
    const path = join(this.consumedDir, `${id}.json`);
    const tomb = await readJsonFile<Partial<Tombstone>>(path);
    if (tomb === undefined) return undefined;
    return { state: 'consumed', context: typeof tomb.context === 'string' ? tomb.context : null };
  }

  private async readTaking(id: string): Promise<Located | undefined> {
    const name = (await readdir(this.takingDir)).find((n) => n.startsWith(`${id}.`) && n.endsWith('.json'));
    if (name === undefined) return undefined;
    try {
      const r = JSON.parse(await readFile(join(this.takingDir, name), 'utf8')) as Partial<NonceRecord>;
      return { state: 'consumed', context: typeof r.context === 'string' ? r.context : null };
    } catch {
      // Gone (buried meanwhile: the tombstone exists now) or unreadable: consumed either way.
      return { state: 'consumed', context: null };
    }
  }

  private async readCounter(): Promise<number> {
    const stored = await readJsonFile<{ counter?: unknown }>(join(this.dir, 'counter.json'));
    if (stored !== undefined) {
      if (!Number.isSafeInteger(stored.counter) || (stored.counter as number) < 0) {
        throw new MalformedInputError('E_STATE_CORRUPT', `${join(this.dir, 'counter.json')} does not hold a counter`);
      }
      return stored.counter as number;
    }
    // Lost counter file next to existing nonces: resume above every counter seen.
    let max = 0;
    for (const sub of [this.unusedDir, this.consumedDir]) {
      for (const name of await readdir(sub)) {
        if (!name.endsWith('.json') || name.startsWith('.')) continue;
        // A concurrent take may be zeroing an unused file as we read it: skip what won't parse.
        const r = await readJsonFile<{ counter?: unknown }>(join(sub, name)).catch(() => undefined);
        if (r !== undefined && Number.isSafeInteger(r.counter)) max = Math.max(max, r.counter as number);
      }
    }
    return max;
  }

  /** Temp files of issues that crashed mid-write may hold a secret; called under the lock. */
  private async removeStaleTemps(dir: string): Promise<void> {
    for (const name of await readdir(dir)) {
      if (name.startsWith('.') && name.endsWith('.tmp')) await shredFile(join(dir, name));
    }
  }

  /** Whether the store's directory exists: only `issue` creates it. */
  private async present(): Promise<boolean> {
    try {
      await stat(this.dir);
      return true;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return false;
      throw e;
    }
  }

  private open(): Promise<void> {
    this.ready ??= (async () => {
      await ensureDir(this.dir);
      await ensureDir(this.unusedDir);
      await ensureDir(this.takingDir);
      await ensureDir(this.consumedDir);
    })();
    return this.ready;
  }

  private step(step: NonceStep): void {
    this.onStep?.(step);
  }
}
