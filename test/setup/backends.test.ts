/**
 * The guard of ./backends.ts: every optional secp256k1 backend package-lock.json installs
 * is importable by test code here and loaded, self-tested and selected by the product —
 * so no multi-backend test can skip it; and no test decides "installed" through the
 * product's loader (a `.catch` on loadBackend/loadEngine, or the engine selectBackend
 * landed on), which would turn a loader bug into a green "skipped: not installed".
 */
import { describe, it, expect, afterAll } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT, TEST_DIR } from '../helpers.ts';
import { loadBackend, selectBackend } from '../../src/lib/musig/engine/select.ts';
import { onionBackend } from '../../src/lib/onion/backend.ts';
import { LIBSECP256K1_ENV, LIBSECP256K1_SONAMES } from '../../src/lib/musig/engine/libsecp256k1.ts';
import { BACKEND_PACKAGE, OPTIONAL_BACKENDS, SYSTEM_LIBSECP256K1, allowedMissing, importByTest, lockfileBackends, systemLibraryRequired } from './backends.ts';

const INSTALLED = lockfileBackends();

describe('the backends package-lock.json installs', () => {
  afterAll(async () => {
    await selectBackend('noble');
  });

  it('the lockfile lists every optional backend\'s package (a guard that lists nothing would guard nothing)', () => {
    expect(INSTALLED).toEqual(['native', 'libsecp256k1']);
  });

  it('test code looks for the system libsecp256k1 where the product does (same variable, same sonames, same order)', () => {
    expect(SYSTEM_LIBSECP256K1.env).toBe(LIBSECP256K1_ENV);
    expect(SYSTEM_LIBSECP256K1.sonames).toEqual(LIBSECP256K1_SONAMES);
  });

  for (const name of OPTIONAL_BACKENDS) {
    it(`${name}: test code imports ${BACKEND_PACKAGE[name].specifier}, and the product loads, self-tests and selects it`, async (ctx) => {
      expect(INSTALLED).toContain(name);
      const imported = await importByTest(name);
      if ('error' in imported) {
        // The system library is no npm package: without it the backend skips, unless this run says the library is there.
        if (name === 'libsecp256k1' && (await import('koffi').then(() => true, () => false)) && !systemLibraryRequired()) {
          expect(imported.error).toMatch(/no system libsecp256k1 loads/);
          return ctx.skip(`SKIPPED: ${imported.error} (set ${SYSTEM_LIBSECP256K1.requiredEnv}=1 where it must be there)`);
        }
        // Only a run that says so on purpose may be without it (a machine that cannot build the binding).
        expect(allowedMissing(), `${name} is installed by package-lock.json but test code cannot import it: ${imported.error}; ` +
          `set OFFCHAIN_TEST_WITHOUT=${name} to run without it on purpose`).toContain(name);
        return;
      }
      expect((await loadBackend(name)).name).toBe(name);
      expect(await selectBackend(name)).toEqual({ requested: name, engine: name, fallbackReason: undefined });
      // What the onion code runs on follows the selection (a fallback here would be invisible to users).
      expect((await onionBackend()).name).toBe(name);
    });
  }
});

/** Every .ts file under test/ (the audit reads sources, not test results). */
function testSources(dir = TEST_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return testSources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/**
 * Files that still decide through the product's loader, each with why it may. Checked both
 * ways: an unlisted file that does fails, and so does a listed one that no longer does.
 */
/** Files allowed to decide through the loader (none now; the audit fails if a listed file no longer does). */
const EXEMPT: Record<string, string> = {};

describe('no test decides "installed" through the product\'s loader', () => {
  const LOADER_CATCH = /\b(?:loadBackend|loadEngine)\([^()]*\)\s*\.(?:catch|then)\(/;
  const SELECTION_DECIDES = /selectBackend\([^()]*\)[\s\S]{0,80}\.engine\s*===/;
  const offenders = testSources()
    .filter((p) => !p.endsWith('setup/backends.test.ts'))
    .filter((p) => {
      const text = readFileSync(p, 'utf8');
      return LOADER_CATCH.test(text) || SELECTION_DECIDES.test(text);
    })
    .map((p) => relative(ROOT, p))
    .sort();

  it('the audit reads the multi-backend tests (it would pass vacuously on no files)', () => {
    const names = testSources().map((p) => relative(ROOT, p));
    for (const f of ['test/lib/musig/engine-backends.test.ts', 'test/vectors/bip327-engines.test.ts', 'test/vectors/onion-bolt04.test.ts']) expect(names).toContain(f);
  });

  it('only the listed files catch a loader failure or read the selected engine to decide', () => {
    expect(offenders, 'a file not in EXEMPT decides through the loader (use backendUnderTest), or an EXEMPT file no longer does (remove it from EXEMPT)')
      .toEqual(Object.keys(EXEMPT).sort());
  });

  it('every test that runs several backends takes them from ./backends.ts', () => {
    const multi = testSources()
      .filter((p) => /(?:loadBackend|loadEngine|selectBackend)\(/.test(readFileSync(p, 'utf8')))
      .filter((p) => /'native'|OPTIONAL_BACKENDS|ALL_BACKENDS/.test(readFileSync(p, 'utf8')))
      .map((p) => relative(ROOT, p))
      .filter((p) => !p.startsWith('test/setup/') && !(p in EXEMPT));
    expect(multi.length).toBeGreaterThanOrEqual(8);
    for (const p of multi) {
      const text = readFileSync(join(ROOT, p), 'utf8');
      // bolt3/sign.test.ts imports each package itself and fails if it does not load: the same rule, spelled out.
      const ownImport = /await import\('secp256k1\/bindings\.js'(?: as string)?\)[\s\S]*failed to load/.test(text);
      expect(ownImport || /from '(?:\.\.\/)+setup\/backends\.ts'/.test(text), `${p} runs several backends without ./backends.ts`).toBe(true);
    }
  });
});
