/**
 * `--invoice FILE|-` for the commands that pay one (`route plan`, `htlc create`): the
 * invoice text or an `invoice decode` message, decoded and verified again here (a
 * message's fields are never trusted), refused when expired at `--now` or the clock.
 */
import { Flags } from '@oclif/core';
import { inputFrom, readInputBytes } from '../../lib/cli/input.ts';
import { UsageError } from '../../lib/errors.ts';
import type { InvoiceTerms } from '../../lib/invoice/messages.ts';
import type { Network } from '../../lib/network.ts';

export const invoiceFlags = {
  invoice: Flags.string({ description: 'the invoice to pay: a file (or - for standard input) holding the invoice text or an invoice decode message', helpValue: 'FILE|-', helpGroup: 'INVOICE' }),
  now: Flags.integer({ description: 'judge the invoice\'s expiry at this time, unix seconds (default: the clock)', helpValue: 'T', min: 0, helpGroup: 'INVOICE' }),
};

/** `stdinTaken`: the command also reads its main input from standard input (no --in FILE). */
export async function readInvoiceTerms(path: string, network: Network | undefined, now: number | undefined, stdinTaken: boolean): Promise<InvoiceTerms> {
  if (path === '-' && stdinTaken) throw new UsageError('E_USAGE', '--invoice - and the input both want standard input: give one of them as a file');
  const text = new TextDecoder().decode(await readInputBytes(inputFrom(path === '-' ? undefined : path, '--invoice'))).trim();
  const { invoiceTerms, invoiceText } = await import('../../lib/invoice/messages.ts');
  let invoice = text;
  if (text.startsWith('{')) {
    const { detectFormat } = await import('../../lib/cli/input.ts');
    const doc = detectFormat(new TextEncoder().encode(text), '--invoice');
    invoice = invoiceText(doc.format === 'json' ? doc.value : text, '--invoice');
  }
  return invoiceTerms(invoice, { network, now: now ?? Math.floor(Date.now() / 1000) });
}
