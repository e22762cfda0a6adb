import { OffchainCommand, type CommandResult } from '../../lib/cli/base-command.ts';
import { inputFlags } from '../../lib/cli/flags.ts';

export default class PsbtAnalyze extends OffchainCommand<typeof PsbtAnalyze> {
  static override summary = 'Say which role, and which MuSig2 participant, a PSBT needs next.';
  static override description =
    'Like bitcoin-cli analyzepsbt, MuSig2-aware: per input, the participants whose public nonces or partial signatures are still missing.';
  static override examples = [
    { description: 'Who must act on the fixture next?', command: '<%= config.bin %> psbt analyze --in fixtures/psbt/musig-keypath-unsigned.psbt' },
  ];
  static override flags = { ...inputFlags };

  protected async execute(): Promise<CommandResult> {
    const { tx, network } = await this.readPsbt();
    const { analyzePsbt } = await import('../../lib/psbt/analyze.ts');
    return { message: { type: 'psbt/analysis', version: 1, network, txid: tx.id, ...analyzePsbt(tx) } };
  }
}
