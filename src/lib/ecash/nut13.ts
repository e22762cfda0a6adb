/**
 * NUT-13 deterministic secrets and blinding factors, so a wallet's ecash can be restored
 * from its seed and a counter (NUT-09: the mint re-answers the same B_ with the same C_).
 * - keyset v00 (legacy BIP-32): m/129372'/0'/{id_int}'/{counter}'/0 → secret (its 32-byte
 *   key, as lowercase hex — the secret string), …/1 → r; id_int = int(id) mod (2^31 − 1).
 * - keyset v01 (HMAC): HMAC-SHA256(seed, "Cashu_KDF_HMAC_SHA256" ‖ id ‖ counter_be64 ‖ 00|01),
 *   the secret its hex, r the digest mod n.
 * The seed is the wallet's BIP-39 seed (64 bytes from its mnemonic).
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, fromHex, toHex, utf8 } from '../bytes.ts';
import { MalformedInputError } from '../errors.ts';
import { childKey, derivePath, hardened } from './bip32.ts';
import { N, bytesToScalar } from './curve.ts';

export function keysetIdInt(id: string): bigint {
  return BigInt('0x' + id) % (2n ** 31n - 1n);
}

export type DerivedSecret = { secret: string; r: bigint };

export function deriveSecret(seed: Uint8Array, keysetId: string, counter: number): DerivedSecret {
  if (!Number.isSafeInteger(counter) || counter < 0 || counter >= 2 ** 31) throw new MalformedInputError('E_BAD_COUNTER', `counter ${counter} is out of range`);
  if (keysetId.startsWith('00')) {
    const base = derivePath(seed, [hardened(129372), hardened(0), hardened(Number(keysetIdInt(keysetId))), hardened(counter)]);
    return { secret: toHex(childKey(base, 0).key), r: bytesToScalar(childKey(base, 1).key) };
  }
  if (keysetId.startsWith('01')) {
    const ctr = new Uint8Array(8);
    new DataView(ctr.buffer).setBigUint64(0, BigInt(counter));
    const msg = concatBytes(utf8('Cashu_KDF_HMAC_SHA256'), fromHex(keysetId, 'keyset id'), ctr);
    const secret = hmac(sha256, seed, concatBytes(msg, new Uint8Array([0])));
    const r = bytesToScalar(hmac(sha256, seed, concatBytes(msg, new Uint8Array([1])))) % N;
    if (r === 0n) throw new Error('derived blinding factor is zero');
    return { secret: toHex(secret), r };
  }
  throw new MalformedInputError('E_BAD_KEYSET', `keyset id ${keysetId} has an unknown version`);
}
