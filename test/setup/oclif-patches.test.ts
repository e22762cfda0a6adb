/**
 * scripts/oclif-patches.mjs, the three changes the build makes to @oclif/core, each held to what
 * it replaces. Each patch is applied to the installed oclif's own file (an upgrade that changes
 * a patched statement fails here as it fails the build); its replacement is then run:
 * - the command order: the patched comparator, on every command id and alias of ours and of the
 *   autocomplete plugin, gives localeCompare's order (a new id that would not — upper case,
 *   other punctuation — fails here: implicit topics' summaries and the completion scripts
 *   follow that order);
 * - perf_hooks on first use: oclif's patched performance module loads without it, and with
 *   tracking on makes, measures and collects a marker (both lazy getters used);
 * - the engine check: the patched `satisfies` answers as semver's over versions and ranges around
 *   package.json's `engines.node`, and hands every other form (a prerelease, a `v`, a leading
 *   zero, a number too long) to semver.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OCLIF_PATCHES, codePointCommandOrder, engineFloorCheck, lazyPerfHooks, patchOclif } from '../../scripts/oclif-patches.mjs';
import { ROOT } from '../helpers.ts';

const oclifFile = (rel: string) => join(ROOT, 'node_modules', '@oclif', 'core', 'lib', rel);
const text = (rel: string) => readFileSync(oclifFile(rel), 'utf8');
/** semver as oclif resolves it (a dependency of oclif's, not ours). */
const semver = createRequire(oclifFile('index.js'))('semver') as { satisfies(version: string, range: string): boolean };

/** `source` run as the CommonJS module at `path`, with `require` seen by `spy` first (null: the real one). */
function runModule(path: string, source: string, spy: (id: string) => unknown = () => null): Record<string, unknown> {
  const real = createRequire(path);
  const module = { exports: {} as Record<string, unknown> };
  const req = (id: string) => spy(id) ?? real(id);
  new Function('exports', 'require', 'module', '__filename', '__dirname', source)(module.exports, req, module, path, join(path, '..'));
  return module.exports;
}

describe('the oclif patches of the build', () => {
  it('each applies to the installed oclif, changes only its own statement, and leaves other files as they are', () => {
    for (const rel of ['config/plugin.js', 'performance.js', 'index.js']) {
      const before = text(rel);
      const after = patchOclif(oclifFile(rel), before);
      expect(after).not.toBe(before);
      // One statement replaced: the lines before and after it are the same.
      const a = before.split('\n');
      const b = after.split('\n');
      const first = a.findIndex((line, i) => line !== b[i]);
      const fromEnd = (xs: string[], k: number) => xs[xs.length - 1 - k];
      let tail = 0;
      while (fromEnd(a, tail) === fromEnd(b, tail)) tail++;
      expect(a.length - tail - first).toBeLessThanOrEqual(3);
    }
    expect(OCLIF_PATCHES).toHaveLength(3);
    expect(patchOclif(oclifFile('config/config.js'), text('config/config.js'))).toBe(text('config/config.js'));
  });

  it('refuses an oclif whose text it does not know, naming the file', () => {
    expect(() => codePointCommandOrder('x/plugin.js', 'this.commands.sort()')).toThrow(/x\/plugin\.js: oclif's command sort changed/);
    expect(() => lazyPerfHooks('x/performance.js', 'const p = require("perf_hooks");')).toThrow(/x\/performance\.js/);
    // A use of perf_hooks the lazy object does not offer.
    expect(() => lazyPerfHooks('x/performance.js', `${'const node_perf_hooks_1 = require("node:perf_hooks");'} node_perf_hooks_1.monitorEventLoopDelay();`)).toThrow(/changed/);
    expect(() => engineFloorCheck('x/index.js', 'const semver = require("semver");')).toThrow(/x\/index\.js/);
  });

  it('orders every command id and alias, ours and the autocomplete plugin\'s, as localeCompare did', () => {
    const names = (manifestFile: string) => {
      const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { commands: Record<string, { aliases?: string[]; hiddenAliases?: string[] }> };
      return Object.entries(manifest.commands).flatMap(([id, c]) => [id, ...(c.aliases ?? []), ...(c.hiddenAliases ?? [])]);
    };
    const ours = names(join(ROOT, 'oclif.manifest.json'));
    const plugin = names(join(ROOT, 'node_modules', '@oclif', 'plugin-autocomplete', 'oclif.manifest.json'));
    expect(ours).toContain('psbt:decode');
    expect(plugin).toContain('autocomplete:script');
    const sortBy = runModule(oclifFile('config/plugin.js'), codePointCommandOrder('p', 'module.exports = (x) => x.sort((a, b) => a.id.localeCompare(b.id));')) as unknown as (x: { id: string }[]) => { id: string }[];
    for (const ids of [ours, plugin, [...ours, ...plugin]]) {
      const patched = sortBy([...ids].reverse().map((id) => ({ id }))).map((c) => c.id);
      expect(patched).toEqual([...ids].sort((x, y) => x.localeCompare(y)));
    }
    // The patched comparator is code-unit order, not the collator's: where the two differ, it is code-unit.
    expect(sortBy([{ id: 'b' }, { id: 'B' }, { id: 'a' }]).map((c) => c.id)).toEqual(['B', 'a', 'b']);
  });

  it('loads oclif\'s performance module without perf_hooks, and with tracking on makes, measures and collects a marker', async () => {
    const path = oclifFile('performance.js');
    const asked: string[] = [];
    const spy = (id: string) => (asked.push(id), null);
    const perf = runModule(path, lazyPerfHooks(path, text('performance.js')), spy) as { Performance: { mark(owner: string, name: string): unknown } };
    expect(asked.filter((id) => id.includes('perf_hooks'))).toEqual([]);
    expect(perf.Performance.mark('@oclif/core', 'test.mark#a')).toBeUndefined(); // tracking off: no marker, no perf_hooks
    expect(asked.filter((id) => id.includes('perf_hooks'))).toEqual([]);
    const { settings } = createRequire(path)('./settings') as { settings: { performanceEnabled?: boolean } };
    settings.performanceEnabled = true;
    try {
      const collected = perf.Performance as unknown as { collect(): Promise<void>; getResult(owner: string, name: string): { duration: number } | undefined };
      const marker = perf.Performance.mark('@oclif/core', 'test.mark#b') as { stop(): void };
      marker.stop();
      // collect: a PerformanceObserver (the second getter) reads the measure (the first).
      await collected.collect();
      expect(typeof collected.getResult('@oclif/core', 'test.mark#b')?.duration).toBe('number');
      expect(asked.filter((id) => id === 'node:perf_hooks').length).toBeGreaterThanOrEqual(3);
    } finally {
      delete settings.performanceEnabled;
    }
  });

  it('answers the engine check as semver does, and loads semver only for a range or version it does not compare itself', () => {
    const check = "module.exports = (v, r) => { const semver = require('semver'); return semver.satisfies(v, r); };";
    const patched = engineFloorCheck('i', check);
    let semverLoads = 0;
    const satisfies = runModule(oclifFile('index.js'), patched, (id) => (id === 'semver' ? (semverLoads++, semver) : null)) as unknown as (v: string, r: string) => boolean;
    const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    expect(engines).toMatch(/^>=\d+\.\d+\.\d+$/);
    const versions = ['20.19.0', '20.18.9', '20.19.1', '20.20.2', '20.9.0', '20.100.0', '19.99.99', '21.0.0', '22.1.0', '3.0.0', '100.0.0', '20.19.10', '2.19.0', '0.0.0'];
    const ranges = [engines, '>=20.9.0', '>=0.0.0', '>=21.0.0', '>=20.19.10', '>=2.19.0'];
    let compared = 0;
    for (const v of versions) {
      for (const r of ranges) {
        expect(satisfies(v, r), `${v} ${r}`).toBe(semver.satisfies(v, r));
        compared++;
      }
    }
    expect(compared).toBe(versions.length * ranges.length);
    expect(semverLoads).toBe(0);
    // A prerelease, a `v`, a leading zero, a number too long, or another form of range: semver's own answer.
    const others = [
      ['21.0.0-rc.1', engines], ['20.19.0-pre', '>=20.9.0'], ['v20.19.0', engines], ['020.19.0', engines], ['20.019.0', engines], ['20.20.2', '>=20.19.00'],
      ['99999999999999999999.0.0', engines], ['1234567890.0.0', engines], ['20.20.2', '^20.19.0'], ['20.20.2', '>=20.19.0 <21'], ['22.0.0', '20.x'], ['20.20.2', '>= 20.19.0'],
    ] as const;
    for (const [v, r] of others) expect(satisfies(v, r), `${v} ${r}`).toBe(semver.satisfies(v, r));
    expect(semverLoads).toBe(others.length);
  });
});
