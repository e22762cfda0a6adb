import type { CommandResult } from '../../lib/cli/base-command.ts';
import { HtlcCommand, destinationFlags, outpointFlags, parseOutpoint } from '../../topics/htlc/command.ts';
import { chainFlags, inputFlags, psbtOutputFlags } from '../../lib/cli/flags.ts';

export default class HtlcCooperate extends HtlcCommand<typeof HtlcCooperate> {
  static override summary = 'Taproot HTLC: the unsigned cooperative key-path spend, for payer and recipient to sign with MuSig2.';
  static override description =
    'Builds a PSBT spending the taproot HTLC by its key path (the MuSig2 aggregate of payer and recipient, tweaked with the script tree), ' +
    'with the BIP-371/BIP-373 fields set. Then: musig nonce (each), musig sign (each), psbt finalize, psbt extract. Needs no key.';
  static override examples = [
    {
      description: 'Start the cooperative spend of the fixture taproot HTLC',
      command: '<%= config.bin %> htlc cooperate --in fixtures/htlc/taproot.json --outpoint 5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f:0 --amount 50000 --to bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 --fee-rate 2',
    },
  ];
  static override flags = { ...inputFlags, ...outpointFlags, ...destinationFlags, ...chainFlags, ...psbtOutputFlags };

  protected async execute(): Promise<CommandResult> {
    const input = await this.readHtlc();
    const outpoint = parseOutpoint(this.flags.outpoint);
    const amountSat = await this.htlcAmount(input, outpoint);
    const { cooperativePsbt } = await import('../../lib/htlc/cooperative.ts');
    const { spendMessage } = await import('../../lib/htlc/messages.ts');
    const { serializePsbt } = await import('../../lib/psbt/parse.ts');
    const s = cooperativePsbt({ htlc: input.htlc, outpoint, amountSat, destination: await this.destination(input.network), feeRate: this.feeRate(), feeLimits: await this.feeLimits() });
    const psbt = serializePsbt(s.tx);
    return {
      message: spendMessage(input.created, {
        path: 'cooperative', complete: false, txid: s.tx.id, outpoint, amountSat, feeSat: s.feeSat, lockTime: 0,
        sequence: s.tx.getInput(0).sequence!, psbt, missing: ['musig nonce', 'musig sign', 'psbt finalize'],
      }),
      psbt,
    };
  }
}
