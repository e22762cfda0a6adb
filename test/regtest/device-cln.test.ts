/**
 * The IoT toll scenario (docs/device-gateway.md) with real Core Lightning nodes (issue 27
 * items 2 and 4): the gateway pays each invoice through its own CLN node with
 * `gateway pay --lightning-rpc` (its lightning-rpc socket), over a real channel to the
 * payee's CLN node, which made the invoices. Everything on one `bitcoind -regtest`: the
 * device's channel is a credit contract funded there (the gateway asks the node for the
 * tip and the funding; the device is told the tip), the Lightning channel too.
 *
 *   open (funded, mined) → 20 tolls: device pay | gateway pay --lightning-rpc | device settle,
 *     then gateway complete | device receipt; each paid by CLN and settled with the preimage CLN
 *     returned (the device's kept preimage hashes to the invoice's hash), each stored state
 *     verified by the independent verifier. Tolls 0, 4, 8, 12, 16 run as processes through OS
 *     pipes (their wall times are the printed benchmark); the other fifteen run the same five
 *     steps, each one's stdout the next one's input, in the test process (~10 ms a step instead
 *     of a process); the open, and device fail | gateway complete | device receipt after the
 *     deleted-invoice and held tolls (the too-big toll's are processes), run there too
 *   → one toll the channel to the payee cannot carry (no route: nothing sent), and one whose
 *     invoice the payee deleted (its HTLC failed back): CLN fails each, the gateway prints
 *     gateway/fail → device fail
 *   → one toll the payee holds (a test plugin never answers its HTLC): E_PAYMENT_PENDING
 *     (exit 5), a re-run and --resume change nothing; the payee goes away, blocks are mined,
 *     the gateway's node times its HTLC out on chain before the device's HTLC expiry less
 *     the claim margin (pay's maxdelay), and --resume then yields gateway/fail → the device
 *     gets its amount back in the fail state
 *   → cooperative close, accepted and mined.
 *
 * Skipped visibly without LIGHTNINGD or BITCOIND.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { hex } from '@scure/base';
import { satsToBtc } from '../../src/lib/chain/amount.ts';
import { MintStore } from '../../src/lib/store/mint-store.ts';
import { StateSeal } from '../../src/lib/store/state-seal.ts';
import { withLock } from '../../src/lib/store/lock.ts';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { ROOT, fileSnapshot, tempDir } from '../helpers.ts';
import { pipeline, type Stage } from '../e2e/cli.ts';
import { MINT_KEY, USER_KEY, ok } from '../e2e/fixtures.ts';
import { findBitcoind } from './bitcoind.ts';
import { findLightningd, startLightningd, waitFor, type Lightningd } from './lightningd.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { assertBuilt, messageOf } from './offchain-cli.ts';
import { offchainInProcess as offchain, pipelineInProcess } from './in-process-cli.ts';
import { ClnRpc } from '../../src/lib/lightning/cln-rpc.ts';

const BITCOIND = findBitcoind();
const LIGHTNINGD = findLightningd();
const RUN = BITCOIND !== undefined && LIGHTNINGD !== undefined;
const TITLE = RUN
  ? `device ↔ gateway paying through Core Lightning (${LIGHTNINGD})`
  : `device ↔ gateway paying through Core Lightning — SKIPPED: ${LIGHTNINGD ? 'no bitcoind (BITCOIND)' : 'LIGHTNINGD is unset'}`;
if (!RUN) console.warn(`[regtest] ${TITLE}`);

const CONTRACT = musigTaprootOutput([publicKeyOf(hex.decode(USER_KEY)), publicKeyOf(hex.decode(MINT_KEY))]);
const CAPACITY = 2_000_000n;
const TERMS = { fee_base_msat: 1000, fee_ppm: 2000, cltv_budget_blocks: 10, claim_margin_blocks: 6 };
const HTLC_BLOCKS = 40;
const HOLD_PLUGIN = join(ROOT, 'test/regtest/cln-plugins/hold-htlc.cjs');
/** The HTLC amount by the terms (base + ppm rounded up, the sum rounded up to the sat): the test's own arithmetic. */
const htlcSat = (msat: bigint) => Number((msat + 1000n + (msat * 2000n + 999_999n) / 1_000_000n + 999n) / 1000n);

type Msg = Record<string, any>;

(RUN ? describe : describe.skip)(TITLE, () => {
  let n: FundedNode;
  let gw: Lightningd;
  let payee: Lightningd;
  let work: { path: string; cleanup: () => void };
  let mintDir: string;
  let userDir: string;
  let contractId: string;
  let socket: string;
  /** The test's own calls in the toll loop go over the sockets (no lightning-cli process per call). */
  let payeeRpc: ClnRpc;
  let gwRpc: ClnRpc;
  let settled = 0;
  let state = 0;
  const device = (...args: string[]): Stage => ({ args: [...args, '--key-env', 'USER_KEY', '--state-dir', userDir], env: { USER_KEY } });
  const gateway = (...args: string[]): Stage => ({ args: [...args, '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...n.chain()], env: { MINT_KEY } });
  const file = (name: string, text: string) => {
    const p = join(work.path, name);
    writeFileSync(p, text);
    return p;
  };
  let terms: string;
  let policy: string;
  const devicePay = async (invoiceFile: string) => device('device', 'pay', '--invoice', invoiceFile, '--policy', policy, '--terms', terms, '--tip-height', String(await n.tip()));
  const gatewayPay = (...extra: string[]) => gateway('gateway', 'pay', '--terms', terms, '--lightning-rpc', socket, ...extra);

  /** The gateway's stored record (read under its lock, as the CLI writes it). */
  async function gatewayRecord(): Promise<Msg> {
    const dir = join(mintDir, 'regtest', 'credit-mint');
    return withLock(dir, async () => {
      // The mint's key opens the sealed states, as the gateway's commands do (src/lib/store/state-seal.ts).
      const store = await MintStore.open<Msg & { contract_id: string }>(dir, { seal: StateSeal.fromMintKey(hex.decode(MINT_KEY)) });
      try {
        return (await store.get(contractId))!;
      } finally {
        await store.close();
      }
    });
  }

  /** The device's record (its credit contract file). */
  function deviceRecord(): Msg {
    const dir = join(userDir, 'regtest', 'credit-user', 'contracts');
    const name = readdirSync(dir).find((f) => f.startsWith(contractId))!;
    return JSON.parse(readFileSync(join(dir, name), 'utf8')) as Msg;
  }

  /** The gateway's latest stored state verified independently: its key-path signature, and the payout = settled. */
  async function verifyLatest(wantState: number, wantSettled: number) {
    const r = await gatewayRecord();
    expect(r.latest.state).toBe(wantState);
    const funding = r.contract.funding as { txid: string; vout: number };
    const tx = verifyKeyPathSpend(r.latest.hex, [{ amount: CAPACITY, script: CONTRACT.script, txid: funding.txid, vout: funding.vout }], CONTRACT.outputKey);
    const amounts = tx.outputs.map((o) => Number(o.amount));
    if (wantSettled > 0) expect(amounts[0]).toBe(wantSettled);
    expect(amounts.reduce((a, b) => a + b, 0)).toBeLessThan(Number(CAPACITY));
    return tx;
  }

  beforeAll(async () => {
    assertBuilt();
    work = tempDir('offchain-device-cln-');
    mintDir = join(work.path, 'mint');
    userDir = join(work.path, 'user');
    n = await startFundedNode(BITCOIND!, 'miner');
    // The payee's hold plugin, run by this very node binary (whatever PATH lightningd gets).
    const plugin = join(work.path, 'hold-htlc');
    writeFileSync(plugin, `#!/bin/sh\nexec '${process.execPath}' '${HOLD_PLUGIN}'\n`, { mode: 0o755 });
    [gw, payee] = await Promise.all([
      startLightningd(LIGHTNINGD!, n.node, 'gateway'),
      startLightningd(LIGHTNINGD!, n.node, 'payee', 30_000, [`--plugin=${plugin}`]),
    ]);
    socket = join(gw.dir, 'regtest', 'lightning-rpc');
    gwRpc = new ClnRpc(socket);
    payeeRpc = new ClnRpc(join(payee.dir, 'regtest', 'lightning-rpc'));
    // The gateway's Lightning channel to the payee: 1 000 000 sat, unannounced.
    const addr = (await gw.call<{ p2tr: string }>('newaddr', { addresstype: 'p2tr' })).p2tr;
    await n.wallet.call('sendtoaddress', [addr, 1]);
    await n.mine(1);
    await waitFor('the gateway node sees its coin', async () => ((await gw.call<{ outputs: { status: string }[] }>('listfunds')).outputs.some((o) => o.status === 'confirmed') ? true : undefined));
    await gw.call('connect', { id: payee.id, host: '127.0.0.1', port: payee.port });
    await gw.call('fundchannel', { id: payee.id, amount: 1_000_000, announce: false });
    await n.mine(6);
    await waitFor('the channel is normal', async () => ((await gw.call<{ channels: { state: string }[] }>('listpeerchannels')).channels.some((c) => c.state === 'CHANNELD_NORMAL') ? true : undefined));

    terms = file('terms.json', JSON.stringify({ ...TERMS }));
    policy = file('policy.json', JSON.stringify({
      max_payment_msat: 1_500_000_000, max_daily_msat: 10_000_000_000, max_fee_base_msat: 1000, max_fee_ppm: 5000,
      allowed_payees: [payee.id], htlc_expiry_blocks: HTLC_BLOCKS, claim_margin_blocks: TERMS.claim_margin_blocks,
    }));

    // The device's channel: a credit contract (device = user, gateway = mint) funded on the same node. Setup, run
    // in the test process (the same bundle's `main`, ~10 ms a step instead of a ~0.15 CPU-s process); the tolls
    // below are processes, and the open as processes is test/regtest/device-cli.test.ts's channel A.
    const env = { MINT_KEY, USER_KEY };
    const key = messageOf<{ p2tr_address: string }>(await offchain(['key', 'show', '--key-env', 'MINT_KEY'], { env }), 'key/public');
    const offer = messageOf<Msg>(await offchain(['open-credit', '--role', 'mint', '--publish', '--payout-address', key.p2tr_address, '--min-expiry', '5', '--max-expiry', '200', '--safety-margin', '3', '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...n.chain()], { env }), 'credit/offer');
    const offerFile = file('offer.json', JSON.stringify(offer));
    const address = messageOf<{ address: string }>(await offchain(['open-credit', '--role', 'user', '--key-env', 'USER_KEY', '--state-dir', userDir, ...n.chain()], { env, input: JSON.stringify(offer) }), 'credit/address');
    const created = await n.wallet.call<{ psbt: string }>('walletcreatefundedpsbt', [[], [{ [address.address]: satsToBtc(CAPACITY) }], 0, { change_type: 'bech32m', replaceable: false }]);
    const refund = await n.wallet.call<string>('getnewaddress', ['', 'bech32m']);
    const request = messageOf<Msg>(await offchain(['open-credit', '--role', 'user', '--offer', offerFile, '--expiry', '+150', '--refund-address', refund, '--key-env', 'USER_KEY', '--state-dir', userDir, ...n.chain()], { env, input: created.psbt }), 'credit/open-request');
    contractId = request.contract_id;
    const accept = messageOf<Msg>(await offchain(['open-credit', '--role', 'mint', '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...n.chain()], { env, input: JSON.stringify(request) }), 'credit/open-accept');
    const opened = messageOf<Msg>(await offchain(['open-credit', '--role', 'user', '--key-env', 'USER_KEY', '--state-dir', userDir, ...n.chain()], { env, input: JSON.stringify(accept) }), 'credit/opened');
    const signed = await n.wallet.call<{ psbt: string; complete: boolean }>('walletprocesspsbt', [opened.funding_psbt]);
    const final = await n.node.rpc.call<{ hex: string }>('finalizepsbt', [signed.psbt]);
    await n.acceptAndMine(final.hex);
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled([gw?.stop(), payee?.stop()]);
    await n?.stop();
    work?.cleanup();
  });

  const paidMs: number[] = [];
  const lightningMs: number[] = [];

  it('20 tolls paid by Core Lightning and settled with the preimage it returned (device pay | gateway pay --lightning-rpc | device settle; 5 of them through processes)', async () => {
    for (let k = 0; k < 20; k++) {
      const msat = BigInt(1_000_000 + 37_000 * k);
      const inv = await payeeRpc.call<{ bolt11: string; payment_hash: string }>('invoice', { amount_msat: Number(msat), label: `toll-${k}`, description: `toll ${k}` });
      const invoiceFile = file(`toll-${k}.bolt11`, inv.bolt11);
      const spawned = k % 4 === 0;
      const chain = spawned ? pipeline : pipelineInProcess;
      const started = performance.now();
      const paid = await chain([await devicePay(invoiceFile), gatewayPay(), device('device', 'settle')], '');
      const settledMsg = ok(paid, 'device/settle');
      const receipt = ok(await chain([gateway('gateway', 'complete'), device('device', 'receipt')], JSON.stringify(settledMsg)), 'credit/balance');
      const elapsed = performance.now() - started;
      // The gateway's own report of the Lightning part (stderr: "paid on Lightning in N ms").
      const lnMs = /paid on Lightning in (\d+) ms/.exec(paid[1]!.stderr)?.[1];
      expect(lnMs, paid[1]!.stderr).toBeDefined();
      if (spawned) {
        paidMs.push(elapsed);
        lightningMs.push(Number(lnMs));
      }
      const A = htlcSat(msat);
      state += 2;
      settled += A;
      expect([receipt.state, receipt.cumulative_sat]).toEqual([state, settled]);
      // Paid once, on the payee's side too; the preimage the device keeps is the one for the invoice's hash.
      const onPayee = (await payeeRpc.call<{ invoices: { status: string; amount_received_msat: number }[] }>('listinvoices', { label: `toll-${k}` })).invoices[0]!;
      expect(onPayee.status).toBe('paid');
      expect(onPayee.amount_received_msat).toBe(Number(msat));
      const kept = (deviceRecord().device.paid as { payment_hash: string; preimage: string }[]).find((p) => p.payment_hash === inv.payment_hash)!;
      expect(hex.encode(sha256(hex.decode(kept.preimage)))).toBe(inv.payment_hash);
      // The routing fee the node paid never exceeds what the device paid the gateway.
      const pays = (await gwRpc.call<{ pays: { amount_msat: number; amount_sent_msat: number }[] }>('listpays', { payment_hash: inv.payment_hash })).pays;
      expect(pays).toHaveLength(1);
      expect(BigInt(pays[0]!.amount_sent_msat) - msat).toBeLessThanOrEqual(BigInt(A) * 1000n - msat);
      await verifyLatest(state, settled);
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(0);
    const without = paidMs.map((t, i) => t - lightningMs[i]!);
    expect(paidMs).toHaveLength(5);
    console.log(`device ↔ gateway through Core Lightning, 20 tolls (5 through processes), wall ms of those: pay → settled receipt (5 processes) median ${med(paidMs)} (min ${Math.min(...paidMs).toFixed(0)}, max ${Math.max(...paidMs).toFixed(0)}); of which the Lightning payment (gateway's pay RPC) median ${med(lightningMs)}; without it median ${med(without)}`);
  }, 240_000);

  it('a toll the Lightning channel cannot carry: CLN fails it, the gateway prints gateway/fail, the device gets its amount back', async () => {
    const msat = 1_200_000_000n; // over the 1 000 000 sat channel to the payee
    const inv = await payee.call<{ bolt11: string; payment_hash: string }>('invoice', { amount_msat: Number(msat), label: 'too-big', description: 'too big' });
    const failed = await pipeline([await devicePay(file('too-big.bolt11', inv.bolt11)), gatewayPay('--pay-timeout', '10')], '');
    const failMsg = ok(failed, 'gateway/fail');
    expect(failMsg.payment_hash).toBe(inv.payment_hash);
    expect(failed[1]!.stderr).toMatch(/the Lightning payment failed/);
    const receipt = ok(await pipeline([device('device', 'fail'), gateway('gateway', 'complete'), device('device', 'receipt')], JSON.stringify(failMsg)), 'credit/balance');
    state += 2;
    expect([receipt.state, receipt.cumulative_sat]).toEqual([state, settled]);
    await verifyLatest(state, settled);
    expect((await payee.call<{ invoices: { status: string }[] }>('listinvoices', { label: 'too-big' })).invoices[0]!.status).toBe('unpaid');

    // An invoice the payee no longer knows (deleted): the HTLC reaches it and is failed back (CLN 203, a failed
    // attempt on record): gateway/fail again, and the amount back to the device.
    const gone = await payee.call<{ bolt11: string; payment_hash: string }>('invoice', { amount_msat: 1_500_000, label: 'gone', description: 'gone' });
    await payee.call('delinvoice', { label: 'gone', status: 'unpaid' });
    const first = await pipeline([await devicePay(file('gone.bolt11', gone.bolt11)), gatewayPay('--pay-timeout', '3')], '');
    expect(first[0]!.status, first[0]!.stderr).toBe(0);
    // The failed-back HTLC may still show as out when pay answers (CLN updates it a moment later): then the
    // gateway says pending, and the operator's re-run (--resume) decides; bounded here.
    let last = first[1]!;
    let reruns = 0;
    while (last.status === 5 && /error E_PAYMENT_PENDING: /.test(last.stderr) && reruns < 40) {
      await new Promise((r) => setTimeout(r, 1000));
      last = (await pipeline([gatewayPay('--pay-timeout', '3', '--resume')], ''))[0]!;
      reruns += 1;
    }
    const failMsg2 = ok([last], 'gateway/fail');
    expect(last.stderr).toMatch(/the Lightning payment failed: /);
    if (reruns) console.log(`deleted invoice: pending at first, decided (failed) after ${reruns} --resume run(s)`);
    expect((await gw.call<{ pays: { status: string }[] }>('listpays', { payment_hash: gone.payment_hash })).pays.map((p) => p.status)).toEqual(['failed']);
    // device fail | gateway complete | device receipt as processes: the too-big toll's; here in the test process.
    const receipt2 = ok(await pipelineInProcess([device('device', 'fail'), gateway('gateway', 'complete'), device('device', 'receipt')], JSON.stringify(failMsg2)), 'credit/balance');
    state += 2;
    expect([receipt2.state, receipt2.cumulative_sat]).toEqual([state, settled]);
    await verifyLatest(state, settled);
  }, 90_000);

  it('a toll the payee holds: E_PAYMENT_PENDING (nothing written), then the Lightning HTLC times out before the device\'s HTLC expiry less the claim margin, and the device gets its amount back', async () => {
    const msat = 2_000_000n;
    const inv = await payee.call<{ bolt11: string; payment_hash: string }>('invoice', { amount_msat: Number(msat), label: 'held', description: 'held' });
    writeFileSync(join(payee.dir, 'regtest', 'hold-hashes'), `${inv.payment_hash}\n`);
    const payRun = await pipeline([await devicePay(file('held.bolt11', inv.bolt11)), gatewayPay('--pay-timeout', '2')], '');
    expect(payRun[0]!.status, payRun[0]!.stderr).toBe(0);
    expect(payRun[1]!.stderr).toMatch(/error E_PAYMENT_PENDING: /);
    expect(payRun[1]!.status).toBe(5);
    expect(payRun[1]!.stdout).toBe('');
    const job = (await gatewayRecord()).gateway.in_flight as Msg;
    expect(job.payment_hash).toBe(inv.payment_hash);
    const expiry = job.expiry_height as number;
    // A re-run asks the node again: still pending, and neither state directory changes; CLN has one payment for the hash.
    const before = { mint: fileSnapshot(mintDir), user: fileSnapshot(userDir) };
    const again = await pipeline([gatewayPay('--pay-timeout', '2', '--resume')], '');
    expect(again[0]!.stderr).toMatch(/error E_PAYMENT_PENDING: /);
    expect([again[0]!.status, again[0]!.stdout]).toEqual([5, '']);
    expect({ mint: fileSnapshot(mintDir), user: fileSnapshot(userDir) }).toEqual(before);
    const pays = (await gw.call<{ pays: { status: string }[] }>('listpays', { payment_hash: inv.payment_hash })).pays;
    expect(pays.map((p) => p.status)).toEqual(['pending']);
    // pay's maxdelay: the Lightning HTLC the gateway's node offered expires at least the claim margin before the device's HTLC.
    const out = (await gw.call<{ channels: { htlcs: { payment_hash: string; expiry: number; direction: string }[] }[] }>('listpeerchannels')).channels.flatMap((c) => c.htlcs).filter((h) => h.payment_hash === inv.payment_hash);
    expect(out).toHaveLength(1);
    expect(out[0]!.expiry).toBeLessThanOrEqual(expiry - TERMS.claim_margin_blocks);

    // The payee goes away with the HTLC; blocks come. The gateway's node must get its HTLC back on chain
    // (pay's maxdelay: its HTLC expires at least the claim margin before the device's).
    await payee.stop();
    // Straight to two blocks below the Lightning HTLC's expiry (nothing can happen before), then block by block.
    let tip = await n.tip();
    if (out[0]!.expiry - 2 > tip) {
      await n.mine(out[0]!.expiry - 2 - tip);
      tip = out[0]!.expiry - 2;
    }
    for (;;) {
      await n.mine(1);
      tip += 1;
      const st = await waitFor('the gateway node at the new tip', async () => ((await gwRpc.call<{ blockheight: number }>('getinfo', {})).blockheight >= tip ? true : undefined), 10_000).then(async () => {
        await new Promise((r) => setTimeout(r, 800));
        return (await gwRpc.call<{ pays: { status: string }[] }>('listpays', { payment_hash: inv.payment_hash })).pays.map((p) => p.status).join(',');
      });
      if (st === 'failed') break;
      expect(tip, `the Lightning HTLC is still out at ${tip}`).toBeLessThan(expiry - TERMS.claim_margin_blocks);
    }
    expect(tip).toBeLessThanOrEqual(expiry - TERMS.claim_margin_blocks);
    const failMsg = ok(await pipeline([gatewayPay('--pay-timeout', '2', '--resume')], ''), 'gateway/fail');
    expect(failMsg.payment_hash).toBe(inv.payment_hash);
    // device fail | gateway complete | device receipt as processes: the too-big toll's; here in the test process.
    const receipt = ok(await pipelineInProcess([device('device', 'fail'), gateway('gateway', 'complete'), device('device', 'receipt')], JSON.stringify(failMsg)), 'credit/balance');
    state += 2;
    expect([receipt.state, receipt.cumulative_sat]).toEqual([state, settled]);
    await verifyLatest(state, settled);
    console.log(`held payment: the gateway's Lightning HTLC (expiry ${out[0]!.expiry}) failed on chain at height ${tip}; the device's HTLC expiry ${expiry}, claim margin ${TERMS.claim_margin_blocks}`);
  }, 120_000);

  it('the channel closes cooperatively: the close pays the gateway its settled amount, accepted and mined', async () => {
    const results = await pipeline([device('close-credit', '--role', 'user', '--start'), gateway('close-credit', '--role', 'mint'), device('close-credit', '--role', 'user')], '');
    const closed = ok(results, 'credit/closed');
    expect(closed.cumulative_sat).toBe(settled);
    const r = await gatewayRecord();
    const funding = r.contract.funding as { txid: string; vout: number };
    const tx = verifyKeyPathSpend(closed.hex, [{ amount: CAPACITY, script: CONTRACT.script, txid: funding.txid, vout: funding.vout }], CONTRACT.outputKey);
    expect(Number(tx.outputs[0]!.amount)).toBe(settled);
    await n.acceptAndMine(closed.hex);
  }, 60_000);
});
