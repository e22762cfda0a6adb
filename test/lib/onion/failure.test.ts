/** Failure messages by name: codes and field layouts written out by hand from BOLT 4. */
import { describe, it, expect } from 'vitest';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { decodeFailure, encodeFailure } from '../../../src/lib/onion/failure.ts';
import { refusal } from '../../setup/refusal.ts';

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

  it('integer fields are never wrapped or rounded: negative, fractional, non-decimal or too wide values are refused (E_ONION_FAILURE_VALUE, exit 3)', () => {
    const cases: [string, Record<string, string | number>][] = [
      ['fee_insufficient', { htlc_msat: '-1', channel_update: '' }], // would read back as 2^64 − 1
      ['fee_insufficient', { htlc_msat: '18446744073709551616', channel_update: '' }], // 2^64
      ['fee_insufficient', { htlc_msat: '1.5', channel_update: '' }],
      ['fee_insufficient', { htlc_msat: '0x10', channel_update: '' }],
      ['fee_insufficient', { htlc_msat: '', channel_update: '' }],
      ['fee_insufficient', { htlc_msat: '1e3', channel_update: '' }],
      ['channel_disabled', { disabled_flags: 65536, channel_update: '' }], // 2^16
      ['channel_disabled', { disabled_flags: -1, channel_update: '' }],
      ['incorrect_cltv_expiry', { cltv_expiry: '4294967296', channel_update: '' }], // 2^32
      ['incorrect_or_unknown_payment_details', { htlc_msat: '100', height: 1.5 }],
      ['invalid_onion_payload', { type: '-1', offset: 3 }],
      ['invalid_onion_payload', { type: '18446744073709551616', offset: 3 }],
    ];
    for (const [name, fields] of cases) refusal(() => encodeFailure(name, fields), 'E_ONION_FAILURE_VALUE', 3);
    // The largest values of each width are what they say.
    expect(toHex(encodeFailure('fee_insufficient', { htlc_msat: '18446744073709551615', channel_update: '' }))).toBe('100c' + 'ff'.repeat(8) + '0000');
    expect(toHex(encodeFailure('channel_disabled', { disabled_flags: 65535, channel_update: '' }))).toBe('1014' + 'ffff' + '0000');
  });

  it('a field the failure does not have is refused, not dropped', () => {
    refusal(() => encodeFailure('unknown_next_peer', { htlc_msat: '1' }), 'E_ONION_FAILURE_FIELD', 4);
  });
});
