/**
 * `offchain serve gateway` through the built CLI (the service is the process under test, on
 * 127.0.0.1 port 0), against the one-shot `gateway …` commands (docs/serve.md "The gateway").
 *
 *   same bytes: one demo channel, the gateway's state directory copied twice (one for the
 *   one-shots, one for the service), OFFCHAIN_TEST_SEED fixed; each toll's message sent to both,
 *   the answers compared as bytes (refusals: code and exit code) — iterating the route table, so
 *   a route without a case fails the test
 *   → toll 0 paid and settled: pay (and its retry), payments/HASH 404 then the settle, operator
 *     settle (and a wrong preimage), complete (and its retry, and a wrong message)
 *   → toll 1 failed: pay, operator fail (wrong hash, bad hex), the failed device/pay again
 *
 *   --peer: a second service with --lightning-rpc on a scripted Core Lightning socket (the real
 *   node: test/regtest/serve-gateway-cln.test.ts): `device pay --peer` pays, settles and applies
 *   the receipt in one process; a payment the node holds, the service killed -9 mid-payment and
 *   restarted, the same `device pay --peer` again: 503 E_PAYMENT_PENDING, never a second `pay`;
 *   once the node completes it, the same command finishes the toll. Wall time and the device
 *   process's CPU of pay → receipt printed (median of 5).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import type { Server } from 'node:net';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../src/lib/bytes.ts';
import { gatewayRoutes, type GatewaySteps } from '../../src/topics/serve/gateway-routes.ts';
import { ROOT, fileSnapshot, tempDir } from '../helpers.ts';
import { networkDir, records } from '../state.ts';
import { BIN, assertFreshBuild, cleanEnv, pipeline, type Run, type Stage } from './cli.ts';
import { http, timedRun } from './serve-gateway-service.ts';
import { runAsync } from './process.ts';
import { startGateway, type GatewayService as Service } from './serve-process.ts';
import { MINT_KEY, USER_KEY, ok, openDemoChannel } from './fixtures.ts';
import { NOW, invoice, paymentHash, preimage } from '../lib/device/world.ts';
import { fakeLightningRpc, type Req, type Script } from './fake-lightning-rpc.ts';
import type { UserContractRecord } from '../../src/lib/credit/ports.ts';

const TIP = '1000';
const SEED = 'serve-gateway';
const TERMS = join(ROOT, 'fixtures/policies/gateway-terms.json');
const POLICY = join(ROOT, 'fixtures/policies/device.json');
type Msg = Record<string, any>;

/** A one-shot's refusal: its code and exit code (stdout empty). */
function refusalOf(r: Run): { code: string; exit_code: number } {
  expect(r.stdout).toBe('');
  const code = /error (E_[A-Z0-9_]+): /.exec(r.stderr)?.[1];
  expect(code, r.stderr).toBeDefined();
  return { code: code!, exit_code: r.status };
}

/** The service's refusal: the same two fields from its body. */
function serviceRefusal(a: { status: number; text: string }): { code: string; exit_code: number } {
  expect(a.status).toBeGreaterThanOrEqual(400);
  const v = JSON.parse(a.text) as Msg;
  expect(v.type).toBe('gateway/error');
  return { code: v.code, exit_code: v.exit_code };
}

/** The route table's keys, as the service registers them (the steps are never called here). */
const ROUTE_KEYS = gatewayRoutes(new Proxy({}, { get: () => () => Promise.reject(new Error('not called')) }) as unknown as GatewaySteps).map((r) => `${r.method} ${r.path}`);

describe('serve gateway answers the bytes of the one-shot gateway steps (built CLI)', () => {
  let root: { path: string; cleanup: () => void };
  let svc: Service;
  const covered = new Set<string>();
  const env = { MINT_KEY, OFFCHAIN_TEST_SEED: SEED };
  const device = (...args: string[]): Stage => ({ args: [...args, '--key-env', 'USER_KEY', '--state-dir', join(root.path, 'user')], env: { USER_KEY } });
  const gateway = (...args: string[]): Stage => ({ args: [...args, '--key-env', 'MINT_KEY', '--state-dir', join(root.path, 'mint')], env });
  const chain = ['--tip-height', TIP, '--confirmations', '1'];
  const oneShot = async (s: Stage, input = '') => (await pipeline([s], input))[0]!;
  const invoiceFile = (n: number, msat: bigint) => {
    const p = join(root.path, `toll-${n}.bolt11`);
    writeFileSync(p, invoice(n, msat) + '\n');
    return p;
  };
  const devicePay = async (n: number, msat: bigint) => ok([await oneShot(device('device', 'pay', '--invoice', invoiceFile(n, msat), '--policy', POLICY, '--terms', TERMS, '--now', String(NOW), '--tip-height', TIP))], 'device/pay');
  const preimageFile = (bytes: Uint8Array) => {
    const p = join(root.path, 'preimage');
    writeFileSync(p, toHex(bytes) + '\n', { mode: 0o600 });
    return p;
  };

  /** The one-shot and the service from the same state: the same bytes (a success) or the same code and exit code (a refusal). */
  async function same(route: string, shot: Run, served: { status: number; text: string }): Promise<string> {
    covered.add(route);
    if (shot.status === 0) {
      expect(served.status, served.text).toBe(200);
      expect(Buffer.from(served.text)).toEqual(Buffer.from(shot.stdout));
      return shot.stdout;
    }
    expect(serviceRefusal(served)).toEqual(refusalOf(shot));
    return '';
  }

  beforeAll(async () => {
    assertFreshBuild();
    root = tempDir('offchain-serve-gw-');
    openDemoChannel(root.path);
    cpSync(join(root.path, 'mint'), join(root.path, 'mint-svc'), { recursive: true });
    svc = await startGateway(['--terms', TERMS, '--now', String(NOW), ...chain, '--key-env', 'MINT_KEY', '--state-dir', join(root.path, 'mint-svc'), '--operator-listen', '127.0.0.1:0'], env);
  }, 60_000);
  afterAll(async () => {
    expect(await svc?.stop()).toBe(0);
    // The preimages given never reach the log.
    for (const n of [0, 1]) expect(svc?.stderr()).not.toContain(toHex(preimage(n)));
    root?.cleanup();
  });

  it('toll 0, paid and settled: pay, its retry, payments/HASH, operator settle, complete, its retry; refusals alike', async () => {
    const pay = JSON.stringify(await devicePay(0, 2_500_000n));
    const job = await same('POST /v1/gateway/pay', await oneShot(gateway('gateway', 'pay', '--terms', TERMS, '--now', String(NOW), ...chain), pay), await http('POST', `${svc.public}/v1/gateway/pay`, pay));
    expect(JSON.parse(job).type).toBe('gateway/job');
    // A retried device/pay: the stored job, byte for byte.
    expect((await http('POST', `${svc.public}/v1/gateway/pay`, pay)).text).toBe(job);
    const hash = toHex(paymentHash(0));
    // Not decided yet: 404 with its code.
    const undecided = await http('GET', `${svc.operator}/v1/operator/payments/${hash}`);
    expect([undecided.status, JSON.parse(undecided.text).code]).toEqual([404, 'E_PAYMENT_UNDECIDED']);
    // Operator routes are not on the public listener.
    expect((await http('POST', `${svc.public}/v1/operator/settle`, JSON.stringify({ preimage: toHex(preimage(0)) }))).status).toBe(404);
    // A wrong preimage: refused alike, nothing decided.
    await same('POST /v1/operator/settle', await oneShot(gateway('gateway', 'settle', '--preimage-file', preimageFile(preimage(7)))), await http('POST', `${svc.operator}/v1/operator/settle`, JSON.stringify({ preimage: toHex(preimage(7)) })));
    const settle = await same('POST /v1/operator/settle', await oneShot(gateway('gateway', 'settle', '--preimage-file', preimageFile(preimage(0)))), await http('POST', `${svc.operator}/v1/operator/settle`, JSON.stringify({ preimage: toHex(preimage(0)) })));
    expect(JSON.parse(settle).type).toBe('gateway/settle');
    const polled = await http('GET', `${svc.operator}/v1/operator/payments/${hash}`);
    expect([polled.status, polled.text]).toEqual([200, settle]);
    // The settle carries the preimage: never on the public listener, where anyone knowing the invoice's hash would ask.
    expect((await http('GET', `${svc.public}/v1/operator/payments/${hash}`)).status).toBe(404);
    expect((await http('GET', `${svc.public}/v1/gateway/payments/${hash}`)).status).toBe(404);
    // The gateway's exit claiming the HTLC with the stored preimage, as a dry run (nothing frozen).
    const claim = await same('POST /v1/operator/claim', await oneShot(gateway('gateway', 'claim', '--fee-rate', '2', '--dry-run')), await http('POST', `${svc.operator}/v1/operator/claim`, JSON.stringify({ fee_rate: '2', dry_run: true })));
    expect(JSON.parse(claim).htlc_claim).toBeDefined();
    covered.add('GET /v1/operator/payments/:hash');
    const deviceSettle = ok([await oneShot(device('device', 'settle'), settle)], 'device/settle');
    // A message of another kind: refused alike (malformed input).
    await same('POST /v1/gateway/complete', await oneShot(gateway('gateway', 'complete', ...chain), pay), await http('POST', `${svc.public}/v1/gateway/complete`, pay));
    const receipt = await same('POST /v1/gateway/complete', await oneShot(gateway('gateway', 'complete', ...chain), JSON.stringify(deviceSettle)), await http('POST', `${svc.public}/v1/gateway/complete`, JSON.stringify(deviceSettle)));
    expect((await http('POST', `${svc.public}/v1/gateway/complete`, JSON.stringify(deviceSettle))).text).toBe(receipt);
    const balance = ok([await oneShot(device('device', 'receipt'), receipt)], 'credit/balance');
    expect([balance.state, balance.cumulative_sat]).toEqual([2, 2506]); // 2 500 000 msat + 1000 + 2000 ppm → 2 506 sat
    // Still answerable once completed (the last payment decided).
    expect((await http('GET', `${svc.operator}/v1/operator/payments/${hash}`)).text).toBe(settle);
  }, 120_000);

  it('toll 1, failed: operator fail (and a wrong or malformed hash), the failed device/pay again, complete', async () => {
    const pay = JSON.stringify(await devicePay(1, 1_200_000n));
    await same('POST /v1/gateway/pay', await oneShot(gateway('gateway', 'pay', '--terms', TERMS, '--now', String(NOW), ...chain), pay), await http('POST', `${svc.public}/v1/gateway/pay`, pay));
    const hash = toHex(paymentHash(1));
    await same('POST /v1/operator/fail', await oneShot(gateway('gateway', 'fail', '--payment-hash', toHex(paymentHash(5)))), await http('POST', `${svc.operator}/v1/operator/fail`, JSON.stringify({ payment_hash: toHex(paymentHash(5)) })));
    await same('POST /v1/operator/fail', await oneShot(gateway('gateway', 'fail', '--payment-hash', 'abc')), await http('POST', `${svc.operator}/v1/operator/fail`, JSON.stringify({ payment_hash: 'abc' })));
    const fail = await same('POST /v1/operator/fail', await oneShot(gateway('gateway', 'fail', '--payment-hash', hash)), await http('POST', `${svc.operator}/v1/operator/fail`, JSON.stringify({ payment_hash: hash })));
    expect(JSON.parse(fail).type).toBe('gateway/fail');
    // In job mode (no node), a failed payment's device/pay gets no job again: E_PAYMENT_FAILED on both.
    await same('POST /v1/gateway/pay', await oneShot(gateway('gateway', 'pay', '--terms', TERMS, '--now', String(NOW), ...chain), pay), await http('POST', `${svc.public}/v1/gateway/pay`, pay));
    const deviceFail = JSON.stringify(ok([await oneShot(device('device', 'fail'), fail)], 'device/fail'));
    const receipt = await same('POST /v1/gateway/complete', await oneShot(gateway('gateway', 'complete', ...chain), deviceFail), await http('POST', `${svc.public}/v1/gateway/complete`, deviceFail));
    const balance = ok([await oneShot(device('device', 'receipt'), receipt)], 'credit/balance');
    expect([balance.state, balance.cumulative_sat]).toEqual([4, 2506]);
    // No HTLC in the latest state any more: the claim is refused alike.
    await same('POST /v1/operator/claim', await oneShot(gateway('gateway', 'claim', '--fee-rate', '2', '--dry-run')), await http('POST', `${svc.operator}/v1/operator/claim`, JSON.stringify({ fee_rate: '2', dry_run: true })));
  }, 120_000);

  it('the terms, as the file says', async () => {
    const t = await http('GET', `${svc.public}/v1/gateway/terms`);
    expect(t.status).toBe(200);
    expect(JSON.parse(t.text)).toEqual(JSON.parse(readFileSync(TERMS, 'utf8')));
    covered.add('GET /v1/gateway/terms');
    // The credit routes of serve mint are the gateway's too (their bytes: test/e2e/serve-mint.test.ts): the offer as --publish printed it.
    const offer = await http('GET', `${svc.public}/v1/credit/offer`);
    expect([offer.status, offer.text]).toEqual([200, readFileSync(join(root.path, 'offer.json'), 'utf8')]);
  });

  it('every route of the table had a case (a route added without one fails here)', () => {
    expect([...covered].sort()).toEqual([...ROUTE_KEYS].sort());
  });
});

describe('device pay --peer against serve gateway --lightning-rpc (a scripted Core Lightning socket)', () => {
  let root: { path: string; cleanup: () => void };
  let svc: Service;
  let socket: string;
  let server: Server;
  let script: Script;
  const seen: Req[] = [];
  const gwArgs = () => ['--terms', TERMS, '--now', String(NOW), '--tip-height', TIP, '--confirmations', '1', '--key-env', 'MINT_KEY', '--state-dir', join(root.path, 'mint'), '--lightning-rpc', socket, '--pay-timeout', '2', '--operator-listen', '127.0.0.1:0'];
  const invoiceFile = (n: number, msat: bigint) => {
    const p = join(root.path, `toll-${n}.bolt11`);
    writeFileSync(p, invoice(n, msat) + '\n');
    return p;
  };
  const payArgs = (n: number, msat: bigint) => ['device', 'pay', '--peer', svc.public, '--invoice', invoiceFile(n, msat), '--policy', POLICY, '--terms', TERMS, '--now', String(NOW), '--tip-height', TIP, '--key-env', 'USER_KEY', '--state-dir', join(root.path, 'user')];
  /** `device pay --peer` as its own process, with its CPU time (user + system, from the shell's `times`). */
  /** `device pay --peer` as its own process, with its wall and CPU time. */
  const peerPay = (n: number, msat: bigint, ...extra: string[]) => timedRun([...payArgs(n, msat), ...extra], { USER_KEY });
  const pays = () => seen.filter((r) => r.method === 'pay');
  const completeFor = (n: number, msat: number) => ({ status: 'complete', payment_hash: toHex(paymentHash(n)), payment_preimage: toHex(preimage(n)), amount_msat: msat, amount_sent_msat: msat, created_at: Math.floor(Date.now() / 1000) });

  beforeAll(async () => {
    assertFreshBuild();
    root = tempDir('offchain-serve-gw-peer-');
    openDemoChannel(root.path);
    socket = join(root.path, 'lightning-rpc');
    server = await fakeLightningRpc(socket, (req) => {
      seen.push(req);
      return script[req.method]?.(req.params);
    });
    script = { getinfo: () => ({ result: { network: 'regtest', blockheight: 1000 } }) };
    svc = await startGateway(gwArgs(), { MINT_KEY });
  }, 60_000);
  afterAll(async () => {
    expect(await svc?.stop()).toBe(0);
    await new Promise<void>((res) => server.close(() => res()));
    root?.cleanup();
  });

  it('pays, settles and applies the receipt in one process; the device\'s record as the pipes leave it', async () => {
    let cumulative = 0;
    // Three tolls: the timing is bench/device-serve.ts's (a test measures nothing).
    for (let n = 0; n < 3; n++) {
      const msat = 1_000_000 + n * 1000;
      script = { getinfo: () => ({ result: { network: 'regtest', blockheight: 1000 } }), listpays: () => ({ result: { pays: [] } }), pay: () => ({ result: completeFor(n, msat) }) };
      const r = await peerPay(n, BigInt(msat));
      expect(r.status, r.stderr).toBe(0);
      const balance = JSON.parse(r.stdout) as Msg;
      cumulative += Number((BigInt(msat) + 1000n + (BigInt(msat) * 2000n + 999_999n) / 1_000_000n + 999n) / 1000n); // the terms' fee, rounded up: the test's arithmetic
      expect([balance.type, balance.state, balance.cumulative_sat]).toEqual(['credit/balance', 2 * (n + 1), cumulative]);
    }
    expect(pays()).toHaveLength(3);
  }, 180_000);

  it('a retried device/pay once its payment is decided gets the stored gateway/settle or gateway/fail, byte for byte (no second pay, no new nonce)', async () => {
    const user = ['--key-env', 'USER_KEY', '--state-dir', join(root.path, 'user')];
    const step = async (args: string[], input: string) => (await pipeline([{ args: [...args, ...user], env: { USER_KEY } }], input))[0]!;
    for (const [n, outcome] of [[20, 'settle'], [21, 'fail']] as const) {
      seen.length = 0;
      const msat = 1_100_000;
      script = {
        getinfo: () => ({ result: { network: 'regtest', blockheight: 1000 } }), listpays: () => ({ result: { pays: [] } }),
        pay: () => (outcome === 'settle' ? { result: completeFor(n, msat) } : { error: { code: 205, message: 'Failed: We could not find a usable set of paths' } }),
      };
      const pay = await step(['device', 'pay', '--invoice', invoiceFile(n, BigInt(msat)), '--policy', POLICY, '--terms', TERMS, '--now', String(NOW), '--tip-height', TIP], '');
      expect(pay.status, pay.stderr).toBe(0);
      const first = await http('POST', `${svc.public}/v1/gateway/pay`, pay.stdout);
      expect([first.status, JSON.parse(first.text).type]).toEqual([200, `gateway/${outcome}`]);
      const again = await http('POST', `${svc.public}/v1/gateway/pay`, pay.stdout);
      expect([again.status, again.text]).toEqual([200, first.text]);
      expect(pays()).toHaveLength(1);
      const polled = await http('GET', `${svc.operator}/v1/operator/payments/${toHex(paymentHash(n))}`);
      expect([polled.status, polled.text]).toEqual([200, first.text]);
      const signed = await step(['device', outcome], first.text);
      expect(signed.status, signed.stderr).toBe(0);
      const receipt = await http('POST', `${svc.public}/v1/gateway/complete`, signed.stdout);
      expect(receipt.status, receipt.text).toBe(200);
      expect((await step(['device', 'receipt'], receipt.text)).status).toBe(0);
    }
  }, 120_000);

  it('the service killed -9 mid-payment: the same device pay --peer again is 503 E_PAYMENT_PENDING while the node holds it, never a second pay; then it finishes the toll', async () => {
    seen.length = 0;
    const n = 9;
    const msat = 1_500_000;
    let held = true;
    script = {
      getinfo: () => ({ result: { network: 'regtest', blockheight: 1000 } }),
      listpays: () => ({ result: { pays: pays().length === 0 ? [] : [held ? { status: 'pending', payment_hash: toHex(paymentHash(n)), created_at: Math.floor(Date.now() / 1000) } : completeFor(n, msat)] } }),
      pay: () => undefined, // held: the node never answers while the payee holds the HTLC
    };
    const first = spawn(process.execPath, [BIN, ...payArgs(n, BigInt(msat))], { env: cleanEnv({ USER_KEY }), stdio: ['ignore', 'pipe', 'pipe'] });
    const firstDone = new Promise<number | null>((res) => first.on('exit', (c) => res(c)));
    // The service has asked the node to pay (its `attempted` mark committed first): kill it there.
    const until = Date.now() + 30_000;
    while (pays().length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(pays()).toHaveLength(1);
    await svc.stop('SIGKILL');
    first.kill('SIGKILL');
    await firstDone;
    const deviceBefore = fileSnapshot(join(root.path, 'user'), { sqliteRows: true });
    svc = await startGateway(gwArgs(), { MINT_KEY });
    // Pending: the device's retries end in E_PAYMENT_PENDING (exit 5) after --peer-timeout, its record unchanged.
    const again = await peerPay(n, BigInt(msat), '--peer-timeout', '3');
    expect([again.status, /error (E_[A-Z_]+)/.exec(again.stderr)?.[1]], again.stderr).toEqual([5, 'E_PAYMENT_PENDING']);
    expect(again.stdout).toBe('');
    expect(again.stderr).toContain(`; the payment stays in flight: send it again with "offchain device pay --resend --contract ${records<UserContractRecord>(networkDir(join(root.path, 'user')), 'credit-user')[0]!.record.contract_id} --peer ${svc.public}"`);
    // The killed device pay had committed its record of the payment before it sent its message
    // (database.ts COMMIT BEFORE THE ACT): the payment is in flight there, and the retry changes no row.
    const inFlight = records<UserContractRecord>(networkDir(join(root.path, 'user')), 'credit-user').map((r) => r.record.device?.in_flight?.payment_hash);
    expect(inFlight).toContain(toHex(paymentHash(n)));
    expect(fileSnapshot(join(root.path, 'user'), { sqliteRows: true })).toEqual(deviceBefore);
    expect(pays()).toHaveLength(1);
    // The node completes it: the same command finishes the toll with the node's preimage, still one pay.
    held = false;
    const done = await peerPay(n, BigInt(msat));
    expect(done.status, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout).type).toBe('credit/balance');
    expect(pays()).toHaveLength(1);
    // And again: the device already paid it (E_ALREADY_PAID), nothing sent.
    const twice = await peerPay(n, BigInt(msat));
    expect([twice.status, /error (E_[A-Z_]+)/.exec(twice.stderr)?.[1]]).toEqual([4, 'E_ALREADY_PAID']);
    expect(pays()).toHaveLength(1);
  }, 180_000);

  it('a toll the node fails: device pay --peer exits 4 E_PAYMENT_FAILED, one line, nothing on stdout — its fail state signed and its receipt applied and stored', async () => {
    seen.length = 0;
    const n = 30;
    const msat = 1_300_000;
    script = {
      getinfo: () => ({ result: { network: 'regtest', blockheight: 1000 } }), listpays: () => ({ result: { pays: [] } }),
      pay: () => ({ error: { code: 205, message: 'Failed: We could not find a usable set of paths' } }),
    };
    const userDir = join(root.path, 'user');
    const device = () => records<UserContractRecord>(networkDir(userDir), 'credit-user')[0]!.record.device!;
    const user = records<UserContractRecord>(networkDir(userDir), 'credit-user')[0]!.record;
    const before = { state: user.confirmed.state, settled_sat: user.confirmed.cumulative_sat };
    const r = await runAsync(payArgs(n, BigInt(msat)), { env: { USER_KEY } });
    expect(r.status, r.stderr).toBe(4);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^offchain: error E_PAYMENT_FAILED: the gateway could not pay invoice ${toHex(paymentHash(n))} on Lightning: nothing was paid, the HTLC's amount is back in the channel \\(state ${before.state + 2}, settled ${before.settled_sat} sat; its receipt stored\\)`));
    expect(pays()).toHaveLength(1);
    // The receipt is the device's record now: idle at the fail state, nothing settled, the payment kept as failed.
    const after = device();
    expect([after.state, after.settled_sat, after.in_flight, after.pending]).toEqual([before.state + 2, before.settled_sat, undefined, undefined]);
    expect(after.failed!.map((f) => f.payment_hash)).toContain(toHex(paymentHash(n)));
    // Nothing in flight: --resend has nothing to send.
    const resend = await timedRun(['device', 'pay', '--resend', '--peer', svc.public, '--key-env', 'USER_KEY', '--state-dir', userDir], { USER_KEY });
    expect([resend.status, /error (E_[A-Z_]+)/.exec(resend.stderr)?.[1], resend.stdout]).toEqual([5, 'E_NOTHING_PENDING', '']);
  }, 120_000);
});
