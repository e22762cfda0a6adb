/**
 * src/lib/bolt3/appointment.ts: a tower's appointment — locator and blob — for one revoked
 * commitment. RFC 8439's own AEAD vector first, then the invariants as properties: only the
 * commitment's txid opens its blob; any change to the blob is refused; the locator is the txid's
 * first 16 bytes and nothing else.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { chacha20Poly1305Open, chacha20Poly1305Seal, locatorOf, openAppointment, sealAppointment } from '../../../src/lib/bolt3/appointment.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const txidArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));

describe('ChaCha20-Poly1305 is RFC 8439\'s', () => {
  // RFC 8439 §2.8.2, "Example and Test Vector for AEAD_CHACHA20_POLY1305", verbatim.
  const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
  const nonce = hex('070000004041424344454647');
  const aad = hex('50515253c0c1c2c3c4c5c6c7');
  const plaintext = new TextEncoder().encode('Ladies and Gentlemen of the class of \'99: If I could offer you only one tip for the future, sunscreen would be it.');
  const ciphertext = hex(`d31a8d34648e60db7b86afbc53ef7ec2 a4aded51296e08fea9e2b5a736ee62d6 3dbea45e8ca9671282fafb69da92728b
    1a71de0a9e060b2905d6a5b67ecd3b36 92ddbd7f2d778b8c9803aee328091b58 fab324e4fad675945585808b4831d7bc
    3ff4def08e4b7a9de576d26586cec64b 6116`);
  const tag = hex('1ae10b594f09e26a7e902ecbd0600691');

  it('seals the RFC\'s plaintext to its ciphertext and tag, and opens them back', () => {
    const sealed = chacha20Poly1305Seal(key, nonce, plaintext, aad);
    expect(Buffer.from(sealed).toString('hex')).toBe(Buffer.from([...ciphertext, ...tag]).toString('hex'));
    expect(chacha20Poly1305Open(key, nonce, sealed, aad)).toEqual(plaintext);
  });
});

describe('an appointment opens only under its commitment\'s txid', () => {
  it('the locator is the txid\'s first 16 bytes; the blob opens under the txid to the plaintext', () => {
    fc.assert(fc.property(txidArb, fc.uint8Array({ maxLength: 600 }), (txid, plaintext) => {
      const { locator, blob } = sealAppointment(txid, plaintext);
      expect(locator).toBe(txid.slice(0, 32));
      expect(locatorOf(txid)).toBe(locator);
      expect(openAppointment(txid, blob)).toEqual(plaintext);
      // nonce ‖ ciphertext ‖ tag: the plaintext is not in it.
      expect(blob.length).toBe(12 + plaintext.length + 16);
    }), { numRuns: 200 });
  });

  it('a wrong key (any other txid, even one with the same locator) is refused', () => {
    fc.assert(fc.property(txidArb, txidArb, fc.uint8Array({ maxLength: 300 }), fc.boolean(), (txid, other, plaintext, sameLocator) => {
      const wrong = sameLocator ? txid.slice(0, 32) + other.slice(32) : other;
      fc.pre(wrong !== txid);
      expect(openAppointment(wrong, sealAppointment(txid, plaintext).blob)).toBeUndefined();
    }), { numRuns: 200 });
  });

  it('any byte of the blob changed, or the blob cut short, is refused', () => {
    fc.assert(fc.property(txidArb, fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat(), (txid, plaintext, at, flip, cut) => {
      const { blob } = sealAppointment(txid, plaintext);
      const changed = Uint8Array.from(blob);
      changed[at % blob.length]! ^= flip;
      expect(openAppointment(txid, changed)).toBeUndefined();
      expect(openAppointment(txid, blob.subarray(0, cut % blob.length))).toBeUndefined();
    }), { numRuns: 300 });
  });

  it('the key is SHA256 of the txid: a blob sealed by test code under it opens (and the draft\'s key derivation is the one used)', () => {
    const txid = 'ab'.repeat(32);
    const key = createHash('sha256').update(Buffer.from(txid, 'hex')).digest();
    const nonce = new Uint8Array(12).fill(7);
    const sealed = chacha20Poly1305Seal(key, nonce, Uint8Array.of(1, 2, 3), new TextEncoder().encode('offchain/tower-justice/1'));
    expect(openAppointment(txid, Uint8Array.from([...nonce, ...sealed]))).toEqual(Uint8Array.of(1, 2, 3));
  });

  it('the same contents give the same bytes; other contents under one txid never reuse its nonce', () => {
    fc.assert(fc.property(txidArb, fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 100 }), (txid, a, b) => {
      expect(sealAppointment(txid, a).blob).toEqual(sealAppointment(txid, a).blob);
      fc.pre(Buffer.compare(Buffer.from(a), Buffer.from(b)) !== 0);
      expect(sealAppointment(txid, a).blob.subarray(0, 12)).not.toEqual(sealAppointment(txid, b).blob.subarray(0, 12));
    }), { numRuns: 200 });
  });
});
