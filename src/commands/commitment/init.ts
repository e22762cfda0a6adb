import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CommitmentCommand, seedFileFlag } from '../../topics/commitment/command.ts';
import { inputFlags, stateFlags } from '../../lib/cli/flags.ts';

export default class CommitmentInit extends CommitmentCommand<typeof CommitmentInit> {
  static override summary = 'Start keeping a channel: your channel, your seed and the peer\'s points, recorded under --state-dir.';
  static override description =
    'Reads the peer\'s bolt3/channel-points (its `commitment points`) and records the channel from --channel (your side: "local" is you; ' +
    'it also names the to_self_delay and dust limit you impose on the peer) under --state-dir. Refused (exit 4, nothing written): points for ' +
    'another channel or from another funding key, a peer basepoint or point that is one of your own (E_PEER_KEY_REUSED). Every later step — sign, receive-sigs, receive-revocation, finalize, penalty — builds ' +
    'from this record and never from the peer\'s messages. Rerun with the same inputs: the same answer; with others: E_CHANNEL_EXISTS.';
  static override examples = [
    {
      description: 'Bob records the fixture channel with Alice\'s points',
      command:
        'sh -c \'D=$(mktemp -d) && cp fixtures/bolt3/bob.seed "$D/seed" && chmod 600 "$D/seed" && <%= config.bin %> commitment init --channel fixtures/bolt3/bob-channel.json ' +
        '--seed-file "$D/seed" --state-dir "$D" --in fixtures/bolt3/alice-points.json; rm -rf "$D"\'',
    },
  ];
  static override flags = {
    ...inputFlags,
    ...stateFlags,
    ...seedFileFlag,
    channel: Flags.string({ description: 'your channel, from your side (local = you)', helpValue: 'FILE', required: true }),
    'funding-locktime': Flags.integer({
      description: 'a channel on a statechain coin: the nLockTime of the backup that funds it. Every commitment signed or kept must have its HTLCs expire beyond it plus to_self_delay (E_CHANNEL_TIMELOCK)',
      helpValue: 'HEIGHT', min: 1, max: 499_999_999,
    }),
  };

  protected async execute(): Promise<CommandResult> {
    const { ChannelPointsSchema } = await import('../../lib/bolt3/schemas.ts');
    const { channelIdOf } = await import('../../lib/bolt3/party.ts');
    const { initChannel } = await import('../../lib/bolt3/party-open.ts');
    const { RefusedError, StateConflictError } = await import('../../lib/errors.ts');
    const peer = await this.readMessage(ChannelPointsSchema);
    const channel = await this.ownChannel(this.flags.channel);
    const network = this.network(peer.network);
    const seed = this.seed();
    const fresh = initChannel(network, channel, seed, peer, { fundingLocktime: this.flags['funding-locktime'] });
    seed.fill(0);
    const id = channelIdOf(channel);
    const book = await this.channelBook();
    // One seed, one channel: a secret revealed on one channel would revoke the same-numbered commitment of another.
    for (const [other, record] of await book.all()) {
      if (other !== id && (record as { local_first_point?: string }).local_first_point === fresh.local_first_point) {
        throw new RefusedError('E_SEED_REUSED', `this per-commitment seed is already channel ${other}'s: give each channel a seed of its own`);
      }
    }
    await book.step(id, (current) => {
      if (current === undefined) return { record: fresh, message: undefined };
      const kept = current as { channel: unknown; local_first_point: string };
      if (JSON.stringify(kept.channel) !== JSON.stringify(fresh.channel) || kept.local_first_point !== fresh.local_first_point) {
        throw new StateConflictError('E_CHANNEL_EXISTS', `channel ${id} is already recorded in ${book.dir} with another channel or seed`);
      }
      return { message: undefined };
    }, { create: true });
    return { message: { type: 'bolt3/channel-opened', version: 1, network, channel_id: id, format: channel.format, funding_satoshis: channel.funding_satoshis, state_dir: book.where() } };
  }
}
