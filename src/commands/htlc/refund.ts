import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { HtlcCommand, destinationFlags, feePsbtFlags, htlcSpendFlags, parseOutpoint } from '../../topics/htlc/command.ts';
import { psbtOutputFlags } from '../../lib/cli/flags.ts';

export default class HtlcRefund extends HtlcCommand<typeof HtlcRefund> {
  static override summary = 'The payer\'s refund: spend the HTLC back once its timeout is final.';
  static override description =
    'Sets nLockTime to the HTLC\'s timeout with a non-final sequence, and refuses (exit 4, E_NOT_FINAL) while that is not final at the chain tip ' +
    '(a node, or --tip-height): Bitcoin Core accepts it once the tip reaches the locktime. --any-time prints it anyway. ' +
    'BOLT 3 offered HTLC: the refund is the HTLC-timeout transaction that both HTLC keys sign — run it once with each key, ' +
    'piping the first output into the second. With --anchors its fee comes from a wallet: the remote signs first (SIGHASH_SINGLE|ANYONECANPAY), ' +
    'the holder adds --fee-psbt (walletcreatefundedpsbt paying one of the wallet\'s own addresses; the fee at --fee-rate is taken from its change) and signs, ' +
    'then `bitcoin-cli walletprocesspsbt` signs the wallet\'s inputs and finalizes.';
  static override examples = [
    {
      description: 'Alice takes the fixture HTLC back at height 1100',
      command: 'ALICE_KEY=$(cat fixtures/keys/alice.key) <%= config.bin %> htlc refund --key-env ALICE_KEY --in fixtures/htlc/seed.json --outpoint 5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f:0 --to bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 --fee-rate 2 --tip-height 1100',
    },
  ];
  static override flags = {
    ...htlcSpendFlags,
    ...destinationFlags,
    ...feePsbtFlags,
    'any-time': Flags.boolean({ description: 'print the refund even before it is final (Core rejects it as non-final until then)' }),
    ...psbtOutputFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const input = await this.readHtlc();
    const outpoint = parseOutpoint(this.flags.outpoint);
    const signer = await this.keyPair(input.network);
    const amountSat = await this.htlcAmount(input, outpoint);
    const { timeoutOf } = await import('../../lib/htlc/htlc.ts');
    if (input.htlc.spec.kind === 'offered') {
      const { signSecondStage } = await import('../../lib/htlc/second-stage.ts');
      const feeWallet = await this.feeWallet();
      const s = signSecondStage({ htlc: input.htlc, outpoint, amountSat, signer, feeRate: this.feeRate(), feeLimits: await this.feeLimits(), ...(input.psbt ? { psbt: input.psbt } : {}), ...(feeWallet ? { feeWallet } : {}) });
      // Final once the HTLC's own part is complete (a wallet may still have its fee inputs to sign).
      if (s.missing.every((m) => m === 'wallet_signatures') && !this.flags['any-time']) await this.requireFinal(input.network, s.lockTime);
      return this.secondStageResult(input, s, outpoint, amountSat);
    }
    if (!this.flags['any-time']) await this.requireFinal(input.network, timeoutOf(input.htlc.spec));
    // The payer's refund, as a watcher builds it too (topics/htlc/payer.ts).
    const { payerRefund } = await import('../../topics/htlc/payer.ts');
    const r = await payerRefund({ kind: 'htlc', htlc: input.htlc, created: input.created, network: input.network }, {
      outpoint, amountSat, signer, destination: await this.destination(input.network), feeRate: this.feeRate(), feeLimits: await this.feeLimits(), auxRand: this.random.bytes(32, 'htlc/bip340-aux'),
    });
    return { message: r.message, psbt: r.psbt! };
  }
}
