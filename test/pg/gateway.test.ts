/**
 * The IoT device and its Lightning gateway (docs/device-gateway.md) with the gateway's
 * state on PostgreSQL (`--store postgres://…`, the password in OFFCHAIN_STORE_PASSWORD,
 * never argv), through the built CLI: every gateway step a one-shot `offchain gateway …`
 * process, the device another with its own --state-dir, one party's output piped into the
 * other's input (OS pipes, as test/e2e/device-toll.test.ts, for the opening and the first
 * toll; after them the device's steps run in process, each gateway step still its own
 * process: see `tee`. Every stage's output is also kept, so the test can hold each message).
 *
 * One-shot mint commands on PostgreSQL share their host's nonce epoch: a key in a 0600 file
 * under --state-dir with a rollback witness beside it (docs/postgres.md, "Host epochs" and
 * "The gateway on PostgreSQL"). Host A and host B are two --state-dirs on one database.
 *
 *   open (the gateway's open-credit --role mint on the store) → tolls paid and settled, one
 *   failed, each gateway step its own process → a replayed device/pay and device/settle
 *   answered byte for byte, nothing written → two gateway steps racing on one nonce from two
 *   processes → a step on host B refused, the store's content digest unchanged, the same
 *   step on host A; host A lost: the device abandons through host B and pays on there →
 *   backup, a toll, restore: the host key retired, the revived nonce signs nothing, the
 *   device that kept the backup's state abandons and pays on, the device ahead is refused
 *   → the cooperative close → a second channel whose host is lost between gateway settle and
 *   gateway complete: the device keeps the settle signed against that host's nonce, another
 *   host cannot complete it, there is nothing to abandon, the gateway's exit (gateway claim)
 *   is its way out → the steps that use no nonce open no host epoch: gateway pay's mark
 *   before its node pays, from a --state-dir that never opened one, and gateway claim
 *   without --state-dir (HOME a fresh directory) write nothing outside the store.
 *
 * The test keeps its own book of which gateway nonce each state was signed against (the
 * next_nonce of the last gateway message the device took) and which txids answered it
 * (gateway/job's state_txid, gateway/receipt's txid, the close's txid): one per nonce.
 * Every state the gateway stores and the close are checked by the independent verifier
 * (test/independent/) against the contract key derived in test code from the fixture keys;
 * amounts are the test's own arithmetic of the terms.
 *
 * Seen failing: before host epochs, at the first gateway pay (E_NONCE_ELSEWHERE: the open's
 * nonce died with its process); with the host's witness check removed, after the restore
 * (the revived nonce signed a second state: a gateway/job printed); with the contract lock
 * and the nonce's consumed check removed, in the race (two jobs under one nonce); before the
 * no-nonce steps passed `nonces: 'none'`, the host's nonce key file written under the fresh
 * --state-dir and under ~/.offchain.
 */
import { beforeAll, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Address, OutScript } from '@scure/btc-signer';
import { base64, hex } from '@scure/base';
import { ROOT } from '../helpers.ts';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { psbtUnsignedTx } from '../independent/tx.ts';
import { CAPACITY, PAYOUT, REFUND, fundingPsbt } from '../e2e/stream-credit.ts';
import { BIN, assertFreshBuild, cleanEnv, finished, type Run, type Stage } from '../e2e/cli.ts';
import { runInProcess } from '../e2e/in-process.ts';
import { runAsync } from '../e2e/process.ts';
import { describePostgres } from './fixture.ts';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { StateSeal } from '../../src/lib/store/state-seal.ts';
import { resolvePgTarget } from '../../src/lib/store/pg/connect.ts';
import { MINT_KEY, USER_KEY } from '../e2e/fixtures.ts';
import { NOW, invoice, paymentHash as paymentHashOf, preimage } from '../lib/device/world.ts';
import { Config } from '@oclif/core';
import { DeviceCommand } from '../../src/topics/device/command.ts';
import { createTerminal } from '../../src/lib/cli/terminal.ts';
import { keyFlags, stateFlags } from '../../src/lib/cli/flags.ts';
import { storeFlags } from '../../src/lib/cli/store-flags.ts';
import { systemRandom } from '../../src/lib/random.ts';

const CONTRACT = musigTaprootOutput([publicKeyOf(hex.decode(USER_KEY)), publicKeyOf(hex.decode(MINT_KEY))]);
const SEAL = StateSeal.fromMintKey(hex.decode(MINT_KEY));
const REGTEST = { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
const scriptOf = (address: string) => hex.encode(OutScript.encode(Address(REGTEST).decode(address)));
const TIP = '1000';

const preimageHex = (n: number) => hex.encode(preimage(n));
const paymentHash = (n: number) => hex.encode(paymentHashOf(n));

/** The HTLC amount by the terms (1000 msat + 2000 ppm, rounded up), the test's own arithmetic. */
const htlcSat = (msat: bigint) => Number((msat + 1000n + (msat * 2000n + 999_999n) / 1_000_000n + 999n) / 1000n);

type Msg = Record<string, any>;

/** The device's stages: run in process unless the pipeline is asked for with OS pipes. */
const deviceStages = new WeakSet<Stage>();

/**
 * `a | b | c`, keeping every stage's stdout too: the messages the parties passed each other.
 * Every gateway stage is its own process (the process under test, on the store). With
 * `piped`, every stage is, joined by OS pipes (test/e2e/cli.ts `pipeline`): the opening and
 * the first toll, this file's spawned sample. Otherwise the device's stages run the same
 * bundle's `main` in this process (test/e2e/in-process.ts, ~0.03 CPU-s instead of ~0.15
 * a spawn) and each stage gets the whole output of the one before it: the device is the
 * gateway's driver here; its commands at the process boundary are test/e2e/device-toll.test.ts's.
 */
async function tee(stages: Stage[], input = '', opts: { piped?: boolean } = {}): Promise<Run[]> {
  if (!opts.piped) {
    const runs: Run[] = [];
    let feed = input;
    for (const s of stages) {
      const r = deviceStages.has(s) ? await runInProcess(s.args, { input: feed, env: s.env }) : await runAsync(s.args, { input: feed, env: s.env });
      runs.push(r);
      feed = r.stdout;
    }
    return runs;
  }
  assertFreshBuild();
  const children = stages.map((s) => spawn(process.execPath, [BIN, ...s.args], { env: cleanEnv(s.env), cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] }));
  children.forEach((c, i) => {
    c.stdin.on('error', () => {});
    if (i + 1 < children.length) c.stdout.pipe(children[i + 1]!.stdin);
  });
  const results = children.map((c, i) => finished(c, `stage ${i} (offchain ${stages[i]!.args.slice(0, 2).join(' ')})`, 60_000));
  children[0]!.stdin.end(input);
  const settled = await Promise.allSettled(results);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<Run>).value);
}

/** Every stage exited 0; each stage's message, parsed (the last of `type` when given). */
function ok(results: Run[], type?: string): Msg[] {
  results.forEach((r, i) => expect(r.status, `stage ${i} failed: ${r.stderr}`).toBe(0));
  const msgs = results.map((r) => (r.stdout.trim() ? (JSON.parse(r.stdout) as Msg) : {}));
  if (type) expect(msgs.at(-1)!.type, results.at(-1)!.stdout).toBe(type);
  return msgs;
}

/** The one stage refused: its E_ code and exit code, nothing on stdout. */
function refusal(r: Run): { status: number; code: string | undefined; stdout: string } {
  return { status: r.status, code: /error (E_[A-Z0-9_]+): /.exec(r.stderr)?.[1], stdout: r.stdout };
}

describePostgres('the device and its gateway on a PostgreSQL gateway store, every gateway step a one-shot process', (fx) => {
  let url: string;
  const hostA = join(fx.root, 'gateway-host-a');
  const hostB = join(fx.root, 'gateway-host-b');
  /** The device's state directory (it changes when the test continues with a copy). */
  let userDir = join(fx.root, 'device');
  let contractId: string;
  /** The gateway nonce the device holds: the next_nonce of the last gateway message it took. */
  let nonce: string;
  /** The test's book: gateway nonce → the txids of states signed against it (from the outputs). */
  const signedUnder = new Map<string, Set<string>>();
  const book = (under: string, txid: string) => signedUnder.set(under, (signedUnder.get(under) ?? new Set()).add(txid));
  let state = 0;
  let settled = 0;
  let toll = 0;
  let raceLoser = '';
  /** The host serving the gateway's steps (host A until it is lost). */
  let home = hostA;
  /** The toll whose job is in flight at the end (on the second channel), for the steps that use no nonce. */
  let inFlight = -1;

  const device = (...args: string[]): Stage => {
    const stage = { args: [...args, '--key-env', 'USER_KEY', '--state-dir', userDir], env: { USER_KEY } };
    deviceStages.add(stage);
    return stage;
  };
  const gateway = (host: string, ...args: string[]): Stage => ({
    args: [...args, '--key-env', 'MINT_KEY', '--state-dir', host, '--store', url],
    env: { MINT_KEY, OFFCHAIN_STORE_PASSWORD: fx.server.password },
  });
  const chain = ['--tip-height', TIP, '--confirmations', '1'];
  const terms = ['--terms', join(ROOT, 'fixtures/policies/gateway-terms.json')];
  const policy = ['--policy', join(ROOT, 'fixtures/policies/device.json')];
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
  const devicePay = (n: number, msat: bigint) => device('device', 'pay', '--invoice', invoiceFile(n, msat), ...policy, ...terms, '--now', String(NOW), '--tip-height', TIP);
  const gatewayPay = (host = home) => gateway(host, 'gateway', 'pay', ...terms, '--now', String(NOW), ...chain);

  /** The host's nonce key file (docs/postgres.md, host epochs) and the epoch it names. */
  const hostKey = (host: string) => {
    const dir = join(host, 'regtest', 'credit-mint-pg');
    const files = readdirSync(dir).filter((f) => /^epoch-.*\.json$/.test(f));
    expect(files.length, `one key file in ${dir}: ${files.join(', ')}`).toBe(1);
    const path = join(dir, files[0]!);
    return { path, epoch: (JSON.parse(readFileSync(path, 'utf8')) as { epoch: string }).epoch };
  };

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
  /** The gateway's record, its signed states opened with the mint's key (the store holds them sealed: src/lib/store/state-seal.ts). */
  const record = () => withStore(async (s) => SEAL.open((await s.get(contractId))!, url) as unknown as Msg);

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

  /** device pay | gateway pay on `host`: the job, booked under the device's nonce; the HTLC state verified. */
  async function pay(msat: bigint, host = home, piped = false): Promise<{ payMsg: string; job: Msg; jobText: string; n: number }> {
    const n = toll++;
    const runs = await tee([devicePay(n, msat), gatewayPay(host)], '', { piped });
    const [, job] = ok(runs, 'gateway/job');
    expect(job!.payment_hash).toBe(paymentHash(n));
    expect(job!.state).toBe(state + 1);
    book(nonce, job!.state_txid);
    expect(await verifyLatest(state + 1, settled, htlcSat(msat))).toBe(job!.state_txid);
    return { payMsg: runs[0]!.stdout, job: job!, jobText: runs[1]!.stdout, n };
  }

  /** gateway settle | device settle | gateway complete | device receipt, each gateway step its own process on `host`. */
  async function settle(n: number, msat: bigint, host = home, piped = false): Promise<{ deviceSettle: string; receiptText: string }> {
    const runs = await tee([gateway(host, 'gateway', 'settle', '--preimage-file', preimageFile(n)), device('device', 'settle'), gateway(host, 'gateway', 'complete', ...chain), device('device', 'receipt')], '', { piped });
    const [gs, , receipt, balance] = ok(runs, 'credit/balance');
    const A = htlcSat(msat);
    expect([balance!.state, balance!.cumulative_sat]).toEqual([state + 2, settled + A]);
    book(gs!.next_nonce.pubnonce, receipt!.txid);
    nonce = receipt!.next_nonce.pubnonce;
    state += 2;
    settled += A;
    expect(await verifyLatest(state, settled)).toBe(receipt!.txid);
    return { deviceSettle: runs[1]!.stdout, receiptText: runs[2]!.stdout };
  }

  beforeAll(async () => {
    url = await fx.server.createDatabase('gateway');
  });

  it('the gateway opens the contract on PostgreSQL (open-credit --role mint, one-shot, --store)', async () => {
    const offer = ok(await tee([gateway(hostA, 'open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT)], '', { piped: true }), 'credit/offer');
    const offerPath = join(fx.root, 'offer.json');
    writeFileSync(offerPath, JSON.stringify(offer[0]));
    const runs = await tee([
      device('open-credit', '--role', 'user', '--offer', offerPath, '--tip-height', TIP, '--expiry', '+4320', '--refund-address', REFUND, '--in', join(ROOT, 'fixtures/credit/funding.psbt')),
      gateway(hostA, 'open-credit', '--role', 'mint', '--tip-height', TIP),
      device('open-credit', '--role', 'user'),
    ], '', { piped: true });
    const [, accept, opened] = ok(runs, 'credit/opened');
    contractId = opened!.contract_id;
    expect(accept!.type).toBe('credit/open-accept');
    nonce = accept!.next_nonce.pubnonce;
    const r = await record();
    expect(r.contract_id).toBe(contractId);
    expect(r.status).toBe('open');
    // The host's nonce key: a 0600 file under --state-dir (and nothing else of the mint there).
    const key = hostKey(hostA);
    expect(statSync(key.path).mode & 0o777).toBe(0o600);
    expect(key.epoch).toMatch(/^[0-9a-f]{32}$/);
  }, 60_000);

  it('a toll, every gateway step its own one-shot process on host A: device pay | gateway pay, then gateway settle | device settle | gateway complete | device receipt; each state verified independently', async () => {
    const { n } = await pay(2_500_000n, home, true);
    await settle(n, 2_500_000n, home, true);
    expect([state, settled]).toEqual([2, htlcSat(2_500_000n)]);
  }, 60_000);

  it('the next toll with its steps replayed: answered byte for byte, nothing written (the device/pay its job, the device/settle its receipt)', async () => {
    const msat = 7_654_321n;
    const first = await pay(msat);
    const before = await digest();
    // The device asked again for the invoice in flight gives the same device/pay; the gateway the same job.
    const again = ok(await tee([device('device', 'pay', '--invoice', join(fx.root, `toll-${first.n}.bolt11`), ...policy, ...terms, '--now', String(NOW), '--tip-height', TIP), gatewayPay()]), 'gateway/job');
    expect(JSON.stringify(again[1])).toBe(JSON.stringify(first.job));
    const replayed = await tee([gatewayPay()], first.payMsg);
    expect(replayed[0]!.status, replayed[0]!.stderr).toBe(0);
    expect(replayed[0]!.stdout).toBe(first.jobText);
    expect(await digest()).toBe(before);
    const { deviceSettle, receiptText } = await settle(first.n, msat);
    const afterSettle = await digest();
    const replay = await tee([gateway(hostA, 'gateway', 'complete', ...chain)], deviceSettle);
    expect(replay[0]!.status, replay[0]!.stderr).toBe(0);
    expect(replay[0]!.stdout).toBe(receiptText);
    expect(await digest()).toBe(afterSettle);
  }, 60_000);

  it('a toll the gateway fails: gateway fail | device fail | gateway complete | device receipt gives the amount back', async () => {
    const msat = 3_000_000n;
    const { n } = await pay(msat);
    const runs = await tee([gateway(hostA, 'gateway', 'fail', '--payment-hash', paymentHash(n)), device('device', 'fail'), gateway(hostA, 'gateway', 'complete', ...chain), device('device', 'receipt')]);
    const [gf, , receipt, balance] = ok(runs, 'credit/balance');
    expect([balance!.state, balance!.cumulative_sat]).toEqual([state + 2, settled]);
    book(gf!.next_nonce.pubnonce, receipt!.txid);
    nonce = receipt!.next_nonce.pubnonce;
    state += 2;
    expect(await verifyLatest(state, settled)).toBe(receipt!.txid);
  }, 60_000);

  it('two gateway steps on one nonce from two processes at once: exactly one signs', async () => {
    // Two devices holding the same state and nonce (a copy of the device's directory) sign
    // two different payment states against it; both reach the gateway at the same moment.
    const twin = `${userDir}-twin`;
    cpSync(userDir, twin, { recursive: true });
    const msat = 1_500_000n;
    const nA = toll++;
    const nB = toll++;
    const payA = ok(await tee([devicePay(nA, msat)]))[0]!;
    const mainDir = userDir;
    userDir = twin;
    const payB = ok(await tee([devicePay(nB, msat)]))[0]!;
    userDir = mainDir;
    expect(payA.state).toBe(payB.state);
    expect(payA.txid).not.toBe(payB.txid);
    const before = await digest();
    const [runA, runB] = await Promise.all([tee([gatewayPay()], JSON.stringify(payA)), tee([gatewayPay()], JSON.stringify(payB))]);
    const runs = [runA![0]!, runB![0]!];
    const winners = runs.filter((r) => r.status === 0);
    expect(winners.length, runs.map((r) => r.stderr).join('\n')).toBe(1);
    const loser = runs.find((r) => r.status !== 0)!;
    expect(['E_HTLC_IN_FLIGHT', 'E_NONCE_USED', 'E_STALE_STATE', 'E_STORE_BUSY']).toContain(refusal(loser).code);
    expect(loser.stdout).toBe('');
    raceLoser = refusal(loser).code!;
    const job = JSON.parse(winners[0]!.stdout) as Msg;
    const won = runA![0]!.status === 0 ? { n: nA, pay: payA } : { n: nB, pay: payB };
    if (won.n === nB) userDir = twin; // the device whose payment the gateway took goes on
    expect(job.state_txid).toBe(won.pay.txid);
    book(nonce, job.state_txid);
    expect(await digest()).not.toBe(before);
    expect(await verifyLatest(state + 1, settled, htlcSat(msat))).toBe(won.pay.txid);
    // The loser's state was never signed: its txid is under no nonce.
    const lost = won.n === nA ? payB.txid : payA.txid;
    for (const txids of signedUnder.values()) expect(txids.has(lost)).toBe(false);

    // The same device/settle to two gateway complete processes at once: one signs, the other
    // answers the stored receipt — the same bytes.
    const gs = ok(await tee([gateway(hostA, 'gateway', 'settle', '--preimage-file', preimageFile(won.n)), device('device', 'settle')]));
    const deviceSettle = JSON.stringify(gs[1]);
    const both = await Promise.all([tee([gateway(hostA, 'gateway', 'complete', ...chain)], deviceSettle), tee([gateway(hostA, 'gateway', 'complete', ...chain)], deviceSettle)]);
    both.forEach(([r]) => expect(r!.status, r!.stderr).toBe(0));
    expect(both[0]![0]!.stdout).toBe(both[1]![0]!.stdout);
    const receiptText = both[0]![0]!.stdout;
    const receipt = JSON.parse(receiptText) as Msg;
    const balance = ok(await tee([device('device', 'receipt')], receiptText), 'credit/balance')[0]!;
    const A = htlcSat(msat);
    expect([balance.state, balance.cumulative_sat]).toEqual([state + 2, settled + A]);
    book(gs[0]!.next_nonce.pubnonce, receipt.txid);
    nonce = receipt.next_nonce.pubnonce;
    state += 2;
    settled += A;
    expect(await verifyLatest(state, settled)).toBe(receipt.txid);
  }, 60_000);

  it('a gateway step on another host (another --state-dir) on a nonce host A issued is refused, nothing written; recovered as docs/postgres.md says', async () => {
    const msat = 2_000_000n;
    const { n } = await pay(msat);
    // Host A issues the nonce of the settled state; the device signs against it.
    const gs = ok(await tee([gateway(hostA, 'gateway', 'settle', '--preimage-file', preimageFile(n)), device('device', 'settle')]));
    const deviceSettle = JSON.stringify(gs[1]);
    let before = await digest();
    const onB = (await tee([gateway(hostB, 'gateway', 'complete', ...chain)], deviceSettle))[0]!;
    expect(refusal(onB), onB.stderr).toEqual({ status: 5, code: 'E_NONCE_ELSEWHERE', stdout: '' });
    expect(await digest()).toBe(before);
    // Host A still there: the step goes to the host that issued the nonce.
    const runs = await tee([gateway(hostA, 'gateway', 'complete', ...chain), device('device', 'receipt')], deviceSettle);
    const [receipt, balance] = ok(runs, 'credit/balance');
    const A = htlcSat(msat);
    expect([balance!.state, balance!.cumulative_sat]).toEqual([state + 2, settled + A]);
    book(gs[0]!.next_nonce.pubnonce, receipt!.txid);
    nonce = receipt!.next_nonce.pubnonce;
    state += 2;
    settled += A;
    expect(await verifyLatest(state, settled)).toBe(receipt!.txid);

    // Host A lost (its --state-dir gone): the device's next payment, signed against host A's
    // nonce, is refused on host B; the device abandons it through host B, which burns that
    // nonce and issues its own, and pays again there.
    rmSync(hostA, { recursive: true, force: true });
    home = hostB;
    const n2 = toll++;
    const refused = await tee([devicePay(n2, 1_000_000n), gatewayPay(hostB)]);
    expect(refused[0]!.status, refused[0]!.stderr).toBe(0);
    before = await digest();
    const again = (await tee([gatewayPay(hostB)], refused[0]!.stdout))[0]!;
    expect(refusal(again), again.stderr).toEqual({ status: 5, code: 'E_NONCE_ELSEWHERE', stdout: '' });
    expect(refusal(refused[1]!)).toEqual(refusal(again));
    expect(await digest()).toBe(before);
    const ab = ok(await tee([device('credit', 'abandon', '--role', 'user', '--start'), gateway(hostB, 'credit', 'abandon', '--role', 'mint'), device('credit', 'abandon', '--role', 'user')]), 'credit/balance');
    expect(ab[1]!.type).toBe('credit/abandoned');
    expect([ab[2]!.state, ab[2]!.cumulative_sat]).toEqual([state, settled]);
    expect(ab[1]!.next_nonce.pubnonce).not.toBe(nonce);
    nonce = ab[1]!.next_nonce.pubnonce;
    const paid = await pay(1_250_000n);
    await settle(paid.n, 1_250_000n);
  }, 120_000);

  it('backup, a toll, restore: the revived nonce signs nothing; the device that kept the backup\'s state abandons and pays on; the device ahead is refused', async () => {
    // ——— the backup (and the device's own copy of its state then) ———
    const atBackup = { state, settled, nonce, dir: `${userDir}-at-backup` };
    await fx.server.pause();
    const backup = join(fx.root, 'pg-backup');
    execFileSync('cp', ['-a', fx.server.dataDir, backup]);
    cpSync(userDir, atBackup.dir, { recursive: true });
    await fx.server.resume();

    // ——— a toll after the backup: state + 1 signed against the backup's nonce ———
    const msat = 1_800_000n;
    const lost = await pay(msat);
    await settle(lost.n, msat);
    const ahead = { dir: userDir, state };

    // ——— the restore ———
    await fx.server.pause();
    rmSync(fx.server.dataDir, { recursive: true, force: true });
    execFileSync('cp', ['-a', backup, fx.server.dataDir]);
    await fx.server.resume();
    expect((await record()).latest.state).toBe(atBackup.state);

    // The device with the backup's state signs ANOTHER state + 1 against the revived nonce.
    userDir = atBackup.dir;
    [state, settled, nonce] = [atBackup.state, atBackup.settled, atBackup.nonce];
    const n = toll++;
    const attack = ok(await tee([devicePay(n, 1_100_000n)]))[0]!;
    expect(attack.state).toBe(state + 1);
    expect(attack.txid).not.toBe(lost.job.state_txid);
    // The first step after the restore finds the database behind the host's witness: it
    // retires the host's key (says so, draws a fresh epoch) and refuses the revived nonce,
    // sealed under the retired key; the same request again is refused the same way, quietly.
    const keyBefore = hostKey(home);
    const codes: string[] = [];
    for (let i = 0; i < 2; i++) {
      const before = await digest();
      const r = (await tee([gatewayPay()], JSON.stringify(attack)))[0]!;
      expect(refusal(r), r.stderr).toEqual({ status: 5, code: 'E_NONCE_ELSEWHERE', stdout: '' });
      if (i === 0) expect(r.stderr).toMatch(/went back in time/);
      else expect(r.stderr).not.toMatch(/went back in time/);
      codes.push(refusal(r).code!);
      expect(await digest(), 'a refusal writes nothing').toBe(before);
    }
    expect(hostKey(home).epoch, 'the host key was retired').not.toBe(keyBefore.epoch);
    expect((await record()).latest.state, 'nothing signed after the restore').toBe(atBackup.state);
    for (const txids of signedUnder.values()) expect(txids.has(attack.txid)).toBe(false);

    // Recovery: credit abandon (docs/device-gateway.md) — the gateway burns the stale nonce and issues a fresh one.
    const ab = ok(await tee([device('credit', 'abandon', '--role', 'user', '--start'), gateway(home, 'credit', 'abandon', '--role', 'mint'), device('credit', 'abandon', '--role', 'user')]), 'credit/balance');
    expect(ab[1]!.type).toBe('credit/abandoned');
    expect([ab[2]!.state, ab[2]!.cumulative_sat]).toEqual([state, settled]);
    nonce = ab[1]!.next_nonce.pubnonce;
    expect(nonce).not.toBe(atBackup.nonce);
    expect(await withStore((s) => s.status(hex.decode(atBackup.nonce))), 'the revived nonce burned').toBe('consumed');
    const again = await pay(1_100_000n);
    await settle(again.n, 1_100_000n);

    // The device that paid after the backup is ahead of the restored gateway: refused, nothing
    // written. Its next state pays the gateway what it settled after the backup (the 1.8M msat
    // toll), the gateway's record what it settled since the restore (the 1.1M one): E_BAD_PAYOUT.
    const mainDir = userDir;
    userDir = ahead.dir;
    const aheadPay = ok(await tee([devicePay(toll++, 1_000_000n)]))[0]!;
    expect(aheadPay.state).toBe(ahead.state + 1);
    const before = await digest();
    const r = (await tee([gatewayPay()], JSON.stringify(aheadPay)))[0]!;
    expect(refusal(r), r.stderr).toEqual({ status: 4, code: 'E_BAD_PAYOUT', stdout: '' });
    expect(await digest()).toBe(before);
    userDir = mainDir;
    console.log(`pg gateway restore: the revived nonce refused ${codes.join(', ')}; the device ahead refused ${refusal(r).code}`);
  }, 120_000);

  it('the channel closes cooperatively through the gateway\'s host; the close verified independently; one state per nonce', async () => {
    const runs = await tee([device('close-credit', '--role', 'user', '--start'), gateway(home, 'close-credit', '--role', 'mint'), device('close-credit', '--role', 'user')]);
    const [, , closed] = ok(runs, 'credit/closed');
    expect(closed!.cumulative_sat).toBe(settled);
    const tx = verifyKeyPathSpend(closed!.hex, [{ amount: CAPACITY, script: CONTRACT.script }], CONTRACT.outputKey);
    expect(Number(tx.outputs.find((o) => hex.encode(o.script) === scriptOf(PAYOUT))!.amount)).toBe(settled);
    book(nonce, closed!.txid);
    for (const [under, txids] of signedUnder) expect(txids.size, `states signed against nonce ${under.slice(0, 16)}…: ${[...txids].join(', ')}`).toBe(1);
    console.log(`pg gateway: ${toll} invoices, ${signedUnder.size} gateway nonces each signed one state; the race's loser refused ${raceLoser}; settled ${settled} sat`);
  }, 60_000);
  it('a host lost between gateway settle and gateway complete: the device signs the same state again against the next host\'s nonce, and that host completes it', async () => {
    // A second channel (its own funding outpoint, a new device directory) served by host C.
    const hostC = join(fx.root, 'gateway-host-c');
    const hostD = join(fx.root, 'gateway-host-d');
    userDir = join(fx.root, 'device-2');
    const opened = ok(await tee([
      device('open-credit', '--role', 'user', '--offer', join(fx.root, 'offer.json'), '--tip-height', TIP, '--expiry', '+4320', '--refund-address', REFUND),
      gateway(hostC, 'open-credit', '--role', 'mint', '--tip-height', TIP),
      device('open-credit', '--role', 'user'),
    ], fundingPsbt(CONTRACT.script, 'pg gateway, second channel')), 'credit/opened');
    contractId = opened[2]!.contract_id;
    // The first channel is still closing on the gateway's side: its steps name the contract.
    const gw = (host: string, ...args: string[]) => gateway(host, ...args, '--contract', contractId);
    const n = toll++;
    const [, job] = ok(await tee([devicePay(n, 1_000_000n), gw(hostC, 'gateway', 'pay', ...terms, '--now', String(NOW), ...chain)]), 'gateway/job');
    book(opened[1]!.next_nonce.pubnonce, job!.state_txid);
    const first = await tee([gw(hostC, 'gateway', 'settle', '--preimage-file', preimageFile(n)), device('device', 'settle')]);
    const [settleC, signedC] = ok(first, 'device/settle');
    rmSync(hostC, { recursive: true, force: true });
    // The same notice again with host C's nonce: the device/settle resent byte for byte.
    expect((await tee([device('device', 'settle')], first[0]!.stdout))[0]!.stdout).toBe(first[1]!.stdout);
    // Host C's nonce is dead with its key: host D cannot complete the settle signed against it.
    const before = await digest();
    const c = (await tee([gateway(hostD, 'gateway', 'complete', ...chain)], first[1]!.stdout))[0]!;
    expect(refusal(c), c.stderr).toEqual({ status: 5, code: 'E_NONCE_ELSEWHERE', stdout: '' });
    expect(await digest()).toBe(before);
    // Host D presents the preimage again with its own nonce: the device signs the SAME state
    // (same number, same amount, same transaction) again, against host D's nonce.
    const again = await tee([gw(hostD, 'gateway', 'settle', '--preimage-file', preimageFile(n)), device('device', 'settle')]);
    const [settleD, signedD] = ok(again, 'device/settle');
    expect(settleD!.next_nonce.pubnonce).not.toBe(settleC!.next_nonce.pubnonce);
    expect([signedD!.state, signedD!.settled_sat, signedD!.txid]).toEqual([signedC!.state, signedC!.settled_sat, signedC!.txid]);
    expect(signedD!.psbt).not.toBe(signedC!.psbt);
    // Host D completes it; the device takes the receipt and is idle again.
    const [receipt, balance] = ok(await tee([gateway(hostD, 'gateway', 'complete', ...chain), device('device', 'receipt')], again[1]!.stdout), 'credit/balance');
    expect(receipt!.txid).toBe(signedC!.txid);
    book(settleD!.next_nonce.pubnonce, receipt!.txid);
    const A = htlcSat(1_000_000n);
    expect([balance!.state, balance!.cumulative_sat]).toEqual([signedC!.state, A]);
    const r = await record();
    expect(r.latest.txid).toBe(receipt!.txid);
    const funding = psbtUnsignedTx(base64.decode(fundingPsbt(CONTRACT.script, 'pg gateway, second channel')));
    const tx = verifyKeyPathSpend(r.latest.hex, [{ amount: CAPACITY, script: CONTRACT.script, txid: funding.txid, vout: 0 }], CONTRACT.outputKey);
    expect(tx.outputs.map((o) => Number(o.amount))[0]).toBe(A);
    // And the channel carries on at host D.
    const m = toll++;
    inFlight = m;
    const [, job2] = ok(await tee([devicePay(m, 2_000_000n), gw(hostD, 'gateway', 'pay', ...terms, '--now', String(NOW), ...chain)]), 'gateway/job');
    book(receipt!.next_nonce.pubnonce, job2!.state_txid);
    expect(job2!.state).toBe(signedC!.state + 1);
    for (const [under, txids] of signedUnder) expect(txids.size, `states signed against nonce ${under.slice(0, 16)}…`).toBe(1);
  }, 60_000);

  // The steps that take, issue and burn no nonce open no host epoch (issue 38, as exit-credit):
  // a host's nonce key and witness written for them would be files where none was asked for,
  // and an epoch opened for nothing can retire the host's key or fail E_STORE_ROLLED_BACK.
  it('gateway pay\'s mark before its node pays (DeviceCommand.gatewayMarkAttempted, in process) from a --state-dir that never opened the host epoch: the job marked, nothing written under it', async () => {
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

  it('gateway claim without --state-dir (HOME a fresh directory): the exit with the HTLC claimed, the contract frozen, nothing written under the home directory', async () => {
    const homeDir = join(fx.root, 'gateway-claim-home');
    mkdirSync(homeDir);
    const [claim] = await tee([{
      args: ['gateway', 'claim', '--fee-rate', '2', '--preimage-file', preimageFile(inFlight), '--contract', contractId, '--key-env', 'MINT_KEY', '--store', url],
      env: { MINT_KEY, OFFCHAIN_STORE_PASSWORD: fx.server.password, HOME: homeDir },
    }]);
    const [exit] = ok([claim!], 'credit/exit');
    expect(exit).toMatchObject({ contract_id: contractId, htlc_claim: { amount_sat: htlcSat(2_000_000n) } });
    expect((await record()).exiting).toMatchObject({ txid: exit!.state_tx.txid });
    expect(readdirSync(homeDir, { recursive: true })).toEqual([]);
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
