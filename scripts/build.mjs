#!/usr/bin/env node
/**
 * Build for a fast cold start (the brief: `offchain --version` ≤ 1.5× bare node,
 * `psbt decode` ≤ 2×). Measured on Node 20, most of a plain oclif CLI's start-up is
 * resolving, compiling and linking hundreds of ES modules. So:
 *
 * 1. esbuild bundles src/cli.ts (oclif, every command, src/lib) into ONE CommonJS file,
 *    dist/offchain.cjs. Commands' lazy `import()`s become lazy module initialisers inside
 *    it: code that a command does not use is parsed but never run.
 *    `psbt decode`, which scripts call most, also gets two bundles of its own without oclif,
 *    dist/psbt-decode-plain.cjs and dist/psbt-decode.cjs (src/fast-decode/), which bin/run.js
 *    tries first.
 * 2. bin/run.js compiles that file through vm.Script with a V8 code cache
 *    (dist/offchain.cjs.<V8 version>.cache, made here by a training run on each Node line
 *    node_modules holds), skipping compilation. A cache
 *    made by another V8 is rejected by V8 itself and the file is compiled normally.
 *    A script run that way cannot use `import()` on Node 20 once a code cache is
 *    involved, so the few `import()` calls the bundle keeps (oclif loading ES-module
 *    plugins such as autocomplete; the lazy inquirer prompt) are rewritten to call an
 *    importer that bin/run.js provides (its own import(), which a CommonJS file has too).
 * 3. oclif finds the commands through dist/commands.cjs (package.json oclif.commands,
 *    strategy "explicit"), which hands back the bundle bin/run.js already loaded.
 * 4. oclif.manifest.json is regenerated from the fresh bundle (a stale one hides commands).
 * 5. dist/build-inputs.json records the SHA-256 of every file the bundle was built from
 *    (esbuild's metafile: src/, the node_modules code it inlined) and of this script, so
 *    the tests that run dist/ can refuse a stale build (test/setup/dist.ts).
 */
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installedNode, LINES, supported } from './node-lines.mjs';
import { patchOclif } from './oclif-patches.mjs';
import { BTC_SIGNER_PATCHES } from './btc-signer-patches.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Build beside dist/ and swap it in at the end, so a CLI started during a rebuild (a test,
// the demo) finds either the old bundle or the new one, never none.
const out = join(root, `dist.next-${process.pid}`);
rmSync(out, { recursive: true, force: true });

const IMPORTER = "globalThis[Symbol.for('offchain.import')]";

/** Rewrite runtime `import(x)` calls of the files that keep them into the importer. */
const routeDynamicImports = {
  name: 'route-dynamic-imports',
  setup(b) {
    b.onLoad({ filter: /node_modules[\\/](@oclif[\\/]core[\\/]lib|lilconfig[\\/]src)[\\/].*\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8').replace(/(?<![\w.$])import\(/g, '__offchainImport(');
      return { contents: patchOclif(args.path, text), loader: 'js' };
    });
    b.onLoad({ filter: /src[\\/]lib[\\/]cli[\\/]secrets\.ts$/ }, (args) => ({
      contents: readFileSync(args.path, 'utf8').replace("import('inquirer')", "__offchainImport('inquirer')"),
      loader: 'ts',
    }));
    // The services' external packages (fastify, pino, prom-client): a script compiled by vm cannot import() them by itself.
    // The services' shell, and the watcher's (its log and /metrics, its ZMQ subscriber).
    b.onLoad({ filter: /src[\\/]topics[\\/](serve|watch)[\\/][^\\/]+\.ts$/ }, (args) => ({
      contents: readFileSync(args.path, 'utf8').replace(/\bawait import\('(fastify|@fastify\/rate-limit|pino|prom-client|zeromq)'\)/g, "await __offchainImport('$1')"),
      loader: 'ts',
    }));
  },
};

/**
 * micro-packed 0.11.1 (under @scure/btc-signer) encodes an array with a terminator — every
 * PSBT map is one — by calling `finish(false)` on its Writer after each element, to check
 * that the element does not begin with the terminator. `finish(false)` copies everything
 * written so far: serialising a PSBT is quadratic in its key-value pairs (psbt combine of
 * 8,000 inputs took 16 s). Here that one call reads only the element's own bytes, from
 * the end of the Writer's buffers: the same bytes, the same check, linear. A build of
 * another micro-packed whose text differs fails here, so the patch is never silently lost.
 */
const MICRO_PACKED_QUADRATIC = 'const data = _w.finish(false).subarray(startPos, _w.pos);';
const linearTerminatorCheck = {
  name: 'linear-terminator-check',
  setup(b) {
    b.onLoad({ filter: /node_modules[\\/]micro-packed[\\/]index\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes(MICRO_PACKED_QUADRATIC)) throw new Error(`${args.path}: the terminated-array check changed; review scripts/build.mjs linearTerminatorCheck`);
      const helper =
        '\nfunction __writtenSince(w, start) {' +
        ' const out = new Uint8Array(w.pos - start); let left = out.length;' +
        ' for (let i = w.buffers.length - 1; left > 0 && i >= 0; i--) {' +
        '  const b = w.buffers[i]; const part = b instanceof Uint8Array ? b : b.chunk.subarray(b.start, b.end);' +
        '  const take = Math.min(part.length, left); out.set(part.subarray(part.length - take), left - take); left -= take; }' +
        ' return out; }\n';
      return { contents: text.replace(MICRO_PACKED_QUADRATIC, 'const data = __writtenSince(_w, startPos);') + helper, loader: 'js' };
    });
  },
};

/** btc-signer's key check, remembered per key (scripts/btc-signer-patches.mjs). */
const btcSignerPatches = {
  name: 'btc-signer-patches',
  setup(b) {
    for (const [file, patch] of BTC_SIGNER_PATCHES) {
      b.onLoad({ filter: file }, (args) => ({ contents: patch(args.path, readFileSync(args.path, 'utf8')), loader: 'js' }));
    }
  },
};

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  // oclif loads TypeScript only to run .ts plugins in development; never in the bundle.
  // inquirer (the hidden key prompt) is big and needed only at a terminal: load it from
  // node_modules when asked instead of carrying it in every start-up.
  // The services' HTTP server, logger and metrics (src/topics/serve/) are loaded from
  // node_modules by `serve` alone: no other command parses them at start-up. zeromq (optional,
  // native) only by a long-running watcher whose node offers ZMQ (src/topics/watch/hashblock.ts).
  external: ['typescript', 'ts-node', 'inquirer', 'better-sqlite3', 'fastify', '@fastify/rate-limit', 'pino', 'prom-client', 'zeromq'],
  // OFFCHAIN_BUILD_READABLE=1: unminified, for reading CPU profiles.
  minify: !process.env.OFFCHAIN_BUILD_READABLE,
  keepNames: true,
  legalComments: 'none',
  logLevel: 'warning',
};

const started = Date.now();
/** A bundle bin/run.js loads as a CommonJS module through loadBundle: the full CLI's, and `device pay`'s. */
const loadedBundle = {
  ...common,
  metafile: true,
  outdir: out,
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  sourcemap: 'linked',
  define: { 'import.meta.url': '__offchainModuleUrl' },
  banner: {
    js:
      "const __offchainModuleUrl = require('node:url').pathToFileURL(__filename).href;" +
      `const __offchainImport = (s) => (${IMPORTER} ?? ((x) => import(x)))(s);`,
  },
};
const cli = await build({
  ...loadedBundle,
  entryPoints: { offchain: 'src/cli.ts' },
  plugins: [routeDynamicImports, linearTerminatorCheck, btcSignerPatches],
});
// `device pay`'s bundle (src/fast-toll/): the same command class and library code, with
// `@oclif/core` resolved to src/fast-toll/oclif-lite.ts (oclif's flags and parser, no Config,
// help or plugins). Loaded as the full CLI's is (bin/run.js loadBundle): it requires
// better-sqlite3 and, for the curve, the optional native backends.
const OCLIF_LITE = join(root, 'src/fast-toll/oclif-lite.ts');
const oclifLite = {
  name: 'oclif-lite',
  setup(b) {
    b.onResolve({ filter: /^@oclif\/core$/ }, () => ({ path: OCLIF_LITE }));
  },
};
// (Its source map is for CPU profiles, bench/cpu-parts.ts; --debug runs the full CLI.)
// Written as the function Node's CommonJS loader would wrap it in (MODULE_WRAPPER), which
// bin/run.js compiles as it is: Module.wrap made a second copy of the 1 MB text for V8 to
// flatten (~250 page faults of a toll's ~8,000, each a trip into this VM's kernel).
const MODULE_WRAPPER = ['(function (exports, require, module, __filename, __dirname) { ', '\n});'];
const devicePay = await build({
  ...loadedBundle,
  entryPoints: { 'device-pay': 'src/fast-toll/device-pay.ts' },
  banner: { js: MODULE_WRAPPER[0] + loadedBundle.banner.js },
  footer: { js: MODULE_WRAPPER[1] },
  plugins: [oclifLite, routeDynamicImports, linearTerminatorCheck, btcSignerPatches],
});
for (const input of Object.keys(devicePay.metafile.inputs)) {
  if (/node_modules\/@oclif\/core\/lib\/(index|main|execute|config\/(config|plugin|index))\.js$|src\/cli\.ts$/.test(input)) throw new Error(`dist/device-pay.cjs would hold ${input}: it is the bundle without oclif's configuration and command table`);
}
// `psbt decode`'s shortcuts (src/fast-decode/): the same library code, without oclif.
const shortcut = {
  ...common,
  metafile: true,
  outdir: out,
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  // No randomness in the shortcut: decoding uses no secret, and noble's start-up probe of
  // globalThis.crypto loads Node's WebCrypto (~4 ms of a ~30 ms start). Without it noble
  // turns its scalar blinding off, and anything that did ask for random bytes would throw —
  // which the shortcut answers by handing the invocation to the full CLI.
  define: { 'globalThis.crypto': 'undefined' },
  // Without keepNames: it wraps every function and class the bundle creates in a call that
  // redefines its `name` — micro-packed's coders make thousands at start-up, 14 M of the
  // ~50 M instructions this command ran beyond bare node (callgrind), and one young-generation
  // GC of two. No name reaches this bundle's output: every error goes back to the full CLI
  // (which keeps them), and the one it reports itself (a failed write) is its code and message.
  keepNames: false,
  // Written as the function Node's CommonJS loader would wrap it in, which bin/run.js compiles
  // as it is: wrapping it there made a second copy of the 200 kB source for V8 to flatten.
  banner: { js: MODULE_WRAPPER[0] },
  footer: { js: MODULE_WRAPPER[1] },
};
// Any PSBT, through parsePsbt (btc-signer, the selected secp256k1 backend).
const fastDecode = await build({ ...shortcut, entryPoints: { 'psbt-decode': 'src/fast-decode/signer.ts' }, plugins: [linearTerminatorCheck, btcSignerPatches] });
// A PSBT that carries no key, without btc-signer: every import of it resolves to a stand-in whose
// names throw when touched (src/fast-decode/signer-absent.ts; the reader then leaves the PSBT to
// the bundle above). Refused if it would hold btc-signer, or the curve, after all.
const SIGNER_ABSENT = join(root, 'src/fast-decode/signer-absent.ts');
const signerAbsent = {
  name: 'signer-absent',
  setup(b) {
    b.onResolve({ filter: /^@scure\/btc-signer(\/.*)?$/ }, () => ({ path: SIGNER_ABSENT }));
  },
};
// A name the stand-in lacks is an error however it is imported (a namespace import would
// otherwise only warn, and read as undefined — a TypeError a try could swallow, uncounted).
const plainDecode = await build({
  ...shortcut,
  entryPoints: { 'psbt-decode-plain': 'src/fast-decode/plain.ts' },
  plugins: [signerAbsent, linearTerminatorCheck],
  logOverride: { 'import-is-undefined': 'error' },
});
for (const input of Object.keys(plainDecode.metafile.inputs)) {
  if (/node_modules\/(@scure\/btc-signer|@noble\/curves|micro-packed)\//.test(input)) throw new Error(`dist/psbt-decode-plain.cjs would hold ${input}: it is the reader that loads neither btc-signer nor the curve`);
}
// bin/run.js hands each shortcut process.getBuiltinModule as its `require`: Node's own modules only.
for (const [name, result] of [['psbt-decode', fastDecode], ['psbt-decode-plain', plainDecode]]) {
  for (const { path } of Object.values(result.metafile.outputs).flatMap((o) => o.imports)) {
    if (!path.startsWith('node:')) throw new Error(`dist/${name}.cjs would require ${path}: bin/run.js gives the shortcut Node's own modules only (node:…)`);
  }
}
// What the bundle is made of, by content: a test run compares it with the files on disk.
// A file edited while esbuild ran may differ from what it read: record it as unknown
// (so the build counts as stale) rather than hash content the bundle may not hold.
const sha256 = (path) =>
  statSync(join(root, path)).mtimeMs >= started ? 'modified during the build' : createHash('sha256').update(readFileSync(join(root, path))).digest('hex');
const inputs = [...new Set([...Object.keys(cli.metafile.inputs), ...Object.keys(devicePay.metafile.inputs), ...Object.keys(fastDecode.metafile.inputs), ...Object.keys(plainDecode.metafile.inputs), 'scripts/build.mjs', 'scripts/oclif-patches.mjs', 'scripts/btc-signer-patches.mjs'])].sort();
writeFileSync(join(out, 'build-inputs.json'), JSON.stringify({ sha256: Object.fromEntries(inputs.map((p) => [p, sha256(p)])) }, null, 1) + '\n');
writeFileSync(
  join(out, 'commands.cjs'),
  "// oclif's explicit command table: the bundle bin/run.js already loaded, else load it.\n" +
    `${IMPORTER} ??= (s) => import(s);\n` +
    "module.exports = globalThis[Symbol.for('offchain.bundle')] ?? require('./offchain.cjs');\n",
);
// The in-process MuSig2 benchmark measures the shipped library code, bundled alike.
await build({ ...common, entryPoints: { bench: 'bench/musig.ts', 'bench-credit': 'bench/credit.ts' }, outdir: out, format: 'esm', splitting: true, chunkNames: 'bench-chunks/[name]-[hash]' });
const old = join(root, `dist.old-${process.pid}`);
try {
  renameSync(join(root, 'dist'), old);
} catch {
  // no previous build
}
renameSync(out, join(root, 'dist'));
rmSync(old, { recursive: true, force: true });

// Secret fixtures (keys, seeds, preimages, lock records) are refused by the CLI unless mode
// 0600, which git cannot record (a checkout makes them 0644): made so here, so that the
// --help examples and docs use them as written, with no chmod of repository files.
const SECRET_FIXTURE = /(\.key|\.seed|secret[\w.-]*|preimage[\w.-]*|^lock-\d+\.json)$/;
const secretFixtures = (dir) =>
  readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? secretFixtures(join(dir, e.name)) : SECRET_FIXTURE.test(e.name) ? [join(dir, e.name)] : [],
  );
for (const file of secretFixtures('fixtures')) chmodSync(join(root, file), 0o600);

// The manifest describes every command: load them all first (the bundle loads a command's
// module only when it runs, src/cli.ts), in the instance dist/commands.cjs hands oclif.
{
  const { createRequire } = await import('node:module');
  globalThis[Symbol.for('offchain.import')] ??= (s) => import(s);
  await createRequire(import.meta.url)(join(root, 'dist', 'offchain.cjs')).loadCommands();
}
const { Plugin } = await import('@oclif/core');
const plugin = new Plugin({ root, type: 'core', isRoot: true, ignoreManifest: true, errorOnManifestCreate: true, respectNoCacheDefault: true });
await plugin.load();
// Without indentation: oclif reads and parses the whole file at every start (~400 kB so, 540 kB indented).
writeFileSync(join(root, 'oclif.manifest.json'), JSON.stringify(plugin.manifest) + '\n');

// Training runs: decode a fixture so each cache also holds the functions that path compiles —
// first through the full CLI (the shortcuts turned off), then through the shortcuts, on several
// inputs in turn: each run starts from the caches the one before wrote and adds what it compiled
// (a keyless PSBT trains the first shortcut's; any other also the second's).
// A function missing from the cache is compiled from source when first called — trained on the
// signed fixture alone, whose inputs parsePsbt's key-path reader takes, the shortcut compiled
// btc-signer's general decoder (fromPSBT and 42 more) on every unsigned PSBT: 4.6 M instructions
// of the bench's `psbt decode` row (callgrind). So both readers' inputs (a key-path MuSig2 PSBT
// signed, unsigned and final; P2WPKH funding; a TRUC parent) and a message carrying a PSBT; standard
// output a pipe, as a script's (the answer's write differs on a terminal or /dev/null).
// (Not --debug: that loads the bundle through Node's loader, for its source map.)
const decodeTraining = [
  { env: { OFFCHAIN_FAST_PATHS: '0' }, inputs: ['fixtures/psbt/musig-keypath-signed.psbt'] },
  {
    env: { OFFCHAIN_FAST_PATHS: '1' },
    inputs: ['psbt/musig-keypath-signed.psbt', 'psbt/musig-keypath-unsigned.psbt', 'psbt/musig-keypath-final.psbt', 'credit/funding.psbt', 'truc/parent.psbt', 'credit/update-request.json'].map((f) => `fixtures/${f}`),
  },
];
// Each Node line npm ci installed (and this one) trains its own cache (bin/run.js cacheFileOf: one
// per V8 version); an unsupported Node (bin/run.js refuses it) trains none.
const runtimes = new Map();
for (const node of [process.execPath, ...LINES.map(installedNode).filter(Boolean)]) {
  const [v8, version] = execFileSync(node, ['-p', 'process.versions.v8 + " " + process.versions.node'], { encoding: 'utf8' }).trim().split(' ');
  if (supported(version) && !runtimes.has(v8)) runtimes.set(v8, node);
}
for (const node of runtimes.values()) {
  for (const { env, inputs } of decodeTraining) {
    for (const input of inputs) {
      execFileSync(node, [join(root, 'bin', 'run.js'), 'psbt', 'decode', '--in', join(root, input)], {
        env: { ...process.env, OFFCHAIN_WRITE_CODE_CACHE: '1', ...env },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
    }
  }
  // And a signing step, so the full CLI's cache also holds what every MuSig2 step compiles (the
  // arithmetic of the backend this machine selects, btc-signer's PSBT coder, BIP-327, the state store): the demo toll's
  // `device pay` on a throw-away demo channel (offline, fixed clock). A cache that holds them spares
  // each signing process their lazy compilation: `device pay --peer` -20 ms of CPU (bench/device-serve.ts),
  // with no change to a command that does not sign (the cache loads in the same time).
  // Twice, on a fresh demo channel each: through the full CLI (its cache), then through `device pay`'s
  // own bundle (dist/device-pay.cjs, bin/run.js tries it first).
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  for (const fast of ['0', '1']) {
    const demo = mkdtempSync(join(tmpdir(), 'offchain-build-train-'));
    try {
      const env = { ...process.env, OFFCHAIN_CONFIG: '/dev/null', OFFCHAIN_DEMO_DIR: demo, PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}` };
      execFileSync('sh', [join(root, 'fixtures/credit/open-demo.sh')], { env, stdio: ['ignore', 'ignore', 'ignore'] });
      const fx = (p) => join(root, 'fixtures', p);
      execFileSync(node, [join(root, 'bin', 'run.js'), 'device', 'pay', '--invoice', fx('device/toll.bolt11'), '--policy', fx('policies/device.json'), '--terms', fx('policies/gateway-terms.json'),
        '--now', '1800000000', '--tip-height', '1000', '--key-env', 'USER_KEY', '--state-dir', join(demo, 'user')], {
        env: { ...env, OFFCHAIN_WRITE_CODE_CACHE: '1', OFFCHAIN_FAST_PATHS: fast, USER_KEY: readFileSync(fx('keys/user.key'), 'utf8').trim() },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    } finally {
      rmSync(demo, { recursive: true, force: true });
    }
  }
}
console.error(`built dist/offchain.cjs, dist/device-pay.cjs, dist/psbt-decode-plain.cjs, dist/psbt-decode.cjs (+ V8 code caches) and oclif.manifest.json (${Object.keys(plugin.manifest.commands).length} commands)`);
