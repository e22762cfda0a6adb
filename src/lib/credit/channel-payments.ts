/**
 * Proof of payment a person can read (issue 41): each payment of a payment channel (ports.ts
 * DeviceChannel, GatewayChannel: the device and its gateway of src/lib/device/) as one
 * row — its payment hash, the outcome, the amount the HTLC carried and the gateway's fee,
 * and for a paid one the preimage, which hashes to the payment hash and is the device's
 * proof that the payee was paid (BOLT 11: the payee reveals it only when paid).
 *
 * The device's rows come from its record (every settled preimage in `paid`, every failed
 * payment in `failed`, the one in flight); the gateway's from what its record keeps (the
 * payment in flight and the last one decided) — its Lightning node's `listpays` holds the
 * rest. No time is printed: neither record stores one. Pure: records in, rows out.
 */
import type { DeviceChannel, GatewayChannel } from './ports.ts';

export type PaymentOutcome = 'paid' | 'failed' | 'pending';

export type PaymentRow = {
  payment_hash: string;
  outcome: PaymentOutcome;
  /** What the HTLC carried: the invoice's amount rounded up to a satoshi, plus the gateway's fee (absent only in a gateway record written before it was kept). */
  amount_sat?: number;
  /** The gateway's fee within amount_sat (absent for a payment recorded before fees were kept with it). */
  fee_sat?: number;
  invoice_amount_msat?: string;
  /** Paid only: sha256(preimage) = payment_hash, the proof of payment. */
  preimage?: string;
  /** The state that carried the payment's HTLC (absent only in a gateway record written before it was kept). */
  state?: number;
};

/** The device's payments, in the order they were made (state number). */
export function devicePayments(d: DeviceChannel): PaymentRow[] {
  const rows: PaymentRow[] = [];
  for (const p of d.paid) {
    rows.push({ payment_hash: p.payment_hash, outcome: 'paid', amount_sat: p.amount_sat, fee_sat: p.fee_sat, invoice_amount_msat: p.invoice_amount_msat, preimage: p.preimage, state: p.state - 1 });
  }
  for (const f of d.failed ?? []) rows.push({ payment_hash: f.payment_hash, outcome: 'failed', amount_sat: f.amount_sat, fee_sat: f.fee_sat, invoice_amount_msat: f.invoice_amount_msat, state: f.state });
  const f = d.in_flight;
  if (f && !rows.some((r) => r.payment_hash === f.payment_hash && r.state === f.state)) {
    rows.push({ payment_hash: f.payment_hash, outcome: 'pending', amount_sat: f.amount_sat, fee_sat: f.fee_sat, invoice_amount_msat: f.invoice_amount_msat, state: f.state });
  }
  return rows.sort((a, b) => a.state! - b.state!);
}

/**
 * The gateway's view of a channel's payments: the last one decided (paid with its preimage,
 * or failed) and the one in flight (paid once the gateway holds the preimage, failed once it
 * failed it, else pending), as its record keeps them.
 */
export function gatewayPayments(g: GatewayChannel): PaymentRow[] {
  const rows: PaymentRow[] = [];
  const d = g.decided;
  if (d) {
    const paid = (d.answer as { type?: string }).type === 'gateway/settle';
    const preimage = (d.answer as { preimage?: unknown }).preimage;
    rows.push({
      payment_hash: d.payment_hash,
      outcome: paid ? 'paid' : 'failed',
      amount_sat: d.amount_sat,
      fee_sat: d.fee_sat,
      invoice_amount_msat: d.invoice_amount_msat,
      ...(paid && typeof preimage === 'string' ? { preimage } : {}),
      state: d.state,
    });
  }
  const f = g.in_flight;
  if (f) {
    const outcome: PaymentOutcome = f.preimage ? 'paid' : f.failed ? 'failed' : 'pending';
    rows.push({ payment_hash: f.payment_hash, outcome, amount_sat: f.amount_sat, fee_sat: f.fee_sat, invoice_amount_msat: f.invoice_amount_msat, ...(f.preimage ? { preimage: f.preimage } : {}), state: f.state });
  }
  return rows;
}
