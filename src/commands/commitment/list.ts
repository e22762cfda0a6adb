import type { CommandResult } from '../../lib/cli/base-command.ts';
import { chainFlags, humanFlags, stateFlags } from '../../lib/cli/flags.ts';
import { CommitmentCommand } from '../../topics/commitment/command.ts';

export default class CommitmentList extends CommitmentCommand<typeof CommitmentList> {
  static override summary = 'Your channels, a revoked commitment\'s penalty deadline first, flagging what must be done now.';
  static override description =
    'For runbooks: each channel in the state directory — funding outpoint, capacity, balances, your and the peer\'s commitment numbers, the ' +
    'revoked commitments you can punish, the HTLCs in flight, both to_self_delays. With a node (--rpc-url, -txindex) the chain\'s truth, asked as ' +
    'offchain watch asks it: the funding unspent (open), or spent by your commitment (force-closed: your to_local is yours from sweep_from), the ' +
    'peer\'s current one (peer-closed), the mutual close (closed) or a revoked one — penalty-due, with its deadline (mined at H: H + to_self_delay − 1) ' +
    'and the outputs left to take, until every one is taken in a block (penalized) — and what the watcher sent. must_act is true for a penalty ' +
    'due, a spend no record explains, and a mined commitment (yours, the peer\'s current) whose HTLC outputs are not all taken (htlc_outputs). Offline (--tip-height) the record\'s word only. Read-only: no key, no lock; it runs beside a running watcher.';
  static override examples = [
    { description: 'Alice\'s fixture channel (the BOLT 3 Appendix C one), offline at tip 500', command: 'D=$(mktemp -d); cp -r fixtures/bolt3/alice-state-dir $D/alice && <%= config.bin %> commitment list --state-dir $D/alice --tip-height 500' },
    { description: 'Beside a node, for a person: every channel with the chain\'s word on it', command: '<%= config.bin %> commitment list --state-dir ~/.offchain-alice --rpc-url http://127.0.0.1:8332 --human' },
  ];
  static override flags = { ...stateFlags, ...chainFlags, ...humanFlags };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    const { channelsList } = await import('../../topics/commitment/list.ts');
    const message = await channelsList((create) => this.state(network, { create }), this.stateDir(network), await this.chain(network), network);
    const { channelsText } = await import('../../topics/commitment/human.ts');
    return { message, human: () => channelsText(message) };
  }
}
