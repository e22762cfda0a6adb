// Preloaded (--require, BENCH_SERVE_NODE_ARGS or bench/serve.ts's BENCH_SERVE_STALLS=1) into a
// `serve mint` on SQLite: what its main thread was doing when it stalled. Writes, at exit, a JSON
// array of events (epoch ms) to $BENCH_STALL_FILE; bench/stalls.ts reads them.
//   ['stall', at, wall ms, main-thread CPU ms, COMMIT ms, run-queue wait ms, other threads' CPU ms]
//       the event loop did not turn for more than 15 ms (a 2 ms timer that came late). The run-queue
//       wait is Linux's schedstat (its second field): time the main thread was runnable but another
//       thread — of another process, or V8's and libuv's own threads — had its core.
//   ['commit', at, wall ms, 'CKPT' | '', WAL bytes after, main-thread CPU ms]
//       each COMMIT on a state.sqlite; 'CKPT' when the database file itself changed under it (size
//       or mtime): SQLite's WAL autocheckpoint ran inside that COMMIT.
//   ['gc', at, wall ms, kind (1 scavenge, 4 mark-compact, 8 incremental marking, 16 weak callbacks),
//       new space MB in use after, old space MB in use after]
// It costs a timer every 2 ms and two stat() per COMMIT: quote its figures beside each other, not
// beside a run without it. Needs Linux's /proc/thread-self/schedstat (CONFIG_SCHED_INFO).
'use strict';
const { performance, PerformanceObserver } = require('node:perf_hooks');
const fs = require('node:fs');
const v8 = require('node:v8');

const events = [];
const now = () => performance.timeOrigin + performance.now();
const mainCpu = () => {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
};
const allCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const schedstat = fs.openSync('/proc/thread-self/schedstat', 'r');
const buf = Buffer.alloc(128);
const waited = () => Number(buf.toString('latin1', 0, fs.readSync(schedstat, buf, 0, 128, 0)).split(' ')[1]) / 1e6;

let last = { at: now(), main: mainCpu(), all: allCpu(), waited: waited() };
let commitMs = 0;
setInterval(() => {
  const t = { at: now(), main: mainCpu(), all: allCpu(), waited: waited() };
  const wall = t.at - last.at;
  if (wall > 15) {
    const main = t.main - last.main;
    events.push(['stall', last.at, +(wall - 2).toFixed(1), +main.toFixed(1), +commitMs.toFixed(1), +(t.waited - last.waited).toFixed(1), +(t.all - last.all - main).toFixed(1)]);
  }
  last = t;
  commitMs = 0;
}, 2).unref();

new PerformanceObserver((list) => {
  const spaces = v8.getHeapSpaceStatistics();
  const used = (name) => +((spaces.find((s) => s.space_name === name)?.space_used_size ?? 0) / 1048576).toFixed(1);
  for (const e of list.getEntries()) events.push(['gc', performance.timeOrigin + e.startTime, +e.duration.toFixed(2), e.detail?.kind, used('new_space'), used('old_space')]);
}).observe({ entryTypes: ['gc'] });

// better-sqlite3 as the service loads it (the same file, so the same module): each COMMIT timed,
// whether run by exec('COMMIT') or by a statement prepared from 'COMMIT' (the store prepares its
// BEGIN and COMMIT once: src/lib/store/sqlite/database.ts controlStatements).
const Database = require(require.resolve('better-sqlite3', { paths: [require('node:path').dirname(process.argv[1] ?? '.'), __dirname] }));
/** `commit()` timed as one COMMIT on the database file `file`. */
function timedCommit(file, commit) {
  const before = fs.statSync(file);
  const at = now();
  const cpu = mainCpu();
  const result = commit();
  const ms = now() - at;
  const cpuMs = mainCpu() - cpu;
  commitMs += ms;
  const after = fs.statSync(file);
  let wal = 0;
  try {
    wal = fs.statSync(`${file}-wal`).size;
  } catch {
    // no WAL (not in WAL mode)
  }
  const checkpointed = after.mtimeMs !== before.mtimeMs || after.size !== before.size;
  events.push(['commit', at, +ms.toFixed(2), checkpointed ? 'CKPT' : '', wal, +cpuMs.toFixed(2)]);
  return result;
}
const isStateCommit = (db, sql) => sql === 'COMMIT' && db.name.endsWith('state.sqlite');
const exec = Database.prototype.exec;
Database.prototype.exec = function (sql) {
  return isStateCommit(this, sql) ? timedCommit(this.name, () => exec.call(this, sql)) : exec.call(this, sql);
};
const prepare = Database.prototype.prepare;
Database.prototype.prepare = function (sql) {
  const statement = prepare.call(this, sql);
  if (!isStateCommit(this, sql)) return statement;
  const run = statement.run;
  const file = this.name;
  statement.run = (...args) => timedCommit(file, () => run.apply(statement, args));
  return statement;
};

process.on('exit', () => fs.writeFileSync(process.env.BENCH_STALL_FILE, JSON.stringify(events)));
