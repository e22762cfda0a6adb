/**
 * Review 2 through the built CLI: a toll failed twice (the same invoice paid again a block
 * later, allowed after a fail) sits in two HTLC states; `device refund-htlc` refuses to
 * guess which one the gateway broadcast (E_WRONG_PAYMENT, nothing written) and refunds
 * the one named by --state-txid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileSnapshot, tempDir } from '../helpers.ts';
import { pipeline } from './cli.ts';
import { demoParties, one, openDemoChannel, tollPayStages } from './fixtures.ts';
import { parseTx } from '../independent/tx.ts';

const HASH = '72cd6e8422c407fb6d098690f1130b7ded7ec2f7f5e1d30bd9d521f015363793'; // fixtures/device/toll.bolt11

describe('review 2: device refund-htlc for a payment hash held by two states', () => {
  let root: { path: string; cleanup: () => void };
  const parties = demoParties(() => root.path);
  const { device, gateway } = parties;
  beforeAll(() => {
    root = tempDir('offchain-device-review2-');
  });
  afterAll(() => root?.cleanup());

  /** The toll paid at `tip` and failed by the gateway; the co-signed HTLC state's txid and the HTLC's expiry. */
  async function payAndFail(tip: number): Promise<{ txid: string; expiry: number }> {
    const runs = await pipeline(tollPayStages(parties, tip), '');
    for (const r of runs) expect(r.status, r.stderr).toBe(0);
    const job = JSON.parse(runs[1]!.stdout) as { state_txid: string; htlc_expiry_height: number };
    const done = await pipeline([
      gateway('gateway', 'fail', '--payment-hash', HASH),
      device('device', 'fail'),
      gateway('gateway', 'complete', '--tip-height', String(tip), '--confirmations', '1'),
      device('device', 'receipt'),
    ], '');
    for (const r of done) expect(r.status, r.stderr).toBe(0);
    return { txid: job.state_txid, expiry: job.htlc_expiry_height };
  }

  it('refuses without --state-txid (nothing written) and refunds the named state\'s HTLC', async () => {
    openDemoChannel(root.path);
    const first = await payAndFail(1000);
    const second = await payAndFail(1001);
    expect(second.txid).not.toBe(first.txid);
    const base = ['device', 'refund-htlc', '--payment-hash', HASH, '--fee-rate', '2', '--tip-height', String(second.expiry)];
    const before = fileSnapshot(root.path, { locks: true });
    const refused = await one(device(...base));
    expect({ status: refused.status, code: /error (E_[A-Z0-9_]+): /.exec(refused.stderr)?.[1], stdout: refused.stdout }, refused.stderr).toEqual({ status: 4, code: 'E_WRONG_PAYMENT', stdout: '' });
    expect(refused.stderr).toContain(second.txid);
    expect(fileSnapshot(root.path, { locks: true })).toEqual(before);
    for (const s of [first, second]) {
      const r = await one(device(...base, '--state-txid', s.txid));
      expect(r.status, r.stderr).toBe(0);
      const m = JSON.parse(r.stdout) as { outpoint: { txid: string }; hex: string };
      expect(m.outpoint.txid).toBe(s.txid);
      // Parsed by the independent decoder: it spends that state, locked to that HTLC's expiry.
      const tx = parseTx(m.hex);
      expect(tx.lockTime).toBe(s.expiry);
      expect(Buffer.from(tx.inputs[0]!.outpoint.slice(0, 32)).reverse().toString('hex')).toBe(s.txid);
    }
    expect(fileSnapshot(root.path, { locks: true })).toEqual(before);
  });
});
