/**
 * The nonce ledger's journal file (nonce-ledger.ts): reading what was appended, appending
 * under the lock, compacting. The rules it keeps are the ledger's (see there).
 */
import { closeSync, constants, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, readSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { MalformedInputError } from '../errors.ts';
import { writeFileAtomic } from './atomic.ts';
import { closeQuietly, syncDirSync, unlinkIfPresent, writeAll } from './sync-fs.ts';
import { errnoCode, stateAccessError } from './write-errors.ts';

const ID_RE = /^[0-9a-f]{32}$/;
export const DIGEST_RE = /^[0-9a-f]{64}$/;
const JOURNAL = 'journal';

/**
 * What a journal says: the ids still openable; those gone by a COMMIT not known to have
 * happened; the session digest of each opening it still holds.
 */
export type Entries = { live: Set<string>; unsure: Set<string>; sessions: Map<string, string> };

/**
 * The journal file: `journal` in its own directory (0700, its own lock), a header naming
 * the ledger, then one line per entry: `+<id>` issued; `-<id> <digest>` opened for the
 * signing session whose digest it names, `-<id>` burned (or opened with no session named),
 * written (fsynced) before its COMMIT is sent; `=<id>` that COMMIT done (written after it,
 * not fsynced: lost, the entry only stays unsure). An id with `-` and no `=` belongs to a
 * step interrupted between the two (a crash): whether it committed the journal cannot tell.
 *
 * A compaction renames a new file over it; a reader knows the file it read by inode number
 * and birth time (the number alone comes back: ext4 gives a freed inode to the next new
 * file), and a file shorter than what it read is another file. What is left: a filesystem
 * without birth times, where two compactions hand the read file's inode back with a file
 * at least as long as what was read — the reader then parses from the middle of it (a torn
 * line refuses E_STATE_CORRUPT; a line boundary would go unnoticed).
 */
export class Journal {
  readonly path: string;
  /**
   * Bytes read so far, and the file they were read from (a compaction replaces it): its inode
   * number AND birth time — a filesystem hands a freed inode number to the next new file (ext4
   * does at once), so after two compactions by other processes the number alone can name the
   * file this process read, and its stale entries (a nonce since opened still "live") would stand.
   */
  private offset = 0;
  private ino: string | undefined;
  lines = 0;
  /** This process has read or written the journal: from then on it, not the store, is the record (`NonceLedger.settle`). */
  known = false;

  constructor(readonly dir: string, private readonly header: string) {
    this.path = join(dir, JOURNAL);
  }

  async exists(): Promise<boolean> {
    return (await this.identity()) !== undefined;
  }

  // The journal's file work is synchronous (a few µs a call): the ledger reads and appends it
  // under its lock at every COMMIT, and on a VM each awaited fs call cost 100–270 µs of CPU in
  // its thread-pool hand-off — most of a one-request batch's CPU.
  private async identity(): Promise<string | undefined> {
    try {
      const st = statSync(this.path, { bigint: true });
      return `${st.ino}:${st.birthtimeNs}`;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw e;
    }
  }

  /**
   * Apply what was appended since the last read to the entries (everything, after a
   * compaction replaced the file): complete lines only — a torn last line is an append whose
   * COMMIT was never sent. False when there is no journal.
   */
  async refresh(e: Entries): Promise<boolean> {
    const ino = await this.identity();
    if (ino === undefined) return false;
    this.known = true;
    if (ino !== this.ino) {
      e.live.clear();
      e.unsure.clear();
      e.sessions.clear();
      this.offset = 0;
      this.lines = 0;
      this.ino = ino;
    }
    // What was appended since the last read, from the byte before it (the newline that
    // ended what was read): a file read whole each time costs its size twice per COMMIT.
    const from = Math.max(0, this.offset - 1);
    let text: Buffer;
    try {
      text = readFrom(this.path, from);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw err;
    }
    const end = from + text.lastIndexOf(0x0a) + 1;
    if (end < this.offset) {
      // Shorter than what was read from it: another file (where there is no birth time to tell).
      e.live.clear();
      e.unsure.clear();
      e.sessions.clear();
      this.offset = 0;
      this.lines = 0;
      return this.refresh(e);
    }
    if (end <= this.offset) return true;
    const chunk = text.subarray(this.offset - from, end - from).toString('latin1').split('\n');
    chunk.pop();
    for (const line of chunk) {
      if (this.offset === 0 && this.lines === 0 && line === this.header) {
        this.lines++;
        continue;
      }
      if (this.lines === 0) throw this.corrupt('its first line does not name this ledger');
      const [entry, session, ...rest] = line.slice(1).split(' ');
      const id = entry ?? '';
      const valid = ID_RE.test(id) && '+-='.includes(line[0]!) && rest.length === 0
        && (session === undefined || (line[0] === '-' && DIGEST_RE.test(session)));
      if (!valid) throw this.corrupt(`line ${this.lines + 1} is not an entry`);
      if (line[0] === '+') e.live.add(id);
      else if (line[0] === '-') {
        e.live.delete(id);
        e.unsure.add(id);
        // A burn (no digest) after an opening leaves nothing to open again.
        if (session !== undefined) e.sessions.set(id, session);
        else e.sessions.delete(id);
      } else e.unsure.delete(id);
      this.lines++;
    }
    this.offset = end;
    return true;
  }

  /** Under the lock: append `lines`, fsync (unless `sync` is false). A torn tail (no final newline) is cut first. */
  async append(lines: string[], sync = true): Promise<void> {
    // No file, or an empty one (its creation outlived a crash): the header first.
    const size = (await this.identity()) === undefined ? undefined : statSync(this.path).size;
    const fresh = size === undefined || size === 0;
    if (!fresh && size !== this.offset) truncateSync(this.path, this.offset); // refresh() ran just before, under the lock
    const from = fresh ? 0 : this.offset;
    let fd: number;
    try {
      fd = openSync(this.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    } catch (e) {
      throw stateAccessError(e, this.dir);
    }
    let body = lines.map((l) => `${l}\n`).join('');
    if (fresh) body = `${this.header}\n${body}`;
    // Closed once only: a descriptor's number is reused at once (by another task's open, even
    // on the thread pool), so a second close could close someone else's file.
    let open = true;
    try {
      writeAll(fd, Buffer.from(body)); // UTF-8, as a string write wrote it
      if (sync || fresh) fsyncSync(fd);
      open = false;
      closeSync(fd);
      if (fresh) syncDirSync(this.dir);
    } catch (e) {
      // A full disk part-way: the journal as it was (a file this append created, gone).
      if (open) closeQuietly(fd);
      await this.cut(size === undefined ? undefined : from).catch(() => undefined);
      throw stateAccessError(e, this.dir);
    }
    this.known = true;
    if (fresh) {
      this.ino = await this.identity();
      this.offset = 0;
      this.lines = 0;
    }
    // Read back what we wrote (and nothing else can have been: we hold the lock).
    this.offset += Buffer.byteLength(body, 'latin1');
    this.lines += fresh ? lines.length + 1 : lines.length;
    this.lastAppend = { ino: this.ino, from: size === undefined ? undefined : from, to: this.offset, lines: fresh ? lines.length + 1 : lines.length };
  }

  /** The last append, while it is the file's tail: `undoLastAppend` can take it back. */
  private lastAppend: { ino: string | undefined; from: number | undefined; to: number; lines: number } | undefined;

  /**
   * Under the lock: take back the last append — only when its COMMIT certainly did not
   * happen (a full disk refused it: nothing of the transaction left the process) and the
   * file still ends with it. Anything else keeps the lines (which only refuses more).
   */
  async undoLastAppend(): Promise<void> {
    const last = this.lastAppend;
    this.lastAppend = undefined;
    if (!last || last.ino !== (await this.identity())) return;
    if (statSync(this.path).size !== last.to) return;
    await this.cut(last.from);
    if (last.from === undefined) {
      this.ino = undefined;
      this.known = false;
      this.offset = 0;
      this.lines = 0;
    } else {
      this.offset = last.from;
      this.lines -= last.lines;
    }
  }

  /** Cut the file back to `size` bytes, fsynced; `undefined`: it did not exist, remove it. */
  private async cut(size: number | undefined): Promise<void> {
    if (size === undefined) {
      unlinkIfPresent(this.path);
      syncDirSync(this.dir);
      return;
    }
    const fd = openSync(this.path, 'r+');
    try {
      ftruncateSync(fd, size);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Under the lock: replace the file by the header and the live and unsure entries (an
   * unsure one with its digest). The digests of committed openings go: such a nonce offered
   * again is then refused for every session, which only refuses more.
   */
  async compact(e: Entries): Promise<void> {
    for (const id of [...e.sessions.keys()]) if (!e.unsure.has(id)) e.sessions.delete(id);
    const lines = [this.header, ...[...e.live].map((id) => `+${id}`), ...[...e.unsure].flatMap((id) => [`+${id}`, openLine(id, e.sessions.get(id))])];
    const body = lines.map((l) => `${l}\n`).join('');
    // Kept whatever the step does next (`keep`): put back, the old file would lack every line
    // appended after this, and with no old file (the ALARM's rewrite) the journal would be gone
    // — a nonce opened made openable again (test/lib/store/step-ledger.test.ts).
    await writeFileAtomic(this.path, body, { mode: 0o600, keep: true });
    this.lastAppend = undefined;
    this.ino = await this.identity();
    this.offset = Buffer.byteLength(body, 'latin1');
    this.lines = lines.length;
  }

  private corrupt(why: string): MalformedInputError {
    return new MalformedInputError('E_STATE_CORRUPT', `the nonce ledger ${this.path} is damaged (${why}): move its directory aside; the nonces it held can then not be opened (their users abandon once)`, { path: this.path });
  }
}

/** The bytes of `path` from byte `from` to its end (none when it is shorter). */
function readFrom(path: string, from: number): Buffer {
  if (from === 0) return readFileSync(path);
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(Math.max(0, size - from));
    let at = 0;
    while (at < buf.length) {
      const bytesRead = readSync(fd, buf, at, buf.length - at, from + at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return buf.subarray(0, at);
  } finally {
    closeSync(fd);
  }
}

/** The journal line of an opening (`-<id> <digest>`), or of a burn or an opening with no session named (`-<id>`). */
export function openLine(id: string, session: string | undefined): string {
  return session === undefined ? `-${id}` : `-${id} ${session}`;
}
