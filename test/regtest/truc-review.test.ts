/**
 * Review attacks on `package child --replaces` (issue 24 review) against a real
 * `bitcoind -regtest`, through the built CLI.
 *
 * The replaced child's fee sets the new child's floor (its fee + 0.1 sat/vB of the new
 * child's size). That fee is computed from the replaced child's inputs' amounts — and
 * those came from the file's witness_utxo, on the file's word: whoever hands over the
 * earlier child (a pair's other part, a watchtower, anyone who attached a child to a
 * keyless anchor) can inflate one and make our wallet pay up to the fee guard's
 * 10,000 sat/vB. Here the node knows the truth and must be asked. And the form a
 * stranger's child is found in — the mempool's raw hex — must work with a node.
 *
 * Issue 37 finding 3: the same holds for the PARENT's inputs. Its fee decides the child's
 * (the package is brought to --fee-rate), so a parent PSBT whose witness_utxo overstates an
 * input made the child pay almost nothing (1,000,578 sat counted for a 578-sat fee; mined at
 * 1.27 sat/vB, asked 10). With a node every input of the parent is the node's word.
 * Skipped visibly without a bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { base64 } from '@scure/base';
import { Transaction } from '@scure/btc-signer';
import { satsToBtc } from '../../src/lib/chain/amount.ts';
import { RpcChainSource } from '../../src/lib/chain/rpc.ts';
import { tempDir } from '../helpers.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode, type OutPoint } from './funded-node.ts';
import { assertBuilt, describeRun, errorCode, messageOf, offchain } from './offchain-cli.ts';
import { ANYONE, OP_TRUE_SCRIPT, P2A, buildTx, spendAnyone, type Built } from '../lib/truc/build.ts';

const BITCOIND = findBitcoind();
const COIN = 100_000n;

type ChildMessage = { type: string; parent: { txid: string; fee_sat: number; vsize: number; inputs_on_trust?: string[] }; child: { txid: string; fee_sat: number; vsize_max: number }; psbt: string; replaces?: { txid: string; fee_sat: number } };
type MempoolEntry = { vsize: number; fees: { base: number } };

/** The parent as a finalized PSBT whose one input's witness_utxo claims `claimed` sat (the truth, or a lie). */
function parentPsbt(parent: Built, coin: OutPoint, claimed: bigint): string {
  const psbt = new Transaction({ version: 3, allowUnknownOutputs: true });
  for (const o of parent.parsed.outputs) psbt.addOutput(o);
  psbt.addInput({ txid: coin.txid, index: coin.vout, sequence: 0xfffffffd, witnessUtxo: { script: ANYONE, amount: claimed }, finalScriptWitness: [OP_TRUE_SCRIPT] });
  expect(Buffer.from(psbt.extract()).toString('hex')).toBe(parent.hex);
  return base64.encode(psbt.toPSBT());
}

describe.skipIf(!BITCOIND)(`package child --replaces review attacks on regtest${BITCOIND ? '' : ' (SKIPPED: no bitcoind; set BITCOIND)'}`, () => {
  let n: FundedNode;
  let work: { path: string; cleanup: () => void };
  let anyoneAddress = '';
  let fileNo = 0;
  const file = (name: string, text: string) => {
    const path = join(work.path, `${fileNo++}-${name}`);
    writeFileSync(path, text);
    return path;
  };
  const net = () => ['--network', 'regtest', ...n.chain()];
  const anyoneCoin = async (): Promise<OutPoint & { amount: bigint }> => ({ ...(await n.fund(anyoneAddress, COIN)), amount: COIN });
  const zeroFeeParent = (c: OutPoint & { amount: bigint }): Built => buildTx(3, [spendAnyone(c.txid, c.vout)], [{ amount: c.amount, script: ANYONE }, { amount: 0n, script: P2A }]);
  const walletPsbt = async (sat = 50_000n) => {
    const address = await n.wallet.call<string>('getnewaddress', ['', 'bech32']);
    const created = await n.wallet.call<{ psbt: string }>('walletcreatefundedpsbt', [[], [{ [address]: satsToBtc(sat) }], 0, { fee_rate: 1 }]);
    return file('wallet.json', JSON.stringify(created));
  };
  const child = async (parentFile: string, wallet: string, feeRate: string, extra: string[] = []) => offchain(['package', 'child', '--parent', parentFile, '--wallet-psbt', wallet, '--fee-rate', feeRate, ...extra, ...net()]);
  const signed = async (psbt: string) => {
    const s = await n.wallet.call<{ psbt: string; complete: boolean; hex: string }>('walletprocesspsbt', [psbt]);
    expect(s.complete).toBe(true);
    return s;
  };
  /** A first child of a fresh zero-fee parent, signed and in the mempool with its parent. */
  const firstInMempool = async () => {
    const parent = zeroFeeParent(await anyoneCoin());
    const parentFile = file('parent.hex', parent.hex);
    const first = messageOf<ChildMessage>(await child(parentFile, await walletPsbt(), '2'), 'package/child');
    const s = await signed(first.psbt);
    const sub = await offchain(['package', 'submit', '--parent', file('child.json', JSON.stringify(first)), '--child', file('signed.json', JSON.stringify(s)), ...net()]);
    expect(sub.status, describeRun(sub)).toBe(0);
    return { parentFile, first, signed: s };
  };

  beforeAll(async () => {
    assertBuilt();
    work = tempDir('offchain-regtest-truc-review-');
    n = await startFundedNode(BITCOIND!, 'truc-review');
    anyoneAddress = (await n.node.rpc.call<{ segwit: { address: string } }>('decodescript', ['51'])).segwit.address;
  }, 120_000);
  afterAll(async () => {
    await n?.stop();
    work?.cleanup();
  });

  it('an earlier child whose witness_utxo claims 0.01 BTC more than the node holds is refused, not paid for (the floor would be ~1,000,000 sat)', async () => {
    const { parentFile, first, signed: s } = await firstInMempool();
    // The attacker's copy: the same signed child, one wallet input's witness_utxo inflated.
    const psbt = Transaction.fromPSBT(base64.decode(s.psbt), { allowUnknownOutputs: true, allowUnknownInputs: true });
    let inflated = -1;
    for (let i = 0; i < psbt.inputsLength; i++) {
      const u = psbt.getInput(i).witnessUtxo!;
      if (u.amount > 0n && inflated < 0) {
        psbt.updateInput(i, { witnessUtxo: { script: u.script, amount: u.amount + 1_000_000n } }, true);
        inflated = i;
      }
    }
    expect(inflated).toBeGreaterThanOrEqual(0);
    const forged = file('forged.json', JSON.stringify({ psbt: base64.encode(psbt.toPSBT()), complete: true, hex: s.hex }));
    const r = await child(parentFile, await walletPsbt(5_000_000n), '2', ['--replaces', forged, '--max-fee-share', '1']);
    // Before the fix: a package/child whose fee pays the forged 1,000,000 sat on top of the first's.
    expect(r.status, describeRun(r)).not.toBe(0);
    expect(errorCode(r)).toBe('E_TRUC_PREVOUT_CONFLICT');
    expect(r.stdout).toBe('');
    expect(first.child.fee_sat).toBeLessThan(10_000);
  });

  it('an earlier child given as the mempool\'s raw hex (how a stranger\'s child is found): its fee is the node\'s, and the replacement is built', async () => {
    const { parentFile, first } = await firstInMempool();
    // The node's word on the earlier child's fee (the path a node without -txindex takes): getmempoolentry, in sat; null once it is gone.
    expect(await new RpcChainSource(n.node.config).mempoolFee(first.child.txid)).toBe(BigInt(first.child.fee_sat));
    expect(await new RpcChainSource(n.node.config).mempoolFee('00'.repeat(32))).toBeNull();
    const hex = await n.node.rpc.call<string>('getrawtransaction', [first.child.txid]);
    const r = await child(parentFile, await walletPsbt(), '2', ['--replaces', file('stranger.hex', hex)]);
    expect(r.status, describeRun(r)).toBe(0);
    const second = messageOf<ChildMessage>(r, 'package/child');
    expect(second.replaces).toEqual({ txid: first.child.txid, fee_sat: first.child.fee_sat });
    // And the node takes it in the first's place (what a pair's other part, or an owner outbidding a stranger's child, needs).
    const s = await signed(second.psbt);
    const sub = await offchain(['package', 'submit', '--parent', file('child.json', JSON.stringify(second)), '--child', file('signed.json', JSON.stringify(s)), ...net()]);
    expect(messageOf<{ replaced_transactions: string[] }>(sub, 'package/submitted').replaced_transactions).toEqual([first.child.txid]);
  });

  it('issue 37 finding 3: a parent PSBT whose witness_utxo over- or understates its input is refused, naming the input; the honest one is bumped to the asked rate, as Core measures it', async () => {
    // A v3 parent paying 578 sat by itself, with a 240-sat anchor (not dust at 3 sat/vB), already in the mempool:
    // its input is spent there, so the node shows it from the transaction that made it.
    const coin = await anyoneCoin();
    const parent = buildTx(3, [spendAnyone(coin.txid, coin.vout)], [{ amount: coin.amount - 578n - 240n, script: ANYONE }, { amount: 240n, script: P2A }]);
    expect(await n.node.rpc.call<string>('sendrawtransaction', [parent.hex])).toBe(parent.parsed.txid);
    const wallet = await walletPsbt();
    const outpoint = `${coin.txid}:${coin.vout}`;
    for (const lie of [1_000_000n, -300n]) {
      const r = await child(file('forged.psbt', parentPsbt(parent, coin, coin.amount + lie)), wallet, '10');
      // Before the fix (overstated): exit 0, the parent's fee counted as 1,000,578 sat and a child of a few sat.
      expect(r.status, describeRun(r)).toBe(2);
      expect(errorCode(r)).toBe('E_TRUC_PREVOUT_CONFLICT');
      expect(r.stderr).toContain(`parent input 0 spends ${outpoint}`);
      expect(r.stdout).toBe('');
    }
    const honest = await child(file('parent.psbt', parentPsbt(parent, coin, coin.amount)), wallet, '10');
    const msg = messageOf<ChildMessage>(honest, 'package/child');
    expect(msg.parent.fee_sat).toBe(578);
    expect(msg.parent.inputs_on_trust).toEqual([]);
    const s = await signed(msg.psbt);
    const sub = await offchain(['package', 'submit', '--parent', file('child.json', JSON.stringify(msg)), '--child', file('signed.json', JSON.stringify(s)), ...net()]);
    expect(sub.status, describeRun(sub)).toBe(0);
    const entry = async (txid: string) => n.node.rpc.call<MempoolEntry>('getmempoolentry', [txid]);
    const [p, c] = [await entry(parent.parsed.txid), await entry(msg.child.txid)];
    const rate = Math.round((p.fees.base + c.fees.base) * 1e8) / (p.vsize + c.vsize);
    expect(rate).toBeGreaterThanOrEqual(10);
    expect(rate).toBeLessThan(10.1);
    await n.mine(1);
    expect(await n.node.rpc.call<string[]>('getrawmempool')).not.toContain(msg.child.txid);
  });
});
