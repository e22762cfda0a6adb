import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CreditCommand } from '../../topics/credit/command.ts';
import { contractFlag } from '../../topics/credit/flags.ts';
import { chainFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';
import { RefusedError } from '../../lib/errors.ts';

export default class RefundCredit extends CreditCommand<typeof RefundCredit> {
  static override summary = 'The user\'s unilateral exit: print the signed refund once it can be mined.';
  static override description =
    'The refund has nLockTime = expiry, so Bitcoin Core accepts it once the tip reaches the expiry height (final in block expiry + 1). ' +
    'Refuses (exit 4) before then, saying how many blocks remain, unless --any-time. Broadcast its hex with sendrawtransaction. ' +
    'Needs no key: the signed refund is in the state directory (a key given is not used).';
  static override examples = [
    {
      description: 'The demo contract\'s refund, once the tip reaches its expiry (5320)',
      command: 'D=$(mktemp -d); export MINT_KEY=$(cat fixtures/keys/mint.key) USER_KEY=$(cat fixtures/keys/user.key); OFFCHAIN_DEMO_DIR=$D sh fixtures/credit/open-demo.sh && <%= config.bin %> refund-credit --key-env USER_KEY --state-dir $D/user --tip-height 5320',
    },
  ];
  static override flags = {
    ...keyFlags,
    ...stateFlags,
    ...contractFlag,
    'any-time': Flags.boolean({ description: 'print the refund even before it is final (it will be rejected as non-final until then)' }),
    ...chainFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    const { ctx, book } = await this.userView(network);
    const { refundMessage } = await import('../../lib/credit/user-refund.ts');
    const id = await this.pickContract(book, ['open', 'closing', 'rolling-over']);
    const out = await refundMessage(ctx, id);
    if (!out.final && !this.flags['any-time']) throw new RefusedError('E_NOT_FINAL', `${out.explain}; rerun then, or pass --any-time`);
    return { message: out.message };
  }
}
