/**
 * The checks every channel party step shares (src/lib/bolt3/party.ts) pinned where `npm run
 * mutate` found a planted change passing every test (issue 42, deliverable 2): each refusal by
 * code, exit class and whole message, each bound exact (BOLT 2's 253 sat/kw; an HTLC expiring at
 * the funding's locktime plus the larger to_self_delay refused, one block later accepted), a stored
 * record read back only when it is one.
 *
 * Expected values come from BOLT 2 / BOLT 3, docs/bolt3.md and the module's header, never from
 * the code: the records are the two parties' of ./two-parties.ts (Alice's to_self_delay 144, Bob's
 * 30), the HTLC expiries the agreed state's.
 */
import { describe, expect, it } from 'vitest';
import {
  channelIdOf, checkChannelId, checkFundingLocktime, checkNotClosing, checkPoint, checkSeed, checkTermsFloor, decodeChannelRecord, ownCommitment, ownPoint,
  type ChannelRecord, type ChannelState,
} from '../../../src/lib/bolt3/party.ts';
import { termsOf } from '../../../src/lib/bolt3/party-terms.ts';
import { refusal } from '../../setup/refusal.ts';
import { publicKeyOf } from '../../independent/secp256k1.ts';
import { A, B, CHANNEL_ID, aliceState, channels, open, pub, secret } from './two-parties.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
let opened: ReturnType<typeof open> | undefined;
const recs = () => (opened ??= open());

describe('the record and the channel it names', () => {
  it('a channel is named by its funding outpoint, txid:vout', () => {
    expect(channelIdOf({ funding_txid: 'ab'.repeat(32), funding_vout: 1 })).toBe(CHANNEL_ID);
    expect(channelIdOf(recs().a.channel)).toBe(CHANNEL_ID);
  });

  it('a stored record is read back as it is; anything else is refused naming where it was read and the first wrong field', () => {
    const rec = recs().a;
    expect(decodeChannelRecord(JSON.parse(JSON.stringify(rec)), 'channel.json')).toEqual(rec);
    const root = refusal(() => decodeChannelRecord(null, 'the record of channel X'), 'E_BAD_CHANNEL_RECORD', 1);
    expect(root.message).toMatch(/^the record of channel X is not a channel record \(\/: Expected object\)$/); // TypeBox's words for the first error
    const field = refusal(() => decodeChannelRecord({ ...rec, local_revoked_through: -2 }, 'channel.json'), 'E_BAD_CHANNEL_RECORD', 1);
    expect(field.message).toMatch(/^channel\.json is not a channel record \(\/local_revoked_through: Expected integer.*\)$/);
  });

  it('a message for another channel is refused naming both', () => {
    checkChannelId(recs().a, CHANNEL_ID);
    const other = `${'cd'.repeat(32)}:0`;
    const e = refusal(() => checkChannelId(recs().a, other), 'E_WRONG_CHANNEL', 4);
    expect([e.message, e.detail]).toEqual([`this message is for channel ${other}, not ${CHANNEL_ID}`, { channel: other }]);
    refusal(() => checkChannelId(recs().a, `${'ab'.repeat(32)}:0`), 'E_WRONG_CHANNEL', 4); // same txid, another output
  });

  it('the seed is the channel\'s: its point 0 is the one recorded, another seed refused', () => {
    checkSeed(recs().a, A.seed);
    expect(refusal(() => checkSeed(recs().a, B.seed), 'E_KEY_MISMATCH', 4).message).toBe('the --seed-file is not this channel\'s per-commitment seed');
    expect(hex(ownPoint(A.seed, 0))).toBe(recs().a.local_first_point);
    expect(hex(ownPoint(A.seed, 1))).not.toBe(recs().a.local_first_point);
  });

  it('a point from the peer: 33 bytes on the curve, else refused naming the field (malformed input)', () => {
    const good = pub(secret('peer point'));
    expect(hex(checkPoint(good, 'next_per_commitment_point'))).toBe(good);
    expect(refusal(() => checkPoint('02' + '00'.repeat(32), 'next_per_commitment_point'), 'E_BAD_PUBKEY', 3).message).toContain('next_per_commitment_point');
    expect(refusal(() => checkPoint(good.slice(0, 64), 'first_per_commitment_point'), 'E_BAD_LENGTH', 3).message).toContain('first_per_commitment_point');
  });
});

describe('nothing is signed once the channel is closing', () => {
  it('after a close proposed or signed, or after finalize, each said as it is (state conflict)', () => {
    const rec = recs().a;
    checkNotClosing(rec);
    const closing: ChannelRecord = { ...rec, closing: { proposed: true, own_script: '0014' + '11'.repeat(20), fee_sat: 1000 } };
    expect(refusal(() => checkNotClosing(closing), 'E_CHANNEL_CLOSING', 5).message)
      .toBe('a mutual close of this channel was proposed or signed: no further commitment is signed');
    expect(refusal(() => checkNotClosing({ ...rec, broadcast: 3 }), 'E_CHANNEL_CLOSING', 5).message)
      .toBe('you completed your commitment 3 for broadcast (finalize): it is never revoked, and no further commitment is signed');
    // Commitment 0 completed is completed too.
    refusal(() => checkNotClosing({ ...rec, broadcast: 0 }), 'E_CHANNEL_CLOSING', 5);
  });
});

describe('BOLT 2\'s feerate floor', () => {
  it('253 sat/kw is signed, 252 refused naming both; a zero-fee channel has no floor', () => {
    const terms = (feerate: number) => ({ ...termsOf(aliceState(0)), feerate_per_kw: feerate });
    checkTermsFloor(recs().a, terms(253));
    expect(refusal(() => checkTermsFloor(recs().a, terms(252)), 'E_FEERATE_TOO_LOW', 4).message)
      .toBe('feerate_per_kw 252 is below BOLT 2\'s 253: such a commitment is never relayed');
    checkTermsFloor(open('zero-fee').a, terms(0));
    refusal(() => checkTermsFloor(open('anchors').a, terms(252)), 'E_FEERATE_TOO_LOW', 4);
  });
});

describe('a channel funded at a locktime (a statechain coin): every HTLC expires beyond the locktime plus the larger to_self_delay', () => {
  // Alice's state 0 offers an HTLC expiring at 500 and receives one at 501; the larger to_self_delay is Alice's 144.
  const commitment = (state: ChannelState = aliceState(0)) => ownCommitment(channels().a, termsOf(state), publicKeyOf(secret('a point'))).c;
  const EARLY = 'HTLC expiry 500 is not beyond the funding\'s locktime plus to_self_delay (500): it could time out before the channel can be on chain';

  it('the locktime given: 356 + 144 = 500 refused, 355 accepted — from either party\'s side (the larger delay, whoever\'s)', () => {
    const { a, b } = recs();
    checkFundingLocktime(a, commitment(), 355);
    expect(refusal(() => checkFundingLocktime(a, commitment(), 356), 'E_CHANNEL_TIMELOCK', 4).message).toBe(EARLY);
    checkFundingLocktime(b, commitment(), 355);
    expect(refusal(() => checkFundingLocktime(b, commitment(), 356), 'E_CHANNEL_TIMELOCK', 4).message).toBe(EARLY);
  });

  it('the record\'s locktime counts too, the later of the two', () => {
    const a = recs().a;
    refusal(() => checkFundingLocktime({ ...a, funding_locktime: 356 }, commitment()), 'E_CHANNEL_TIMELOCK', 4);
    refusal(() => checkFundingLocktime({ ...a, funding_locktime: 356 }, commitment(), 100), 'E_CHANNEL_TIMELOCK', 4);
    refusal(() => checkFundingLocktime({ ...a, funding_locktime: 100 }, commitment(), 356), 'E_CHANNEL_TIMELOCK', 4);
    checkFundingLocktime({ ...a, funding_locktime: 355 }, commitment(), 300);
  });

  it('without a funding locktime no HTLC expiry is checked (an HTLC at block 100 included)', () => {
    const early = aliceState(0);
    const state = { ...early, htlcs: early.htlcs.map((h) => ({ ...h, cltv_expiry: 100 })) };
    checkFundingLocktime(recs().a, commitment(state));
    checkFundingLocktime(recs().a, commitment(state), 0);
    refusal(() => checkFundingLocktime(recs().a, commitment(state), 1), 'E_CHANNEL_TIMELOCK', 4);
  });
});
