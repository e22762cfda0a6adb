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
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { hex } from '@scure/base';
import { mintRecord, networkDir } from '../state.ts';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { fileSnapshot } from '../helpers.ts';
import { pipeline } from '../e2e/cli.ts';
import { MINT_KEY, USER_KEY, ok } from '../e2e/fixtures.ts';
import { waitFor, type Lightningd } from './lightningd.ts';
import type { FundedNode } from './funded-node.ts';
import { pipelineInProcess } from './in-process-cli.ts';
import type { ClnRpc } from '../../src/lib/lightning/cln-rpc.ts';
import { CAPACITY, RUN, TERMS, htlcSat, startDeviceClnWorld, worldTitle, type DeviceClnWorld, type Msg } from './device-cln-world.ts';

const TITLE = worldTitle('device ↔ gateway paying through Core Lightning');

const CONTRACT = musigTaprootOutput([publicKeyOf(hex.decode(USER_KEY)), publicKeyOf(hex.decode(MINT_KEY))]);

(RUN ? describe : describe.skip)(TITLE, () => {
  let w: DeviceClnWorld;
  let n: FundedNode;
  let gw: Lightningd;
  let payee: Lightningd;
  let mintDir: string;
  let userDir: string;
  let contractId: string;
  let socket: string;
  let payeeRpc: ClnRpc;
  let gwRpc: ClnRpc;
  let terms: string;
  let policy: string;
  let settled = 0;
  let state = 0;
  const file = (name: string, text: string) => w.file(name, text);
  const device = (...args: string[]) => w.device(...args);
  const gateway = (...args: string[]) => w.gateway(...args);
  const devicePay = async (invoiceFile: string) => device('device', 'pay', '--invoice', invoiceFile, '--policy', policy, '--terms', terms, '--tip-height', String(await n.tip()));
  const gatewayPay = (...extra: string[]) => gateway('gateway', 'pay', '--terms', terms, '--lightning-rpc', socket, ...extra);

  /** The gateway's stored record, read through the mint's own store on its state.sqlite; the mint's key opens the sealed states, as the gateway's commands do. */
  async function gatewayRecord(): Promise<Msg> {
    return (await mintRecord<Msg & { contract_id: string }>(networkDir(mintDir), contractId, hex.decode(MINT_KEY)))!;
  }

  const deviceRecord = () => w.deviceRecord();

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
    w = await startDeviceClnWorld('offchain-device-cln-');
    ({ n, gw, payee, mintDir, userDir, contractId, socket, gwRpc, payeeRpc, terms, policy } = w);
  }, 180_000);

  afterAll(async () => {
    await w?.stop();
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
    const before = { mint: fileSnapshot(mintDir, { sqliteRows: true }), user: fileSnapshot(userDir) };
    const again = await pipeline([gatewayPay('--pay-timeout', '2', '--resume')], '');
    expect(again[0]!.stderr).toMatch(/error E_PAYMENT_PENDING: /);
    expect([again[0]!.status, again[0]!.stdout]).toEqual([5, '']);
    expect({ mint: fileSnapshot(mintDir, { sqliteRows: true }), user: fileSnapshot(userDir) }).toEqual(before);
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
      const st = await waitFor('the gateway node at the new tip', async () => ((await gwRpc.call<{ blockheight: number }>('getinfo', {})).blockheight >= tip ? true : undefined), 60_000).then(async () => {
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
