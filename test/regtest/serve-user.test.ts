/**
 * A user pays a mint service through `--peer` on a real `bitcoind -regtest` (issue 39): the
 * service (`serve mint`, spawned from the built CLI) asks the node for the tip and the
 * funding's confirmations; the user opens with a Core wallet's funding PSBT (the refund
 * verified by the independent verifier before the wallet signs the funding), pays twice and
 * closes, each step one invocation — and Core accepts and mines the close, while the refund is
 * refused "non-final" before its expiry. Skipped, visibly, without bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hex } from '@scure/base';
import { ROOT, tempDir } from '../helpers.ts';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { satsToBtc } from '../../src/lib/chain/amount.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { runInProcess } from '../e2e/in-process.ts';
import type { Run } from '../e2e/cli.ts';
import { serveMint, stopService, type Service } from '../e2e/serve-process.ts';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND
  ? `a user pays serve mint through --peer on bitcoind -regtest (${BITCOIND})`
  : 'a user pays serve mint through --peer on bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';

const key = (name: string) => readFileSync(join(ROOT, 'fixtures', 'keys', `${name}.key`), 'utf8').trim();
const MINT_KEY = key('mint');
const USER_KEY = key('user');
const PAYOUT = 'bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte';
const REFUND = 'bcrt1py6453jm8063t35dhf6yddhqnf65hel4aryj9sz673xkkqpy73u9sfeux7j';
const CONTRACT = musigTaprootOutput([publicKeyOf(hex.decode(USER_KEY)), publicKeyOf(hex.decode(MINT_KEY))]);

function ok(r: Run, type: string): Record<string, any> {
  expect(r.status, r.stderr).toBe(0);
  const msg = JSON.parse(r.stdout) as Record<string, any>;
  expect(msg.type, r.stdout).toBe(type);
  return msg;
}

describe.skipIf(!BITCOIND)(TITLE, () => {
  const tmp = tempDir('offchain-regtest-serve-user-');
  const mintDir = join(tmp.path, 'mint');
  const userDir = join(tmp.path, 'user');
  let node: FundedNode;
  let svc: Service | undefined;
  const user = (...args: string[]) => runInProcess([...args, '--key-env', 'USER_KEY', '--state-dir', userDir, ...node.chain()], { env: { USER_KEY } });

  beforeAll(async () => {
    node = await startFundedNode(BITCOIND!, 'peer');
    ok(await runInProcess(['open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--key-env', 'MINT_KEY', '--state-dir', mintDir], { env: { MINT_KEY } }), 'credit/offer');
    svc = await serveMint(['--key-env', 'MINT_KEY', '--state-dir', mintDir, ...node.chain()], { MINT_KEY });
  }, 120_000);

  afterAll(async () => {
    await stopService(svc);
    await node?.stop();
    tmp.cleanup();
  }, 60_000);

  it('open, two payments and the close, each one --peer invocation; Core mines the close, and refuses the refund non-final', async () => {
    const offer = await (await fetch(`${svc!.url}/v1/credit/offer`)).text();
    const address = ok(await runInProcess(['open-credit', '--role', 'user', '--key-env', 'USER_KEY', '--state-dir', userDir], { env: { USER_KEY }, input: offer }), 'credit/address').address as string;
    const capacity = 1_000_000n;
    const created = await node.wallet.call<{ psbt: string }>('walletcreatefundedpsbt', [[], [{ [address]: satsToBtc(capacity) }], 0, { change_type: 'bech32m', replaceable: false }]);
    const psbtFile = join(tmp.path, 'funding.psbt');
    writeFileSync(psbtFile, created.psbt);

    const opened = ok(await user('open-credit', '--role', 'user', '--peer', svc!.url, '--expiry', '+500', '--refund-address', REFUND, '--in', psbtFile), 'credit/opened');
    const funding = verifyKeyPathSpend(opened.refund.hex, [{ amount: capacity, script: CONTRACT.script }], CONTRACT.outputKey).inputs[0]!;
    // Only now does the wallet sign and broadcast the funding.
    const signed = await node.wallet.call<{ hex: string; complete: boolean }>('walletprocesspsbt', [created.psbt]);
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
