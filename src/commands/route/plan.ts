import type { CommandResult } from '../../lib/cli/base-command.ts';
import { OffchainCommand } from '../../lib/cli/base-command.ts';
import { inputFlags } from '../../lib/cli/flags.ts';
import { MalformedInputError } from '../../lib/errors.ts';

export default class RoutePlan extends OffchainCommand<typeof RoutePlan> {
  static override summary = 'Price a multi-hop route: what every HTLC carries and each hop\'s BOLT 4 payload, worked back from the payee.';
  static override description =
    'Reads route/request: the nodes after the sender (payee last), each with the channel reaching it and that channel\'s policy ' +
    '(fee_base_msat, fee_proportional_millionths, cltv_expiry_delta), and the payee\'s amount and expiry. BOLT 7\'s fee formula (floor ' +
    'division); each node\'s incoming expiry is its outgoing one plus the outgoing channel\'s delta. Prints route/plan, ready for an onion builder.';
  static override examples = [
    { description: 'The seed\'s Alice → Bob → Carol → Diana → Eric payment (1.003 → 1.002 → 1.001 → 1 BTC)', command: '<%= config.bin %> route plan --in fixtures/route/seed-request.json' },
  ];
  static override flags = { ...inputFlags };

  protected async execute(): Promise<CommandResult> {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new MalformedInputError('E_EXPECTED_MESSAGE', 'expected a route/request message');
    const { planFromRequest } = await import('../../lib/route/messages.ts');
    const { network, message } = planFromRequest(doc.value);
    this.network(network);
    return { message };
  }
}
