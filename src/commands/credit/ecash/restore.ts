import type { CommandResult } from '../../../lib/cli/base-command.ts';
import { CreditCommand } from '../../../topics/credit/command.ts';
import { ecashSeedFlags } from '../../../topics/credit/flags.ts';
import { inputFlags, stateFlags } from '../../../lib/cli/flags.ts';
import { storeFlags } from '../../../lib/cli/store-flags.ts';
import { MalformedInputError } from '../../../lib/errors.ts';
import type { Network } from '../../../lib/network.ts';

export default class CreditEcashRestore extends CreditCommand<typeof CreditEcashRestore> {
  static override summary = 'Answer a wallet\'s NUT-09 restore for the outputs this mint signed: the same blinded messages get the same signatures, nothing else.';
  static override description =
    'Reads a NUT-09 PostRestoreRequest ({"outputs": [BlindedMessage, …]}, as a wallet POSTs it to /v1/restore, or the same as credit/restore-request) from standard input or --in ' +
    'and prints the PostRestoreResponse as credit/restore: for each asked output this mint signed under a contract, in order, the output and ' +
    'its blind signature with NUT-12 DLEQ — byte for byte the one the receipt carried — and nothing for any other (a B_ never signed, its ' +
    'negation). A wallet that lost its tokens regenerates its outputs from its NUT-13 seed and recovers them this way (the Cashu mint the ' +
    'credit mint fronts never saw them), under every keyset it signed under, before and after the ecash mint rotated. Read-only: no key, ' +
    'no lock; it needs the ecash seed (the signatures are recomputed with the keysets\' keys, E_WRONG_KEY if the seed does not give them). ' +
    'At most 1000 outputs per request.';
  static override examples = [
    {
      description: 'Restore the demo payment\'s ecash: its outputs as a wallet regenerates them from its NUT-13 seed (fixtures/credit/restore-request.json)',
      command: 'D=$(mktemp -d); OFFCHAIN_DEMO_DIR=$D sh fixtures/credit/ecash-demo.sh && export ECASH_SEED=$(cat fixtures/credit/ecash-seed.txt) && ' +
        '<%= config.bin %> credit ecash restore --state-dir $D/mint --ecash-seed-env ECASH_SEED --in fixtures/credit/restore-request.json',
    },
  ];
  static override flags = { ...inputFlags, ...stateFlags, ...storeFlags, ...ecashSeedFlags };

  protected async execute(): Promise<CommandResult> {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new MalformedInputError('E_EXPECTED_MESSAGE', 'expected a NUT-09 PostRestoreRequest (JSON)');
    const { readRestoreRequest, restoreSignatures } = await import('../../../lib/credit/ecash-restore.ts');
    const req = readRestoreRequest(doc.value);
    // A bare NUT-09 body names no network; a credit/restore-request does, and must agree with --network.
    const network = this.network((doc.value as { network?: Network }).network);
    const seed = (await this.ecashSeed(true))!;
    // Under every keyset this mint signed under: the active one and those it issued under before a rotation.
    const answer = await this.withMintView(network, async (store, policy) => {
      const keysets = policy.ecash ? await (await this.ecashSigner(store, policy.ecash, seed)).kept() : [];
      return restoreSignatures(store, keysets, req);
    });
    return { message: { type: 'credit/restore', version: 1, network, ...answer } };
  }
}
