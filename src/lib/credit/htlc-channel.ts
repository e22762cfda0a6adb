/**
 * A credit contract whose states carry at most one HTLC (transactions.ts StateHtlc,
 * rules.ts checkState), used as a payment channel: the change credit's abandon makes to
 * the user's record of it (abandon.ts), and the record of a payment with its request
 * left out. The records themselves (DeviceChannel, GatewayChannel) are credit records
 * (ports.ts). The IoT device and its Lightning gateway (src/lib/device/) are built on
 * these; the payment steps (pay, settle, fail, receipt) and the HTLC's script live there,
 * not here: credit knows the record's shape, never the device.
 */
import type { DeviceChannel, InFlightJson, NextNonceJson } from './ports.ts';

/**
 * The gateway's signed credit/abandoned for the payment in flight (a device/pay it refused):
 * it never signed that state and burned the nonce; the channel is idle again at the same
 * state with its fresh nonce. The HTLC is kept with the failed ones all the same (its
 * refund needs only the device's record), and no longer counts against the day.
 */
export function abandoned(r: DeviceChannel, nextNonce: NextNonceJson): DeviceChannel {
  const { in_flight: f, ...rest } = r;
  if (!f) return r;
  const spent = BigInt(r.day.spent_msat) - BigInt(f.invoice_amount_msat);
  return {
    ...rest, gateway_nonce: nextNonce, day: { ...r.day, spent_msat: (spent < 0n ? 0n : spent).toString() },
    failed: [...(r.failed ?? []), { ...stripRequest(f), txid: String(f.request.txid), settled_sat: r.settled_sat }],
  };
}

export function stripRequest(f: NonNullable<DeviceChannel['in_flight']>): InFlightJson {
  const { request: _r, abandon: _a, ...rest } = f;
  return rest;
}
