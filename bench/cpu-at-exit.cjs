// Preloaded (NODE_OPTIONS=--require) into a process a bench runs: writes its own CPU time
// (process.cpuUsage, µs) to $BENCH_CPU_FILE when it exits, so the bench can quote CPU per operation.
process.on('exit', () => require('node:fs').writeFileSync(process.env.BENCH_CPU_FILE, JSON.stringify(process.cpuUsage())));
