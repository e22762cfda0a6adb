/**
 * Which BIP-327 engine ../bip327.ts uses. `noble` (pure JS) is the default and always
 * there; `tiny-secp256k1` (libsecp256k1 in WASM) and `native` (the `secp256k1`
 * package's N-API binding) are optional packages, imported only when selected, and a
 * selection that cannot be met falls back to noble with a one-line reason. `reference`
 * is @scure/btc-signer's BIP-327, for cross-checks. `auto` takes the fastest that loads.
 *
 * This module never reads the environment: the CLI layer reads OFFCHAIN_SECP256K1
 * (`SECP256K1_ENV`), parses it with `parseBackendChoice` and calls `selectBackend`.
 */
import { nobleBackend } from './backend-noble.ts';
import { nativeBackend, type NativeSecp256k1 } from './backend-native.ts';
import { tinySecp256k1Backend, type TinySecp256k1 } from './backend-tiny-secp256k1.ts';
import type { BackendName, Secp256k1Backend } from './backend.ts';
import type { Uncompressed } from './uncompressed.ts';
import { createEngine, type Bip327Engine, type EngineName } from './engine.ts';
import { referenceEngine } from './reference.ts';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { UsageError } from '../../errors.ts';

export type BackendChoice = EngineName | 'auto';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'noble', 'tiny-secp256k1', 'native', 'reference'];
/** The environment variable the CLI reads to choose a backend. */
export const SECP256K1_ENV = 'OFFCHAIN_SECP256K1';

export type BackendSelection = {
  requested: BackendChoice;
  /** The engine now in use. */
  engine: EngineName;
  /** Why the request was not met as asked (or, for `auto`, why faster ones were passed over). */
  fallbackReason: string | undefined;
};

/** How optional packages are imported; the CLI bundle lends one (see defaultImporter). */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

/**
 * A plain `import()`, except inside the CLI bundle, whose code cannot import() by
 * itself: there bin/run.js provides an importer under this symbol (scripts/build.mjs).
 */
const defaultImporter: ModuleImporter = (specifier) => {
  const lent = (globalThis as Record<symbol, ModuleImporter | undefined>)[Symbol.for('offchain.import')];
  return lent ? lent(specifier) : import(specifier);
};

/** Optional backends: the module to import and how to make a backend of it. */
const OPTIONAL: Partial<Record<BackendName, { specifier: string; make: (mod: unknown) => Secp256k1Backend<Uncompressed> }>> = {
  'tiny-secp256k1': { specifier: 'tiny-secp256k1', make: (mod) => tinySecp256k1Backend(mod as TinySecp256k1) },
  // The binding itself: the package's index would fall back to pure-JS elliptic unseen.
  native: {
    specifier: 'secp256k1/bindings.js',
    make: (mod) => nativeBackend(((mod as { default?: unknown }).default ?? mod) as NativeSecp256k1),
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

/** What was asked for, what is in use and, if they differ, why. */
export function backendSelection(): BackendSelection {
  return { ...selection };
}

/** Use an engine already loaded (tests and benchmarks switch engines this way). */
export function useEngine(engine: Bip327Engine): void {
  active = engine;
  selection = { requested: engine.name, engine: engine.name, fallbackReason: undefined };
}

/** A backend must agree with noble on a multiplication and a BIP-340 signature before it is used. */
function selfTest<P>(ec: Secp256k1Backend<P>): void {
  const k = 0x5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1edn;
  const expected = secp256k1.Point.BASE.multiply(k).toBytes(true);
  const got = ec.pointToBytes(ec.mulBase(k)!);
  const viaMul = ec.pointToBytes(ec.mul(ec.pointFromBytes(secp256k1.Point.BASE.toBytes(true))!, k)!);
  const msg = new Uint8Array(32).fill(7);
  const sk = new Uint8Array(32).fill(3);
  const sig = schnorr.sign(msg, sk, new Uint8Array(32));
  const pk = schnorr.getPublicKey(sk);
  const bad = Uint8Array.from(sig);
  bad[63] = bad[63]! ^ 1;
  const agrees = [got, viaMul].every((b) => b.every((x, i) => x === expected[i]));
  if (!agrees || !ec.verifySchnorr(sig, msg, pk) || ec.verifySchnorr(bad, msg, pk)) {
    throw new Error('it disagrees with @noble/curves on a known computation');
  }
}

/**
 * Import, adapt and self-test one secp256k1 backend (not memoized; loadEngine is).
 * Throws BackendUnavailableError with the first line of whatever went wrong.
 */
export async function loadBackend(name: BackendName, importer: ModuleImporter = defaultImporter): Promise<Secp256k1Backend<unknown>> {
  if (name === 'noble') return nobleBackend;
  const optional = OPTIONAL[name];
  if (!optional) throw new BackendUnavailableError(name, 'unknown backend');
  try {
    const ec = optional.make(await importer(optional.specifier));
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
  if (name === 'reference') return referenceEngine;
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
const AUTO_ORDER: readonly EngineName[] = ['native', 'tiny-secp256k1', 'noble'];

/**
 * Select the engine ../bip327.ts uses from now on. Never throws for an unavailable
 * backend: it falls back to noble and says why in `fallbackReason`.
 */
export async function selectBackend(choice: BackendChoice, opts: { importer?: ModuleImporter } = {}): Promise<BackendSelection> {
  const reasons: string[] = [];
  for (const name of choice === 'auto' ? AUTO_ORDER : [choice, 'noble' as const]) {
    try {
      active = await loadEngine(name, opts.importer);
      selection = { requested: choice, engine: name, fallbackReason: reasons.length ? `${reasons.join('; ')}; using ${name}` : undefined };
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
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new UsageError('E_USAGE', `unknown secp256k1 backend "${text}": expected one of ${BACKEND_CHOICES.join(', ')}`);
  }
  return choice;
}
