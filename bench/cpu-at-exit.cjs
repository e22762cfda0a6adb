// Preloaded (NODE_OPTIONS=--require) into a process a bench runs: writes its own CPU time
// (process.cpuUsage, µs) to $BENCH_CPU_FILE when it exits, so the bench can quote CPU per operation.
// With BENCH_THREAD_CPU=1, also `main`: the main thread's own share (µs), read after the total,
// from Linux's /proc/self/task/<pid>/schedstat (its first field: time on CPU, ns), else its
// stat (utime + stime, clock ticks of 10 ms: USER_HZ is 100 on Linux); the rest of the total is
// the process's other threads — V8's compiler and GC helpers, libuv's pool. Absent without /proc.
process.on('exit', () => {
  const fs = require('node:fs');
  const used = process.cpuUsage();
  if (process.env.BENCH_THREAD_CPU === '1') used.main = mainThreadMicros(fs);
  fs.writeFileSync(process.env.BENCH_CPU_FILE, JSON.stringify(used));
});

function mainThreadMicros(fs) {
  const task = `/proc/self/task/${process.pid}`;
  try {
    return Number(fs.readFileSync(`${task}/schedstat`, 'utf8').split(' ')[0]) / 1000;
  } catch {
    // no schedstat (a kernel without CONFIG_SCHED_INFO): stat's ticks
  }
  try {
    const stat = fs.readFileSync(`${task}/stat`, 'utf8');
    // The fields after the thread's name, which is in parentheses and may hold ") ": the 12th and 13th are utime and stime.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return undefined; // no /proc here: the total alone
  }
}
