import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { ExitSteps } from '../../topics/credit/exit.ts';
import { contractFlag } from '../../topics/credit/flags.ts';
import { chainFlags, feeGuardFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';
import { storeFlags } from '../../lib/cli/store-flags.ts';

export default class ExitCredit extends ExitSteps<typeof ExitCredit> {
  static override summary = 'The mint\'s unilateral exit: its latest signed state plus a CPFP child, to mine before expiry.';
  static override description =
    'Prints the latest fully signed state and a TRUC (v3) child spending the mint\'s payout that brings the pair to --fee-rate; ' +
    'when the payout address is the mint key\'s own P2TR address the child is signed too. Submit both with bitcoin-cli submitpackage, ' +
    'or pass --broadcast with a node. Must be mined by the contract\'s expiry height. The contract is frozen from then on: the mint ' +
    'signs no later state, close or rollover of it (E_CONTRACT_FROZEN), unless --dry-run; run exit-credit again to bump the fee. It runs while the mint ' +
    'streams, taking the last committed state.';
  static override examples = [
    {
      description: 'After one payment, the mint exits the demo contract at 10 sat/vB',
      command:
        'D=$(mktemp -d); export MINT_KEY=$(cat fixtures/keys/mint.key) USER_KEY=$(cat fixtures/keys/user.key); OFFCHAIN_DEMO_DIR=$D sh fixtures/credit/open-demo.sh && ' +
        '<%= config.bin %> sign-update --role user --amount 5000 --key-env USER_KEY --state-dir $D/user ' +
        '| <%= config.bin %> sign-update --role mint --key-env MINT_KEY --state-dir $D/mint --tip-height 1001 --confirmations 1 > /dev/null && ' +
        '<%= config.bin %> exit-credit --fee-rate 10 --key-env MINT_KEY --state-dir $D/mint',
    },
  ];
  static override flags = {
    ...keyFlags,
    ...stateFlags, ...storeFlags,
    ...contractFlag,
    'fee-rate': Flags.string({ description: 'target fee rate of state + child together, sat/vB', required: true, helpValue: 'SAT/VB' }),
    to: Flags.string({ description: 'where the child pays (default: the payout address)', helpValue: 'ADDRESS' }),
    child: Flags.string({
      description: 'the child signed by your wallet, when the payout address is the wallet\'s: the finalized PSBT from bitcoin-cli walletprocesspsbt (its JSON answer, base64 or binary)',
      helpValue: 'FILE',
    }),
    broadcast: Flags.boolean({ description: 'submit state and child as a package to the node (needs --rpc-url) and print its answer under "broadcast"' }),
    'dry-run': Flags.boolean({ description: 'print the exit package without freezing the contract (to check it, e.g. with testmempoolaccept)', exclusive: ['broadcast'] }),
    ...feeGuardFlags,
    ...chainFlags,
  };

  protected async execute(): Promise<CommandResult> {
    return { message: await this.creditExit() }; // topics/credit/exit.ts
  }
}
