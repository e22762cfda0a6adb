import { OffchainCommand, type CommandResult } from '../../lib/cli/base-command.ts';
import { inputFlags, keyFlags, psbtOutputFlags, stateFlags } from '../../lib/cli/flags.ts';

export default class MusigNonce extends OffchainCommand<typeof MusigNonce> {
  /** NonceGen: base-command.ts `curveWork`. */
  protected override curveWork = true;
  static override summary = 'MuSig2 round 1: add this key\'s public nonces to a PSBT, keeping the secret nonces single-use on disk.';
  static override description =
    'For every MuSig2 key-path input this key takes part in, runs BIP-327 NonceGen bound to the transaction, input and aggregate key, ' +
    'stores the secret nonce under --state-dir (mode 0600, consumed by the next "musig sign"), and writes the public nonce into the PSBT.';
  static override examples = [
    { description: 'Alice contributes her nonce to the fixture and passes the PSBT on', command: 'D=$(mktemp -d); ALICE_KEY=$(cat fixtures/keys/alice.key) <%= config.bin %> musig nonce --key-env ALICE_KEY --state-dir $D/alice-state --in fixtures/psbt/musig-keypath-init.json' },
  ];
  static override flags = { ...inputFlags, ...keyFlags, ...stateFlags, ...psbtOutputFlags };

  protected async execute(): Promise<CommandResult> {
    const { tx, network } = await this.readPsbt();
    const signer = await this.keyPair(network);
    const { contributeNonces } = await import('../../lib/musig/rounds.ts');
    const { psbtUpdated } = await import('../../lib/psbt/messages.ts');
    await contributeNonces(tx, signer, await this.nonceStore(network, signer), this.random);
    return psbtUpdated(tx, network, 'musig nonce');
  }
}
