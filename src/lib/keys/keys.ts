/**
 * Key parsing and derivation for secp256k1 keys as Bitcoin writes them: secret keys as
 * 64 hex digits or WIF (compressed or not: the flag only says how a legacy wallet
 * serialised the public key; we always use the compressed form), public keys as 33-byte compressed
 * SEC1 or 32-byte x-only (BIP-340). Error messages never echo secret material.
 *
 * Deliberately absent: BIP-32 derivation (extended keys) and uncompressed public keys,
 * which no protocol in this toolkit uses.
 */
import { secp256k1, schnorr } from '@noble/curves/secp256k1.js';
import { createBase58check } from '@scure/base';
import { sha256 } from '@noble/hashes/sha2.js';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { fromHex, isHex, toHex } from '../bytes.ts';
import { Lru } from '../lru.ts';
import type { Network } from '../network.ts';
import { activeSecp256k1 } from '../musig/engine/select.ts';

const base58check = createBase58check(sha256);
const Point = secp256k1.Point;
const N = Point.Fn.ORDER;

export type KeyPair = {
  secretKey: Uint8Array;
  /** 33-byte compressed public key (BIP-327 "individual public key"). */
  publicKey: Uint8Array;
  /** 32-byte x-only public key (BIP-340). */
  xOnly: Uint8Array;
};

function scalarOk(bytes: Uint8Array): boolean {
  if (bytes.length !== 32) return false;
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n > 0n && n < N;
}

function wifVersion(network: Network): number {
  return network === 'mainnet' ? 0x80 : 0xef;
}

/**
 * Parse a secret key from hex or WIF. A WIF of another network is refused when a
 * network is given, so a mainnet key is never used on a test network by mistake.
 */
export function parseSecretKey(text: string, network?: Network, source = 'the key'): Uint8Array {
  const trimmed = text.trim();
  let secret: Uint8Array | undefined;
  if (trimmed.length === 64 && isHex(trimmed)) {
    secret = fromHex(trimmed);
  } else {
    let payload: Uint8Array;
    try {
      payload = base58check.decode(trimmed);
    } catch {
      throw new MalformedInputError('E_BAD_SECRET_KEY', `${source} is neither 64 hex digits nor a valid WIF secret key`);
    }
    const version = payload[0];
    const compressed = payload.length === 34 && payload[33] === 0x01;
    if ((payload.length !== 33 && !compressed) || (version !== 0x80 && version !== 0xef)) {
      throw new MalformedInputError('E_BAD_SECRET_KEY', `${source} is not a WIF secret key (bad version or length)`);
    }
    if (network && version !== wifVersion(network)) {
      throw new RefusedError(
        'E_NETWORK_MISMATCH',
        `${source} is a ${version === 0x80 ? 'mainnet' : 'test-network'} WIF key but the network is ${network}`,
      );
    }
    secret = payload.slice(1, 33);
  }
  if (!scalarOk(secret)) {
    throw new MalformedInputError('E_BAD_SECRET_KEY', `${source} is out of range for secp256k1 (zero or ≥ the group order)`);
  }
  return secret;
}

export function keyPair(secretKey: Uint8Array): KeyPair {
  if (!scalarOk(secretKey)) throw new MalformedInputError('E_BAD_SECRET_KEY', 'secret key out of range');
  // d·G on the selected backend (constant time on each; noble unless a backend was selected).
  const ec = activeSecp256k1();
  const publicKey = ec.pointToBytes(ec.mulBase(bytesToBigInt(secretKey))!);
  return { secretKey, publicKey, xOnly: publicKey.slice(1) };
}

export function encodeWif(secretKey: Uint8Array, network: Network): string {
  if (!scalarOk(secretKey)) throw new MalformedInputError('E_BAD_SECRET_KEY', 'secret key must be 32 bytes in [1, n-1]');
  const payload = new Uint8Array(34);
  payload[0] = wifVersion(network);
  payload.set(secretKey, 1);
  payload[33] = 0x01;
  return base58check.encode(payload);
}

/**
 * Keys already found on the curve, by their hex (public values, ../lru.ts): a protocol step
 * reads the same few keys at every check (a statechain transfer decoded ~11 at the operator).
 */
const curveKeys = new Lru<Uint8Array>(4096);

/** A 33-byte compressed public key, validated as a curve point. */
export function parsePublicKey(text: string, field = 'public key'): Uint8Array {
  const hex = text.trim();
  const known = curveKeys.get(hex);
  if (known !== undefined) return known.slice();
  const bytes = validatePublicKey(fromHex(hex, field), field);
  curveKeys.set(hex, bytes.slice());
  return bytes;
}

export function validatePublicKey(bytes: Uint8Array, field = 'public key'): Uint8Array {
  if (bytes.length !== 33 || (bytes[0] !== 0x02 && bytes[0] !== 0x03)) {
    throw new MalformedInputError('E_BAD_PUBKEY', `${field} must be a 33-byte compressed public key (02/03 prefix)`);
  }
  if (activeSecp256k1().pointFromBytes(bytes) === undefined) throw new MalformedInputError('E_BAD_PUBKEY', `${field} is not a point on secp256k1`);
  return bytes;
}

/** A 32-byte x-only public key (BIP-340 lift_x must succeed); 33-byte keys are reduced. */
export function parseXOnlyPublicKey(text: string, field = 'x-only public key'): Uint8Array {
  const bytes = fromHex(text.trim(), field);
  if (bytes.length === 33) return validatePublicKey(bytes, field).slice(1);
  if (bytes.length !== 32) throw new MalformedInputError('E_BAD_PUBKEY', `${field} must be 32 (x-only) or 33 bytes`);
  try {
    schnorr.utils.lift_x(bytesToBigInt(bytes));
  } catch {
    throw new MalformedInputError('E_BAD_PUBKEY', `${field} is not the x coordinate of a secp256k1 point`);
  }
  return bytes;
}

export function bytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt('0x' + toHex(bytes));
}
