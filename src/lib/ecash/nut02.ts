/**
 * NUT-02 keyset ids, derived from public data so a wallet can check what a mint claims.
 * - v00 (8 bytes; "V1" in the spec, deprecated; Nutshell < 0.20 and mints upgraded from
 *   it keep these): "00" ‖ first 14 hex of SHA256(compressed keys concatenated, by amount
 *   ascending). Commits to the keys only.
 * - v01 (33 bytes; "V2", what Nutshell 0.20 creates): "01" ‖ SHA256 of the UTF-8 string
 *   "amount:pubkey_hex,…|unit:U[|input_fee_ppk:F][|final_expiry:T]". Commits to the keys,
 *   the unit, the input fee (only when non-zero) and the final expiry (when there is one).
 *
 * One difference between the spec and Nutshell 0.20.3, measured against a running mint:
 * a final expiry of 0. The spec omits it ("not None and != 0"); Nutshell writes
 * "|final_expiry:0" whenever the value is not None — and its rotation RPC (`mint-cli
 * next-keyset sat`) stores 0 when no expiry is given, announcing `final_expiry: 0`.
 * `keysetIdV01(…, 'nutshell')` reproduces that; `keysetIds` lists both forms so a
 * check accepts a keyset announcing 0 either way (both mean "no expiry").
 *
 * Short ids (NUT-00): a v01 id's first 8 bytes, which wallets (cashu-ts) write in V4 tokens.
 * Not here: keyset ids of Nutshell < 0.15 (base64, 12 characters).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, toHex, utf8 } from '../bytes.ts';

/** Keys of a keyset: amount → compressed public key (33 bytes). */
export type KeysetKeys = Map<bigint, Uint8Array>;

/** What a v01 id commits to besides the keys, as GET /v1/keysets announces it. */
export type KeysetMeta = { unit: string; input_fee_ppk?: number | null; final_expiry?: number | null };

export type KeysetIdVersion = '00' | '01';

const byAmount = (keys: KeysetKeys) => [...keys.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

export function keysetIdV00(keys: KeysetKeys): string {
  return '00' + toHex(sha256(concatBytes(...byAmount(keys).map(([, k]) => k)))).slice(0, 14);
}

/** The string a v01 id hashes. `zeroExpiry`: how a final expiry of 0 is written (see the header). */
export function keysetIdV01Preimage(keys: KeysetKeys, unit: string, inputFeePpk?: number | null, finalExpiry?: number | null, zeroExpiry: 'spec' | 'nutshell' = 'spec'): string {
  let pre = byAmount(keys).map(([a, k]) => `${a}:${toHex(k)}`).join(',') + `|unit:${unit.toLowerCase()}`;
  if (inputFeePpk) pre += `|input_fee_ppk:${inputFeePpk}`;
  if (finalExpiry != null && (finalExpiry !== 0 || zeroExpiry === 'nutshell')) pre += `|final_expiry:${finalExpiry}`;
  return pre;
}

export function keysetIdV01(keys: KeysetKeys, unit: string, inputFeePpk?: number | null, finalExpiry?: number | null, zeroExpiry: 'spec' | 'nutshell' = 'spec'): string {
  return '01' + toHex(sha256(utf8(keysetIdV01Preimage(keys, unit, inputFeePpk, finalExpiry, zeroExpiry))));
}

/** The id of a keyset in the given version. */
export function keysetId(version: KeysetIdVersion, keys: KeysetKeys, meta: KeysetMeta): string {
  return version === '00' ? keysetIdV00(keys) : keysetIdV01(keys, meta.unit, meta.input_fee_ppk, meta.final_expiry);
}

/**
 * Every id these keys and this metadata may be announced under, in the given version:
 * one, or for v01 with final_expiry 0 the spec's form and Nutshell's.
 */
export function keysetIds(version: KeysetIdVersion, keys: KeysetKeys, meta: KeysetMeta): string[] {
  if (version === '00') return [keysetIdV00(keys)];
  const ids = [keysetIdV01(keys, meta.unit, meta.input_fee_ppk, meta.final_expiry)];
  if (meta.final_expiry === 0) ids.push(keysetIdV01(keys, meta.unit, meta.input_fee_ppk, 0, 'nutshell'));
  return ids;
}

/** Whether `id` is what these keys and metadata hash to, in the version the id names. */
export function keysetIdMatches(id: string, keys: KeysetKeys, meta: KeysetMeta): boolean {
  const version = keysetIdVersion(id);
  return version !== undefined && keysetIds(version, keys, meta).includes(id);
}

/** The version byte of a well-formed id, else undefined. */
export function keysetIdVersion(id: string): KeysetIdVersion | undefined {
  if (/^00[0-9a-f]{14}$/.test(id)) return '00';
  if (/^01[0-9a-f]{64}$/.test(id)) return '01';
  return undefined;
}

/** A keyset id's form: "00" + 14 hex, or "01" + 64 hex. */
export function isKeysetId(id: string): boolean {
  return keysetIdVersion(id) !== undefined;
}

/** NUT-00's short form of a v01 id: its first 8 bytes (a v00 id is its own short form). */
export function shortKeysetId(id: string): string {
  return id.slice(0, 16);
}

/** A short v01 id, as a wallet may write it in a V4 token (resolved against the keysets it knows). */
export function isShortKeysetId(id: string): boolean {
  return /^01[0-9a-f]{14}$/.test(id);
}

/** Whether a proof's id (full or short) names the keyset `full`. */
export function namesKeyset(proofId: string, full: string): boolean {
  return proofId === full || (isShortKeysetId(proofId) && keysetIdVersion(full) === '01' && shortKeysetId(full) === proofId);
}
