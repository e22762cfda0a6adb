/**
 * BIP-340 Schnorr signatures over secp256k1 (Sign and Verify), the one place single-key
 * taproot signing goes through, so the BIP-340 and BIP-341 vectors prove our path.
 * The arithmetic is @noble/curves' schnorr; this module fixes the contract around it.
 *
 * Verify follows BIP-340's boolean contract: any invalid public key (not an x
 * coordinate, or ≥ p), r ≥ p, s ≥ n or a wrong equation gives `false`, never a throw.
 * Only inputs of the wrong *length* throw, because that is a caller's bug, not a bad
 * signature. Messages may have any length (BIP-340 since 2022-12).
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { MalformedInputError } from '../errors.ts';

/** Sign `msg` with secret key `sk`; `auxRand` is BIP-340's 32-byte auxiliary randomness. */
export function schnorrSign(msg: Uint8Array, sk: Uint8Array, auxRand: Uint8Array): Uint8Array {
  if (sk.length !== 32) throw new MalformedInputError('E_BAD_SECRET_KEY', 'secret key must be 32 bytes');
  if (auxRand.length !== 32) throw new MalformedInputError('E_BAD_LENGTH', 'aux_rand must be 32 bytes');
  try {
    return schnorr.sign(msg, sk, auxRand);
  } catch {
    // The only failure left is a secret key of zero or ≥ n; say so without echoing it.
    throw new MalformedInputError('E_BAD_SECRET_KEY', 'secret key out of range');
  }
}

/** BIP-340 Verify: true only for a valid signature of `msg` by x-only key `xonly`. */
export function schnorrVerify(sig: Uint8Array, msg: Uint8Array, xonly: Uint8Array): boolean {
  if (sig.length !== 64) throw new MalformedInputError('E_BAD_LENGTH', 'a BIP-340 signature must be 64 bytes');
  if (xonly.length !== 32) throw new MalformedInputError('E_BAD_PUBKEY', 'a BIP-340 public key must be 32 bytes (x-only)');
  try {
    return schnorr.verify(sig, msg, xonly);
  } catch {
    return false;
  }
}
