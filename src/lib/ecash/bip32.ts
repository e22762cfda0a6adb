/**
 * BIP-32 private derivation, the part Cashu needs: a master key from seed bytes of any
 * length (Nutshell feeds the UTF-8 bytes of its seed *string*, which may exceed BIP-32's
 * 64-byte bound that @scure/bip32 enforces, so we do not use it), then private child keys,
 * hardened (i') or not. No extended-key serialisation, no public derivation.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { concatBytes, utf8 } from '../bytes.ts';
import { UsageError } from '../errors.ts';
import { bytesToScalar, scalarToBytes } from './curve.ts';

const N = secp256k1.Point.Fn.ORDER;
const HARDENED = 0x8000_0000;

export type ExtendedPrivateKey = { key: Uint8Array; chainCode: Uint8Array };

export function masterKey(seed: Uint8Array): ExtendedPrivateKey {
  const I = hmac(sha512, utf8('Bitcoin seed'), seed);
  const k = bytesToScalar(I.subarray(0, 32));
  // Probability ~2^-127; BIP-32 says such a seed is invalid.
  if (k === 0n || k >= N) throw new UsageError('E_BAD_SEED', 'this seed gives an invalid BIP-32 master key; use another seed');
  return { key: I.slice(0, 32), chainCode: I.slice(32) };
}

export function childKey(parent: ExtendedPrivateKey, index: number): ExtendedPrivateKey {
  const ser32 = new Uint8Array(4);
  new DataView(ser32.buffer).setUint32(0, index >>> 0);
  const data = index >= HARDENED
    ? concatBytes(new Uint8Array([0]), parent.key, ser32)
    : concatBytes(secp256k1.getPublicKey(parent.key, true), ser32);
  const I = hmac(sha512, parent.chainCode, data);
  const il = bytesToScalar(I.subarray(0, 32));
  const k = (il + bytesToScalar(parent.key)) % N;
  // BIP-32: "proceed with the next value for i"; ~2^-127, so we refuse instead.
  if (il >= N || k === 0n) throw new UsageError('E_BAD_SEED', `BIP-32 child ${index} is invalid for this seed; use another seed`);
  return { key: scalarToBytes(k), chainCode: I.slice(32) };
}

/** "m/0'/0'/0'" → indices; refuses anything else (E_USAGE). */
export function parsePath(path: string): number[] {
  const parts = path.split('/');
  if (parts[0] !== 'm') throw new UsageError('E_USAGE', `derivation path ${path} must start with m/`);
  return parts.slice(1).map((p) => {
    const m = /^(\d{1,10})('|h)?$/.exec(p);
    const n = m ? Number(m[1]) : NaN;
    if (!m || n >= HARDENED) throw new UsageError('E_USAGE', `derivation path ${path}: bad step ${p}`);
    return m[2] ? n + HARDENED : n;
  });
}

export function derivePath(seed: Uint8Array, path: string | number[]): ExtendedPrivateKey {
  let k = masterKey(seed);
  for (const i of typeof path === 'string' ? parsePath(path) : path) k = childKey(k, i);
  return k;
}

export const hardened = (i: number): number => i + HARDENED;
