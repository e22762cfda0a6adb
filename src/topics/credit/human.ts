/**
 * `credit list --human` (and on a terminal): the mint's contracts for a person, one block
 * each, soonest expiry first, with what to do now; a gateway's channel also lists its
 * payments. Also the payment rows `device receipt --human` shows. The JSON message
 * (credit/contracts, credit/balance) is the input: nothing here reads a store.
 */
import { rows, thousands } from '../../lib/cli/human.ts';
import type { PaymentRow } from '../../lib/credit/channel-payments.ts';

type ContractRow = {
  contract_id: string; status: string; capacity_sat: number; cumulative_sat: number; state: number; expiry_height: number; blocks_to_expiry: number;
  must_exit: boolean; next: string; ecash_issued_sat?: number; payments?: PaymentRow[];
  settlement?: { kind: string; txid: string; confirmations?: number }; exit?: { state: number; txid: string; confirmations?: number };
};
type Contracts = { network: string; tip_height: number; contracts: ContractRow[]; ecash_outstanding?: { keyset_id: string; issued_sat: number; signatures: number }[] };

const sat = (n: number | undefined) => `${thousands(n ?? 0)} sat`;
const blocksText = (n: number) => (n < 0 ? `${thousands(-n)} blocks ago` : `in ${thousands(n)} block${n === 1 ? '' : 's'}`);

export function contractsText(m: Contracts): string {
  const n = m.contracts.length;
  const out = [`${n} contract${n === 1 ? '' : 's'} at tip ${m.tip_height} (${m.network}), soonest expiry first${n ? '' : ': none'}`];
  const mustExit = m.contracts.filter((c) => c.must_exit).length;
  if (mustExit) out.push(`${mustExit} MUST EXIT NOW`);
  for (const c of m.contracts) {
    out.push('', `${c.contract_id}  ${c.status}${c.must_exit ? '  MUST EXIT NOW' : ''}`);
    out.push(rows([
      ['capacity', sat(c.capacity_sat)],
      ['paid', `${sat(c.cumulative_sat)} at state ${c.state}`],
      ['expires', `at block ${c.expiry_height}, ${blocksText(c.blocks_to_expiry)}`],
      c.ecash_issued_sat !== undefined ? ['ecash issued', sat(c.ecash_issued_sat)] : undefined,
      c.settlement ? [c.settlement.kind, `${c.settlement.txid}${c.settlement.confirmations !== undefined ? `, ${c.settlement.confirmations} confirmations` : ''}`] : undefined,
      c.exit ? ['exit', `state ${c.exit.state}, ${c.exit.txid}${c.exit.confirmations !== undefined ? `, ${c.exit.confirmations} confirmations` : ''}`] : undefined,
      ['next', c.next],
    ]));
    if (c.payments?.length) out.push('  payments', paymentsText(c.payments, '    '));
  }
  if (m.ecash_outstanding?.length) {
    out.push('', 'ecash outstanding, per keyset');
    out.push(rows(m.ecash_outstanding.map((k) => [k.keyset_id, `${sat(k.issued_sat)} in ${thousands(k.signatures)} signatures`])));
  }
  return out.join('\n') + '\n';
}

/** Each payment: outcome, amount and fee, then its hash and, when paid, the preimage (the proof). */
export function paymentsText(payments: readonly PaymentRow[], indent = '  '): string {
  return payments
    .map((p) => {
      const head = `${indent}${p.outcome.padEnd(7)} ${p.amount_sat !== undefined ? sat(p.amount_sat) : 'amount not recorded'}${p.fee_sat !== undefined ? ` (fee ${sat(p.fee_sat)})` : ''}${p.state !== undefined ? `, state ${p.state}` : ''}`;
      return [head, rows([['payment hash', p.payment_hash], p.preimage ? ['preimage', `${p.preimage}  (proof of payment: its SHA-256 is the payment hash)`] : undefined], `${indent}  `)].join('\n');
    })
    .join('\n');
}
