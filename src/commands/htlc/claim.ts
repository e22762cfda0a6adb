import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { HtlcCommand, MAX_LOCKTIME, destinationFlags, feePsbtFlags, htlcSpendFlags, parseOutpoint } from '../../topics/htlc/command.ts';
import { psbtOutputFlags } from '../../lib/cli/flags.ts';

export default class HtlcClaim extends HtlcCommand<typeof HtlcClaim> {
  static override summary = 'The recipient\'s claim: spend the HTLC with the payment preimage.';
  static override description =
    'Reads htlc/created (from htlc create) and the preimage from --preimage-file; refuses (exit 4) a preimage that does not hash to the payment hash ' +
    'or is not 32 bytes where the script demands it, and a key that is not the recipient\'s. Prints htlc/spend with the signed transaction (hex). ' +
    'BOLT 3 received HTLC: the claim is the HTLC-success transaction that both HTLC keys sign — run it once with each key (either order), ' +
    'piping the first output into the second; the preimage is needed by whoever completes it. ' +
    'With --anchors the HTLC-success transaction\'s fee comes from a wallet: the remote signs first, the holder adds --fee-psbt (see htlc refund) and signs, ' +
    'the wallet signs its inputs last (walletprocesspsbt). ' +
    '--locktime sets an anti-fee-sniping nLockTime (refused if not final at the tip).';
  static override examples = [
    {
      description: 'Bob claims the fixture HTLC with the preimage',
      command: 'BOB_KEY=$(cat fixtures/keys/bob.key) <%= config.bin %> htlc claim --key-env BOB_KEY --in fixtures/htlc/seed.json --outpoint 5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f:0 --preimage-file fixtures/htlc/preimage.hex --to bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 --fee-rate 2',
    },
  ];
  static override flags = {
    ...htlcSpendFlags,
    ...destinationFlags,
    ...feePsbtFlags,
    'preimage-file': Flags.string({ description: 'file holding the payment preimage (hex)', helpValue: 'FILE' }),
    locktime: Flags.integer({ description: 'anti-fee-sniping nLockTime (a height at or below the tip)', helpValue: 'N', min: 0, max: MAX_LOCKTIME }),
    ...psbtOutputFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const input = await this.readHtlc();
    const outpoint = parseOutpoint(this.flags.outpoint);
    const preimage = this.readPreimage(this.flags['preimage-file']);
    const signer = await this.keyPair(input.network);
    const amountSat = await this.htlcAmount(input, outpoint);
    if (input.htlc.spec.kind === 'received') {
      const { signSecondStage } = await import('../../lib/htlc/second-stage.ts');
      const feeWallet = await this.feeWallet();
      const s = signSecondStage({
        htlc: input.htlc, outpoint, amountSat, signer, feeRate: this.feeRate(), feeLimits: await this.feeLimits(),
        ...(preimage ? { preimage } : {}), ...(input.psbt ? { psbt: input.psbt } : {}), ...(feeWallet ? { feeWallet } : {}),
      });
      return this.secondStageResult(input, s, outpoint, amountSat);
    }
    const lockTime = this.flags.locktime ?? 0;
    if (lockTime > 0) await this.requireFinal(input.network, lockTime);
    const { buildSpend } = await import('../../lib/htlc/spend.ts');
    const s = buildSpend({
      htlc: input.htlc, path: 'claim', outpoint, amountSat, signer, lockTime,
      destination: await this.destination(input.network), feeRate: this.feeRate(), feeLimits: await this.feeLimits(), auxRand: this.random.bytes(32, 'htlc/bip340-aux'),
      ...(preimage ? { preimage } : {}),
    });
    return this.spendResult(input, 'claim', s, outpoint, amountSat);
  }
}
