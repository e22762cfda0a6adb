import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { OffchainCommand } from '../../lib/cli/base-command.ts';
import { inputFlags } from '../../lib/cli/flags.ts';
import { MalformedInputError } from '../../lib/errors.ts';
import { ownPolicy } from '../../topics/route/own-policy.ts';

export default class RouteCheck extends OffchainCommand<typeof RouteCheck> {
  static override summary = 'Check a route/plan as each forwarding node would: expiry margins and fees, hop by hop, and every field the hops determine.';
  static override description =
    'Refuses (exit 4) a hop whose cltv_expiry − cltv_expiry_delta < outgoing_cltv_value (E_ROUTE_CLTV_SHORT), whose incoming amount does not cover ' +
    'what it forwards plus its fee (E_ROUTE_FEE_SHORT), whose payload disagrees with the next hop\'s HTLC, or a plan whose first_htlc, total_fee_msat, ' +
    'final_amount_msat, final_cltv_expiry, fee_msat or payload short_channel_id contradict its hops (E_ROUTE_MISMATCH, naming the field). ' +
    'A forwarding node passes --node-id (its own) and --policy (its channel_update for the outgoing channel): its hop is then checked against ' +
    'its own fee and delta, not the sender\'s copy in the plan. Prints the plan unchanged when it holds.';
  static override examples = [
    { description: 'Check the seed route\'s plan', command: '<%= config.bin %> route check --in fixtures/route/seed-plan.json' },
    {
      description: 'Bob, the first forwarding node, checks his hop against his own channel_update (0.001 BTC flat, a 1-block delta; inline: --policy fee_base_msat=N,fee_proportional_millionths=N,cltv_expiry_delta=N)',
      command: '<%= config.bin %> route check --in fixtures/route/seed-plan.json --node-id $(cat fixtures/keys/bob.pub) --policy fixtures/route/bob.policy',
    },
  ];
  static override flags = {
    ...inputFlags,
    'node-id': Flags.string({ description: 'the forwarding node checking its own hop: its node id (33-byte hex)', helpValue: 'PUBKEY', dependsOn: ['policy'] }),
    policy: Flags.string({
      description: 'that node\'s own channel_update for the outgoing channel: fee_base_msat=N,fee_proportional_millionths=N,cltv_expiry_delta=N, or a file holding the same (or a JSON object with those three fields)',
      helpValue: 'TERMS|FILE', dependsOn: ['node-id'],
    }),
  };

  protected async execute(): Promise<CommandResult> {
    const own = this.flags['node-id'] === undefined ? undefined : await ownPolicy(this.flags['node-id'], this.flags.policy!);
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new MalformedInputError('E_EXPECTED_MESSAGE', 'expected a route/plan message');
    const { checkPlan } = await import('../../lib/route/messages.ts');
    this.network(checkPlan(doc.value, own).network);
    return { message: doc.value as Record<string, unknown> };
  }
}
