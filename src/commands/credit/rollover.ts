import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { RolloverSteps } from '../../topics/credit/rollover.ts';
import { contractFlag, fundingConfirmationsFlag, roleFlag } from '../../topics/credit/flags.ts';
import { chainFlags, feeGuardFlags, inputFlags, keyFlags, peerFlags, stateFlags } from '../../lib/cli/flags.ts';
import { storeFlags } from '../../lib/cli/store-flags.ts';
import { EXAMPLE_DEMO, EXAMPLE_STOP, exampleService } from '../../topics/credit/peer.ts';

export default class Rollover extends RolloverSteps<typeof Rollover> {
  static override summary = 'Roll a credit contract into the next period in one transaction: pay the mint, fund a new contract.';
  static override description = `Two round trips, so the user holds the next contract's verified refund before it signs anything that moves its funds:

  user  --expiry +N [--top-up PSBT]  → credit/rollover-request (the rollover, unsigned; the new refund with the user's nonce)
  mint  < credit/rollover-request    → credit/rollover-refund  (checked; only the new refund is co-signed)
  user  < credit/rollover-refund     → credit/rollover-sign    (new refund completed and verified; now the rollover is signed)
  mint  < credit/rollover-sign       → credit/rollover-accept  (the approved rollover, completed; the old contract is frozen)
  user  < credit/rollover-accept     → credit/rolled-over      (the rollover to broadcast)

Extra funds come from a wallet's funded PSBT (--top-up), used as is: e.g. bitcoin-cli walletcreatefundedpsbt paying the
contract address. Its inputs (P2WPKH, P2TR or P2SH-P2WPKH) join the rollover and its change outputs (marked as the
wallet's by their BIP-32 derivation) are kept; what the change does not take back joins the next contract, and the
rollover's fee comes out of the contract. The wallet signs its inputs after this (walletprocesspsbt). Once the mint signs, the old contract is frozen; the mint keeps its latest state, and exits with it
before the old expiry, until the rollover confirms.`;
  static override examples = [
    {
      description: 'Roll a freshly opened demo contract over for another ~month',
      command:
        'D=$(mktemp -d); export MINT_KEY=$(cat fixtures/keys/mint.key) USER_KEY=$(cat fixtures/keys/user.key); OFFCHAIN_DEMO_DIR=$D sh fixtures/credit/open-demo.sh && ' +
        '<%= config.bin %> rollover --role user --expiry +4320 --tip-height 1002 --key-env USER_KEY --state-dir $D/user ' +
        '| <%= config.bin %> rollover --role mint --key-env MINT_KEY --state-dir $D/mint --tip-height 1002 ' +
        '| <%= config.bin %> rollover --role user --key-env USER_KEY --state-dir $D/user ' +
        '| <%= config.bin %> rollover --role mint --key-env MINT_KEY --state-dir $D/mint --tip-height 1002 ' +
        '| <%= config.bin %> rollover --role user --key-env USER_KEY --state-dir $D/user',
    },
    {
      description: 'Both rounds through a running mint service (offchain serve mint), in one invocation',
      command: EXAMPLE_DEMO + exampleService(1002) + '<%= config.bin %> rollover --role user --expiry +4320 --tip-height 1002 --key-env USER_KEY --state-dir $D/user --peer $URL' + EXAMPLE_STOP,
    },
  ];
  static override flags = {
    ...roleFlag,
    ...inputFlags,
    ...keyFlags,
    ...stateFlags, ...storeFlags,
    ...contractFlag,
    expiry: Flags.string({ description: 'user: the new contract\'s expiry, a height or +BLOCKS from the tip (starts the rollover)', helpValue: 'HEIGHT|+N' }),
    'fee-rate': Flags.string({ description: 'user: fee rate of the rollover, sat/vB (default: the contract\'s)', helpValue: 'SAT/VB' }),
    'top-up': Flags.string({ description: 'user: a wallet PSBT whose (segwit) inputs add funds to the new contract', helpValue: 'FILE' }),
    ...feeGuardFlags,
    ...chainFlags,
    ...fundingConfirmationsFlag,
    ...peerFlags,
  };

  protected async execute(): Promise<CommandResult> {
    return this.rolloverStep(); // topics/credit/rollover.ts: the steps' table
  }
}
