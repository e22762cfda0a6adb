/**
 * The mint exits through its service (issue 39): `serve mint` (spawned from the built CLI) on a
 * real `bitcoind -regtest`, a user opens and pays through `--peer`, and the operator's
 * `POST /v1/operator/exit {"fee_rate": "5", "broadcast": true}` (on the operator listener) hands
 * Core the latest state and its CPFP child as one package (submitpackage): both are in the
 * mempool, checked by the independent verifier (the state's MuSig2 key-path signature, the
 * child's signature by the mint key's own P2TR output key), and mined together before the
 * contract's expiry; the user's next payment through the service is then refused
 * E_CONTRACT_FROZEN. Skipped, visibly, without bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hex } from '@scure/base';
import { ROOT, tempDir } from '../helpers.ts';
import { musigTaprootOutput, publicKeyOf, singleKeyTaprootOutput } from '../independent/keys.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { satsToBtc } from '../../src/lib/chain/amount.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { runInProcess } from '../e2e/in-process.ts';
import type { Run } from '../e2e/cli.ts';
import { ServeMintProcess } from '../e2e/serve-process.ts';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND
  ? `serve mint's POST /v1/operator/exit: the package accepted by bitcoind -regtest and mined (${BITCOIND})`
  : 'serve mint\'s POST /v1/operator/exit on bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';

const key = (name: string) => readFileSync(join(ROOT, 'fixtures', 'keys', `${name}.key`), 'utf8').trim();
const MINT_KEY = key('mint');
const USER_KEY = key('user');
const MINT_PUB = publicKeyOf(hex.decode(MINT_KEY));
/** The mint key's own P2TR address (`key show`): the exit's child is then signed by the mint key. */
const PAYOUT = 'bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte';
const REFUND = 'bcrt1py6453jm8063t35dhf6yddhqnf65hel4aryj9sz673xkkqpy73u9sfeux7j';
const CONTRACT = musigTaprootOutput([publicKeyOf(hex.decode(USER_KEY)), MINT_PUB]);
const PAYOUT_OUTPUT = singleKeyTaprootOutput(MINT_PUB);

function ok(r: Run, type: string): Record<string, any> {
  expect(r.status, r.stderr).toBe(0);
  const msg = JSON.parse(r.stdout) as Record<string, any>;
  expect(msg.type, r.stdout).toBe(type);
  return msg;
}

describe.skipIf(!BITCOIND)(TITLE, () => {
  const tmp = tempDir('offchain-regtest-serve-exit-');
  const mintDir = join(tmp.path, 'mint');
  const userDir = join(tmp.path, 'user');
  let node: FundedNode;
  let svc: ServeMintProcess | undefined;
  const user = (...args: string[]) => runInProcess([...args, '--key-env', 'USER_KEY', '--state-dir', userDir, ...node.chain()], { env: { USER_KEY } });

  beforeAll(async () => {
    node = await startFundedNode(BITCOIND!, 'exit');
    ok(await runInProcess(['open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--key-env', 'MINT_KEY', '--state-dir', mintDir], { env: { MINT_KEY } }), 'credit/offer');
    svc = await ServeMintProcess.start(['--key-env', 'MINT_KEY', '--state-dir', mintDir, ...node.chain(), '--operator-listen', '127.0.0.1:0'], { MINT_KEY });
  }, 120_000);

  afterAll(async () => {
    if (svc) expect((await svc.stop()).status, svc.stderr).toBe(0);
    await node?.stop();
    tmp.cleanup();
  }, 60_000);

  it('open and pay through --peer; the exit with broadcast:true is in the mempool as a package and mined; the next payment is refused E_CONTRACT_FROZEN', async () => {
    const offer = await (await fetch(`${svc!.url}/v1/credit/offer`)).text();
    const address = ok(await runInProcess(['open-credit', '--role', 'user', '--key-env', 'USER_KEY', '--state-dir', userDir], { env: { USER_KEY }, input: offer }), 'credit/address').address as string;
    const capacity = 1_000_000n;
    const created = await node.wallet.call<{ psbt: string }>('walletcreatefundedpsbt', [[], [{ [address]: satsToBtc(capacity) }], 0, { change_type: 'bech32m', replaceable: false }]);
    const psbtFile = join(tmp.path, 'funding.psbt');
    writeFileSync(psbtFile, created.psbt);
    const opened = ok(await user('open-credit', '--role', 'user', '--peer', svc!.url, '--expiry', '+500', '--refund-address', REFUND, '--in', psbtFile), 'credit/opened');
    const funding = verifyKeyPathSpend(opened.refund.hex, [{ amount: capacity, script: CONTRACT.script }], CONTRACT.outputKey).inputs[0]!;
    const signed = await node.wallet.call<{ hex: string; complete: boolean }>('walletprocesspsbt', [created.psbt]);
    expect(await node.acceptAndMine(signed.hex)).toBe(funding.txid);
    expect(ok(await user('sign-update', '--role', 'user', '--amount', '60000', '--peer', svc!.url), 'credit/balance')).toMatchObject({ state: 1, cumulative_sat: 60_000 });

    const answer = await svc!.post('/v1/operator/exit', JSON.stringify({ fee_rate: '5', broadcast: true }), svc!.operator);
    expect(answer.status, answer.text).toBe(200);
    const exit = JSON.parse(answer.text) as Record<string, any>;
    expect(exit).toMatchObject({ type: 'credit/exit', state: 1, cumulative_sat: 60_000 });
    // Core's submitpackage answer, as credit exit --broadcast prints it.
    expect(exit.broadcast.package_msg, answer.text).toBe('success');
    expect(exit.broadcast.tx_results.map((t: { txid: string }) => t.txid).sort()).toEqual([exit.state_tx.txid, exit.child.txid].sort());

    // Verified here, apart from the product: the state spends the funding by the contract key; the child the payout by the mint key.
    const state = verifyKeyPathSpend(exit.state_tx.hex, [{ txid: funding.txid, vout: funding.vout, amount: capacity, script: CONTRACT.script }], CONTRACT.outputKey);
    expect(state.txid).toBe(exit.state_tx.txid);
    const payoutVout = state.outputs.findIndex((o) => hex.encode(o.script) === hex.encode(PAYOUT_OUTPUT.script));
    expect(state.outputs[payoutVout]!.amount).toBe(60_000n);
    const child = verifyKeyPathSpend(exit.child.hex, [{ txid: state.txid, vout: payoutVout, amount: 60_000n, script: PAYOUT_OUTPUT.script }], PAYOUT_OUTPUT.outputKey);
    expect(child.txid).toBe(exit.child.txid);

    // Core took the package: both in its mempool, then mined in one block, before the expiry.
    expect(await node.node.rpc.call<string[]>('getrawmempool')).toEqual(expect.arrayContaining([state.txid, child.txid]));
    await node.mine(1);
    const at = async (txid: string) => node.node.rpc.call<{ confirmations?: number; blockhash?: string }>('getrawtransaction', [txid, 1]);
    const [s, c] = [await at(state.txid), await at(child.txid)];
    expect([s.confirmations, c.confirmations, c.blockhash]).toEqual([1, 1, s.blockhash]);
    expect(await node.tip()).toBeLessThan(exit.deadline_height);

    // The exit froze the contract: the service signs no later state of it.
    const refused = await user('sign-update', '--role', 'user', '--amount', '1000', '--peer', svc!.url);
    expect([refused.status, /error (E_[A-Z_]+)/.exec(refused.stderr)?.[1], refused.stdout]).toEqual([4, 'E_CONTRACT_FROZEN', '']);
  }, 180_000);
});
