import type { CommandResult } from '../../lib/cli/base-command.ts';
import { keyFlags, stateFlags } from '../../lib/cli/flags.ts';
import { StatechainCommand } from '../../topics/statechain/command.ts';
import { checkCoinId, coinFlag } from '../../topics/statechain/flags.ts';

export default class StatechainTowerExport extends StatechainCommand<typeof StatechainTowerExport> {
  static override summary = 'Hand a watchtower what it needs to get your anchored backup mined in time: a statechain/tower-backup, nothing secret.';
  static override description =
    'Prints the newest backup of --coin (yours, signed, zero-fee with a keyless pay-to-anchor: terms with anchor), its locktime, the deadline ' +
    '(the block before the previous owner\'s backup is final) and the older backups\' txids, as a statechain/tower-backup for offchain watch ' +
    '--tower DIR. The backup pays only your share and cannot be changed without the coin\'s key: a tower can pay for it to confirm (a TRUC ' +
    'child on its anchor, from its own wallet) and nothing else. Refused for a coin whose terms have no anchor (E_BACKUP_UNBUMPABLE: a tower ' +
    'could not bump it), a coin you do not hold (E_NOT_OWNER: sent, being sent or withdrawn) and backup 1 (E_NO_DEADLINE: no older backup to ' +
    'outrun). Each transfer makes an export stale: the new owner\'s export of the same coin replaces it at the tower (docs/watch.md, "The tower").';
  static override examples = [
    {
      description: 'Bob, who holds the fixture coin alone under anchored terms (backup 3), prints what his tower needs',
      command: 'D=$(mktemp -d); cp -r fixtures/statechain/state/bob-anchored $D/sc-bob && BOB_KEY=$(cat fixtures/keys/bob.key) <%= config.bin %> statechain tower-export --coin $(cat fixtures/statechain/coin-id) --key-env BOB_KEY --state-dir $D/sc-bob',
    },
    {
      description: 'The same, dropped into a tower\'s directory: written aside and renamed in (a tower reads only whole *.json files)',
      command: '<%= config.bin %> statechain tower-export --coin $COIN --key-env BOB_KEY --state-dir ~/.offchain-bob > ~/tower/.$COIN.part && mv ~/tower/.$COIN.part ~/tower/$COIN.json',
    },
  ];
  static override flags = { ...keyFlags, ...stateFlags, ...coinFlag };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    const coinId = checkCoinId(this.flags.coin);
    const record = await this.ownerRecord(await this.store(network), coinId);
    const { towerExport } = await import('../../lib/statechain/tower.ts');
    return { message: towerExport(record, network) };
  }
}
