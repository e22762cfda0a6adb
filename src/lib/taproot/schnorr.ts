/**
 * BIP-340 Schnorr signatures over secp256k1 (Sign and Verify), the one place single-key
 * taproot signing goes through, so the BIP-340 and BIP-341 vectors prove our path.
 * Sign is BIP-340's algorithm with its two multiplications (d·G, k·G: constant time on every
 * backend) on the selected secp256k1 backend (../musig/engine/select.ts) and the signature
 * verified before it leaves, as BIP-340 recommends and @noble/curves' signer does (a fault
 * never yields a signature). Verify is @noble/curves' schnorr.
 *
 * Verify follows BIP-340's boolean contract: any invalid public key (not an x
 * coordinate, or ≥ p), r ≥ p, s ≥ n or a wrong equation gives `false`, never a throw.
 * Only inputs of the wrong *length* throw, because that is a caller's bug, not a bad
 * signature. Messages may have any length (BIP-340 since 2022-12).
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { concatBytes } from '../bytes.ts';
import { MalformedInputError } from '../errors.ts';
import { xBytes } from '../musig/engine/backend.ts';
import { N, bytes32, int, mod, taggedHash, taggedScalar } from '../musig/engine/scalar.ts';
import { activeSecp256k1 } from '../musig/engine/select.ts';

/**
 * Sign `msg` with secret key `sk`; `auxRand` is BIP-340's 32-byte auxiliary randomness.
 * `publicKey`, the 33-byte compressed d·G when the caller holds it (its key pair), spares the
 * multiplication d·G; one that is not sk's fails the signature's own verification, and
 * nothing is returned.
 */
export function schnorrSign(msg: Uint8Array, sk: Uint8Array, auxRand: Uint8Array, publicKey?: Uint8Array): Uint8Array {
  if (sk.length !== 32) throw new MalformedInputError('E_BAD_SECRET_KEY', 'secret key must be 32 bytes');
  if (auxRand.length !== 32) throw new MalformedInputError('E_BAD_LENGTH', 'aux_rand must be 32 bytes');
  const ec = activeSecp256k1();
  const sig = backendSign(ec, msg, sk, auxRand, publicKey);
  // The only failure left is a secret key of zero or ≥ n (or not the public key given); say so without echoing it.
  if (sig === undefined) throw new MalformedInputError('E_BAD_SECRET_KEY', publicKey === undefined ? 'secret key out of range' : 'secret key out of range, or not the public key\'s');
  return sig;
}

/** BIP-340 Sign, step by step, on `ec`; undefined where the spec fails (d or k out of range) or the signature does not verify. */
function backendSign(ec: ReturnType<typeof activeSecp256k1>, msg: Uint8Array, sk: Uint8Array, auxRand: Uint8Array, publicKey?: Uint8Array): Uint8Array | undefined {
  const d0 = int(sk);
  if (d0 === 0n || d0 >= N) return undefined;
  const given = publicKey?.length === 33 && (publicKey[0] === 2 || publicKey[0] === 3) ? publicKey : undefined;
  const P = given ?? ec.pointToBytes(ec.mulBase(d0)!);
  const d = P[0] === 2 ? d0 : N - d0;
  const px = P.subarray(1);
  const dBytes = bytes32(d);
  const t = taggedHash('BIP0340/aux', auxRand);
  for (let i = 0; i < 32; i++) t[i] = t[i]! ^ dBytes[i]!;
  dBytes.fill(0);
  const k0 = mod(int(taggedHash('BIP0340/nonce', t, px, msg)));
  t.fill(0);
  if (k0 === 0n) return undefined;
  const R = ec.mulBase(k0)!;
  const k = ec.hasEvenY(R) ? k0 : N - k0;
  const rx = xBytes(ec, R);
  const e = taggedScalar('BIP0340/challenge', rx, px, msg);
  const sig = concatBytes(rx, bytes32(mod(k + e * d)));
  return ec.verifySchnorr(sig, msg, px) ? sig : undefined;
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
