import type { CommandResult } from '../../lib/cli/base-command.ts';
import { OffchainCommand } from '../../lib/cli/base-command.ts';
import { Flags } from '@oclif/core';
import { chainFlags, inputFlags } from '../../lib/cli/flags.ts';
import { invoiceFlags, readInvoiceTerms } from '../../topics/invoice/invoice-flag.ts';
import { MalformedInputError } from '../../lib/errors.ts';

export default class RoutePlan extends OffchainCommand<typeof RoutePlan> {
  static override summary = 'Price a multi-hop route: what every HTLC carries and each hop\'s BOLT 4 payload, worked back from the payee.';
  static override description =
    'Reads route/request: the nodes after the sender (payee last), each with the channel reaching it and that channel\'s policy ' +
    '(fee_base_msat, fee_proportional_millionths, cltv_expiry_delta), and the payee\'s amount and expiry. BOLT 7\'s fee formula (floor ' +
    'division); each node\'s incoming expiry is its outgoing one plus the outgoing channel\'s delta. Prints route/plan, ready for an onion builder. ' +
    'With --invoice (a BOLT 11 invoice or its invoice decode message, verified again) and --payee (the node you mean to pay: the invoice must be ' +
    'signed by it), the invoice gives the amount, the payee (the route must end there, or where one of its route hints starts: the hint\'s hops ' +
    'are appended) and the final expiry (--tip-height + min_final_cltv_expiry_delta). A payment locking the first HTLC more than --max-cltv ' +
    'blocks (final delta + forwarding deltas; default 2016) is refused.';
  static override examples = [
    { description: 'The seed\'s Alice → Bob → Carol → Diana → Eric payment (1.003 → 1.002 → 1.001 → 1 BTC)', command: '<%= config.bin %> route plan --in fixtures/route/seed-request.json' },
    {
      description: 'Pay a decoded BOLT 11 invoice: its amount, payee, final CLTV and route hint complete the request (pipe from invoice decode)',
      command: '<%= config.bin %> invoice decode --in fixtures/invoice/regtest.bolt11 --now 1795488100 | <%= config.bin %> route plan --invoice - --payee $(cat fixtures/invoice/regtest.payee) --in fixtures/invoice/route/partial-request.json --tip-height 1000 --now 1795488100',
    },
  ];
  static override flags = {
    ...inputFlags,
    ...invoiceFlags,
    'max-cltv': Flags.integer({ dependsOn: ['invoice'], description: 'with --invoice: the most blocks the payment may lock the first HTLC (final delta + forwarding deltas; default 2016)', helpValue: 'BLOCKS', min: 1, helpGroup: 'INVOICE' }),
    'tip-height': chainFlags['tip-height'],
  };

  protected async execute(): Promise<CommandResult> {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new MalformedInputError('E_EXPECTED_MESSAGE', 'expected a route/request message');
    const { planFromRequest } = await import('../../lib/route/messages.ts');
    let request = doc.value;
    if (this.flags.invoice !== undefined) {
      const terms = await readInvoiceTerms(this.flags.invoice, this.flags.payee, this.flags.network as never, this.flags.now, this.flags.in === undefined || this.flags.in === '-');
      request = (await import('../../lib/invoice/payment.ts')).requestWithInvoice(request, terms, this.flags['tip-height'], { payee: this.flags.payee!.toLowerCase(), maxCltv: this.flags['max-cltv'] });
    }
    const { network, message } = planFromRequest(request);
    this.network(network);
    return { message };
  }
}
