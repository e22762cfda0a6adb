import type { CommandResult } from '../../lib/cli/base-command.ts';
import { OffchainCommand } from '../../lib/cli/base-command.ts';
import { inputFlags } from '../../lib/cli/flags.ts';
import { MalformedInputError } from '../../lib/errors.ts';

export default class RouteCheck extends OffchainCommand<typeof RouteCheck> {
  static override summary = 'Check a route/plan as each forwarding node would: expiry margins and fees, hop by hop.';
  static override description =
    'Refuses (exit 4) a hop whose cltv_expiry − cltv_expiry_delta < outgoing_cltv_value (E_ROUTE_CLTV_SHORT), whose incoming amount does not cover ' +
    'what it forwards plus its fee (E_ROUTE_FEE_SHORT), or whose payload disagrees with the next hop\'s HTLC (E_ROUTE_MISMATCH). Prints the plan unchanged when it holds.';
  static override examples = [{ description: 'Check the seed route\'s plan', command: '<%= config.bin %> route check --in fixtures/route/seed-plan.json' }];
  static override flags = { ...inputFlags };

  protected async execute(): Promise<CommandResult> {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new MalformedInputError('E_EXPECTED_MESSAGE', 'expected a route/plan message');
    const { checkPlan } = await import('../../lib/route/messages.ts');
    this.network(checkPlan(doc.value).network);
    return { message: doc.value as Record<string, unknown> };
  }
}
