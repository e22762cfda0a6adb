/**
 * NUT-01 mint public keys, and the private keys behind them derived as the mint we front
 * derives its own (Nutshell's `derive_keys`): a BIP-32 master key from the UTF-8 bytes of
 * the seed *string* (not a BIP-39 seed), then PATH/i' for the key of amount 2^i, i < 64.
 * Nutshell's default path is m/0'/0'/0' (its first sat keyset); the seed "TEST_PRIVATE_KEY"
 * there gives keyset 009a1f293253e41e, and so here. The keyset id is NUT-02 v00, as
 * Nutshell's derive_keyset_id makes it.
 */
import { toHex, utf8, fromHex } from '../bytes.ts';
import { MalformedInputError } from '../errors.ts';
import { childKey, derivePath, hardened } from './bip32.ts';
import { G, bytesToScalar, compressed, pointFromBytes, type Point } from './curve.ts';
import { MAX_ORDER, isPowerOfTwo } from './nut00.ts';
import { keysetIdV00, type KeysetKeys } from './nut02.ts';

export const DEFAULT_KEYSET_PATH = "m/0'/0'/0'";
export const UNIT = 'sat';

/** A keyset the credit mint signs with: amount → private scalar, and the public side. */
export type MintKeyset = {
  id: string;
  unit: string;
  path: string;
  privateKeys: Map<bigint, bigint>;
  keys: KeysetKeys;
  points: Map<bigint, Point>;
};

export function deriveMintKeyset(seed: string, path = DEFAULT_KEYSET_PATH): MintKeyset {
  const base = derivePath(utf8(seed), path);
  const privateKeys = new Map<bigint, bigint>();
  const points = new Map<bigint, Point>();
  const keys: KeysetKeys = new Map();
  for (let i = 0; i < MAX_ORDER; i++) {
    const amount = 1n << BigInt(i);
    const k = bytesToScalar(childKey(base, hardened(i)).key);
    const K = G.multiply(k);
    privateKeys.set(amount, k);
    points.set(amount, K);
    keys.set(amount, compressed(K));
  }
  return { id: keysetIdV00(keys), unit: UNIT, path, privateKeys, keys, points };
}

/** The public keyset: what a wallet needs (id, unit, amount → point). */
export type PublicKeyset = { id: string; unit: string; keys: KeysetKeys; points: Map<bigint, Point> };

/** GET /v1/keys's answer for one keyset; amounts as decimal strings (2^63 exceeds a JSON number). */
export function keysAnswer(ks: PublicKeyset): { keysets: { id: string; unit: string; keys: Record<string, string> }[] } {
  const keys: Record<string, string> = {};
  for (const [a, k] of [...ks.keys.entries()].sort(([x], [y]) => (x < y ? -1 : 1))) keys[a.toString()] = toHex(k);
  return { keysets: [{ id: ks.id, unit: ks.unit, keys }] };
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
