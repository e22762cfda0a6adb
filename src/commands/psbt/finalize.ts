import { OffchainCommand, type CommandResult } from '../../lib/cli/base-command.ts';
import { inputFlags, psbtOutputFlags } from '../../lib/cli/flags.ts';

export default class PsbtFinalize extends OffchainCommand<typeof PsbtFinalize> {
  static override summary = 'Aggregate MuSig2 partial signatures and finalize every input (BIP-174 Input Finalizer).';
  static override description =
    'For each MuSig2 key-path input, every partial signature is verified (a bad one is blamed on its participant by key), ' +
    'aggregated, and the final BIP-340 signature is checked against the output key before the witness is written. ' +
    'Refuses (exit 4) while any input still lacks a nonce or signature, naming who.';
  static override examples = [
    { description: 'Finish the two-party signing fixture', command: '<%= config.bin %> psbt finalize --in fixtures/psbt/musig-keypath-signed.psbt --psbt' },
  ];
  static override flags = { ...inputFlags, ...psbtOutputFlags };

  protected async execute(): Promise<CommandResult> {
    const { tx, network } = await this.readPsbt();
    const { finalizeAll } = await import('../../lib/musig/finalize.ts');
    const { psbtUpdated } = await import('../../lib/psbt/messages.ts');
    finalizeAll(tx);
    return psbtUpdated(tx, network, 'psbt finalize');
  }
}
