/**
 * `device receipt --human` (and on a terminal): the device's channel after the receipt —
 * what the gateway has been paid, what is left — and every payment with its outcome, and
 * for a paid one the preimage, the device's proof of payment. Input: the credit/balance
 * message the command prints as JSON.
 */
import { rows, thousands } from '../../lib/cli/human.ts';
import type { PaymentRow } from '../../lib/credit/channel-payments.ts';
import { paymentsText } from '../credit/human.ts';

type Balance = { network: string; contract_id: string; state: number; cumulative_sat: number; spendable_sat: number; expiry_height: number; payments?: PaymentRow[] };

export function balanceText(m: Balance): string {
  const payments = m.payments ?? [];
  const count = (o: string) => payments.filter((p) => p.outcome === o).length;
  const out = [
    `contract ${m.contract_id} (${m.network})`,
    rows([
      ['state', String(m.state)],
      ['paid to the gateway', `${thousands(m.cumulative_sat)} sat`],
      ['spendable', `${thousands(m.spendable_sat)} sat`],
      ['expires', `at block ${m.expiry_height}`],
    ]),
    '',
    `payments: ${count('paid')} paid, ${count('failed')} failed, ${count('pending')} pending`,
  ];
  if (payments.length) out.push(paymentsText(payments));
  return out.join('\n') + '\n';
}
