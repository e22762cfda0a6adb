/**
 * Backend selection (src/lib/musig/engine/select.ts) and the per-key-set caches: noble
 * by default; an optional backend that cannot be imported, or that gets a known
 * computation wrong, falls back to noble with a one-line reason; `auto` takes the
 * fastest that loads; the CLI's environment value is parsed strictly. The caches hand
 * out nothing a caller could corrupt them through.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { createRequire } from 'node:module';
import {
  activeEngine, backendSelection, loadBackend, loadEngine, parseBackendChoice, selectBackend, useEngine,
} from '../../../src/lib/musig/engine/select.ts';
import { keyAgg, nonceAgg, nonceGen } from '../../../src/lib/musig/bip327.ts';
import { referenceEngine } from '../../../src/lib/musig/engine/reference.ts';
import { refusal } from '../../setup/refusal.ts';
import { OPTIONAL_BACKENDS, installed } from '../../setup/backends.ts';
import { keyPair } from '../../../src/lib/keys/keys.ts';
import { toHex } from '../../../src/lib/bytes.ts';

const noble = await loadEngine('noble');
// Installed or not is decided by test code importing the package (../../setup/backends.ts), never by
// the loader under test: a loader that breaks must turn these red, not into "not installed".
const nativeInstalled = await installed('native');
const libsecp256k1Installed = await installed('libsecp256k1');

afterEach(() => useEngine(noble));

describe('selectBackend', () => {
  it('uses noble until told otherwise', () => {
    expect(activeEngine()).toBe(noble);
    expect(backendSelection()).toEqual({ requested: 'noble', engine: 'noble', fallbackReason: undefined });
  });

  it('falls back to noble, with a one-line reason, when the package cannot be imported', async () => {
    const sel = await selectBackend('native', { importer: () => Promise.reject(new Error("Cannot find package 'secp256k1/bindings.js'\n    at somewhere")) });
    expect(sel.engine).toBe('noble');
    expect(sel.requested).toBe('native');
    expect(sel.fallbackReason).toMatch(/^native is not available: Error: Cannot find package 'secp256k1\/bindings\.js'; using noble$/);
    expect(activeEngine().name).toBe('noble');
  });

  it('a binary this Node cannot load, or the package not installed, is named so with the command that fixes it (E_NATIVE_MODULE)', async () => {
    const foreign = Object.assign(new Error("The module '/x/node_modules/secp256k1/prebuilds/linux-x64/node.napi.node'\nwas compiled against a different Node.js version using\nNODE_MODULE_VERSION 115."), { code: 'ERR_DLOPEN_FAILED' });
    const built = await selectBackend('native', { importer: () => Promise.reject(foreign) });
    expect(built.fallbackReason).toBe(
      `native is not available: E_NATIVE_MODULE: secp256k1's native module cannot be loaded by Node.js ${process.version} (The module '/x/node_modules/secp256k1/prebuilds/linux-x64/node.napi.node') — ` +
        'run "npm rebuild secp256k1" in the toolkit\'s folder (it was built for another Node.js, or is damaged); using noble',
    );
    const missing = Object.assign(new Error("Cannot find module 'koffi'\nRequire stack:\n- /x/dist/offchain.cjs"), { code: 'MODULE_NOT_FOUND' });
    const absent = await selectBackend('libsecp256k1', { importer: () => Promise.reject(missing) });
    expect(absent.fallbackReason).toBe('libsecp256k1 is not available: E_NATIVE_MODULE: koffi is not installed (Cannot find module \'koffi\') — run "npm install koffi" in the toolkit\'s folder; using noble');
  });

  it('koffi loaded, the system\'s libsecp256k1 missing: that is the reason, not a broken koffi (no E_NATIVE_MODULE, no "npm rebuild koffi")', async () => {
    const dlopen = () => {
      throw Object.assign(new Error('libsecp256k1.so.2: cannot open shared object file: No such file or directory'), { code: 'ERR_DLOPEN_FAILED' });
    };
    const sel = await selectBackend('libsecp256k1', { importer: async () => ({ load: dlopen }) });
    expect(sel.engine).toBe('noble');
    expect(sel.fallbackReason).toMatch(/^libsecp256k1 is not available: /);
    expect(sel.fallbackReason).not.toMatch(/E_NATIVE_MODULE|npm rebuild/);
  });

  it('refuses a backend that gets a known computation wrong', async () => {
    // A binding whose every point is 04 || 0…0: k·G comes out wrong.
    const zero = () => new Uint8Array(65).fill(4, 0, 1);
    const liar = { publicKeyConvert: zero, publicKeyCombine: zero, publicKeyTweakMul: zero, publicKeyCreate: zero };
    const sel = await selectBackend('native', { importer: async () => liar });
    expect(sel.engine).toBe('noble');
    expect(sel.fallbackReason).toMatch(/^native is not available: .*k·G.*; using noble$/);
  });

  it('selects the reference engine (@scure/btc-signer) for cross-checks', async () => {
    expect(await selectBackend('reference')).toEqual({ requested: 'reference', engine: 'reference', fallbackReason: undefined });
    expect(activeEngine()).toBe(referenceEngine);
  });

  for (const name of OPTIONAL_BACKENDS) {
    it(`selects ${name} when test code can import its package (and refuses to fall back then)`, async () => {
      const sel = await selectBackend(name);
      if (await installed(name)) expect(sel).toEqual({ requested: name, engine: name, fallbackReason: undefined });
      else expect(sel).toMatchObject({ requested: name, engine: 'noble', fallbackReason: expect.stringMatching(new RegExp(`^${name} is not available: .*; using noble$`)) });
    });
  }

  it('auto takes the fastest backend that loads, and says why only if that is noble', async () => {
    const sel = await selectBackend('auto');
    const expected = libsecp256k1Installed ? 'libsecp256k1' : nativeInstalled ? 'native' : 'noble';
    expect(sel.engine).toBe(expected);
    if (expected === 'noble') expect(sel.fallbackReason).toMatch(/^libsecp256k1 is not available: .*; native is not available: .*; using noble$/);
    else expect(sel.fallbackReason).toBeUndefined();
  });

  it('auto with no libsecp256k1 backend importable lands on noble with every reason on one line', async () => {
    const sel = await selectBackend('auto', { importer: (s) => Promise.reject(new Error(`Cannot find package '${s}'`)) });
    expect(sel).toEqual({
      requested: 'auto',
      engine: 'noble',
      fallbackReason:
        "libsecp256k1 is not available: Error: Cannot find package 'koffi'; native is not available: Error: Cannot find package 'secp256k1/bindings.js'; using noble",
    });
  });

  it('parses the CLI environment value strictly', () => {
    expect(parseBackendChoice(undefined)).toBe('noble');
    expect(parseBackendChoice('')).toBe('noble');
    expect(parseBackendChoice(' Native ')).toBe('native');
    expect(parseBackendChoice('auto')).toBe('auto');
    expect(refusal(() => parseBackendChoice('openssl'), 'E_USAGE', 2).message).toMatch(/^unknown secp256k1 backend "openssl": expected one of auto, noble, native, libsecp256k1, reference$/);
  });

  it('refuses the removed tiny-secp256k1 by name, with why and the backends there are (no silent fallback to noble)', () => {
    for (const typed of ['tiny-secp256k1', ' Tiny-Secp256k1 ']) {
      expect(refusal(() => parseBackendChoice(typed), 'E_SECP256K1_BACKEND_REMOVED', 2).message)
        .toMatch(/^secp256k1 backend "tiny-secp256k1" was removed: .*constant-time k·P.*; use one of auto, noble, native, libsecp256k1, reference$/);
    }
  });
});

describe('with the loaders bin/run.js lends the bundle (a require and an importer)', () => {
  const REQUIRE = Symbol.for('offchain.require');
  const IMPORT = Symbol.for('offchain.import');
  const lent = globalThis as Record<symbol, unknown>;

  /** The specifiers each lent loader was handed while `f` ran; the globals restored after. */
  async function lending(f: () => Promise<unknown>): Promise<{ required: string[]; imported: string[] }> {
    const seen = { required: [] as string[], imported: [] as string[] };
    const before = [lent[REQUIRE], lent[IMPORT]];
    const req = createRequire(import.meta.url);
    lent[REQUIRE] = (s: string) => (seen.required.push(s), req(s));
    lent[IMPORT] = (s: string) => (seen.imported.push(s), import(s));
    try {
      await f();
    } finally {
      [lent[REQUIRE], lent[IMPORT]] = before;
    }
    return seen;
  }

  it.skipIf(!libsecp256k1Installed)('koffi is required (its index.cjs), not imported: no ES module loader for it (SKIPPED only if test code cannot load libsecp256k1)', async () => {
    expect(await lending(() => loadBackend('libsecp256k1'))).toEqual({ required: ['koffi'], imported: [] });
  });

  it.skipIf(!nativeInstalled)('so is the secp256k1 binding (SKIPPED only if test code cannot import it)', async () => {
    expect(await lending(() => loadBackend('native'))).toEqual({ required: ['secp256k1/bindings.js'], imported: [] });
  });
});

describe('KeyAgg and NonceAgg caches', () => {
  const keys = [1, 2, 3].map((i) => keyPair(new Uint8Array(32).fill(i)).publicKey);

  it('a caller modifying what it got back does not change the next answer', () => {
    const first = keyAgg(keys, [new Uint8Array(32).fill(9)], [true]);
    const expected = { aggregatePubkey: toHex(first.aggregatePubkey), xOnly: toHex(first.xOnly) };
    first.aggregatePubkey.fill(0);
    first.xOnly.fill(0);
    const again = keyAgg(keys, [new Uint8Array(32).fill(9)], [true]);
    expect({ aggregatePubkey: toHex(again.aggregatePubkey), xOnly: toHex(again.xOnly) }).toEqual(expected);

    const pubnonces = keys.map((pk, i) => nonceGen(pk, undefined, undefined, undefined, undefined, new Uint8Array(32).fill(i)).pubnonce);
    const agg = nonceAgg(pubnonces);
    const hex = toHex(agg);
    agg.fill(0);
    expect(toHex(nonceAgg(pubnonces))).toBe(hex);
  });

  it('a key list modified after use is a new key set, not a stale cache hit', () => {
    const list: Uint8Array[] = keys.map((k) => Uint8Array.from(k));
    const before = toHex(keyAgg(list).aggregatePubkey);
    list[2] = keys[1]!;
    useEngine(referenceEngine);
    const expected = toHex(keyAgg(list).aggregatePubkey);
    useEngine(noble);
    expect(toHex(keyAgg(list).aggregatePubkey)).toBe(expected);
    expect(expected).not.toBe(before);
  });

  it('more key sets and tweak lists than the LRUs hold: evicted entries come back right', () => {
    const tweak = (i: number) => Uint8Array.of(0, i, ...new Uint8Array(30));
    const pair = [keys[0]!, keys[1]!];
    const byTweak = (round: number) => Array.from({ length: 20 }, (_, i) => toHex(keyAgg(pair, [tweak(i)], [(i + round) % 2 === 0]).xOnly));
    const sets = Array.from({ length: 300 }, (_, i) => [keys[0]!, keyPair(bytes(i + 10)).publicKey]);
    const bySet = () => sets.map((set) => toHex(keyAgg(set).aggregatePubkey));
    const [t0, s0] = [byTweak(0), bySet()];
    expect([byTweak(0), bySet()]).toEqual([t0, s0]);
    useEngine(referenceEngine);
    const reference = [byTweak(0), [0, 150, 299].map((i) => toHex(keyAgg(sets[i]!).aggregatePubkey))];
    useEngine(noble);
    expect([t0, [0, 150, 299].map((i) => s0[i])]).toEqual(reference);
    expect(byTweak(1)).not.toEqual(t0);
  });
});

function bytes(i: number): Uint8Array {
  const b = new Uint8Array(32);
  b[30] = i >> 8;
  b[31] = i & 0xff;
  return b;
}
