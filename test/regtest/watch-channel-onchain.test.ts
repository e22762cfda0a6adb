/**
 * `offchain watch` goes on chain for a BOLT 2/3 channel party on a real `bitcoind -regtest`
 * (issue 71, src/lib/watch/channel-onchain.ts): the channel is open, the peer (Bob) vanishes with
 * an HTLC in flight, and with only `offchain watch --once` run block by block Alice's latest
 * commitment is broadcast at the block the rule says — for an HTLC she received and knows the
 * preimage of, at cltv_expiry − 10, then its HTLC-success, mined before cltv_expiry; for one she
 * offered, at cltv_expiry + 3, then its HTLC-timeout (non-final a block before cltv_expiry + 1) —
 * and her outputs swept after to_self_delay. Core's script interpreter is the check of every
 * signature (BOLT 3 is ECDSA on segwit v0: test/independent verifies Schnorr only); the
 * independent parser checks what the commitment spends. Skipped, visibly, without bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../../src/lib/bytes.ts';
import { Value } from '@sinclair/typebox/value';
import { WatchReportSchema } from '../../src/lib/watch/schemas.ts';
import { parseTx } from '../independent/tx.ts';
import { findBitcoind } from './bitcoind.ts';
import { assertBuilt, describeRun, offchain } from './offchain-cli.ts';
import { A, B, ENV, channels, nodeViews } from './bolt3-channels.ts';
import { pointOf } from '../../src/lib/bolt3/index.ts';
import { tempDir } from '../helpers.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { pinThroughPeerAnchor } from './anchor-pin.ts';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND
  ? `offchain watch goes on chain for an HTLC about to be lost on bitcoind -regtest (${BITCOIND})`
  : 'offchain watch goes on chain for an HTLC about to be lost on bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

const DELAY = 10;
const FUNDING_SAT = 1_000_000;
const BUDGET = 20;

type Decision = { kind: string; contract: string; action: string; deadline: number; blocks_left: number; reason: string; fee_rate?: number; shortfall?: string; txid?: string; error?: string };
type Report = { decisions: Decision[] };

describe.skipIf(!BITCOIND)(TITLE, () => {
  let n: FundedNode;
  const tmp = tempDir('offchain-regtest-watch-onchain-');
  const { rpc, verbose, sat, mempool, spenderOf, firstSwept, outbid } = nodeViews(() => n);
  const { openChannel, htlc } = channels({ node: () => n, dir: tmp.path, delay: DELAY, fundingSat: FUNDING_SAT });
  const preimageFile = join(tmp.path, 'preimage-6.hex');
  writeFileSync(preimageFile, toHex(sha256(Uint8Array.of(6))), { mode: 0o600 });

  /** One round of Alice's watcher (--once), her every key given — the funding key and seed too: it may go on chain. */
  const once = async (dir: string, seed: string, id: string, extra: string[] = [], errorExpected = false): Promise<Decision> => {
    const r = await offchain([
      'watch', '--state-dir', dir, ...n.chain(), '--revocation-key-env', 'A_REVOCATION', '--delayed-key-env', 'A_DELAYED', '--htlc-key-env', 'A_HTLC', '--preimage-file', preimageFile,
      '--funding-key-env', 'A_FUNDING', '--seed-file', seed, '--sweep-to', n.sweepTo, '--max-fee-rate', String(BUDGET), '--once', ...extra,
    ], { env: ENV });
    expect(r.status, describeRun(r)).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(ENV.A_FUNDING);
    const report = JSON.parse(r.stdout) as Report;
    expect([...Value.Errors(WatchReportSchema, report)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
    const d = report.decisions.find((x) => x.kind === 'channel' && x.contract === id)!;
    if (!errorExpected) expect(d.error, JSON.stringify(d)).toBeUndefined();
    return d;
  };
  /** Rounds block by block while the funding is unspent: the tip at which the watcher sent the commitment, and its decision. */
  const untilOnChain = async (dir: string, seed: string, id: string, limit: number, extra: string[] = []) => {
    const [fundingTxid, fundingVout] = id.split(':') as [string, string];
    for (;;) {
      const tip = await n.tip();
      expect(tip).toBeLessThan(limit);
      const d = await once(dir, seed, id, extra);
      if (d.action !== 'none') return { tip, d };
      expect(await spenderOf(fundingTxid, Number(fundingVout))).toBeUndefined();
      await n.mine(1);
    }
  };

  /**
   * A wallet `walletName` holding one 0.001 BTC coin, an anchors channel whose latest commitment holds an HTLC Alice
   * received (cltv_expiry 14 blocks on, its preimage given), and rounds with --rpc-wallet until she goes on chain.
   */
  const anchorsOnChain = async (name: string, walletName: string) => {
    await rpc('createwallet', [walletName]);
    const fees = n.node.rpc.forWallet(walletName);
    await n.wallet.call('sendtoaddress', [await fees.call<string>('getnewaddress', ['', 'bech32']), 0.001]);
    await n.mine(1);
    const feeCoins = (await fees.call<{ txid: string; vout: number }[]>('listunspent')).map((u) => `${u.txid}:${u.vout}`);
    expect(feeCoins).toHaveLength(1);
    const dirs = { alice: join(tmp.path, `alice-${name}`), bob: join(tmp.path, `bob-${name}`) };
    const ch = await openChannel(dirs, 'anchors');
    const cltv = (await n.tip()) + 14;
    await ch.update(0, 500_000, 500_000, []);
    await ch.update(1, 480_000, 500_000, [htlc('received', 20_000, 6, cltv)]);
    const wallet = ['--rpc-wallet', walletName];
    return { dirs, ch, cltv, wallet, feeCoins, ...(await untilOnChain(dirs.alice, ch.aliceSeed, ch.id, cltv, wallet)) };
  };

  beforeAll(async () => {
    assertBuilt();
    n = await startFundedNode(BITCOIND!, 'watch-onchain');
  }, 120_000);
  afterAll(async () => {
    await n?.stop();
    tmp.cleanup();
  });

  it('(a) legacy: Bob vanishes holding an HTLC Alice received and knows the preimage of — her commitment goes out with the tip at cltv_expiry − 10, not a block earlier; its HTLC-success next, mined before cltv_expiry; then to_local and the second stage swept', async () => {
    const dirs = { alice: join(tmp.path, 'alice-a'), bob: join(tmp.path, 'bob-a') };
    const ch = await openChannel(dirs);
    const t0 = await n.tip();
    const cltv = t0 + 16;
    await ch.update(0, 500_000, 500_000, []);
    await ch.update(1, 480_000, 500_000, [htlc('received', 20_000, 6, cltv)]);
    const { tip, d } = await untilOnChain(dirs.alice, ch.aliceSeed, ch.id, cltv);
    expect(tip).toBe(cltv - 10);
    expect(d).toMatchObject({ action: 'exit', deadline: cltv });
    expect(await mempool()).toEqual([d.txid]);
    const raw = await rpc<string>('getrawtransaction', [d.txid]);
    const parsed = parseTx(raw);
    expect(parsed.inputs.map((i) => `${i.txid}:${i.vout}`)).toEqual([ch.id]);
    expect(parsed.txid).toBe(d.txid);
    // Its fee the one agreed (feerate_per_kw 2500 on BOLT 3's weight): the commitment is not bid.
    await n.mine(1);
    const height = tip + 1;
    expect((await verbose(d.txid!)).confirmations).toBe(1);
    // Recorded as out: the same round again is a sweep of the HTLC-success, and the record never revokes it (commitment sign refuses).
    const commitment = await verbose(d.txid!);
    const htlcVout = commitment.vout.find((o) => sat(o.value) === 20_000)!.n;
    const toLocal = commitment.vout.find((o) => sat(o.value) > 400_000 && sat(o.value) < 480_000)!.n;
    expect(await once(dirs.alice, ch.aliceSeed, ch.id)).toMatchObject({ action: 'sweep', deadline: cltv });
    const success = (await spenderOf(d.txid!, htlcVout))!;
    expect(success).toBeDefined();
    await n.mine(1);
    expect((await verbose(success)).confirmations).toBe(1);
    expect(height + 1).toBeLessThan(cltv);
    const firstSeen = await firstSwept({ success: [success, 0], to_local: [d.txid!, toLocal] }, () => once(dirs.alice, ch.aliceSeed, ch.id), height + 1 + DELAY + 3);
    expect(firstSeen).toEqual({ to_local: height + DELAY - 1, success: height + 1 + DELAY - 1 });
  }, 180_000);

  it('(b) legacy: Alice offered an HTLC, Bob neither fails nor fulfils it past its cltv_expiry — her commitment goes out with the tip at cltv_expiry + 3, then its HTLC-timeout (its nLockTime the cltv_expiry), both mined', async () => {
    const dirs = { alice: join(tmp.path, 'alice-b'), bob: join(tmp.path, 'bob-b') };
    const ch = await openChannel(dirs);
    const t0 = await n.tip();
    const cltv = t0 + 6;
    await ch.update(0, 500_000, 500_000, []);
    await ch.update(1, 470_000, 500_000, [htlc('offered', 30_000, 5, cltv)]);
    const { tip, d } = await untilOnChain(dirs.alice, ch.aliceSeed, ch.id, cltv + 10);
    expect(tip).toBe(cltv + 3);
    expect(d).toMatchObject({ action: 'exit' });
    expect(await mempool()).toEqual([d.txid]);
    await n.mine(1);
    const commitment = await verbose(d.txid!);
    expect(commitment.confirmations).toBe(1);
    const htlcVout = commitment.vout.find((o) => sat(o.value) === 30_000)!.n;
    expect(await once(dirs.alice, ch.aliceSeed, ch.id)).toMatchObject({ action: 'sweep' });
    const timeout = (await spenderOf(d.txid!, htlcVout))!;
    expect(timeout).toBeDefined();
    // Its nLockTime is the HTLC's cltv_expiry: non-final in any block up to it.
    expect((await verbose(timeout) as unknown as { locktime: number }).locktime).toBe(cltv);
    await n.mine(1);
    expect((await verbose(timeout)).confirmations).toBe(1);
  }, 180_000);

  it('(c) anchors, a node mining nothing under 5 sat/vB (-blockmintxfee): Alice\'s commitment goes out at cltv_expiry − 10 (its agreed ~10 sat/vB: what the schedule asks) with a child on her anchor at its rate (her place in its cluster), both mined at once, then her zero-fee HTLC-success with a fee input of the wallet named by --rpc-wallet (two wallets loaded: the node\'s default is no answer) — the child\'s change — rebid until mined, by cltv_expiry', async () => {
    const shared = n;
    n = await startFundedNode(BITCOIND!, 'watch-onchain-c', ['-blockmintxfee=0.00005']);
    try {
      const { dirs, ch, cltv, wallet, feeCoins, tip, d } = await anchorsOnChain('c', 'fees');
      expect(tip).toBe(cltv - 10);
      expect(d).toMatchObject({ action: 'exit', deadline: cltv });
      // Its agreed fee is what the schedule asks; the child beside it pays the commitment's rate on its own size (a version 2
      // commitment alone in the mempool is the peer's to pin: Core's cluster limits, no CPFP carve-out) — not the floor: the
      // commitment would then be mined alone, the child left with the wallet's only coin, and no confirmed coin for the HTLC-success.
      const pool = await mempool();
      expect(pool).toHaveLength(2);
      expect(pool).toContain(d.txid);
      const child = await verbose(pool.find((t) => t !== d.txid)!);
      expect(child.vin[0]!.txid).toBe(d.txid);
      expect(child.vin.slice(1).map((i) => `${i.txid}:${i.vout}`)).toEqual(feeCoins);
      let inSat = 330;
      for (const i of child.vin.slice(1)) inSat += sat((await verbose(i.txid)).vout[i.vout]!.value);
      const childFee = inSat - child.vout.reduce((a, o) => a + sat(o.value), 0);
      await n.mine(1);
      const commitment = await verbose(d.txid!);
      expect(commitment.confirmations).toBe(1);
      expect((await verbose(child.txid)).confirmations, 'the child mined with the commitment').toBe(1);
      const parentRate = (FUNDING_SAT - commitment.vout.reduce((a, o) => a + sat(o.value), 0)) / (commitment as unknown as { vsize: number }).vsize;
      expect(parentRate).toBeGreaterThan(5);
      expect(childFee / (child as unknown as { vsize: number }).vsize).toBeGreaterThanOrEqual(parentRate - 0.05);
      // Two 330-sat anchors beside to_local, to_remote and the HTLC.
      expect(commitment.vout.filter((o) => sat(o.value) === 330)).toHaveLength(2);
      const htlcVout = commitment.vout.find((o) => sat(o.value) === 20_000)!.n;
      // Without --rpc-wallet the node cannot say which wallet pays (two loaded): the second stage is not funded, and the round says why.
      const unnamed = await once(dirs.alice, ch.aliceSeed, ch.id, [], true);
      expect(unnamed.error).toMatch(/wallet/i);
      expect(await spenderOf(d.txid!, htlcVout)).toBeUndefined();
      expect((await once(dirs.alice, ch.aliceSeed, ch.id, wallet)).action).toMatch(/^(sweep|rebroadcast)$/);
      let success = (await spenderOf(d.txid!, htlcVout))!;
      expect(success).toBeDefined();
      const stage = await verbose(success);
      expect(stage.vin.slice(1).every((i) => i.txid === child.txid)).toBe(true); // the child's change: the wallet's coin now
      // The node mines nothing under 5 sat/vB: rebid on its schedule until mined, by cltv_expiry.
      for (;;) {
        await n.mine(1);
        if ((await verbose(success)).confirmations) break;
        expect(await n.tip()).toBeLessThan(cltv);
        await once(dirs.alice, ch.aliceSeed, ch.id, wallet);
        success = (await spenderOf(d.txid!, htlcVout)) ?? success;
      }
      expect(await n.tip()).toBeLessThanOrEqual(cltv);
    } finally {
      await n.stop();
      n = shared;
    }
  }, 180_000);

  it('(d) anchors through a fee spike (a node mining nothing under 17 sat/vB: -blockmintxfee): Alice\'s commitment (its agreed fee, ~10 sat/vB) goes out at cltv_expiry − 10; left out of blocks, a CPFP child on HER anchor (never Bob\'s) with a coin of the --rpc-wallet brings the package to the schedule\'s rate, rebid each block on that same coin within the budget, until mined before cltv_expiry − 1; then her HTLC-success, mined by cltv_expiry', async () => {
    const shared = n;
    n = await startFundedNode(BITCOIND!, 'watch-onchain-spike', ['-blockmintxfee=0.00017']);
    try {
      const { dirs, ch, cltv, wallet, tip, d } = await anchorsOnChain('d', 'cpfp');
      expect(tip).toBe(cltv - 10);
      expect(d.action).toBe('exit');
      const commitmentTxid = d.txid!;
      const commitment = await verbose(commitmentTxid);
      const parentFee = FUNDING_SAT - commitment.vout.reduce((a, o) => a + sat(o.value), 0);
      const parentVsize = (commitment as unknown as { vsize: number }).vsize;
      const anchors = commitment.vout.filter((o) => sat(o.value) === 330).map((o) => o.n);
      expect(anchors).toHaveLength(2);
      type Child = { txid: string; fee: number; coins: string[]; packageRate: number; reported: number; tip: number };
      const children: Child[] = [];
      // With the commitment, a child at the node's floor (its place in the cluster): what the rebids below replace, on its coin.
      const [ra, rb] = await Promise.all(anchors.map((v) => spenderOf(commitmentTxid, v)));
      expect([ra, rb].filter((x) => x !== undefined)).toHaveLength(1);
      const reserve = await verbose((ra ?? rb)!);
      const reserveCoins = reserve.vin.slice(1).map((i) => `${i.txid}:${i.vout}`);
      // Block by block: the commitment stays out of blocks until its package pays 17 sat/vB.
      while ((await verbose(commitmentTxid)).confirmations === undefined) {
        const now = await n.tip();
        expect(now, `children so far: ${JSON.stringify(children)}`).toBeLessThan(cltv - 1);
        const r = await once(dirs.alice, ch.aliceSeed, ch.id, wallet);
        const [a, b] = await Promise.all(anchors.map((v) => spenderOf(commitmentTxid, v)));
        // Bob's anchor is never spent.
        const childTxid = a ?? b;
        expect([a, b].filter((x) => x !== undefined).length).toBeLessThanOrEqual(1);
        if (childTxid !== undefined && childTxid !== reserve.txid && children.at(-1)?.txid !== childTxid) {
          expect(r.action, JSON.stringify(r)).toMatch(/^(exit|rebid)$/);
          const child = await verbose(childTxid);
          // Input 0: her anchor — its witness script <alice's funding pubkey> OP_CHECKSIG …
          expect(child.vin[0]).toMatchObject({ txid: commitmentTxid });
          const script = (child.vin[0] as unknown as { txinwitness: string[] }).txinwitness[1]!;
          expect(script.slice(2, 68)).toBe(toHex(pointOf(A.funding)));
          expect(script).not.toContain(toHex(pointOf(B.funding)));
          let inSat = 330;
          for (const i of child.vin.slice(1)) inSat += sat((await verbose(i.txid)).vout[i.vout]!.value);
          const fee = inSat - child.vout.reduce((x, o) => x + sat(o.value), 0);
          const packageRate = (parentFee + fee) / (parentVsize + (child as unknown as { vsize: number }).vsize);
          children.push({ txid: childTxid, fee, coins: child.vin.slice(1).map((i) => `${i.txid}:${i.vout}`), packageRate, reported: r.fee_rate!, tip: now });
        }
        await n.mine(1);
      }
      const minedAt = await n.tip();
      expect(minedAt).toBeLessThanOrEqual(cltv - 1);
      // A first child, then rebids: the same wallet coin each time (a replacement, never a second coin), the fee rising,
      // the package at least the rate the decision reported (its child sized at 73-byte signatures), within the budget.
      expect(children.length, JSON.stringify(children)).toBeGreaterThanOrEqual(3);
      expect(new Set(children.map((c) => c.coins.join()))).toEqual(new Set([reserveCoins.join()]));
      for (let i = 1; i < children.length; i++) {
        expect(children[i]!.fee).toBeGreaterThan(children[i - 1]!.fee);
        expect(children[i]!.tip).toBe(children[i - 1]!.tip + 1);
      }
      for (const c of children) {
        expect(c.packageRate).toBeGreaterThanOrEqual(c.reported);
        expect(c.packageRate).toBeLessThanOrEqual(BUDGET);
      }
      expect(children[0]!.packageRate).toBeGreaterThan(parentFee / parentVsize);
      expect((await verbose(children.at(-1)!.txid)).confirmations).toBe(1);
      // Then her HTLC-success as today, bid on its own schedule (the child's change funds it), mined by block cltv_expiry.
      const htlcVout = commitment.vout.find((o) => sat(o.value) === 20_000)!.n;
      let success: string | undefined;
      while (success === undefined || (await verbose(success)).confirmations === undefined) {
        expect(await n.tip()).toBeLessThan(cltv);
        // (A first bid sized before the wallet chose its coins may be refused by the node and made again next round: ./channel-anchors.ts.)
        expect((await once(dirs.alice, ch.aliceSeed, ch.id, wallet, true)).action).toMatch(/^(sweep|rebid|rebroadcast|hold)$/);
        success = (await spenderOf(commitmentTxid, htlcVout)) ?? success;
        await n.mine(1);
      }
      expect(await n.tip()).toBeLessThanOrEqual(cltv);
    } finally {
      await n.stop();
      n = shared;
    }
  }, 240_000);
  it('(e) anchors, Bob pinning: Alice\'s commitment goes out with her child (at its own rate: its schedule asks no more); Bob hangs descendants on HIS anchor until Core refuses one (the cluster full: 64, no CPFP carve-out); through the fee spike her rebids still replace her child in place, and the commitment is mined before cltv_expiry − 1', async () => {
    const shared = n;
    n = await startFundedNode(BITCOIND!, 'watch-onchain-pin', ['-blockmintxfee=0.00017']);
    try {
      const bobsAddress = await n.wallet.call<string>('getnewaddress', ['', 'bech32']);
      const bobsCoin = await n.fund(bobsAddress, 20_000n);
      const { dirs, ch, cltv, wallet, d } = await anchorsOnChain('e', 'pinned');
      expect(d.action).toBe('exit');
      const commitmentTxid = d.txid!;
      const pin = await pinThroughPeerAnchor(n, commitmentTxid, B.funding, bobsCoin, 20_000);
      expect(pin.refused).toBe('too-large-cluster');
      expect((await mempool()).length).toBeGreaterThanOrEqual(60);
      const children = new Set<string>();
      while ((await verbose(commitmentTxid)).confirmations === undefined) {
        expect(await n.tip(), `Alice's children: ${[...children].join(', ')}`).toBeLessThan(cltv - 1);
        await once(dirs.alice, ch.aliceSeed, ch.id, wallet); // no error: her package taken each round
        for (const o of (await verbose(commitmentTxid)).vout.filter((x) => sat(x.value) === 330)) {
          const spender = await spenderOf(commitmentTxid, o.n);
          if (spender !== undefined && !pin.added.includes(spender)) children.add(spender);
        }
        await n.mine(1);
      }
      expect(await n.tip()).toBeLessThanOrEqual(cltv - 1);
      expect(children.size).toBeGreaterThanOrEqual(2); // her floor child, then at least one rebid replacing it
    } finally {
      await n.stop();
      n = shared;
    }
  }, 240_000);
});
