import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CommitmentCommand, seedFileFlag } from '../../topics/commitment/command.ts';
import { inputFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';

export default class CommitmentClose extends CommitmentCommand<typeof CommitmentClose> {
  static override summary = 'Close a channel cooperatively (BOLT 2 shutdown / closing_signed): each party paid its final balance, to its own script.';
  static override description =
    'Three steps. The proposer runs it with --start, --channel-id, --to and --fee-sat and prints bolt3/shutdown. The peer runs it on that ' +
    'message with its own --to: it builds the closing transaction from its own record — each party\'s balance of the final state, the opener ' +
    'paying the fee, outputs below the dust limit left out — signs it and prints bolt3/closing-signed. The proposer runs it on that: rebuilds ' +
    'the same transaction, checks the peer\'s signature, adds its own and prints bolt3/closing-tx to broadcast. Refused (exit 4, nothing ' +
    'written): an update or an HTLC in flight (E_CLOSE_PENDING), a fee above the final commitment\'s (E_CLOSING_FEE), a message whose script, ' +
    'fee or txid is not what this party would build (E_TERMS_MISMATCH). Once a party proposed or signed a close it signs no further commitment.';
  static override examples = [
    {
      description: 'Alice proposes to close the fixture channel at commitment 2 (nothing in flight)',
      command:
        'sh -c \'D=$(mktemp -d) && cp -r fixtures/bolt3/alice-state-dir/. "$D/" && cp fixtures/bolt3/alice.seed "$D/seed" && chmod 600 "$D/seed" && <%= config.bin %> commitment close --start --channel-id 8984484a580b825b9972d7adb15050b3ab624ccd731946b3eeddb92f4e7ef6be:0 --seed-file "$D/seed" --to bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 --fee-sat 1500 --state-dir "$D"; rm -rf "$D"\'',
    },
    {
      description: 'Bob answers Alice\'s shutdown with his signature on the closing transaction',
      command:
        'BOB_FUNDING=$(cat fixtures/bolt3/remote-funding.key) sh -c \'D=$(mktemp -d) && cp -r fixtures/bolt3/bob-state-dir/. "$D/" && cp fixtures/bolt3/bob.seed "$D/seed" && chmod 600 "$D/seed" && <%= config.bin %> commitment close --seed-file "$D/seed" --to bcrt1py6453jm8063t35dhf6yddhqnf65hel4aryj9sz673xkkqpy73u9sfeux7j --key-env BOB_FUNDING --state-dir "$D" --in fixtures/bolt3/alice-shutdown.json; rm -rf "$D"\'',
    },
  ];
  static override flags = {
    ...inputFlags,
    ...stateFlags,
    ...seedFileFlag,
    ...keyFlags,
    start: Flags.boolean({ description: 'propose the close (reads no input)' }),
    'channel-id': Flags.string({ description: 'with --start: the channel, its funding outpoint TXID:VOUT', helpValue: 'TXID:VOUT' }),
    to: Flags.string({ description: 'your output\'s address (not needed for the last step)', helpValue: 'ADDRESS' }),
    'fee-sat': Flags.integer({ description: 'with --start: the closing fee in sat, paid by the opener', helpValue: 'SAT', min: 0, max: 2_100_000_000_000_000 }),
  };

  protected async execute(): Promise<CommandResult> {
    const { UsageError } = await import('../../lib/errors.ts');
    const { decodeAddress } = await import('../../lib/address.ts');
    const party = await import('../../lib/bolt3/party-close.ts');
    const network = this.network();
    const seed = this.seed();
    const ownScript = () => {
      if (this.flags.to === undefined) throw new UsageError('E_USAGE', 'give --to, your output\'s address');
      return decodeAddress(this.flags.to, network, '--to');
    };
    try {
      if (this.flags.start) {
        if (this.flags['channel-id'] === undefined || this.flags['fee-sat'] === undefined) throw new UsageError('E_USAGE', '--start needs --channel-id and --fee-sat');
        const script = ownScript();
        const fee = BigInt(this.flags['fee-sat']);
        return { message: await this.channelStep(this.channelId(), (record) => party.proposeClose(record, script, fee, seed)) };
      }
      const { ClosingSignedSchema, ShutdownSchema } = await import('../../lib/bolt3/schemas.ts');
      const doc = await this.readDocument();
      const { MalformedInputError } = await import('../../lib/errors.ts');
      if (doc.format !== 'json') throw new MalformedInputError('E_EXPECTED_MESSAGE', 'expected a bolt3/shutdown or bolt3/closing-signed message (or --start)');
      const type = (doc.value as { type?: unknown }).type;
      const { decodeMessage } = await import('../../lib/message.ts');
      const key = await this.keyPair(network);
      try {
        if (type === 'bolt3/shutdown') {
          const m = decodeMessage(ShutdownSchema, doc.value);
          const script = ownScript();
          return { message: await this.channelStep(m.channel_id, (record) => party.replyClose(record, m, script, seed, key.secretKey)) };
        }
        const m = decodeMessage(ClosingSignedSchema, doc.value);
        return { message: await this.channelStep(m.channel_id, (record) => party.finishClose(record, m, seed, key.secretKey)) };
      } finally {
        key.secretKey.fill(0);
      }
    } finally {
      seed.fill(0);
    }
  }
}
