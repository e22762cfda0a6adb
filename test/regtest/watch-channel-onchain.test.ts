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
import { ENV, channels, nodeViews } from './bolt3-channels.ts';
import { tempDir } from '../helpers.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND
  ? `offchain watch goes on chain for an HTLC about to be lost on bitcoind -regtest (${BITCOIND})`
  : 'offchain watch goes on chain for an HTLC about to be lost on bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

const DELAY = 10;
const FUNDING_SAT = 1_000_000;
const BUDGET = 20;

type Decision = { kind: string; contract: string; action: string; deadline: number; blocks_left: number; reason: string; txid?: string; error?: string };
type Report = { decisions: Decision[] };

describe.skipIf(!BITCOIND)(TITLE, () => {
  let n: FundedNode;
  const tmp = tempDir('offchain-regtest-watch-onchain-');
  const { rpc, verbose, sat, mempool, spenderOf, firstSwept } = nodeViews(() => n);
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

  it('(c) anchors: Alice\'s commitment goes out at cltv_expiry − 10 (its agreed fee above the relay floor), then her zero-fee HTLC-success with a fee input of the wallet named by --rpc-wallet (two wallets loaded: the node\'s default is no answer), mined before cltv_expiry', async () => {
    await rpc('createwallet', ['fees']);
    const fees = n.node.rpc.forWallet('fees');
    const feeAddress = await fees.call<string>('getnewaddress', ['', 'bech32']);
    await n.wallet.call('sendtoaddress', [feeAddress, 0.001]);
    await n.mine(1);
    const feeCoins = (await fees.call<{ txid: string; vout: number }[]>('listunspent')).map((u) => `${u.txid}:${u.vout}`);
    expect(feeCoins).toHaveLength(1);
    const dirs = { alice: join(tmp.path, 'alice-c'), bob: join(tmp.path, 'bob-c') };
    const ch = await openChannel(dirs, 'anchors');
    const t0 = await n.tip();
    const cltv = t0 + 14;
    await ch.update(0, 500_000, 500_000, []);
    await ch.update(1, 480_000, 500_000, [htlc('received', 20_000, 6, cltv)]);
    const wallet = ['--rpc-wallet', 'fees'];
    const { tip, d } = await untilOnChain(dirs.alice, ch.aliceSeed, ch.id, cltv, wallet);
    expect(tip).toBe(cltv - 10);
    expect(d).toMatchObject({ action: 'exit', deadline: cltv });
    expect(await mempool()).toEqual([d.txid]);
    await n.mine(1);
    const commitment = await verbose(d.txid!);
    expect(commitment.confirmations).toBe(1);
    // Two 330-sat anchors beside to_local, to_remote and the HTLC.
    expect(commitment.vout.filter((o) => sat(o.value) === 330)).toHaveLength(2);
    const htlcVout = commitment.vout.find((o) => sat(o.value) === 20_000)!.n;
    // Without --rpc-wallet the node cannot say which wallet pays (two loaded): the second stage is not funded, and the round says why.
    const unnamed = await once(dirs.alice, ch.aliceSeed, ch.id, [], true);
    expect(unnamed.error).toMatch(/wallet/i);
    expect(await spenderOf(d.txid!, htlcVout)).toBeUndefined();
    expect((await once(dirs.alice, ch.aliceSeed, ch.id, wallet)).action).toMatch(/^(sweep|rebroadcast)$/);
    const success = (await spenderOf(d.txid!, htlcVout))!;
    expect(success).toBeDefined();
    const stage = await verbose(success);
    expect(stage.vin.slice(1).map((i) => `${i.txid}:${i.vout}`)).toEqual(feeCoins);
    await n.mine(1);
    expect((await verbose(success)).confirmations).toBe(1);
    expect(await n.tip()).toBeLessThan(cltv);
  }, 180_000);
});
