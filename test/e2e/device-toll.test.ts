/**
 * The IoT toll scenario (docs/device-gateway.md) through the built CLI: the device and
 * the gateway are separate `offchain` processes with their own --state-dir, every step
 * piped from one party's stdout into the other's stdin (test/e2e/cli.ts `pipeline()`).
 *
 *   channel opened as a credit contract (fixtures/credit/open-demo.sh: tip 1000, 1 000 000 sat)
 *   → three tolls: device pay | gateway pay (the job), gateway settle --preimage-file
 *     | device settle | gateway complete | device receipt
 *   → one toll the gateway fails: gateway fail | device fail | gateway complete | device receipt
 *   → cooperative close with close-credit.
 *
 * Every state the gateway stores (read from the mint's store after each step) and the
 * close are checked by the independent verifier (test/independent/: its own parser,
 * BIP-341 sighash and a BIP-340 implementation the CLI does not use) against the
 * contract's output key derived in test code from the fixture keys; the amounts are the
 * test's own arithmetic of the terms (fixtures/policies/gateway-terms.json). Refusals run through
 * the CLI with both state directories byte-identical before and after. The pay → settle
 * exchange's wall time through the CLI's processes is measured and printed.
 *
 * Of the refusals, one per command and exit code runs spawned (device pay 4 and 2, gateway
 * settle 4, exit-credit 4); the others, and the honest steps that set them up, run the
 * same built bundle's `main` in this process (in-process-pipeline.ts; ~10 ms a step
 * instead of a ~0.15 CPU-s node process), with both state directories checked the same way.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmodSync, cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { Address, OutScript } from '@scure/btc-signer';
import { hex } from '@scure/base';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { signedAs } from '../independent/answer.ts';
import { ROOT, fileSnapshot, tempDir } from '../helpers.ts';
import { MINT_KEY, USER_KEY, demoParties, fixture, ok, openDemoChannel, tollPayStages } from './fixtures.ts';
import { pipeline, type Run, type Stage } from './cli.ts';
import { pipelineInProcess } from './in-process.ts';
import { mintRecord, networkDir } from '../state.ts';
import { type Bolt11Field, bolt11SigningHash, encodeBolt11 } from '../../src/lib/invoice/bolt11.ts';

const CONTRACT = musigTaprootOutput([publicKeyOf(hex.decode(USER_KEY)), publicKeyOf(hex.decode(MINT_KEY))]);
const REGTEST = { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
const scriptOf = (address: string) => hex.encode(OutScript.encode(Address(REGTEST).decode(address)));
const PAYOUT = 'bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte';
const CAPACITY = 1_000_000n;
const NOW = 1_800_000_000;
const TIP = '1000';

// The payee's Lightning node (the key fixtures/policies/device.json allows) signs the invoices.
const PAYEE_KEY = Uint8Array.from(Buffer.alloc(32, 0x42));
const OTHER_KEY = Uint8Array.from(Buffer.alloc(32, 0x43));
const preimage = (n: number) => Uint8Array.from(Buffer.alloc(32, n + 1));
const paymentHash = (n: number) => hex.encode(sha256(preimage(n)));

function invoice(n: number, msat: bigint, key = PAYEE_KEY): string {
  const hrp = `lnbcrt${msat * 10n}p`;
  const fields: Bolt11Field[] = [
    { tag: 1, name: 'payment_hash', bytes: sha256(preimage(n)) },
    { tag: 16, name: 'payment_secret', bytes: Uint8Array.from(Buffer.alloc(32, 0x11)) },
    { tag: 13, name: 'description', text: `toll ${n}` },
  ];
  const timestamp = NOW - 10;
  const sig = secp256k1.Signature.fromBytes(secp256k1.sign(bolt11SigningHash(hrp, timestamp, fields), key, { prehash: false, format: 'recovered' }), 'recovered');
  const rs = Uint8Array.from(Buffer.from(sig.r.toString(16).padStart(64, '0') + sig.s.toString(16).padStart(64, '0'), 'hex'));
  return encodeBolt11({ hrp, timestamp, fields, signature: rs, recoveryId: sig.recovery! });
}

/** The HTLC amount by the terms (1000 msat + 2000 ppm, rounded up), the test's own arithmetic. */
const htlcSat = (msat: bigint) => Number((msat + 1000n + (msat * 2000n + 999_999n) / 1_000_000n + 999n) / 1000n);

type Msg = Record<string, any>;
type GatewayRecord = { contract: { change_address: string; fee_rate: number }; latest?: { state: number; cumulative_sat: number; txid: string; hex: string }; next_state: number; gateway?: { settled_sat: number; in_flight?: unknown } };

function refused(results: Run[], exitCode: number, code: string): void {
  const r = results.at(-1)!;
  expect(r.stderr).toMatch(new RegExp(`error ${code}: `));
  expect(r.status, r.stderr).toBe(exitCode);
  expect(r.stdout).toBe('');
}

describe('device toll through the CLI (pipes, separate state dirs)', () => {
  let root: { path: string; cleanup: () => void };
  let mintDir: string;
  let userDir: string;
  let contractId: string;
  let changeScript: string;
  let feeRate: number;
  const { device, gateway } = demoParties(() => root.path);
  const chain = ['--tip-height', TIP, '--confirmations', '1'];
  const terms = ['--terms', join(ROOT, 'fixtures/policies/gateway-terms.json')];
  const policy = ['--policy', join(ROOT, 'fixtures/policies/device.json')];
  const invoiceFile = (name: string, text: string) => {
    const p = join(root.path, name);
    writeFileSync(p, text + '\n');
    return p;
  };
  const preimageFile = (n: number, bytes = preimage(n)) => {
    const p = join(root.path, `preimage-${n}-${hex.encode(bytes).slice(0, 8)}`);
    writeFileSync(p, hex.encode(bytes) + '\n', { mode: 0o600 });
    chmodSync(p, 0o600);
    return p;
  };
  const payStages = (file: string) => [device('device', 'pay', '--invoice', file, ...policy, ...terms, '--now', String(NOW), '--tip-height', TIP), gateway('gateway', 'pay', ...terms, '--now', String(NOW), ...chain)];
  const both = () => ({ mint: fileSnapshot(mintDir, { locks: true }), user: fileSnapshot(userDir, { locks: true }) });

  /** The gateway's record, read through the mint's own store on its state.sqlite; the mint's key opens its sealed states, as the gateway's commands do. */
  async function record(): Promise<GatewayRecord> {
    const r = await mintRecord<GatewayRecord & { contract_id: string }>(networkDir(mintDir), contractId, hex.decode(MINT_KEY));
    return r!;
  }

  /** The gateway's latest stored state, verified independently, with the outputs the test expects. */
  async function verifyLatest(state: number, settled: number, htlc?: number) {
    const r = await record();
    changeScript = scriptOf(r.contract.change_address);
    feeRate = r.contract.fee_rate;
    expect(r.latest!.state).toBe(state);
    const tx = verifyKeyPathSpend(r.latest!.hex, [{ amount: CAPACITY, script: CONTRACT.script }], CONTRACT.outputKey);
    expect(tx.version).toBe(3);
    expect(tx.lockTime).toBe(0);
    const outs = tx.outputs.map((o) => ({ script: hex.encode(o.script), amount: Number(o.amount) }));
    const want: { script?: string; amount: number }[] = [];
    if (settled > 0) want.push({ script: scriptOf(PAYOUT), amount: settled });
    if (htlc) want.push({ amount: htlc });
    expect(outs.length).toBe(want.length + 1);
    want.forEach((w, i) => {
      expect(outs[i]!.amount, `output ${i}`).toBe(w.amount);
      if (w.script) expect(outs[i]!.script).toBe(w.script);
      else expect(outs[i]!.script).toMatch(/^5120[0-9a-f]{64}$/); // the HTLC: a taproot output
    });
    const change = outs.at(-1)!;
    expect(change.script).toBe(changeScript);
    const fee = Number(CAPACITY) - outs.reduce((a, o) => a + o.amount, 0);
    expect(fee).toBeGreaterThanOrEqual(Math.ceil(feeRate * tx.vsize));
    return tx;
  }

  beforeAll(() => {
    root = tempDir('offchain-device-');
    mintDir = join(root.path, 'mint');
    userDir = join(root.path, 'user');
    openDemoChannel(root.path);
    // The freshly opened channel, kept for the last test (which needs one with nothing on it).
    cpSync(root.path, join(root.path, '..', `${basename(root.path)}-fresh`), { recursive: true });
    const opened = JSON.parse(readFileSync(join(root.path, 'opened.json'), 'utf8')) as Msg;
    contractId = opened.contract_id;
  });
  afterAll(() => {
    root?.cleanup();
    if (root) rmSync(join(root.path, '..', `${basename(root.path)}-fresh`), { recursive: true, force: true });
  });

  const timings: number[] = [];
  const payMs: number[] = [];
  const settleMs: number[] = [];
  let settled = 0;
  let state = 0;

  it('three tolls paid and settled, each state verified independently; the pay → settle exchange timed', async () => {
    const amounts = [2_500_000n, 1_200_000n, 7_654_321n];
    for (let n = 0; n < 3; n++) {
      const started = performance.now();
      const payRun = await pipeline(payStages(invoiceFile(`toll-${n}.bolt11`, invoice(n, amounts[n]!))), '');
      const paidAt = performance.now();
      const job = ok(payRun, 'gateway/job');
      expect(job.payment_hash).toBe(paymentHash(n));
      expect(job.amount_msat).toBe(amounts[n]!.toString());
      expect(job.htlc_expiry_height).toBe(1000 + 144);
      const A = htlcSat(amounts[n]!);
      expect(BigInt(job.amount_msat) + BigInt(job.max_fee_msat)).toBe(BigInt(A) * 1000n);
      const file = preimageFile(n);
      const settleStarted = performance.now();
      const results = await pipeline([gateway('gateway', 'settle', '--preimage-file', file), device('device', 'settle'), gateway('gateway', 'complete', ...chain), device('device', 'receipt')], '');
      const done = performance.now();
      timings.push(done - started);
      payMs.push(paidAt - started);
      settleMs.push(done - settleStarted);
      const balance = ok(results, 'credit/balance');
      expect([balance.state, balance.cumulative_sat]).toEqual([state + 2, settled + A]);
      state += 2;
      settled += A;
      await verifyLatest(state, settled);
    }
    const fmt = (xs: number[]) => `${xs.map((t) => t.toFixed(0)).join(', ')} (median ${[...xs].sort((a, b) => a - b)[1]!.toFixed(0)})`;
    console.log(`device toll, wall ms per toll: pay (device pay | gateway pay) ${fmt(payMs)}; settle (gateway settle | device settle | gateway complete | device receipt) ${fmt(settleMs)}; whole exchange, 6 processes ${fmt(timings)}`);
  }, 120_000);

  it('a toll the gateway fails: the HTLC state is stored (verified), then the fail state gives the amount back', async () => {
    const msat = 3_000_000n;
    const A = htlcSat(msat);
    ok(await pipeline(payStages(invoiceFile('toll-3.bolt11', invoice(3, msat))), ''), 'gateway/job');
    await verifyLatest(state + 1, settled, A); // the state holding the HTLC: settled, HTLC, change
    const results = await pipeline([gateway('gateway', 'fail', '--payment-hash', paymentHash(3)), device('device', 'fail'), gateway('gateway', 'complete', ...chain), device('device', 'receipt')], '');
    const balance = ok(results, 'credit/balance');
    expect([balance.state, balance.cumulative_sat]).toEqual([state + 2, settled]);
    state += 2;
    await verifyLatest(state, settled);

    // Proof of payment a person can read (issue 41): every payment, each paid one with its preimage.
    const sha = (h: string) => createHash('sha256').update(Buffer.from(h, 'hex')).digest('hex');
    const fee = (m: bigint) => htlcSat(m) - Number((m + 999n) / 1000n);
    const paidRows = [2_500_000n, 1_200_000n, 7_654_321n].map((m, n) => ({
      payment_hash: paymentHash(n), outcome: 'paid', amount_sat: htlcSat(m), fee_sat: fee(m), invoice_amount_msat: m.toString(), preimage: hex.encode(preimage(n)), state: 1 + 2 * n,
    }));
    const failedRow = { payment_hash: paymentHash(3), outcome: 'failed', amount_sat: A, fee_sat: fee(msat), invoice_amount_msat: msat.toString(), state: 7 };
    expect(balance.payments).toEqual([...paidRows, failedRow]);
    for (const p of balance.payments.filter((x: Msg) => x.outcome === 'paid')) expect(sha(p.preimage)).toBe(p.payment_hash);
    // The same receipt again, for a person: the facts of the JSON, not its styling.
    const receiptAgain = JSON.stringify(((await record()) as { gateway?: { receipt?: unknown } }).gateway!.receipt);
    const human = (await pipelineInProcess([device('device', 'receipt', '--human')], receiptAgain))[0]!;
    expect(human.status, human.stderr).toBe(0);
    expect(human.stdout).not.toMatch(/^\s*[{[]/);
    expect(human.stdout).toContain(contractId);
    expect(human.stdout).toMatch(/payments: 3 paid, 1 failed, 0 pending/);
    for (const p of paidRows) expect(human.stdout).toMatch(new RegExp(`paid +${p.amount_sat.toLocaleString('en-US')} sat \\(fee ${p.fee_sat} sat\\), state ${p.state}\\n +payment hash +${p.payment_hash}\\n +preimage +${p.preimage}`));
    expect(human.stdout).toMatch(new RegExp(`failed +${A.toLocaleString('en-US')} sat \\(fee ${failedRow.fee_sat} sat\\), state 7\\n +payment hash +${failedRow.payment_hash}\\n(?! +preimage)`));
    // The gateway's view (credit list on its state directory): the last payment it decided, as it keeps it.
    const list = ok(await pipelineInProcess([gateway('credit', 'list', '--tip-height', TIP)], ''), 'credit/contracts');
    expect(list.contracts[0].payments).toEqual([failedRow]);
    const listHuman = (await pipelineInProcess([gateway('credit', 'list', '--tip-height', TIP, '--human')], ''))[0]!;
    expect(listHuman.status, listHuman.stderr).toBe(0);
    const c = list.contracts[0];
    expect(listHuman.stdout).toContain(`1 contract at tip ${TIP} (regtest)`);
    expect(listHuman.stdout).toMatch(new RegExp(`^${contractId}  open\\n`, 'm'));
    expect(listHuman.stdout).toMatch(/capacity +1,000,000 sat\n/);
    expect(listHuman.stdout).toContain(`${c.cumulative_sat.toLocaleString('en-US')} sat at state ${c.state}`);
    expect(listHuman.stdout).toContain(`at block ${c.expiry_height}, in ${c.blocks_to_expiry.toLocaleString('en-US')} blocks`);
    expect(listHuman.stdout.split('\n').map((l) => l.trim().replace(/ {2,}/g, '  '))).toContain(`next  ${c.next}`);
    expect(listHuman.stdout).toMatch(new RegExp(`failed +${A.toLocaleString('en-US')} sat \\(fee ${failedRow.fee_sat} sat\\), state 7\\n +payment hash +${failedRow.payment_hash}`));
  }, 60_000);

  it('refusals through the CLI write nothing (both state directories byte-identical)', async () => {
    // spawned: device pay's exit 4 and exit 2 and gateway settle's exit 4; the rest in this process
    const cases: { name: string; stages: () => Promise<Run[]>; exit: number; code: string }[] = [
      { name: 'over the payment limit', stages: () => pipeline(payStages(invoiceFile('big.bolt11', invoice(10, 20_000_001n))).slice(0, 1), ''), exit: 4, code: 'E_OVER_PAYMENT_LIMIT' },
      { name: 'payee not allowed', stages: () => pipelineInProcess(payStages(invoiceFile('other.bolt11', invoice(11, 1_000_000n, OTHER_KEY))).slice(0, 1), ''), exit: 4, code: 'E_PAYEE_NOT_ALLOWED' },
      { name: 'credit sign-update on a device channel', stages: () => pipelineInProcess([device('sign-update', '--role', 'user', '--amount', '1000')], ''), exit: 4, code: 'E_DEVICE_CHANNEL' },
      {
        name: 'a terms file with a negative fee',
        stages: () => pipeline([device('device', 'pay', '--invoice', invoiceFile('t.bolt11', invoice(12, 1_000_000n)), ...policy, '--terms', invoiceFile('bad-terms.json', '{"fee_base_msat":-1,"fee_ppm":0,"cltv_budget_blocks":72,"claim_margin_blocks":36}'), '--now', String(NOW), '--tip-height', TIP)], ''),
        exit: 2, code: 'E_USAGE',
      },
      {
        name: 'a policy with an unknown field',
        stages: () => pipelineInProcess([device('device', 'pay', '--invoice', invoiceFile('t.bolt11', invoice(12, 1_000_000n)), '--policy', invoiceFile('bad-policy.json', JSON.stringify({ ...JSON.parse(fixture('policies/device.json')), max_fee: 1 })), ...terms, '--now', String(NOW), '--tip-height', TIP)], ''),
        exit: 2, code: 'E_USAGE',
      },
      { name: 'gateway settle with no payment in flight', stages: () => pipeline([gateway('gateway', 'settle', '--preimage-file', preimageFile(0))], ''), exit: 4, code: 'E_NO_PAYMENT_IN_FLIGHT' },
    ];
    for (const c of cases) {
      const before = both();
      refused(await c.stages(), c.exit, c.code);
      expect(both(), c.name).toEqual(before);
    }
    // A payment in flight, then the refusals that need one.
    const paid = (await pipelineInProcess(payStages(invoiceFile('toll-4.bolt11', invoice(4, 1_000_000n))).slice(0, 1), ''))[0]!;
    expect(paid.status, paid.stderr).toBe(0);
    const payMsg = paid.stdout;
    // The gateway refuses a device/pay whose HTLC is under the invoice plus its fee, before anything is written.
    const underpaid = JSON.stringify({ ...JSON.parse(payMsg), htlc: { ...JSON.parse(payMsg).htlc, amount_sat: 1 } });
    const beforeUnderpaid = both();
    refused(await pipelineInProcess([gateway('gateway', 'pay', ...terms, '--now', String(NOW), ...chain)], underpaid), 4, 'E_HTLC_UNDERPAYS');
    expect(both()).toEqual(beforeUnderpaid);
    const job = ok(await pipelineInProcess(payStages('-').slice(1), payMsg), 'gateway/job');
    expect(job.payment_hash).toBe(paymentHash(4));
    const settleMsg = (await pipelineInProcess([gateway('gateway', 'settle', '--preimage-file', preimageFile(4))], ''))[0]!;
    expect(settleMsg.status, settleMsg.stderr).toBe(0);
    // A settle with another preimage: changed on its way (unsigned), or the gateway's own (signed by its key).
    const forged = JSON.stringify({ ...JSON.parse(settleMsg.stdout), preimage: hex.encode(preimage(9)) });
    const lying = JSON.stringify(signedAs(JSON.parse(forged), hex.decode(MINT_KEY), 'gateway_signature'));
    const inflight: { name: string; stages: () => Promise<Run[]>; exit: number; code: string }[] = [
      { name: 'a second payment while one is in flight', stages: () => pipelineInProcess(payStages(invoiceFile('toll-5.bolt11', invoice(5, 1_000_000n))).slice(0, 1), ''), exit: 4, code: 'E_HTLC_IN_FLIGHT' },
      { name: 'the gateway given a wrong preimage', stages: () => pipelineInProcess([gateway('gateway', 'settle', '--preimage-file', preimageFile(4, preimage(8)))], ''), exit: 4, code: 'E_WRONG_PREIMAGE' },
      {
        name: 'a preimage file others may read',
        stages: () => {
          const p = preimageFile(4);
          const open = `${p}-open`;
          writeFileSync(open, readFileSync(p), { mode: 0o644 });
          chmodSync(open, 0o644);
          return pipelineInProcess([gateway('gateway', 'settle', '--preimage-file', open)], '');
        },
        exit: 4, code: 'E_SECRET_FILE_PERMISSIONS',
      },
      { name: 'the device given a settle changed on its way', stages: () => pipelineInProcess([device('device', 'settle')], forged), exit: 4, code: 'E_RECEIPT_FORGED' },
      { name: 'the device given a wrong preimage by the gateway', stages: () => pipelineInProcess([device('device', 'settle')], lying), exit: 4, code: 'E_WRONG_PREIMAGE' },
      { name: 'a close while an HTLC is in flight', stages: () => pipelineInProcess([device('close-credit', '--role', 'user', '--start')], ''), exit: 4, code: 'E_HTLC_IN_FLIGHT' },
    ];
    for (const c of inflight) {
      const before = both();
      refused(await c.stages(), c.exit, c.code);
      expect(both(), c.name).toEqual(before);
    }
    // Finish the payment honestly.
    const A = htlcSat(1_000_000n);
    ok(await pipelineInProcess([device('device', 'settle'), gateway('gateway', 'complete', ...chain), device('device', 'receipt')], settleMsg.stdout), 'credit/balance');
    state += 2;
    settled += A;
    await verifyLatest(state, settled);
  }, 120_000);

  it('the channel closes cooperatively, the close paying the gateway its settled amount (verified independently)', async () => {
    const results = await pipeline(
      [device('close-credit', '--role', 'user', '--start'), gateway('close-credit', '--role', 'mint'), device('close-credit', '--role', 'user')],
      '',
    );
    const closed = ok(results, 'credit/closed');
    expect(closed.cumulative_sat).toBe(settled);
    const tx = verifyKeyPathSpend(closed.hex, [{ amount: CAPACITY, script: CONTRACT.script }], CONTRACT.outputKey);
    const payout = tx.outputs.find((o) => hex.encode(o.script) === scriptOf(PAYOUT));
    expect(Number(payout!.amount)).toBe(settled);
  }, 60_000);

  it('exit-credit on a fresh channel whose only state holds the HTLC (nothing settled) is refused E_NO_PAYOUT, nothing written', async () => {
    const other = tempDir('offchain-device-exit-');
    try {
      cpSync(join(root.path, '..', `${basename(root.path)}-fresh`), other.path, { recursive: true }); // as openDemoChannel left it
      const parties = demoParties(() => other.path);
      ok(await pipelineInProcess(tollPayStages(parties, Number(TIP)), ''), 'gateway/job');
      const before = fileSnapshot(other.path, { locks: true });
      refused(await pipeline([parties.gateway('exit-credit', '--fee-rate', '10', '--dry-run')], ''), 4, 'E_NO_PAYOUT');
      expect(fileSnapshot(other.path, { locks: true })).toEqual(before);
    } finally {
      other.cleanup();
    }
  }, 60_000);
});
