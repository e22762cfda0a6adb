/**
 * What statechain messages need besides the coin's own signatures: a party's signature
 * over a message body (domain-separated by message type, so a signature for one step is
 * never valid for another), and encryption of a secret to one party's key.
 *
 * - `signBody` / `verifyBody`: BIP-340 over hash_{offchain/statechain/<purpose>}(canonical
 *   JSON of the body) with the signer's authentication key. Every request to the operator
 *   is signed this way over the request itself (no reusable bearer token).
 * - `seal` / `unseal`: ECIES on secp256k1 — an ephemeral key e, the ECDH point e·R, a
 *   ChaCha20-Poly1305 key hash_{offchain/statechain/seal}(E ‖ R ‖ x(e·R)); the associated
 *   data names the coin, the transfer and the purpose, so a ciphertext moved to another
 *   coin or step does not open. A key is used for one message only, so the nonce is zero.
 *
 * Refused, never thrown raw: a ciphertext that does not open (E_UNDECRYPTABLE).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { xBytes } from '../musig/engine/backend.ts';
// taggedHash: BIP-340's hash_tag(x), one OpenSSL call with the tag's hash kept (a statement's body is kilobytes, hashed at each signature and check).
import { N, int, taggedHash } from '../musig/engine/scalar.ts';
import { activeSecp256k1 } from '../musig/engine/select.ts';
import { concatBytes, fromHex, toHex, utf8 } from '../bytes.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { stringifyLine } from '../json.ts';
import { schnorrSign } from '../taproot/schnorr.ts';

const TAG_LENGTH = 16;
const ZERO_NONCE = new Uint8Array(12);

/** What a body's signature for `purpose` signs, given the body's canonical line (stringifyLine's). */
export function lineDigest(purpose: string, line: string): Uint8Array {
  return taggedHash(`offchain/statechain/${purpose}`, utf8(line));
}

export function bodyDigest(purpose: string, body: unknown): Uint8Array {
  return lineDigest(purpose, stringifyLine(body));
}

/** A 64-byte BIP-340 signature (hex) by `secretKey` (whose compressed `publicKey` the caller may hold) over `digest`. */
export function signDigest(digest: Uint8Array, secretKey: Uint8Array, auxRand: Uint8Array, publicKey?: Uint8Array): string {
  return toHex(schnorrSign(digest, secretKey, auxRand, publicKey));
}

/** A 64-byte BIP-340 signature (hex) by `secretKey` (whose compressed `publicKey` the caller may hold) over `body` for `purpose`. */
export function signBody(purpose: string, body: unknown, secretKey: Uint8Array, auxRand: Uint8Array, publicKey?: Uint8Array): string {
  return signDigest(bodyDigest(purpose, body), secretKey, auxRand, publicKey);
}

/** True when `sigHex` is `pubkey`'s signature over what `digest()` gives; false for anything malformed. */
export function verifyDigest(digest: () => Uint8Array, sigHex: string, pubkey: Uint8Array): boolean {
  try {
    return activeSecp256k1().verifySchnorr(fromHex(sigHex, 'signature', 64), digest(), pubkey.length === 33 ? pubkey.subarray(1) : pubkey);
  } catch {
    return false; // a malformed hex signature
  }
}

/** True when `sigHex` is `pubkey`'s signature over `body` for `purpose`; false for anything malformed. */
export function verifyBody(purpose: string, body: unknown, sigHex: string, pubkey: Uint8Array): boolean {
  return verifyDigest(() => bodyDigest(purpose, body), sigHex, pubkey);
}

function sealKey(ephemeral: Uint8Array, recipient: Uint8Array, sharedX: Uint8Array): Uint8Array {
  return taggedHash('offchain/statechain/seal', concatBytes(ephemeral, recipient, sharedX));
}

/** The compressed public key of a secret key, on the selected backend (k·G is constant time on each); undefined out of range. */
function publicKeyOf(secret: Uint8Array): Uint8Array | undefined {
  const k = secret.length === 32 ? int(secret) : 0n;
  if (k === 0n || k >= N) return undefined;
  const ec = activeSecp256k1();
  return ec.pointToBytes(ec.mulBase(k)!);
}

/**
 * x(k·R) for our secret k and a compressed point R (the ECDH secret): the backend's
 * constant-time k·P (libsecp256k1's) where it has one, else noble's ECDH; undefined for a
 * key or point that is not one.
 */
function sharedX(secret: Uint8Array, point: Uint8Array): Uint8Array | undefined {
  const ec = activeSecp256k1();
  if (ec.mulSecret === undefined) {
    try {
      return secp256k1.getSharedSecret(secret, point, true).subarray(1);
    } catch {
      return undefined;
    }
  }
  const k = secret.length === 32 ? int(secret) : 0n;
  const R = ec.pointFromBytes(point);
  if (k === 0n || k >= N || R === undefined) return undefined;
  return xBytes(ec, ec.mulSecret(R, k)!);
}

/** `plaintext` encrypted to `recipient` (33-byte key): hex of E ‖ ciphertext ‖ tag. */
export function seal(recipient: Uint8Array, plaintext: Uint8Array, aad: string, ephemeralSecret: Uint8Array): string {
  const E = publicKeyOf(ephemeralSecret);
  const shared = E && sharedX(ephemeralSecret, recipient);
  if (E === undefined || shared === undefined) throw new Error('seal: the ephemeral secret or the recipient key is not one');
  const key = sealKey(E, recipient, shared);
  const cipher = createCipheriv('chacha20-poly1305', key, ZERO_NONCE, { authTagLength: TAG_LENGTH });
  cipher.setAAD(utf8(aad), { plaintextLength: plaintext.length });
  const body = concatBytes(cipher.update(plaintext), cipher.final(), cipher.getAuthTag());
  key.fill(0);
  return toHex(concatBytes(E, body));
}

/**
 * The plaintext of a `seal` to our key, or E_UNDECRYPTABLE. `publicKey`, when the caller holds
 * it, is the secret key's (a wrong one derives another key: nothing opens).
 */
export function unseal(secretKey: Uint8Array, sealedHex: string, aad: string, what: string, publicKey?: Uint8Array): Uint8Array {
  let sealed: Uint8Array;
  try {
    sealed = fromHex(sealedHex, what);
  } catch {
    throw new MalformedInputError('E_BAD_HEX', `${what} is not hex`);
  }
  if (sealed.length < 33 + TAG_LENGTH) throw new RefusedError('E_UNDECRYPTABLE', `${what} is too short to be a sealed message`);
  const E = sealed.subarray(0, 33);
  const recipient = publicKey ?? publicKeyOf(secretKey);
  const shared = recipient && sharedX(secretKey, E);
  if (recipient === undefined || shared === undefined) throw new RefusedError('E_UNDECRYPTABLE', `${what} does not start with a valid ephemeral key`);
  const key = sealKey(E, recipient, shared);
  const body = sealed.subarray(33, sealed.length - TAG_LENGTH);
  const tag = sealed.subarray(sealed.length - TAG_LENGTH);
  try {
    const decipher = createDecipheriv('chacha20-poly1305', key, ZERO_NONCE, { authTagLength: TAG_LENGTH });
    decipher.setAAD(utf8(aad), { plaintextLength: body.length });
    decipher.setAuthTag(tag);
    return concatBytes(decipher.update(body), decipher.final());
  } catch {
    throw new RefusedError('E_UNDECRYPTABLE', `${what} does not open with this key (sealed to another party, or for another coin or step)`);
  } finally {
    key.fill(0);
  }
}

/** JSON inside a sealed message, parsed without ever throwing raw. */
export function unsealJson(secretKey: Uint8Array, sealedHex: string, aad: string, what: string): unknown {
  const bytes = unseal(secretKey, sealedHex, aad, what);
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new MalformedInputError('E_MALFORMED_MESSAGE', `${what} opened but is not JSON`);
  }
}

export function sealJson(recipient: Uint8Array, value: unknown, aad: string, ephemeralSecret: Uint8Array): string {
  return seal(recipient, utf8(stringifyLine(value)), aad, ephemeralSecret);
}
