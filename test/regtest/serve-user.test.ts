/**
 * A user pays a mint service through `--peer` on a real `bitcoind -regtest` (issue 39): the
 * service (`serve mint`, spawned from the built CLI) asks the node for the tip and the
 * funding's confirmations; the user opens with a Core wallet's funding PSBT (the refund
 * verified by the independent verifier before the wallet signs the funding), pays twice and
 * closes, each step one invocation — and Core accepts and mines the close, while the refund is
 * refused "non-final" before its expiry. Skipped, visibly, without bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { findBitcoind } from './bitcoind.ts';
import type { FundedNode } from './funded-node.ts';
import { serveMint, stopService, type Service } from '../e2e/serve-process.ts';
import { CONTRACT, MINT_KEY, mintPeerSetup, ok } from './serve-mint-peer.ts';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND
  ? `a user pays serve mint through --peer on bitcoind -regtest (${BITCOIND})`
  : 'a user pays serve mint through --peer on bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';

describe.skipIf(!BITCOIND)(TITLE, () => {
  const w = mintPeerSetup('offchain-regtest-serve-user-');
  const user = w.user;
  let node: FundedNode;
  let svc: Service | undefined;

  beforeAll(async () => {
    node = await w.start(BITCOIND!, 'peer');
    svc = await serveMint(['--key-env', 'MINT_KEY', '--state-dir', w.mintDir, ...node.chain()], { MINT_KEY });
  }, 120_000);

  afterAll(async () => {
    await stopService(svc);
    await w.stop();
  }, 60_000);

  it('open, two payments and the close, each one --peer invocation; Core mines the close, and refuses the refund non-final', async () => {
    const capacity = 1_000_000n;
    const { opened, funding, signed } = await w.openThroughPeer(svc!.url, capacity);
    expect(signed.complete).toBe(true);
    expect(await node.acceptAndMine(signed.hex)).toBe(funding.txid);

    expect(ok(await user('sign-update', '--role', 'user', '--amount', '10000', '--peer', svc!.url), 'credit/balance')).toMatchObject({ state: 1, cumulative_sat: 10_000 });
    expect(ok(await user('sign-update', '--role', 'user', '--amount', '25000', '--peer', svc!.url), 'credit/balance')).toMatchObject({ state: 2, cumulative_sat: 35_000 });
    const closed = ok(await user('close-credit', '--role', 'user', '--start', '--peer', svc!.url), 'credit/closed');
    expect(closed.cumulative_sat).toBe(35_000);
    const close = verifyKeyPathSpend(closed.hex, [{ txid: funding.txid, vout: funding.vout, amount: capacity, script: CONTRACT.script }], CONTRACT.outputKey);
    expect(close.outputs[0]!.amount).toBe(35_000n); // the mint's payout: exactly what was paid
    expect(await node.mempool(opened.refund.hex)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
    expect(await node.acceptAndMine(closed.hex)).toBe(closed.txid);
  }, 180_000);
});
