/**
 * Returned failure messages (BOLT 4 "Returning Errors"). The erring node builds
 *   HMAC-SHA256(um, payload) || payload,  payload = u16 failure_len || failuremsg || u16 pad_len || pad
 * and XORs it with the ammag stream; every node on the way back XORs again with its own
 * ammag stream; the origin peels with each stored shared secret in route order until an
 * HMAC verifies, which names the failing hop. Pure: no I/O.
 */
import { MalformedInputError, RefusedError } from '../errors.ts';
import { chacha20Xor, generateKey, hmacEquals, hmacSha256 } from './crypto.ts';

/** BOLT 4 recommends padding failuremsg to 256 bytes so errors look alike. */
export const DEFAULT_ERROR_PAD_TO = 256;

export function createErrorPacket(sharedSecret: Uint8Array, failureMessage: Uint8Array, padTo = DEFAULT_ERROR_PAD_TO): Uint8Array {
  if (failureMessage.length < 2 || failureMessage.length > 0xffff) throw new RefusedError('E_ONION_FAILURE_LENGTH', 'failure message must be 2..65535 bytes');
  const padLen = Math.max(0, padTo - failureMessage.length);
  const payload = new Uint8Array(2 + failureMessage.length + 2 + padLen);
  const view = new DataView(payload.buffer);
  view.setUint16(0, failureMessage.length);
  payload.set(failureMessage, 2);
  view.setUint16(2 + failureMessage.length, padLen);
  const um = generateKey('um', sharedSecret);
  const plain = new Uint8Array(32 + payload.length);
  plain.set(hmacSha256(um, payload), 0);
  plain.set(payload, 32);
  return wrapError(sharedSecret, plain);
}

/** One hop's obfuscation layer (the erring node's own, and each node's on the way back). */
export function wrapError(sharedSecret: Uint8Array, packet: Uint8Array): Uint8Array {
  return chacha20Xor(generateKey('ammag', sharedSecret), packet);
}

export type UnwrappedError = { readonly hop: number; readonly failureMessage: Uint8Array };

/** The origin's side: which hop (index into the route) failed, and its failure message. */
export function unwrapError(sharedSecrets: readonly Uint8Array[], packet: Uint8Array): UnwrappedError {
  if (packet.length < 32 + 4) throw new MalformedInputError('E_ONION_ERROR_LENGTH', `error packet is ${packet.length} bytes, too short`);
  let p = packet;
  for (let i = 0; i < sharedSecrets.length; i++) {
    p = wrapError(sharedSecrets[i]!, p);
    const mac = hmacSha256(generateKey('um', sharedSecrets[i]!), p.subarray(32));
    if (hmacEquals(mac, p.subarray(0, 32))) {
      const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
      const len = view.getUint16(32);
      if (34 + len + 2 > p.length) throw new MalformedInputError('E_ONION_ERROR_LENGTH', `hop ${i}: failure_len ${len} overruns the error packet`);
      const padLen = view.getUint16(34 + len);
      if (34 + len + 2 + padLen !== p.length) throw new MalformedInputError('E_ONION_ERROR_LENGTH', `hop ${i}: pad_len ${padLen} does not match the error packet length`);
      return { hop: i, failureMessage: p.slice(34, 34 + len) };
    }
  }
  throw new RefusedError('E_ONION_ERROR_UNATTRIBUTED', 'no hop\'s HMAC verifies the error packet: it cannot be attributed');
}
