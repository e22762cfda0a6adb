/**
 * ECDSA as BOLT 3 signs: RFC 6979 deterministic nonces (HMAC-SHA256), low S, no low-R
 * grinding — the test vectors were made by libsecp256k1's default signer, and several
 * of their signatures have a high R (71-byte DER). Signatures go into witnesses as
 * strict DER (BIP-66) followed by the sighash byte.
 *
 * One interface, four implementations of the same function: @noble/curves (pure JS,
 * the default), tiny-secp256k1 (libsecp256k1 in WASM), the `secp256k1` package's N-API
 * binding and the system's libsecp256k1 through koffi. The optional ones are adapted
 * from an already loaded module, as the MuSig2 backends are (../musig/engine/select.ts
 * loads them); all give identical bytes.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { MalformedInputError } from '../errors.ts';
import type { BackendName } from '../musig/engine/backend.ts';
import type { Libsecp256k1 } from '../musig/engine/libsecp256k1.ts';

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

/** The part of tiny-secp256k1's API used here. */
export type TinySecp256k1Ecdsa = {
  sign(h: Uint8Array, d: Uint8Array): Uint8Array;
  verify(h: Uint8Array, Q: Uint8Array, signature: Uint8Array, strict?: boolean): boolean;
};

export function tinySecp256k1Ecdsa(lib: TinySecp256k1Ecdsa): EcdsaSigner {
  return {
    name: 'tiny-secp256k1',
    signCompact: (digest, secretKey) => lib.sign(digest, secretKey),
    verifyCompact(signature, digest, publicKey) {
      try {
        return lib.verify(digest, publicKey, signature, true);
      } catch {
        return false;
      }
    },
  };
}

/** The part of the `secp256k1` package's binding used here (load `secp256k1/bindings.js`). */
export type NativeSecp256k1Ecdsa = {
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array): { signature: Uint8Array };
  ecdsaVerify(sig: Uint8Array, msg32: Uint8Array, pubkey: Uint8Array): boolean;
};

export function nativeEcdsa(lib: NativeSecp256k1Ecdsa): EcdsaSigner {
  return {
    name: 'native',
    signCompact: (digest, secretKey) => lib.ecdsaSign(digest, secretKey).signature,
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
  return {
    name: 'libsecp256k1',
    signCompact: (digest, secretKey) => (digest.length === 32 ? lib.ecdsaSign(digest, secretKey) : nobleEcdsa.signCompact(digest, secretKey)),
    verifyCompact: (signature, digest, publicKey) =>
      digest.length === 32 ? lib.ecdsaVerify(signature, digest, publicKey) : nobleEcdsa.verifyCompact(signature, digest, publicKey),
  };
}

/** An unsigned big-endian integer as a DER INTEGER body: no leading zeros, a 0x00 before a set top bit. */
function derInteger(be32: Uint8Array): Uint8Array {
  let start = 0;
  while (start < be32.length - 1 && be32[start] === 0) start++;
  const body = be32.subarray(start);
  const pad = body[0]! & 0x80 ? 1 : 0;
  const out = new Uint8Array(2 + pad + body.length);
  out[0] = 0x02;
  out[1] = pad + body.length;
  out.set(body, 2 + pad);
  return out;
}

/** The DER encoding (BIP-66 strict) of a 64-byte compact signature, without a sighash byte. */
export function derFromCompact(compact: Uint8Array): Uint8Array {
  if (compact.length !== 64) throw new MalformedInputError('E_BAD_DER', 'a compact signature is 64 bytes');
  const r = derInteger(compact.subarray(0, 32));
  const s = derInteger(compact.subarray(32, 64));
  const out = new Uint8Array(2 + r.length + s.length);
  out[0] = 0x30;
  out[1] = r.length + s.length;
  out.set(r, 2);
  out.set(s, 2 + r.length);
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
