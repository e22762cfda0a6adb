/**
 * Review (adversarial, channel party): a channel whose funding is on no chain at all — the peer,
 * as funder, never broadcast it or double-spent its input — makes every watcher round walk
 * MAX_WALK (2016) blocks with getblock verbosity 2, forever, and the decision calls it
 * "spent in a block the watcher could not find". Pure fake chain: no bitcoind.
 */
import { describe, expect, it } from 'vitest';
import { channelRound, type ChannelHost } from '../../../src/topics/watch/channel.ts';
import type { Round } from '../../../src/topics/watch/credit.ts';

const H = (n: number) => n.toString(16).padStart(64, '0');

function fakeRound(tip: number, calls: { getblock: number }): Round {
  const chain = {
    mempoolSpender: async () => undefined,
    utxo: async () => null, // the funding is not in the UTXO set (never mined)
    txConfirmations: async () => null, // nor in the mempool or any block
    blockSpender: async () => { calls.getblock++; return undefined; },
    blockHeader: async (hash: string) => ({ prev: H(parseInt(hash, 16) - 1) }),
  };
  const records = { channel: async () => ({ sent: {} }), setChannel: async () => {} };
  return { tip, block: H(tip), dryRun: false, offline: false, chain: chain as never, records: records as never, connected: [H(tip)] };
}

describe('a channel whose funding never confirmed', () => {
  it('does not walk thousands of blocks every round', async () => {
    const rec = { channel: { funding_txid: 'ab'.repeat(32), funding_vout: 0, remote_to_self_delay: 144 } };
    const host: ChannelHost = {
      channels: async () => [{ id: `${'ab'.repeat(32)}:0`, record: rec as never }],
      revocationKey: async () => new Uint8Array(32), destination: { script: new Uint8Array(22), dustSat: 294 },
      limits: { maxFeeRate: 50, maxFeeShare: 0.5 }, done: new Set(),
    };
    const calls = { getblock: 0 };
    const decisions = [];
    for (let tip = 900_000; tip < 900_003; tip++) decisions.push(...(await channelRound(host, fakeRound(tip, calls))));
    console.log('getblock(…,2) calls over 3 rounds:', calls.getblock, '— decisions:', decisions.map((d) => `${d.action}: ${d.error ?? d.reason}`));
    // Each round scans the whole two weeks again (2016+ full blocks): on mainnet gigabytes of JSON per round.
    expect(calls.getblock).toBeLessThan(100);
  });

  it('a mined funding whose spender is not found is walked for once: later rounds read only the blocks connected since (walked_to)', async () => {
    const id = `${'ab'.repeat(32)}:0`;
    const rec = { channel: { funding_txid: 'ab'.repeat(32), funding_vout: 0, remote_to_self_delay: 144 } };
    const host: ChannelHost = {
      channels: async () => [{ id, record: rec as never }],
      revocationKey: async () => new Uint8Array(32), destination: { script: new Uint8Array(22), dustSat: 294 },
      limits: { maxFeeRate: 50, maxFeeShare: 0.5 }, done: new Set(),
    };
    let store: Record<string, unknown> = { sent: {} };
    const read: number[] = [];
    const roundAt = (tip: number): Round => {
      const chain = {
        mempoolSpender: async () => undefined,
        utxo: async () => null, // spent…
        txConfirmations: async (txid: string) => (txid === 'ab'.repeat(32) ? tip - 900_000 + 1 : null), // …mined at 900,000
        blockSpender: async (hash: string) => { read.push(parseInt(hash, 16)); return undefined; }, // …by nothing the blocks show (deeper, or pruned)
        blockHeader: async (hash: string) => ({ prev: H(parseInt(hash, 16) - 1) }),
      };
      const records = { channel: async () => structuredClone(store), setChannel: async (_id: string, c: Record<string, unknown>) => { store = structuredClone(c); } };
      return { tip, block: H(tip), dryRun: false, offline: false, chain: chain as never, records: records as never, connected: [H(tip)] };
    };
    const [first] = await channelRound(host, roundAt(900_050));
    expect(first!.error).toMatch(/^E_WATCH_FOREIGN_SPEND/);
    expect(read.length).toBe(51); // 900,050 down to the funding's block
    expect(store['walked_to']).toBe(H(900_050));
    read.length = 0;
    await channelRound(host, { ...roundAt(900_052), connected: [H(900_051), H(900_052)] });
    expect(read.sort()).toEqual([900_051, 900_052]);
    expect(store['walked_to']).toBe(H(900_052));
  });
});
