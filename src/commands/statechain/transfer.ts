import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { peerFlags } from '../../lib/cli/flags.ts';
import { TransferRoles } from '../../topics/statechain/transfer-steps.ts';
import { coinFlag, floorFlags, statechainFlags, operatorStoreFlags } from '../../topics/statechain/flags.ts';

export default class StatechainTransfer extends TransferRoles<typeof StatechainTransfer> {
  static override summary = 'Move a statechain coin to a new owner off chain: backup first, then the share rotation.';
  static override description =
    'Seven steps, one per run, each reading the previous output (which party runs a step follows from the message): ' +
    '(1) the receiver, with --start --coin ID --operator-key KEY, makes its new share and a request for the sender; ' +
    '(2) the sender builds the receiver\'s backup (one interval below its own) for the operator; ' +
    '(3) the operator co-signs it, counts it, and seals a fresh x₁ to the sender; ' +
    '(4) the sender finishes the backup and seals t₁ = o₁ + x₁ with the whole chain to the receiver; ' +
    '(5) the receiver verifies everything (as statechain-verify), keeps the coin, and seals t₂ = t₁ − o₂ to the operator; ' +
    '(6) the operator rotates its share (s₂ = s₁ + t₂ − x₁, checked against P); ' +
    '(7) the receiver records the operator\'s answer and prints statechain/coin. Repeating step 6 answers the same. ' +
    'A joint receiver (the two parties of a channel on the coin, O₂ = A + B): B first runs --start --joint-part (statechain/joint-part), ' +
    'A runs --start --joint-with B\'s part file; at step 5 A prints statechain/joint-handoff for B, B answers statechain/joint-t2, ' +
    'A turns it into the acceptance; both read the operator\'s transfer-done. Each part keeps only its own secret, and each refuses a coin whose terms ' +
    'have no anchor (E_BACKUP_UNBUMPABLE: neither part could bump the pair\'s backup) unless it passes --allow-unanchored, accepting that fee risk. ' +
    'A pair sending its coin (the virtual close): the receiver\'s request goes to B (statechain/joint-nonce), then A (transfer-sign), ' +
    'the operator, A again (statechain/joint-sign), and B, who prints the transfer-package.';
  static override examples = [
    {
      description: 'Step 1, the receiver (Bob) asks for the fixture coin',
      command: 'D=$(mktemp -d); BOB_KEY=$(cat fixtures/keys/bob.key) <%= config.bin %> statechain-transfer --start --coin 3a95fbf6f491e385593b652bb35c5934 --operator-key $(cat fixtures/statechain/operator.pub) --key-env BOB_KEY --state-dir $D/sc-bob',
    },
    {
      description: "Steps 5–7 in one run, the receiver (Bob) with --peer: its acceptance sent to the operator's service, the answer recorded, statechain/coin printed",
      command: 'D=$(mktemp -d); cp -r fixtures/statechain/state/operator $D/sc-operator; OPERATOR_KEY=$(cat fixtures/keys/mint.key) <%= config.bin %> serve statechain --key-env OPERATOR_KEY --state-dir $D/sc-operator --tip-height 200 --confirmations 3 --listen 127.0.0.1:0 --log-level warn > $D/up & for i in $(seq 100); do grep -qs public $D/up && break; sleep 0.1; done; cp -r fixtures/statechain/state/bob-receiving $D/sc-bob && BOB_KEY=$(cat fixtures/keys/bob.key) <%= config.bin %> statechain-transfer --key-env BOB_KEY --state-dir $D/sc-bob --tip-height 200 --confirmations 3 --in fixtures/statechain/transfer-package.json --peer $(grep -o \'http://[^"]*\' $D/up); kill $!',
    },
  ];
  static override flags = {
    ...statechainFlags,
    ...operatorStoreFlags,
    ...floorFlags,
    ...coinFlag,
    start: Flags.boolean({ description: 'step 1 (receiver): ask for the coin given by --coin; no input is read' }),
    'operator-key': Flags.string({ description: 'step 1 (receiver): the operator\'s authentication key, hex: only its statements are trusted', helpValue: 'PUBKEY' }),
    'joint-part': Flags.boolean({ description: 'step 1 (second part B of a joint receiver): make B\'s part for A instead of a request' }),
    'joint-with': Flags.string({ description: 'step 1 (first part A of a joint receiver): B\'s statechain/joint-part message', helpValue: 'FILE' }),
    'backup-address': Flags.string({ description: 'step 1 (receiver): your backup pays this address instead of your share\'s P2TR (e.g. a Lightning channel\'s funding output)', helpValue: 'ADDRESS' }),
    ...peerFlags,
  };

  protected async execute(): Promise<CommandResult> {
    if (this.flags.start) return { message: await this.transferStart.run({ network: this.network() }) };
    const step = await this.readStep('a statechain/transfer-* message (or --start)');
    const store = await this.store(step.network);
    const message = await this.transferStep(step.type).run({ network: step.network, value: step.value, store });
    // --peer: a transfer-sign (the sender's step 2, a pair's A) or a transfer-accept (the receiver's step 5) goes to the operator, its answer applied here.
    return { message: await this.viaPeer(step.network, message, (type, value) => this.transferStep(type).run({ network: step.network, value, store })) };
  }
}
