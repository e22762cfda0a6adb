/**
 * Which optional secp256k1 backends a test must run, decided by TEST code, never by the
 * product's loader (src/lib/musig/engine/select.ts). If the product's loader decided,
 * a loader bug ("the binding's constructor throws") would turn every multi-backend
 * test into "skipped: not installed" — green — while users asking for the backend
 * silently got noble.
 *
 * - A backend is **installed** when this file can import its package itself
 *   (the `secp256k1` package's N-API binding `secp256k1/bindings.js`;
 *   for `libsecp256k1`, `koffi` AND a system libsecp256k1 that koffi loads here, by the
 *   sonames below or $OFFCHAIN_LIBSECP256K1 — a list kept in test code, which the guard
 *   compares with the product's).
 * - An installed backend the product fails to load **fails** the test file
 *   (`backendUnderTest` throws, naming both facts).
 * - A backend that is not installed is a visible skip naming the import error; and
 *   `test/setup/backends.test.ts` fails whenever a backend package-lock.json installs
 *   is not importable here, unless `OFFCHAIN_TEST_WITHOUT` names it on purpose
 *   (e.g. `OFFCHAIN_TEST_WITHOUT=native` on a machine that cannot build the binding).
 *   The system library is not an npm package: a machine with koffi but without the .so
 *   skips `libsecp256k1` visibly, and the guard fails for it only when
 *   OFFCHAIN_LIBSECP256K1_REQUIRED=1 says the library is there (.ci/run sets it when it
 *   found or installed the library).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';
import { schnorr } from '@noble/curves/secp256k1.js';
import { toHex } from '../../src/lib/bytes.ts';
import { openLibsecp256k1, type Koffi, type Libsecp256k1 } from '../../src/lib/musig/engine/libsecp256k1.ts';

export type BackendId = 'noble' | 'native' | 'libsecp256k1';
export type OptionalBackend = Exclude<BackendId, 'noble'>;
export const OPTIONAL_BACKENDS: readonly OptionalBackend[] = ['native', 'libsecp256k1'];
export const ALL_BACKENDS: readonly BackendId[] = ['noble', ...OPTIONAL_BACKENDS];

/** The npm package each optional backend comes from, and what test code imports of it. */
export const BACKEND_PACKAGE: Record<OptionalBackend, { pkg: string; specifier: string }> = {
  // The binding itself: the package's index falls back to pure-JS elliptic unseen.
  native: { pkg: 'secp256k1', specifier: 'secp256k1/bindings.js' },
  // The FFI package; the library itself is the system's (SYSTEM_LIBSECP256K1 below).
  libsecp256k1: { pkg: 'koffi', specifier: 'koffi' },
};

/** The system library test code looks for: $OFFCHAIN_LIBSECP256K1, else these sonames (upstream 0.8 … 0.2). */
export const SYSTEM_LIBSECP256K1 = {
  env: 'OFFCHAIN_LIBSECP256K1',
  sonames: ['libsecp256k1.so.7', 'libsecp256k1.so.6', 'libsecp256k1.so.5', 'libsecp256k1.so.2', 'libsecp256k1.so.1'],
  /** Set to 1 where the library must be there (.ci/run, when it found or installed it). */
  requiredEnv: 'OFFCHAIN_LIBSECP256K1_REQUIRED',
} as const;

/** Whether a run must have the system library (the guard then fails without it). */
export const systemLibraryRequired = (): boolean => process.env[SYSTEM_LIBSECP256K1.requiredEnv] === '1';

/** Load the system libsecp256k1 with koffi, as test code: the file that loaded, or why none did. */
function loadSystemLibrary(koffi: { load(path: string): unknown }): { path: string } | { error: string } {
  const named = process.env[SYSTEM_LIBSECP256K1.env]?.trim();
  const tried: string[] = [];
  for (const path of named ? [named] : SYSTEM_LIBSECP256K1.sonames) {
    try {
      koffi.load(path);
      return { path };
    } catch (e) {
      tried.push(`${path}: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
    }
  }
  return { error: `koffi imports, but no system libsecp256k1 loads (${tried.join('; ')})` };
}

/** The optional backends package-lock.json installs (a `node_modules/<pkg>` entry). */
export function lockfileBackends(): OptionalBackend[] {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
  return OPTIONAL_BACKENDS.filter((b) => `node_modules/${BACKEND_PACKAGE[b].pkg}` in lock.packages);
}

/** Backends a run may be without, named on purpose in OFFCHAIN_TEST_WITHOUT (comma-separated). */
export function allowedMissing(): string[] {
  return (process.env.OFFCHAIN_TEST_WITHOUT ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

const imported = new Map<OptionalBackend, Promise<{ module: unknown } | { error: string }>>();

/** The package imported by test code: its module, or the first line of the import error. */
export function importByTest(name: OptionalBackend): Promise<{ module: unknown } | { error: string }> {
  let hit = imported.get(name);
  if (!hit) {
    hit = import(BACKEND_PACKAGE[name].specifier).then(
      (module: unknown) => {
        if (name !== 'libsecp256k1') return { module };
        const koffi = ((module as { default?: unknown }).default ?? module) as { load(path: string): unknown };
        const lib = loadSystemLibrary(koffi);
        return 'error' in lib ? lib : { module };
      },
      (e: unknown) => ({ error: (e instanceof Error ? e.message : String(e)).split('\n')[0]! }),
    );
    imported.set(name, hit);
  }
  return hit;
}

/** Whether test code can import the backend's package (noble always). */
export async function installed(name: BackendId): Promise<boolean> {
  return name === 'noble' || 'module' in (await importByTest(name));
}

export type UnderTest<T> = { name: BackendId; loaded: T; skipped?: undefined } | { name: BackendId; loaded?: undefined; skipped: string };

/**
 * The backend a multi-backend test runs on: `load` is the product's loader. Installed
 * (test code imports the package) → the product must load it, or this throws and the
 * file fails. Not installed → `skipped` holds the reason for a visible `describe.skip`
 * (and the guard test fails unless that is allowed).
 */
export async function backendUnderTest<T>(name: BackendId, load: () => Promise<T>): Promise<UnderTest<T>> {
  if (name !== 'noble') {
    const got = await importByTest(name);
    if ('error' in got) {
      const why = got.error.startsWith('koffi imports') ? got.error : `test code cannot import ${BACKEND_PACKAGE[name].specifier} (${got.error})`;
      return { name, skipped: `not installed: ${why}` };
    }
  }
  try {
    return { name, loaded: await load() };
  } catch (e) {
    const why = e instanceof Error ? ((e as { reason?: string }).reason ?? e.message) : String(e);
    throw new Error(`${name} is installed (test code imports ${name === 'noble' ? '@noble/curves' : BACKEND_PACKAGE[name].specifier}) but the product failed to load it: ${why}`);
  }
}

/**
 * The system libsecp256k1 for tests that adapt loaded modules themselves (as bolt3/sign.test.ts
 * does with `secp256k1/bindings.js`): installed as decided above, then
 * bound by the product's ./libsecp256k1.ts from the koffi test code imported — which must work.
 */
export async function systemLibsecp256k1(): Promise<UnderTest<Libsecp256k1>> {
  return backendUnderTest('libsecp256k1', async () => {
    const got = await importByTest('libsecp256k1');
    if (!('module' in got)) throw new Error(got.error);
    const mod = got.module as { default?: unknown };
    return openLibsecp256k1((mod.default ?? mod) as Koffi);
  });
}

/**
 * `answer`, remembered by `key`: for a reference library's answer (noble's k·G, its Verify)
 * to a question every backend of a file is asked. The files loop over ALL_BACKENDS with
 * constant edge cases and properties run from one seed (./fast-check.ts), so each backend
 * gets the same questions, and the reference's constant-time arithmetic — most of such a
 * file's time — is done once per question instead of once per backend. The expected value
 * is still the reference's own, computed by the test.
 */
export function remembered<A extends unknown[], T>(key: (...args: A) => string, answer: (...args: A) => T): (...args: A) => T {
  const answers = new Map<string, T>();
  return (...args) => {
    const k = key(...args);
    if (!answers.has(k)) answers.set(k, answer(...args));
    return answers.get(k)!;
  };
}

/** noble's BIP-340 Verify, remembered: the reference answer the multi-backend files compare each backend's with. */
export const nobleVerify = remembered(
  (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => `${toHex(sig)} ${toHex(msg)} ${toHex(pk)}`,
  (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => schnorr.verify(sig, msg, pk),
);

/**
 * `body`'s tests once per backend (ALL_BACKENDS), each run with that backend's engine selected
 * (what the CLI's $OFFCHAIN_SECP256K1 or a long-running mode's `auto` does), the previous one
 * restored after; a backend not installed is a visible skip, one installed that the product
 * cannot load fails the file (`backendUnderTest`).
 */
export async function describeOnEachBackend(title: string, body: (backend: BackendId) => void): Promise<void> {
  const { describe, it, beforeAll, afterAll } = await import('vitest');
  const { activeEngine, loadEngine, useEngine } = await import('../../src/lib/musig/engine/select.ts');
  for (const backend of ALL_BACKENDS) {
    const under = await backendUnderTest(backend, () => loadEngine(backend));
    if (under.skipped !== undefined) {
      describe.skip(`${title} on ${backend}: SKIPPED, ${under.skipped}`, () => it('every case', () => {}));
      continue;
    }
    describe(`${title} on ${backend}`, () => {
      let before: ReturnType<typeof activeEngine>;
      beforeAll(() => {
        before = activeEngine();
        useEngine(under.loaded);
      });
      afterAll(() => useEngine(before));
      body(backend);
    });
  }
}
