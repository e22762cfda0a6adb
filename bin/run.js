#!/usr/bin/env node
// Production entry. `--version` is answered before anything is loaded (runbooks and
// monitoring call it often); `psbt decode`, which scripts call most, by small bundles
// without oclif (src/fast-decode/): dist/psbt-decode-plain.cjs for a PSBT that carries no key
// (no btc-signer loaded), then dist/psbt-decode.cjs for any other, each handing what it does
// not answer exactly as the full CLI would on; `device pay`, the device's toll, by
// dist/device-pay.cjs (src/fast-toll/: its command class without oclif's configuration).
// Everything else runs the bundle dist/offchain.cjs. Each bundle is compiled through a V8 code cache when one made by this
// V8 exists (see scripts/build.mjs). OFFCHAIN_FAST_PATHS=0 turns these shortcuts off.
//
// CommonJS (bin/package.json), not an ES module: Node 20 starts the ES module loader for an
// ES entry, ~15 ms here — more than everything `--version` does.
'use strict';
const argv = process.argv.slice(2);
const debug = argv.includes('--debug');
/** The head of Node's CommonJS wrapper (Module.wrap), which a bundle written already wrapped begins with (loadBundle). */
const MODULE_HEAD = '(function (exports, require, module, __filename, __dirname) { ';
/** The node flag a service runs with (reexecutedAsService). */
const SERVICE_NODE_FLAG = '--max-semi-space-size=4';

// The last line of defence of the error contract: anything no command caught is one coded
// line on stderr (its stack only with --debug), exit 1 — never Node's default report, which
// prints the minified bundle's source line (~22 KB) and a stack. A reader that closed the
// pipe (EPIPE) is the one quiet case.
function lastResort(e) {
  if (e && e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  const message = String((e && e.message) || e).split('\n')[0].trim();
  try {
    process.stderr.write(`offchain: error E_INTERNAL: ${message} (rerun with --debug for details)\n`);
    if (argv.includes('--debug') && e && e.stack) process.stderr.write(e.stack + '\n');
  } catch {
    // stderr itself is gone: the exit code is all that is left.
  }
  process.exit(process.exitCode && process.exitCode !== 0 ? process.exitCode : 1);
}
process.on('uncaughtException', lastResort);
process.on('unhandledRejection', lastResort);

// The Node.js offchain runs on: package.json's engines.node, the LTS lines CI tests
// (scripts/test.mjs: the whole suite on 24, the stores and native modules on 22 and 26).
// Older ones are refused before anything is loaded, in one coded line naming what to run
// instead: better-sqlite3 13 crashes Node 20 in the middle of a step (a segfault), and
// Node 20 reached its end of life in April 2026. `--version` still answers, saying so.
// test/e2e/node-lines.test.ts holds these equal to package.json.
const NODE_MIN = [22, 12];
const NODE_LINES = '22, 24 and 26';
const nodeSupported = (() => {
  const [major, minor] = process.versions.node.split('.').map(Number);
  return major > NODE_MIN[0] || (major === NODE_MIN[0] && minor >= NODE_MIN[1]);
})();

// The spellings bitcoin-cli / hal users type: --version, -v, -V, version.
if (argv.length === 1 && ['--version', '-v', '-V', 'version'].includes(argv[0])) {
  printVersion();
} else if (!nodeSupported) {
  refuseNode();
} else if (!reexecutedAsService()) {
  void run();
}

/**
 * A long-running process — a service (`offchain serve …`) or the mint's stream (`credit
 * sign-update --stream`) — runs with V8's young generation held to 4 MB a semi-space
 * (SERVICE_NODE_FLAG): this file is started again in the same process (process.execve: the
 * same PID, descriptors and environment, nothing read or loaded yet) with that flag. Left to
 * grow (to 64 MB of new space on Node 24, against 8 MB held), a service's scavenges came rarely and took
 * 26–59 ms each, every request behind one waiting for it: 64 users paced at 310 payments/s
 * had a p99 of 149–204 ms after warm-up; held to 4 MB, 48 scavenges of 2.2 ms (median) per
 * 1,008 payments instead of 4, and a p99 of 20.5 ms; its CPU per payment fell too (bench/serve.ts,
 * BENCH_SERVE_STALLS=1 and BENCH_ANCHOR). A one-shot command is left as it is: a second start
 * costs what bare node does (90–110 ms of CPU here), more than a one-shot's GC. A semi-space size the operator chose (node's own flags,
 * NODE_OPTIONS) is kept as given; a Node without process.execve (before 22.15) runs without the flag.
 * Returns true when this image is being replaced (nothing more runs in it).
 */
function reexecutedAsService() {
  const stream = (argv[0] === 'sign-update' || (argv[0] === 'credit' && argv[1] === 'sign-update')) && argv.includes('--stream');
  if ((argv[0] !== 'serve' && !stream) || typeof process.execve !== 'function') return false;
  if (argv.includes('--help') || argv.includes('-h')) return false;
  if (/--(max|min)[-_]semi[-_]space[-_]size/.test(`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`)) return false;
  process.execve(process.execPath, [process.execPath, ...process.execArgv, SERVICE_NODE_FLAG, __filename, ...argv]);
  return true;
}

/** E_NODE_VERSION (exit 1): this Node is too old; the one `npm ci` brought beside the toolkit (package.json optionalDependencies `node`) named when it is there. */
function refuseNode() {
  const fs = process.getBuiltinModule?.('node:fs') ?? require('node:fs');
  const path = process.getBuiltinModule?.('node:path') ?? require('node:path');
  const bundled = path.join(__dirname, '..', 'node_modules', '.bin', 'node');
  const instead = fs.existsSync(bundled)
    ? `run it with the Node.js "npm ci" put beside it: ${bundled} ${__filename} …, or put ${path.dirname(bundled)} first on PATH`
    : 'install Node.js 24 LTS (nodejs.org or your package manager; on linux-x64 "npm ci" in the toolkit\'s folder brings it as node_modules/.bin/node)';
  process.stderr.write(`offchain: error E_NODE_VERSION: Node.js ${process.version} is not supported: offchain runs on Node.js ${NODE_MIN.join('.')} or later (tested on the LTS lines ${NODE_LINES}); ${instead}\n`);
  process.exitCode = 1;
}

/**
 * The version line, without Node's module loader or process.stdout: package.json read as a file,
 * the line written straight to descriptor 1 (creating process.stdout for a pipe loads node:net and
 * the stream modules). A descriptor the parent left non-blocking may refuse the write (EAGAIN): the
 * line then goes through process.stdout, which waits for the reader. Any other failure is the
 * uncaught error the stream's own write would have raised (lastResort: EPIPE quiet, else coded).
 */
function printVersion() {
  // (process.getBuiltinModule is from Node 20.16 and 22.3: an older Node is told it is not supported, not crashed.)
  const fs = process.getBuiltinModule?.('node:fs') ?? require('node:fs');
  const { version } = JSON.parse(fs.readFileSync(`${__dirname}/../package.json`, 'utf8'));
  const support = nodeSupported ? `supports Node.js ${NODE_MIN.join('.')}+, tested on ${NODE_LINES}` : `not supported on this Node.js: needs ${NODE_MIN.join('.')}+, tested on ${NODE_LINES}`;
  const line = `offchain/${version} ${process.platform}-${process.arch} node-${process.version} (${support})\n`;
  try {
    fs.writeSync(1, line);
  } catch (e) {
    if (!e || e.code !== 'EAGAIN') throw e;
    process.stdout.write(line);
  }
}

async function run() {
  // --debug: stacks point into src/ (dist/offchain.cjs.map, which the build writes).
  if (debug) process.setSourceMapsEnabled(true);
  // (It hands back --debug: not tried then, since its file is no module for Node's own loader.)
  const fast = !debug && argv[0] === 'psbt' && argv[1] === 'decode' && process.env.OFFCHAIN_FAST_PATHS !== '0';
  let answered = { done: false };
  // The second reader only where the first left the PSBT itself (`psbt`): for anything else
  // (--help, a flag it does not take, unreadable input) neither shortcut answers.
  for (const name of fast ? ['psbt-decode-plain.cjs', 'psbt-decode.cjs'] : []) {
    let main;
    try {
      main = loadShortcut(name).main;
    } catch {
      break; // a bundle missing or unloadable: the full CLI answers, before anything is read
    }
    answered = await main(argv);
    if (answered.stdin !== undefined) globalThis[Symbol.for('offchain.stdin')] = answered.stdin;
    if (answered.done || !answered.psbt) break;
  }
  // `device pay` (the device's toll): its own bundle without oclif's configuration
  // (src/fast-toll/), which hands back --help, --print-config and a configuration file.
  if (!debug && argv[0] === 'device' && argv[1] === 'pay' && process.env.OFFCHAIN_FAST_PATHS !== '0') {
    let main;
    try {
      main = loadBundle('device-pay.cjs').main;
    } catch {
      // a bundle missing or unloadable: the full CLI answers, before anything is read
    }
    if (main) answered = await main(argv);
  }
  if (!answered.done) await loadBundle('offchain.cjs', true).main(argv);
}

/**
 * A shortcut bundle (dist/psbt-decode*.cjs), compiled through its code cache, as a plain
 * function: its file is already the function a module's code is wrapped in (scripts/build.mjs
 * SHORTCUT_WRAPPER), and its only
 * requires are Node's own modules (node:fs, node:path; the build refuses any other), which it
 * gets from process.getBuiltinModule, as its `require`: no trip through the CommonJS resolver
 * (0.4 M instructions of a decode, callgrind). So no Module object, no node_modules search paths,
 * no entry in require's cache — and no second copy of its text — which loadBundle makes for the
 * full CLI (its packages, its import()s).
 */
function loadShortcut(name) {
  const fs = process.getBuiltinModule('node:fs');
  const vm = process.getBuiltinModule('node:vm');
  const dir = process.getBuiltinModule('node:path').join(__dirname, '..', 'dist');
  const file = `${dir}/${name}`;
  const cacheFile = cacheFileOf(file);
  const script = new vm.Script(fs.readFileSync(file, 'utf8'), { filename: file, cachedData: codeCache(fs, cacheFile) });
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, process.getBuiltinModule, mod, file, dir);
  if (process.env.OFFCHAIN_WRITE_CODE_CACHE === '1') {
    process.once('beforeExit', () => fs.writeFileSync(cacheFile, script.createCachedData()));
  }
  return mod.exports;
}

/**
 * A bundle's code cache file, one per V8: a cache made by another V8 is rejected whole, so each
 * Node line has its own (scripts/build.mjs trains one on each it finds; Node 22 started on 24's
 * cache took 7.5x bare node's CPU for a command, 4.4x on its own).
 */
function cacheFileOf(file) {
  return `${file}.${process.versions.v8}.cache`;
}

/** A bundle's V8 code cache (scripts/build.mjs), or undefined where there is none: V8 then compiles from the text. */
function codeCache(fs, cacheFile) {
  try {
    return fs.readFileSync(cacheFile);
  } catch {
    return undefined;
  }
}

function loadBundle(name, cli = false) {
  const fs = require('node:fs');
  const vm = require('node:vm');
  const path = process.getBuiltinModule?.('node:path') ?? require('node:path');
  const Module = require('node:module');
  const file = path.join(__dirname, '..', 'dist', name);
  globalThis[Symbol.for('offchain.import')] = (specifier) => import(specifier);
  // And require, for the optional CommonJS packages (src/lib/musig/engine/select.ts): import()
  // of one starts Node's ES module loader, ~5 ms of a command's CPU.
  globalThis[Symbol.for('offchain.require')] = require;
  if (debug) {
    // --debug: Node's own loader, which reads the bundle's source map (a script compiled
    // through vm is not mapped), so a stack names src/…ts lines. Slower to start; debug only.
    const exports = require(file);
    if (cli) globalThis[Symbol.for('offchain.bundle')] = exports;
    return exports;
  }
  const cacheFile = cacheFileOf(file);
  const cachedData = codeCache(fs, cacheFile);
  // The bundle's import() calls (oclif loading ES-module plugins, the lazy prompt) come
  // to the importer set above: a script compiled by vm cannot import() by itself (scripts/build.mjs).
  // A bundle the build wrote already wrapped (dist/device-pay.cjs: scripts/build.mjs MODULE_WRAPPER)
  // is compiled as it is: Module.wrap would make a second copy of its text for V8 to flatten.
  const text = fs.readFileSync(file, 'utf8');
  const script = new vm.Script(text.startsWith(MODULE_HEAD) ? text : Module.wrap(text), { filename: file, cachedData });
  const mod = new Module(file, undefined);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  const req = Object.assign((id) => mod.require(id), { resolve: (id) => Module._resolveFilename(id, mod), cache: Module._cache });
  script.runInThisContext().call(mod.exports, mod.exports, req, mod, file, path.dirname(file));
  mod.loaded = true;
  Module._cache[file] = mod;
  if (cli) globalThis[Symbol.for('offchain.bundle')] = mod.exports;
  if (process.env.OFFCHAIN_WRITE_CODE_CACHE === '1') {
    process.once('beforeExit', () => fs.writeFileSync(cacheFile, script.createCachedData()));
  }
  return mod.exports;
}
