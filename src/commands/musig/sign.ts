import { Flags } from '@oclif/core';
import { OffchainCommand, type CommandResult } from '../../lib/cli/base-command.ts';
import { inputFlags, keyFlags, psbtOutputFlags, stateFlags } from '../../lib/cli/flags.ts';

export default class MusigSign extends OffchainCommand<typeof MusigSign> {
  /** A MuSig2 session: base-command.ts `curveWork`. */
  protected override curveWork = true;
  static override summary = 'MuSig2 round 2: add this key\'s partial signatures to a PSBT.';
  static override description =
    'Needs every participant\'s public nonce. Takes this key\'s secret nonce from the single-use store (marked consumed on disk before the ' +
    'signature leaves the process; a second use fails with exit 5), signs SIGHASH_DEFAULT only, and writes the partial signature. ' +
    'With --deterministic, a key that contributed no nonce signs with BIP-327 DeterministicSign and keeps no nonce state.';
  static override examples = [
    {
      description: 'Alice adds her nonce, Bob signs last with no nonce round (DeterministicSign), then Alice signs',
      command:
        'D=$(mktemp -d); export ALICE_KEY=$(cat fixtures/keys/alice.key) BOB_KEY=$(cat fixtures/keys/bob.key); ' +
        '<%= config.bin %> musig nonce --key-env ALICE_KEY --state-dir $D/alice-state --in fixtures/psbt/musig-keypath-init.json ' +
        '| <%= config.bin %> musig sign --deterministic --key-env BOB_KEY | <%= config.bin %> musig sign --key-env ALICE_KEY --state-dir $D/alice-state',
    },
  ];
  static override flags = {
    ...inputFlags,
    ...keyFlags,
    ...stateFlags,
    deterministic: Flags.boolean({ description: 'sign inputs lacking this key\'s nonce with BIP-327 DeterministicSign (all other nonces must be present)' }),
    ...psbtOutputFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const { tx, network } = await this.readPsbt();
    const signer = await this.keyPair(network);
    const { signInputs } = await import('../../lib/musig/rounds.ts');
    const { psbtUpdated } = await import('../../lib/psbt/messages.ts');
    await signInputs(tx, signer, await this.nonceStore(network, signer), { deterministic: this.flags.deterministic });
    return psbtUpdated(tx, network, 'musig sign');
  }
}
