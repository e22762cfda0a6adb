/**
 * `offchain watch` keeps the party's own commitment's HTLC outputs on an ANCHORS channel
 * (option_anchors_zero_fee_htlc_tx) on a real `bitcoind -regtest` (issue 71): BOLT 3's second
 * stages pay no fee and carry the peer's SIGHASH_SINGLE|ANYONECANPAY signature, so with only
 * `offchain watch --once` running beside the node (a new process each round: what it keeps
 * between rounds is its records) the node's wallet adds an input and change and Alice signs
 * SIGHASH_ALL over the whole — the HTLC-success at once, rebid on the same wallet coin while a
 * fee spike keeps it out of blocks, the HTLC-timeout at its cltv_expiry and not a block earlier,
 * both mined, then their outputs and her to_local swept once to_self_delay allows. Core's
 * script interpreter checks every witness (the suite's independent check, as in bolt3.test.ts).
 * Skipped, visibly, without bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../../src/lib/bytes.ts';
import { findBitcoind } from './bitcoind.ts';
import { assertBuilt, describeRun, offchain } from './offchain-cli.ts';
import { ENV, channels, nodeViews } from './bolt3-channels.ts';
import { tempDir } from '../helpers.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND
  ? `offchain watch takes an anchors channel's own-commitment HTLC outputs with the node's wallet paying on bitcoind -regtest (${BITCOIND})`
  : 'offchain watch takes an anchors channel\'s own-commitment HTLC outputs — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

/** Longer than the HTLCs take: nothing of hers is swept before the HTLC-timeout is due. */
const DELAY = 30;
const BUDGET = 20;

type Decision = { kind: string; contract: string; action: string; deadline: number; reason: string; fee_rate?: number; txid?: string; error?: string };
type Raw = { txid: string; locktime: number; vsize: number; vin: { txid: string; vout: number; txinwitness?: string[] }[]; vout: { value: number; n: number; scriptPubKey: { address?: string; hex: string } }[]; confirmations?: number };

describe.skipIf(!BITCOIND)(TITLE, () => {
  let n: FundedNode;
  const tmp = tempDir('offchain-regtest-watch-anchors-');
  const { rpc, sat, mempool, outbid, firstSwept, spenderOf } = nodeViews(() => n);
  const raw = (txid: string) => rpc<Raw>('getrawtransaction', [txid, 1]);
  const { openChannel, htlc } = channels({ node: () => n, dir: tmp.path, delay: DELAY, fundingSat: 1_000_000 });
  const preimageFile = join(tmp.path, 'preimage-6.hex');
  writeFileSync(preimageFile, toHex(sha256(Uint8Array.of(6))), { mode: 0o600 });

  beforeAll(async () => {
    assertBuilt();
    n = await startFundedNode(BITCOIND!, 'watch-anchors');
  }, 120_000);
  afterAll(async () => {
    await n?.stop();
    tmp.cleanup();
  });

  it('Alice\'s own anchors commitment holding an HTLC each way is mined: her HTLC-success goes at once with a wallet input (rebid on that same coin through a fee spike), her HTLC-timeout at its cltv_expiry (not a block earlier), both mined with her SIGHASH_ALL beside Bob\'s SINGLE|ANYONECANPAY; their outputs and her to_local swept after to_self_delay; then done', async () => {
    const dirs = { alice: join(tmp.path, 'alice'), bob: join(tmp.path, 'bob') };
    const ch = await openChannel(dirs, 'anchors');
    const t0 = await n.tip();
    const cltvIn = t0 + 14;
    const cltvOut = t0 + 20;
    await ch.update(0, 500_000, 500_000, []);
    await ch.update(1, 470_000, 480_000, [htlc('offered', 30_000, 5, cltvOut), htlc('received', 20_000, 6, cltvIn)]);
    const own = (await ch.alicesCommitment()) as unknown as { txid: string; hex: string; htlc_txs: { kind: string; hex?: string; needs_fee_input?: boolean }[] };
    // finalize hands the zero-fee second stages over unsigned by her (a wallet's fee input first): nothing she could send as is.
    expect(own.htlc_txs.map((h) => [h.kind, h.hex, h.needs_fee_input])).toEqual(expect.arrayContaining([['htlc-timeout', undefined, true]]));
    await n.acceptAndMine(own.hex);
    const height = await n.tip();
    const commitment = await raw(own.txid);
    const vout = (v: number) => commitment.vout.find((o) => sat(o.value) === v)!.n;
    const toLocal = commitment.vout.find((o) => sat(o.value) > 400_000 && sat(o.value) < 470_000)!.n;
    const watch = async () => {
      const r = await offchain([
        'watch', '--state-dir', dirs.alice, ...n.chain(), '--revocation-key-env', 'A_REVOCATION', '--delayed-key-env', 'A_DELAYED', '--htlc-key-env', 'A_HTLC',
        '--preimage-file', preimageFile, '--sweep-to', n.sweepTo, '--max-fee-rate', String(BUDGET), '--once',
      ], { env: ENV });
      expect(r.status, describeRun(r)).toBe(0);
      const d = (JSON.parse(r.stdout) as { decisions: Decision[] }).decisions.find((x) => x.kind === 'channel' && x.contract === ch.id)!;
      expect(d.error, JSON.stringify(d)).toBeUndefined();
      return d;
    };
    /** A second stage as mined or in the mempool: BOLT 3's input 0 and output 0, a wallet coin after them, its fee within the budget, Bob's signature SINGLE|ACP and Alice's ALL. */
    const checkStage = async (txid: string, htlcVout: number, amount: number) => {
      const t = await raw(txid);
      expect(t.vin[0]).toMatchObject({ txid: own.txid, vout: htlcVout });
      expect(sat(t.vout[0]!.value)).toBe(amount);
      expect(t.vin.length).toBeGreaterThanOrEqual(2);
      const w = t.vin[0]!.txinwitness!;
      expect([w[1]!.slice(-2), w[2]!.slice(-2)]).toEqual(['83', '01']);
      let inSat = 0;
      for (const i of t.vin) inSat += i.txid === own.txid ? amount : sat((await raw(i.txid)).vout[i.vout]!.value);
      const fee = inSat - t.vout.reduce((a, o) => a + sat(o.value), 0);
      expect(fee).toBeGreaterThan(0);
      expect(fee).toBeLessThanOrEqual(BUDGET * t.vsize);
      return { t, fee, coins: t.vin.slice(1).map((i) => `${i.txid}:${i.vout}`) };
    };

    // At once: the HTLC-success, funded by the wallet.
    const first = await watch();
    expect(first.action).toBe('sweep');
    const success1 = (await spenderOf(own.txid, vout(20_000)))!;
    expect(success1).toBeDefined();
    const s1 = await checkStage(success1, vout(20_000), 20_000);
    expect(await spenderOf(own.txid, vout(30_000))).toBeUndefined();
    // A fee spike keeps it out of blocks: rebid each block, on the same wallet coin (a replacement, never a second coin), its fee rising.
    let held = s1;
    let rebids = 0;
    for (let i = 0; i < 6 && rebids < 2; i++) {
      await outbid(held.t.txid);
      await n.mine(1);
      expect(await spenderOf(own.txid, vout(20_000)), 'still in the mempool').toBe(held.t.txid);
      await watch();
      const now = (await spenderOf(own.txid, vout(20_000)))!;
      if (now === held.t.txid) continue;
      const next = await checkStage(now, vout(20_000), 20_000);
      expect(next.coins).toEqual(s1.coins);
      expect(next.fee).toBeGreaterThan(held.fee);
      held = next;
      rebids++;
    }
    expect(rebids).toBe(2);
    await n.mine(1);
    expect((await raw(held.t.txid)).confirmations).toBe(1);
    const successMinedAt = await n.tip();

    // The HTLC-timeout: nothing with the tip one below its cltv_expiry; sent with the tip at it (nLockTime = cltv_expiry), funded the same way.
    await n.mine(cltvOut - 1 - (await n.tip()));
    expect((await watch()).action).toBe('wait');
    expect(await spenderOf(own.txid, vout(30_000))).toBeUndefined();
    await n.mine(1);
    expect((await watch()).action).toBe('sweep');
    const timeout = (await spenderOf(own.txid, vout(30_000)))!;
    const t = await checkStage(timeout, vout(30_000), 30_000);
    expect(t.t.locktime).toBe(cltvOut);
    await n.mine(1);
    const timeoutMinedAt = await n.tip();
    expect((await raw(timeout)).confirmations).toBe(1);

    // Each delayed output swept with the tip at its confirmation + to_self_delay − 1, to --sweep-to.
    const firstSeen = await firstSwept({ success: [held.t.txid, 0], timeout: [timeout, 0], to_local: [own.txid, toLocal] }, watch, timeoutMinedAt + DELAY + 3);
    expect(firstSeen).toEqual({ success: successMinedAt + DELAY - 1, timeout: timeoutMinedAt + DELAY - 1, to_local: height + DELAY - 1 });
    expect(await mempool()).toEqual([]);
    await n.mine(6);
    expect((await watch()).action).toBe('done');
  }, 240_000);
});
