/**
 * encrypted_recipient_data that a blinded hop cannot open (BOLT 4 route blinding: the hop
 * fails the HTLC): one code, E_ONION_BLINDED_DATA, one class, refused (exit 4) — whether
 * the tag does not verify under this hop's rho or the data is too short to carry one
 * (issue 41: it was 3 for the short one). The vectors themselves decrypt in
 * recipient-data.test.ts and the e2e blinded-path runs.
 */
import { describe, expect, it } from 'vitest';
import { aeadDecrypt, aeadEncrypt } from '../../../src/lib/onion/blinding.ts';
import { refusal } from '../../setup/refusal.ts';

const RHO = new Uint8Array(32).fill(7);
const OTHER = new Uint8Array(32).fill(8);

describe('route blinding: encrypted_recipient_data this hop cannot open is refused (E_ONION_BLINDED_DATA, exit 4)', () => {
  it('under another key, with one bit flipped, or shorter than its 16-byte tag', () => {
    const data = aeadEncrypt(RHO, Uint8Array.of(1, 2, 3, 4));
    expect([...aeadDecrypt(RHO, data)]).toEqual([1, 2, 3, 4]);
    refusal(() => aeadDecrypt(OTHER, data), 'E_ONION_BLINDED_DATA', 4);
    const flipped = data.slice();
    flipped[0]! ^= 1;
    refusal(() => aeadDecrypt(RHO, flipped), 'E_ONION_BLINDED_DATA', 4);
    for (const n of [0, 1, 15]) refusal(() => aeadDecrypt(RHO, data.subarray(0, n)), 'E_ONION_BLINDED_DATA', 4);
  });
});
