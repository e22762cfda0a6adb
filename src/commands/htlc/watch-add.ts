import type { CommandResult } from '../../lib/cli/base-command.ts';
import { WatchAddSteps, watchAddFlags } from '../../topics/htlc/watch-add.ts';

export default class HtlcWatchAdd extends WatchAddSteps<typeof HtlcWatchAdd> {
  static override summary = 'The payer, once it funded an HTLC: keep it in the state directory, so offchain watch refunds it when its timeout is final.';
  static override description =
    'Reads the htlc/created (seed or taproot) and the funded output (--outpoint; a node checks it pays the HTLC and gives its amount, else ' +
    '--amount or the message\'s amount_sat), and stores them with the refund\'s address (--to) in --state-dir. Takes the payer\'s key (--key-file/--key-env; another: E_WRONG_KEY) and ' +
    'signs the record with it: the watcher (the same key) refunds only a record its key signed (else hold, E_STATE_CORRUPT). A locktime that is a unix time is refused (E_CLTV_NOT_HEIGHT: a watcher keeps heights); ' +
    'the same outpoint with other terms is refused (E_STATE_CONFLICT, exit 5). Prints htlc/watched.';
  static override examples = [
    {
      description: 'Alice keeps the fixture HTLC, funded at 5f…5f:0, for her watcher: refunded to her address from height 1100',
      command: 'D=$(mktemp -d); ALICE_KEY=$(cat fixtures/keys/alice.key) <%= config.bin %> htlc watch-add --key-env ALICE_KEY --in fixtures/htlc/seed.json --outpoint ' + '5f'.repeat(32) + ':0 --to bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 --state-dir $D',
    },
  ];
  static override flags = watchAddFlags;

  protected async execute(): Promise<CommandResult> {
    return this.watchAdd('htlc');
  }
}
