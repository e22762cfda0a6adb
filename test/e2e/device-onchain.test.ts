/**
 * `gateway claim` and `device refund-htlc` through the built CLI, offline (the demo
 * channel of fixtures/credit/open-demo.sh, tip 1000): every refusal with its code, exit
 * code, nothing on stdout and both state directories byte-identical; what a printed claim
 * and refund are, checked by the independent verifier (test/independent/) against the
 * contract key and HTLC tree derived in test code. On Bitcoin Core:
 * test/regtest/device-cli.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { fileSnapshot, tempDir } from '../helpers.ts';
import { pipeline, type Stage } from './cli.ts';
import { MINT_KEY, USER_KEY, demoParties, one, openDemoChannel, tollPayStages } from './fixtures.ts';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { bytesOf, hexOf, parseTx } from '../independent/tx.ts';
import { verifyKeyPathSpend, verifyScriptPathSpend } from '../independent/verify.ts';
import { taprootHtlcContract } from '../independent/descriptor.ts';

const USER_PUB = publicKeyOf(bytesOf(USER_KEY));
const MINT_PUB = publicKeyOf(bytesOf(MINT_KEY));
const CONTRACT = musigTaprootOutput([USER_PUB, MINT_PUB]);
const PREIMAGE = '01'.repeat(32); // fixtures/device/toll.bolt11's
const HASH = hexOf(sha256(bytesOf(PREIMAGE)));
const L = 1144; // tip 1000 + fixtures/policies/device.json htlc_expiry_blocks

describe('gateway claim and device refund-htlc through the CLI (offline)', () => {
  let root: { path: string; cleanup: () => void };
  let job: Record<string, any>;
  const parties = demoParties(() => root.path);
  const { device, gateway } = parties;
  const preimageFile = (hex: string) => {
    const p = join(root.path, `preimage-${hex.slice(0, 6)}`);
    writeFileSync(p, `${hex}\n`, { mode: 0o600 });
    return p;
  };
  /** Refused: the exit code and E_ code, nothing on stdout, neither state directory changed. */
  const refusedUnchanged = async (s: Stage, exit: number, code: string) => {
    const before = fileSnapshot(root.path, { locks: true });
    const r = await one(s);
    expect({ status: r.status, code: /error (E_[A-Z0-9_]+): /.exec(r.stderr)?.[1], stdout: r.stdout }, r.stderr).toEqual({ status: exit, code, stdout: '' });
    expect(fileSnapshot(root.path, { locks: true })).toEqual(before);
  };

  beforeAll(() => {
    root = tempDir('offchain-device-onchain-');
  });
  afterAll(() => root?.cleanup());

  it('opens the demo channel and puts the toll in flight', async () => {
    openDemoChannel(root.path);
    // Before any payment: nothing to refund, no HTLC to claim.
    await refusedUnchanged(device('device', 'refund-htlc', '--fee-rate', '2', '--tip-height', '1000'), 4, 'E_NO_PAYMENT_IN_FLIGHT');
    await refusedUnchanged(gateway('gateway', 'claim', '--fee-rate', '2'), 4, 'E_NO_HTLC');
    const runs = await pipeline(tollPayStages(parties, 1000), '');
    for (const r of runs) expect(r.status, r.stderr).toBe(0);
    job = JSON.parse(runs[1]!.stdout);
    expect(job).toMatchObject({ type: 'gateway/job', payment_hash: HASH, htlc_expiry_height: L });
  });

  it('device refund-htlc: E_NOT_FINAL one block before L (nothing written), printed at L; the refund leaf verified independently', async () => {
    await refusedUnchanged(device('device', 'refund-htlc', '--fee-rate', '2', '--tip-height', String(L - 1)), 4, 'E_NOT_FINAL');
    await refusedUnchanged(device('device', 'refund-htlc', '--fee-rate', '2', '--tip-height', String(L), '--payment-hash', '00'.repeat(32)), 4, 'E_WRONG_PAYMENT');
    await refusedUnchanged(device('device', 'refund-htlc', '--fee-rate', '2', '--tip-height', String(L), '--broadcast'), 2, 'E_CHAIN_OFFLINE');
    await refusedUnchanged(device('device', 'refund-htlc', '--fee-rate', '2000', '--tip-height', String(L), '--max-fee-rate', '100'), 4, 'E_FEE_TOO_HIGH');
    const before = fileSnapshot(root.path, { locks: true });
    const r = await one(device('device', 'refund-htlc', '--fee-rate', '2', '--tip-height', String(L)));
    expect(r.status, r.stderr).toBe(0);
    expect(fileSnapshot(root.path, { locks: true })).toEqual(before); // it writes nothing
    const m = JSON.parse(r.stdout);
    expect(m).toMatchObject({ type: 'device/htlc-refund', payment_hash: HASH, final: true, final_from_height: L + 1, outpoint: { txid: job.state_txid, vout: 0 } });
    const tree = taprootHtlcContract({ payer: USER_PUB, recipient: MINT_PUB, paymentHash: bytesOf(HASH), locktime: L });
    verifyScriptPathSpend(m.hex, [{ amount: BigInt(m.amount_sat), script: tree.output.script, txid: job.state_txid, vout: 0 }], 0, {
      outputKey: tree.output.outputKey, internalKey: tree.internalKey, leafScript: tree.leaves.refund!.script, signingKey: USER_PUB.subarray(1), after: L,
    });
    expect(parseTx(m.hex).lockTime).toBe(L);
  });

  it('gateway claim: E_NO_PREIMAGE before settle, E_WRONG_PREIMAGE for a wrong file, then the package (state + claim child) verified independently; the printed claim freezes the channel', async () => {
    await refusedUnchanged(gateway('gateway', 'claim', '--fee-rate', '2'), 4, 'E_NO_PREIMAGE');
    await refusedUnchanged(gateway('gateway', 'claim', '--fee-rate', '2', '--preimage-file', preimageFile('02'.repeat(32))), 4, 'E_WRONG_PREIMAGE');
    await refusedUnchanged(gateway('gateway', 'claim', '--fee-rate', '2', '--preimage-file', preimageFile(PREIMAGE), '--broadcast'), 2, 'E_CHAIN_OFFLINE');
    await refusedUnchanged(gateway('gateway', 'claim', '--fee-rate', '50', '--preimage-file', preimageFile(PREIMAGE)), 4, 'E_EXIT_UNECONOMICAL');
    expect((await one(gateway('gateway', 'settle', '--preimage-file', preimageFile(PREIMAGE)))).status).toBe(0);
    const dry = await one(gateway('gateway', 'claim', '--fee-rate', '2', '--dry-run'));
    expect(dry.status, dry.stderr).toBe(0);
    const m = JSON.parse(dry.stdout);
    expect(m).toMatchObject({ type: 'credit/exit', state: 1, htlc_claim: { payment_hash: HASH, vout: 0 }, state_tx: { txid: job.state_txid }, child: { complete: true } });
    const state = parseTx(m.state_tx.hex);
    const funding = state.inputs[0]!; // the demo's funding outpoint; its amount and script are the test's own
    expect(state.inputs).toHaveLength(1);
    verifyKeyPathSpend(m.state_tx.hex, [{ amount: 1_000_000n, script: CONTRACT.script, txid: funding.txid, vout: funding.vout }], CONTRACT.outputKey);
    const tree = taprootHtlcContract({ payer: USER_PUB, recipient: MINT_PUB, paymentHash: bytesOf(HASH), locktime: L });
    expect(hexOf(state.outputs[0]!.script)).toBe(hexOf(tree.output.script));
    const child = parseTx(m.child.hex);
    expect(child.version).toBe(3);
    verifyScriptPathSpend(m.child.hex, [{ ...state.outputs[0]!, txid: job.state_txid, vout: 0 }], 0, {
      outputKey: tree.output.outputKey, internalKey: tree.internalKey, leafScript: tree.leaves.claim!.script, signingKey: MINT_PUB.subarray(1), before: [bytesOf(PREIMAGE)],
    });
    // Printed (no --dry-run): the channel is frozen, every later gateway step refused with nothing written.
    const before = fileSnapshot(root.path, { locks: true });
    expect((await one(gateway('gateway', 'claim', '--fee-rate', '2'))).status).toBe(0);
    expect(fileSnapshot(root.path, { locks: true })).not.toEqual(before); // the same check sees the freeze written
    await refusedUnchanged(gateway('gateway', 'fail', '--payment-hash', HASH), 4, 'E_CONTRACT_FROZEN');
  });
});
