/**
 * A channel whose funding output can confirm only from a locktime on (BOLT 3 commitments
 * spending a pre-signed, time-locked funding transaction: a Lightning channel on a statechain
 * coin, ../statechain/channel.ts): a commitment confirms after its funding, and its outputs
 * wait `to_self_delay` more, so every HTLC must expire beyond funding locktime +
 * to_self_delay, or it could time out before its claim can confirm (E_CHANNEL_TIMELOCK).
 *
 * Here, in BOLT 3, because the channel party checks it on every commitment it signs
 * (party.ts `checkFundingLocktime`); the statechain side (the funding backup's order among
 * the coin's backups) is ../statechain/channel.ts, built on this.
 */
import { RefusedError } from '../errors.ts';

export type FundedAtLocktime = {
  /** nLockTime of the transaction paying the channel's funding output. */
  fundingLocktime: number;
  /** The larger of the two parties' to_self_delay. */
  toSelfDelay: number;
  /** Every HTLC's cltv_expiry on the channel's commitments. */
  htlcExpiries: readonly number[];
};

/**
 * The second ordering alone, for a commitment of a channel whose funding is a statechain
 * backup (`commitment sign --funding-locktime`): no HTLC may expire before the funding's
 * locktime plus `to_self_delay`.
 */
export function checkChannelTimelocks(c: FundedAtLocktime): void {
  const earliest = c.fundingLocktime + c.toSelfDelay;
  const early = c.htlcExpiries.filter((e) => e <= earliest);
  if (early.length > 0) {
    throw new RefusedError('E_CHANNEL_TIMELOCK', `HTLC expiry ${Math.min(...early)} is not beyond the funding's locktime plus to_self_delay (${earliest}): it could time out before the channel can be on chain`);
  }
}
