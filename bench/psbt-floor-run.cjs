// Runs bench/psbt-floor.ts's bundle (argv[2]) as bin/run.js runs
// dist/psbt-decode.cjs: its text compiled by vm.Script through its V8 code cache (argv[2] +
// '.cache', written at exit when BENCH_WRITE_CODE_CACHE=1 — the training run), called as the
// CommonJS wrapper function it is written as, with process.getBuiltinModule as its require.
'use strict';
const fs = process.getBuiltinModule('node:fs');
const vm = process.getBuiltinModule('node:vm');
const file = process.argv[2];
let cachedData;
try {
  cachedData = fs.readFileSync(`${file}.cache`);
} catch {
  cachedData = undefined;
}
const script = new vm.Script(fs.readFileSync(file, 'utf8'), { filename: file, cachedData });
const mod = { exports: {} };
script.runInThisContext().call(mod.exports, mod.exports, process.getBuiltinModule, mod, file, process.getBuiltinModule('node:path').dirname(file));
if (process.env.BENCH_WRITE_CODE_CACHE === '1') process.once('beforeExit', () => fs.writeFileSync(`${file}.cache`, script.createCachedData()));
mod.exports.main();
