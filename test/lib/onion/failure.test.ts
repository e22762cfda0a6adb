/** Failure messages by name: codes and field layouts written out by hand from BOLT 4. */
import { describe, it, expect } from 'vitest';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { decodeFailure, encodeFailure } from '../../../src/lib/onion/failure.ts';

describe('failure messages', () => {
  it.each([
    ['temporary_channel_failure', { channel_update: 'aabb' }, '1007' + '0002aabb'],
    ['unknown_next_peer', {}, '400a'],
    ['fee_insufficient', { htlc_msat: '1000', channel_update: '' }, '100c' + '00000000000003e8' + '0000'],
    ['expiry_too_soon', { channel_update: '01' }, '100e' + '000101'],
    ['incorrect_or_unknown_payment_details', { htlc_msat: '100', height: 800000 }, '400f' + '0000000000000064' + '000c3500'],
    ['invalid_onion_hmac', { sha256_of_onion: '11'.repeat(32) }, 'c005' + '11'.repeat(32)],
    ['invalid_onion_payload', { type: '256', offset: 3 }, '4016' + 'fd0100' + '0003'],
    ['mpp_timeout', {}, '0017'],
  ])('%s', (name, fields, hex) => {
    expect(toHex(encodeFailure(name, fields as Record<string, string | number>))).toBe(hex);
    const d = decodeFailure(fromHex(hex));
    expect(d.name).toBe(name);
    expect(d.fields).toEqual(fields);
  });

  it('keeps a trailing TLV stream and unknown codes raw; refuses truncation', () => {
    expect(decodeFailure(fromHex('400f' + '0000000000000064' + '000c3500' + '0101ff')).tlv).toBe('0101ff');
    expect(decodeFailure(fromHex('0099abcd'))).toEqual({ name: 'unknown', code: 0x99, fields: { data: 'abcd' } });
    expect(() => decodeFailure(fromHex('400f0000'))).toThrow(/truncated/);
  });
});
