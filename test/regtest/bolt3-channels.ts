/**
 * Two BOLT 2/3 channel parties on a real bitcoind for the watcher's regtest tests
 * (watch-channel.test.ts, watch-tower-channel.test.ts): Alice (the one who is cheated) and Bob
 * (the cheater), their secrets, the environment their keys are passed in, and channels opened and
 * advanced through the CLI's `commitment` steps (in-process), as test/regtest/bolt3.test.ts does
 * them. Test code only.
 */
import { expect } from 'vitest';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { scriptAddress } from '../../src/lib/address.ts';
import { toHex } from '../../src/lib/bytes.ts';
import { LEGACY, channelFundingOutput, pointOf, type ChannelPublicKeys } from '../../src/lib/bolt3/index.ts';
import { messageOf } from './offchain-cli.ts';
import { offchainInProcess } from './in-process-cli.ts';
import type { FundedNode } from './funded-node.ts';

const secret = (b: number) => new Uint8Array(32).fill(b);
type Party = { funding: Uint8Array; revocation: Uint8Array; payment: Uint8Array; delayed: Uint8Array; htlc: Uint8Array };
const party = (base: number): Party => ({ funding: secret(base), revocation: secret(base + 1), payment: secret(base + 2), delayed: secret(base + 3), htlc: secret(base + 4) });
export const A = party(0x10); // Alice: the watcher's party
export const B = party(0x20); // Bob: the cheater
const keysJson = (p: Party) => {
  const k: ChannelPublicKeys = { fundingPubkey: pointOf(p.funding), revocationBasepoint: pointOf(p.revocation), paymentBasepoint: pointOf(p.payment), delayedPaymentBasepoint: pointOf(p.delayed), htlcBasepoint: pointOf(p.htlc) };
  return { funding_pubkey: toHex(k.fundingPubkey), revocation_basepoint: toHex(k.revocationBasepoint), payment_basepoint: toHex(k.paymentBasepoint), delayed_payment_basepoint: toHex(k.delayedPaymentBasepoint), htlc_basepoint: toHex(k.htlcBasepoint) };
};
/** The parties' keys, as the commands read them (--key-env NAME). */
export const ENV = { A_FUNDING: toHex(A.funding), A_HTLC: toHex(A.htlc), A_REVOCATION: toHex(A.revocation), A_DELAYED: toHex(A.delayed), B_FUNDING: toHex(B.funding), B_HTLC: toHex(B.htlc), NOT_ALICES: toHex(B.revocation) };

export type AgreedHtlc = { direction: 'offered' | 'received'; amount_msat: string; payment_hash: string; cltv_expiry: number };

/**
 * Channels between Alice and Bob on `o.node()`, opened and advanced by the CLI (in-process), their
 * files under `o.dir`: `openChannel(dirs)` funds one from the node's wallet and records it in both
 * parties' state directories; `htlc(...)` an agreed HTLC whose preimage is SHA256 of one byte.
 */
export function channels(o: { node: () => FundedNode; dir: string; delay: number; fundingSat: number }) {
  const DELAY = o.delay;
  const FUNDING_SAT = o.fundingSat;
  let seq = 0;
  /**
   * A channel funded by the wallet and recorded by both parties in `dirs` (their state directories), through the in-process CLI; `format`: BOLT 3's (the funding output is the same 2-of-2).
   * `onCoin`: a channel on a statechain coin instead — funded by that backup's output (paying fundingAddress()), each party's `commitment init --funding-locktime` its nLockTime.
   */
  async function openChannel(dirs: { alice: string; bob: string }, format: 'legacy' | 'anchors' = 'legacy', onCoin?: { txid: string; vout: number; sat: number; locktime: number }) {
    const id0 = ++seq;
    const f = onCoin ?? await o.node().fund(fundingAddress(), BigInt(FUNDING_SAT));
    const fundingSat = onCoin?.sat ?? FUNDING_SAT;
    const id = `${f.txid}:${f.vout}`;
    const file = (name: string, text: string, mode = 0o644) => (writeFileSync(join(o.dir, `${id0}-${name}`), text, { mode }), join(o.dir, `${id0}-${name}`));
    const base = { type: 'bolt3/channel', version: 1, network: 'regtest', format, funding_txid: f.txid, funding_vout: f.vout, funding_satoshis: fundingSat, to_self_delay: DELAY, dust_limit_satoshis: 546, remote_to_self_delay: DELAY, remote_dust_limit_satoshis: 546 };
    const files = {
      alice: { channel: file('alice-channel.json', JSON.stringify({ ...base, opener: 'local', local: keysJson(A), remote: keysJson(B) })), seed: file('alice.seed', toHex(sha256(Uint8Array.of(1, id0))), 0o600) },
      bob: { channel: file('bob-channel.json', JSON.stringify({ ...base, opener: 'remote', local: keysJson(B), remote: keysJson(A) })), seed: file('bob.seed', toHex(sha256(Uint8Array.of(2, id0))), 0o600) },
    };
    const step = async <T = Record<string, unknown>>(who: 'alice' | 'bob', args: string[], input = '', stateDir = dirs[who]): Promise<T> => {
      const k = who === 'alice' ? 'A' : 'B';
      const signs = ['sign', 'finalize'].includes(args[0]!) ? ['--key-env', `${k}_FUNDING`, '--htlc-key-env', `${k}_HTLC`] : [];
      const dir = args[0] === 'points' ? [] : ['--state-dir', stateDir];
      return messageOf<T>(await offchainInProcess(['commitment', ...args, ...dir, ...signs], { input, env: ENV }));
    };
    const points = { alice: await step('alice', ['points', '--channel', files.alice.channel, '--seed-file', files.alice.seed]), bob: await step('bob', ['points', '--channel', files.bob.channel, '--seed-file', files.bob.seed]) };
    const locktime = onCoin ? ['--funding-locktime', String(onCoin.locktime)] : [];
    await step('alice', ['init', '--channel', files.alice.channel, '--seed-file', files.alice.seed, ...locktime], JSON.stringify(points.bob));
    await step('bob', ['init', '--channel', files.bob.channel, '--seed-file', files.bob.seed, ...locktime], JSON.stringify(points.alice));
    const update = async (num: number, aliceSat: number, bobSat: number, htlcs: AgreedHtlc[]) => {
      const alice = { type: 'bolt3/channel-state', version: 1, network: 'regtest', channel_id: id, commitment_number: num, to_local_msat: `${aliceSat}000`, to_remote_msat: `${bobSat}000`, feerate_per_kw: 2500, htlcs };
      const bob = { ...alice, to_local_msat: alice.to_remote_msat, to_remote_msat: alice.to_local_msat, htlcs: htlcs.map((h) => ({ ...h, direction: h.direction === 'offered' ? 'received' : 'offered' })) };
      const states = { alice: file(`alice-state-${num}.json`, JSON.stringify(alice)), bob: file(`bob-state-${num}.json`, JSON.stringify(bob)) };
      const bobAnswer = await step('bob', ['receive-sigs', '--state', states.bob, '--seed-file', files.bob.seed], JSON.stringify(await step('alice', ['sign', '--state', states.alice])));
      if (num > 0) await step('alice', ['receive-revocation'], JSON.stringify(bobAnswer));
      const aliceAnswer = await step('alice', ['receive-sigs', '--state', states.alice, '--seed-file', files.alice.seed], JSON.stringify(await step('bob', ['sign', '--state', states.bob])));
      if (num > 0) await step('bob', ['receive-revocation'], JSON.stringify(aliceAnswer));
    };
    /** Bob's commitment as he would broadcast it now (finalize, on a copy of his state directory: finalize marks the channel closing); `extra`: more finalize flags (his --preimage-file). */
    const bobsCommitment = async (extra: string[] = []) => {
      const copy = join(o.dir, `${id0}-bob-copy-${Math.random().toString(36).slice(2)}`);
      cpSync(dirs.bob, copy, { recursive: true });
      return step<{ txid: string; hex: string; commitment_number: number; htlc_txs: { kind: string; txid: string; hex?: string; locktime: number }[] }>('bob', ['finalize', '--channel-id', id, '--seed-file', files.bob.seed, ...extra], '', copy);
    };
    /** Alice's own commitment, completed for broadcast (finalize). */
    const alicesCommitment = () => step<{ txid: string; hex: string; commitment_number: number }>('alice', ['finalize', '--channel-id', id, '--seed-file', files.alice.seed]);
    return { id, update, bobsCommitment, alicesCommitment, aliceSeed: files.alice.seed };
  }
  /** The channels' BOLT 3 funding output (Alice's and Bob's funding keys, 2-of-2 P2WSH), as an address. */
  function fundingAddress(): string {
    return scriptAddress(channelFundingOutput({
      format: LEGACY, fundingOutpoint: { txid: '00'.repeat(32), vout: 0 }, fundingSatoshis: BigInt(FUNDING_SAT), opener: 'local',
      local: { fundingPubkey: pointOf(A.funding) } as ChannelPublicKeys, remote: { fundingPubkey: pointOf(B.funding) } as ChannelPublicKeys, toSelfDelay: DELAY, dustLimitSatoshis: 546n,
    }).script, 'regtest')!;
  }
  const htlc = (direction: 'offered' | 'received', satoshis: number, preimage: number, cltv: number): AgreedHtlc => ({ direction, amount_msat: `${satoshis}000`, payment_hash: toHex(sha256(sha256(Uint8Array.of(preimage)))), cltv_expiry: cltv });
  /**
   * The cheat both watchers' tests punish: a channel where Bob keeps his commitment 1 signed — an HTLC
   * each way, his (Alice receives 40,000 sat) timing out 3 blocks from now — then revokes it (the
   * channel moves on to 3). `bobsCltv`: his HTLC's cltv_expiry, his HTLC-timeout final from then.
   */
  async function revokedWithHtlcs(dirs: { alice: string; bob: string }) {
    const channel = await openChannel(dirs);
    const t0 = await o.node().tip();
    const bobsCltv = t0 + 3;
    await channel.update(0, 700_000, 300_000, []);
    await channel.update(1, 650_000, 260_000, [htlc('offered', 50_000, 1, t0 + 80), htlc('received', 40_000, 2, bobsCltv)]);
    const revoked = await channel.bobsCommitment();
    await channel.update(2, 690_000, 310_000, []);
    await channel.update(3, 680_000, 320_000, []);
    return { channel, revoked, bobsCltv };
  }
  return { openChannel, htlc, revokedWithHtlcs, fundingAddress };
}

/** A transaction as getrawtransaction (verbose) shows it. */
export type Verbose = { txid: string; vin: { txid: string; vout: number }[]; vout: { value: number; n: number; scriptPubKey: { address?: string } }[]; confirmations?: number; blockhash?: string };

/** What the channel watchers' tests ask the node: raw RPC, a transaction, the mempool, a fee spike, a rate, the justice transactions in the mempool. */
export function nodeViews(node: () => FundedNode) {
  const rpc = <T>(method: string, params: unknown[] = []) => node().node.rpc.call<T>(method, params);
  const verbose = (txid: string) => rpc<Verbose>('getrawtransaction', [txid, 1]);
  const sat = (btc: number) => Math.round(btc * 1e8);
  const mempool = () => rpc<string[]>('getrawmempool');
  /** The transaction spending an output in the node's mempool (gettxspendingprevout), if any. */
  const spenderOf = async (txid: string, vout: number) => (await rpc<{ spendingtxid?: string }[]>('gettxspendingprevout', [[{ txid, vout }]]))[0]!.spendingtxid;
  return {
    rpc, verbose, sat, mempool, spenderOf,
    /** The fee spike: the transaction's fee taken away from the block template (the next block leaves it out). */
    outbid: (txid: string) => rpc('prioritisetransaction', [txid, 0, -100_000_000]),
    /** The mempool's transactions paying only --sweep-to: the party's justice transactions. */
    async justiceInMempool() {
      const out: Verbose[] = [];
      for (const t of await mempool()) {
        const v = await verbose(t);
        if (v.vout.length === 1 && v.vout[0]!.scriptPubKey.address === node().sweepTo) out.push(v);
      }
      return out;
    },
    /**
     * Round by round (`round()`, then a block mined), until each of `outputs` (name → txid, vout) is spent: the tip at which
     * its spender — paying --sweep-to alone — was first seen; the tip must stay below `below`.
     */
    async firstSwept(outputs: Record<string, readonly [string, number]>, round: () => Promise<unknown>, below: number): Promise<Record<string, number>> {
      const firstSeen: Record<string, number> = {};
      while (Object.keys(firstSeen).length < Object.keys(outputs).length) {
        await round();
        const tip = await node().tip();
        for (const [name, [txid, vout]] of Object.entries(outputs)) {
          const s = await spenderOf(txid, vout);
          if (s && firstSeen[name] === undefined) {
            firstSeen[name] = tip;
            expect((await verbose(s)).vout.map((x) => x.scriptPubKey.address)).toEqual([node().sweepTo]);
          }
        }
        expect(tip).toBeLessThan(below);
        await node().mine(1);
      }
      return firstSeen;
    },
    /** A mempool transaction's rate, sat/vB (its base fee over its vsize). */
    async feeRate(txid: string) {
      const e = await rpc<{ vsize: number; fees: { base: number } }>('getmempoolentry', [txid]);
      return sat(e.fees.base) / e.vsize;
    },
  };
}
