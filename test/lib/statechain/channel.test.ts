/**
 * The orderings a channel on a statechain coin relies on (issue 13 item 6): the funding
 * backup's locktime below the previous owner's, and every HTLC expiry beyond the funding's
 * locktime plus to_self_delay — the boundaries refused, the first allowed value accepted.
 */
import { describe, expect, it } from 'vitest';
import { checkChannelOnCoin } from '../../../src/lib/statechain/channel.ts';
import { refusal } from '../../setup/refusal.ts';

describe('a channel on a statechain coin: orderings', () => {
  const ok = { fundingLocktime: 290, previousLocktime: 300, toSelfDelay: 144, htlcExpiries: [435, 500] };

  it('accepts a funding below the previous backup and HTLCs expiring after funding + to_self_delay', () => {
    expect(() => checkChannelOnCoin(ok)).not.toThrow();
  });

  it('refuses a funding backup that is not strictly below the previous owner\'s (E_CHANNEL_ORDER)', () => {
    refusal(() => checkChannelOnCoin({ ...ok, fundingLocktime: 300 }), 'E_CHANNEL_ORDER', 4);
    refusal(() => checkChannelOnCoin({ ...ok, fundingLocktime: 301 }), 'E_CHANNEL_ORDER', 4);
  });

  it('refuses an HTLC that could expire before the channel can be on chain (E_CHANNEL_TIMELOCK)', () => {
    refusal(() => checkChannelOnCoin({ ...ok, htlcExpiries: [434] }), 'E_CHANNEL_TIMELOCK', 4);
    refusal(() => checkChannelOnCoin({ ...ok, htlcExpiries: [500, 100] }), 'E_CHANNEL_TIMELOCK', 4);
  });
});
