import { Flags } from '@oclif/core';
import { OffchainCommand, type CommandResult } from '../../lib/cli/base-command.ts';
import { inputFlags, psbtOutputFlags } from '../../lib/cli/flags.ts';

export default class MusigInit extends OffchainCommand<typeof MusigInit> {
  static override summary = 'Record the MuSig2 participants of taproot key-path inputs (BIP-373 updater step).';
  static override description =
    'Sorts the keys (BIP-327 KeySort), aggregates them, and writes PSBT_IN_MUSIG2_PARTICIPANT_PUBKEYS and the taproot internal key ' +
    'on every input whose spent output is the aggregate key\'s P2TR output (or on --input N). Refuses an input that pays another key.';
  static override examples = [
    {
      description: 'Alice and Bob will co-sign the fixture',
      command: '<%= config.bin %> musig init --participant 02a1633cafcc01ebfb6d78e39f687a1f0995c62fc95f51ead10a02ee0be551b5dc --participant 024d4b6cd1361032ca9bd2aeb9d900aa4d45d9ead80ac9423374c451a7254d0766 --in fixtures/psbt/musig-keypath-unsigned.psbt',
    },
  ];
  static override flags = {
    ...inputFlags,
    participant: Flags.string({ description: 'a participant\'s 33-byte public key (repeat for each)', helpValue: 'PUBKEY', multiple: true, required: true }),
    input: Flags.integer({ description: 'only this input index (repeatable; default: every input paying the aggregate key)', multiple: true, min: 0 }),
    ...psbtOutputFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const { tx, network } = await this.readPsbt();
    const { setParticipantsWhereMatching } = await import('../../lib/musig/init.ts');
    const { psbtUpdated } = await import('../../lib/psbt/messages.ts');
    setParticipantsWhereMatching(tx, this.flags.participant, this.flags.input);
    return psbtUpdated(tx, network, 'musig init');
  }
}
