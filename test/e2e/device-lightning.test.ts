/**
 * `gateway pay --lightning-rpc` through the built CLI against a scripted Core Lightning
 * socket (a unix-socket JSON-RPC server in this test, answering getinfo / listpays / pay as
 * lightningd does: same framing, same fields). The real node is in
 * test/regtest/device-cln.test.ts; this one runs everywhere and scripts what a real node
 * does only at its own pace (an HTLC held, then completed late; a refusal; a wrong preimage).
 *
 *   demo channel (fixtures/credit/open-demo.sh: offline, tip 1000)
 *   → toll 0: device pay | gateway pay --lightning-rpc | device settle | gateway complete | device receipt
 *     (the node asked first, paid once with maxfee = max_fee_msat and maxdelay = expiry − margin − height)
 *   → toll 1 held: E_PAYMENT_PENDING (exit 5, stdout empty) and a --resume likewise, both state
 *     directories unchanged, no second pay; then the node completes it: --resume → settle
 *   → toll 2: pay refused by the node (no route) → gateway/fail → device fail (via $OFFCHAIN_LIGHTNING_RPC)
 *   → a node on another network (E_NETWORK_MISMATCH, 4: before the job is stored), no node at all (E_LIGHTNING_UNREACHABLE, 1),
 *     a preimage that does not hash (E_LIGHTNING_PROTOCOL, 1): nothing written past the stored job.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../src/lib/bytes.ts';
import { ROOT, fileSnapshot, tempDir } from '../helpers.ts';
import { pipeline, type Run, type Stage } from './cli.ts';
import { demoParties, ok, openDemoChannel } from './fixtures.ts';
import { NOW, invoice, paymentHash, preimage } from '../lib/device/world.ts';
import { fakeLightningRpc, type Req, type Script } from './fake-lightning-rpc.ts';

const TIP = '1000';
type Msg = Record<string, any>;

function refused(r: Run, exit: number, code: string): void {
  expect(r.stderr).toMatch(new RegExp(`error ${code}: `));
  expect(r.status, r.stderr).toBe(exit);
  expect(r.stdout).toBe('');
}

describe('gateway pay --lightning-rpc against a scripted Core Lightning socket (built CLI, pipes)', () => {
  let root: { path: string; cleanup: () => void };
  let mintDir: string;
  let userDir: string;
  let socket: string;
  let server: Server;
  let script: Script;
  const seen: Req[] = [];

  const { device, gateway } = demoParties(() => root.path);
  const terms = ['--terms', join(ROOT, 'fixtures/policies/gateway-terms.json')];
  const chain = ['--tip-height', TIP, '--confirmations', '1'];
  const invoiceFile = (n: number, msat: bigint) => {
    const p = join(root.path, `toll-${n}.bolt11`);
    writeFileSync(p, invoice(n, msat) + '\n');
    return p;
  };
  const devicePay = (n: number, msat: bigint) => device('device', 'pay', '--invoice', invoiceFile(n, msat), '--policy', join(ROOT, 'fixtures/policies/device.json'), ...terms, '--now', String(NOW), '--tip-height', TIP);
  const gatewayPay = (...extra: string[]) => gateway('gateway', 'pay', ...terms, '--now', String(NOW), ...chain, '--lightning-rpc', socket, ...extra);
  const both = () => ({ mint: fileSnapshot(mintDir), user: fileSnapshot(userDir) });
  const invoiceText = new Map<number, string>();
  const settleThrough = async (msg: Msg) =>
    ok(await pipeline([device('device', msg.type === 'gateway/settle' ? 'settle' : 'fail'), gateway('gateway', 'complete', ...chain), device('device', 'receipt')], JSON.stringify(msg)), 'credit/balance');

  beforeAll(async () => {
    root = tempDir('offchain-device-ln-');
    mintDir = join(root.path, 'mint');
    userDir = join(root.path, 'user');
    openDemoChannel(root.path);
    for (const n of [0, 1, 2, 3, 4, 5]) invoiceText.set(n, invoice(n, [2_500_000n, 1_200_000n, 3_000_000n, 1_000_000n, 1_000_000n, 1_000_000n][n]!));
    socket = join(root.path, 'lightning-rpc');
    // lightningd's framing, each answer written in two pieces.
    server = await fakeLightningRpc(socket, (req) => {
      seen.push(req);
      return script[req.method]?.(req.params);
    }, { split: true });
  });
  afterAll(async () => {
    await new Promise<void>((res) => server.close(() => res()));
    root?.cleanup();
  });

  const getinfo = (network = 'regtest') => () => ({ result: { network, blockheight: 1000 } });
  const unknown = () => ({ result: { pays: [] } });
  const completeFor = (n: number, pre = preimage(n)) => ({ status: 'complete', payment_hash: toHex(paymentHash(n)), payment_preimage: toHex(pre), amount_msat: 2_500_000, amount_sent_msat: 2_500_000, created_at: Math.floor(Date.now() / 1000) });

  it('pays through the node and settles with its preimage in one pipe; asked first, paid once, maxfee = the gateway\'s fee, maxdelay = expiry − claim margin − height', async () => {
    script = { getinfo: getinfo(), listpays: unknown, pay: () => ({ result: completeFor(0) }) };
    const started = performance.now();
    const runs = await pipeline([devicePay(0, 2_500_000n), gatewayPay(), device('device', 'settle'), gateway('gateway', 'complete', ...chain), device('device', 'receipt')], '');
    const ms = performance.now() - started;
    const balance = ok(runs, 'credit/balance');
    expect([balance.state, balance.cumulative_sat]).toEqual([2, 2506]); // 2 500 000 msat + 1000 + 2000 ppm = 2 506 sat (the test's arithmetic)
    expect(runs[1]!.stderr).toMatch(/paid on Lightning in \d+ ms, routing fee 0 msat/);
    const calls = seen.map((r) => r.method);
    expect(calls).toEqual(['getinfo', 'getinfo', 'listpays', 'pay']); // reachable before the state is stored; then the payment
    const pay = seen.find((r) => r.method === 'pay')!;
    // max_fee_msat = 2 506 000 − 2 500 000; maxdelay = 1144 − 36 − 1000.
    expect(pay.params).toEqual({ bolt11: invoiceText.get(0), maxfee: 6000, maxdelay: 108, retry_for: 60 });
    expect(seen.find((r) => r.method === 'listpays')!.params).toEqual({ payment_hash: toHex(paymentHash(0)) });
    console.log(`device ↔ gateway with a scripted node (no Lightning time): pay → receipt, 5 processes, ${ms.toFixed(0)} ms`);
  }, 60_000);

  it('a payment the node holds: E_PAYMENT_PENDING (exit 5, nothing written), a --resume likewise and no second pay; once the node completes it, --resume settles', async () => {
    seen.length = 0;
    const hash = toHex(paymentHash(1));
    let status = 'pending';
    script = {
      getinfo: getinfo(),
      listpays: () => ({ result: { pays: seen.filter((r) => r.method === 'pay').length ? [status === 'pending' ? { status, payment_hash: hash, created_at: 1 } : completeFor(1)] : [] } }),
      pay: () => ({ error: { code: -3, message: 'Unexpected injectpaymentonion error 200: still in progress' } }),
    };
    const payMsg = (await pipeline([devicePay(1, 1_200_000n)], ''))[0]!;
    expect(payMsg.status, payMsg.stderr).toBe(0);
    refused((await pipeline([gatewayPay()], payMsg.stdout))[0]!, 5, 'E_PAYMENT_PENDING');
    expect(seen.filter((r) => r.method === 'pay')).toHaveLength(1);
    const before = both();
    refused((await pipeline([gatewayPay('--resume')], ''))[0]!, 5, 'E_PAYMENT_PENDING');
    // The same command with the same device/pay again (its stored job comes back): still pending, still one pay.
    refused((await pipeline([gatewayPay()], payMsg.stdout))[0]!, 5, 'E_PAYMENT_PENDING');
    expect(both()).toEqual(before);
    expect(seen.filter((r) => r.method === 'pay')).toHaveLength(1);
    status = 'complete';
    const settleMsg = ok(await pipeline([gatewayPay('--resume')], ''), 'gateway/settle');
    expect(settleMsg.preimage).toBe(toHex(preimage(1)));
    expect(seen.filter((r) => r.method === 'pay')).toHaveLength(1);
    const balance = await settleThrough(settleMsg);
    expect([balance.state, balance.cumulative_sat]).toEqual([4, 2506 + 1204]); // 1 200 000 + 1000 + 2400 msat = 1 203 400 → 1 204 sat
  }, 60_000);

  it('the node refuses the payment (no route): gateway/fail, and the device gets its amount back ($OFFCHAIN_LIGHTNING_RPC instead of the flag)', async () => {
    seen.length = 0;
    script = { getinfo: getinfo(), listpays: unknown, pay: () => ({ error: { code: 205, message: 'Failed: We could not find a usable set of paths' } }) };
    const stage = gateway('gateway', 'pay', ...terms, '--now', String(NOW), ...chain);
    const runs = await pipeline([devicePay(2, 3_000_000n), { ...stage, env: { ...stage.env, OFFCHAIN_LIGHTNING_RPC: socket } }], '');
    const failMsg = ok(runs, 'gateway/fail');
    expect(failMsg.payment_hash).toBe(toHex(paymentHash(2)));
    expect(runs[1]!.stderr).toMatch(/the Lightning payment failed: .*usable set of paths/);
    const balance = await settleThrough(failMsg);
    expect([balance.state, balance.cumulative_sat]).toEqual([6, 2506 + 1204]);
  }, 60_000);

  it('a node on another network, no node, a preimage that does not hash: refused with their codes, nothing written past the stored job; then paid', async () => {
    seen.length = 0;
    const payMsg = (await pipeline([devicePay(3, 1_000_000n)], ''))[0]!;
    expect(payMsg.status, payMsg.stderr).toBe(0);
    // A node on another network: refused before the gateway stores anything (issue 41: the
    // mint's SQLite changed — the job was stored, then the network checked). Every file, lock
    // litter and SQLite's -wal/-shm included.
    const mintBefore = fileSnapshot(mintDir, { locks: true });
    script = { getinfo: getinfo('bitcoin') };
    refused((await pipeline([gatewayPay()], payMsg.stdout))[0]!, 4, 'E_NETWORK_MISMATCH');
    expect(fileSnapshot(mintDir, { locks: true })).toEqual(mintBefore);
    // Something that is not lightningd at the socket (an HTTP server, keeping the connection
    // open): E_LIGHTNING_PROTOCOL at once — not E_LIGHTNING_TIMEOUT after 30 s — nothing stored.
    const liar = createServer((c) => {
      c.on('error', () => {});
      c.once('data', () => c.write('HTTP/1.1 400 Bad Request\r\n\r\n'));
    });
    const liarSocket = join(root.path, 'not-lightning');
    await new Promise<void>((res) => liar.listen(liarSocket, res));
    try {
      const started = performance.now();
      refused((await pipeline([gateway('gateway', 'pay', ...terms, '--now', String(NOW), ...chain, '--lightning-rpc', liarSocket)], payMsg.stdout))[0]!, 1, 'E_LIGHTNING_PROTOCOL');
      expect(performance.now() - started).toBeLessThan(15_000);
    } finally {
      liar.close();
    }
    expect(fileSnapshot(mintDir, { locks: true })).toEqual(mintBefore);
    // No node at the socket: refused before the gateway stores anything.
    refused((await pipeline([gateway('gateway', 'pay', ...terms, '--now', String(NOW), ...chain, '--lightning-rpc', join(root.path, 'no-such-socket'))], payMsg.stdout))[0]!, 1, 'E_LIGHTNING_UNREACHABLE');
    expect(fileSnapshot(mintDir)).toEqual(mintBefore);
    const job = ok(await pipeline([gateway('gateway', 'pay', ...terms, '--now', String(NOW), ...chain)], payMsg.stdout), 'gateway/job');
    const before = both();
    script = { getinfo: getinfo('bitcoin') };
    refused((await pipeline([gatewayPay('--resume')], ''))[0]!, 4, 'E_NETWORK_MISMATCH');
    refused((await pipeline([gateway('gateway', 'pay', ...terms, '--lightning-rpc', join(root.path, 'no-such-socket'), '--resume')], ''))[0]!, 1, 'E_LIGHTNING_UNREACHABLE');
    script = { getinfo: getinfo(), listpays: unknown, pay: () => ({ result: completeFor(3, preimage(9)) }) };
    refused((await pipeline([gatewayPay('--resume')], ''))[0]!, 1, 'E_LIGHTNING_PROTOCOL');
    // That pay was sent: the gateway marked the job attempted before sending it (its only write; the device's untouched).
    expect(both().user).toEqual(before.user);
    const marked = both();
    // The node now knows the hash (one failed attempt, just now): never paid again; pending while that pay may still retry.
    script = { getinfo: getinfo(), listpays: () => ({ result: { pays: [{ status: 'failed', payment_hash: job.payment_hash, created_at: Math.floor(Date.now() / 1000) }] } }), pay: () => ({ error: { code: -1, message: 'paid twice' } }) };
    refused((await pipeline([gatewayPay('--resume', '--pay-timeout', '5')], ''))[0]!, 5, 'E_PAYMENT_PENDING');
    expect(both()).toEqual(marked);
    expect(seen.filter((r) => r.method === 'pay')).toHaveLength(1);
    // --resume needs the node; the job is still the stored one.
    refused((await pipeline([gateway('gateway', 'pay', ...terms, '--resume')], ''))[0]!, 2, 'E_USAGE');
    expect(job.payment_hash).toBe(toHex(paymentHash(3)));
  }, 60_000);
  it('a frozen contract (the gateway exited): --resume pays nothing on Lightning and is refused E_CONTRACT_FROZEN, naming how to take the preimage by hand', async () => {
    // Payment 3 is still in flight from the test above; the gateway exits with its latest state.
    const exit = await pipeline([gateway('exit-credit', '--fee-rate', '1', '--max-fee-share', '0.9', '--tip-height', TIP)], '');
    expect(exit[0]!.status, exit[0]!.stderr).toBe(0);
    seen.length = 0;
    script = { getinfo: getinfo(), listpays: unknown, pay: () => ({ result: completeFor(3) }) };
    const before = both();
    const r = (await pipeline([gatewayPay('--resume')], ''))[0]!;
    refused(r, 4, 'E_CONTRACT_FROZEN');
    expect(r.stderr).toContain('gateway claim --preimage-file');
    expect(seen.filter((q) => q.method === 'pay')).toHaveLength(0);
    expect(both()).toEqual(before);
  }, 60_000);
});
