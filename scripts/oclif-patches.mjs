/**
 * What scripts/build.mjs changes in @oclif/core as it bundles it: three costs every command paid
 * at start-up for nothing it uses (measured on a one-shot command: ~17 ms of its ~170 ms of CPU).
 * Each patch finds the exact text it replaces, or fails the build: an oclif whose text differs
 * is reviewed, never silently left unpatched. test/setup/oclif-patches.test.ts holds each to
 * the behaviour it replaces.
 */

/**
 * `text` with its one occurrence of `find` replaced (by a function: a replacement string would
 * read `$` patterns), or an error naming `path` and the patch to review when it is not there once.
 */
export function replaceOnce(path, text, find, replacement, patch, what, library = 'oclif') {
  if (text.split(find).length !== 2) throw changed(path, what, patch, library);
  return text.replace(find, () => replacement);
}

const changed = (path, what, patch, library = 'oclif') => new Error(`${path}: ${library}'s ${what} changed; review scripts/${library}-patches.mjs ${patch}`);

/**
 * oclif's Plugin.load orders a plugin's commands with `a.id.localeCompare(b.id)`, on every run
 * of every command: the process's first localeCompare makes ICU build its collator, ~8 ms of
 * CPU (measured alone: the first call 8.6 ms, the next 0.003 ms) — 5% of a one-shot command's
 * start-up. Running a command never reads that order; listings do where they do not sort
 * again (help's command and topic lists do, with oclif's code-unit `sortBy`): the summary of a
 * topic package.json does not declare (`credit ecash`: its first command's) and the
 * completion scripts' command order. Here it is the code-unit order, no collator: for our ids
 * and aliases and the autocomplete plugin's (lower-case words, '-' and ':', which ICU's root
 * collation also puts before letters, '-' before ':') the same order, so those listings are
 * unchanged — test/setup/oclif-patches.test.ts fails on any id that would sort otherwise. A
 * build of another oclif whose text differs fails here.
 */
const OCLIF_PLUGIN = /node_modules[\\/]@oclif[\\/]core[\\/]lib[\\/]config[\\/]plugin\.js$/;
const OCLIF_COMMAND_SORT = '.sort((a, b) => a.id.localeCompare(b.id));';
export function codePointCommandOrder(path, text) {
  return replaceOnce(path, text, OCLIF_COMMAND_SORT, '.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));', 'codePointCommandOrder', 'command sort');
}

/**
 * oclif's performance markers require node:perf_hooks when their module loads, on every run,
 * and use it only when performance tracking is on (OCLIF_PERFORMANCE, never here): loading it
 * and the eleven internal modules it brings costs ~1.2 ms of CPU a start. Here it is required
 * when first used. A build of another oclif whose text differs fails here.
 */
const OCLIF_PERFORMANCE = /node_modules[\\/]@oclif[\\/]core[\\/]lib[\\/]performance\.js$/;
const OCLIF_PERF_HOOKS = 'const node_perf_hooks_1 = require("node:perf_hooks");';
export function lazyPerfHooks(path, text) {
  // Every use must be one of the two the lazy object offers.
  const uses = text.match(/node_perf_hooks_1\.(\w+)/g) ?? [];
  if (uses.some((use) => !/\.(performance|PerformanceObserver)$/.test(use))) throw changed(path, 'use of node:perf_hooks', 'lazyPerfHooks');
  const lazy = 'const node_perf_hooks_1 = { get performance() { return require("node:perf_hooks").performance; }, get PerformanceObserver() { return require("node:perf_hooks").PerformanceObserver; } };';
  return replaceOnce(path, text, OCLIF_PERF_HOOKS, lazy, 'lazyPerfHooks', 'use of node:perf_hooks');
}

/**
 * oclif's index checks, as it loads on every run, that this Node satisfies package.json's
 * `engines.node` with semver — whose module builds ~40 regular expressions when it loads, ~3 ms
 * of CPU a start for one comparison. Here a range of the form `>=X.Y.Z` (ours) is compared by
 * its three numbers against a release version X.Y.Z (each number without leading zeros, at most
 * nine digits), and semver is loaded for any other form of either (a prerelease, which semver
 * excludes; a `v`; a leading zero, which semver refuses): the same answer, the same warning.
 * (oclif swallows any error of its check: the test is what holds this one to semver's answers.)
 * A build of another oclif whose text differs fails here.
 */
const OCLIF_INDEX = /node_modules[\\/]@oclif[\\/]core[\\/]lib[\\/]index\.js$/;
const OCLIF_SEMVER = "const semver = require('semver');";
export function engineFloorCheck(path, text) {
  const number = String.raw`(0|[1-9]\d{0,8})`;
  const release = String.raw`${number}\.${number}\.${number}`;
  const floor =
    `const semver = { satisfies: (version, range) => { const floor = /^>=${release}$/.exec(range);` +
    ` if (!floor || !/^${release}$/.test(version)) return require('semver').satisfies(version, range);` +
    " const [a, b, c] = version.split('.').map(Number); const [x, y, z] = floor.slice(1).map(Number); return a !== x ? a > x : b !== y ? b > y : c >= z; } };";
  return replaceOnce(path, text, OCLIF_SEMVER, floor, 'engineFloorCheck', 'engine check');
}

/** The oclif files patched at build, and how. */
export const OCLIF_PATCHES = [
  [OCLIF_PLUGIN, codePointCommandOrder],
  [OCLIF_PERFORMANCE, lazyPerfHooks],
  [OCLIF_INDEX, engineFloorCheck],
];

/** `text` of the oclif file at `path` as the bundle carries it: patched if it is one of OCLIF_PATCHES, else as it is. */
export function patchOclif(path, text) {
  const patch = OCLIF_PATCHES.find(([file]) => file.test(path));
  return patch ? patch[1](path, text) : text;
}
