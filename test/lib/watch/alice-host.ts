/**
 * Alice's side of a watcher's channel round with a fake node (test/lib/watch/channel-*-round.test.ts):
 * her keys and seed of test/lib/bolt3/two-parties.ts, her channel record held here and stepped
 * under its "lock" as the `commitment` commands' ChannelBook steps it.
 */
import type { ChannelHost } from '../../../src/topics/watch/channel.ts';
import type { ChannelRecord } from '../../../src/lib/bolt3/party.ts';
import { A } from '../bolt3/two-parties.ts';

export function aliceHost(first: ChannelRecord, rest: Pick<ChannelHost, 'destination' | 'limits'> & Partial<ChannelHost>) {
  let stored = first;
  const id = `${first.channel.funding_txid}:${first.channel.funding_vout}`;
  const host = (): ChannelHost => ({
    channels: async () => [{ id, record: stored }],
    revocationKey: async () => A.revocation.slice(), htlcKey: async () => ({ secret: A.htlc.slice(), preimages: [] }),
    closeKeys: async () => ({ fundingSecret: A.funding.slice(), seed: A.seed.slice() }),
    step: async (_id, fn) => {
      const { record, message } = fn(structuredClone(stored));
      if (record) stored = record;
      return message;
    },
    done: new Set(), ...rest,
  });
  return { id, host, record: () => stored };
}
