/**
 * ECDSA as BOLT 3 signs: RFC 6979 deterministic nonces (HMAC-SHA256), low S, no low-R
 * grinding — the test vectors were made by libsecp256k1's default signer, and several
 * of their signatures have a high R (71-byte DER). Signatures go into witnesses as
 * strict DER (BIP-66) followed by the sighash byte.
 *
 * One interface, three implementations of the same function: @noble/curves (pure JS,
 * the default), the `secp256k1` package's N-API binding and the system's libsecp256k1
 * through koffi. The optional ones are adapted
 * from an already loaded module, as the MuSig2 backends are (../musig/engine/select.ts
 * loads them); all give identical bytes.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { MalformedInputError } from '../errors.ts';
import { fromHex, toHex } from '../bytes.ts';
import type { BackendName } from '../musig/engine/backend.ts';
import type { Libsecp256k1 } from '../musig/engine/libsecp256k1.ts';
import { publicSlab } from './tx.ts';

export interface EcdsaSigner {
  readonly name: BackendName;
  /** RFC 6979 ECDSA with low S over a 32-byte digest: the 64-byte compact r || s. */
  signCompact(digest: Uint8Array, secretKey: Uint8Array): Uint8Array;
  /** Verify a 64-byte compact signature (high S refused) for a 33-byte public key. */
  verifyCompact(signature: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): boolean;
}

export const nobleEcdsa: EcdsaSigner = {
  name: 'noble',
  signCompact: (digest, secretKey) => secp256k1.sign(digest, secretKey, { prehash: false, lowS: true, extraEntropy: false }),
  verifyCompact(signature, digest, publicKey) {
    try {
      return secp256k1.verify(signature, digest, publicKey, { prehash: false, lowS: true });
    } catch {
      return false;
    }
  },
};

/** The part of the `secp256k1` package's binding used here (load `secp256k1/bindings.js`). */
export type NativeSecp256k1Ecdsa = {
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array, options?: object, output?: Uint8Array): { signature: Uint8Array };
  ecdsaVerify(sig: Uint8Array, msg32: Uint8Array, pubkey: Uint8Array): boolean;
};

/**
 * A scratch for public bytes on their way into a binding, off V8's heap: a typed array of 64 bytes
 * or fewer lives on the heap, and a binding (N-API, koffi) asking for its address moves it to a
 * backing store of its own — for the fresh 32-byte digest of every signature an allocation (and an
 * ArrayBuffer for the collector to sweep) where a copy of 32 bytes costs nanoseconds. A typed array
 * of more than 64 bytes owns its ArrayBuffer: `length` bytes of one are handed out. Public bytes
 * only (a digest, a signature); a secret key is passed as given.
 */
function offHeap(length: number): Uint8Array {
  return new Uint8Array(96).subarray(0, length);
}

/** The digest goes in, and the signature comes out, through the binding's off-heap scratch. */
export function nativeEcdsa(lib: NativeSecp256k1Ecdsa): EcdsaSigner {
  const digestIn = offHeap(32);
  const signatureOut = offHeap(64);
  const options = {};
  return {
    name: 'native',
    signCompact(digest, secretKey) {
      if (digest.length !== 32) return lib.ecdsaSign(digest, secretKey).signature; // the binding refuses it, as before
      digestIn.set(digest);
      lib.ecdsaSign(digestIn, secretKey, options, signatureOut);
      return signatureOut.slice();
    },
    verifyCompact(signature, digest, publicKey) {
      try {
        return lib.ecdsaVerify(signature, digest, publicKey);
      } catch {
        return false;
      }
    },
  };
}

/**
 * The system's libsecp256k1 (../musig/engine/libsecp256k1.ts): secp256k1_ecdsa_sign with
 * its default nonce function (RFC 6979) and no extra data, which always returns low S;
 * secp256k1_ecdsa_verify, which refuses high S as noble's lowS does. It takes 32-byte
 * digests only: any other length goes to noble, whose answer it must equal.
 */
export function libsecp256k1Ecdsa(lib: Pick<Libsecp256k1, 'ecdsaSign' | 'ecdsaVerify'>): EcdsaSigner {
  knownEcdsaAnswers(lib);
  const digestIn = offHeap(32); // koffi, too, moves a small array off the heap to pass its address
  return {
    name: 'libsecp256k1',
    signCompact(digest, secretKey) {
      if (digest.length !== 32) return nobleEcdsa.signCompact(digest, secretKey);
      digestIn.set(digest);
      return lib.ecdsaSign(digestIn, secretKey);
    },
    verifyCompact(signature, digest, publicKey) {
      if (digest.length !== 32) return nobleEcdsa.verifyCompact(signature, digest, publicKey);
      digestIn.set(digest);
      return lib.ecdsaVerify(signature, digestIn, publicKey);
    },
  };
}

/**
 * What a library must answer before it signs (the point operations have theirs in
 * ../musig/engine/select.ts): noble's RFC 6979 signature of 32 bytes 5e under the key
 * 5ea1ed…, whose unnormalized s is high, so low S is checked too; that signature valid,
 * its high-S twin and a signature over another digest refused.
 */
const KNOWN_ECDSA = {
  key: '5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1',
  publicKey: '03d860b503f295f7134c322877d7f4bff523de3ad09030548b4c7bf0c539a0b2a5',
  sig: '585a21f2d05f0ffc513a1c210058797303c139308a62e16e5d892cc5cae6b8865f8f562c619a5c25bb76d37a0fe71f6e90407492bb9745bb1d9b9d5b1e886638',
};

function knownEcdsaAnswers(lib: Pick<Libsecp256k1, 'ecdsaSign' | 'ecdsaVerify'>): void {
  const digest = new Uint8Array(32).fill(0x5e);
  const [key, publicKey, sig] = [fromHex(KNOWN_ECDSA.key), fromHex(KNOWN_ECDSA.publicKey), fromHex(KNOWN_ECDSA.sig)];
  const highS = Uint8Array.from(sig);
  highS.set(numberToBytesBE(secp256k1.Point.Fn.ORDER - bytesToNumberBE(sig.subarray(32)), 32), 32);
  const wrong = [
    toHex(lib.ecdsaSign(digest, key)) !== KNOWN_ECDSA.sig && 'sign',
    !lib.ecdsaVerify(sig, digest, publicKey) && 'verify',
    lib.ecdsaVerify(highS, digest, publicKey) && 'high S accepted',
    lib.ecdsaVerify(sig, new Uint8Array(32).fill(0x5f), publicKey) && 'another digest accepted',
  ].filter(Boolean);
  if (wrong.length) throw new Error(`libsecp256k1 gets a known ECDSA answer wrong (${wrong.join(', ')})`);
}

/** Where the minimal DER INTEGER of the 32 bytes at `at` starts (leading zeros skipped, one byte kept), and its body length with a 0x00 before a set top bit. */
function derIntegerShape(compact: Uint8Array, at: number): [start: number, length: number] {
  let start = at;
  while (start < at + 31 && compact[start] === 0) start++;
  return [start, at + 32 - start + (compact[start]! & 0x80 ? 1 : 0)];
}

/** Write `02 len [00] body` of the 32 bytes at `from` (shaped by derIntegerShape) into `out` at `to`; returns the offset after it. */
function putDerInteger(out: Uint8Array, to: number, compact: Uint8Array, from: number, [start, length]: [number, number]): number {
  out[to] = 0x02;
  out[to + 1] = length;
  // The pad byte, when there is one, is the 0 the fresh array already holds.
  const end = to + 2 + length;
  for (let i = from + 31, j = end - 1; i >= start; i--, j--) out[j] = compact[i]!;
  return end;
}

const derArrays = publicSlab();

/**
 * The DER encoding (BIP-66 strict) of a 64-byte compact signature, without a sighash byte:
 * sized first, then written into one array (a commitment_signed makes 21 of these), a range
 * of ./tx.ts's publicSlab.
 */
export function derFromCompact(compact: Uint8Array): Uint8Array {
  if (compact.length !== 64) throw new MalformedInputError('E_BAD_DER', 'a compact signature is 64 bytes');
  const r = derIntegerShape(compact, 0);
  const s = derIntegerShape(compact, 32);
  const out = derArrays(6 + r[1] + s[1]);
  out[0] = 0x30;
  out[1] = 4 + r[1] + s[1];
  putDerInteger(out, putDerInteger(out, 2, compact, 0, r), compact, 32, s);
  return out;
}

/**
 * The 64-byte compact form of a strict-DER signature (no sighash byte). Anything that
 * is not BIP-66 strict DER with r and s in [1, n-1] is refused as malformed.
 */
export function compactFromDer(der: Uint8Array): Uint8Array {
  const bad = (why: string): never => {
    throw new MalformedInputError('E_BAD_DER', `not a strict DER signature: ${why}`);
  };
  if (der.length < 8 || der.length > 72) bad('length');
  if (der[0] !== 0x30 || der[1] !== der.length - 2) bad('sequence header');
  const out = new Uint8Array(64);
  let at = 2;
  for (let i = 0; i < 2; i++) {
    if (der[at] !== 0x02) bad('integer tag');
    const len = der[at + 1]!;
    const body = der.subarray(at + 2, at + 2 + len);
    if (len === 0 || body.length !== len) bad('integer length');
    if (body[0]! & 0x80) bad('negative integer');
    if (len > 1 && body[0] === 0 && !(body[1]! & 0x80)) bad('integer not minimal');
    const value = body[0] === 0 ? body.subarray(1) : body;
    if (value.length > 32) bad('integer longer than 32 bytes');
    out.set(value, i * 32 + 32 - value.length);
    at += 2 + len;
  }
  if (at !== der.length) bad('trailing bytes');
  const N = secp256k1.Point.Fn.ORDER;
  for (const half of [out.subarray(0, 32), out.subarray(32)]) {
    let v = 0n;
    for (const b of half) v = (v << 8n) | BigInt(b);
    if (v === 0n || v >= N) bad('r or s out of range');
  }
  return out;
}
