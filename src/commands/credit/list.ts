import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CreditCommand } from '../../topics/credit/command.ts';
import { chainFlags, humanFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';
import { storeFlags } from '../../lib/cli/store-flags.ts';

export default class CreditList extends CreditCommand<typeof CreditList> {
  /** The store's records listed, no curve arithmetic: noble (base-command.ts `curveWork`). */
  protected override curveWork = false;
  static override summary = 'The mint\'s contracts, soonest expiry first, flagging those to exit now.';
  static override description =
    'For runbooks: capacity, cumulative amount, state number, expiry and blocks to expiry at the current tip; must_exit is true for a ' +
    'contract with a signed state within the safety margin of expiry (run exit-credit for it now), unless a node (--rpc-url) confirms ' +
    'its close or rollover the required number of times. A mint that issues ecash also shows, per contract, the ecash signed under it ' +
    '(ecash_issued_sat, equal to cumulative_sat when every payment carried outputs) and, per keyset, all ecash it ever signed (ecash_outstanding). Read-only: it needs no key (a key given is not used) and takes no lock, so it ' +
    'runs while the mint serves (sign-update --stream) and shows the last committed state.';
  static override examples = [
    { description: 'The demo mint\'s contracts at tip 5200 (inside the 144-block margin: must_exit)', command: 'D=$(mktemp -d); export MINT_KEY=$(cat fixtures/keys/mint.key) USER_KEY=$(cat fixtures/keys/user.key); OFFCHAIN_DEMO_DIR=$D sh fixtures/credit/open-demo.sh && <%= config.bin %> credit list --key-env MINT_KEY --state-dir $D/mint --tip-height 5200' },
  ];
  static override flags = {
    ...keyFlags,
    ...stateFlags, ...storeFlags,
    'expiring-within': Flags.integer({ description: 'only contracts expiring within N blocks', helpValue: 'N', min: 0 }),
    ...chainFlags,
    ...humanFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    const { contractsList } = await import('../../topics/credit/list.ts');
    const within = this.flags['expiring-within'];
    const message = await this.withMintView(network, (store, policy, chain) => contractsList(store, policy, chain, network, within));
    const { contractsText } = await import('../../topics/credit/human.ts');
    return { message, human: () => contractsText(message as never) };
  }
}
