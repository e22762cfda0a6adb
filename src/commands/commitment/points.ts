import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CommitmentCommand, seedFileFlag } from '../../topics/commitment/command.ts';

export default class CommitmentPoints extends CommitmentCommand<typeof CommitmentPoints> {
  static override summary = 'Your per-commitment points for commitments 0 and 1, for your peer\'s `commitment init` (BOLT 2 open_channel / channel_ready).';
  static override description =
    'Reads your channel (bolt3 channel JSON from your side: "local" is you) and your per-commitment seed, and prints bolt3/channel-points: ' +
    'the points of your commitments 0 and 1, named by the channel\'s funding outpoint and your funding_pubkey. Points are public; the seed is never printed. ' +
    'Each party sends its points to the other, then both run `commitment init`.';
  static override examples = [
    {
      description: 'Alice\'s points for the fixture channel',
      command: 'sh -c \'S=$(mktemp) && cp fixtures/bolt3/alice.seed "$S" && chmod 600 "$S" && <%= config.bin %> commitment points --channel fixtures/bolt3/alice-channel.json --seed-file "$S"; rm -f "$S"\'',
    },
  ];
  static override flags = {
    ...seedFileFlag,
    channel: Flags.string({ description: 'your channel, from your side (local = you)', helpValue: 'FILE', required: true }),
  };

  protected async execute(): Promise<CommandResult> {
    const channel = await this.ownChannel(this.flags.channel);
    const { channelPoints } = await import('../../lib/bolt3/party-open.ts');
    const seed = this.seed();
    try {
      return { message: channelPoints(this.network(), channel, seed) };
    } finally {
      seed.fill(0);
    }
  }
}
