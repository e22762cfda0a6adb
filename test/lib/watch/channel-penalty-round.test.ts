/**
 * Review (adversarial, channel party): the penalty round of `offchain watch` on a real channel
 * record (test/lib/bolt3/two-parties.ts) over a fake node. Pure: no bitcoind.
 *
 * 1. An HTLC output above the commitment's dust limit but worth less than its justice
 *    transaction's fee at the SIZING rate (1000 sat/kw = 4 sat/vB) is never taken — even when
 *    the node's floor is 1 sat/vB and the budget covers it many times over.
 * 2. With `--once` (a fresh `done` set per run), a punished channel whose HTLC output was spent
 *    in a block re-runs `scantxoutset` on every run, forever (the fake store keeps `channel-<id>`
 *    across runs, as a state directory does).
 */
import { describe, expect, it } from 'vitest';
import { channelRound, type ChannelHost } from '../../../src/topics/watch/channel.ts';
import { countedWeight } from '../../../src/topics/watch/channel-send.ts';
import type { Round } from '../../../src/topics/watch/credit.ts';
import type { ChannelWatch } from '../../../src/topics/watch/state.ts';
import { punishRevoked, revokedPeerCommitment } from '../../../src/lib/bolt3/party-penalty.ts';
import { revocableOutputs } from '../../../src/lib/bolt3/penalty.ts';
import { toHex } from '../../../src/lib/bytes.ts';
import { A, aliceState, open, updateTo } from '../bolt3/two-parties.ts';
import type { ChannelRecord, ChannelState } from '../../../src/lib/bolt3/party.ts';

/** Alice's record with Bob's commitment 0 revoked; state 0 carries one HTLC of `smallSat` sat. */
function record(smallSat: number, opts: { allSmall?: boolean } = {}): { rec: ChannelRecord; revoked: string } {
  const a0 = aliceState(0, 2, 'anchors');
  const s0 = opts.allSmall ? { ...a0, to_remote_msat: String(smallSat * 1000) } : a0;
  const htlcs = [{ ...s0.htlcs[0]!, amount_msat: String(smallSat * 1000) }, opts.allSmall ? { ...s0.htlcs[1]!, amount_msat: String(smallSat * 1000) } : s0.htlcs[1]!];
  const inFlight = htlcs.reduce((a, h) => a + BigInt(h.amount_msat), 0n);
  const state0: ChannelState = { ...s0, htlcs, to_local_msat: String(1_000_000_000n - BigInt(s0.to_remote_msat) - inFlight) };
  let p = open('anchors');
  p = updateTo(p, state0);
  p = updateTo(p, aliceState(1, 2, 'anchors'));
  const revoked = p.a.remote_signed.find((x) => x.state.commitment_number === 0)!.txid;
  return { rec: p.a, revoked };
}

const H = (n: number) => n.toString(16).padStart(64, '0');
const P2WPKH = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(7));

function host(rec: ChannelRecord, done = new Set<string>()): ChannelHost {
  return {
    channels: async () => [{ id: `${rec.channel.funding_txid}:${rec.channel.funding_vout}`, record: rec }],
    revocationKey: async () => A.revocation.slice(), destination: { script: P2WPKH, dustSat: 294 },
    limits: { maxFeeRate: 50, maxFeeShare: 0.5 }, done,
  };
}

type Fake = { store?: ChannelWatch; spentOutputs: boolean; scans: number; sent: string[]; spentVouts?: number[]; scanFails?: boolean };
function round(rec: ChannelRecord, revoked: string, f: Fake, tip = 1000): Round {
  const funding = rec.channel.funding_txid;
  const chain = {
    mempoolSpender: async (txid: string) => (txid === funding ? revoked : undefined),
    utxo: async (txid: string, vout: number) => (txid === revoked && !f.spentOutputs && !(f.spentVouts ?? []).includes(vout) ? { txid, vout, value: 1n, scriptPubKey: '', confirmations: 20 } : null),
    txConfirmations: async (txid: string) => (txid === revoked ? tip - 980 : null), // 20 deep at 1000, one more each block,
    outputsPaying: async () => { f.scans++; if (f.scanFails) throw Object.assign(new Error('Scan already in progress, use action "abort" or "status"'), { code: 'E_RPC' }); return []; },
    mempoolPolicy: async () => ({ minRelayFeeRate: 1000, mempoolMinFeeRate: 1000, incrementalRelayFeeRate: 1000 }),
    estimateFeeRate: async () => 1000,
    mempoolEntry: async () => null,
    broadcast: async (raw: Uint8Array) => { f.sent.push(toHex(raw)); return H(f.sent.length); },
  };
  // The watcher's store (channel-<id>), kept across rounds and --once runs as the state directory keeps it.
  f.store ??= { spender: revoked, sent: {} };
  const records = { channel: async () => structuredClone(f.store!), setChannel: async (_id: string, c: ChannelWatch) => { f.store = structuredClone(c); } };
  return { tip, block: H(tip), dryRun: false, offline: false, chain: chain as never, records: records as never, connected: [H(tip)] };
}

describe('the penalty round, as the cheater', () => {
  it('counts a justice transaction\'s weight as BOLT 3 does (its fee at 1000 sat/kw), whatever rate it was signed at', async () => {
    const { rec, revoked } = record(5000);
    const at = async (perKw: number) => (await punishRevoked(rec, revoked, { destinationScript: P2WPKH, feeratePerKw: perKw }, async () => A.revocation.slice())).message.transactions as { hex: string; fee_sat: number }[];
    const [k1000, k250] = [await at(1000), await at(250)];
    expect(k250.map((t) => countedWeight(t.hex))).toEqual(k1000.map((t) => t.fee_sat));
  });

  it('takes an untrimmed 700-sat HTLC output when the node floor is 1 sat/vB', async () => {
    const { rec, revoked } = record(700);
    const c = revokedPeerCommitment(rec, revoked).c;
    const revocable = revocableOutputs(c);
    console.log('revocable outputs:', revocable.map((o) => `${o.kind}:${o.amountSat}`));
    expect(revocable.some((o) => o.amountSat === 700n)).toBe(true); // on the commitment, not trimmed
    const f: Fake = { spentOutputs: false, scans: 0, sent: [] };
    const [d] = await channelRound(host(rec), round(rec, revoked, f));
    console.log(d);
    // One justice transaction per revocable output: the 700-sat one pays ~150 sat at 1 sat/vB (budget 350).
    expect(f.sent.length).toBe(revocable.length);
  });

  it('a --once watcher does not rescan the UTXO set for a channel already done', async () => {
    const { rec, revoked } = record(5000);
    const f: Fake = { spentOutputs: true, scans: 0, sent: [] };
    for (let run = 0; run < 3; run++) {
      const [d] = await channelRound(host(rec, new Set()), round(rec, revoked, f, 1000 + run));
      expect(d!.action).toBe('done');
    }
    console.log('scantxoutset calls over 3 --once runs of a done channel:', f.scans);
    expect(f.scans).toBeLessThanOrEqual(1);
  });

  it('a failed scantxoutset (a second stage confirmed, a concurrent scan) does not stop the to_local penalty', async () => {
    const { rec, revoked } = record(5000);
    const c = revokedPeerCommitment(rec, revoked).c;
    const htlc = revocableOutputs(c).find((o) => o.kind !== 'to_local')!;
    // The cheater's HTLC-timeout/-success for one HTLC output is mined: the round must look for its output (scantxoutset).
    const f: Fake = { spentOutputs: false, scans: 0, sent: [], spentVouts: [htlc.vout], scanFails: true };
    const [d] = await channelRound(host(rec), round(rec, revoked, f));
    console.log(d);
    expect(f.scans).toBe(1);
    expect(f.sent.length).toBeGreaterThanOrEqual(2); // to_local and the other HTLC output, whatever the scan says
  });

  it('does not call a channel done while its revocable outputs are unspent (all small: 700 sat each)', async () => {
    const { rec, revoked } = record(700, { allSmall: true });
    const c = revokedPeerCommitment(rec, revoked).c;
    console.log('revocable outputs:', revocableOutputs(c).map((o) => `${o.kind}:${o.amountSat}`));
    const f: Fake = { spentOutputs: false, scans: 0, sent: [] };
    const done = new Set<string>();
    const [d] = await channelRound(host(rec, done), round(rec, revoked, f));
    console.log(d, 'long-running watcher stops asking:', done.size === 1);
    expect(d!.action).not.toBe('done');
  });
});
