/**
 * Open Assets identifiers: the asset ID of an issuing script (RIPEMD160(SHA256(script))
 * with version byte 23 on mainnet, `A…`, and 115 on the test networks, `o…`, in
 * base58check) and colored addresses (namespace byte 0x13 before a base58 Bitcoin
 * address's payload: `a…` on mainnet, `b…` on testnet).
 */
import { ripemd160 } from '@noble/hashes/legacy.js';
import { hash as nodeHash } from 'node:crypto';
import { createBase58check } from '@scure/base';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { hash256, sha256 } from '../hash.ts';
import type { Network } from '../network.ts';

const b58c = createBase58check(sha256);

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
/**
 * base58check encoding of a short payload, written out for speed (the stream encodes
 * two or three per output); @scure/base decodes, and the vectors check both agree.
 */
export function base58checkEncode(payload: Uint8Array): string {
  const sum = hash256(payload);
  const n = payload.length + 4;
  const data = new Uint8Array(n);
  data.set(payload, 0);
  data.set(sum.subarray(0, 4), payload.length);
  let zeros = 0;
  while (zeros < n && data[zeros] === 0) zeros++;
  // Base 58^5 limbs (little-endian): five base58 digits per step of the inner loop.
  // limb * 256 + carry < 58^5 * 257 < 2^38, exact in a double. Scratch arrays are reused.
  const limbs = LIMBS.length >= n ? LIMBS : new Float64Array(n);
  let used = 0;
  for (let i = zeros; i < n; i++) {
    let carry = data[i]!;
    for (let k = 0; k < used; k++) {
      const x = limbs[k]! * 256 + carry;
      carry = Math.floor(x / B58_5);
      limbs[k] = x - carry * B58_5;
    }
    while (carry > 0) {
      const q = Math.floor(carry / B58_5);
      limbs[used++] = carry - q * B58_5;
      carry = q;
    }
  }
  // digits, most significant first, into a char-code buffer
  const total = zeros + used * 5;
  const codes = CODES.length >= total ? CODES : new Uint8Array(total);
  let pos = total;
  for (let k = 0; k < used; k++) {
    let v = limbs[k]!;
    for (let d = 0; d < 5; d++) {
      const q = Math.floor(v / 58);
      codes[--pos] = ALPHABET_CODES[v - q * 58]!;
      v = q;
    }
  }
  // drop the top limb's leading zero digits ('1'), then put back one '1' per leading zero byte
  let start = zeros;
  while (start < total && codes[start] === 0x31) start++;
  for (let z = 0; z < zeros; z++) codes[--start] = 0x31;
  return LATIN1.decode(codes.subarray(start, total));
}

const LIMBS = new Float64Array(64);
const CODES = new Uint8Array(128);
const ALPHABET_CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));
const LATIN1 = new TextDecoder('latin1');
const B58_5 = 58 ** 5;

/** The base58 address and colored address of a P2PKH / P2SH script, else undefined. */
export function base58AddressesOfScript(script: Uint8Array, network: Network): { address: string; colored: string } | undefined {
  let version: number;
  let h: Uint8Array;
  const main = isMainnet(network);
  if (script.length === 25 && script[0] === 0x76 && script[1] === 0xa9 && script[2] === 0x14 && script[23] === 0x88 && script[24] === 0xac) {
    version = main ? 0x00 : 0x6f;
    h = script.subarray(3, 23);
  } else if (script.length === 23 && script[0] === 0xa9 && script[1] === 0x14 && script[22] === 0x87) {
    version = main ? 0x05 : 0xc4;
    h = script.subarray(2, 22);
  } else return undefined;
  const colored = new Uint8Array(22);
  colored[0] = COLORED_NAMESPACE;
  colored[1] = version;
  colored.set(h, 2);
  return { address: base58checkEncode(colored.subarray(1)), colored: base58checkEncode(colored) };
}

export const ASSET_ID_VERSION = { mainnet: 23, test: 115 } as const;
export const COLORED_NAMESPACE = 0x13;

function isMainnet(network: Network): boolean {
  return network === 'mainnet';
}

/** node:crypto's RIPEMD-160 when this OpenSSL has it (checked once against the known digest of "abc"), else noble's. */
const NODE_RIPEMD = (() => {
  try {
    return nodeHash('ripemd160', 'abc', 'hex') === '8eb208f7e05d987a9b044a8e98c6b087f15a0bfc';
  } catch {
    return false;
  }
})();

export function hash160(script: Uint8Array): Uint8Array {
  const s = sha256(script);
  return NODE_RIPEMD ? nodeHash('ripemd160', s, 'buffer') : ripemd160(s);
}

/** The asset ID's 20 bytes for an issuing script. */
export function assetIdHash(script: Uint8Array): Uint8Array {
  return hash160(script);
}

/** The base58check asset ID of a 20-byte hash. */
export function encodeAssetId(hash: Uint8Array, network: Network): string {
  const v = isMainnet(network) ? ASSET_ID_VERSION.mainnet : ASSET_ID_VERSION.test;
  const buf = new Uint8Array(21);
  buf[0] = v;
  buf.set(hash, 1);
  return base58checkEncode(buf);
}

export function assetIdOfScript(script: Uint8Array, network: Network): string {
  return encodeAssetId(hash160(script), network);
}

/** Decode a base58check asset ID: its 20-byte hash and network class. */
export function decodeAssetId(id: string): { hash: Uint8Array; mainnet: boolean } {
  let raw: Uint8Array;
  try {
    raw = b58c.decode(id);
  } catch {
    throw new MalformedInputError('E_OA_BAD_ASSET_ID', `asset ID ${id} is not valid base58check`);
  }
  if (raw.length !== 21 || (raw[0] !== ASSET_ID_VERSION.mainnet && raw[0] !== ASSET_ID_VERSION.test)) {
    throw new MalformedInputError('E_OA_BAD_ASSET_ID', `asset ID ${id} does not carry version 23 or 115 and 20 bytes`);
  }
  return { hash: raw.subarray(1), mainnet: raw[0] === ASSET_ID_VERSION.mainnet };
}

const BASE58_VERSIONS: Record<'mainnet' | 'test', readonly number[]> = { mainnet: [0x00, 0x05], test: [0x6f, 0xc4] };

/** The colored address of a base58 (P2PKH / P2SH) Bitcoin address; undefined for others. */
export function coloredAddressOf(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  let raw: Uint8Array;
  try {
    raw = b58c.decode(address);
  } catch {
    return undefined;
  }
  if (raw.length !== 21) return undefined;
  const out = new Uint8Array(22);
  out[0] = COLORED_NAMESPACE;
  out.set(raw, 1);
  return b58c.encode(out);
}

/** Bitcoin address → colored address (throws on a non-base58 address). */
export function toColoredAddress(address: string, network: Network): string {
  let raw: Uint8Array;
  try {
    raw = b58c.decode(address);
  } catch {
    throw new MalformedInputError('E_OA_BAD_ADDRESS', `${address} is not a base58check Bitcoin address (colored addresses exist for P2PKH and P2SH only)`);
  }
  if (raw.length !== 21) throw new MalformedInputError('E_OA_BAD_ADDRESS', `${address} is not a P2PKH or P2SH address`);
  checkVersion(raw[0]!, network, address);
  return coloredAddressOf(address)!;
}

/** Colored address → Bitcoin address. */
export function fromColoredAddress(colored: string, network: Network): string {
  let raw: Uint8Array;
  try {
    raw = b58c.decode(colored);
  } catch {
    throw new MalformedInputError('E_OA_BAD_ADDRESS', `${colored} is not valid base58check`);
  }
  if (raw.length !== 22 || raw[0] !== COLORED_NAMESPACE) {
    throw new MalformedInputError('E_OA_BAD_ADDRESS', `${colored} is not a colored address (namespace byte 0x13 and a 21-byte address)`);
  }
  checkVersion(raw[1]!, network, colored);
  return b58c.encode(raw.subarray(1));
}

function checkVersion(v: number, network: Network, shown: string): void {
  const want = isMainnet(network) ? BASE58_VERSIONS.mainnet : BASE58_VERSIONS.test;
  if (want.includes(v)) return;
  const other = isMainnet(network) ? BASE58_VERSIONS.test : BASE58_VERSIONS.mainnet;
  if (other.includes(v)) throw new RefusedError('E_NETWORK_MISMATCH', `${shown} belongs to ${isMainnet(network) ? 'a test network' : 'mainnet'}, not ${network}`);
  throw new MalformedInputError('E_OA_BAD_ADDRESS', `${shown} carries address version ${v}, neither P2PKH nor P2SH`);
}
