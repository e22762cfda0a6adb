import { Args, Flags } from '@oclif/core';
import { existsSync } from 'node:fs';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { OffchainCommand } from '../../lib/cli/base-command.ts';
import { humanFlags, inputFlags } from '../../lib/cli/flags.ts';
import { detectFormat, inputFrom, readInputBytes } from '../../lib/cli/input.ts';
import { UsageError } from '../../lib/errors.ts';

export default class InvoiceDecode extends OffchainCommand<typeof InvoiceDecode> {
  static override summary = 'Decode and verify a BOLT 11 invoice or a BOLT 12 offer, invoice request or invoice.';
  static override description =
    'Reads the string from the argument, --in FILE or standard input (it is not a secret). BOLT 11 (lnbc, lntb, lntbs, lnbcrt): every tagged ' +
    'field, the amount in msat, and the signature verified against the n field or the payee recovered from it. BOLT 12 (lno, lnr, lni; + ' +
    'continuations allowed): every TLV field under the spec\'s name, the Merkle-tree BIP-340 signature of requests and invoices verified. ' +
    'Prints invoice/bolt11, invoice/offer, invoice/request or invoice/bolt12 with valid/expired at --now and what a payer must still check. ' +
    'Malformed text is refused with exit 3, an invoice the spec forbids paying (bad signature, unknown even feature or field, amount out of ' +
    'range, wrong --network) with exit 4. See docs/invoice.md.';
  static override examples = [
    { description: 'A regtest invoice from Core Lightning, judged at a fixed time', command: '<%= config.bin %> invoice decode --in fixtures/invoice/regtest.bolt11 --now 1795488100' },
    { description: 'BOLT 11\'s first example (mainnet), as an argument', command: '<%= config.bin %> invoice decode --network mainnet --now 1496314658 $(cat fixtures/invoice/spec-donation.bolt11)' },
    { description: 'A BOLT 12 offer from the spec\'s vectors', command: '<%= config.bin %> invoice decode --network mainnet --now 1795488100 --in fixtures/invoice/spec.offer' },
    { description: 'Feed the payment to route plan (see route plan --help)', command: '<%= config.bin %> invoice decode --in fixtures/invoice/regtest.bolt11 --now 1795488100 | <%= config.bin %> route plan --invoice - --payee $(cat fixtures/invoice/regtest.payee) --in fixtures/invoice/route/partial-request.json --tip-height 1000 --now 1795488100' },
  ];
  static override args = {
    invoice: Args.string({ description: 'the invoice or offer (default: --in or standard input)', required: false, ignoreStdin: true }),
  };
  static override flags = {
    ...inputFlags,
    now: Flags.integer({ description: 'judge expiry at this time, unix seconds (default: the clock)', helpValue: 'T', min: 0 }),
    ...humanFlags,
    cln: Flags.boolean({ description: 'print Core Lightning\'s `lightning-cli decode` names and types instead (amount_msat a number, min_final_cltv_expiry, offer_amount_msat, first_path_key, offer_id, …; docs/invoice.md)', exclusive: ['human'] }),
  };

  protected async execute(): Promise<CommandResult> {
    const f = this.flags;
    if (this.args.invoice !== undefined && f.in !== undefined) throw new UsageError('E_USAGE', 'give the invoice as the argument or with --in, not both');
    const given = this.args.invoice;
    // A file's name where the invoice goes (`invoice decode inv.bolt11`): say so, not "broken invoice".
    if (given !== undefined && !/^ln/i.test(given.trim()) && existsSync(given)) {
      throw new UsageError('E_USAGE', `${JSON.stringify(given)} is a file: pass its contents (< ${given} or --in ${given}), or the invoice itself as the argument`);
    }
    let text = given ?? new TextDecoder().decode(await readInputBytes(inputFrom(f.in)));
    const { decodeInvoiceText, invoiceText } = await import('../../lib/invoice/messages.ts');
    if (text.trimStart().startsWith('{')) {
      // An invoice decode message again (e.g. from a file a payer kept): its string, decoded afresh.
      const doc = detectFormat(new TextEncoder().encode(text), f.in ?? 'the input');
      if (doc.format === 'json') text = invoiceText(doc.value, f.in ?? 'the input');
    }
    const { network, message } = decodeInvoiceText(text, { network: f.network as never, now: f.now ?? Math.floor(Date.now() / 1000) });
    this.network(network);
    if (f.cln) return { text: (await import('../../lib/invoice/cln-view.ts')).clnDecodeText(message) };
    const { invoiceHumanText } = await import('../../topics/invoice/human.ts');
    return { message, human: () => invoiceHumanText(message) };
  }
}
