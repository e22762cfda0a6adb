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
import { hex } from '@scure/base';
import { publicKeyOf, singleKeyTaprootOutput } from '../independent/keys.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { findBitcoind } from './bitcoind.ts';
import type { FundedNode } from './funded-node.ts';
import { ServeMintProcess } from '../e2e/serve-process.ts';
import { CONTRACT, MINT_KEY, mintPeerSetup, ok } from './serve-mint-peer.ts';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND
  ? `serve mint's POST /v1/operator/exit: the package accepted by bitcoind -regtest and mined (${BITCOIND})`
  : 'serve mint\'s POST /v1/operator/exit on bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';

/** The exit's child is signed by the mint key: the offer's PAYOUT (test/e2e/stream-credit.ts) is the mint key's own P2TR address. */
const PAYOUT_OUTPUT = singleKeyTaprootOutput(publicKeyOf(hex.decode(MINT_KEY)));

describe.skipIf(!BITCOIND)(TITLE, () => {
  const w = mintPeerSetup('offchain-regtest-serve-exit-');
  const user = w.user;
  let node: FundedNode;
  let svc: ServeMintProcess | undefined;

  beforeAll(async () => {
    node = await w.start(BITCOIND!, 'exit');
    svc = await ServeMintProcess.start(['--key-env', 'MINT_KEY', '--state-dir', w.mintDir, ...node.chain(), '--operator-listen', '127.0.0.1:0'], { MINT_KEY });
  }, 120_000);

  afterAll(async () => {
    if (svc) expect((await svc.stop()).status, svc.stderr).toBe(0);
    await w.stop();
  }, 60_000);

  it('open and pay through --peer; the exit with broadcast:true is in the mempool as a package and mined; the next payment is refused E_CONTRACT_FROZEN', async () => {
    const capacity = 1_000_000n;
    const { funding, signed } = await w.openThroughPeer(svc!.url, capacity);
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
