/**
 * `--invoice FILE|-` for the commands that pay one (`route plan`, `htlc create`): the
 * invoice text or an `invoice decode` message, decoded and verified again here (a
 * message's fields are never trusted), refused when expired at `--now` or the clock,
 * and refused unless it is signed by `--payee`, the node the payer means to pay (an
 * invoice verifies for whoever signed it: anyone can hand over their own).
 */
import { Flags } from '@oclif/core';
import { inputFrom, readInputBytes } from '../../lib/cli/input.ts';
import { UsageError } from '../../lib/errors.ts';
import type { InvoiceTerms } from '../../lib/invoice/messages.ts';
import type { Network } from '../../lib/network.ts';

export const invoiceFlags = {
  invoice: Flags.string({ description: 'the invoice to pay: a file (or - for standard input) holding the invoice text or an invoice decode message', helpValue: 'FILE|-', helpGroup: 'INVOICE' }),
  payee: Flags.string({ dependsOn: ['invoice'], description: 'with --invoice (required): the node you mean to pay, a 33-byte public key (hex); the invoice must be signed by it (BOLT 11 payee, BOLT 12 invoice_node_id)', helpValue: 'PUBKEY', helpGroup: 'INVOICE' }),
  now: Flags.integer({ description: 'judge the invoice\'s expiry at this time, unix seconds (default: the clock)', helpValue: 'T', min: 0, helpGroup: 'INVOICE' }),
};

/** `stdinTaken`: the command also reads its main input from standard input (no --in FILE). */
export async function readInvoiceTerms(path: string, payee: string | undefined, network: Network | undefined, now: number | undefined, stdinTaken: boolean): Promise<InvoiceTerms> {
  if (payee === undefined) throw new UsageError('E_USAGE', '--invoice needs --payee PUBKEY: the node you mean to pay (an invoice is valid for whoever signed it)');
  if (!/^0[23][0-9a-fA-F]{64}$/.test(payee)) throw new UsageError('E_USAGE', '--payee must be a compressed public key: 66 hex digits starting 02 or 03');
  if (path === '-' && stdinTaken) throw new UsageError('E_USAGE', '--invoice - and the input both want standard input: give one of them as a file');
  const text = new TextDecoder().decode(await readInputBytes(inputFrom(path === '-' ? undefined : path, '--invoice'))).trim();
  const { invoiceTerms, invoiceText } = await import('../../lib/invoice/messages.ts');
  const { checkPayee } = await import('../../lib/invoice/payment.ts');
  let invoice = text;
  if (text.startsWith('{')) {
    const { detectFormat } = await import('../../lib/cli/input.ts');
    const doc = detectFormat(new TextEncoder().encode(text), '--invoice');
    invoice = invoiceText(doc.format === 'json' ? doc.value : text, '--invoice');
  }
  const terms = invoiceTerms(invoice, { network, now: now ?? Math.floor(Date.now() / 1000) });
  checkPayee(terms, payee.toLowerCase());
  return terms;
}
