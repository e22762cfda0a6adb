/**
 * Adversarial review of the device and gateway commands (issue 27) through the built
 * CLI, as documented (docs/device-gateway.md runbook): each party its own process and
 * --state-dir, messages piped. Each test is one finding, written to fail on the code as
 * reviewed and pass once fixed; every refusal leaves both state directories
 * byte-identical.
 */
import { afterAll, describe, it, expect } from 'vitest';
import { chmodSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hex } from '@scure/base';
import { ROOT, fileSnapshot, tempDir } from '../helpers.ts';
import { demoParties, ok, openDemoChannel } from './fixtures.ts';
import { pipeline, type Run, type Stage } from './cli.ts';
import { pipelineInProcess } from './in-process.ts';
import { NOW, invoice, preimage, withoutDeviceSignature } from '../lib/device/world.ts';

const TIP = '1000';

function refused(r: Run, exitCode: number, code: string): void {
  expect(r.stderr).toMatch(new RegExp(`error ${code}: `));
  expect(r.status, r.stderr).toBe(exitCode);
  expect(r.stdout).toBe('');
}

/** Template state roots, each made once per file; every test works on its own copy. */
const templates: { path: string; cleanup: () => void }[] = [];
afterAll(() => templates.forEach((t) => t.cleanup()));
let opened: string | undefined;
let tolled: string | undefined;

/** The demo channel as fixtures/credit/open-demo.sh leaves it (tip 1000, 1 000 000 sat; deterministic: OFFCHAIN_TEST_SEED=demo). */
function openedTemplate(): string {
  if (!opened) {
    const t = tempDir('offchain-device-review-opened-');
    templates.push(t);
    openDemoChannel(t.path);
    opened = t.path;
  }
  return opened;
}

/**
 * The same channel after one toll of 20,000,000 msat paid and settled (state 2): the runbook's two
 * pipelines run by the same built bundle in this process (in-process.ts), as this is what the
 * findings start from (test/e2e/device-toll.test.ts pays and settles tolls through processes).
 */
async function tolledTemplate(): Promise<string> {
  if (!tolled) {
    const d = demo();
    templates.push(d.root);
    const balance = await d.toll(0, 20_000_000n, pipelineInProcess);
    expect(balance.state).toBe(2);
    tolled = d.root.path;
  }
  return tolled;
}

/** A copy of a demo channel (a fresh one unless `from` is given) and each party's commands. */
function demo(from: string = openedTemplate()) {
  const root = tempDir('offchain-device-review-');
  cpSync(from, root.path, { recursive: true });
  const mintDir = join(root.path, 'mint');
  const userDir = join(root.path, 'user');
  const { device, gateway } = demoParties(() => root.path);
  const chain = ['--tip-height', TIP, '--confirmations', '1'];
  const terms = ['--terms', join(ROOT, 'fixtures/policies/gateway-terms.json')];
  const file = (name: string, text: string, mode = 0o644) => {
    const p = join(root.path, name);
    writeFileSync(p, text + '\n', { mode });
    chmodSync(p, mode);
    return p;
  };
  const devicePay = (n: number, msat: bigint) =>
    device('device', 'pay', '--invoice', file(`toll-${n}.bolt11`, invoice(n, msat)), '--policy', join(ROOT, 'fixtures/policies/device.json'), ...terms, '--now', String(NOW), '--tip-height', TIP);
  const gatewayPay = gateway('gateway', 'pay', ...terms, '--now', String(NOW), ...chain);
  /** One toll paid and settled through the runbook's two pipelines (processes, unless `through` says otherwise). */
  const toll = async (n: number, msat: bigint, through: typeof pipeline = pipeline) => {
    ok(await through([devicePay(n, msat), gatewayPay], ''), 'gateway/job');
    const pre = file(`preimage-${n}`, hex.encode(preimage(n)), 0o600);
    return ok(await through([gateway('gateway', 'settle', '--preimage-file', pre), device('device', 'settle'), gateway('gateway', 'complete', ...chain), device('device', 'receipt')], ''), 'credit/balance');
  };
  return { root, mintDir, userDir, device, gateway, chain, devicePay, gatewayPay, toll, both: () => ({ mint: fileSnapshot(mintDir, { locks: true }), user: fileSnapshot(userDir, { locks: true }) }) };
}

describe('review: the gateway after its own exit, the device after the close', () => {
  it('once the mint ran exit-credit (the contract frozen, its latest state to be mined), gateway pay co-signs no new payment state', async () => {
    const d = demo(await tolledTemplate()); // one toll paid and settled: state 2
    try {
      // The gateway exits with its latest state (settled, no HTLC): the contract is frozen.
      const exit = ok(await pipeline([d.gateway('exit-credit', '--fee-rate', '2')], ''), 'credit/exit');
      expect(exit.state).toBe(2);
      // The device pays another toll. Were the gateway to co-sign state 3 and pay the invoice
      // on Lightning, it would have paid out the HTLC's amount for a state that can never
      // be mined: its own exit (state 2) spends the funding output.
      const paid = (await pipeline([d.devicePay(1, 2_000_000n)], ''))[0]!;
      expect(paid.status, paid.stderr).toBe(0);
      const before = d.both();
      refused((await pipeline([d.gatewayPay], paid.stdout))[0]!, 4, 'E_CONTRACT_FROZEN');
      expect(d.both()).toEqual(before);
      // A stranger's copy, the device's signature taken off or spoiled, hears nothing of the freeze
      // or the state the mint exits with (issue 72): only that the request is not the device's.
      for (const [how, code] of [['unsigned', 'E_MISSING_PARTIAL_SIGS'], ['flipped', 'E_BAD_PARTIAL_SIG']] as const) {
        const m = JSON.parse(paid.stdout) as { psbt: string };
        const r = (await pipeline([d.gatewayPay], JSON.stringify({ ...m, psbt: withoutDeviceSignature(m.psbt, how) })))[0]!;
        refused(r, 4, code);
        expect(r.stderr).not.toMatch(/frozen|exit|state \d/);
      }
      expect(d.both()).toEqual(before);
    } finally {
      d.root.cleanup();
    }
  }, 120_000);

  it('once the channel closed cooperatively, device pay signs no new state', async () => {
    const d = demo(await tolledTemplate()); // one toll paid and settled (before: 2,500,000 msat, an arbitrary amount)
    try {
      ok(await pipeline([d.device('close-credit', '--role', 'user', '--start'), d.gateway('close-credit', '--role', 'mint'), d.device('close-credit', '--role', 'user')], ''), 'credit/closed');
      const before = d.both();
      const id = (JSON.parse(readFileSync(join(d.root.path, 'opened.json'), 'utf8')) as { contract_id: string }).contract_id;
      refused((await pipeline([{ ...d.devicePay(1, 2_000_000n), args: [...d.devicePay(1, 2_000_000n).args, '--contract', id] }], ''))[0]!, 4, 'E_CONTRACT_FROZEN');
      expect(d.both()).toEqual(before);
    } finally {
      d.root.cleanup();
    }
  }, 120_000);

  it('a device/pay the gateway refused for good (its invoice expired by the gateway\'s clock) is abandoned through credit abandon, and the channel pays again', async () => {
    const d = demo();
    try {
      const file = join(d.root.path, 'late.bolt11');
      writeFileSync(file, invoice(0, 2_000_000n, { expiry: 60 }) + '\n');
      const pay = { ...d.devicePay(0, 2_000_000n) };
      pay.args = pay.args.map((a) => (a.endsWith('toll-0.bolt11') ? file : a));
      const paid = (await pipeline([pay], ''))[0]!;
      expect(paid.status, paid.stderr).toBe(0);
      const later = d.gateway('gateway', 'pay', '--terms', join(ROOT, 'fixtures/policies/gateway-terms.json'), '--now', String(NOW + 3600), ...d.chain);
      refused((await pipeline([later], paid.stdout))[0]!, 4, 'E_INVOICE_EXPIRED');
      // Stuck until the fix: every other payment and the close refused E_HTLC_IN_FLIGHT.
      refused((await pipeline([d.devicePay(1, 2_000_000n)], ''))[0]!, 4, 'E_HTLC_IN_FLIGHT');
      const balance = ok(await pipeline([d.device('credit', 'abandon', '--role', 'user', '--start'), d.gateway('credit', 'abandon', '--role', 'mint'), d.device('credit', 'abandon', '--role', 'user')], ''), 'credit/balance');
      expect([balance.state, balance.cumulative_sat]).toEqual([0, 0]);
      // The channel pays again, and a payment the gateway co-signed cannot be abandoned.
      ok(await pipeline([d.devicePay(1, 2_000_000n), d.gatewayPay], ''), 'gateway/job');
      const start = (await pipeline([d.device('credit', 'abandon', '--role', 'user', '--start')], ''))[0]!;
      expect(start.status, start.stderr).toBe(0);
      const before = d.both();
      refused((await pipeline([d.gateway('credit', 'abandon', '--role', 'mint')], start.stdout))[0]!, 4, 'E_HTLC_IN_FLIGHT');
      expect(d.both()).toEqual(before);
    } finally {
      d.root.cleanup();
    }
  }, 120_000);
});
