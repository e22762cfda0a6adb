/**
 * An open channel in the watcher's round (src/topics/watch/channel-open.ts): the party's latest
 * commitment goes on chain for an HTLC she offered, 3 blocks past its cltv_expiry — its record
 * saying it went out for broadcast is stored BEFORE the node is asked; a broadcast the node refuses
 * changes nothing more, and the next round sends the same commitment again; a record whose latest
 * commitment is revoked (a broken one) sends nothing. Fake node, real channel records (two parties
 * through the library), the seed and keys of test/lib/bolt3/two-parties.ts.
 */
import { describe, expect, it } from 'vitest';
import { Transaction } from '@scure/btc-signer';
import { channelRound } from '../../../src/topics/watch/channel.ts';
import type { Round } from '../../../src/topics/watch/credit.ts';
import type { ChannelWatch } from '../../../src/topics/watch/state.ts';
import type { ChannelRecord } from '../../../src/lib/bolt3/party.ts';
import { upTo } from '../bolt3/two-parties.ts';
import { aliceHost } from './alice-host.ts';

const H = (n: number) => n.toString(16).padStart(64, '0');
const DEST = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(9));

/** Alice's state 1: an HTLC she offered, cltv_expiry 501 (and one she received, 502, no preimage given). */
function setup(edit: (r: ChannelRecord) => ChannelRecord = (r) => r) {
  const alice = aliceHost(edit(upTo(1).a), { destination: { script: DEST, dustSat: 294 }, limits: { maxFeeRate: 20, maxFeeShare: 0.5 } });
  const sent: { txid: string; broadcastRecorded: number | undefined }[] = [];
  const state = { refuse: true };
  let watch: ChannelWatch = { sent: {} };
  const chain = {
    mempoolSpender: async () => undefined,
    utxo: async (txid: string, vout: number) => ({ txid, vout, value: 1n, scriptPubKey: '', confirmations: 10 }),
    txConfirmations: async () => 10,
    broadcast: async (raw: Uint8Array) => {
      const tx = Transaction.fromRaw(raw, { allowUnknownOutputs: true });
      sent.push({ txid: tx.id, broadcastRecorded: alice.record().broadcast });
      if (state.refuse) throw new Error('mempool full');
      return tx.id;
    },
  };
  const records = { channel: async () => structuredClone(watch), setChannel: async (_id: string, c: ChannelWatch) => { watch = structuredClone(c); } };
  const round = (tip: number): Round => ({ tip, block: H(tip), dryRun: false, offline: false, chain: chain as never, records: records as never, connected: [H(tip)] });
  return { host: alice.host, round, sent, state, record: alice.record };
}

describe('an open channel: Alice offered an HTLC (cltv_expiry 501), Bob is silent', () => {
  it('nothing at 503; at 504 her latest commitment, recorded as out before it is sent; refused, sent again the next round', async () => {
    const s = setup();
    const latest = s.record().local!;
    const [d0] = await channelRound(s.host(), s.round(503));
    expect(d0).toMatchObject({ action: 'none', deadline: 504 });
    expect(s.sent).toEqual([]);
    const [d1] = await channelRound(s.host(), s.round(504));
    expect(d1).toMatchObject({ action: 'exit', txid: latest.txid });
    expect(d1!.error).toMatch(/mempool full/);
    // The record said "broadcast" when the node was asked (commit before the act), and still does.
    expect(s.sent).toEqual([{ txid: latest.txid, broadcastRecorded: latest.state.commitment_number }]);
    expect(s.record().broadcast).toBe(latest.state.commitment_number);
    s.state.refuse = false;
    const [d2] = await channelRound(s.host(), s.round(505));
    expect(d2).toMatchObject({ action: 'rebroadcast', txid: latest.txid });
    expect(d2!.error).toBeUndefined();
    expect(s.sent.map((x) => x.txid)).toEqual([latest.txid, latest.txid]);
  });

  it('her record\'s latest commitment revoked (a broken record): nothing sent, E_REVOKED_COMMITMENT', async () => {
    const s = setup((r) => ({ ...r, local_revoked_through: r.local!.state.commitment_number }));
    const [d] = await channelRound(s.host(), s.round(510));
    expect(d!.error).toMatch(/^E_REVOKED_COMMITMENT: /);
    expect(s.sent).toEqual([]);
    expect(s.record().broadcast).toBeUndefined();
  });

  it('without her funding key and seed: held, E_NO_KEY naming them, nothing sent, nothing recorded', async () => {
    const s = setup();
    const { closeKeys: _k, step: _s, ...keyless } = s.host();
    const [d] = await channelRound(keyless, s.round(504));
    expect(d).toMatchObject({ action: 'hold' });
    expect(d!.error).toMatch(/^E_NO_KEY: .*--funding-key-env.*--seed-file/);
    expect(s.sent).toEqual([]);
    expect(s.record().broadcast).toBeUndefined();
  });
});
