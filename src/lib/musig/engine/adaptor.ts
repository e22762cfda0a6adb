/**
 * MuSig2 adaptor signatures, secp256k1-zkp's convention (its musig module:
 * musig_nonce_process with an adaptor, musig_adapt, musig_extract_adaptor). With an
 * adaptor point T = t·G the session's first aggregate nonce point becomes R1' = R1 + T
 * before the nonce coefficient b is hashed (./signing.ts), so with R' = R1' + b·R2 and
 * p its parity (0: even y):
 *
 *     pre-signature  xbytes(R') || s'   with s' = Σ sᵢ + e·g·tacc (BIP-327 PartialSigAgg)
 *     verify         s'·G = lift_x(xbytes(R')) − (−1)^p·T + e·Q
 *     adapt          s = s' + t (p = 0), s = s' − t (p = 1)  →  xbytes(R') || s is BIP-340
 *     extract        t = s − s' (p = 0), t = s' − s (p = 1)
 *
 * conduition/musig2 (Rust) adds T elsewhere and does not interoperate with this.
 * Invariant: without t the pre-signature completes to nothing; with the final signature
 * and the pre-signature anyone learns t — that is how a PTLC hands the secret back.
 */
import { concatBytes, equalBytes } from '../../bytes.ts';
import { baseMinusMul, type Secp256k1Backend } from './backend.ts';
import { Bip327Error } from './errors.ts';
import { N, P as FIELD_P, bytes32, int, mod, taggedScalar } from './scalar.ts';

function split(sig: Uint8Array, what: string): { rx: Uint8Array; s: bigint } {
  if (sig.length !== 64) throw new Bip327Error(`${what} must be 64 bytes, got ${sig.length}`);
  const s = int(sig.subarray(32));
  if (s >= N) throw new Bip327Error(`${what}: s is not below the group order`);
  return { rx: sig.subarray(0, 32), s };
}

function checkParity(parity: number): 0 | 1 {
  if (parity !== 0 && parity !== 1) throw new Bip327Error(`nonce parity must be 0 or 1, got ${parity}`);
  return parity;
}

/** The BIP-340 signature a pre-signature becomes with the adaptor secret t. */
export function adapt(preSignature: Uint8Array, t: Uint8Array, parity: number): Uint8Array {
  const { rx, s } = split(preSignature, 'pre-signature');
  const secret = int(t);
  if (t.length !== 32 || secret >= N) throw new Bip327Error('adaptor secret must be a 32-byte scalar below the group order');
  const adapted = checkParity(parity) === 0 ? mod(s + secret) : mod(s - secret);
  return concatBytes(rx, bytes32(adapted));
}

/** The adaptor secret t from the final signature and its pre-signature (same R'). */
export function extractAdaptor(signature: Uint8Array, preSignature: Uint8Array, parity: number): Uint8Array {
  const sig = split(signature, 'signature');
  const pre = split(preSignature, 'pre-signature');
  if (!equalBytes(sig.rx, pre.rx)) throw new Bip327Error('the signature and the pre-signature have different nonces: not the same session');
  return bytes32(checkParity(parity) === 0 ? mod(sig.s - pre.s) : mod(pre.s - sig.s));
}

/** s′·G = lift_x(R′x) − (−1)^p·T + e·lift_x(Q) for the session's message and output key (checked as s′·G − e·Q = …). */
export function verifyPreSignature<P>(ec: Secp256k1Backend<P>, preSignature: Uint8Array, parity: number, adaptor: Uint8Array, outputKey: Uint8Array, msg: Uint8Array): boolean {
  if (preSignature.length !== 64 || outputKey.length !== 32 || adaptor.length !== 33) return false;
  if (parity !== 0 && parity !== 1) return false;
  const rx = preSignature.subarray(0, 32);
  const s = int(preSignature.subarray(32));
  if (int(rx) >= FIELD_P || s >= N) return false;
  const R = ec.liftX(rx);
  const Q = ec.liftX(outputKey);
  const T = ec.pointFromBytes(adaptor);
  if (R === undefined || Q === undefined || T === undefined) return false;
  const e = taggedScalar('BIP0340/challenge', rx, outputKey, msg);
  return ec.equals(baseMinusMul(ec, s, e, Q), ec.add(R, parity === 0 ? ec.negate(T) : T));
}
