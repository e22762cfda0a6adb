/**
 * A Lightning channel on a statechain coin (BRIEF §3.2, issue 13 item 6; the commerceblock
 * "StateChannels" draft): the coin moves into the channel's funding output by a backup
 * — the next one in the chain, so its locktime is one interval below every earlier backup
 * — and the channel's commitments spend that output.
 *
 * The orderings the channel relies on, checked here:
 * - the funding backup can confirm before the previous owner's backup is final: its
 *   locktime is strictly below the previous one (E_CHANNEL_ORDER);
 * - no channel timelock is relied on before the funding's own locktime: a commitment can
 *   confirm only after the funding does (at its locktime at the earliest), and its outputs
 *   wait `to_self_delay` more, so every HTLC expiry must lie beyond funding locktime +
 *   to_self_delay, or the HTLC could time out before its claim can confirm (E_CHANNEL_TIMELOCK).
 *
 * Run by `commitment sign --funding-locktime` (the timelocks: ../bolt3/funding-locktime.ts); the order holds by the
 * receiver's verification (every backup exactly one interval below the previous one). The
 * coin owned jointly by the two channel parties is ./joint.ts and ./joint-send.ts.
 */
import { RefusedError } from '../errors.ts';
import { checkChannelTimelocks } from '../bolt3/funding-locktime.ts';

export type ChannelOnCoin = {
  /** nLockTime of the backup paying the channel's funding output. */
  fundingLocktime: number;
  /** nLockTime of the previous owner's backup. */
  previousLocktime: number;
  /** The larger of the two parties' to_self_delay. */
  toSelfDelay: number;
  /** Every HTLC's cltv_expiry on the channel's commitments. */
  htlcExpiries: readonly number[];
};

export function checkChannelOnCoin(c: ChannelOnCoin): void {
  if (!(c.fundingLocktime < c.previousLocktime)) {
    throw new RefusedError('E_CHANNEL_ORDER', `the channel funding's locktime ${c.fundingLocktime} is not below the previous owner's backup (${c.previousLocktime}): that backup could confirm first`);
  }
  checkChannelTimelocks(c);
}
