/**
 * Issue 39's "done when" for the gateway: a device pays Lightning invoices through
 * `offchain serve gateway --lightning-rpc` with REAL Core Lightning (gateway node → payee node
 * over a real channel, one bitcoind -regtest), each toll one `device pay --peer` process:
 * device/pay → the service pays on Lightning → gateway/settle applied → complete → receipt
 * applied, credit/balance printed.
 *
 *   open (funded, mined) → 6 tolls by `device pay --peer` (paid once on the payee's side, the
 *     device's kept preimage hashes to the invoice's hash); wall time pay → receipt and the
 *     device process's CPU printed (median of the last 5), the Lightning part from the service's log
 *   → a toll the payee holds; the service killed -9 while its node's payment is out; restarted,
 *     the same `device pay --peer` again: 503 E_PAYMENT_PENDING after its retries, the node still
 *     with ONE payment for the hash (listpays); the payee goes away, blocks come, the gateway's
 *     node fails its HTLC on chain; the same command again → gateway/fail → device fail →
 *     receipt, still one payment in listpays
 *   → cooperative close, accepted and mined.
 *
 * Skipped visibly without LIGHTNINGD or BITCOIND.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { hex } from '@scure/base';
import { satsToBtc } from '../../src/lib/chain/amount.ts';
import { ROOT, fileSnapshot, tempDir } from '../helpers.ts';
import { BIN, cleanEnv, pipeline, type Stage } from '../e2e/cli.ts';
import { MINT_KEY, USER_KEY, ok } from '../e2e/fixtures.ts';
import { median, timedRun } from '../e2e/serve-gateway-service.ts';
import { startGateway, type GatewayService as Service } from '../e2e/serve-process.ts';
import { findBitcoind } from './bitcoind.ts';
import { findLightningd, startLightningd, waitFor, type Lightningd } from './lightningd.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { assertBuilt, messageOf } from './offchain-cli.ts';
import { offchainInProcess as offchain } from './in-process-cli.ts';
import { ClnRpc } from '../../src/lib/lightning/cln-rpc.ts';

const BITCOIND = findBitcoind();
const LIGHTNINGD = findLightningd();
const RUN = BITCOIND !== undefined && LIGHTNINGD !== undefined;
const TITLE = RUN
  ? `device pay --peer through serve gateway and Core Lightning (${LIGHTNINGD})`
  : `device pay --peer through serve gateway and Core Lightning — SKIPPED: ${LIGHTNINGD ? 'no bitcoind (BITCOIND)' : 'LIGHTNINGD is unset'}`;
if (!RUN) console.warn(`[regtest] ${TITLE}`);

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
  let payeeRpc: ClnRpc;
  let gwRpc: ClnRpc;
  let svc: Service;
  let settled = 0;
  let state = 0;
  const file = (name: string, text: string) => {
    const p = join(work.path, name);
    writeFileSync(p, text);
    return p;
  };
  let terms: string;
  let policy: string;
  const device = (...args: string[]): Stage => ({ args: [...args, '--key-env', 'USER_KEY', '--state-dir', userDir], env: { USER_KEY } });
  const gateway = (...args: string[]): Stage => ({ args: [...args, '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...n.chain()], env: { MINT_KEY } });
  const serve = () => startGateway(['--terms', terms, '--lightning-rpc', socket, '--pay-timeout', '2', '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...n.chain()], { MINT_KEY });
  const peerArgs = async (invoiceFile: string) => ['device', 'pay', '--peer', svc.public, '--invoice', invoiceFile, '--policy', policy, '--terms', terms, '--tip-height', String(await n.tip()), '--key-env', 'USER_KEY', '--state-dir', userDir];
  const paysFor = async (hash: string) => (await gwRpc.call<{ pays: { status: string }[] }>('listpays', { payment_hash: hash })).pays;

  function deviceRecord(): Msg {
    const dir = join(userDir, 'regtest', 'credit-user', 'contracts');
    const name = readdirSync(dir).find((f) => f.startsWith(contractId))!;
    return JSON.parse(readFileSync(join(dir, name), 'utf8')) as Msg;
  }

  beforeAll(async () => {
    assertBuilt();
    work = tempDir('offchain-serve-gw-cln-');
    mintDir = join(work.path, 'mint');
    userDir = join(work.path, 'user');
    n = await startFundedNode(BITCOIND!, 'miner');
    const plugin = join(work.path, 'hold-htlc');
    writeFileSync(plugin, `#!/bin/sh\nexec '${process.execPath}' '${HOLD_PLUGIN}'\n`, { mode: 0o755 });
    [gw, payee] = await Promise.all([
      startLightningd(LIGHTNINGD!, n.node, 'gateway'),
      startLightningd(LIGHTNINGD!, n.node, 'payee', 30_000, [`--plugin=${plugin}`]),
    ]);
    socket = join(gw.dir, 'regtest', 'lightning-rpc');
    gwRpc = new ClnRpc(socket);
    payeeRpc = new ClnRpc(join(payee.dir, 'regtest', 'lightning-rpc'));
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
    // The device's channel: a credit contract funded on the node (as test/regtest/device-cln.test.ts opens it, in process).
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
    svc = await serve();
  }, 240_000);

  afterAll(async () => {
    await svc?.stop();
    await Promise.allSettled([gw?.stop(), payee?.stop()]);
    await n?.stop();
    work?.cleanup();
  });

  it('6 tolls, each one device pay --peer process: paid by Core Lightning once, settled with its preimage, the receipt applied', async () => {
    const wall: number[] = [];
    const cpu: number[] = [];
    const ln: number[] = [];
    for (let k = 0; k < 6; k++) {
      const msat = BigInt(1_000_000 + 37_000 * k);
      const inv = await payeeRpc.call<{ bolt11: string; payment_hash: string }>('invoice', { amount_msat: Number(msat), label: `toll-${k}`, description: `toll ${k}` });
      const logBefore = svc.stderr().length;
      const r = await timedRun(await peerArgs(file(`toll-${k}.bolt11`, inv.bolt11)), { USER_KEY });
      expect(r.status, r.stderr).toBe(0);
      const balance = JSON.parse(r.stdout) as Msg;
      state += 2;
      settled += htlcSat(msat);
      expect([balance.type, balance.state, balance.cumulative_sat]).toEqual(['credit/balance', state, settled]);
      const onPayee = (await payeeRpc.call<{ invoices: { status: string; amount_received_msat: number }[] }>('listinvoices', { label: `toll-${k}` })).invoices[0]!;
      expect([onPayee.status, onPayee.amount_received_msat]).toEqual(['paid', Number(msat)]);
      expect(await paysFor(inv.payment_hash)).toHaveLength(1);
      const kept = (deviceRecord().device.paid as { payment_hash: string; preimage: string }[]).find((p) => p.payment_hash === inv.payment_hash)!;
      expect(hex.encode(sha256(hex.decode(kept.preimage)))).toBe(inv.payment_hash);
      // The preimage never reaches the service's log.
      expect(svc.stderr()).not.toContain(kept.preimage);
      const lnMs = /paid on Lightning in (\d+) ms/.exec(svc.stderr().slice(logBefore))?.[1];
      expect(lnMs, svc.stderr().slice(logBefore)).toBeDefined();
      if (k > 0) {
        wall.push(r.ms);
        cpu.push(r.cpuMs);
        ln.push(Number(lnMs));
      }
    }
    const without = wall.map((t, i) => t - ln[i]!);
    console.log(`device pay --peer through serve gateway + Core Lightning, 5 tolls: pay → receipt wall median ${median(wall).toFixed(0)} ms (${wall.map((x) => x.toFixed(0)).join(', ')}); the Lightning payment median ${median(ln)} ms; without it median ${median(without).toFixed(0)} ms; device process CPU median ${median(cpu).toFixed(0)} ms (${cpu.map((x) => x.toFixed(0)).join(', ')})`);
  }, 240_000);

  it('the service killed -9 with its node\'s payment out: the same device pay --peer after a restart is E_PAYMENT_PENDING and the node has one payment; failed on chain later, the same command ends the toll', async () => {
    const msat = 2_000_000n;
    const inv = await payee.call<{ bolt11: string; payment_hash: string }>('invoice', { amount_msat: Number(msat), label: 'held', description: 'held' });
    writeFileSync(join(payee.dir, 'regtest', 'hold-hashes'), `${inv.payment_hash}\n`);
    const invoiceFile = file('held.bolt11', inv.bolt11);
    const first = spawn(process.execPath, [BIN, ...(await peerArgs(invoiceFile))], { env: cleanEnv({ USER_KEY }), stdio: ['ignore', 'pipe', 'pipe'] });
    const firstDone = new Promise((res) => first.on('exit', res));
    await waitFor('the gateway node has the payment out', async () => ((await paysFor(inv.payment_hash)).some((p) => p.status === 'pending') ? true : undefined), 30_000);
    await svc.stop('SIGKILL');
    first.kill('SIGKILL');
    await firstDone;
    svc = await serve();
    const userBefore = fileSnapshot(userDir);
    const again = await timedRun(await peerArgs(invoiceFile), { USER_KEY });
    expect([again.status, /error (E_[A-Z_]+)/.exec(again.stderr)?.[1], again.stdout], again.stderr).toEqual([5, 'E_PAYMENT_PENDING', '']);
    expect(fileSnapshot(userDir)).toEqual(userBefore);
    expect((await paysFor(inv.payment_hash)).map((p) => p.status)).toEqual(['pending']);

    // The payee goes away with the HTLC; blocks come until the gateway's node has failed it on chain.
    const out = (await gw.call<{ channels: { htlcs: { payment_hash: string; expiry: number }[] }[] }>('listpeerchannels')).channels.flatMap((c) => c.htlcs).filter((h) => h.payment_hash === inv.payment_hash);
    expect(out).toHaveLength(1);
    await payee.stop();
    let tip = await n.tip();
    if (out[0]!.expiry - 2 > tip) {
      await n.mine(out[0]!.expiry - 2 - tip);
      tip = out[0]!.expiry - 2;
    }
    for (let i = 0; i < 40; i++) {
      await n.mine(1);
      tip += 1;
      await waitFor('the gateway node at the new tip', async () => ((await gwRpc.call<{ blockheight: number }>('getinfo', {})).blockheight >= tip ? true : undefined), 10_000);
      await new Promise((r) => setTimeout(r, 800));
      if ((await paysFor(inv.payment_hash)).every((p) => p.status === 'failed')) break;
    }
    const done = await timedRun(await peerArgs(invoiceFile), { USER_KEY });
    expect(done.status, done.stderr).toBe(0);
    const balance = JSON.parse(done.stdout) as Msg;
    state += 2;
    expect([balance.type, balance.state, balance.cumulative_sat]).toEqual(['credit/balance', state, settled]); // failed: nothing more settled
    // One payment for the hash, ever: the kill and the retries paid nothing twice.
    expect((await paysFor(inv.payment_hash)).map((p) => p.status)).toEqual(['failed']);
  }, 240_000);

  it('the channel closes cooperatively, accepted and mined', async () => {
    await svc.stop();
    const closed = ok(await pipeline([device('close-credit', '--role', 'user', '--start'), gateway('close-credit', '--role', 'mint'), device('close-credit', '--role', 'user')], ''), 'credit/closed');
    expect(closed.cumulative_sat).toBe(settled);
    await n.acceptAndMine(closed.hex);
  }, 60_000);
});
