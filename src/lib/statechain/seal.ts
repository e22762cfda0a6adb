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
import { secp256k1, schnorr } from '@noble/curves/secp256k1.js';
import { activeSecp256k1 } from '../musig/engine/select.ts';
import { concatBytes, fromHex, toHex, utf8 } from '../bytes.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { stringifyLine } from '../json.ts';

const TAG_LENGTH = 16;
const ZERO_NONCE = new Uint8Array(12);

export function bodyDigest(purpose: string, body: unknown): Uint8Array {
  return schnorr.utils.taggedHash(`offchain/statechain/${purpose}`, utf8(stringifyLine(body)));
}

/** A 64-byte BIP-340 signature (hex) by `secretKey` over `body` for `purpose`. */
export function signBody(purpose: string, body: unknown, secretKey: Uint8Array, auxRand: Uint8Array): string {
  return toHex(schnorr.sign(bodyDigest(purpose, body), secretKey, auxRand));
}

/** True when `sigHex` is `pubkey`'s signature over `body` for `purpose`; false for anything malformed. */
export function verifyBody(purpose: string, body: unknown, sigHex: string, pubkey: Uint8Array): boolean {
  try {
    return activeSecp256k1().verifySchnorr(fromHex(sigHex, 'signature', 64), bodyDigest(purpose, body), pubkey.length === 33 ? pubkey.subarray(1) : pubkey);
  } catch {
    return false; // a malformed hex signature
  }
}

function sealKey(ephemeral: Uint8Array, recipient: Uint8Array, sharedX: Uint8Array): Uint8Array {
  return schnorr.utils.taggedHash('offchain/statechain/seal', concatBytes(ephemeral, recipient, sharedX));
}

/** `plaintext` encrypted to `recipient` (33-byte key): hex of E ‖ ciphertext ‖ tag. */
export function seal(recipient: Uint8Array, plaintext: Uint8Array, aad: string, ephemeralSecret: Uint8Array): string {
  const E = secp256k1.getPublicKey(ephemeralSecret, true);
  const shared = secp256k1.getSharedSecret(ephemeralSecret, recipient, true);
  const key = sealKey(E, recipient, shared.subarray(1));
  const cipher = createCipheriv('chacha20-poly1305', key, ZERO_NONCE, { authTagLength: TAG_LENGTH });
  cipher.setAAD(utf8(aad), { plaintextLength: plaintext.length });
  const body = concatBytes(cipher.update(plaintext), cipher.final(), cipher.getAuthTag());
  key.fill(0);
  return toHex(concatBytes(E, body));
}

/** The plaintext of a `seal` to our key, or E_UNDECRYPTABLE. */
export function unseal(secretKey: Uint8Array, sealedHex: string, aad: string, what: string): Uint8Array {
  let sealed: Uint8Array;
  try {
    sealed = fromHex(sealedHex, what);
  } catch {
    throw new MalformedInputError('E_BAD_HEX', `${what} is not hex`);
  }
  if (sealed.length < 33 + TAG_LENGTH) throw new RefusedError('E_UNDECRYPTABLE', `${what} is too short to be a sealed message`);
  const E = sealed.subarray(0, 33);
  const recipient = secp256k1.getPublicKey(secretKey, true);
  let key: Uint8Array;
  try {
    key = sealKey(E, recipient, secp256k1.getSharedSecret(secretKey, E, true).subarray(1));
  } catch {
    throw new RefusedError('E_UNDECRYPTABLE', `${what} does not start with a valid ephemeral key`);
  }
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
