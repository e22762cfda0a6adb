// Preloaded (NODE_OPTIONS=--require) into a process a bench runs: writes its own CPU time
// (process.cpuUsage, µs) to $BENCH_CPU_FILE when it exits, so the bench can quote CPU per operation.
// With BENCH_THREAD_CPU=1, also `main`: the main thread's own share (µs), read after the total
// from Linux's /proc/self/task/<pid>/stat (utime + stime, in clock ticks of 10 ms: USER_HZ is 100
// on Linux), where the rest is the process's other threads — V8's optimizing compiler and GC
// helpers, libuv's pool. Absent where /proc is not.
process.on('exit', () => {
  const fs = require('node:fs');
  const used = process.cpuUsage();
  if (process.env.BENCH_THREAD_CPU === '1') {
    try {
      const fields = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      used.main = (Number(fields[11]) + Number(fields[12])) * 10_000;
    } catch {
      // no /proc here: the total alone
    }
  }
  fs.writeFileSync(process.env.BENCH_CPU_FILE, JSON.stringify(used));
});
