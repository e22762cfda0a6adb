import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { StatechainCommand } from '../../topics/statechain/command.ts';
import { checkCoinId, coinFlag, statechainFlags } from '../../topics/statechain/flags.ts';
import { RefusedError, UsageError } from '../../lib/errors.ts';
import { feeGuardFlags } from '../../lib/cli/flags.ts';

export default class StatechainBackup extends StatechainCommand<typeof StatechainBackup> {
  static override summary = 'The owner\'s unilateral exit: its backup once final, with a CPFP child to submit as a package.';
  static override description =
    'Prints the newest backup of --coin (yours: it pays your share) once it is final at the chain tip — refused with E_NOT_FINAL before, ' +
    'saying how many blocks remain. With --to and --fee-rate also a TRUC child spending the backup\'s output (signed with your share\'s ' +
    'BIP-86 key) that pays for both at that rate, so a low-fee backup still propagates; --broadcast submits the backup (and child, as a ' +
    'package with submitpackage) and prints the node\'s answer. An anchored backup (terms with anchor: zero fee, a keyless P2A output) is ' +
    'bumped by anyone holding it: a part of a pair prints the pair\'s backup here and bumps it with package child from its own wallet.';
  static override examples = [
    {
      description: 'Bob exits the fixture coin once his backup (locktime 290) is final, bumping it to 5 sat/vB with a CPFP child',
      command: 'D=$(mktemp -d); cp -r fixtures/statechain/state/bob $D/sc-bob && BOB_KEY=$(cat fixtures/keys/bob.key) <%= config.bin %> statechain-backup --coin $(cat fixtures/statechain/coin-id) --to bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 --fee-rate 5 --key-env BOB_KEY --state-dir $D/sc-bob --tip-height 290',
    },
  ];
  static override flags = {
    ...statechainFlags,
    ...coinFlag,
    to: Flags.string({ description: 'with --fee-rate: a CPFP child pays the backup\'s output here', helpValue: 'ADDRESS' }),
    'fee-rate': Flags.string({ description: 'the package\'s fee rate, sat/vB', helpValue: 'RATE' }),
    broadcast: Flags.boolean({ description: 'submit to the node and print its answer' }),
    ...feeGuardFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const f = this.flags;
    const network = this.network();
    const coinId = checkCoinId(f.coin);
    if ((f.to === undefined) !== (f['fee-rate'] === undefined)) throw new UsageError('E_USAGE', '--to and --fee-rate go together (the CPFP child)');
    const store = await this.store(network);
    // A part of a pair (O = A + B) holds the pair's backup in its joint record; it pays O (or the
    // channel's funding output), which no part signs alone: it is bumped from its anchor.
    const joint = await this.heldJointly(store, coinId);
    const record = joint ? (await store.read<import('../../lib/statechain/owner.ts').OwnerRecord>(`joint-${coinId}`))! : await this.ownerRecord(store, coinId);
    if (joint && f.to !== undefined) {
      throw new RefusedError('E_NO_CHILD', 'a pair\'s backup pays the pair (or its channel), which no part signs alone: print it without --to/--fee-rate and bump it from its anchor with package child --parent <this message> --wallet-psbt <your wallet\'s coins> (an anchored coin; an older coin\'s pair backup cannot be bumped)');
    }
    const chain = await this.coinChain(network, record.statement);
    const { parseFeeLimits } = await import('../../lib/tx/fee-guard.ts');
    const feeLimits = parseFeeLimits({ maxFeeRate: f['max-fee-rate'], maxFeeShare: f['max-fee-share'] });
    const child = f.to === undefined ? undefined : { ...(await this.payTo(network, f.to, f['fee-rate']!)), feeLimits };
    const { backupSpend } = await import('../../topics/statechain/backup-spend.ts');
    const { message } = await backupSpend(record, chain, { network, ...(child ? { child } : {}), broadcast: f.broadcast, auxRand: this.random.bytes(32, 'statechain/child-aux') });
    return { message };
  }
}
