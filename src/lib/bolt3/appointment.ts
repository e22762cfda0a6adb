/**
 * A watchtower appointment (the BOLT 13 watchtower draft; The Eye of Satoshi, LND's altruist
 * tower): what a channel party hands a tower for one revoked commitment of its peer, so that
 * the tower learns nothing of the channel until that commitment is on chain.
 *
 *     locator = the first 16 bytes of the revoked commitment's txid (display order, as RPC shows it)
 *     key     = SHA256(the commitment's 32-byte txid, display order)
 *     blob    = nonce (12 bytes) ‖ ChaCha20-Poly1305(key, nonce, aad = "offchain/tower-justice/1", plaintext) ‖ tag (16 bytes)
 *
 * The tower keys its appointments by locator and, for each transaction of a new block, looks its
 * txid's first 16 bytes up: a match is decrypted with SHA256 of that txid. The draft's blob uses a
 * zero nonce (one blob per key); ours carries a nonce made from the key and the plaintext (a
 * synthetic IV: SHA256(label ‖ key ‖ plaintext), its first 12 bytes) so that a party exporting one
 * commitment twice with different contents (another --sweep-to, another fee ladder) never uses a
 * nonce twice under one key, and the same contents give the same bytes (snapshots, diff).
 *
 * INVARIANTS (test/lib/bolt3/appointment.test.ts, property tests):
 * - Only the commitment's txid opens its blob: any other txid (a wrong key), any byte of the
 *   blob changed (nonce, ciphertext, tag) or a blob cut short is refused (undefined), never
 *   decrypted to something else.
 * - The locator says nothing but the txid's first 16 bytes: before the commitment is on chain,
 *   the blob is ciphertext under a key only the channel's two parties can compute.
 * - ChaCha20-Poly1305 is RFC 8439's (Node's OpenSSL; the RFC's §2.8.2 vector is checked).
 *
 * Not here: what the plaintext holds (./tower-justice.ts).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, fromHex, utf8 } from '../bytes.ts';

/** Bytes of a locator: the txid's first 16. */
export const LOCATOR_BYTES = 16;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** What the AEAD authenticates beside the ciphertext: this format and its version. */
const AAD = utf8('offchain/tower-justice/1');
const NONCE_LABEL = utf8('offchain/tower-justice/nonce');

/** The locator of a commitment: its txid's first 16 bytes, as 32 hex characters. */
export function locatorOf(commitmentTxid: string): string {
  return commitmentTxid.slice(0, 2 * LOCATOR_BYTES);
}

const keyOf = (commitmentTxid: string) => sha256(fromHex(commitmentTxid, 'commitment txid', 32));

/** RFC 8439 AEAD, raw: ciphertext ‖ tag. */
export function chacha20Poly1305Seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  return concatBytes(c.update(plaintext), c.final(), c.getAuthTag());
}

/** RFC 8439 AEAD, raw: the plaintext, or undefined when the tag does not verify. */
export function chacha20Poly1305Open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
  if (sealed.length < TAG_BYTES) return undefined;
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
  d.setAAD(aad, { plaintextLength: sealed.length - TAG_BYTES });
  d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    return concatBytes(d.update(sealed.subarray(0, sealed.length - TAG_BYTES)), d.final());
  } catch {
    return undefined;
  }
}

/** The appointment for `commitmentTxid` carrying `plaintext`. */
export function sealAppointment(commitmentTxid: string, plaintext: Uint8Array): { locator: string; blob: Uint8Array } {
  const key = keyOf(commitmentTxid);
  const nonce = sha256(concatBytes(NONCE_LABEL, key, plaintext)).subarray(0, NONCE_BYTES);
  return { locator: locatorOf(commitmentTxid), blob: concatBytes(nonce, chacha20Poly1305Seal(key, nonce, plaintext, AAD)) };
}

/** The plaintext of `blob` if `commitmentTxid` is the one it was sealed for; undefined otherwise (a wrong key, a changed or short blob). */
export function openAppointment(commitmentTxid: string, blob: Uint8Array): Uint8Array | undefined {
  if (blob.length < NONCE_BYTES + TAG_BYTES) return undefined;
  return chacha20Poly1305Open(keyOf(commitmentTxid), blob.subarray(0, NONCE_BYTES), blob.subarray(NONCE_BYTES), AAD);
}
