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
import { channelRound, type ChannelHost } from '../../../src/topics/watch/channel.ts';
import type { Round } from '../../../src/topics/watch/credit.ts';
import type { ChannelWatch } from '../../../src/topics/watch/state.ts';
import type { ChannelRecord } from '../../../src/lib/bolt3/party.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { A, B, aliceState, updateTo, upTo } from '../bolt3/two-parties.ts';
import { channelHost, loadChannelParty } from '../../../src/topics/watch/channel-party.ts';
import { toHex } from '../../../src/lib/bytes.ts';
import { tempDir } from '../../helpers.ts';

const H = (n: number) => n.toString(16).padStart(64, '0');
const DEST = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(9));

/** Alice's state 1: an HTLC she offered, cltv_expiry 501 (and one she received, 502, no preimage given). */
function setup(edit: (r: ChannelRecord) => ChannelRecord = (r) => r, start: () => ChannelRecord = () => upTo(1).a) {
  let stored = edit(start());
  /** What a `commitment` command writes between the round's read and its step (none: nothing). */
  const hooks: { meanwhile?: (r: ChannelRecord) => ChannelRecord } = {};
  const id = `${stored.channel.funding_txid}:${stored.channel.funding_vout}`;
  const sent: { txid: string; broadcastRecorded: number | undefined }[] = [];
  const state = { refuse: true };
  let watch: ChannelWatch = { sent: {} };
  const chain = {
    mempoolSpender: async () => undefined,
    utxo: async (txid: string, vout: number) => ({ txid, vout, value: 1n, scriptPubKey: '', confirmations: 10 }),
    txConfirmations: async () => 10,
    broadcast: async (raw: Uint8Array) => {
      const tx = Transaction.fromRaw(raw, { allowUnknownOutputs: true });
      sent.push({ txid: tx.id, broadcastRecorded: stored.broadcast });
      if (state.refuse) throw new Error('mempool full');
      return tx.id;
    },
  };
  const records = { preimagesLearnt: async () => new Map(), channel: async () => structuredClone(watch), setChannel: async (_id: string, c: ChannelWatch) => { watch = structuredClone(c); } };
  const round = (tip: number): Round => ({ tip, block: H(tip), dryRun: false, offline: false, chain: chain as never, records: records as never, connected: [H(tip)] });
  const host = (): ChannelHost => ({
    channels: async () => [{ id, record: stored }],
    revocationKey: async () => A.revocation.slice(), htlcKey: async () => ({ secret: A.htlc.slice(), preimages: [] }),
    closeKeys: async () => ({ fundingSecret: A.funding.slice(), seed: A.seed.slice() }),
    step: async (_id, fn) => {
      if (hooks.meanwhile) stored = hooks.meanwhile(stored);
      const { record, message } = fn(structuredClone(stored));
      if (record) stored = record;
      return message;
    },
    destination: { script: DEST, dustSat: 294 }, limits: { maxFeeRate: 20, maxFeeShare: 0.5 }, done: new Set(),
  });
  return { host, round, sent, state, hooks, record: () => stored };
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

  it('Bob settles it off chain and she stores his signatures on commitment 2 (no HTLC) between the round\'s read and its step: nothing signed or sent, decided again on the record as it is', async () => {
    const p1 = upTo(1);
    const s = setup(() => p1.a, () => p1.a);
    const settled = updateTo(p1, aliceState(2, 0)).a; // commitment_signed for 2 received: 1 revoked, 2 held, no HTLC on it
    s.hooks.meanwhile = () => settled;
    const [d] = await channelRound(s.host(), s.round(504));
    expect(d!.error).toMatch(/^E_STALE_STATE: /);
    expect(s.sent).toEqual([]);
    expect(s.record().broadcast).toBeUndefined();
    s.hooks.meanwhile = undefined;
    const [d2] = await channelRound(s.host(), s.round(505));
    expect(d2).toMatchObject({ action: 'none' });
    expect(s.sent).toEqual([]);
  });
});

describe('an open channel whose commitment Alice completed for broadcast herself (commitment finalize), the funding still unspent', () => {
  it('a watcher without her funding key and seed (as before going on chain existed): held, E_NO_KEY naming them — not an internal error each round', async () => {
    const s = setup((r) => ({ ...r, broadcast: r.local!.state.commitment_number }));
    const { closeKeys: _k, step: _s, ...keyless } = s.host();
    const [d] = await channelRound(keyless, s.round(400));
    expect(d).toMatchObject({ action: 'hold' });
    expect(d!.error).toMatch(/^E_NO_KEY: .*--funding-key-env.*--seed-file/);
    expect(s.sent).toEqual([]);
  });
});

describe('an open channel: the HTLC Alice offered (cltv_expiry 501) is dust, trimmed from her commitment', () => {
  it('past its expiry: nothing signed or sent (no output to time out; a close would only cost her the channel and its fee)', async () => {
    const state = aliceState(1, 1);
    // 1,000 sat: below her dust limit (546) plus an HTLC-timeout's fee at 2,500 sat/kw (1,657).
    const dust = { ...state, to_local_msat: String(BigInt(state.to_local_msat) + 4_000_000n), htlcs: [{ ...state.htlcs[0]!, amount_msat: '1000000' }] };
    const s = setup(undefined, () => updateTo(upTo(0), dust).a);
    expect(s.record().local!.state.htlcs).toHaveLength(1);
    const [d] = await channelRound(s.host(), s.round(600));
    expect(d).toMatchObject({ action: 'none' });
    expect(s.sent).toEqual([]);
    expect(s.record().broadcast).toBeUndefined();
  });
});

describe('a zero-fee (TRUC) channel: Alice offered an HTLC (cltv_expiry 501), Bob is silent', () => {
  it('due at 504: held, E_NO_CHILD, nothing recorded (the channel still signs) or sent — its commitment pays nothing and goes only with a child', async () => {
    const s = setup(undefined, () => upTo(1, 'zero-fee').a);
    const [d] = await channelRound(s.host(), s.round(504));
    expect(d).toMatchObject({ action: 'hold' });
    expect(d!.error).toMatch(/^E_NO_CHILD: /);
    expect(s.sent).toEqual([]);
    expect(s.record().broadcast).toBeUndefined();
  });
});

describe('a channel recorded after the watcher started, its funding key and seed loaded then (with no channel to check them against)', () => {
  /** The watcher's party as `offchain watch` loads it (env and 0600 file), with `who`'s funding key and seed. */
  const partyOf = async (who: typeof A) => {
    const dir = tempDir('offchain-rvon-');
    const seedFile = join(dir.path, 'seed.hex');
    writeFileSync(seedFile, toHex(who.seed), { mode: 0o600 });
    Object.assign(process.env, { RVON_REVOCATION: toHex(A.revocation), RVON_HTLC: toHex(A.htlc), RVON_FUNDING: toHex(who.funding) });
    return loadChannelParty({
      'revocation-key-env': 'RVON_REVOCATION', 'htlc-key-env': 'RVON_HTLC', 'funding-key-env': 'RVON_FUNDING', 'seed-file': seedFile,
      'sweep-to': 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080',
    }, [], 'regtest', dir.path);
  };
  const hostOf = (s: ReturnType<typeof setup>, party: Awaited<ReturnType<typeof partyOf>>) =>
    channelHost([{ id: `${s.record().channel.funding_txid}:${s.record().channel.funding_vout}`, record: s.record() }], party, { maxFeeRate: 20, maxFeeShare: 0.5 }, new Set(), undefined, s.host().step);

  it('another channel\'s (Bob\'s funding key and seed): said before it is due, held with E_NO_KEY when due, nothing signed or sent', async () => {
    const s = setup();
    const party = await partyOf(B);
    const [d0] = await channelRound(hostOf(s, party), s.round(503));
    expect(d0).toMatchObject({ action: 'none' });
    expect(d0!.reason).toContain('another channel\'s');
    const [d1] = await channelRound(hostOf(s, party), s.round(504));
    expect(d1).toMatchObject({ action: 'hold' });
    expect(d1!.error).toMatch(/^E_NO_KEY: .*another channel's/);
    expect(s.sent).toEqual([]);
    expect(s.record().broadcast).toBeUndefined();
  });
  it('hers: goes on chain when due, as with the keys checked at the start', async () => {
    const s = setup();
    const [d] = await channelRound(hostOf(s, await partyOf(A)), s.round(504));
    expect(d).toMatchObject({ action: 'exit', txid: s.record().local!.txid });
    expect(s.sent.map((x) => x.txid)).toEqual([s.record().local!.txid]);
  });
});
