/**
 * `offchain watch` keeps a BOLT 2/3 channel party's deadline on a real `bitcoind -regtest`
 * (issue 71, "the counterparty cheats"): channels opened and advanced by the CLI (`commitment
 * points/init/sign/receive-sigs/receive-revocation`, as test/regtest/bolt3.test.ts does them),
 * the peer (Bob) broadcasts a commitment he revoked, and with only `offchain watch` running
 * beside the node Alice's justice transactions — to_local, each HTLC output, and the output of
 * Bob's HTLC-timeout — are mined before to_self_delay runs out, paid to --sweep-to: their fee
 * rising block by block while a fee spike keeps them out of blocks (Core's prioritisetransaction
 * takes their fee away from the block template), never above --max-fee-rate; a reorganisation
 * un-mines them and the watcher keeps them going; a long-running watcher killed (SIGKILL) at
 * random points and started again, new to the channel (it finds the spender by walking back
 * through the blocks), takes every output once. The peer's current commitment: `wait`, then
 * `done`, nothing sent. `commitment list` (no key, spawned beside the node) shows each channel as
 * the chain has it: open, then penalty-due (its deadline and what is left to take) until every
 * revocable output is taken in a block (penalized); peer-closed; force-closed with the block its
 * to_local is Alice's from. Skipped, visibly, without bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../../src/lib/bytes.ts';
import { Value } from '@sinclair/typebox/value';
import { WatchReportSchema } from '../../src/lib/watch/schemas.ts';
import { findBitcoind } from './bitcoind.ts';
import { BIN, assertBuilt, describeRun, offchain } from './offchain-cli.ts';
import { ENV, channels, nodeViews, type Verbose } from './bolt3-channels.ts';
import { tempDir } from '../helpers.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND
  ? `offchain watch punishes a revoked BOLT 3 commitment on bitcoind -regtest (${BITCOIND})`
  : 'offchain watch punishes a revoked BOLT 3 commitment on bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

/** The delay on Bob's commitments (Alice imposes it): Alice's punishment window. */
const DELAY = 10;
const FUNDING_SAT = 1_000_000;
/** Alice's watcher's budget, sat/vB. */
const BUDGET = 20;

type Decision = { kind: string; contract: string; action: string; deadline: number; blocks_left: number; reason: string; fee_rate?: number; txid?: string; error?: string; shortfall?: string };
type Report = { type: string; tip: { height: number }; reorg?: { depth: number }; decisions: Decision[]; summary: { errors: number } };

describe.skipIf(!BITCOIND)(TITLE, () => {
  let n: FundedNode;
  const tmp = tempDir('offchain-regtest-watch-channel-');
  const { rpc, verbose, sat, mempool, outbid, justiceInMempool, feeRate, firstSwept, spenderOf } = nodeViews(() => n);

  const { openChannel, htlc, revokedWithHtlcs } = channels({ node: () => n, dir: tmp.path, delay: DELAY, fundingSat: FUNDING_SAT });
  const dirs1 = { alice: join(tmp.path, 'alice1'), bob: join(tmp.path, 'bob1') };
  const dirs2 = { alice: join(tmp.path, 'alice2'), bob: join(tmp.path, 'bob2') };
  /** Alice knows the preimage of the HTLC Bob offers her on channel 5 (a 0600 file, as commitment claim reads it). */
  const preimageFile = join(tmp.path, 'preimage-6.hex');
  writeFileSync(preimageFile, toHex(sha256(Uint8Array.of(6))), { mode: 0o600 });
  const watchArgs = (dir: string, extra: string[] = []) => [
    'watch', '--state-dir', dir, ...n.chain(), '--revocation-key-env', 'A_REVOCATION', '--delayed-key-env', 'A_DELAYED', '--htlc-key-env', 'A_HTLC', '--preimage-file', preimageFile,
    '--sweep-to', n.sweepTo, '--max-fee-rate', String(BUDGET), ...extra,
  ];
  const once = async (dir: string): Promise<Report> => {
    const r = await offchain([...watchArgs(dir), '--once'], { env: ENV });
    expect(r.status, describeRun(r)).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect([...Value.Errors(WatchReportSchema, report)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
    return report;
  };
  type ChannelRow = { channel_id: string; status: string; must_act: boolean; chain?: Record<string, unknown>; penalty?: { deadline_height: number; blocks_left: number; outputs_left: number | null; in_mempool: number }; sweep_from?: number; sent?: { txid: string; confirmations: number | null }[]; next: string };
  /** `commitment list` of a state directory beside the node: no key given (none is needed), the built CLI spawned. */
  const listed = async (dir: string, id: string, extra: string[] = []): Promise<ChannelRow> => {
    const r = await offchain(['commitment', 'list', '--state-dir', dir, ...n.chain(), ...extra], { env: {} });
    expect(r.status, describeRun(r)).toBe(0);
    const m = JSON.parse(r.stdout) as { type: string; channels: ChannelRow[] };
    expect(m.type).toBe('bolt3/channels');
    const row = m.channels.find((c) => c.channel_id === id);
    expect(row, r.stdout).toBeDefined();
    return row!;
  };
  const decision = (r: Report, id: string) => {
    const d = r.decisions.find((x) => x.kind === 'channel' && x.contract === id);
    expect(d, JSON.stringify(r)).toBeDefined();
    return d!;
  };

  let ch1: Awaited<ReturnType<typeof openChannel>>;
  let ch3: Awaited<ReturnType<typeof openChannel>>;
  let revoked1: Awaited<ReturnType<Awaited<ReturnType<typeof openChannel>>['bobsCommitment']>>;
  let bobsCltv: number;

  beforeAll(async () => {
    assertBuilt();
    n = await startFundedNode(BITCOIND!, 'watch-channel');
    // Channel 1: Bob keeps his commitment 1 (an HTLC each way) signed, then revokes it.
    ({ channel: ch1, revoked: revoked1, bobsCltv } = await revokedWithHtlcs(dirs1));
    // Channel 3, in the same state directories: Bob will close with his current commitment.
    ch3 = await openChannel(dirs1);
    await ch3.update(0, 500_000, 500_000, []);
  }, 120_000);
  afterAll(async () => {
    await n?.stop();
    tmp.cleanup();
  });

  it('refused before anything is decided: a state directory with channels and no revocation key, or the wrong one', async () => {
    const missing = await offchain(['watch', '--state-dir', dirs1.alice, ...n.chain(), '--sweep-to', n.sweepTo, '--once'], { env: ENV });
    expect([missing.status, missing.stdout]).toEqual([2, '']);
    expect(missing.stderr).toMatch(/^offchain: error E_NO_KEY: .*--revocation-key-env/m);
    const wrong = await offchain(['watch', '--state-dir', dirs1.alice, ...n.chain(), '--revocation-key-env', 'NOT_ALICES', '--sweep-to', n.sweepTo, '--once'], { env: ENV });
    expect([wrong.status, wrong.stdout]).toEqual([4, '']);
    expect(wrong.stderr).toMatch(/^offchain: error E_WRONG_KEY: /m);
    expect(wrong.stderr).not.toContain(ENV.NOT_ALICES);
    const noSweep = await offchain(['watch', '--state-dir', dirs1.alice, ...n.chain(), '--revocation-key-env', 'A_REVOCATION', '--once'], { env: ENV });
    expect(noSweep.status).toBe(2);
    expect(noSweep.stderr).toMatch(/^offchain: error E_USAGE: .*--sweep-to/m);
    expect(await mempool()).toEqual([]);
  }, 60_000);

  it('Bob broadcasts his revoked commitment: the watcher punishes it from the mempool on, its bids rising each block of a fee spike, takes his HTLC-timeout\'s output too, everything mined before to_self_delay runs out and paid to --sweep-to; a reorganisation un-mines it, the watcher keeps it going; then done', async () => {
    const tip0 = await n.tip();
    const idle = decision(await once(dirs1.alice), ch1.id);
    expect(idle).toMatchObject({ action: 'none', blocks_left: DELAY });
    expect(await listed(dirs1.alice, ch1.id)).toMatchObject({ status: 'open', chain: { funding: 'unspent' }, must_act: false });
    // The cheat, in the mempool.
    expect(await n.mempool(revoked1.hex)).toMatchObject({ allowed: true });
    await rpc('sendrawtransaction', [revoked1.hex]);
    // Before the watcher's first round the list says what is due: its three revocable outputs (to_local and both HTLCs), by tip + to_self_delay.
    expect(await listed(dirs1.alice, ch1.id)).toMatchObject({
      status: 'penalty-due', must_act: true, chain: { funding: 'spent', spent_by: 'revoked-commitment', txid: revoked1.txid, confirmations: 0, commitment_number: 1 },
      penalty: { deadline_height: tip0 + DELAY, blocks_left: DELAY, outputs_left: 3, in_mempool: 0 },
    });
    const commitment = await verbose(revoked1.txid);
    const values = commitment.vout.map((o) => sat(o.value));
    const rates: number[] = [];
    let first = true;
    let tip = tip0;
    let secondStage: Verbose | undefined;
    const spiked: string[] = [];
    let commitmentHeight = Infinity;
    for (let round = 0; round < 5; round++) {
      const r = await once(dirs1.alice);
      const d = decision(r, ch1.id);
      expect(d.error, JSON.stringify(d)).toBeUndefined();
      expect(d.action, JSON.stringify(d)).toBe(first || (round === 3) ? 'penalty' : 'rebid');
      // Conservative while the commitment is in the mempool (it may be mined in the next block); then its height + to_self_delay − 1.
      expect(d.deadline).toBe(round === 0 ? tip + DELAY : commitmentHeight + DELAY - 1);
      if (round !== 3) rates.push(d.fee_rate!);
      first = false;
      const justice = await justiceInMempool();
      // One per output: to_local and both HTLCs (then Bob's HTLC-timeout's output in place of his HTLC's).
      expect(justice).toHaveLength(3);
      // Justice transactions in the mempool are on their way, not taken: still due, all three left.
      if (round === 0) expect((await listed(dirs1.alice, ch1.id)).penalty).toMatchObject({ outputs_left: 3, in_mempool: 3 });
      for (const j of justice) {
        expect(j.vin).toHaveLength(1);
        expect(await feeRate(j.txid)).toBeLessThanOrEqual(BUDGET);
      }
      if (round === 2) {
        // Bob's HTLC-timeout is final now: it replaces Alice's justice transaction on that HTLC (held out of blocks by the spike).
        const timeout = revoked1.htlc_txs.find((h) => h.kind === 'htlc-timeout')!;
        expect(timeout.locktime).toBe(bobsCltv);
        expect(await n.tip()).toBeGreaterThanOrEqual(bobsCltv);
        await rpc('sendrawtransaction', [timeout.hex]);
        secondStage = await verbose(timeout.txid);
      }
      if (round < 3) for (const j of justice) await outbid(j.txid), spiked.push(j.txid); // the spike goes on
      await n.mine(1);
      tip++;
      if (round === 0) {
        expect((await verbose(revoked1.txid)).confirmations).toBe(1);
        commitmentHeight = tip;
      }
      if (round === 3) break;
    }
    // The spike is over: Core forgets what it took away (a transaction sent again later is the market's to price).
    for (const txid of spiked) await rpc('prioritisetransaction', [txid, 0, 100_000_000]);
    // The bids rose each block, within the budget.
    for (let i = 1; i < rates.length; i++) expect(rates[i]!, rates.join(', ')).toBeGreaterThan(rates[i - 1]!);
    expect(Math.max(...rates)).toBeLessThanOrEqual(BUDGET);
    // Everything mined, before the deadline: to_local, the HTLC Bob offered Alice (received, 50,000), and the output of his HTLC-timeout.
    expect(await mempool()).toEqual([]);
    const block = await rpc<{ height: number; tx: string[] }>('getblock', [await rpc<string>('getbestblockhash'), 1]);
    expect(block.height).toBeLessThanOrEqual(commitmentHeight + DELAY - 1);
    const mined = await Promise.all(block.tx.map(verbose));
    const penalties = mined.filter((t) => t.vout.length === 1 && t.vout[0]!.scriptPubKey.address === n.sweepTo);
    expect(penalties).toHaveLength(3);
    const spent = penalties.map((p) => `${p.vin[0]!.txid}:${p.vin[0]!.vout}`).sort();
    const toLocal = values.indexOf(260_000);
    const theirHtlc = values.indexOf(50_000);
    expect(spent).toEqual([`${revoked1.txid}:${toLocal}`, `${revoked1.txid}:${theirHtlc}`, `${secondStage!.txid}:0`].sort());
    // Paid to --sweep-to: what each output held, less its fee (each fee within the budget).
    for (const p of penalties) {
      const input = p.vin[0]!;
      const value = input.txid === revoked1.txid ? values[input.vout]! : sat(secondStage!.vout[0]!.value);
      const fee = value - sat(p.vout[0]!.value);
      expect(fee).toBeGreaterThan(0);
      expect(fee / (await rpc<{ vsize: number }>('getrawtransaction', [p.txid, 1])).vsize).toBeLessThanOrEqual(BUDGET);
    }
    expect(decision(await once(dirs1.alice), ch1.id).action).toBe('wait');
    // Every revocable output taken in a block (the HTLC-timeout's output too): penalized, the watcher's three transactions mined.
    const punished = await listed(dirs1.alice, ch1.id);
    expect(punished).toMatchObject({ status: 'penalized', must_act: false, penalty: { deadline_height: commitmentHeight + DELAY - 1, outputs_left: 0, in_mempool: 0 } });
    expect(punished.sent!.map((x) => x.txid).filter((t) => penalties.some((p) => p.txid === t)).length).toBe(3);
    for (const x of punished.sent!.filter((y) => penalties.some((p) => p.txid === y.txid))) expect(x.confirmations).toBe(1);
    const human = await offchain(['commitment', 'list', '--state-dir', dirs1.alice, ...n.chain(), '--human'], { env: {} });
    expect(human.status, describeRun(human)).toBe(0);
    expect(human.stdout).toContain(`${ch1.id}  penalized\n`);

    // A reorganisation un-mines the penalties: back in the mempool, held or rebid, then mined again on the new branch.
    const best = await rpc<string>('getbestblockhash');
    await rpc('invalidateblock', [best]);
    const again = await once(dirs1.alice);
    expect(again.reorg).toMatchObject({ depth: 1 });
    expect(['hold', 'rebid', 'rebroadcast']).toContain(decision(again, ch1.id).action);
    await rpc('generatetoaddress', [1, await n.wallet.call<string>('getnewaddress', ['', 'bech32m'])]);
    expect(await mempool()).toEqual([]);
    expect(decision(await once(dirs1.alice), ch1.id).action).toBe('wait');
    await n.mine(5);
    const done = decision(await once(dirs1.alice), ch1.id);
    expect(done.action, JSON.stringify(done)).toBe('done');

    // Deeper: the revoked commitment's own block replaced. Core takes the commitment and the penalties on it back into its
    // mempool, but not Bob's HTLC-timeout (not final below its cltv_expiry) nor the justice child on it: the HTLC output
    // is the commitment's again, and the watcher sends the justice transaction it sent for it before (rebroadcast).
    const before = await n.tip();
    await rpc('invalidateblock', [await rpc<string>('getblockhash', [commitmentHeight])]);
    expect(await n.tip()).toBe(commitmentHeight - 1);
    const pool = await mempool();
    expect(pool).toContain(revoked1.txid);
    expect(pool).not.toContain(secondStage!.txid);
    const deep = await once(dirs1.alice);
    expect(deep.reorg).toMatchObject({ depth: before - commitmentHeight + 1, fork_height: commitmentHeight - 1, deep: false });
    const back = decision(deep, ch1.id);
    expect(back, JSON.stringify(back)).toMatchObject({ action: 'rebroadcast', deadline: commitmentHeight - 1 + DELAY });
    expect(back.error, JSON.stringify(back)).toBeUndefined();
    const bobsHtlc = values.indexOf(40_000);
    const spender = await rpc<{ spendingtxid?: string }[]>('gettxspendingprevout', [[{ txid: revoked1.txid, vout: bobsHtlc }]]);
    expect((await verbose(spender[0]!.spendingtxid!)).vout.map((o) => o.scriptPubKey.address)).toEqual([n.sweepTo]);
    await rpc('generatetoaddress', [1, await n.wallet.call<string>('getnewaddress', ['', 'bech32m'])]);
    expect(await mempool()).toEqual([]);
    expect((await verbose(spender[0]!.spendingtxid!)).confirmations).toBe(1);
    await n.mine(5);
    expect(decision(await once(dirs1.alice), ch1.id).action).toBe('done');
    expect(await listed(dirs1.alice, ch1.id)).toMatchObject({ status: 'penalized', must_act: false });
  }, 120_000);

  it('Bob closes with his current commitment: the watcher waits, sends nothing, and is done once it is final', async () => {
    const current = await ch3.bobsCommitment();
    expect(current.commitment_number).toBe(0);
    await n.acceptAndMine(current.hex);
    const d = decision(await once(dirs1.alice), ch3.id);
    expect(d).toMatchObject({ action: 'wait', txid: current.txid });
    expect(d.reason).toMatch(/current commitment/);
    expect(await mempool()).toEqual([]);
    await n.mine(5);
    expect(decision(await once(dirs1.alice), ch3.id).action).toBe('done');
    expect(await listed(dirs1.alice, ch3.id)).toMatchObject({ status: 'peer-closed', chain: { spent_by: 'their-commitment', txid: current.txid, confirmations: 6, commitment_number: 0 }, must_act: false });
  }, 60_000);

  it('Alice closes with her own commitment: the watcher waits out to_self_delay, then sweeps her to_local to --sweep-to at the first block BIP-68 allows, mined; then done', async () => {
    const ch4 = await openChannel(dirs1);
    await ch4.update(0, 500_000, 500_000, []);
    const own = await ch4.alicesCommitment();
    expect(own.commitment_number).toBe(0);
    await n.acceptAndMine(own.hex);
    const height = await n.tip();
    // Her to_local is hers from block height + to_self_delay (nSequence = to_self_delay).
    expect(decision(await once(dirs1.alice), ch4.id)).toMatchObject({ action: 'wait', deadline: height + DELAY, txid: own.txid });
    expect(await listed(dirs1.alice, ch4.id)).toMatchObject({ status: 'force-closed', chain: { spent_by: 'own-commitment', txid: own.txid, confirmations: 1 }, sweep_from: height + DELAY, must_act: false });
    await n.mine(DELAY - 2);
    expect(decision(await once(dirs1.alice), ch4.id).action).toBe('wait');
    expect(await mempool()).toEqual([]);
    await n.mine(1); // the tip at height + to_self_delay − 1: the next block may hold the sweep
    const d = decision(await once(dirs1.alice), ch4.id);
    expect(d, JSON.stringify(d)).toMatchObject({ action: 'sweep' });
    expect(d.error).toBeUndefined();
    const sweep = await verbose(d.txid!);
    const commitment = await verbose(own.txid);
    const toLocal = commitment.vout.find((o) => sat(o.value) > 400_000 && sat(o.value) < 500_000)!;
    expect(sweep.vin).toMatchObject([{ txid: own.txid, vout: toLocal.n }]);
    expect(sweep.vout.map((o) => o.scriptPubKey.address)).toEqual([n.sweepTo]);
    const fee = sat(toLocal.value) - sat(sweep.vout[0]!.value);
    expect(fee).toBeGreaterThan(0);
    expect(fee / (await rpc<{ vsize: number }>('getmempoolentry', [sweep.txid])).vsize).toBeLessThanOrEqual(BUDGET);
    await n.mine(1);
    expect((await verbose(sweep.txid)).confirmations).toBe(1);
    expect(decision(await once(dirs1.alice), ch4.id).action).toBe('wait');
    await n.mine(5);
    expect(decision(await once(dirs1.alice), ch4.id).action).toBe('done');
  }, 60_000);

  it('Alice\'s own commitment holding an HTLC each way is mined: the watcher sends her HTLC-success (preimage given) at once, her HTLC-timeout at its cltv_expiry (non-final a block earlier), each second stage\'s output and her to_local swept once to_self_delay allows, all to --sweep-to; then done', async () => {
    const dirs3 = { alice: join(tmp.path, 'alice3'), bob: join(tmp.path, 'bob3') };
    const ch6 = await openChannel(dirs3);
    const t0 = await n.tip();
    const cltv = t0 + 8;
    await ch6.update(0, 500_000, 500_000, []);
    await ch6.update(1, 470_000, 480_000, [htlc('offered', 30_000, 5, cltv), htlc('received', 20_000, 6, t0 + 40)]);
    const own = (await ch6.alicesCommitment()) as unknown as { txid: string; hex: string; commitment_number: number; htlc_txs: { kind: string; txid: string; hex?: string }[] };
    expect(own.commitment_number).toBe(1);
    const timeoutHex = own.htlc_txs.find((h) => h.kind === 'htlc-timeout')!.hex!;
    await n.acceptAndMine(own.hex);
    const height = await n.tip();
    const commitment = await verbose(own.txid);
    const vout = (v: number) => commitment.vout.find((o) => sat(o.value) === v)!.n;
    const toLocal = commitment.vout.find((o) => sat(o.value) > 400_000 && sat(o.value) < 470_000)!.n;
    const run = async (dir = dirs3.alice) => {
      const d = decision(await once(dir), ch6.id);
      expect(d.error, JSON.stringify(d)).toBeUndefined();
      return d;
    };
    // The HTLC-success, with the preimage: at once (it must be mined by its cltv_expiry, t0 + 40); the next thing due is the HTLC-timeout, at its own.
    expect(await run()).toMatchObject({ action: 'sweep', deadline: cltv });
    const success = await verbose((await spenderOf(own.txid, vout(20_000)))!);
    expect(await spenderOf(own.txid, vout(30_000))).toBeUndefined();
    await n.mine(1);
    const h2 = height + 1;
    expect((await verbose(success.txid)).confirmations).toBe(1);
    // The tip one below cltv_expiry: the HTLC-timeout is non-final; the watcher waits.
    await n.mine(cltv - 1 - (await n.tip()));
    expect(await run()).toMatchObject({ action: 'wait' });
    expect(await spenderOf(own.txid, vout(30_000))).toBeUndefined();
    const early = await rpc<{ allowed: boolean; 'reject-reason'?: string }[]>('testmempoolaccept', [[timeoutHex]]);
    expect(early[0]).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
    await n.mine(1);
    expect(await run()).toMatchObject({ action: 'sweep' });
    const timeout = (await spenderOf(own.txid, vout(30_000)))!;
    expect(timeout).toBe(own.htlc_txs.find((h) => h.kind === 'htlc-timeout')!.txid);
    await n.mine(1);
    const h3 = cltv + 1;
    // Block by block: each delayed output's sweep first seen with the tip at its confirmation + to_self_delay − 1, never earlier.
    const firstSeen = await firstSwept({ success: [success.txid, 0], timeout: [timeout, 0], to_local: [own.txid, toLocal] }, () => run(), h3 + DELAY + 3);
    expect(firstSeen).toEqual({ success: h2 + DELAY - 1, timeout: h3 + DELAY - 1, to_local: height + DELAY - 1 });
    expect(await mempool()).toEqual([]);
    expect((await run()).action).toBe('wait');
    await n.mine(5);
    expect((await run()).action).toBe('done');
  }, 120_000);

  it('Alice\'s own commitment is mined and her watcher first runs past the incoming HTLC\'s cltv_expiry, Bob gone: her HTLC-success (preimage given) still goes out — Core takes it then — and is mined to her, not left for Bob to time out (attack review of issue 71: it was `done`, nothing sent)', async () => {
    const dirs4 = { alice: join(tmp.path, 'alice4'), bob: join(tmp.path, 'bob4') };
    const ch7 = await openChannel(dirs4);
    const t0 = await n.tip();
    const cltv = t0 + 6;
    await ch7.update(0, 500_000, 500_000, []);
    await ch7.update(1, 480_000, 500_000, [htlc('received', 20_000, 6, cltv)]);
    const own = (await ch7.alicesCommitment()) as unknown as { txid: string; hex: string };
    await n.acceptAndMine(own.hex);
    const commitment = await verbose(own.txid);
    const htlcVout = commitment.vout.find((o) => sat(o.value) === 20_000)!.n;
    // Alice's watcher was down until two blocks past cltv_expiry: Bob's timeout has been valid since the tip reached it.
    await n.mine(cltv + 2 - (await n.tip()));
    // commitment list, a runbook's page while the watcher is down: an HTLC output of hers is at stake (it said must_act false, only her to_local).
    const before = await listed(dirs4.alice, ch7.id);
    expect(before).toMatchObject({ status: 'force-closed', must_act: true, htlc_outputs: { unspent: 1, soonest_cltv_expiry: cltv } });
    expect(before.next).toMatch(/act: 1 HTLC output\(s\) unspent \(the soonest cltv_expiry \d+\)/);
    const d = decision(await once(dirs4.alice), ch7.id);
    expect(d.error, JSON.stringify(d)).toBeUndefined();
    expect(d).toMatchObject({ action: 'sweep', deadline: cltv });
    const spender = (await rpc<{ spendingtxid?: string }[]>('gettxspendingprevout', [[{ txid: own.txid, vout: htlcVout }]]))[0]!.spendingtxid;
    expect(spender).toBeDefined();
    await n.mine(1);
    const success = await verbose(spender!);
    expect(success.confirmations).toBe(1);
    // Its one output is Alice's delayed output (to_local-like: P2WSH), the HTLC less the second stage's fee.
    expect(success.vout).toHaveLength(1);
    expect((success.vout[0]!.scriptPubKey as { type?: string }).type).toBe('witness_v0_scripthash');
    // Taken: nothing of hers is at stake any more (the second stage's output is hers alone, swept after to_self_delay).
    expect(await listed(dirs4.alice, ch7.id)).toMatchObject({ status: 'force-closed', must_act: false, htlc_outputs: { unspent: 0 } });
  }, 60_000);

  it('Bob closes with his current commitment holding an HTLC each way: the watcher claims his with the preimage at once, takes Alice\'s back once its cltv_expiry is final — not a block earlier — both mined to --sweep-to; then done', async () => {
    const ch5 = await openChannel(dirs1);
    const t0 = await n.tip();
    const cltv = t0 + 6;
    await ch5.update(0, 500_000, 500_000, []);
    await ch5.update(1, 470_000, 480_000, [htlc('offered', 30_000, 5, cltv), htlc('received', 20_000, 6, t0 + 60)]);
    const current = await ch5.bobsCommitment();
    expect(current.commitment_number).toBe(1);
    await n.acceptAndMine(current.hex);
    const commitment = await verbose(current.txid);
    const vout = (v: number) => commitment.vout.find((o) => sat(o.value) === v)!.n;
    const spenderOf = async (o: number) => (await rpc<{ spendingtxid?: string }[]>('gettxspendingprevout', [[{ txid: current.txid, vout: o }]]))[0]!.spendingtxid;
    // Bob's HTLC, with its preimage: at once (its deadline is its cltv_expiry: then Bob may time it out).
    const claim = decision(await once(dirs1.alice), ch5.id);
    expect(claim, JSON.stringify(claim)).toMatchObject({ action: 'sweep', deadline: t0 + 60 });
    expect(claim.error).toBeUndefined();
    const claimTx = await verbose((await spenderOf(vout(20_000)))!);
    expect(claimTx.vout.map((o) => o.scriptPubKey.address)).toEqual([n.sweepTo]);
    expect(await spenderOf(vout(30_000))).toBeUndefined();
    await n.mine(1);
    // Alice's own HTLC: nLockTime = cltv_expiry, final once the tip reaches it.
    await n.mine(cltv - 1 - (await n.tip()));
    const early = decision(await once(dirs1.alice), ch5.id);
    expect(early).toMatchObject({ action: 'wait', deadline: cltv });
    expect(await mempool()).toEqual([]);
    await n.mine(1);
    expect(await n.tip()).toBe(cltv);
    const back = decision(await once(dirs1.alice), ch5.id);
    expect(back, JSON.stringify(back)).toMatchObject({ action: 'sweep' });
    const timeoutTx = await verbose((await spenderOf(vout(30_000)))!);
    expect(timeoutTx.vout.map((o) => o.scriptPubKey.address)).toEqual([n.sweepTo]);
    await n.mine(1);
    expect((await verbose(claimTx.txid)).confirmations).toBeGreaterThanOrEqual(1);
    expect((await verbose(timeoutTx.txid)).confirmations).toBe(1);
    expect(decision(await once(dirs1.alice), ch5.id).action).toBe('wait');
    await n.mine(5);
    expect(decision(await once(dirs1.alice), ch5.id).action).toBe('done');
  }, 60_000);

  it('a long-running watcher new to the channel (the revoked commitment and the cheater\'s HTLC-timeout mined before it started: the spender found by walking back, the second stage in the UTXO set), killed (SIGKILL) at random points and started again through a fee spike: every output taken once, mined before the deadline', async () => {
    const ch2 = await openChannel(dirs2);
    const t0 = await n.tip();
    await ch2.update(0, 700_000, 300_000, []);
    await ch2.update(1, 640_000, 300_000, [htlc('received', 60_000, 3, t0 + 4)]);
    const kept = await ch2.bobsCommitment();
    await ch2.update(2, 700_000, 300_000, []);
    // No watcher yet: Bob's revoked commitment mined, then his HTLC-timeout once final.
    await n.acceptAndMine(kept.hex);
    const height = await n.tip();
    const timeout = kept.htlc_txs.find((h) => h.kind === 'htlc-timeout')!;
    await n.mine(t0 + 4 - height);
    await n.acceptAndMine(timeout.hex!);
    const timeoutHeight = await n.tip();
    const outbidden = new Set<string>();
    let kills = 0;
    let log = '';
    while ((await n.tip()) < height + DELAY - 3) {
      const child = spawn(process.execPath, [BIN, ...watchArgs(dirs2.alice, ['--interval', '0.05'])], { env: { ...process.env, ...ENV, OFFCHAIN_CONFIG: '/dev/null' }, stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr.on('data', (b: Buffer) => (log += b.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const rounds = log.split('"event":"round"').length;
      try {
        // Every other start is killed at a random point of its life (its start, a round, a broadcast); the others
        // after a round ended (so the watcher gets somewhere on a busy machine), at a random point after it —
        // waited for up to 30 s: in CI's loaded run no start reached a round within the 5 s it had before.
        if (kills % 2 === 1) for (let i = 0; i < 600 && log.split('"event":"round"').length === rounds; i++) await new Promise((resolve) => setTimeout(resolve, 50));
        await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 1200)));
      } finally {
        child.kill('SIGKILL');
      }
      expect(await exited, `the watcher ended by itself before it was killed:\n${log}`).toBeNull();
      kills++;
      for (const txid of await mempool()) if (!outbidden.has(txid)) outbidden.add(txid), await outbid(txid);
      await n.mine(1);
    }
    expect(kills).toBeGreaterThanOrEqual(3);
    expect(log).toContain('"action":"penalty"');
    // The spike ends: one more round, one more block.
    for (const txid of outbidden) await rpc('prioritisetransaction', [txid, 0, 100_000_000]);
    const last = decision(await once(dirs2.alice), ch2.id);
    expect(last.error, JSON.stringify(last)).toBeUndefined();
    // The soonest deadline is to_local's: the commitment's height + to_self_delay − 1.
    expect(last.deadline).toBe(height + DELAY - 1);
    await n.mine(1);
    expect(await mempool()).toEqual([]);
    expect(await n.tip()).toBeLessThanOrEqual(height + DELAY - 1);
    // Every spend of the commitment's and the HTLC-timeout's outputs since: Bob's HTLC-timeout, and one transaction paying
    // --sweep-to for each of to_local and the HTLC-timeout's output — each taken once.
    const commitment = await verbose(kept.txid);
    const toLocal = commitment.vout.find((o) => sat(o.value) === 300_000)!.n;
    const spends: string[] = [];
    for (let h = height + 1; h <= (await n.tip()); h++) {
      const b = await rpc<{ tx: string[] }>('getblock', [await rpc<string>('getblockhash', [h]), 1]);
      for (const t of b.tx) {
        const v = await verbose(t);
        for (const i of v.vin) {
          if (i.txid !== kept.txid && i.txid !== timeout.txid) continue;
          const pays = v.vout.length === 1 && v.vout[0]!.scriptPubKey.address === n.sweepTo ? 'sweep-to' : v.txid === timeout.txid ? 'bob' : 'other';
          spends.push(`${i.txid === kept.txid ? 'commitment' : 'timeout'}:${i.txid === kept.txid && i.vout === toLocal ? 'to_local' : i.vout}:${pays}:${h <= (i.txid === kept.txid ? height : timeoutHeight) + DELAY - 1}`);
        }
      }
    }
    const htlcVout = commitment.vout.find((o) => sat(o.value) === 60_000)!.n;
    expect(spends.sort()).toEqual([`commitment:${htlcVout}:bob:true`, 'commitment:to_local:sweep-to:true', 'timeout:0:sweep-to:true'].sort());
    await n.mine(5);
    expect(decision(await once(dirs2.alice), ch2.id).action).toBe('done');
  }, 120_000);
});
