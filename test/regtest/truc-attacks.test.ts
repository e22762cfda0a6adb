/**
 * Issue 37's review, as the counterparty who hands the bumping party a parent PSBT (and
 * as the node a `package child` asks): attacks on the fixes of findings 3 and 7, against a
 * real `bitcoind -regtest` WITHOUT -txindex — the node an operator usually runs, and the
 * one that cannot show an input spent in its mempool whose funding is confirmed, so the
 * file's claim about that input is what the child's fee is computed from.
 *
 * Every child a test builds is signed by the node's wallet, submitted and mined; each
 * refusal is one coded line with nothing on stdout. Skipped visibly without a bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { base64 } from '@scure/base';
import { Transaction } from '@scure/btc-signer';
import { satsToBtc } from '../../src/lib/chain/amount.ts';
import { tempDir } from '../helpers.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { assertBuilt, describeRun, errorCode, messageOf, offchain } from './offchain-cli.ts';
import { P2A, buildTx, p2wshOf, sigopScript, spendAnyone, ANYONE, type Built } from '../lib/truc/build.ts';

const BITCOIND = findBitcoind();

type ChildMessage = { type: string; parent: { txid: string; fee_sat: number; vsize: number; inputs_on_trust: string[] }; child: { txid: string; fee_sat: number; vsize_max: number }; psbt: string };
type MempoolEntry = { vsize: number; weight: number; fees: { base: number } };
type Coin = { txid: string; vout: number; amount: bigint; script: Uint8Array };

/** A taproot output script of some key (what a liar claims a P2WSH input pays: witness v1 has no sigops). */
const SOME_P2TR = Uint8Array.from(Buffer.from(`5120${'79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798'}`, 'hex'));

describe.skipIf(!BITCOIND)(`package child, review attacks on a node without -txindex${BITCOIND ? '' : ' (SKIPPED: no bitcoind; set BITCOIND)'}`, () => {
  let n: FundedNode;
  let work: { path: string; cleanup: () => void };
  let fileNo = 0;
  const file = (name: string, text: string) => {
    const path = join(work.path, `${fileNo++}-${name}`);
    writeFileSync(path, text);
    return path;
  };
  const net = () => ['--network', 'regtest', ...n.chain()];
  const rpc = <T>(method: string, params: unknown[] = []) => n.node.rpc.call<T>(method, params);

  /** A confirmed coin paying P2WSH(`witnessScript`) (found in the mempool before it is mined: no -txindex). */
  const coin = async (witnessScript: Uint8Array, amount = 100_000n): Promise<Coin> => {
    const script = p2wshOf(witnessScript);
    const address = (await rpc<{ segwit: { address: string } }>('decodescript', [Buffer.from(witnessScript).toString('hex')])).segwit.address;
    const txid = await n.wallet.call<string>('sendtoaddress', [address, satsToBtc(amount)]);
    const tx = await rpc<{ vout: { n: number; scriptPubKey: { hex: string } }[] }>('getrawtransaction', [txid, 1]);
    const vout = tx.vout.find((o) => o.scriptPubKey.hex === Buffer.from(script).toString('hex'))!.n;
    await n.mine(1);
    return { txid, vout, amount, script };
  };
  /** The parent as a finalized PSBT whose one input's witness_utxo says `claim` (the truth, or a lie). */
  const parentPsbt = (parent: Built, c: Coin, claim: { amount: bigint; script: Uint8Array }, witness: Uint8Array[]) => {
    const psbt = new Transaction({ version: 3, allowUnknownOutputs: true, allowUnknownInputs: true });
    for (const o of parent.parsed.outputs) psbt.addOutput(o);
    psbt.addInput({ txid: c.txid, index: c.vout, sequence: 0xfffffffd, witnessUtxo: claim, finalScriptWitness: witness });
    expect(Buffer.from(psbt.extract()).toString('hex')).toBe(parent.hex);
    return file('parent.psbt', base64.encode(psbt.toPSBT()));
  };
  const walletPsbt = async (sat = 50_000n) => {
    const address = await n.wallet.call<string>('getnewaddress', ['', 'bech32']);
    const created = await n.wallet.call<{ psbt: string }>('walletcreatefundedpsbt', [[], [{ [address]: satsToBtc(sat) }], 0, { fee_rate: 1 }]);
    return file('wallet.json', JSON.stringify(created));
  };
  const child = (parentFile: string, wallet: string, feeRate: string, extra: string[] = []) => offchain(['package', 'child', '--parent', parentFile, '--wallet-psbt', wallet, '--fee-rate', feeRate, ...extra, ...net()]);
  /**
   * Sign the child with the wallet, submit `parent` (a file: package child's message, or the parent's PSBT) + the child
   * with `package submit`, and return Core's package rate (sat/vB) from getmempoolentry.
   */
  const signSubmit = async (msg: ChildMessage, parent = file('child.json', JSON.stringify(msg))) => {
    const s = await n.wallet.call<{ psbt: string; complete: boolean }>('walletprocesspsbt', [msg.psbt]);
    expect(s.complete).toBe(true);
    const sub = await offchain(['package', 'submit', '--parent', parent, '--child', file('signed.json', JSON.stringify(s)), ...net()]);
    expect(sub.status, describeRun(sub)).toBe(0);
    const [p, c] = [await rpc<MempoolEntry>('getmempoolentry', [msg.parent.txid]), await rpc<MempoolEntry>('getmempoolentry', [msg.child.txid])];
    return Math.round((p.fees.base + c.fees.base) * 1e8) / (p.vsize + c.vsize);
  };
  const mined = async (txids: string[]) => {
    await n.mine(1);
    const pool = await rpc<string[]>('getrawmempool');
    for (const t of txids) expect(pool).not.toContain(t);
  };

  beforeAll(async () => {
    assertBuilt();
    work = tempDir('offchain-regtest-truc-attacks-');
    n = await startFundedNode(BITCOIND!, 'truc-attacks', ['-txindex=0']);
    expect(await rpc<Record<string, unknown>>('getindexinfo')).toEqual({});
  }, 120_000);
  afterAll(async () => {
    await n?.stop();
    work?.cleanup();
  });

  it('a misstated script hiding the parent\'s sigops (a node that cannot show the input): refused naming the parent; the honest PSBT is bumped to the asked rate as Core measures it, and mined', async () => {
    // A v3 parent spending a P2WSH whose witness script holds 200 sigops (never executed): Core sizes it at
    // 200 × 20 / 4 = 1,000 vB, not its ~150 vB of weight. It pays its own floor and is in the mempool.
    const heavy = sigopScript(200);
    const c = await coin(heavy);
    const parent = buildTx(3, [spendAnyone(c.txid, c.vout, heavy)], [{ amount: c.amount - 1_000n - 240n, script: ANYONE }, { amount: 240n, script: P2A }]);
    expect(await rpc<string>('sendrawtransaction', [parent.hex])).toBe(parent.parsed.txid);
    const entry = await rpc<MempoolEntry>('getmempoolentry', [parent.parsed.txid]);
    expect(entry.vsize).toBe(1_000);
    expect(Math.ceil(entry.weight / 4)).toBeLessThan(200);
    // The node shows neither the coin (spent in its mempool) nor its funding (confirmed, no -txindex).
    expect(await rpc<unknown>('gettxout', [c.txid, c.vout, true])).toBeNull();

    // The lie: the right amount (so the fee is the mempool's 1,000 sat), a taproot script (no witness sigops).
    const wallet = await walletPsbt();
    const lie = await child(parentPsbt(parent, c, { amount: c.amount, script: SOME_P2TR }, [heavy]), wallet, '10');
    // Before the fix: exit 0, the parent counted at ~150 vB, and the package went out at ~2.6 sat/vB (asked 10).
    expect([lie.status, errorCode(lie), lie.stdout], describeRun(lie)).toEqual([2, 'E_TRUC_PREVOUT_CONFLICT', '']);
    expect(lie.stderr).toContain(parent.parsed.txid);

    const honestFile = parentPsbt(parent, c, { amount: c.amount, script: c.script }, [heavy]);
    const honest = messageOf<ChildMessage>(await child(honestFile, wallet, '10'), 'package/child');
    expect([honest.parent.fee_sat, honest.parent.vsize, honest.parent.inputs_on_trust]).toEqual([1_000, 1_000, []]);
    const rate = await signSubmit(honest, honestFile);
    expect(rate).toBeGreaterThanOrEqual(10);
    expect(rate).toBeLessThan(10.1);
    await mined([parent.parsed.txid, honest.child.txid]);
  });
});
