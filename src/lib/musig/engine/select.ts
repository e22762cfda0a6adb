/**
 * Which BIP-327 engine ../bip327.ts uses. `noble` (pure JS) is the default and always
 * there; `native` (the `secp256k1` package's N-API binding, a 2019 libsecp256k1) and
 * `libsecp256k1` (the system's libsecp256k1 through the `koffi` FFI package:
 * ./libsecp256k1.ts) are optional, imported only when selected, and a selection that
 * cannot be met falls back to noble with a one-line reason. `reference` is
 * @scure/btc-signer's BIP-327, for cross-checks. `auto` takes the fastest that loads.
 *
 * Each backend kept earns its place on a bench row where it is the fastest available
 * (docs/secp256k1.md, "Which backends and why"): libsecp256k1 on every row where the
 * system has the library; native where it does not (the npm install alone, on the
 * platforms its package ships binaries for); noble everywhere else and as the pure-JS
 * reference. tiny-secp256k1 (libsecp256k1 in WASM) was removed: never the fastest
 * available where either of the others loads, and no constant-time k·P, so the onion's
 * ECDH and the mint's k·B_ ran on noble beside it. Asking for it is refused by name
 * (`E_SECP256K1_BACKEND_REMOVED`).
 *
 * This module never reads the environment: the CLI layer reads OFFCHAIN_SECP256K1
 * (`SECP256K1_ENV`), parses it with `parseBackendChoice` and calls `selectBackend`.
 */
import { nobleBackend } from './backend-noble.ts';
import { nativeBackend, type NativeSecp256k1 } from './backend-native.ts';
import { libsecp256k1Backend } from './backend-libsecp256k1.ts';
import { openLibsecp256k1, type Koffi } from './libsecp256k1.ts';
import type { BackendName, Secp256k1Backend } from './backend.ts';
import type { Uncompressed } from './uncompressed.ts';
import { bytes32 } from './scalar.ts';
import { createEngine, type Bip327Engine, type EngineName } from './engine.ts';
import { fromHex, toHex } from '../../bytes.ts';
import { UsageError } from '../../errors.ts';
import { nativeModuleProblem } from '../../native-module.ts';

export type BackendChoice = EngineName | 'auto';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'noble', 'native', 'libsecp256k1', 'reference'];
/** Backends this toolkit once offered and no longer does: asked for, each is refused with its reason. */
const REMOVED_BACKENDS: Readonly<Record<string, string>> = {
  'tiny-secp256k1': 'it was never the fastest where native or libsecp256k1 loads, and it has no constant-time k·P (docs/secp256k1.md)',
};
/** The environment variable the CLI reads to choose a backend. */
export const SECP256K1_ENV = 'OFFCHAIN_SECP256K1';

export type BackendSelection = {
  requested: BackendChoice;
  /** The engine now in use. */
  engine: EngineName;
  /** Why the request was not met: set when it fell back to noble (for `auto`: found no libsecp256k1 backend). */
  fallbackReason: string | undefined;
};

/** How optional packages are imported; the CLI bundle lends one (see defaultImporter). */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

/** The optional packages require can load: the `secp256k1` binding (CommonJS) and koffi (both kinds: its index.cjs). */
const COMMONJS: ReadonlySet<string> = new Set(['koffi', 'secp256k1/bindings.js']);

/**
 * A plain `import()`, except inside the CLI bundle, whose code cannot import() by
 * itself: there bin/run.js provides an importer under this symbol (scripts/build.mjs).
 * Those go through the `require` bin/run.js lends too, where it lends one: import() would
 * start Node's ES module loader for them, ~5 ms of CPU in a one-shot command
 * (`onion build` 126 → 121 ms).
 */
const defaultImporter: ModuleImporter = (specifier) => {
  const lent = globalThis as Record<symbol, ((specifier: string) => unknown) | undefined>;
  const lentRequire = lent[Symbol.for('offchain.require')];
  if (lentRequire && COMMONJS.has(specifier)) return Promise.resolve().then(() => lentRequire(specifier));
  const importer = lent[Symbol.for('offchain.import')] as ModuleImporter | undefined;
  return importer ? importer(specifier) : import(specifier);
};

/** Optional backends: the module to import and how to make a backend of it. */
const OPTIONAL: Partial<Record<BackendName, { specifier: string; make: (mod: unknown) => Secp256k1Backend<Uncompressed> }>> = {
  // The binding itself: the package's index would fall back to pure-JS elliptic unseen.
  native: {
    specifier: 'secp256k1/bindings.js',
    make: (mod) => nativeBackend(((mod as { default?: unknown }).default ?? mod) as NativeSecp256k1),
  },
  // koffi, then the library itself by soname (or $OFFCHAIN_LIBSECP256K1): either missing is a fallback with its reason.
  libsecp256k1: {
    specifier: 'koffi',
    make: (mod) => libsecp256k1Backend(openLibsecp256k1(((mod as { default?: unknown }).default ?? mod) as Koffi)),
  },
};

export class BackendUnavailableError extends Error {
  constructor(readonly backend: EngineName, readonly reason: string) {
    super(`${backend} is not available: ${reason}`);
    this.name = 'BackendUnavailableError';
  }
}

const loaded = new Map<EngineName, Bip327Engine>();

function nobleEngine(): Bip327Engine {
  let engine = loaded.get('noble');
  if (!engine) loaded.set('noble', (engine = createEngine(nobleBackend)));
  return engine;
}

let active: Bip327Engine | undefined;
let selection: BackendSelection = { requested: 'noble', engine: 'noble', fallbackReason: undefined };

/** The engine ../bip327.ts routes to. */
export function activeEngine(): Bip327Engine {
  return (active ??= nobleEngine());
}

/**
 * The secp256k1 backend the selected engine runs on — what other protocols' point
 * arithmetic (the statechain's additive signer) uses too, so one selection
 * ($OFFCHAIN_SECP256K1, or a long-running mode's `auto`) speeds up both.
 */
export function activeSecp256k1(): Secp256k1Backend<unknown> {
  return activeEngine().ec ?? nobleBackend;
}

/** What was asked for, what is in use and, if they differ, why. */
export function backendSelection(): BackendSelection {
  return { ...selection };
}

/** Use an engine already loaded (tests and benchmarks switch engines this way). */
export function useEngine(engine: Bip327Engine): void {
  active = engine;
  selection = { requested: engine.name, engine: engine.name, fallbackReason: undefined };
}

/**
 * Known answers a backend must reproduce before it is used: k·G by every multiplication
 * it has, (k+1)·G by addition and by a·P + b·G (G and a point with odd y and x ≥ n: ECDSA
 * recovery's two recovery-id bits, which libsecp256k1's own BIP-340 Verify
 * never reach), BIP-340 vector 1 (and a forgery refused), and the ECDH
 * secret SHA256(compressed(k·G)) where it offers one. And two refusals: an x with no y
 * on the curve (x = 5), and x = p + 1 (1 is an x; p + 1 only reduces to it) — a library
 * that decodes either hands attacker-chosen non-points to the multiplications (an
 * invalid-curve attack on the secret scalar: the onion's node key, the mint's k).
 */
const KNOWN = {
  k: 0x5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1edn,
  kG: '037ba3ce61433fadc755d06f6843f2fd9a09a56c4f89ed72775fe281e030b5a93e',
  k1G: '02d4fb015db42d6d758e93181e6b0913e137037eaac4e3e949df9e89a6d0db7ec2',
  ecdh: '860181747267f1135b27430f061427df9ad05fa9ef4fe8c08760abe1cb37cf94',
  G: '0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798',
  pk: 'dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659',
  msg: '243f6a8885a308d313198a2e03707344a4093822299f31d0082efa98ec4e6c89',
  sig: '6896bd60eeae296db48a229ff71dfe071bde413e6d43f917dc8dcf8c78de33418906d11ac976abccb20b091292bff4ea897efcb639ea871cfa95f6de339e4b0a',
  noY: '020000000000000000000000000000000000000000000000000000000000000005',
  // Q: odd y and x = n + 2, in [n, p) (recovery's both recid bits; x − n = 2 is a point's x too, where a dropped overflow bit would land); 2·Q + 3·G.
  bigX: '03fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364143',
  q2g3: '03df31b38a8f73e8b9665daece8225f72b740a4151abca63db0283d295f2e00549',
  pPlus1: 'fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc30',
};

function selfTest<P>(ec: Secp256k1Backend<P>): void {
  const G = ec.pointFromBytes(fromHex(KNOWN.G))!;
  const hex = (p: P | null) => (p === null ? 'infinity' : toHex(ec.pointToBytes(p)));
  const kG = ec.mulBase(KNOWN.k)!;
  const [sig, msg, pk] = [fromHex(KNOWN.sig), fromHex(KNOWN.msg), fromHex(KNOWN.pk)];
  const forged = Uint8Array.from(sig);
  forged[63] = forged[63]! ^ 1;
  const wrong = [
    hex(kG) !== KNOWN.kG && 'k·G',
    hex(ec.mul(G, KNOWN.k)) !== KNOWN.kG && 'k·P',
    ec.mulSecret && hex(ec.mulSecret(G, KNOWN.k)) !== KNOWN.kG && 'secret k·P',
    hex(ec.add(kG, G)) !== KNOWN.k1G && 'P + Q',
    ec.addMulBase && hex(ec.addMulBase(kG, 1n)) !== KNOWN.k1G && 'P + k·G',
    ec.mulAddBase && (hex(ec.mulAddBase(G, KNOWN.k, 1n)) !== KNOWN.k1G || hex(ec.mulAddBase(ec.pointFromBytes(fromHex(KNOWN.bigX))!, 2n, 3n)) !== KNOWN.q2g3) && 'a·P + b·G',
    ec.ecdhSha256 && toHex(ec.ecdhSha256(G, bytes32(KNOWN.k))) !== KNOWN.ecdh && 'ECDH',
    (!ec.verifySchnorr(sig, msg, pk) || ec.verifySchnorr(forged, msg, pk)) && 'BIP-340 Verify',
    ec.pointFromBytes(fromHex(KNOWN.noY)) !== undefined && 'a non-point decoded',
    ec.liftX(fromHex(KNOWN.pPlus1)) !== undefined && 'x ≥ p decoded',
  ].filter(Boolean);
  if (wrong.length) throw new Error(`it gets a known computation wrong (${wrong.join(', ')})`);
}

/**
 * Import, adapt and self-test one secp256k1 backend (not memoized; loadEngine is).
 * Throws BackendUnavailableError with the first line of whatever went wrong.
 */
export async function loadBackend(name: BackendName, importer: ModuleImporter = defaultImporter): Promise<Secp256k1Backend<unknown>> {
  if (name === 'noble') return nobleBackend;
  const optional = OPTIONAL[name];
  if (!optional) throw new BackendUnavailableError(name, 'unknown backend');
  let mod: unknown;
  try {
    mod = await importer(optional.specifier);
  } catch (e) {
    // The package's own binary this Node cannot load, or the package not installed: named so, with the command that fixes it.
    const problem = nativeModuleProblem(e, optional.specifier);
    throw new BackendUnavailableError(name, problem === undefined ? firstLine(e) : `E_NATIVE_MODULE: ${problem}`);
  }
  try {
    // What the package then loads (the system's libsecp256k1 through koffi) or computes is its own reason.
    const ec = optional.make(mod);
    selfTest(ec);
    return ec;
  } catch (e) {
    throw new BackendUnavailableError(name, firstLine(e));
  }
}

/**
 * Load one engine; throws BackendUnavailableError. Memoized per name (so each engine's
 * KeyAgg cache lives on) unless an importer is given.
 */
export async function loadEngine(name: EngineName, importer?: ModuleImporter): Promise<Bip327Engine> {
  if (name === 'noble') return nobleEngine();
  // Cross-checks only: one-shot commands never load @scure/btc-signer's BIP-327.
  if (name === 'reference') return (await import('./reference.ts')).referenceEngine;
  const hit = importer ? undefined : loaded.get(name);
  if (hit) return hit;
  const engine = createEngine(await loadBackend(name, importer));
  if (!importer) loaded.set(name, engine);
  return engine;
}

function firstLine(e: unknown): string {
  const text = e instanceof Error ? `${(e as NodeJS.ErrnoException).code ?? e.name}: ${e.message}` : String(e);
  return text.split('\n')[0]!.trim();
}

/** Fastest first; `auto` takes the first that loads. */
const AUTO_ORDER: readonly EngineName[] = ['libsecp256k1', 'native', 'noble'];

/**
 * Select the engine ../bip327.ts uses from now on. Never throws for an unavailable
 * backend: it falls back to noble and says why in `fallbackReason`.
 */
export async function selectBackend(choice: BackendChoice, opts: { importer?: ModuleImporter } = {}): Promise<BackendSelection> {
  const reasons: string[] = [];
  for (const name of choice === 'auto' ? AUTO_ORDER : [choice, 'noble' as const]) {
    try {
      active = await loadEngine(name, opts.importer);
      // `auto` is met by any libsecp256k1 backend; only landing on noble needs a reason.
      const met = name === choice || (choice === 'auto' && name !== 'noble');
      selection = { requested: choice, engine: name, fallbackReason: met ? undefined : `${reasons.join('; ')}; using ${name}` };
      return backendSelection();
    } catch (e) {
      reasons.push(e instanceof BackendUnavailableError ? e.message : firstLine(e));
    }
  }
  throw new Error(`no secp256k1 backend could be loaded: ${reasons.join('; ')}`); // noble cannot fail
}

/** Parse a backend name as a user types it (e.g. the CLI's OFFCHAIN_SECP256K1); unset → noble. */
export function parseBackendChoice(text: string | undefined): BackendChoice {
  if (text === undefined || text.trim() === '') return 'noble';
  const choice = text.trim().toLowerCase() as BackendChoice;
  const removed = REMOVED_BACKENDS[choice];
  if (removed !== undefined) {
    throw new UsageError('E_SECP256K1_BACKEND_REMOVED', `secp256k1 backend "${choice}" was removed: ${removed}; use one of ${BACKEND_CHOICES.join(', ')}`);
  }
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new UsageError('E_USAGE', `unknown secp256k1 backend "${text}": expected one of ${BACKEND_CHOICES.join(', ')}`);
  }
  return choice;
}
