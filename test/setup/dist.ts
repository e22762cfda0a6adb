/**
 * The end-to-end and regtest tests run the built CLI (bin/run.js → dist/offchain.cjs),
 * not the TypeScript under src/. A bundle older than the sources would test yesterday's
 * code and pass, so the helpers that spawn it (test/e2e/cli.ts, test/regtest/
 * offchain-cli.ts) call `assertFreshBuild()` first: scripts/build.mjs records the SHA-256
 * of every file it bundled (dist/build-inputs.json, from esbuild's metafile, plus the
 * build script itself), and a file whose content differs now — or that is gone — fails
 * the test file loudly, naming the files. The fix is `npm run build` (`npm test` builds
 * before running vitest, so this costs it one hash pass, ~0.1 s, and no second build).
 *
 * A source file that no bundled file imports cannot change the bundle; a new file that
 * one imports changes the importer, which is caught.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';

export const BUILD_INPUTS = join(ROOT, 'dist', 'build-inputs.json');

/** Files whose content is not what the bundle was built from (missing files included). */
export function staleInputs(root = ROOT): string[] {
  const record = JSON.parse(readFileSync(join(root, 'dist', 'build-inputs.json'), 'utf8')) as { sha256: Record<string, string> };
  const stale: string[] = [];
  for (const [path, recorded] of Object.entries(record.sha256)) {
    const file = join(root, path);
    const now = existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : 'missing';
    if (now !== recorded) stale.push(path);
  }
  return stale;
}

let checked = false;

/** Throws unless dist/ was built from the sources as they are now. */
export function assertFreshBuild(): void {
  if (checked) return;
  // `npm run mutate` (vitest.mutate.config.ts) instruments src/ in StrykerJS's sandbox, so the
  // sources never match the bundle there, by design: a spawned CLI runs the unmutated build,
  // cannot kill a mutant and must simply pass. Nowhere else is this variable set.
  if (process.env['OFFCHAIN_MUTATION_RUN'] === '1') return;
  if (!existsSync(BUILD_INPUTS)) {
    throw new Error(`${BUILD_INPUTS} is missing: dist/ was never built, or by an older build script. Run "npm run build" (these tests run the built CLI).`);
  }
  const stale = staleInputs();
  if (stale.length > 0) {
    const shown = stale.slice(0, 8).join(', ') + (stale.length > 8 ? `, and ${stale.length - 8} more` : '');
    throw new Error(`dist/ is stale: ${shown} changed since the last build. Run "npm run build" (these tests run the built CLI, not src/).`);
  }
  checked = true;
}
