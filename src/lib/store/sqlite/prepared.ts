/**
 * Statements prepared once per connection, whatever store asks for them: a long-running
 * command (`device pay --stream`, a watcher) makes its stores again at every step over the
 * one connection of the run, and preparing their statements again cost ~1.5 ms a toll in
 * the stream's profile. `make` is the key: one module-level function per set of statements.
 * They die with their connection.
 */
import type BetterSqlite3 from 'better-sqlite3';

const byConnection = new WeakMap<BetterSqlite3.Database, Map<(sql: BetterSqlite3.Database) => unknown, unknown>>();

export function preparedOnce<Q>(sql: BetterSqlite3.Database, make: (sql: BetterSqlite3.Database) => Q): Q {
  let sets = byConnection.get(sql);
  if (sets === undefined) byConnection.set(sql, (sets = new Map()));
  let q = sets.get(make) as Q | undefined;
  if (q === undefined) sets.set(make, (q = make(sql)));
  return q;
}
