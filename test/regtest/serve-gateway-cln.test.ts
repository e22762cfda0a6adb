/**
 * Issue 39's "done when" for the gateway: a device pays Lightning invoices through
 * `offchain serve gateway --lightning-rpc` with REAL Core Lightning (gateway node → payee node
 * over a real channel, one bitcoind -regtest), each toll one `device pay --peer` process:
 * device/pay → the service pays on Lightning → gateway/settle applied → complete → receipt
 * applied, credit/balance printed.
 *
 *   open (funded, mined) → 3 tolls by `device pay --peer` (paid once on the payee's side, the
 *     device's kept preimage hashes to the invoice's hash, the Lightning payment in the service's
 *     log); the figures are bench/device-serve.ts's
 *   → a toll sent while the service is down (killed -9): the same process's retries outlast the
 *     service's restart on its port 8 s later, the toll paid once (issue 72)
 *   → a toll the payee holds; the service killed -9 while its node's payment is out; restarted,
 *     the same `device pay --peer` again: 503 E_PAYMENT_PENDING after its retries (--peer-timeout),
 *     its line naming `device pay --resend`, the node still with ONE payment for the hash
 *     (listpays); the payee goes away, blocks come, the gateway's node fails its HTLC on chain;
 *     that resend → gateway/fail → device fail → receipt applied and stored, and the command
 *     fails E_PAYMENT_FAILED (exit 4: nothing paid), still one payment in listpays
 *   → cooperative close, accepted and mined.
 *
 * Skipped visibly without LIGHTNINGD or BITCOIND.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { hex } from '@scure/base';
import { fileSnapshot } from '../helpers.ts';
import { networkDir, records } from '../state.ts';
import type { UserContractRecord } from '../../src/lib/credit/ports.ts';
import { BIN, cleanEnv, pipeline, run } from '../e2e/cli.ts';
import { MINT_KEY, USER_KEY, ok } from '../e2e/fixtures.ts';
import { timedRun } from '../e2e/serve-gateway-service.ts';
import { serveErrors, startGateway, type GatewayService as Service } from '../e2e/serve-process.ts';
import { waitFor, type Lightningd } from './lightningd.ts';
import type { FundedNode } from './funded-node.ts';
import type { ClnRpc } from '../../src/lib/lightning/cln-rpc.ts';
import { RUN, htlcSat, startDeviceClnWorld, worldTitle, type DeviceClnWorld, type Msg } from './device-cln-world.ts';

const TITLE = worldTitle('device pay --peer through serve gateway and Core Lightning');

(RUN ? describe : describe.skip)(TITLE, () => {
  let w: DeviceClnWorld;
  let n: FundedNode;
  let gw: Lightningd;
  let payee: Lightningd;
  let mintDir: string;
  let userDir: string;
  let socket: string;
  let payeeRpc: ClnRpc;
  let gwRpc: ClnRpc;
  let terms: string;
  let policy: string;
  let svc: Service;
  let settled = 0;
  let state = 0;
  const file = (name: string, text: string) => w.file(name, text);
  const device = (...args: string[]) => w.device(...args);
  const gateway = (...args: string[]) => w.gateway(...args);
  const serve = (port = 0) => startGateway(['--terms', terms, '--lightning-rpc', socket, '--pay-timeout', '2', '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...n.chain()], { MINT_KEY }, port, 'info'); // info: the "paid on Lightning in N ms" line
  const peerArgs = async (invoiceFile: string) => ['device', 'pay', '--peer', svc.public, '--invoice', invoiceFile, '--policy', policy, '--terms', terms, '--tip-height', String(await n.tip()), '--key-env', 'USER_KEY', '--state-dir', userDir];
  const paysFor = async (hash: string) => (await gwRpc.call<{ pays: { status: string }[] }>('listpays', { payment_hash: hash })).pays;

  const deviceRecord = () => w.deviceRecord();

  beforeAll(async () => {
    w = await startDeviceClnWorld('offchain-serve-gw-cln-');
    ({ n, gw, payee, mintDir, userDir, socket, gwRpc, payeeRpc, terms, policy } = w);
    svc = await serve();
  }, 240_000);

  afterAll(async () => {
    await svc?.stop();
    await w?.stop();
  });

  it('a gateway started on another network than its Lightning node is refused at its start (E_NETWORK_MISMATCH, exit 4), before it listens or opens its store', () => {
    // The regtest service of this file runs its watcher (with a node, by default), which writes its view of the chain
    // into its own database at each block: that database is the running service's, not the refused command's.
    const snapshot = () => Object.fromEntries(Object.entries(fileSnapshot(mintDir, { locks: true })).filter(([path]) => !/[\\/]regtest[\\/]state\.sqlite(-wal|-shm)?$/.test(path)));
    const before = snapshot();
    const r = run(['serve', 'gateway', '--terms', terms, '--lightning-rpc', socket, '--key-env', 'MINT_KEY', '--state-dir', mintDir, '--network', 'signet', '--tip-height', '1000', '--confirmations', '1', '--listen', '127.0.0.1:0'], { env: { MINT_KEY } });
    expect([r.status, serveErrors(r.stderr).map((e) => e.code), r.stdout], r.stderr).toEqual([4, ['E_NETWORK_MISMATCH'], '']);
    expect(r.stderr).toContain('the Lightning node is on regtest, the gateway (--network) on signet');
    expect(snapshot()).toEqual(before);
    expect(Object.keys(before).some((path) => path.includes('signet'))).toBe(false);
  });

  it('3 tolls, each one device pay --peer process: paid by Core Lightning once, settled with its preimage, the receipt applied', async () => {
    // Three: the timing is bench/device-serve.ts's (a test measures nothing).
    for (let k = 0; k < 3; k++) {
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
    }
  }, 240_000);

  it('a toll sent while the service is down (killed -9) is paid by the same device pay --peer process once the service is back on its port 8 s later: its retries outlast the restart', async () => {
    const msat = 1_234_000n;
    const inv = await payeeRpc.call<{ bolt11: string; payment_hash: string }>('invoice', { amount_msat: Number(msat), label: 'restart', description: 'restart' });
    const port = Number(new URL(svc.public).port);
    await svc.stop('SIGKILL');
    const paying = timedRun(await peerArgs(file('restart.bolt11', inv.bolt11)), { USER_KEY });
    // Longer than the ~5 s the client once gave up after; well inside --peer-timeout's default 60 s.
    await new Promise((r) => setTimeout(r, 8000));
    svc = await serve(port);
    const r = await paying;
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/the gateway: ECONNREFUSED; again in [\d.]+ s/);
    const balance = JSON.parse(r.stdout) as Msg;
    state += 2;
    settled += htlcSat(msat);
    expect([balance.type, balance.state, balance.cumulative_sat]).toEqual(['credit/balance', state, settled]);
    expect((await paysFor(inv.payment_hash)).map((p) => p.status)).toEqual(['complete']);
    const onPayee = (await payeeRpc.call<{ invoices: { status: string }[] }>('listinvoices', { label: 'restart' })).invoices[0]!;
    expect(onPayee.status).toBe('paid');
  }, 240_000);

  it('the service killed -9 with its node\'s payment out: the same device pay --peer after a restart is E_PAYMENT_PENDING naming its resend, and the node has one payment; failed on chain later, that resend ends the toll: E_PAYMENT_FAILED (exit 4), the receipt stored', async () => {
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
    const userBefore = fileSnapshot(userDir, { sqliteRows: true });
    const again = await timedRun([...(await peerArgs(invoiceFile)), '--peer-timeout', '5'], { USER_KEY });
    expect([again.status, /error (E_[A-Z_]+)/.exec(again.stderr)?.[1], again.stdout], again.stderr).toEqual([5, 'E_PAYMENT_PENDING', '']);
    // The line says how to send it again: one command, no invoice, policy or terms (nothing is newly signed).
    const resend = /send it again with "offchain (device pay --resend [^"]+)"/.exec(again.stderr)?.[1];
    expect(resend).toBe(`device pay --resend --contract ${deviceRecord().contract_id} --peer ${svc.public}`);
    // The killed device pay had committed its record of the payment before it sent its message
    // (database.ts COMMIT BEFORE THE ACT): the payment is in flight there, and the retry changes no row.
    const inFlight = records<UserContractRecord>(networkDir(userDir), 'credit-user').map((r) => r.record.device?.in_flight?.payment_hash);
    expect(inFlight).toContain(inv.payment_hash);
    expect(fileSnapshot(userDir, { sqliteRows: true })).toEqual(userBefore);
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
      await waitFor('the gateway node at the new tip', async () => ((await gwRpc.call<{ blockheight: number }>('getinfo', {})).blockheight >= tip ? true : undefined), 60_000);
      await new Promise((r) => setTimeout(r, 800));
      if ((await paysFor(inv.payment_hash)).every((p) => p.status === 'failed')) break;
    }
    // The command the line named ends the toll: failed on Lightning, so the command fails (E_PAYMENT_FAILED, exit 4,
    // one line, nothing on stdout) once the fail state's receipt is applied and stored.
    const done = await timedRun([...resend!.split(' '), '--key-env', 'USER_KEY', '--state-dir', userDir], { USER_KEY });
    expect([done.status, /error (E_[A-Z_]+)/.exec(done.stderr)?.[1], done.stdout], done.stderr).toEqual([4, 'E_PAYMENT_FAILED', '']);
    expect(done.stderr.split('\n').filter((l) => l.startsWith('offchain:'))).toHaveLength(1);
    state += 2;
    const d = deviceRecord().device as { state: number; settled_sat: number; in_flight?: unknown; pending?: unknown; failed: { payment_hash: string }[] };
    expect([d.state, d.settled_sat, d.in_flight, d.pending]).toEqual([state, settled, undefined, undefined]); // failed: nothing more settled
    expect(d.failed.map((f) => f.payment_hash)).toContain(inv.payment_hash);
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
