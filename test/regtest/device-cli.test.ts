/**
 * Optional integration suite (BRIEF §3.8, §5; issue 27 items 5–6): the device ↔ gateway
 * channel's unilateral paths through the BUILT CLI (`node bin/run.js`, one process per
 * step, messages piped as strings) against a real `bitcoind -regtest` (BITCOIND or PATH;
 * skipped visibly without one). Each party asks the node (--rpc-url) for the tip and the
 * funding; each channel is a credit contract opened with the CLI and funded by the node's
 * wallet.
 *
 *   A  one toll settled, a second paid on Lightning (the gateway holds its preimage), the
 *      device silent: `gateway claim --broadcast` — the latest state plus ONE TRUC child
 *      spending the gateway's payout (key path) and the HTLC (claim leaf, preimage) —
 *      accepted as a package and mined.
 *   D  nothing settled, the toll paid, the device silent: `gateway claim --dry-run`
 *      (HTLC-only child) submitted with bitcoin-cli submitpackage, mined; then
 *      `gateway claim --broadcast` of the same package: E_BROADCAST_REJECTED, exit 4, and
 *      the gateway's state directory byte-identical (a failed broadcast changes nothing).
 *   B  one toll settled, a second in flight with no preimage: the gateway exits
 *      (exit-credit --broadcast); `device refund-htlc` refused E_NOT_FINAL at L − 1 (and
 *      its --any-time hex rejected `non-final` by the node), then --broadcast at L, mined.
 *   E  as B, but the gateway's Lightning payment completes late: `gateway claim
 *      --preimage-file --broadcast` on the mined state claims the HTLC alone (htlc/spend),
 *      mined; the device's refund at L is then E_BROADCAST_REJECTED (its input is spent).
 *   C  a device channel (one toll settled, one in flight) whose gateway vanishes:
 *      `refund-credit` rejected `non-final` one block before the expiry, then mined.
 *   W1 as A, with only `offchain watch` beside the node for the gateway (issue 71): nothing
 *      before the margin, then the claim package, rebid each block through a fee spike within
 *      the budget, mined by the HTLC's expiry; a reorganisation of two blocks un-mines the package
 *      (reported, the claim held in the mempool), mined again by the expiry; done at depth.
 *   W2 as B, with only `offchain watch` for the device: nothing at L − 1, the refund at L
 *      (refused with the wrong key), mined; a reorganisation un-mines it (waited on), a second one
 *      back below L drops it (non-final): sent again at L, mined; done.
 *   W6 as W2 through a fee spike (issue 71 item 3): the refund rebid each block on the deadline's
 *      schedule toward L + 6, within the budget, mined by then; a reorganisation of that block.
 *   W3–W5 the review's attacks on the gateway's watcher: a safety margin as long as the HTLC
 *      (the defaults: 144 and 144) must not put a payment on chain before the device settles;
 *      a forged claim record, or one left by an earlier payment, claims nothing and steers nothing.
 *
 * The steps each test is about (claim, exit, refund, the refusals) run as processes; the
 * setup before them (opening a channel, the tolls) too for channel A, and in the test process
 * (test/regtest/in-process-steps.ts, the same bundle's `main`) for the others.
 *
 * Every final signature is checked by the independent verifier (test/independent/):
 * key-path spends against the contract key derived in test code, script-path spends
 * against the HTLC tree derived in test code (taprootHtlcContract).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { ROOT, fileSnapshot, tempDir } from '../helpers.ts';
import { parseTx, hexOf, bytesOf } from '../independent/tx.ts';
import { verifyKeyPathSpend, verifyScriptPathSpend, type Prevout } from '../independent/verify.ts';
import { musigTaprootOutput, p2trScript, publicKeyOf, singleKeyTaprootOutput } from '../independent/keys.ts';
import { taprootHtlcContract } from '../independent/descriptor.ts';
import { invoice, preimage, NOW } from '../lib/device/world.ts';
import { MINT_KEY, USER_KEY } from '../e2e/fixtures.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { assertBuilt, describeRun, errorCode, messageOf, offchain, type CliRun } from './offchain-cli.ts';
import { offchainInProcess } from './in-process-cli.ts';
import Database from 'better-sqlite3';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND
  ? `device ↔ gateway unilateral paths through the CLI against bitcoind -regtest (${BITCOIND})`
  : 'device ↔ gateway unilateral paths through the CLI against bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

const USER_PUB = publicKeyOf(bytesOf(USER_KEY));
const MINT_PUB = publicKeyOf(bytesOf(MINT_KEY));
const CONTRACT = musigTaprootOutput([USER_PUB, MINT_PUB]);

const HTLC_BLOCKS = 30;
const POLICY = { max_payment_msat: 50_000_000, max_daily_msat: 1_000_000_000, max_fee_base_msat: 1000, max_fee_ppm: 5000, allowed_payees: 'any', htlc_expiry_blocks: HTLC_BLOCKS, claim_margin_blocks: 6 };
const TERMS = { fee_base_msat: 1000, fee_ppm: 2000, cltv_budget_blocks: 0, claim_margin_blocks: 6 };
/** The HTLC of an invoice of `msat` under TERMS, in sat: invoice + fee, rounded up (the test's own arithmetic). */
const htlcSat = (msat: bigint) => Number((msat + 1000n + (msat * 2000n + 999_999n) / 1_000_000n + 999n) / 1000n);

type Exit = {
  state: number; cumulative_sat: number;
  state_tx: { txid: string; hex: string };
  htlc_claim?: { payment_hash: string; vout: number; amount_sat: number };
  child: { txid: string; complete: boolean; hex: string; package_fee_rate: number };
  broadcast?: { package_msg: string; tx_results: { txid: string }[] };
};
type Refund = { txid: string; hex: string; final: boolean; final_from_height: number; outpoint: { txid: string; vout: number }; amount_sat: number; broadcast?: { txid: string } };
type Runner = (args: string[], input?: string) => Promise<CliRun>;
/**
 * `run` runs the channel's setup steps (open, the tolls before the step a test is about): as a
 * process for channel A (the spawned sample), in the test process for the others (the same
 * bundle's `main`, ~10 ms instead of a ~0.15 CPU-s process). The steps each test is about
 * (claim, exit, refund, the refusals) are always processes.
 */
type Channel = { id: string; dev: string; gw: string; expiry: number; funding: { txid: string; vout: number }; capacity: bigint; run: Runner };

describe.skipIf(!BITCOIND)(TITLE, () => {
  let n: FundedNode;
  let work: { path: string; cleanup: () => void };
  let offerFile: string;
  let policyFile: string;
  let termsFile: string;
  let payoutScript: Uint8Array;
  const env = { MINT_KEY, USER_KEY };
  const run = (args: string[], input = '') => offchain(args, { input, env });
  const inProcess: Runner = (args, input = '') => offchainInProcess(args, { input, env });
  const step = async <T>(args: string[], input: string, type: string) => messageOf<T>(await run(args, input), type);
  const refused = (r: CliRun, code: string) => expect({ status: r.status, code: errorCode(r), stdout: r.stdout }, describeRun(r)).toEqual({ status: 4, code, stdout: '' });
  // Steps that ask no chain question (settle, fail, receipt) take no --rpc-url.
  const OFFLINE = new Set(['settle', 'fail', 'receipt']);
  const chainOf = (a: string[]) => (OFFLINE.has(a[1] ?? '') ? [] : n.chain());
  const asDev = (ch: Channel, ...a: string[]) => [...a, '--key-env', 'USER_KEY', '--state-dir', ch.dev, ...chainOf(a)];
  const asGw = (ch: Channel, ...a: string[]) => [...a, '--key-env', 'MINT_KEY', '--state-dir', ch.gw, ...chainOf(a)];
  const rpc = <T>(m: string, p: unknown[] = []) => n.node.rpc.call<T>(m, p);
  const confirmations = async (txid: string) => (await rpc<{ confirmations?: number }>('getrawtransaction', [txid, 1])).confirmations ?? 0;
  const mineTo = async (h: number) => {
    const k = h - (await n.tip());
    expect(k).toBeGreaterThanOrEqual(0);
    if (k > 0) await n.mine(k);
    expect(await n.tip()).toBe(h);
  };

  beforeAll(async () => {
    assertBuilt();
    work = tempDir('offchain-regtest-device-cli-');
    n = await startFundedNode(BITCOIND!, 'device-cli-funder');
    offerFile = join(work.path, 'offer.json');
    policyFile = join(work.path, 'policy.json');
    termsFile = join(work.path, 'terms.json');
    writeFileSync(policyFile, JSON.stringify(POLICY));
    writeFileSync(termsFile, JSON.stringify(TERMS));
    // The gateway's payout is its key's own P2TR address, so its key signs a child spending it.
    const key = messageOf<{ p2tr_address: string }>(await run(['key', 'show', '--key-env', 'MINT_KEY']), 'key/public');
    payoutScript = p2trScript(singleKeyTaprootOutput(MINT_PUB).outputKey);
    const offer = await step<Record<string, unknown>>(
      ['open-credit', '--role', 'mint', '--publish', '--payout-address', key.p2tr_address, '--min-expiry', '5', '--max-expiry', '200', '--safety-margin', '3',
        '--key-env', 'MINT_KEY', '--state-dir', join(work.path, 'offer-mint')],
      '', 'credit/offer',
    );
    writeFileSync(offerFile, JSON.stringify(offer));
  }, 180_000);
  afterAll(async () => {
    await n?.stop();
    work?.cleanup();
  });

  /** A channel opened through the CLI (each its own pair of state directories), funded and confirmed. */
  async function openChannel(tag: string, expiryBlocks = 60, capacity = 100_000n, setup: Runner = inProcess, offer = { dir: 'offer-mint', file: '' }): Promise<Channel> {
    const ch = { dev: join(work.path, tag, 'device'), gw: join(work.path, tag, 'gateway'), run: setup } as Channel;
    const step = async <T>(args: string[], input: string, type: string) => messageOf<T>(await setup(args, input), type);
    mkdirSync(join(work.path, tag), { recursive: true });
    // The mint's offer state (its policy) goes with each gateway directory: a copy of the state directory that
    // published the offer once (beforeAll), the same files a publish with the same flags writes.
    cpSync(join(work.path, offer.dir), ch.gw, { recursive: true });
    const address = await step<{ address: string }>(asDev(ch, 'open-credit', '--role', 'user'), readFileSync(offer.file || offerFile, 'utf8'), 'credit/address');
    const created = await n.wallet.call<{ psbt: string }>('walletcreatefundedpsbt', [[], [{ [address.address]: Number(capacity) / 1e8 }], 0, { change_type: 'bech32m', replaceable: false }]);
    const refundAddress = await n.wallet.call<string>('getnewaddress', ['', 'bech32m']);
    const request = await step<{ contract_id: string; contract: { expiry_height: number; funding: { txid: string; vout: number } } }>(
      asDev(ch, 'open-credit', '--role', 'user', '--offer', offer.file || offerFile, '--expiry', `+${expiryBlocks}`, '--refund-address', refundAddress), created.psbt, 'credit/open-request');
    const accept = await setup(asGw(ch, 'open-credit', '--role', 'mint'), JSON.stringify(request));
    const opened = await step<{ funding_psbt: string }>(asDev(ch, 'open-credit', '--role', 'user'), messageOf(accept, 'credit/open-accept') && accept.stdout, 'credit/opened');
    const signed = await n.wallet.call<{ psbt: string; complete: boolean }>('walletprocesspsbt', [opened.funding_psbt]);
    const fin = await rpc<{ hex: string }>('finalizepsbt', [signed.psbt]);
    await n.acceptAndMine(fin.hex);
    return { ...ch, id: request.contract_id, expiry: request.contract.expiry_height, funding: request.contract.funding, capacity, run: setup };
  }

  /** device pay | gateway pay for invoice `k` of `msat`: the job. */
  async function pay(ch: Channel, k: number, msat: bigint) {
    const inv = join(work.path, `invoice-${k}.txt`);
    writeFileSync(inv, invoice(k, msat));
    const p = await ch.run(asDev(ch, 'device', 'pay', '--invoice', inv, '--policy', policyFile, '--terms', termsFile, '--now', String(NOW)));
    return messageOf<{ payment_hash: string; htlc_expiry_height: number; state_txid: string }>(
      await ch.run(asGw(ch, 'gateway', 'pay', '--terms', termsFile, '--now', String(NOW)), messageOf(p, 'device/pay') && p.stdout), 'gateway/job');
  }

  function preimageFile(k: number): string {
    const f = join(work.path, `preimage-${k}`);
    writeFileSync(f, hexOf(preimage(k)), { mode: 0o600 });
    return f;
  }

  /** The gateway settles payment k with its preimage; with `device`, the device answers and the exchange completes. */
  async function settle(ch: Channel, k: number, device: boolean) {
    const s = await ch.run(asGw(ch, 'gateway', 'settle', '--preimage-file', preimageFile(k)));
    messageOf(s, 'gateway/settle');
    if (!device) return;
    const d = await ch.run(asDev(ch, 'device', 'settle'), s.stdout);
    const r = await ch.run(asGw(ch, 'gateway', 'complete'), messageOf(d, 'device/settle') && d.stdout);
    messageOf(await ch.run(asDev(ch, 'device', 'receipt'), messageOf(r, 'gateway/receipt') && r.stdout), 'credit/balance');
  }

  const fundingPrevout = (ch: Channel): Prevout => ({ amount: ch.capacity, script: p2trScript(CONTRACT.outputKey), txid: ch.funding.txid, vout: ch.funding.vout });

  /** The state verified (key path, contract key) and its outputs as the test expects them. */
  function checkState(ch: Channel, hex: string, settledSat: number, htlc: { k: number; amount: number; expiry: number }) {
    verifyKeyPathSpend(hex, [fundingPrevout(ch)], CONTRACT.outputKey);
    const tx = parseTx(hex);
    const tree = taprootHtlcContract({ payer: USER_PUB, recipient: MINT_PUB, paymentHash: sha256(preimage(htlc.k)), locktime: htlc.expiry });
    const outs = tx.outputs.map((o) => ({ script: hexOf(o.script), amount: o.amount }));
    expect(outs.filter((o) => o.script === hexOf(payoutScript)).map((o) => Number(o.amount))).toEqual(settledSat > 0 ? [settledSat] : []);
    const vout = outs.findIndex((o) => o.script === hexOf(p2trScript(tree.output.outputKey)));
    expect(vout).toBeGreaterThanOrEqual(0);
    expect(Number(outs[vout]!.amount)).toBe(htlc.amount);
    return { tx, tree, vout };
  }

  it('A: one toll settled, a second paid on Lightning, the device silent: gateway claim --broadcast (state + one child: payout and HTLC claim) accepted and mined', async () => {
    const ch = await openChannel('A', 60, 100_000n, run); // every step a process: the sample the in-process setup of the others agrees with
    await pay(ch, 10, 20_000_000n);
    await settle(ch, 10, true);
    const settled = htlcSat(20_000_000n);
    const job = await pay(ch, 11, 30_000_000n);
    await settle(ch, 11, false); // the gateway holds the preimage; the device never answers

    const exit = await step<Exit>(asGw(ch, 'gateway', 'claim', '--fee-rate', '3', '--broadcast'), '', 'credit/exit');
    expect(exit.broadcast?.package_msg).toBe('success');
    const s = checkState(ch, exit.state_tx.hex, settled, { k: 11, amount: htlcSat(30_000_000n), expiry: job.htlc_expiry_height });
    expect(exit.htlc_claim).toEqual({ payment_hash: hexOf(sha256(preimage(11))), vout: s.vout, amount_sat: htlcSat(30_000_000n) });
    // The child: input 0 the payout (the gateway key's own P2TR, key path), input 1 the HTLC (claim leaf with the preimage).
    const child = parseTx(exit.child.hex);
    const payoutVout = s.tx.outputs.findIndex((o) => hexOf(o.script) === hexOf(payoutScript));
    expect(child.version).toBe(3);
    expect(child.inputs.map((i) => [i.txid, i.vout])).toEqual([[exit.state_tx.txid, payoutVout], [exit.state_tx.txid, s.vout]]);
    const prevouts: Prevout[] = [s.tx.outputs[payoutVout]!, s.tx.outputs[s.vout]!].map((o, i) => ({ ...o, txid: exit.state_tx.txid, vout: [payoutVout, s.vout][i] }));
    verifyKeyPathSpend(exit.child.hex, prevouts, [singleKeyTaprootOutput(MINT_PUB).outputKey, null]);
    verifyScriptPathSpend(exit.child.hex, prevouts, 1, {
      outputKey: s.tree.output.outputKey, internalKey: s.tree.internalKey, leafScript: s.tree.leaves.claim!.script, signingKey: MINT_PUB.subarray(1), before: [preimage(11)],
    });
    expect(child.outputs.map((o) => hexOf(o.script))).toEqual([hexOf(payoutScript)]);
    await n.mine(1);
    expect(await confirmations(exit.state_tx.txid)).toBe(1);
    expect(await confirmations(exit.child.txid)).toBe(1);
    // Frozen: the gateway signs nothing more of this channel.
    refused(await run(asGw(ch, 'gateway', 'fail', '--payment-hash', job.payment_hash)), 'E_CONTRACT_FROZEN');
  }, 240_000);

  it('D: nothing settled, the toll paid, the device silent: the printed package (HTLC-only child) mined with submitpackage; gateway claim --broadcast again is E_BROADCAST_REJECTED and writes nothing', async () => {
    const ch = await openChannel('D');
    const job = await pay(ch, 12, 25_000_000n);
    // No preimage yet: nothing to claim with, refused, nothing written.
    const before0 = fileSnapshot(ch.gw, { locks: true, sqliteRows: true });
    refused(await run(asGw(ch, 'gateway', 'claim', '--fee-rate', '3', '--dry-run')), 'E_NO_PREIMAGE');
    expect(fileSnapshot(ch.gw, { locks: true, sqliteRows: true })).toEqual(before0);
    await settle(ch, 12, false);
    const exit = await step<Exit>(asGw(ch, 'gateway', 'claim', '--fee-rate', '3', '--dry-run'), '', 'credit/exit');
    const s = checkState(ch, exit.state_tx.hex, 0, { k: 12, amount: htlcSat(25_000_000n), expiry: job.htlc_expiry_height });
    const child = parseTx(exit.child.hex);
    expect(child.inputs.map((i) => [i.txid, i.vout])).toEqual([[exit.state_tx.txid, s.vout]]);
    const prevouts: Prevout[] = [{ ...s.tx.outputs[s.vout]!, txid: exit.state_tx.txid, vout: s.vout }];
    verifyScriptPathSpend(exit.child.hex, prevouts, 0, {
      outputKey: s.tree.output.outputKey, internalKey: s.tree.internalKey, leafScript: s.tree.leaves.claim!.script, signingKey: MINT_PUB.subarray(1), before: [preimage(12)],
    });
    const submitted = await rpc<{ package_msg: string }>('submitpackage', [[exit.state_tx.hex, exit.child.hex]]);
    expect(submitted.package_msg).toBe('success');
    await n.mine(1);
    expect(await confirmations(exit.child.txid)).toBe(1);
    // Submitted again by the CLI: the node refuses; the gateway's state directory is untouched (no freeze written).
    const before = fileSnapshot(ch.gw, { locks: true, sqliteRows: true });
    refused(await run(asGw(ch, 'gateway', 'claim', '--fee-rate', '3', '--broadcast')), 'E_BROADCAST_REJECTED');
    expect(fileSnapshot(ch.gw, { locks: true, sqliteRows: true })).toEqual(before);
    // The same check sees a write: printed without --broadcast (or --dry-run), the claim freezes the channel on disk.
    await step<Exit>(asGw(ch, 'gateway', 'claim', '--fee-rate', '3'), '', 'credit/exit');
    expect(fileSnapshot(ch.gw, { locks: true, sqliteRows: true })).not.toEqual(before);
    refused(await run(asGw(ch, 'gateway', 'fail', '--payment-hash', job.payment_hash)), 'E_CONTRACT_FROZEN');
  }, 240_000);

  it('B: a toll in flight without a preimage, the gateway exits (exit-credit): device refund-htlc refused E_NOT_FINAL at L − 1 (the node says non-final), then --broadcast at L, mined', async () => {
    const ch = await openChannel('B');
    await pay(ch, 13, 20_000_000n);
    await settle(ch, 13, true);
    const job = await pay(ch, 14, 30_000_000n);
    const L = job.htlc_expiry_height;
    // No preimage: gateway claim is refused; the gateway exits with its payout's child instead.
    refused(await run(asGw(ch, 'gateway', 'claim', '--fee-rate', '3')), 'E_NO_PREIMAGE');
    const exit = await step<Exit>(asGw(ch, 'exit-credit', '--fee-rate', '3', '--broadcast'), '', 'credit/exit');
    expect(exit.broadcast?.package_msg).toBe('success');
    const s = checkState(ch, exit.state_tx.hex, htlcSat(20_000_000n), { k: 14, amount: htlcSat(30_000_000n), expiry: L });
    await n.mine(1);
    expect(await confirmations(exit.state_tx.txid)).toBe(1);

    await mineTo(L - 1);
    refused(await run(asDev(ch, 'device', 'refund-htlc', '--fee-rate', '2', '--broadcast')), 'E_NOT_FINAL');
    const early = await step<Refund>(asDev(ch, 'device', 'refund-htlc', '--fee-rate', '2', '--any-time'), '', 'device/htlc-refund');
    expect(early).toMatchObject({ final: false, final_from_height: L + 1, outpoint: { txid: exit.state_tx.txid, vout: s.vout }, amount_sat: htlcSat(30_000_000n) });
    expect(await n.mempool(early.hex)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
    await n.mine(1);
    const refund = await step<Refund>(asDev(ch, 'device', 'refund-htlc', '--fee-rate', '2', '--broadcast'), '', 'device/htlc-refund');
    expect(refund.broadcast).toEqual({ txid: refund.txid });
    expect(refund.hex).toBe(early.hex);
    const prevouts: Prevout[] = [{ ...s.tx.outputs[s.vout]!, txid: exit.state_tx.txid, vout: s.vout }];
    verifyScriptPathSpend(refund.hex, prevouts, 0, {
      outputKey: s.tree.output.outputKey, internalKey: s.tree.internalKey, leafScript: s.tree.leaves.refund!.script, signingKey: USER_PUB.subarray(1), after: L,
    });
    await n.mine(1);
    expect(await confirmations(refund.txid)).toBe(1);
  }, 240_000);

  it('E: the gateway exited without the preimage (exit-credit, mined), then its Lightning payment completes: gateway claim --preimage-file --broadcast claims the HTLC alone (htlc/spend), mined; the device\'s refund at L is then E_BROADCAST_REJECTED', async () => {
    const ch = await openChannel('E');
    await pay(ch, 17, 20_000_000n);
    await settle(ch, 17, true);
    const job = await pay(ch, 18, 30_000_000n);
    const exit = await step<Exit>(asGw(ch, 'exit-credit', '--fee-rate', '3', '--broadcast'), '', 'credit/exit');
    await n.mine(1);
    expect(await confirmations(exit.state_tx.txid)).toBe(1);
    const s = checkState(ch, exit.state_tx.hex, htlcSat(20_000_000n), { k: 18, amount: htlcSat(30_000_000n), expiry: job.htlc_expiry_height });
    // The preimage arrives late (the gateway's node paid after all): not stored, given by file.
    const claim = await step<{ txid: string; hex: string; outpoint: { txid: string; vout: number }; broadcast: { txid: string } }>(
      asGw(ch, 'gateway', 'claim', '--fee-rate', '2', '--preimage-file', preimageFile(18), '--broadcast'), '', 'htlc/spend');
    expect(claim.outpoint).toEqual({ txid: exit.state_tx.txid, vout: s.vout });
    expect(claim.broadcast).toEqual({ txid: claim.txid });
    verifyScriptPathSpend(claim.hex, [{ ...s.tx.outputs[s.vout]!, txid: exit.state_tx.txid, vout: s.vout }], 0, {
      outputKey: s.tree.output.outputKey, internalKey: s.tree.internalKey, leafScript: s.tree.leaves.claim!.script, signingKey: MINT_PUB.subarray(1), before: [preimage(18)],
    });
    await n.mine(1);
    expect(await confirmations(claim.txid)).toBe(1);
    await mineTo(job.htlc_expiry_height);
    refused(await run(asDev(ch, 'device', 'refund-htlc', '--fee-rate', '2', '--broadcast')), 'E_BROADCAST_REJECTED');
  }, 240_000);

  /** What the node's mempool says of a transaction (fee in sat, vsize), or null when it is not there. */
  async function inMempool(txid: string): Promise<{ fee: number; vsize: number } | null> {
    const pool = await rpc<string[]>('getrawmempool');
    if (!pool.includes(txid)) return null;
    const e = await rpc<{ vsize: number; fees: { base: number } }>('getmempoolentry', [txid]);
    return { fee: Math.round(e.fees.base * 1e8), vsize: e.vsize };
  }

  /**
   * The gateway's late claim against the device's refund already in the mempool at the HTLC's
   * expiry (tip = L: the refund, nLockTime L, is accepted; the claim leaf has no lock): `gateway
   * claim --preimage-file --broadcast` must replace the refund (Core's replacement rules: more
   * fee than the refund, by the incremental relay fee on its own size, at a higher rate) and be
   * mined in block L + 1, the refund nowhere. The device's refund pays 5 sat/vB, the gateway
   * asks 2: the claim pays what the replacement needs.
   */
  async function claimAgainstRefund(ch: Channel, k: number, state: { txid: string; hex: string }, L: number, o: { rerun?: boolean } = {}) {
    const s = checkState(ch, state.hex, htlcSat(20_000_000n), { k, amount: htlcSat(30_000_000n), expiry: L });
    expect(await n.tip()).toBe(L);
    const refund = await step<Refund>(asDev(ch, 'device', 'refund-htlc', '--fee-rate', '5', '--broadcast'), '', 'device/htlc-refund');
    const refundEntry = await inMempool(refund.txid);
    expect(refundEntry).not.toBeNull();
    type Claim = { txid: string; hex: string; fee_sat: number; outpoint: { txid: string; vout: number }; broadcast: { txid: string }; replaces: { txid: string; fee_sat: number; path: string } };
    let claim = await step<Claim>(asGw(ch, 'gateway', 'claim', '--fee-rate', '2', '--preimage-file', preimageFile(k), '--broadcast'), '', 'htlc/spend');
    expect(claim.outpoint).toEqual({ txid: state.txid, vout: s.vout });
    expect(claim.broadcast).toEqual({ txid: claim.txid });
    expect(claim.replaces).toEqual({ txid: refund.txid, fee_sat: refundEntry!.fee, path: 'refund' });
    verifyScriptPathSpend(claim.hex, [{ ...s.tx.outputs[s.vout]!, txid: state.txid, vout: s.vout }], 0, {
      outputKey: s.tree.output.outputKey, internalKey: s.tree.internalKey, leafScript: s.tree.leaves.claim!.script, signingKey: MINT_PUB.subarray(1), before: [preimage(k)],
    });
    // In the mempool instead of the refund, paying at least the refund's fee plus the node's
    // incremental relay fee on its own size, at a higher rate (the test's arithmetic on the node's numbers).
    expect(await inMempool(refund.txid)).toBeNull();
    const claimEntry = (await inMempool(claim.txid))!;
    expect(claimEntry.fee).toBe(claim.fee_sat);
    const incremental = Math.round((await rpc<{ incrementalrelayfee: number }>('getmempoolinfo')).incrementalrelayfee * 1e8); // sat/kvB
    expect(claimEntry.fee).toBeGreaterThanOrEqual(refundEntry!.fee + Math.ceil((incremental * claimEntry.vsize) / 1000));
    expect(claimEntry.fee / claimEntry.vsize).toBeGreaterThan(refundEntry!.fee / refundEntry!.vsize);
    if (o.rerun) {
      // Run again at the same rate: its own claim is there, paying more than asked — refused, nothing written.
      const before = fileSnapshot(ch.gw, { locks: true, sqliteRows: true });
      refused(await run(asGw(ch, 'gateway', 'claim', '--fee-rate', '2', '--preimage-file', preimageFile(k), '--broadcast')), 'E_ALREADY_CLAIMED');
      expect(fileSnapshot(ch.gw, { locks: true, sqliteRows: true })).toEqual(before);
      expect(await inMempool(claim.txid)).not.toBeNull();
      // Asked for more than it pays: the claim bumps itself (replaces its own claim).
      const bumped = await step<Claim>(asGw(ch, 'gateway', 'claim', '--fee-rate', '9', '--preimage-file', preimageFile(k), '--broadcast'), '', 'htlc/spend');
      expect(bumped.replaces).toEqual({ txid: claim.txid, fee_sat: claim.fee_sat, path: 'claim' });
      expect(bumped.fee_sat).toBeGreaterThanOrEqual(9 * claimEntry.vsize);
      expect(await inMempool(claim.txid)).toBeNull();
      claim = bumped;
    }
    await n.mine(1);
    expect(await confirmations(claim.txid)).toBe(1);
    expect(await n.tip()).toBe(L + 1);
    await expect(rpc('getrawtransaction', [refund.txid, 1])).rejects.toThrow();
  }

  it('F: at the HTLC\'s expiry the device\'s refund is in the mempool (the state mined by the gateway\'s exit); the gateway\'s late claim (gateway claim --preimage-file --broadcast) replaces it and is mined in block L + 1; run again, its own claim is E_ALREADY_CLAIMED at the same rate and bumped at a higher one', async () => {
    const ch = await openChannel('F');
    await pay(ch, 19, 20_000_000n);
    await settle(ch, 19, true);
    const job = await pay(ch, 20, 30_000_000n);
    const L = job.htlc_expiry_height;
    const exit = await step<Exit>(asGw(ch, 'exit-credit', '--fee-rate', '3', '--broadcast'), '', 'credit/exit');
    await n.mine(1);
    expect(await confirmations(exit.state_tx.txid)).toBe(1);
    await mineTo(L);
    await claimAgainstRefund(ch, 20, exit.state_tx, L, { rerun: true });
  }, 240_000);

  it('G: at the HTLC\'s expiry the state is in the mempool alone (sent without a child) and the device\'s refund is its TRUC child; the gateway\'s late claim replaces the refund (a direct conflict, not a second child) and is mined with the state in block L + 1', async () => {
    const ch = await openChannel('G');
    await pay(ch, 21, 20_000_000n);
    await settle(ch, 21, true);
    const job = await pay(ch, 22, 30_000_000n);
    const L = job.htlc_expiry_height;
    // The gateway's latest state (the HTLC's), as exit-credit prints it, sent alone at its own fee rate.
    const exit = await step<Exit>(asGw(ch, 'exit-credit', '--fee-rate', '3', '--dry-run'), '', 'credit/exit');
    await mineTo(L);
    expect(await rpc<string>('sendrawtransaction', [exit.state_tx.hex])).toBe(exit.state_tx.txid);
    await claimAgainstRefund(ch, 22, exit.state_tx, L);
    expect(await confirmations(exit.state_tx.txid)).toBe(1);
  }, 240_000);

  it('C: a device channel whose gateway vanishes with a toll in flight: refund-credit rejected non-final one block before the expiry, then mined (everything back)', async () => {
    const ch = await openChannel('C', 50);
    await pay(ch, 15, 20_000_000n);
    await settle(ch, 15, true);
    await pay(ch, 16, 10_000_000n);
    await mineTo(ch.expiry - 1);
    refused(await run(asDev(ch, 'refund-credit')), 'E_NOT_FINAL');
    const early = await step<{ txid: string; hex: string }>(asDev(ch, 'refund-credit', '--any-time'), '', 'credit/refund');
    expect(await n.mempool(early.hex)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
    verifyKeyPathSpend(early.hex, [fundingPrevout(ch)], CONTRACT.outputKey);
    const tx = parseTx(early.hex);
    expect(tx.lockTime).toBe(ch.expiry);
    await n.mine(1);
    const ready = await step<{ txid: string; hex: string }>(asDev(ch, 'refund-credit'), '', 'credit/refund');
    expect(ready.hex).toBe(early.hex);
    await n.acceptAndMine(ready.hex);
    expect(await confirmations(ready.txid)).toBe(1);
  }, 240_000);

  type WatchDecision = { kind: string; contract: string; action: string; deadline: number; blocks_left: number; fee_rate?: number; txid?: string; error?: string };
  type WatchReport = { type: string; reorg?: { depth: number; fork_height?: number }; decisions: WatchDecision[] };
  /** One round of `offchain watch --once` (the built CLI, spawned) for a state directory: its report. */
  async function watchReport(dir: string, key: string, extra: string[] = []): Promise<WatchReport> {
    const r = await run(['watch', '--once', '--key-env', key, '--state-dir', dir, ...n.chain(), ...extra]);
    expect(r.status, describeRun(r)).toBe(0);
    return JSON.parse(r.stdout) as WatchReport;
  }
  /** One round of `offchain watch --once`: every decision of the round. */
  const watchOnce = async (dir: string, key: string, extra: string[] = []) => (await watchReport(dir, key, extra)).decisions;
  /** A block of another branch (to a new address: the same coinbase would be an invalidated block again). */
  const mineOtherBranch = async () => rpc('generatetoaddress', [1, await n.wallet.call<string>('getnewaddress', ['', 'bech32m'])]);
  const only = (ds: WatchDecision[], ch: Channel, kind: string) => {
    const mine = ds.filter((d) => d.contract === ch.id);
    expect(mine.map((d) => d.kind), JSON.stringify(ds)).toContain(kind);
    return mine.find((d) => d.kind === kind)!;
  };
  /** The offer's --safety-margin (beforeAll): the gateway claims from this many blocks before the HTLC's expiry. */
  const MARGIN = 3;

  it('W1: a toll paid on Lightning, the device silent, only offchain watch beside the node for the gateway: nothing before the margin, then the claim package, rebid each block through a fee spike (0.1 → budget at L − 1), mined by the HTLC\'s expiry; a reorganisation of two blocks un-mines the package: reported, the claim held in the mempool, mined again by the expiry; then done', async () => {
    const ch = await openChannel('W1');
    await pay(ch, 20, 20_000_000n);
    await settle(ch, 20, true);
    const job = await pay(ch, 21, 30_000_000n);
    await settle(ch, 21, false); // the gateway holds the preimage; the device never answers
    const L = job.htlc_expiry_height;
    const gw = async () => {
      const ds = await watchOnce(ch.gw, 'MINT_KEY', ['--max-fee-rate', '10']);
      // One kind per contract: the claim is this contract's exit, the credit mint's kind does not act on it too.
      expect(ds.filter((d) => d.contract === ch.id).map((d) => d.kind)).toEqual(['gateway']);
      return only(ds, ch, 'gateway');
    };
    await mineTo(L - MARGIN - 1);
    const far = await gw();
    expect(far, JSON.stringify(far)).toMatchObject({ action: 'none', deadline: L, blocks_left: MARGIN + 1 });
    expect(await rpc<string[]>('getrawmempool')).toEqual([]);
    await n.mine(1);
    const rates: number[] = [];
    let claim = '';
    let state = '';
    for (let tip = L - MARGIN; tip < L; tip++) {
      expect(await n.tip()).toBe(tip);
      const d = await gw();
      expect(d.action, JSON.stringify(d)).toBe(tip === L - MARGIN ? 'claim' : 'rebid');
      expect(d.error, d.error).toBeUndefined();
      rates.push(d.fee_rate!);
      claim = d.txid!;
      const e = await rpc<{ depends: string[]; vsize: number; fees: { base: number } }>('getmempoolentry', [claim]);
      state ||= e.depends[0]!;
      expect(e.depends).toEqual([state]);
      const s = await rpc<{ vsize: number; fees: { base: number } }>('getmempoolentry', [state]);
      const packageRate = Math.round((e.fees.base + s.fees.base) * 1e8) / (e.vsize + s.vsize);
      expect(packageRate).toBeGreaterThanOrEqual(d.fee_rate! - 0.01);
      expect(packageRate).toBeLessThanOrEqual(10.01);
      // The spike: the claim (and, once, the state) left out of the next block, until the last bid.
      if (tip === L - MARGIN) await rpc('prioritisetransaction', [state, 0, -100_000_000]);
      if (tip < L - 1) await rpc('prioritisetransaction', [claim, 0, -100_000_000]);
      else await rpc('prioritisetransaction', [state, 0, 100_000_000]);
      await n.mine(1);
    }
    // From the relay floor (regtest has no estimate) to the budget at the last chance, by hand: 0.1, (0.1 + 10) / 2, 10.
    expect(rates).toEqual([0.1, 5.05, 10]);
    expect(await n.tip()).toBe(L);
    expect(await confirmations(claim)).toBe(1);
    const s = checkState(ch, await rpc<string>('getrawtransaction', [state]), htlcSat(20_000_000n), { k: 21, amount: htlcSat(30_000_000n), expiry: L });
    const claimHex = await rpc<string>('getrawtransaction', [claim]);
    const inputs = parseTx(claimHex).inputs.map((i) => [i.txid, i.vout]);
    const at = inputs.findIndex(([t, v]) => t === state && v === s.vout);
    expect(at).toBeGreaterThanOrEqual(0);
    const prevouts: Prevout[] = parseTx(claimHex).inputs.map((i) => ({ ...s.tx.outputs[i.vout]!, txid: state, vout: i.vout }));
    verifyScriptPathSpend(claimHex, prevouts, at, {
      outputKey: s.tree.output.outputKey, internalKey: s.tree.internalKey, leafScript: s.tree.leaves.claim!.script, signingKey: MINT_PUB.subarray(1), before: [preimage(21)],
    });
    expect(await gw()).toMatchObject({ action: 'wait', txid: claim });
    // A reorganisation of two blocks un-mines the claim package (blocks L − 1 and L): reported, the claim held in the
    // mempool at the budget (the schedule asks less), mined again on the new branch by the HTLC's expiry.
    await rpc('invalidateblock', [await rpc<string>('getblockhash', [L - 1])]);
    expect(await n.tip()).toBe(L - 2);
    expect((await rpc<string[]>('getrawmempool')).sort()).toEqual([claim, state].sort());
    const reorged = await watchReport(ch.gw, 'MINT_KEY', ['--max-fee-rate', '10']);
    expect(reorged.reorg).toMatchObject({ depth: 2, fork_height: L - 2 });
    expect(only(reorged.decisions, ch, 'gateway'), JSON.stringify(reorged)).toMatchObject({ action: 'hold', txid: claim, blocks_left: 2 });
    expect((await rpc<string[]>('getrawmempool')).sort()).toEqual([claim, state].sort());
    await mineOtherBranch();
    expect(await confirmations(claim)).toBe(1);
    expect(await gw()).toMatchObject({ action: 'wait', txid: claim, blocks_left: 1 });
    await n.mine(5);
    expect(await gw()).toMatchObject({ action: 'done', txid: claim });
    // The device's refund, final now, finds its input spent.
    refused(await run(asDev(ch, 'device', 'refund-htlc', '--fee-rate', '2', '--broadcast')), 'E_BROADCAST_REJECTED');
  }, 240_000);

  /**
   * A channel with toll k settled and toll k + 1 in flight without a preimage; the gateway exits (exit-credit
   * --broadcast) and vanishes; the state mined: the HTLC's expiry L and the state as checked.
   */
  async function exitedInFlight(tag: string, k: number) {
    const ch = await openChannel(tag);
    await pay(ch, k, 20_000_000n);
    await settle(ch, k, true);
    const L = (await pay(ch, k + 1, 30_000_000n)).htlc_expiry_height;
    const exit = await step<Exit>(asGw(ch, 'exit-credit', '--fee-rate', '3', '--broadcast'), '', 'credit/exit');
    await n.mine(1);
    return { ch, L, exit, s: checkState(ch, exit.state_tx.hex, htlcSat(20_000_000n), { k: k + 1, amount: htlcSat(30_000_000n), expiry: L }) };
  }

  it('W2: a toll in flight without a preimage, the gateway exits and vanishes, only offchain watch for the device: nothing at L − 1, the HTLC refunded at L (not with another key), mined; a reorganisation un-mines it (waited on in the mempool), one more back below L drops it (non-final): nothing at L − 1, sent again at L, mined; then done', async () => {
    const { ch, L, exit, s } = await exitedInFlight('W2', 22);
    const dev = async (key = 'USER_KEY') => only(await watchOnce(ch.dev, key), ch, 'device');
    await mineTo(L - 1);
    expect(await dev()).toMatchObject({ action: 'none', deadline: L + 6, blocks_left: 7 });
    await n.mine(1);
    // Another key signs nothing: said before anything is built (the refund is held with the error), nothing sent.
    const wrong = await dev('MINT_KEY');
    expect(wrong).toMatchObject({ action: 'hold' });
    expect(wrong.error).toMatch(/^E_WRONG_KEY: /);
    expect(await rpc<string[]>('getrawmempool')).toEqual([]);
    const d = await dev();
    expect(d).toMatchObject({ action: 'refund', deadline: L + 6, blocks_left: 6 });
    expect(d.error).toBeUndefined();
    expect(await rpc<string[]>('getrawmempool')).toEqual([d.txid]);
    verifyScriptPathSpend(await rpc<string>('getrawtransaction', [d.txid]), [{ ...s.tx.outputs[s.vout]!, txid: exit.state_tx.txid, vout: s.vout }], 0, {
      outputKey: s.tree.output.outputKey, internalKey: s.tree.internalKey, leafScript: s.tree.leaves.refund!.script, signingKey: USER_PUB.subarray(1), after: L,
    });
    expect(await dev()).toMatchObject({ action: 'wait', txid: d.txid });
    await n.mine(1);
    expect(await confirmations(d.txid!)).toBe(1);
    expect((await dev()).action).toBe('done');
    // A reorganisation un-mines the refund (block L + 1): reported, the refund back in the mempool and waited on.
    await rpc('invalidateblock', [await rpc<string>('getblockhash', [L + 1])]);
    let r = await watchReport(ch.dev, 'USER_KEY');
    expect(r.reorg).toMatchObject({ depth: 1, fork_height: L });
    expect(only(r.decisions, ch, 'device')).toMatchObject({ action: 'wait', txid: d.txid });
    expect(await rpc<string[]>('getrawmempool')).toEqual([d.txid]);
    // One more, back below the HTLC's expiry (block L): the refund is non-final again, the node drops it; nothing sent at L − 1.
    await rpc('invalidateblock', [await rpc<string>('getblockhash', [L])]);
    expect(await rpc<string[]>('getrawmempool')).toEqual([]);
    r = await watchReport(ch.dev, 'USER_KEY');
    expect(r.reorg).toMatchObject({ depth: 1, fork_height: L - 1 });
    expect(only(r.decisions, ch, 'device')).toMatchObject({ action: 'none', blocks_left: 7 });
    expect(await rpc<string[]>('getrawmempool')).toEqual([]);
    // The new branch reaches L: the watcher sends its refund again (its schedule started at L), mined in L + 1; done.
    await mineOtherBranch();
    const again = await dev();
    expect(again).toMatchObject({ action: 'rebroadcast', blocks_left: 6 });
    expect(await rpc<string[]>('getrawmempool')).toEqual([again.txid]);
    await mineOtherBranch();
    expect(await confirmations(again.txid!)).toBe(1);
    expect((await dev()).action).toBe('done');
  }, 240_000);

  it('W6: a toll in flight without a preimage, the gateway exits and vanishes, fees spike: the device\'s watcher refunds at L and rebids each block (0.1 → the budget at L + 5), never above it, mined by L + 6; a reorganisation of that block puts it back in the mempool, waited on, mined again; then done', async () => {
    const { ch, L, exit, s } = await exitedInFlight('W6', 24);
    const htlcPrevout: Prevout = { ...s.tx.outputs[s.vout]!, txid: exit.state_tx.txid, vout: s.vout };
    const dev = async () => only(await watchOnce(ch.dev, 'USER_KEY', ['--max-fee-rate', '10']), ch, 'device');
    await mineTo(L);
    const rates: number[] = [];
    const aims: string[] = [];
    let refund = '';
    for (let tip = L; tip < L + 6; tip++) {
      expect(await n.tip()).toBe(tip);
      const d = await dev();
      expect(d.action, JSON.stringify(d)).toBe(tip === L ? 'refund' : 'rebid');
      expect(d.error, d.error).toBeUndefined();
      rates.push(d.fee_rate!);
      aims.push(`${d.deadline}-${d.blocks_left}`);
      // The one refund in the mempool is this round's (its last one replaced), paying the bid and never above the budget.
      expect(await rpc<string[]>('getrawmempool')).toEqual([d.txid]);
      refund = d.txid!;
      const e = await rpc<{ vsize: number; fees: { base: number } }>('getmempoolentry', [refund]);
      const rate = Math.round(e.fees.base * 1e8) / e.vsize;
      expect(rate).toBeGreaterThanOrEqual(d.fee_rate! - 0.01);
      expect(rate).toBeLessThanOrEqual(10);
      verifyScriptPathSpend(await rpc<string>('getrawtransaction', [refund]), [htlcPrevout], 0, {
        outputKey: s.tree.output.outputKey, internalKey: s.tree.internalKey, leafScript: s.tree.leaves.refund!.script, signingKey: USER_PUB.subarray(1), after: L,
      });
      // The spike: each refund left out of the next block, until the last bid.
      if (tip < L + 5) await rpc('prioritisetransaction', [refund, 0, -100_000_000]);
      await n.mine(1);
    }
    // From the relay floor (regtest has no estimate) to the budget at the last chance, by hand: 0.1 + ⌈9.9 · k / 5⌉ sat/vB.
    expect(rates).toEqual([0.1, 2.08, 4.06, 6.04, 8.02, 10]);
    // Each decision aims at block L + 6, the blocks left counting down to it.
    expect(aims).toEqual([6, 5, 4, 3, 2, 1].map((k) => `${L + 6}-${k}`));
    expect(await n.tip()).toBe(L + 6);
    expect(await confirmations(refund)).toBe(1);
    expect(await dev()).toMatchObject({ action: 'done' });
    // A reorganisation of the block that mined it: the refund back in the node's mempool, waited on (it pays the budget), mined again.
    await rpc('invalidateblock', [await rpc<string>('getblockhash', [L + 6])]);
    const r = await watchReport(ch.dev, 'USER_KEY', ['--max-fee-rate', '10']);
    expect(r.reorg).toMatchObject({ depth: 1, fork_height: L + 5 });
    expect(only(r.decisions, ch, 'device')).toMatchObject({ action: 'wait', txid: refund });
    expect(await rpc<string[]>('getrawmempool')).toEqual([refund]);
    await mineOtherBranch();
    expect(await confirmations(refund)).toBe(1);
    expect(await dev()).toMatchObject({ action: 'done' });
  }, 240_000);

  /** A `watch` record written straight into the gateway's state database (the operator's database administrator). */
  function forge(ch: Channel, id: string, body: unknown) {
    const db = new Database(join(ch.gw, 'regtest', 'state.sqlite'));
    try {
      db.prepare('INSERT INTO records (kind, id, body) VALUES (?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body').run('watch', id, JSON.stringify(body));
    } finally {
      db.close();
    }
  }
  const gwOnce = async (ch: Channel) => (await watchOnce(ch.gw, 'MINT_KEY')).filter((d) => d.contract === ch.id);

  it('W3: the mint\'s safety margin as long as the HTLC (as the defaults, 144 and 144): one round between gateway settle and the device\'s answer claims nothing, and the device settles off chain', async () => {
    const wide = join(work.path, 'offer-wide.json');
    const key = messageOf<{ p2tr_address: string }>(await run(['key', 'show', '--key-env', 'MINT_KEY']), 'key/public');
    writeFileSync(wide, JSON.stringify(await step<Record<string, unknown>>(
      ['open-credit', '--role', 'mint', '--publish', '--payout-address', key.p2tr_address, '--min-expiry', '5', '--max-expiry', '200', '--safety-margin', String(HTLC_BLOCKS),
        '--key-env', 'MINT_KEY', '--state-dir', join(work.path, 'offer-mint-wide')], '', 'credit/offer')));
    const ch = await openChannel('W3', 100, 100_000n, inProcess, { dir: 'offer-mint-wide', file: wide });
    const job = await pay(ch, 30, 20_000_000n);
    const s = await ch.run(asGw(ch, 'gateway', 'settle', '--preimage-file', preimageFile(30)));
    messageOf(s, 'gateway/settle');
    expect(await gwOnce(ch)).toMatchObject([{ kind: 'gateway', action: 'none', deadline: job.htlc_expiry_height }]);
    expect(await rpc<string[]>('getrawmempool')).toEqual([]);
    const d = await ch.run(asDev(ch, 'device', 'settle'), s.stdout);
    messageOf(await ch.run(asGw(ch, 'gateway', 'complete'), messageOf(d, 'device/settle') && d.stdout), 'gateway/receipt');
  }, 240_000);

  it('W4: a forged claim record naming a mined transaction that is not a claim of this HTLC (the funding) claims nothing: inside the margin the watcher claims', async () => {
    const ch = await openChannel('W4');
    const job = await pay(ch, 31, 20_000_000n);
    await settle(ch, 31, false);
    const L = job.htlc_expiry_height;
    await mineTo(L - MARGIN);
    forge(ch, `claim-${ch.id}`, { start_tip: L - MARGIN, rate: 1000, tip: L - MARGIN, block: '', txid: ch.funding.txid, payment: `${job.payment_hash}:${job.state_txid}` });
    const [d] = await gwOnce(ch);
    expect(d, JSON.stringify(d)).toMatchObject({ kind: 'gateway', action: 'rebroadcast' });
    expect(await rpc<string[]>('getrawmempool')).toContain(d!.txid);
  }, 240_000);

  it('W5: a claim record left by an earlier payment (stored, never sent; the device then settled) steers nothing: the next payment, far from its margin, is not claimed', async () => {
    const ch = await openChannel('W5', 100);
    const first = await pay(ch, 32, 10_000_000n);
    forge(ch, `claim-${ch.id}`, { start_tip: first.htlc_expiry_height - 3, rate: 1000, tip: first.htlc_expiry_height - 3, block: '', payment: `${first.payment_hash}:${first.state_txid}` });
    await settle(ch, 32, true);
    const job = await pay(ch, 33, 10_000_000n);
    await settle(ch, 33, false);
    expect(await gwOnce(ch)).toMatchObject([{ kind: 'gateway', action: 'none', deadline: job.htlc_expiry_height }]);
    expect(await rpc<string[]>('getrawmempool')).toEqual([]);
  }, 240_000);
});
