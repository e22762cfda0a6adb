/** Helpers shared by tests: vector loading relative to this folder, temp dirs. */
import { accessSync, constants, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statfsSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { OffchainError } from '../src/lib/errors.ts';

export const TEST_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(TEST_DIR, '..');

export function loadVector<T = any>(relPath: string): T {
  return JSON.parse(readFileSync(join(TEST_DIR, 'vectors', relPath), 'utf8')) as T;
}

export function readVectorText(relPath: string): string {
  return readFileSync(join(TEST_DIR, 'vectors', relPath), 'utf8');
}

export function tempDir(prefix = 'offchain-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Where the real nodes the suite starts (bitcoind, lightningd, the quick start's work
 * directory) keep their data: in memory (/dev/shm, a tmpfs) when the machine has one with
 * room (NODE_TMP_MIN_FREE), else the system temp dir. A wallet's bitcoind syncs its wallet database to disk for every
 * block mined to it: on a busy disk 300 such blocks took 18–21 s and 0.9 CPU-s, in memory
 * 0.9 s and 0.2 CPU-s (same binary, same RPCs). What the tests check — what Core, Core
 * Lightning and the CLI answer — does not depend on where the node's files are; a node that
 * crashes is a process killed, never a machine losing power. OFFCHAIN_TEST_NODE_TMP names
 * another directory (or the system temp dir, when empty).
 */
export function nodeTempDirRoot(): string {
  const chosen = process.env['OFFCHAIN_TEST_NODE_TMP'];
  if (chosen !== undefined) return chosen || tmpdir();
  return roomyDir('/dev/shm', NODE_TMP_MIN_FREE) ?? tmpdir();
}

/**
 * At least 2 GiB free: a container's /dev/shm is often 64 MiB, which four files' nodes (a
 * quick start with PostgreSQL and two Lightning nodes is ~20 MiB) would fill.
 */
export const NODE_TMP_MIN_FREE = 2 * 1024 ** 3;

/** `dir` if it is a writable directory with `minFree` bytes free, else undefined. */
export function roomyDir(dir: string, minFree: number): string | undefined {
  try {
    accessSync(dir, constants.W_OK);
    const fs = statfsSync(dir);
    return statSync(dir).isDirectory() && fs.bavail * fs.bsize >= minFree ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** A directory of its own for a real node's data (nodeTempDirRoot says where), removed by `cleanup`. */
export function nodeTempDir(prefix: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(nodeTempDirRoot(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Everything under `dir` (recursively): each file with its mode and its bytes as hex, each
 * directory with its mode, each symbolic link with its target (not followed) — what "nothing
 * was written" is checked against: a file created, changed, removed or chmod-ed, or a directory
 * created, shows. Lock files (`.lock*`, which a command creates and removes while it runs) are
 * left out unless `locks: true`.
 *
 * `sqliteRows: true`: a SQLite database (`*.sqlite`) is taken as its rows, not its bytes, and
 * its `-wal` / `-shm` files are left out. Which of its pages sit in the WAL and which in the
 * main file is SQLite's choice (a process that opens the database and closes it as the last
 * connection checkpoints the WAL into it and deletes it, whatever it wrote): the same rows
 * in other bytes. For a database that a refused command must not have written to.
 */
export function fileSnapshot(dir: string, o: { locks?: boolean; sqliteRows?: boolean } = {}): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const f of readdirSync(d).sort()) {
      if (!o.locks && f.startsWith('.lock')) continue;
      if (o.sqliteRows && /\.sqlite-(wal|shm)$/.test(f)) continue;
      const p = join(d, f);
      if (o.sqliteRows && f.endsWith('.sqlite')) {
        out[p] = `sqlite ${(lstatSync(p).mode & 0o7777).toString(8).padStart(4, '0')} ${sqliteRows(p)}`;
        continue;
      }
      const st = lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
      if (st.isDirectory()) {
        out[p] = `dir ${mode}`;
        walk(p);
      } else if (st.isSymbolicLink()) out[p] = `link ${readlinkSync(p)}`;
      else if (st.isFile()) out[p] = `file ${mode} ${readFileSync(p, 'hex')}`;
      else out[p] = `other ${st.mode.toString(8)}`;
    }
  };
  walk(dir);
  return out;
}

/** Every row of every table of the SQLite database at `path`, read without writing to it, as JSON. */
function sqliteRows(path: string): string {
  const db = new (createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3)(path, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare<[], { name: string; sql: string }>("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name").all();
    return JSON.stringify(tables.map((t) => [t.name, t.sql, db.prepare(`SELECT * FROM "${t.name}" ORDER BY 1`).all()]));
  } finally {
    db.close();
  }
}

/**
 * A snapshot without what a killed command's step leaves (store/state-step.ts STEP RECORD: its
 * record, its .undo/.new links, its temp file), which the next command removes.
 */
export function withoutStepLeftovers(snapshot: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(snapshot).filter(([k]) => !/\/\.step\.[0-9a-f]{16}\.(open|sealed)$|\/\..*\.[0-9a-f]{16}\.(undo|new|tmp)$/.test(k)));
}

/** mulberry32: a small seeded generator, so a failing case replays from its seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A process that is running: it exists and is not a zombie (killed, waiting to be reaped: kill(pid, 0) still answers for it). */
export function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false; // gone between the two looks
  }
}

/** The code `f` throws (an OffchainError's), "not coded: …" for any other throw, undefined when it returns. */
export function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof OffchainError ? e.code : `not coded: ${String(e)}`;
  }
  return undefined;
}

/**
 * One HTTP exchange on a connection of its own (node:http, `agent: false`: `Connection: close`, no
 * pool), so never on a socket that sat idle, which the server may have closed for its keep-alive
 * timeout while this process's event loop was busy (test/nutshell/nutshell.ts: seen once in CI,
 * "other side closed"). Rejects with the request's error (its `code`: ECONNREFUSED, ECONNRESET…);
 * with `timeoutMs`, also when the connection stays quiet that long.
 */
export function freshExchange(url: string, method: 'GET' | 'POST', body?: string, timeoutMs?: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
    const req = request(url, { method, headers, agent: false, ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: nothing for ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Resolves once `ready()` is true (checked every 10 ms); rejects with `why()` after `ms`. */
export async function until(ready: () => boolean, ms: number, why: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`after ${ms} ms: ${why()}`);
    await new Promise((res) => setTimeout(res, 10));
  }
}
