/**
 * NUT-02 keyset ids, derived from public data so a wallet can check what a mint claims.
 * - v00 (8 bytes, what Nutshell's derive_keyset_id makes and what our keysets use):
 *   "00" ‖ first 14 hex of SHA256(compressed keys concatenated, by amount ascending).
 * - v01 (33 bytes): "01" ‖ SHA256("amount:pubkey_hex,…|unit:U[|input_fee_ppk:F][|final_expiry:T]").
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, toHex, utf8 } from '../bytes.ts';

/** Keys of a keyset: amount → compressed public key (33 bytes). */
export type KeysetKeys = Map<bigint, Uint8Array>;

const byAmount = (keys: KeysetKeys) => [...keys.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

export function keysetIdV00(keys: KeysetKeys): string {
  return '00' + toHex(sha256(concatBytes(...byAmount(keys).map(([, k]) => k)))).slice(0, 14);
}

export function keysetIdV01(keys: KeysetKeys, unit: string, inputFeePpk?: number, finalExpiry?: number): string {
  let pre = byAmount(keys).map(([a, k]) => `${a}:${toHex(k)}`).join(',') + `|unit:${unit.toLowerCase()}`;
  if (inputFeePpk) pre += `|input_fee_ppk:${inputFeePpk}`;
  if (finalExpiry) pre += `|final_expiry:${finalExpiry}`;
  return '01' + toHex(sha256(utf8(pre)));
}

/** A keyset id's form: "00" + 14 hex, or "01" + 64 hex. */
export function isKeysetId(id: string): boolean {
  return /^00[0-9a-f]{14}$/.test(id) || /^01[0-9a-f]{64}$/.test(id);
}
