import type { CommandResult } from '../../lib/cli/base-command.ts';
import { chainFlags, humanFlags, stateFlags } from '../../lib/cli/flags.ts';
import { StatechainCommand } from '../../topics/statechain/command.ts';

export default class StatechainList extends StatechainCommand<typeof StatechainList> {
  static override summary = 'The owner\'s coins, soonest deadline first, flagging those whose backup must go out now.';
  static override description =
    'For runbooks: each coin in the state directory — outpoint, amount, your backup\'s number and locktime, the previous owner\'s and the blocks ' +
    'until it is final (your backup must be mined by the block before), the record\'s status — and must_act, true while your backup must be on ' +
    'its way (offchain watch sends it; statechain backup --broadcast by hand). With a node (--rpc-url, -txindex) the chain\'s truth: the coin ' +
    'unspent, spent by your backup (exiting, then exited), by the withdrawal (withdrawal-sent, then withdrawn), by a previous owner\'s backup ' +
    '(contested while in the mempool, then lost) or by a later owner\'s (transferred), asked as offchain watch asks it. Offline (--tip-height) ' +
    'the record\'s word only. Read-only: no key (the shares stay sealed), no lock — it runs beside a running watcher.';
  static override examples = [
    { description: 'Bob\'s fixture coin at tip 285: his backup 2 is final at 290, Alice\'s backup 1 at 300', command: 'D=$(mktemp -d); cp -r fixtures/statechain/state/bob $D/sc-bob && <%= config.bin %> statechain list --state-dir $D/sc-bob --tip-height 285' },
    { description: 'A runbook\'s line beside a node: the coins whose backup must go out now', command: '<%= config.bin %> statechain list --state-dir ~/.offchain-bob --rpc-url http://127.0.0.1:8332 | jq -r \'.coins[] | select(.must_act) | .coin_id\'' },
  ];
  static override flags = { ...stateFlags, ...chainFlags, ...humanFlags };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    const { coinsList } = await import('../../topics/statechain/list.ts');
    const message = await coinsList((create) => this.state(network, { create }), this.stateDir(network), await this.chain(network), network);
    const { coinsText } = await import('../../topics/statechain/human.ts');
    return { message, human: () => coinsText(message) };
  }
}
