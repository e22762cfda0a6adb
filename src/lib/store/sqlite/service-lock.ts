/**
 * ONE LONG-RUNNING OWNER PER STATE DIRECTORY. A service (`serve mint`, `serve gateway`) or a
 * mint stream on SQLite keeps in its memory what it alone may know — the batch it has not
 * committed, the nonces it is about to hand out — so a second one on the same directory is
 * refused at its start (E_LOCK_HELD, exit 5) rather than left to race the first; one-shot
 * commands beside it are not affected. (On PostgreSQL any number share a store: nothing here.)
 *
 * The hold is SQLite's own exclusive lock on a file of its own beside the database,
 * `service.lock`, kept by a connection in `locking_mode=EXCLUSIVE` after one write: a POSIX
 * lock, dropped by the kernel when the process ends however it ends (kill -9 included), so no
 * stale lock is ever left to clean up.
 */
import { join } from 'node:path';
import { StateConflictError } from '../../errors.ts';
import { errnoCode } from '../write-errors.ts';
import { openSqlite } from './driver.ts';
import { makeFile } from './files.ts';

export const SERVICE_LOCK_FILE = 'service.lock';

/** Hold `dir` (a network's state directory, which exists) for this process; E_LOCK_HELD when another process holds it. */
export function holdStateDir(dir: string, what: string): { release(): void } {
  const path = join(dir, SERVICE_LOCK_FILE);
  makeFile(path);
  let sql: ReturnType<typeof openSqlite> | undefined;
  try {
    // Opening sets pragmas that read the file: the holder's lock refuses them too.
    sql = openSqlite(path, 0);
    sql.pragma('locking_mode = EXCLUSIVE');
    // Its one row says who holds it and needs no durability: no journal file beside it (an
    // exclusive connection keeps its journal, which outlived a refused request in the directory).
    sql.pragma('journal_mode = MEMORY');
    sql.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, what TEXT NOT NULL)');
    sql.prepare('INSERT INTO holder (pid, what) VALUES (?, ?)').run(process.pid, what);
    sql.exec('DELETE FROM holder WHERE rowid < (SELECT max(rowid) FROM holder)');
  } catch (e) {
    sql?.close();
    if (/^SQLITE_BUSY|^SQLITE_LOCKED/.test(errnoCode(e) ?? '')) {
      throw new StateConflictError('E_LOCK_HELD', `${dir} is held by another long-running process (a serve or a --stream on this SQLite --state-dir): one runs per directory; stop it, or give this one a --state-dir of its own (on PostgreSQL, --store, any number share one)`, { path: dir });
    }
    throw e;
  }
  const held = sql;
  return { release: () => held.close() };
}
