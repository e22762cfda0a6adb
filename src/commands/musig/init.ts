import { Flags } from '@oclif/core';
import { OffchainCommand, type CommandResult } from '../../lib/cli/base-command.ts';
import { flagValue, inputFlags, psbtOutputFlags } from '../../lib/cli/flags.ts';

export default class MusigInit extends OffchainCommand<typeof MusigInit> {
  /** KeyAgg: base-command.ts `curveWork`. */
  protected override curveWork = true;
  static override summary = 'Record the MuSig2 participants of taproot key-path inputs (BIP-373 updater step).';
  static override description =
    'Sorts the keys (BIP-327 KeySort), aggregates them, and writes PSBT_IN_MUSIG2_PARTICIPANT_PUBKEYS and the taproot internal key ' +
    'on every input whose spent output is the aggregate key\'s P2TR output (or on --input N). Refuses an input that pays another key.';
  static override examples = [
    {
      description: 'Alice and Bob will co-sign the fixture',
      command: '<%= config.bin %> musig init --participant 034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa --participant 02466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f27 --in fixtures/psbt/musig-keypath-unsigned.psbt',
    },
  ];
  static override flags = {
    ...inputFlags,
    participant: Flags.string({ description: 'a participant\'s 33-byte public key (repeat for each)', helpValue: 'PUBKEY', multiple: true, required: true }),
    input: Flags.integer({ description: 'only this input index (repeatable; default: every input paying the aggregate key)', multiple: true, min: 0 }),
    ...psbtOutputFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const { parsePublicKey } = await import('../../lib/keys/keys.ts');
    const keys = this.flags.participant.map((p, i) => flagValue(() => parsePublicKey(p, `--participant ${i + 1}`)));
    // Fewer than two, or one key twice: the flags are wrong (exit 2), before the PSBT is read.
    const { musigKey } = await import('../../lib/musig/keyagg.ts');
    flagValue(() => musigKey(keys));
    const { tx, network } = await this.readPsbt();
    const { setParticipantsWhereMatching } = await import('../../lib/musig/init.ts');
    const { psbtUpdated } = await import('../../lib/psbt/messages.ts');
    setParticipantsWhereMatching(tx, this.flags.participant, this.flags.input);
    return psbtUpdated(tx, network, 'musig init');
  }
}
