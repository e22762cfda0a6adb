import { Flags } from '@oclif/core';
import type { CommandResult } from '../lib/cli/base-command.ts';
import { StatechainCommand, checkCoinId, coinFlag, statechainFlags } from '../lib/cli/statechain-command.ts';
import { MalformedInputError, UsageError } from '../lib/errors.ts';

export default class StatechainWithdraw extends StatechainCommand<typeof StatechainWithdraw> {
  static override summary = 'Spend a statechain coin cooperatively to any address; the operator signs nothing more for it.';
  static override description =
    'Three steps: (1) the owner, with --coin ID --to ADDRESS --fee-rate R, asks the operator to co-sign the spend; (2) the operator checks the ' +
    'request is the current owner\'s and spends exactly the coin, co-signs, and closes the coin; (3) the owner finishes the signature and prints ' +
    'statechain/spend (with --broadcast, sent to the node and its answer printed).';
  static override examples = [
    {
      description: 'Step 1, Bob (the fixture coin\'s owner) withdraws it',
      command: 'cp -r fixtures/statechain/state/bob /tmp/offchain-sc-bob && BOB_KEY=$(cat fixtures/keys/bob.key) <%= config.bin %> statechain-withdraw --coin $(cat fixtures/statechain/coin-id) --to bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 --fee-rate 2 --key-env BOB_KEY --state-dir /tmp/offchain-sc-bob',
    },
    {
      description: 'Step 2, the operator co-signs the fixture request',
      command: 'cp -r fixtures/statechain/state/operator /tmp/offchain-sc-operator && OPERATOR_KEY=$(cat fixtures/keys/mint.key) <%= config.bin %> statechain-withdraw --key-env OPERATOR_KEY --state-dir /tmp/offchain-sc-operator --in fixtures/statechain/withdraw-request.json',
    },
  ];
  static override flags = {
    ...statechainFlags,
    ...coinFlag,
    to: Flags.string({ description: 'step 1: where the coin goes', helpValue: 'ADDRESS' }),
    'fee-rate': Flags.string({ description: 'step 1: fee rate, sat/vB', helpValue: 'RATE' }),
    broadcast: Flags.boolean({ description: 'step 3: send the withdrawal to the node and print its answer' }),
  };

  protected async execute(): Promise<CommandResult> {
    const f = this.flags;
    const own = await import('../lib/statechain/owner.ts');
    if (f.coin !== undefined) {
      const network = this.network();
      const coinId = checkCoinId(f.coin);
      if (f.to === undefined || f['fee-rate'] === undefined) throw new UsageError('E_USAGE', 'step 1 needs --to ADDRESS and --fee-rate RATE');
      const { destination, feeRate: rate } = await this.payTo(network, f.to, f['fee-rate']);
      const ctx = await this.ownerContext(network);
      return { message: await this.ownerStep(network, coinId, (r) => own.withdrawRequest(r, destination, rate, ctx)) };
    }
    const step = await this.readStep('a statechain/withdraw-request or -cosigned (or --coin to start)');
    const network = step.network;
    const schemas = await import('../lib/statechain/schemas.ts');
    switch (step.type) {
      case 'statechain/withdraw-request': {
        const req = await this.decode(schemas.WithdrawRequestSchema, step.value);
        const op = await import('../lib/statechain/operator.ts');
        return { message: await this.operatorStep(network, req.coin_id, async (r) => op.cosignWithdrawal(r, req, await this.operatorContext(network))) };
      }
      case 'statechain/withdraw-cosigned': {
        const cos = await this.decode(schemas.WithdrawCosignedSchema, step.value);
        const ctx = await this.ownerContext(network);
        const signed = await this.ownerStep(network, cos.coin_id, async (r) => {
          const out = await own.withdrawFinish(r, cos, ctx);
          return { record: out.record, message: out.signed };
        });
        const message: Record<string, unknown> = { type: 'statechain/spend', version: 1, network, coin_id: cos.coin_id, kind: 'withdrawal', txid: signed.txid, hex: signed.hex };
        if (f.broadcast) {
          const { fromHex } = await import('../lib/bytes.ts');
          message.broadcast = { txid: await (await this.chain(network)).broadcast(fromHex(signed.hex)) };
        }
        return { message };
      }
      default:
        throw new MalformedInputError('E_WRONG_MESSAGE', `statechain-withdraw reads statechain/withdraw-request or -cosigned, not ${step.type}`);
    }
  }
}
