/**
 * `offchain watch` keeps a Lightning channel on a statechain coin (docs/statechain.md "A Lightning
 * channel on the coin"; issue 71) on a real `bitcoind -regtest`. Alice deposits two coins and hands
 * each to the pair A + B (the built CLI spawned, step by step, as the doc runs it), each pair backup
 * paying a BOLT 3 channel's funding output; the channel's two parties — the pair's parts, in the
 * parts' own state directories — open it with `commitment init --funding-locktime` and move it on
 * (bolt3-channels.ts), Bob (part B) keeping his commitment 1, which he then revokes.
 *
 * - While the funding backup is unmined, `offchain watch --once` over part A's state directory does
 *   nothing for either channel, its reason naming the backup's nLockTime (non-final, then final and
 *   not sent), and `commitment list` shows `funding-pending`; Bob's commitment is refused by the node
 *   (its input does not exist yet).
 * - Channel 1 (anchored terms): one watcher over part A's state directory — `offchain watch --once`
 *   a round per block, with the part's key (the pair's coin, joint-<coin>) and the channel's
 *   revocation key, nothing else typed — sends nothing one block before the funding backup's
 *   locktime, sends it at its locktime with a child of the node's wallet on its anchor (the pair's
 *   kind), and once Core mined it and Bob broadcast his revoked commitment, punishes it (the channel
 *   kind): the justice transaction, mined by Core, pays --sweep-to, its signature checked by the
 *   independent verifier (BIP-143 by hand, test/independent/segwit-v0.ts) against the revocation key
 *   in the script the commitment's output commits to.
 * - Channel 2 (old terms): its funding backup is never sent (no watcher ran); Alice's older backup
 *   of that coin, final five blocks later, is mined — the channel can never be on chain: the
 *   watcher says so (no error, nothing sent), then `done` once that backup is 6 deep; `commitment
 *   list` shows `funding-lost`.
 * Skipped, visibly, without bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { WatchReportSchema } from '../../src/lib/watch/schemas.ts';
import { findBitcoind } from './bitcoind.ts';
import { assertBuilt, describeRun, offchain } from './offchain-cli.ts';
import { ENV as CHANNEL_ENV, channels } from './bolt3-channels.ts';
import { FLOOR, TERMS, ownerStep, statechainCoins } from './statechain-coins.ts';
import { KEYS } from '../e2e/statechain-flow.ts';
import { tempDir } from '../helpers.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { bytesOf, hexOf, parseTx } from '../independent/tx.ts';
import { verifyP2wshSignature } from '../independent/segwit-v0.ts';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND
  ? `offchain watch keeps a Lightning channel on a statechain coin on bitcoind -regtest (${BITCOIND})`
  : 'offchain watch keeps a Lightning channel on a statechain coin on bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

/** The delay on each party's commitments: the punishment window. */
const DELAY = 6;
/** The channel's capacity: the coin (anchored terms: a zero-fee backup) or the coin less the old terms' 400-sat backup fee. */
const CAPACITY = 1_000_000;
/** Anchored terms: zero-fee backups with a P2A anchor — the pair's backup is sent with a child of the node's wallet on it. */
const ANCHORED = ['--interval', '5', '--initial-lock', '+40', '--min-confirmations', '2', '--backup-fee', '0', '--anchor', '--margin', '2'];
/** The pair's parts: A is the channel's Alice (the watcher's party), B its Bob. */
const ENV: Record<string, string> = { ...KEYS, ...CHANNEL_ENV, PAIR_A_KEY: '77'.repeat(32), PAIR_B_KEY: '88'.repeat(32) };

type Decision = { kind: string; contract: string; action: string; reason: string; txid?: string; error?: string };
type Report = { decisions: Decision[]; summary: { errors: number } };
type ChannelRow = { channel_id: string; status: string; must_act: boolean; chain?: Record<string, unknown>; next: string };

describe.skipIf(!BITCOIND)(TITLE, () => {
  let n: FundedNode;
  const tmp = tempDir('offchain-regtest-watch-channel-sc-');
  const dir = (who: string) => join(tmp.path, who.toLowerCase());
  const step = ownerStep({ node: () => n, dir, env: ENV, floor: FLOOR, run: offchain });
  const oldCoins = statechainCoins({ node: () => n, work: () => tmp.path, step, amount: BigInt(CAPACITY + 400) });
  const anchoredCoins = statechainCoins({ node: () => n, work: () => tmp.path, step, amount: BigInt(CAPACITY) });
  const { openChannel, fundingAddress } = channels({ node: () => n, dir: tmp.path, delay: DELAY, fundingSat: CAPACITY });
  const parts = { alice: dir('PAIR_A_KEY'), bob: dir('PAIR_B_KEY') };
  const rpc = <T>(method: string, params: unknown[] = []) => n.node.rpc.call<T>(method, params);

  /** One round of the watcher over part A's state directory: the part's key (its pair's coins, joint-<coin>) and the channels' revocation key. */
  const once = async (extra: string[] = []): Promise<Report> => {
    const r = await offchain(['watch', '--state-dir', parts.alice, ...n.chain(), '--key-env', 'PAIR_A_KEY', '--revocation-key-env', 'A_REVOCATION', '--sweep-to', n.sweepTo, '--max-fee-rate', '20', '--once', ...extra], { env: ENV });
    expect(r.status, describeRun(r)).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect([...Value.Errors(WatchReportSchema, report)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
    return report;
  };
  const decision = (r: Report, id: string) => {
    const d = r.decisions.find((x) => x.kind === 'channel' && x.contract === id);
    expect(d, JSON.stringify(r)).toBeDefined();
    expect(d!.error, JSON.stringify(d)).toBeUndefined();
    return d!;
  };
  /** The pair's coin's decision (the joint kind's). */
  const pairCoin = (r: Report, coinId: string) => {
    const d = r.decisions.find((x) => x.kind === 'statechain-joint' && x.contract === coinId);
    expect(d, JSON.stringify(r)).toBeDefined();
    return d!;
  };
  const listed = async (id: string): Promise<ChannelRow> => {
    const r = await offchain(['commitment', 'list', '--state-dir', parts.alice, ...n.chain()], { env: {} });
    expect(r.status, describeRun(r)).toBe(0);
    const row = (JSON.parse(r.stdout) as { channels: ChannelRow[] }).channels.find((c) => c.channel_id === id);
    expect(row, r.stdout).toBeDefined();
    return row!;
  };

  /** `commitment list --human` of part A's directory. */
  const human = async (): Promise<string> => {
    const r = await offchain(['commitment', 'list', '--state-dir', parts.alice, ...n.chain(), '--human'], { env: {} });
    expect(r.status, describeRun(r)).toBe(0);
    return r.stdout;
  };

  /** A coin handed to the pair, its backup paying the channel's funding; the channel opened on it. */
  type OnCoin = { coinId: string; backups: string[]; locktime: number; channel: Awaited<ReturnType<typeof openChannel>> };
  let ch1: OnCoin;
  let ch2: OnCoin;
  let revoked: { txid: string; hex: string };

  const channelOnCoin = async (d: { coinId: string }): Promise<OnCoin> => {
    const coin = await oldCoins.pairReceives(d.coinId, 'ALICE_KEY', 'PAIR_A_KEY', 'PAIR_B_KEY', fundingAddress(), ['--allow-unanchored']);
    const funding = parseTx(coin.backups[1]!);
    expect(funding.outputs[0]!.amount).toBe(BigInt(CAPACITY));
    const channel = await openChannel(parts, 'legacy', { txid: funding.txid, vout: 0, sat: CAPACITY, locktime: funding.lockTime });
    expect(channel.id).toBe(`${funding.txid}:0`);
    return { coinId: d.coinId, backups: coin.backups, locktime: funding.lockTime, channel };
  };

  beforeAll(async () => {
    assertBuilt();
    n = await startFundedNode(BITCOIND!, 'watch-channel-sc');
    // Coin 2 deposited 12 blocks after coin 1: its pair's backup is still non-final while channel 1's story runs.
    const deposited = async (anchored: boolean) => {
      const d = await (anchored ? anchoredCoins : oldCoins).deposit(anchored ? ANCHORED : TERMS);
      await rpc('sendrawtransaction', [d.fundingHex]);
      await n.mine(2);
      return d;
    };
    ch1 = await channelOnCoin(await deposited(true));
    await n.mine(10);
    ch2 = await channelOnCoin(await deposited(false));
    expect(ch2.locktime).toBeGreaterThan(ch1.locktime + 5);
    // Bob keeps his commitment 1, then revokes it (commitment 2).
    await ch1.channel.update(0, 700_000, 300_000, []);
    await ch1.channel.update(1, 650_000, 350_000, []);
    revoked = await ch1.channel.bobsCommitment();
    await ch1.channel.update(2, 690_000, 310_000, []);
    await ch2.channel.update(0, 500_000, 500_000, []);
  }, 300_000);
  afterAll(async () => {
    await n?.stop();
    tmp.cleanup();
  });

  it('the funding backups unmined and non-final: nothing to do, the reason naming each one\'s nLockTime; commitment list: funding-pending; Bob\'s commitment is refused by the node (its input does not exist yet)', async () => {
    const tip = await n.tip();
    expect(ch1.locktime).toBeGreaterThan(tip);
    const r = await once();
    for (const c of [ch1, ch2]) {
      const d = decision(r, c.channel.id);
      expect(d.action).toBe('none');
      expect(d.reason).toContain(`non-final until the tip reaches its nLockTime ${c.locktime} (${c.locktime - tip} block(s) to go`);
      expect(await listed(c.channel.id)).toMatchObject({ status: 'funding-pending', must_act: false, chain: { funding: 'not-mined', in_mempool: false, funding_locktime: c.locktime } });
    }
    expect(r.summary.errors).toBe(0);
    expect(await human()).toContain(`funding not mined (a statechain backup, nLockTime ${ch1.locktime})`);
    expect(await n.mempool(revoked.hex)).toMatchObject({ allowed: false, 'reject-reason': 'missing-inputs' });
  }, 120_000);

  it('channel 1 (anchored terms): one watcher over part A\'s directory, nothing else typed — at the funding backup\'s locktime it sends it with a child of the node\'s wallet, Core mines it; Bob broadcasts his revoked commitment and the next round punishes it, Core mines the justice transaction, its signature verified by hand', async () => {
    const fundingTxid = ch1.channel.id.split(':')[0]!;
    await n.mine(ch1.locktime - 1 - (await n.tip()));
    // One block early: non-final — nothing sent by either kind.
    expect(await n.mempool(ch1.backups[1]!)).toMatchObject({ allowed: false });
    const early = await once();
    expect(pairCoin(early, ch1.coinId).action).toBe('none');
    expect(decision(early, ch1.channel.id).reason).toContain(`non-final until the tip reaches its nLockTime ${ch1.locktime} (1 block(s) to go`);
    expect(await rpc<string[]>('getrawmempool')).toEqual([]);
    await n.mine(1);
    // Final: a dry run says what the round would do — the channel's funding final and not sent, the pair's kind sending it.
    const dry = await once(['--dry-run']);
    expect(decision(dry, ch1.channel.id).reason).toContain(`final (nLockTime ${ch1.locktime}) but not sent`);
    expect(pairCoin(dry, ch1.coinId).action).toBe('backup');
    expect((await listed(ch1.channel.id)).next).toMatch(/^send the funding: /);
    const sent = await once();
    expect(pairCoin(sent, ch1.coinId)).toMatchObject({ action: 'backup', txid: fundingTxid });
    expect((await rpc<{ spentby: string[] }>('getmempoolentry', [fundingTxid])).spentby).toHaveLength(1); // its child, on the anchor
    await n.mine(1);
    expect((await rpc<{ confirmations?: number }>('getrawtransaction', [fundingTxid, 1])).confirmations).toBe(1);
    expect(decision(await once(), ch1.channel.id)).toMatchObject({ action: 'none' });
    expect(await listed(ch1.channel.id)).toMatchObject({ status: 'open', chain: { funding: 'unspent' } });

    // The cheat.
    await rpc('sendrawtransaction', [revoked.hex]);
    const d = decision(await once(), ch1.channel.id);
    expect(d.action, JSON.stringify(d)).toBe('penalty');
    const justice = await rpc<string[]>('getrawmempool');
    expect(justice).toHaveLength(2); // the revoked commitment and the justice transaction on its to_local (the funding and its child are mined)
    await n.mine(1);
    expect(await rpc<string[]>('getrawmempool')).toEqual([]);
    const block = await rpc<{ tx: string[] }>('getblock', [await rpc<string>('getbestblockhash'), 1]);
    const commitment = parseTx(revoked.hex);
    const penalty = (await Promise.all(block.tx.map((t) => rpc<string>('getrawtransaction', [t])))).map((hex) => ({ hex, tx: parseTx(hex) }))
      .find((t) => t.tx.inputs.some((i) => i.txid === revoked.txid));
    expect(penalty, 'the justice transaction is mined').toBeDefined();
    // Bob's to_local (350,000 less the commitment's fee, his as the opener's peer: not his to pay), to --sweep-to.
    const input = penalty!.tx.inputs[0]!;
    const spent = commitment.outputs[input.vout]!;
    expect(penalty!.tx.outputs.map((o) => hexOf(o.script))).toEqual([(await rpc<{ scriptPubKey: string }>('getaddressinfo', [n.sweepTo])).scriptPubKey]);
    expect(spent.amount).toBe(350_000n);
    // The witness script Bob's to_local commits to opens with OP_IF <revocationpubkey>: the justice signature is that key's.
    const script = penalty!.tx.inputs[0]!.witness.at(-1)!;
    expect([script[0], script[1]]).toEqual([0x63, 0x21]);
    expect(() => verifyP2wshSignature(penalty!.hex, 0, spent, script.subarray(2, 35))).not.toThrow();
    // The same check refuses another key, and another amount (the BIP-143 digest commits to it).
    expect(() => verifyP2wshSignature(penalty!.hex, 0, spent, bytesOf(`02${'79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798'}`))).toThrow(/does not verify/);
    expect(() => verifyP2wshSignature(penalty!.hex, 0, { ...spent, amount: spent.amount - 1n }, script.subarray(2, 35))).toThrow(/does not verify/);
  }, 180_000);

  it('channel 2: its funding backup never sent (no watcher ran), Alice\'s older backup of the coin final five blocks later and mined — the channel can never be on chain: said, no error, nothing sent; done 6 deep; commitment list: funding-lost', async () => {
    const older = parseTx(ch2.backups[0]!);
    expect(older.lockTime).toBe(ch2.locktime + 5);
    await n.mine(older.lockTime - (await n.tip()));
    // Mined before any round: a watcher of the pair's (this one, with the part's key) would otherwise try to replace it with the pair's backup.
    await n.acceptAndMine(ch2.backups[0]!);
    const r = decision(await once(), ch2.channel.id);
    expect(r).toMatchObject({ action: 'none', txid: older.txid });
    expect(r.reason).toContain(`the channel can never be on chain: its coin's outpoint ${older.inputs[0]!.txid}:${older.inputs[0]!.vout} is spent by ${older.txid} (mined, 1 confirmation(s))`);
    await n.mine(5);
    const done = await once();
    expect(decision(done, ch2.channel.id)).toMatchObject({ action: 'done', txid: older.txid });
    expect(await rpc<string[]>('getrawmempool')).toEqual([]);
    expect(await listed(ch2.channel.id)).toMatchObject({ status: 'funding-lost', must_act: false, chain: { lost_to: { txid: older.txid, confirmations: 6 } } });
    expect(await human()).toContain(`funding not mined (a statechain backup, nLockTime ${ch2.locktime}); its coin ${older.inputs[0]!.txid}:${older.inputs[0]!.vout} spent by ${older.txid}, 6 confirmations`);
  }, 120_000);
});
