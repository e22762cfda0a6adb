/**
 * The IoT device and its Lightning gateway (docs/device-gateway.md) with the gateway's state
 * on PostgreSQL (`--store postgres://…`, the password in OFFCHAIN_STORE_PASSWORD, never argv),
 * through the built CLI: the gateway is `serve gateway --store` (no Lightning node: it answers
 * jobs, the operator settles and fails through its --operator-listen routes), each service its
 * own --state-dir; the device's commands run in this process (test/e2e/in-process.ts: the
 * device is the gateway's driver here, its commands at the process boundary are
 * test/e2e/device-toll.test.ts's).
 *
 * A gateway's nonces are sealed under the key of the service that issued them (docs/postgres.md;
 * src/lib/store/pg/mint-store.ts), so a device's channel is served by one service — the one its
 * requests hash to — and the one-shot `gateway pay|settle|fail|complete` are refused on
 * PostgreSQL (E_STORE_ONE_SHOT, exit 2, nothing written).
 *
 *   open (the offer published one-shot, the open through service A) → a toll paid and settled
 *   → the next one with its steps replayed, answered byte for byte, nothing written, and the
 *   one-shot gateway steps refused → a toll failed → device/pays on one nonce racing at one
 *   service and at two: exactly one signs; two completes at once: the same receipt → a step at
 *   service B on a nonce A issued refused (E_NONCE_ELSEWHERE), nothing written; A killed -9: the
 *   device abandons through B and pays on there → backup, a toll, restore under B (alive): the
 *   revived nonce signs nothing, B renews its epoch, the device that kept the backup's state
 *   abandons and pays on, the device ahead is refused → the cooperative close → a second channel
 *   whose service is lost between the operator's settle and complete: the device signs the same
 *   state again against the next service's nonce, which completes it → the steps that use no
 *   nonce run one-shot and write nothing outside the store: gateway pay's mark before its node
 *   pays, gateway claim.
 *
 * The test keeps its own book of which gateway nonce each state was signed against (the
 * next_nonce of the last gateway message the device took) and which txids answered it
 * (gateway/job's state_txid, gateway/receipt's txid, the close's txid): one per nonce. Every
 * state the gateway stores and the close are checked by the independent verifier against the
 * contract key derived in test code from the fixture keys; amounts are the test's own
 * arithmetic of the terms.
 *
 * Re-staged from the one-shot gateway of host epochs: "a step on another host" is now another
 * service, "host A lost" a service killed -9, the restore happens under a live service (its
 * ledger refuses the revived nonce, its epoch renewed) instead of a host key retired.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Address, OutScript } from '@scure/btc-signer';
import { base64, hex } from '@scure/base';
import { ROOT } from '../helpers.ts';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { psbtUnsignedTx } from '../independent/tx.ts';
import { CAPACITY, PAYOUT, REFUND, fundingPsbt } from '../e2e/stream-credit.ts';
import { pipeline, type Run, type Stage } from '../e2e/cli.ts';
import { runInProcess } from '../e2e/in-process.ts';
import { startGateway, type GatewayService } from '../e2e/serve-process.ts';
import { http } from '../e2e/serve-gateway-service.ts';
import { describePostgres } from './fixture.ts';
import { backupData, restoreData } from './process-stores.ts';
import { tree } from './rewind.ts';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { resolvePgTarget } from '../../src/lib/store/pg/connect.ts';
import { Sealer, openFields } from '../../src/lib/store/seal.ts';
import { MINT_SECRETS } from '../../src/lib/store/mint-records.ts';
import { MINT_KEY, USER_KEY } from '../e2e/fixtures.ts';
import { NOW, invoice, paymentHash as paymentHashOf, preimage } from '../lib/device/world.ts';
import { Config } from '@oclif/core';
import { DeviceCommand } from '../../src/topics/device/command.ts';
import { createTerminal } from '../../src/lib/cli/terminal.ts';
import { keyFlags, stateFlags } from '../../src/lib/cli/flags.ts';
import { storeFlags } from '../../src/lib/cli/store-flags.ts';
import { systemRandom } from '../../src/lib/random.ts';

const CONTRACT = musigTaprootOutput([publicKeyOf(hex.decode(USER_KEY)), publicKeyOf(hex.decode(MINT_KEY))]);
const SEALER = Sealer.fromSecret(hex.decode(MINT_KEY));
const REGTEST = { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
const scriptOf = (address: string) => hex.encode(OutScript.encode(Address(REGTEST).decode(address)));
const TIP = '1000';

const preimageHex = (n: number) => hex.encode(preimage(n));
const paymentHash = (n: number) => hex.encode(paymentHashOf(n));

/** The HTLC amount by the terms (1000 msat + 2000 ppm, rounded up), the test's own arithmetic. */
const htlcSat = (msat: bigint) => Number((msat + 1000n + (msat * 2000n + 999_999n) / 1_000_000n + 999n) / 1000n);

type Msg = Record<string, any>;
type Answer = { status: number; text: string };

/** The device's stages, in process, each given the whole output of the one before. */
async function device(stages: Stage[], input = ''): Promise<Run[]> {
  const runs: Run[] = [];
  let feed = input;
  for (const s of stages) {
    const r = await runInProcess(s.args, { input: feed, env: s.env });
    runs.push(r);
    feed = r.stdout;
  }
  return runs;
}

/** Every stage exited 0; each stage's message, parsed (the last of `type` when given). */
function ok(results: Run[], type?: string): Msg[] {
  results.forEach((r, i) => expect(r.status, `stage ${i} failed: ${r.stderr}`).toBe(0));
  const msgs = results.map((r) => (r.stdout.trim() ? (JSON.parse(r.stdout) as Msg) : {}));
  if (type) expect(msgs.at(-1)!.type, results.at(-1)!.stdout).toBe(type);
  return msgs;
}

/** A service's answer, 200 and of `type`. */
function served(a: Answer, type: string): Msg {
  expect(a.status, a.text).toBe(200);
  const m = JSON.parse(a.text) as Msg;
  expect(m.type, a.text).toBe(type);
  return m;
}

/** A service's refusal: its HTTP status class, code and exit code. */
function refusedBy(a: Answer): { code: string; exit_code: number } {
  expect(a.status, a.text).toBeGreaterThanOrEqual(400);
  const m = JSON.parse(a.text) as Msg;
  expect(m.type, a.text).toMatch(/^(gateway|credit)\/error$/);
  return { code: m.code, exit_code: m.exit_code };
}

describePostgres('the device and its gateway on PostgreSQL: serve gateway --store, every device step its own command', (fx) => {
  let url: string;
  const services: GatewayService[] = [];
  /** The device's state directory (it changes when the test continues with a copy). */
  let userDir = join(fx.root, 'device');
  let contractId: string;
  /** The gateway nonce the device holds: the next_nonce of the last gateway message it took. */
  let nonce: string;
  /** The test's book: gateway nonce → the txids of states signed against it (from the answers). */
  const signedUnder = new Map<string, Set<string>>();
  const book = (under: string, txid: string) => signedUnder.set(under, (signedUnder.get(under) ?? new Set()).add(txid));
  let state = 0;
  let settled = 0;
  let toll = 0;
  let raceLoser = '';
  /** The service serving the device (A until it is killed). */
  let home: GatewayService;
  let A: GatewayService;
  let B: GatewayService;
  /** The toll whose job is in flight at the end (on the second channel), for the steps that use no nonce. */
  let inFlight = -1;

  const env = () => ({ MINT_KEY, OFFCHAIN_STORE_PASSWORD: fx.server.password });
  const terms = ['--terms', join(ROOT, 'fixtures/policies/gateway-terms.json')];
  const chain = ['--tip-height', TIP, '--confirmations', '1'];
  const policy = ['--policy', join(ROOT, 'fixtures/policies/device.json')];
  /** `serve gateway --store` with its own --state-dir (no Lightning node: it answers jobs). */
  const startService = async (name: string) => {
    const s = await startGateway([...terms, '--now', String(NOW), ...chain, '--key-env', 'MINT_KEY', '--state-dir', join(fx.root, name), '--store', url, '--operator-listen', '127.0.0.1:0'], env());
    services.push(s);
    return s;
  };
  const dev = (...args: string[]): Stage => ({ args: [...args, '--key-env', 'USER_KEY', '--state-dir', userDir], env: { USER_KEY } });
  /** A one-shot gateway command on the store (--state-dir `host`). */
  const oneShot = async (host: string, args: string[], input = '') => (await pipeline([{ args: [...args, '--key-env', 'MINT_KEY', '--state-dir', host, '--store', url], env: env() }], input))[0]!;
  const invoiceFile = (n: number, msat: bigint) => {
    const p = join(fx.root, `toll-${n}.bolt11`);
    writeFileSync(p, invoice(n, msat) + '\n');
    return p;
  };
  const preimageFile = (n: number) => {
    const p = join(fx.root, `preimage-${n}`);
    writeFileSync(p, preimageHex(n) + '\n', { mode: 0o600 });
    return p;
  };
  const devicePay = (n: number, msat: bigint) => dev('device', 'pay', '--invoice', invoiceFile(n, msat), ...policy, ...terms, '--now', String(NOW), '--tip-height', TIP);
  const gwPay = (s: GatewayService, body: string) => http('POST', `${s.public}/v1/gateway/pay`, body);
  const gwComplete = (s: GatewayService, body: string) => http('POST', `${s.public}/v1/gateway/complete`, body);
  const gwSettle = (s: GatewayService, n: number, contract?: string) => http('POST', `${s.operator}/v1/operator/settle`, JSON.stringify({ ...(contract ? { contract_id: contract } : {}), preimage: preimageHex(n) }));
  const gwFail = (s: GatewayService, n: number) => http('POST', `${s.operator}/v1/operator/fail`, JSON.stringify({ payment_hash: paymentHash(n) }));
  const credit = (s: GatewayService, step: string, body: string) => http('POST', `${s.public}/v1/credit/${step}`, body);

  async function withStore<T>(f: (s: PgMintStore<{ contract_id: string }>) => Promise<T>): Promise<T> {
    const target = resolvePgTarget({ store: url }, { OFFCHAIN_STORE_PASSWORD: fx.server.password })!;
    const s = await PgMintStore.open<{ contract_id: string }>(target, 'regtest', { view: true });
    try {
      return await f(s);
    } finally {
      await s.close();
    }
  }
  /** SHA-256 over every row of the gateway's store: "nothing written". */
  const digest = () => withStore((s) => s.contentDigest());
  /** The gateway's record, its signed states opened with the mint's key (the store holds them sealed: src/lib/store/mint-records.ts). */
  const record = () => withStore(async (s) => openFields((await s.get(contractId))!, contractId, MINT_SECRETS, SEALER, url) as unknown as Msg);

  /** The gateway's latest stored state, verified independently, with the outputs the test expects. */
  async function verifyLatest(wantState: number, wantSettled: number, htlc?: number): Promise<string> {
    const r = await record();
    expect(r.latest.state).toBe(wantState);
    const tx = verifyKeyPathSpend(r.latest.hex, [{ amount: CAPACITY, script: CONTRACT.script }], CONTRACT.outputKey);
    expect([tx.version, tx.lockTime]).toEqual([3, 0]);
    const outs = tx.outputs.map((o) => ({ script: hex.encode(o.script), amount: Number(o.amount) }));
    const want: { script?: string; amount: number }[] = [];
    if (wantSettled > 0) want.push({ script: scriptOf(PAYOUT), amount: wantSettled });
    if (htlc) want.push({ amount: htlc });
    expect(outs.length).toBe(want.length + 1);
    want.forEach((w, i) => {
      expect(outs[i]!.amount, `output ${i}`).toBe(w.amount);
      if (w.script) expect(outs[i]!.script).toBe(w.script);
      else expect(outs[i]!.script).toMatch(/^5120[0-9a-f]{64}$/);
    });
    expect(outs.at(-1)!.script).toBe(scriptOf(r.contract.change_address));
    return tx.txid;
  }

  /** device pay → POST /v1/gateway/pay at `s`: the job, booked under the device's nonce; the HTLC state verified. */
  async function pay(msat: bigint, s = home): Promise<{ payMsg: string; job: Msg; jobText: string; n: number }> {
    const n = toll++;
    const payMsg = await devicePayText(n, msat);
    const answer = await gwPay(s, payMsg);
    const job = served(answer, 'gateway/job');
    expect(job.payment_hash).toBe(paymentHash(n));
    expect(job.state).toBe(state + 1);
    book(nonce, job.state_txid);
    expect(await verifyLatest(state + 1, settled, htlcSat(msat))).toBe(job.state_txid);
    return { payMsg, job, jobText: answer.text, n };
  }
  /** The device's device/pay for toll `n` (asked again for the invoice in flight: the same message). */
  const devicePayText = async (n: number, msat: bigint) => {
    const [r] = await device([devicePay(n, msat)]);
    ok([r!], 'device/pay');
    return r!.stdout;
  };

  /** The operator's settle at `s`, device settle, complete at `s`, device receipt. */
  async function settle(n: number, msat: bigint, s = home): Promise<{ deviceSettle: string; receiptText: string }> {
    const gs = served(await gwSettle(s, n), 'gateway/settle');
    const [ds] = await device([dev('device', 'settle')], JSON.stringify(gs));
    ok([ds!], 'device/settle');
    const receiptAnswer = await gwComplete(s, ds!.stdout);
    await received(receiptAnswer, gs, msat);
    return { deviceSettle: ds!.stdout, receiptText: receiptAnswer.text };
  }

  /** The gateway's receipt for a settle: the device takes it, the channel moves on two states and the HTLC's sats, the latest state verified. */
  async function received(receiptAnswer: Answer, gs: Msg, msat: bigint): Promise<void> {
    const receipt = served(receiptAnswer, 'gateway/receipt');
    const [balance] = ok(await device([dev('device', 'receipt')], receiptAnswer.text), 'credit/balance');
    const A_ = htlcSat(msat);
    expect([balance!.state, balance!.cumulative_sat]).toEqual([state + 2, settled + A_]);
    book(gs.next_nonce.pubnonce, receipt.txid);
    nonce = receipt.next_nonce.pubnonce;
    state += 2;
    settled += A_;
    expect(await verifyLatest(state, settled)).toBe(receipt.txid);
  }

  beforeAll(async () => {
    url = await fx.server.createDatabase('gateway');
  });
  afterAll(async () => {
    for (const s of services) await s.stop('SIGKILL').catch(() => undefined);
  });

  it('the offer published one-shot (no nonce), the contract opened through service A (POST /v1/credit/open); nothing of the gateway under its --state-dir', async () => {
    const offer = await oneShot(join(fx.root, 'publisher'), ['open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT]);
    expect(offer.status, offer.stderr).toBe(0);
    const offerPath = join(fx.root, 'offer.json');
    writeFileSync(offerPath, offer.stdout);
    A = await startService('gateway-host-a');
    B = await startService('gateway-host-b');
    home = A;
    const [request] = ok(await device([dev('open-credit', '--role', 'user', '--offer', offerPath, '--tip-height', TIP, '--expiry', '+4320', '--refund-address', REFUND, '--in', join(ROOT, 'fixtures/credit/funding.psbt'))]), 'credit/open-request');
    const accept = await credit(A, 'open', JSON.stringify(request));
    served(accept, 'credit/open-accept');
    const [opened] = ok(await device([dev('open-credit', '--role', 'user')], accept.text), 'credit/opened');
    contractId = opened!.contract_id;
    nonce = (JSON.parse(accept.text) as Msg).next_nonce.pubnonce;
    const r = await record();
    expect(r.contract_id).toBe(contractId);
    expect(r.status).toBe('open');
    for (const host of ['gateway-host-a', 'gateway-host-b', 'publisher']) {
      const dir = join(fx.root, host);
      expect(existsSync(dir) ? readdirSync(dir, { recursive: true }) : [], `${host}: no nonce key, no ledger`).toEqual([]);
    }
  }, 60_000);

  it('a toll through service A: device pay → /v1/gateway/pay, the operator\'s settle, device settle → /v1/gateway/complete, device receipt; each state verified independently', async () => {
    const { n } = await pay(2_500_000n);
    await settle(n, 2_500_000n);
    expect([state, settled]).toEqual([2, htlcSat(2_500_000n)]);
  }, 60_000);

  it('the next toll with its steps replayed: answered byte for byte, nothing written; the one-shot gateway pay, settle, fail and complete on the store refused E_STORE_ONE_SHOT (exit 2), nothing written', async () => {
    const msat = 7_654_321n;
    const first = await pay(msat);
    const before = await digest();
    // The device asked again for the invoice in flight gives the same device/pay; the service the same job.
    expect(await devicePayText(first.n, msat)).toBe(first.payMsg);
    const replayed = await gwPay(home, first.payMsg);
    expect([replayed.status, replayed.text]).toEqual([200, first.jobText]);
    expect(await digest()).toBe(before);
    // One-shot gateway steps on PostgreSQL: refused up front, nothing written to the store or the --state-dir.
    const host = join(fx.root, 'one-shot-host');
    mkdirSync(host, { recursive: true });
    const gs = served(await gwSettle(home, first.n), 'gateway/settle');
    const [ds] = ok(await device([dev('device', 'settle')], JSON.stringify(gs)), 'device/settle');
    const afterSettle = await digest();
    for (const [what, args, input] of [
      ['gateway pay', ['gateway', 'pay', ...terms, '--now', String(NOW), ...chain], first.payMsg],
      ['gateway settle', ['gateway', 'settle', '--preimage-file', preimageFile(first.n)], ''],
      ['gateway fail', ['gateway', 'fail', '--payment-hash', paymentHash(first.n)], ''],
      ['gateway complete', ['gateway', 'complete', ...chain], JSON.stringify(ds)],
    ] as const) {
      const r = await oneShot(host, [...args], input);
      expect({ status: r.status, stdout: r.stdout, lines: r.stderr.split('\n').filter(Boolean).length }, `${what}: ${r.stderr}`).toEqual({ status: 2, stdout: '', lines: 1 });
      expect(r.stderr).toMatch(/^offchain: error E_STORE_ONE_SHOT: /);
      expect(await digest(), `${what} wrote nothing`).toBe(afterSettle);
      expect(readdirSync(host, { recursive: true })).toEqual([]);
    }
    // The service completes it; the same device/settle again: the stored receipt, byte for byte.
    const receiptAnswer = await gwComplete(home, JSON.stringify(ds));
    const receipt = served(receiptAnswer, 'gateway/receipt');
    const [balance] = ok(await device([dev('device', 'receipt')], receiptAnswer.text), 'credit/balance');
    expect([balance!.state, balance!.cumulative_sat]).toEqual([state + 2, settled + htlcSat(msat)]);
    book(gs.next_nonce.pubnonce, receipt.txid);
    nonce = receipt.next_nonce.pubnonce;
    state += 2;
    settled += htlcSat(msat);
    expect(await verifyLatest(state, settled)).toBe(receipt.txid);
    const done = await digest();
    const again = await gwComplete(home, JSON.stringify(ds));
    expect([again.status, again.text]).toEqual([200, receiptAnswer.text]);
    expect(await digest()).toBe(done);
  }, 60_000);

  it('a toll the gateway fails: the operator\'s fail, device fail → complete, device receipt: the amount back', async () => {
    const msat = 3_000_000n;
    const { n } = await pay(msat);
    const gf = served(await gwFail(home, n), 'gateway/fail');
    const [df] = ok(await device([dev('device', 'fail')], JSON.stringify(gf)), 'device/fail');
    const receiptAnswer = await gwComplete(home, JSON.stringify(df));
    const receipt = served(receiptAnswer, 'gateway/receipt');
    const [balance] = ok(await device([dev('device', 'receipt')], receiptAnswer.text), 'credit/balance');
    expect([balance!.state, balance!.cumulative_sat]).toEqual([state + 2, settled]);
    book(gf.next_nonce.pubnonce, receipt.txid);
    nonce = receipt.next_nonce.pubnonce;
    state += 2;
    expect(await verifyLatest(state, settled)).toBe(receipt.txid);
  }, 60_000);

  it('two device/pays on one nonce at once, at service A (twice) and at service B: exactly one signs; two completes of one device/settle at once: one receipt, the same bytes', async () => {
    // Two devices holding the same state and nonce (a copy of the device's directory) sign two
    // different payment states against it; they reach the gateway at the same moment.
    const twin = `${userDir}-twin`;
    cpSync(userDir, twin, { recursive: true });
    const msat = 1_500_000n;
    const nA = toll++;
    const nB = toll++;
    const payA = await devicePayText(nA, msat);
    const mainDir = userDir;
    userDir = twin;
    const payB = await devicePayText(nB, msat);
    userDir = mainDir;
    expect(JSON.parse(payA).state).toBe(JSON.parse(payB).state);
    expect(JSON.parse(payA).txid).not.toBe(JSON.parse(payB).txid);
    const before = await digest();
    const answers = await Promise.all([gwPay(A, payA), gwPay(A, payB), gwPay(B, payB)]);
    const winners = answers.filter((a) => a.status === 200);
    // One payment signed. A request for the very state the gateway already took (payB at B, after
    // A committed it) is answered the stored job, byte for byte, signing nothing: which of the two a
    // late request meets depends on the interleaving, so every 200 must be that one job.
    expect(winners.length, answers.map((a) => a.text).join('\n')).toBeGreaterThanOrEqual(1);
    expect(new Set(winners.map((w) => w.text)).size, answers.map((a) => a.text).join('\n')).toBe(1);
    const losers = answers.filter((a) => a.status !== 200).map(refusedBy);
    for (const l of losers) expect(['E_HTLC_IN_FLIGHT', 'E_NONCE_USED', 'E_STALE_STATE', 'E_NONCE_ELSEWHERE', 'E_STORE_BUSY']).toContain(l.code);
    raceLoser = losers.map((l) => l.code).join(', ');
    const job = JSON.parse(winners[0]!.text) as Msg;
    const wonA = answers[0]!.status === 200;
    const won = wonA ? { n: nA, pay: JSON.parse(payA) as Msg } : { n: nB, pay: JSON.parse(payB) as Msg };
    // B cannot sign with A's nonce: at most it answers A's committed job for that same state.
    if (answers[2]!.status === 200) expect({ wonA, text: answers[2]!.text }, 'B answered only the job A stored for payB').toEqual({ wonA: false, text: answers[1]!.text });
    if (!wonA) userDir = twin; // the device whose payment the gateway took goes on
    expect(job.state_txid).toBe(won.pay.txid);
    book(nonce, job.state_txid);
    expect(await digest()).not.toBe(before);
    expect(await verifyLatest(state + 1, settled, htlcSat(msat))).toBe(won.pay.txid);
    const lost = wonA ? JSON.parse(payB).txid : JSON.parse(payA).txid;
    for (const txids of signedUnder.values()) expect(txids.has(lost)).toBe(false);

    // The same device/settle to two completes at once: one signs, the other answers the stored receipt.
    const gs = served(await gwSettle(A, won.n), 'gateway/settle');
    const [ds] = ok(await device([dev('device', 'settle')], JSON.stringify(gs)), 'device/settle');
    const both = await Promise.all([gwComplete(A, JSON.stringify(ds)), gwComplete(A, JSON.stringify(ds))]);
    both.forEach((a) => expect(a.status, a.text).toBe(200));
    expect(both[0]!.text).toBe(both[1]!.text);
    const receipt = JSON.parse(both[0]!.text) as Msg;
    const [balance] = ok(await device([dev('device', 'receipt')], both[0]!.text), 'credit/balance');
    const A_ = htlcSat(msat);
    expect([balance!.state, balance!.cumulative_sat]).toEqual([state + 2, settled + A_]);
    book(gs.next_nonce.pubnonce, receipt.txid);
    nonce = receipt.next_nonce.pubnonce;
    state += 2;
    settled += A_;
    expect(await verifyLatest(state, settled)).toBe(receipt.txid);
  }, 60_000);

  it('a step at service B on a nonce A issued is refused E_NONCE_ELSEWHERE (409), nothing written; A killed -9: the device abandons through B, which burns that nonce and issues its own, and pays on there', async () => {
    const msat = 2_000_000n;
    const { n } = await pay(msat);
    const gs = served(await gwSettle(A, n), 'gateway/settle');
    const [ds] = ok(await device([dev('device', 'settle')], JSON.stringify(gs)), 'device/settle');
    let before = await digest();
    const onB = await gwComplete(B, JSON.stringify(ds));
    expect(onB.status).toBe(409);
    expect(refusedBy(onB)).toEqual({ code: 'E_NONCE_ELSEWHERE', exit_code: 5 });
    expect(await digest()).toBe(before);
    // A still there: the step goes to the service that issued the nonce.
    await received(await gwComplete(A, JSON.stringify(ds)), gs, msat);

    // A killed -9 (its key gone with it): the device's next payment, signed against A's nonce, is refused at B.
    await A.stop('SIGKILL');
    home = B;
    const n2 = toll++;
    const payText = await devicePayText(n2, 1_000_000n);
    before = await digest();
    const refused = await gwPay(B, payText);
    expect(refusedBy(refused)).toEqual({ code: 'E_NONCE_ELSEWHERE', exit_code: 5 });
    expect(await digest()).toBe(before);
    const [start] = ok(await device([dev('credit', 'abandon', '--role', 'user', '--start')]), 'credit/abandon');
    const abandoned = await credit(B, 'abandon', JSON.stringify(start));
    const ab = served(abandoned, 'credit/abandoned');
    const [bal] = ok(await device([dev('credit', 'abandon', '--role', 'user')], abandoned.text), 'credit/balance');
    expect([bal!.state, bal!.cumulative_sat]).toEqual([state, settled]);
    expect(ab.next_nonce.pubnonce).not.toBe(nonce);
    expect(await withStore((s) => s.status(hex.decode(nonce))), 'A\'s nonce burned').toBe('consumed');
    nonce = ab.next_nonce.pubnonce;
    const paid = await pay(1_250_000n);
    await settle(paid.n, 1_250_000n);
  }, 120_000);

  it('backup, a toll, restore under service B (alive): the revived nonce signs nothing (its ledger refuses it), B renews its epoch; the device that kept the backup\'s state abandons and pays on; the device ahead is refused', async () => {
    // ——— the backup (and the device's own copy of its state then) ———
    const atBackup = { state, settled, nonce, dir: `${userDir}-at-backup` };
    const backup = await backupData(fx, 'pg-backup');
    cpSync(userDir, atBackup.dir, { recursive: true });

    // ——— a toll after the backup: state + 1 signed against the backup's nonce ———
    const msat = 1_800_000n;
    const lost = await pay(msat);
    await settle(lost.n, msat);
    const ahead = { dir: userDir, state };

    // ——— the restore ———
    await restoreData(fx, backup);
    expect((await record()).latest.state).toBe(atBackup.state);

    // The device with the backup's state signs ANOTHER state + 1 against the revived nonce.
    userDir = atBackup.dir;
    [state, settled, nonce] = [atBackup.state, atBackup.settled, atBackup.nonce];
    const n = toll++;
    const attack = await devicePayText(n, 1_100_000n);
    expect(JSON.parse(attack).state).toBe(state + 1);
    expect(JSON.parse(attack).txid).not.toBe(lost.job.state_txid);
    const codes: string[] = [];
    for (let i = 0; i < 2; i++) {
      const before = await digest();
      const r = await gwPay(B, attack);
      const { code } = refusedBy(r);
      codes.push(code);
      expect(['E_NONCE_REOPENED', 'E_NONCE_ELSEWHERE', 'E_STORE_UNREACHABLE'], r.text).toContain(code);
      expect(await digest(), 'a refusal writes nothing').toBe(before);
    }
    expect(codes, 'the service that opened the nonce refuses it for another payment').toContain('E_NONCE_REOPENED');
    expect((await record()).latest.state, 'nothing signed after the restore').toBe(atBackup.state);
    for (const txids of signedUnder.values()) expect(txids.has(JSON.parse(attack).txid)).toBe(false);

    // Recovery: credit abandon — B burns the stale nonce (its next nonce transaction finds the store went back: it renews its epoch) and issues a fresh one.
    const [start] = ok(await device([dev('credit', 'abandon', '--role', 'user', '--start')]), 'credit/abandon');
    const abandoned = await credit(B, 'abandon', JSON.stringify(start));
    const ab = served(abandoned, 'credit/abandoned');
    const [bal] = ok(await device([dev('credit', 'abandon', '--role', 'user')], abandoned.text), 'credit/balance');
    expect([bal!.state, bal!.cumulative_sat]).toEqual([state, settled]);
    nonce = ab.next_nonce.pubnonce;
    expect(nonce).not.toBe(atBackup.nonce);
    expect(await withStore((s) => s.status(hex.decode(atBackup.nonce))), 'the revived nonce burned').toBe('consumed');
    expect(B.stderr(), 'B saw the store go back and renewed its epoch').toMatch(/E_STORE_ROLLED_BACK/);
    const again = await pay(1_100_000n);
    await settle(again.n, 1_100_000n);

    // The device that paid after the backup is ahead of the restored gateway: refused, nothing
    // written. Its next state pays the gateway what it settled after the backup (the 1.8M msat
    // toll), the gateway's record what it settled since the restore (the 1.1M one): E_BAD_PAYOUT.
    const mainDir = userDir;
    userDir = ahead.dir;
    const aheadPay = await devicePayText(toll++, 1_000_000n);
    expect(JSON.parse(aheadPay).state).toBe(ahead.state + 1);
    const before = await digest();
    const r = await gwPay(B, aheadPay);
    expect(refusedBy(r)).toEqual({ code: 'E_BAD_PAYOUT', exit_code: 4 });
    expect(await digest()).toBe(before);
    userDir = mainDir;
    console.log(`pg gateway restore: the revived nonce refused ${codes.join(', ')}; the device ahead refused E_BAD_PAYOUT`);
  }, 120_000);

  it('the channel closes cooperatively through its service (/v1/credit/close); the close verified independently; one state per nonce', async () => {
    const [start] = ok(await device([dev('close-credit', '--role', 'user', '--start')]), 'credit/close-request');
    const closedAnswer = await credit(home, 'close', JSON.stringify(start));
    served(closedAnswer, 'credit/closed');
    const [closed] = ok(await device([dev('close-credit', '--role', 'user')], closedAnswer.text), 'credit/closed');
    expect(closed!.cumulative_sat).toBe(settled);
    const tx = verifyKeyPathSpend(closed!.hex, [{ amount: CAPACITY, script: CONTRACT.script }], CONTRACT.outputKey);
    expect(Number(tx.outputs.find((o) => hex.encode(o.script) === scriptOf(PAYOUT))!.amount)).toBe(settled);
    book(nonce, closed!.txid);
    for (const [under, txids] of signedUnder) expect(txids.size, `states signed against nonce ${under.slice(0, 16)}…: ${[...txids].join(', ')}`).toBe(1);
    console.log(`pg gateway: ${toll} invoices, ${signedUnder.size} gateway nonces each signed one state; the race's losers refused ${raceLoser}; settled ${settled} sat`);
  }, 60_000);

  it('a service lost between the operator\'s settle and complete: the next service cannot complete it (E_NONCE_ELSEWHERE); it settles again with its own nonce, the device signs the same state again against it, and it completes', async () => {
    // A second channel (its own funding outpoint, a new device directory) served by service C.
    const C = await startService('gateway-host-c');
    const D = await startService('gateway-host-d');
    userDir = join(fx.root, 'device-2');
    const [request] = ok(await device([dev('open-credit', '--role', 'user', '--offer', join(fx.root, 'offer.json'), '--tip-height', TIP, '--expiry', '+4320', '--refund-address', REFUND)], fundingPsbt(CONTRACT.script, 'pg gateway, second channel')), 'credit/open-request');
    const accept = await credit(C, 'open', JSON.stringify(request));
    const acceptMsg = served(accept, 'credit/open-accept');
    const [opened] = ok(await device([dev('open-credit', '--role', 'user')], accept.text), 'credit/opened');
    contractId = opened!.contract_id;
    const n = toll++;
    const job = served(await gwPay(C, await devicePayText(n, 1_000_000n)), 'gateway/job');
    book(acceptMsg.next_nonce.pubnonce, job.state_txid);
    const settleC = served(await gwSettle(C, n, contractId), 'gateway/settle');
    const [dsC] = await device([dev('device', 'settle')], JSON.stringify(settleC));
    const [signedC] = ok([dsC!], 'device/settle');
    await C.stop('SIGKILL');
    // The same notice again with C's nonce: the device/settle resent byte for byte.
    expect((await device([dev('device', 'settle')], JSON.stringify(settleC)))[0]!.stdout).toBe(dsC!.stdout);
    // C's nonce is dead with its key: D cannot complete the settle signed against it.
    const before = await digest();
    expect(refusedBy(await gwComplete(D, dsC!.stdout))).toEqual({ code: 'E_NONCE_ELSEWHERE', exit_code: 5 });
    expect(await digest()).toBe(before);
    // D presents the preimage again with its own nonce: the device signs the SAME state (same
    // number, same amount, same transaction) again, against D's nonce.
    const settleD = served(await gwSettle(D, n, contractId), 'gateway/settle');
    const [signedD] = ok(await device([dev('device', 'settle')], JSON.stringify(settleD)), 'device/settle');
    expect(settleD.next_nonce.pubnonce).not.toBe(settleC.next_nonce.pubnonce);
    expect([signedD!.state, signedD!.settled_sat, signedD!.txid]).toEqual([signedC!.state, signedC!.settled_sat, signedC!.txid]);
    expect(signedD!.psbt).not.toBe(signedC!.psbt);
    // D completes it; the device takes the receipt and is idle again.
    const receiptAnswer = await gwComplete(D, JSON.stringify(signedD));
    const receipt = served(receiptAnswer, 'gateway/receipt');
    const [balance] = ok(await device([dev('device', 'receipt')], receiptAnswer.text), 'credit/balance');
    expect(receipt.txid).toBe(signedC!.txid);
    book(settleD.next_nonce.pubnonce, receipt.txid);
    const A_ = htlcSat(1_000_000n);
    expect([balance!.state, balance!.cumulative_sat]).toEqual([signedC!.state, A_]);
    const r = await record();
    expect(r.latest.txid).toBe(receipt.txid);
    const funding = psbtUnsignedTx(base64.decode(fundingPsbt(CONTRACT.script, 'pg gateway, second channel')));
    const tx = verifyKeyPathSpend(r.latest.hex, [{ amount: CAPACITY, script: CONTRACT.script, txid: funding.txid, vout: 0 }], CONTRACT.outputKey);
    expect(tx.outputs.map((o) => Number(o.amount))[0]).toBe(A_);
    // And the channel carries on at D.
    const m = toll++;
    inFlight = m;
    const job2 = served(await gwPay(D, await devicePayText(m, 2_000_000n)), 'gateway/job');
    book(receipt.next_nonce.pubnonce, job2.state_txid);
    expect(job2.state).toBe(signedC!.state + 1);
    for (const [under, txids] of signedUnder) expect(txids.size, `states signed against nonce ${under.slice(0, 16)}…`).toBe(1);
  }, 60_000);

  // The steps that take, issue and burn no nonce run one-shot on PostgreSQL and write nothing
  // outside the store: no key, no ledger, under --state-dir or the home directory.
  it('gateway pay\'s mark before its node pays (DeviceCommand.gatewayMarkAttempted, in process, one-shot) from a fresh --state-dir: the job marked, nothing written under it', async () => {
    const hostE = join(fx.root, 'gateway-host-e');
    mkdirSync(hostE);
    expect((await record()).gateway.in_flight).toMatchObject({ payment_hash: paymentHash(inFlight) });
    expect((await record()).gateway.in_flight.attempted).toBeUndefined();
    const saved = { MINT_KEY: process.env.MINT_KEY, OFFCHAIN_STORE_PASSWORD: process.env.OFFCHAIN_STORE_PASSWORD };
    Object.assign(process.env, { MINT_KEY, OFFCHAIN_STORE_PASSWORD: fx.server.password });
    try {
      const cmd = new MarkAttempted([], await Config.load(ROOT));
      await cmd.mark({ 'key-env': 'MINT_KEY', 'state-dir': hostE, store: url }, contractId, paymentHash(inFlight));
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
    expect((await record()).gateway.in_flight).toMatchObject({ payment_hash: paymentHash(inFlight), attempted: true });
    expect(readdirSync(hostE, { recursive: true })).toEqual([]);
  }, 30_000);

  it('gateway claim without --state-dir (HOME a fresh directory), one-shot: the exit with the HTLC claimed, the contract frozen, nothing written under the home directory', async () => {
    const homeDir = join(fx.root, 'gateway-claim-home');
    mkdirSync(homeDir);
    const [claim] = await pipeline([{
      args: ['gateway', 'claim', '--fee-rate', '2', '--preimage-file', preimageFile(inFlight), '--contract', contractId, '--key-env', 'MINT_KEY', '--store', url],
      env: { MINT_KEY, OFFCHAIN_STORE_PASSWORD: fx.server.password, HOME: homeDir },
    }], '');
    const [exit] = ok([claim!], 'credit/exit');
    expect(exit).toMatchObject({ contract_id: contractId, htlc_claim: { amount_sat: htlcSat(2_000_000n) } });
    expect((await record()).exiting).toMatchObject({ txid: exit!.state_tx.txid });
    expect(tree(homeDir)).toEqual({});
  }, 30_000);
}, { prefix: 'offchain-pg-gateway-' });

/**
 * gateway pay's mark (committed before its Lightning node is asked to pay), reached without a
 * node: the real DeviceCommand method on flags set as oclif would parse them.
 */
class MarkAttempted extends DeviceCommand<typeof MarkAttempted> {
  static override flags = { ...keyFlags, ...stateFlags, ...storeFlags };
  protected async execute(): Promise<void> {}
  async mark(flags: Record<string, string>, contractId: string, paymentHash: string): Promise<void> {
    this.flags = flags as never;
    this.term = createTerminal(process.stderr, {});
    this.random = systemRandom;
    await this.gatewayMarkAttempted('regtest', contractId, paymentHash);
  }
}
