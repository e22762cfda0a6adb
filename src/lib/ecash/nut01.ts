/**
 * NUT-01 mint public keys, and the private keys behind them derived as the mint we front
 * derives its own (Nutshell's `derive_keys`, also CDK's with its path): a BIP-32 master key
 * from the seed's bytes (Nutshell: the UTF-8 bytes of MINT_PRIVATE_KEY, not a BIP-39
 * seed), then PATH/i' for the key of amount 2^i, i < the keyset's number of amounts.
 *
 * A keyset's settings are what the mint was run with: the path (Nutshell's
 * MINT_DERIVATION_PATH, whose last step is the keyset index a rotation increments), the
 * unit, the input fee (MINT_INPUT_FEE_PPK), a final expiry, the number of amounts (64 in
 * Nutshell, 32 in CDK) and the NUT-02 id version: v01 for a keyset Nutshell 0.20 created,
 * v00 for one created by 0.19 or older and kept by an upgraded mint. The defaults are a
 * fresh Nutshell 0.20.3's: with the seed TEST_PRIVATE_KEY they give the keyset
 * 01884a74bb2f… a real 0.20.3 mint announces (test/vectors/nutshell/default).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex, utf8, fromHex } from '../bytes.ts';
import { MalformedInputError, UsageError } from '../errors.ts';
import { childKey, derivePath, hardened, parsePath } from './bip32.ts';
import { bytesToScalar, compressed, mulBase, pointFromBytes, type Point } from './curve.ts';
import { MAX_ORDER, isPowerOfTwo } from './nut00.ts';
import { keysetId, type KeysetIdVersion, type KeysetKeys } from './nut02.ts';

/** The settings a mint derives one keyset from (its seed aside). */
export type KeysetSettings = {
  /** BIP-32 path of the keyset; its last step is the keyset index (Nutshell's rotation counter). */
  path: string;
  unit: string;
  input_fee_ppk: number;
  /** Unix seconds, or null: none (Nutshell's env cannot set one; its rotation RPC writes 0). */
  final_expiry: number | null;
  /** Keys for the amounts 2^0 … 2^(amounts−1). */
  amounts: number;
  id_version: KeysetIdVersion;
};

/** A fresh Nutshell 0.20.3 with its defaults (MINT_DERIVATION_PATH, MINT_INPUT_FEE_PPK, max_order, v2 ids). */
export const NUTSHELL_DEFAULTS: KeysetSettings = { path: "m/0'/0'/0'", unit: 'sat', input_fee_ppk: 100, final_expiry: null, amounts: 64, id_version: '01' };
export const DEFAULT_KEYSET_PATH = NUTSHELL_DEFAULTS.path;
export const UNIT = 'sat';

/** A keyset the credit mint signs with: amount → private scalar, and the public side. */
export type MintKeyset = KeysetSettings & {
  id: string;
  privateKeys: Map<bigint, bigint>;
  keys: KeysetKeys;
  points: Map<bigint, Point>;
};

/** The seed as bytes: a string is taken as its UTF-8 bytes (Nutshell's MINT_PRIVATE_KEY, CDK's [info].seed). */
const seedBytes = (seed: string | Uint8Array) => (typeof seed === 'string' ? utf8(seed) : seed);

/** The settings checked: a hardened path, a unit, a fee, 1–64 amounts. */
export function checkSettings(s: KeysetSettings): KeysetSettings {
  const steps = parsePath(s.path);
  if (steps.length === 0 || steps.some((i) => i < 0x8000_0000)) throw new UsageError('E_USAGE', `keyset path ${s.path} must be hardened at every step (m/0'/0'/0')`);
  if (!/^[a-z][a-z0-9]{0,15}$/.test(s.unit)) throw new UsageError('E_USAGE', `unit ${JSON.stringify(s.unit)} is not a currency unit (lowercase, e.g. sat)`);
  if (!Number.isSafeInteger(s.input_fee_ppk) || s.input_fee_ppk < 0) throw new UsageError('E_USAGE', `input fee ${s.input_fee_ppk} ppk is not a whole number ≥ 0`);
  if (s.final_expiry !== null && (!Number.isSafeInteger(s.final_expiry) || s.final_expiry < 0)) throw new UsageError('E_USAGE', `final expiry ${s.final_expiry} is not unix seconds`);
  if (!Number.isInteger(s.amounts) || s.amounts < 1 || s.amounts > MAX_ORDER) throw new UsageError('E_USAGE', `a keyset has 1–${MAX_ORDER} amounts, not ${s.amounts}`);
  return s;
}

/** Settings with Nutshell 0.20.3's defaults for what is not given (undefined or absent; null is a value: no final expiry). */
export function withDefaults(s: Partial<KeysetSettings>): KeysetSettings {
  const d = NUTSHELL_DEFAULTS;
  return { path: s.path ?? d.path, unit: s.unit ?? d.unit, input_fee_ppk: s.input_fee_ppk ?? d.input_fee_ppk, final_expiry: s.final_expiry ?? d.final_expiry, amounts: s.amounts ?? d.amounts, id_version: s.id_version ?? d.id_version };
}

/** The keyset index: the last step of the path (unhardened), and the path without it. */
export function splitPath(path: string): { prefix: string; index: number } {
  const i = path.lastIndexOf('/');
  return { prefix: path.slice(0, i), index: parsePath(path).at(-1)! - 0x8000_0000 };
}

export function deriveMintKeyset(seed: string | Uint8Array, settings: Partial<KeysetSettings> = {}, id?: string): MintKeyset {
  const s = checkSettings(withDefaults(settings));
  const base = derivePath(seedBytes(seed), s.path);
  const privateKeys = new Map<bigint, bigint>();
  const points = new Map<bigint, Point>();
  const keys: KeysetKeys = new Map();
  for (let i = 0; i < s.amounts; i++) {
    const amount = 1n << BigInt(i);
    const k = bytesToScalar(childKey(base, hardened(i)).key);
    const K = mulBase(k);
    privateKeys.set(amount, k);
    points.set(amount, K);
    keys.set(amount, compressed(K));
  }
  // An id given is what the mint announced (checked by the caller against these keys); else the one these settings make.
  return { ...s, id: id ?? keysetId(s.id_version, keys, s), privateKeys, keys, points };
}

/**
 * CDK's keyset path (cdk-signatory `derivation_path_from_unit`): m/129372'/{unit index}'/{index}',
 * the unit index being the first 4 bytes of SHA-256 of the unit in capitals, big-endian, top
 * bit cleared (`hashed_derivation_index`: sat → 1967237907). cdk-mintd's first keyset is index 1.
 */
export function cdkKeysetPath(unit: string, index: number): string {
  const h = sha256(utf8(unit.toUpperCase()));
  const unitIndex = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) & 0x7fff_ffff;
  return `m/129372'/${unitIndex}'/${index}'`;
}

/** The public key of amount 1 at `path`: enough to tell whether a seed and path are a mint's (one child, not 64). */
export function firstKey(seed: string | Uint8Array, path: string): string {
  return toHex(compressed(mulBase(bytesToScalar(childKey(derivePath(seedBytes(seed), path), hardened(0)).key))));
}

/** The public keyset: what a wallet needs (id, unit, fee, amount → point). */
export type PublicKeyset = { id: string; unit: string; input_fee_ppk?: number; final_expiry?: number | null; keys: KeysetKeys; points?: Map<bigint, Point> };

/** The keys object of NUT-01: amount (decimal string; 2^63 exceeds a JSON number) → compressed key, by amount. */
export function keysObject(keys: KeysetKeys): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [a, k] of [...keys.entries()].sort(([x], [y]) => (x < y ? -1 : 1))) out[a.toString()] = toHex(k);
  return out;
}

/** GET /v1/keys's answer for one active keyset, shaped as Nutshell 0.20.3 answers it. */
export function keysAnswer(ks: PublicKeyset): { keysets: { id: string; unit: string; active: boolean; input_fee_ppk: number; final_expiry: number | null; keys: Record<string, string> }[] } {
  return { keysets: [{ id: ks.id, unit: ks.unit, active: true, input_fee_ppk: ks.input_fee_ppk ?? 0, final_expiry: ks.final_expiry ?? null, keys: keysObject(ks.keys) }] };
}

/**
 * A NUT-01 keys object (amount string → compressed point hex) read strictly: amounts are
 * powers of two below 2^64, keys are 33-byte compressed points (E_BAD_KEYSET otherwise).
 */
export function parseKeys(json: unknown): { keys: KeysetKeys; points: Map<bigint, Point> } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new MalformedInputError('E_BAD_KEYSET', 'keys must be an object of amount → public key');
  const keys: KeysetKeys = new Map();
  const points = new Map<bigint, Point>();
  for (const [a, v] of Object.entries(json)) {
    if (!/^[1-9]\d{0,19}$/.test(a) || !isPowerOfTwo(BigInt(a))) throw new MalformedInputError('E_BAD_KEYSET', `keyset amount ${a} is not a power of two below 2^64`);
    if (typeof v !== 'string' || !/^[0-9a-f]{66}$/.test(v)) throw new MalformedInputError('E_BAD_KEYSET', `the key for amount ${a} is not a 33-byte compressed public key in lowercase hex`);
    let P: Point;
    try {
      P = pointFromBytes(fromHex(v), `key ${a}`);
    } catch {
      throw new MalformedInputError('E_BAD_KEYSET', `the key for amount ${a} is not a point on secp256k1`);
    }
    keys.set(BigInt(a), fromHex(v));
    points.set(BigInt(a), P);
  }
  if (keys.size === 0) throw new MalformedInputError('E_BAD_KEYSET', 'the keyset has no keys');
  return { keys, points };
}
