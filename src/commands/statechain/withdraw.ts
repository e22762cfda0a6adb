import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { WithdrawRoles } from '../../topics/statechain/withdraw-steps.ts';
import { coinFlag, statechainFlags, operatorStoreFlags } from '../../topics/statechain/flags.ts';
import { feeGuardFlags, peerFlags } from '../../lib/cli/flags.ts';
import type { Network } from '../../lib/network.ts';

export default class StatechainWithdraw extends WithdrawRoles<typeof StatechainWithdraw> {
  static override summary = 'Spend a statechain coin cooperatively to any address; the operator signs nothing more for it.';
  static override description =
    'Three steps: (1) the owner, with --coin ID --to ADDRESS --fee-rate R, asks the operator to co-sign the spend; (2) the operator checks the ' +
    'request is the current owner\'s and spends exactly the coin, co-signs, and closes the coin; (3) the owner finishes the signature and prints ' +
    'statechain/spend (with --broadcast, sent to the node and its answer printed). The signed withdrawal is kept before it is printed or sent: ' +
    '--coin ID alone (no --to) prints it again, with --broadcast sends it again; a refused broadcast changes nothing. The withdrawal is TRUC (version 3) with a 240-sat ' +
    'pay-to-anchor, so whoever holds it bumps it from a wallet (package child); with a node named (--rpc-url), a --fee-rate under its relay floor is refused ' +
    'before anything is signed (E_FEE_TOO_LOW). A coin held by a pair (O = A + B): B starts with --coin, ' +
    'A answers B\'s statechain/joint-withdraw-nonce with the same --to and --fee-rate, the operator co-signs, A adds its partial signature ' +
    '(statechain/joint-withdraw-sign), and B prints the signed withdrawal.';
  static override examples = [
    {
      description: 'Step 1, Bob (the fixture coin\'s owner) withdraws it',
      command: 'D=$(mktemp -d); cp -r fixtures/statechain/state/bob $D/sc-bob && BOB_KEY=$(cat fixtures/keys/bob.key) <%= config.bin %> statechain-withdraw --coin $(cat fixtures/statechain/coin-id) --to bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 --fee-rate 2 --key-env BOB_KEY --state-dir $D/sc-bob',
    },
    {
      description: 'Step 2, the operator co-signs the fixture request',
      command: 'D=$(mktemp -d); cp -r fixtures/statechain/state/operator $D/sc-operator && OPERATOR_KEY=$(cat fixtures/keys/mint.key) <%= config.bin %> statechain-withdraw --key-env OPERATOR_KEY --state-dir $D/sc-operator --in fixtures/statechain/withdraw-request.json',
    },
    {
      description: "Steps 1–3 in one run, the owner (Bob) with --peer: the request co-signed by the operator's service, the signed withdrawal printed (add --broadcast to send it)",
      command: 'D=$(mktemp -d); cp -r fixtures/statechain/state/operator $D/sc-operator; OPERATOR_KEY=$(cat fixtures/keys/mint.key) <%= config.bin %> serve statechain --key-env OPERATOR_KEY --state-dir $D/sc-operator --tip-height 200 --confirmations 3 --listen 127.0.0.1:0 --log-level warn > $D/up & for i in $(seq 100); do grep -qs public $D/up && break; sleep 0.1; done; cp -r fixtures/statechain/state/bob $D/sc-bob && BOB_KEY=$(cat fixtures/keys/bob.key) <%= config.bin %> statechain-withdraw --coin $(cat fixtures/statechain/coin-id) --to bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 --fee-rate 2 --key-env BOB_KEY --state-dir $D/sc-bob --peer $(grep -o \'http://[^"]*\' $D/up); kill $!',
    },
  ];
  static override flags = {
    ...statechainFlags,
    ...operatorStoreFlags,
    ...coinFlag,
    to: Flags.string({ description: 'step 1: where the coin goes', helpValue: 'ADDRESS' }),
    'fee-rate': Flags.string({ description: 'step 1: fee rate, sat/vB', helpValue: 'RATE' }),
    broadcast: Flags.boolean({ description: 'step 3 (or --coin ID alone): send the signed withdrawal to the node and print its answer' }),
    ...feeGuardFlags,
    ...peerFlags,
  };

  protected async execute(): Promise<CommandResult> {
    // --peer: the withdraw-request (the owner's step 1, a pair's A) goes to the operator, its answer finished here (with --broadcast, sent).
    const after = (network: Network, message: Record<string, unknown>) => this.viaPeer(network, message, (type, value) => this.withdrawStep(type).run({ network, value }));
    if (this.flags.coin !== undefined) {
      const network = this.network();
      return { message: await after(network, await this.withdrawStart.run({ network })) };
    }
    const step = await this.readStep('a statechain/withdraw-request or -cosigned (or --coin to start)');
    return { message: await after(step.network, await this.withdrawStep(step.type).run({ network: step.network, value: step.value })) };
  }
}
