import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { OpenSteps } from '../../topics/credit/open.ts';
import { ecashSeedFlags, ecashSettingsFlags, fundingConfirmationsFlag, roleFlag } from '../../topics/credit/flags.ts';
import { chainFlags, feeGuardFlags, inputFlags, keyFlags, peerFlags, stateFlags } from '../../lib/cli/flags.ts';
import { storeFlags } from '../../lib/cli/store-flags.ts';
import { EXAMPLE_STOP, exampleService } from '../../topics/credit/peer.ts';

export default class OpenCredit extends OpenSteps<typeof OpenCredit> {
  static override summary = 'Open a credit contract between a user and an ecash mint: refund first, then funding.';
  static override description = `Each step reads one message and prints the next:

  mint  --publish                       → credit/offer        (the mint's standing terms; stored)
  user  < credit/offer                  → credit/address      (fund it from native segwit inputs; do not sign yet)
  user  --offer FILE < funding PSBT     → credit/open-request (terms + refund with the user's nonce)
  mint  < credit/open-request           → credit/open-accept  (the mint checks and co-signs the refund)
  user  < credit/open-accept            → credit/opened       (refund fully signed and verified: now fund)

The contract key is the BIP-327 KeyAgg of the sorted user and mint keys, key-path-only taproot. The refund pays the
user from block expiry + 1 (nLockTime = expiry, nSequence 0xfffffffd). The user pays all fees of the contract's own
transactions; the mint is always paid exactly its cumulative amount.`;
  static override examples = [
    {
      description: 'The whole opening, offline on regtest (see the README runbook)',
      command:
        'D=$(mktemp -d); export MINT_KEY=$(cat fixtures/keys/mint.key) USER_KEY=$(cat fixtures/keys/user.key); ' +
        '<%= config.bin %> open-credit --role mint --publish --key-env MINT_KEY --state-dir $D/mint --payout-address bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte > $D/offer.json; ' +
        '<%= config.bin %> open-credit --role user --offer $D/offer.json --key-env USER_KEY --state-dir $D/user --tip-height 1000 --expiry +4320 ' +
        '--refund-address bcrt1py6453jm8063t35dhf6yddhqnf65hel4aryj9sz673xkkqpy73u9sfeux7j --in fixtures/credit/funding.psbt ' +
        '| <%= config.bin %> open-credit --role mint --key-env MINT_KEY --state-dir $D/mint --tip-height 1000 ' +
        '| <%= config.bin %> open-credit --role user --key-env USER_KEY --state-dir $D/user',
    },
    {
      description: 'The user\'s opening against a running mint service (offchain serve mint): its offer fetched, the open-request sent, the open-accept applied, in one invocation',
      command:
        'D=$(mktemp -d); export MINT_KEY=$(cat fixtures/keys/mint.key) USER_KEY=$(cat fixtures/keys/user.key); ' +
        '<%= config.bin %> open-credit --role mint --publish --key-env MINT_KEY --state-dir $D/mint --payout-address bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte > /dev/null && ' +
        exampleService(1000) +
        '<%= config.bin %> open-credit --role user --peer $URL --key-env USER_KEY --state-dir $D/user --tip-height 1000 --expiry +4320 ' +
        '--refund-address bcrt1py6453jm8063t35dhf6yddhqnf65hel4aryj9sz673xkkqpy73u9sfeux7j --in fixtures/credit/funding.psbt' + EXAMPLE_STOP,
    },
  ];
  static override flags = {
    ...roleFlag,
    ...inputFlags,
    ...keyFlags,
    ...stateFlags, ...storeFlags,
    publish: Flags.boolean({ description: 'mint: store and print the offer (its standing terms); without --payout-address, print the stored one' }),
    offer: Flags.string({ description: 'user: the mint\'s credit/offer file (with the funding PSBT on input)', helpValue: 'FILE' }),
    'payout-address': Flags.string({ description: 'mint --publish: where the mint is paid', helpValue: 'ADDRESS' }),
    'min-fee-rate': Flags.string({ description: 'mint --publish: lowest fee rate of update states, sat/vB', default: '1' }),
    'safety-margin': Flags.integer({ description: 'mint --publish: stop accepting payments this many blocks before expiry', default: 144, min: 1 }),
    'min-confirmations': Flags.integer({
      description: 'mint --publish: funding confirmations required before payments (at least 1: an unconfirmed funding can be double-spent, and a TRUC state cannot spend an unconfirmed non-TRUC parent)',
      default: 1,
      min: 1,
    }),
    'min-expiry': Flags.integer({ description: 'mint --publish: shortest contract, blocks', default: 432, min: 1 }),
    'max-expiry': Flags.integer({ description: 'mint --publish: longest contract, blocks', default: 12_960, min: 1 }),
    'mint-url': Flags.string({ description: 'mint --publish: the Cashu mint whose ecash pays each credit (with --ecash-seed-env/--ecash-seed-file); the offer names it, unit sat and the keyset', helpValue: 'URL', helpGroup: 'ECASH' }),
    ...ecashSeedFlags,
    ...ecashSettingsFlags,
    expiry: Flags.string({ description: 'user: expiry as a block height or +BLOCKS from the tip (default: the offer\'s)', helpValue: 'HEIGHT|+N' }),
    'refund-address': Flags.string({ description: 'user: where the refund pays', helpValue: 'ADDRESS' }),
    'change-address': Flags.string({ description: 'user: change in updates and close (default: the refund address)', helpValue: 'ADDRESS' }),
    'fee-rate': Flags.string({ description: 'user: fee rate of the refund and update states, sat/vB (default: the mint\'s floor)', helpValue: 'SAT/VB' }),
    ...feeGuardFlags,
    ...chainFlags,
    ...fundingConfirmationsFlag,
    ...peerFlags,
  };

  protected async execute(): Promise<CommandResult> {
    return this.openStep(); // topics/credit/open.ts: the steps' table
  }
}
