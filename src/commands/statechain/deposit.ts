import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { peerFlags } from '../../lib/cli/flags.ts';
import type { Network } from '../../lib/network.ts';
import { DepositRoles } from '../../topics/statechain/deposit-steps.ts';
import { floorFlags, operatorStoreFlags, statechainFlags, termsFlags, withoutConfirmations } from '../../topics/statechain/flags.ts';

export default class StatechainDeposit extends DepositRoles<typeof StatechainDeposit> {
  static override summary = 'Create a statechain coin: owner and operator shares, backup 1 signed before the coin is funded.';
  static override description =
    'Five steps, one per run, each reading the previous output: (1) the owner, with --start --operator-key KEY, makes its share and pins the operator; (2) the operator answers ' +
    'with the coin id, its share, proof of possession, address and terms (--interval, --initial-lock +N, --min-confirmations, --backup-fee, --margin); ' +
    '(3) the owner gives --funding FILE, the unsigned funding transaction paying the address (a walletcreatefundedpsbt PSBT as is, or a raw ' +
    'unsigned transaction in hex, its inputs looked up on the node (--rpc-url; offline a raw transaction is refused); its inputs must be native ' +
    'segwit so signing cannot change its txid), checks the terms against its own floor ' +
    '(--min-interval, --max-backup-fee, --max-backup-fee-percent) and asks for backup 1 at tip + initial lock; (4) the operator co-signs it; ' +
    '(5) the owner checks the operator\'s signed statement says exactly what it asked for (amount, outpoint, backup 1, terms), finishes backup 1 ' +
    'and prints statechain/coin. Only then sign and broadcast the funding. ' +
    'Each party\'s --key-file is its authentication key; the shares are generated here and kept in --state-dir (0600).';
  static override examples = [
    {
      description: 'Step 1, the owner asks an operator for a coin',
      command: 'D=$(mktemp -d); ALICE_KEY=$(cat fixtures/keys/alice.key) <%= config.bin %> statechain-deposit --start --operator-key $(cat fixtures/statechain/operator.pub) --key-env ALICE_KEY --state-dir $D/sc-alice',
    },
    {
      description: 'Step 2, the operator answers the fixture request (offline: the tip height is given)',
      command: 'D=$(mktemp -d); OPERATOR_KEY=$(cat fixtures/keys/mint.key) <%= config.bin %> statechain-deposit --key-env OPERATOR_KEY --state-dir $D/sc-operator --tip-height 200 --in fixtures/statechain/deposit-request.json',
    },
    {
      description: 'Step 5, the owner finishes backup 1 (from a copy of the fixture owner\'s state before it)',
      command: 'D=$(mktemp -d); cp -r fixtures/statechain/state/alice-depositing $D/sc-alice && ALICE_KEY=$(cat fixtures/keys/alice.key) <%= config.bin %> statechain-deposit --key-env ALICE_KEY --state-dir $D/sc-alice --in fixtures/statechain/deposit-cosigned.json',
    },
    {
      description: "Steps 1–2 through a running operator (serve statechain, started here and stopped after): --peer sends the request and prints the operator's offer; fund its address, then run again with --funding FILE --peer URL and the offer for steps 3–5",
      command: 'D=$(mktemp -d); OPERATOR_KEY=$(cat fixtures/keys/mint.key) <%= config.bin %> serve statechain --key-env OPERATOR_KEY --state-dir $D/sc-operator --tip-height 200 --confirmations 3 --listen 127.0.0.1:0 --log-level warn > $D/up & for i in $(seq 100); do grep -qs public $D/up && break; sleep 0.1; done; ALICE_KEY=$(cat fixtures/keys/alice.key) <%= config.bin %> statechain-deposit --start --operator-key $(cat fixtures/statechain/operator.pub) --key-env ALICE_KEY --state-dir $D/sc-alice --peer $(grep -o \'http://[^"]*\' $D/up); kill $!',
    },
  ];
  static override flags = {
    // No step of a deposit reads the deposit's confirmations (the coin is funded after step 5): no --confirmations assertion here.
    ...withoutConfirmations(statechainFlags),
    ...operatorStoreFlags,
    ...floorFlags,
    start: Flags.boolean({ description: 'step 1 (owner): make a share and ask for a coin; no input is read' }),
    'operator-key': Flags.string({ description: 'step 1 (owner, required): the operator whose offer you will take, hex; its statements alone are trusted', helpValue: 'PUBKEY' }),
    funding: Flags.string({ description: 'step 3 (owner): the funding paying the coin\'s address, unsigned: a wallet PSBT, or a raw transaction in hex', helpValue: 'FILE' }),
    interval: termsFlags.interval,
    'initial-lock': termsFlags['initial-lock'],
    'min-confirmations': termsFlags['min-confirmations'],
    // The old spellings, kept for a deprecation period (docs/cli.md): --confirmations was the terms' floor above;
    // under the one vocabulary it would assert a coin's confirmations, so an old script's value is refused, never read as the other.
    confirmations: Flags.string({ hidden: true, description: 'retired here: the terms\' confirmations are --min-confirmations (refused, E_FLAG_RENAMED, so an old value is never read as an assertion)', helpValue: 'N' }),
    'deposit-confirmations': Flags.string({ hidden: true, description: 'retired here: no deposit step reads the deposit\'s confirmations (elsewhere: --confirmations); accepted and ignored, with a warning', helpValue: 'N' }),
    'backup-fee': termsFlags['backup-fee'],
    margin: termsFlags.margin,
    anchor: termsFlags.anchor,
    'max-initial-lock': Flags.integer({ description: 'step 3 (owner): refuse terms whose backup 1 (your refund) is final more than this many blocks after the tip', default: 25_920, min: 1, max: 100_000, helpGroup: 'SAFETY FLOOR' }),
    ...peerFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const { initialLock } = this.depositFlags();
    // --peer: the operator's answers are applied here too, until the deposit needs what only the owner has (--funding for the offer's address).
    const after = async (network: Network, message: Record<string, unknown>) => this.viaPeer(network, message, async (type, value) => {
      if (type === 'statechain/deposit-offer' && this.flags.funding === undefined) return value; // the offer, printed: fund its address, then run again with --funding and the offer
      return this.depositStep(type).run({ network, value, store: await this.store(network), initialLock });
    });
    if (this.flags.start) {
      const network = this.network();
      return { message: await after(network, await this.depositStart.run({ network })) };
    }
    const step = await this.readStep('a statechain/deposit-* message (or --start)');
    const store = await this.store(step.network);
    return { message: await after(step.network, await this.depositStep(step.type).run({ network: step.network, value: step.value, store, initialLock })) };
  }
}
