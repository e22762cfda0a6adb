/**
 * Where a command opens its network's state: `state.sqlite` in `<state-dir>/<network>`
 * (database.ts), after importing, once, a directory of the file layout the toolkit kept
 * before it (migrate-v0.ts). Reading creates nothing: without `create`, a directory that
 * holds neither gives undefined.
 */
import { StateDb } from './database.ts';
import { importFileLayout, legacyLayout } from './migrate-v0.ts';

export function openState(dir: string, opts: { create: boolean }): StateDb | undefined {
  // Open in this process already: its import, if any, was done by the first open.
  const shared = StateDb.reopen(dir);
  if (shared) return shared;
  const legacy = legacyLayout(dir);
  const db = StateDb.open(dir, { create: opts.create || legacy });
  if (db === undefined) return undefined;
  if (legacy) {
    try {
      importFileLayout(db);
    } catch (e) {
      db.close();
      throw e;
    }
  }
  return db;
}
