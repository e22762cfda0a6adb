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
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { base64 } from '@scure/base';
import { Transaction } from '@scure/btc-signer';
import { satsToBtc } from '../../src/lib/chain/amount.ts';
import { tempDir } from '../helpers.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { assertBuilt, describeRun, errorCode, messageOf, offchain } from './offchain-cli.ts';
import { inProcessUnlessSpawned, offchainInProcess } from './in-process-cli.ts';
import { OP_TRUE_SCRIPT, P2A, buildTx, p2wshOf, sigopScript, spendAnyone, ANYONE, type Built } from '../lib/truc/build.ts';
import { taprootOutput } from '../independent/keys.ts';
import { publicKeyOf, taggedHash } from '../independent/secp256k1.ts';

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
  /**
   * How a step runs: the built CLI's `main` in-process (in-process-cli.ts), or spawned inside `spawned(...)` —
   * the first attack (an E_TRUC_PREVOUT_CONFLICT refusal, exit 2, and the honest bump, mined) and one exit-4 refusal (E_TRUC_PARENT_SPENT) keep the process.
   */
  const { step: via, spawned } = inProcessUnlessSpawned();
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
  /** `walletcreatefundedpsbt` of `wallet` (default: the node's) paying `sat` to one of its own `type` addresses, change of that type. */
  const walletPsbt = async (sat = 50_000n, type = 'bech32', wallet = n.wallet) => {
    const address = await wallet.call<string>('getnewaddress', ['', type]);
    const created = await wallet.call<{ psbt: string }>('walletcreatefundedpsbt', [[], [{ [address]: satsToBtc(sat) }], 0, { fee_rate: 1, change_type: type }]);
    return file('wallet.json', JSON.stringify(created));
  };
  /** A zero-fee v3 parent of a fresh anyone-can-spend coin, with a 0-sat anchor, as a hex file. */
  const zeroFeeParent = async () => {
    const c = await coin(OP_TRUE_SCRIPT);
    const path = file('parent.hex', buildTx(3, [spendAnyone(c.txid, c.vout)], [{ amount: c.amount, script: ANYONE }, { amount: 0n, script: P2A }]).hex);
    return { path, prevout: `${c.txid}:${c.vout}:${c.amount}:${Buffer.from(c.script).toString('hex')}` };
  };
  const zeroFeeParentFile = async () => (await zeroFeeParent()).path;
  const child = (parentFile: string, wallet: string, feeRate: string, extra: string[] = []) => via(['package', 'child', '--parent', parentFile, '--wallet-psbt', wallet, '--fee-rate', feeRate, ...extra, ...net()]);
  /**
   * Sign the child with the wallet, submit `parent` (a file: package child's message, or the parent's PSBT) + the child
   * with `package submit`, and return Core's package rate (sat/vB) from getmempoolentry.
   */
  const signSubmit = async (msg: ChildMessage, parent = file('child.json', JSON.stringify(msg)), wallet = n.wallet) => {
    const s = await wallet.call<{ psbt: string; complete: boolean }>('walletprocesspsbt', [msg.psbt]);
    expect(s.complete).toBe(true);
    const sub = await via(['package', 'submit', '--parent', parent, '--child', file('signed.json', JSON.stringify(s)), ...net()]);
    expect(sub.status, describeRun(sub)).toBe(0);
    const [p, c] = [await rpc<MempoolEntry>('getmempoolentry', [msg.parent.txid]), await rpc<MempoolEntry>('getmempoolentry', [msg.child.txid])];
    return Math.round((p.fees.base + c.fees.base) * 1e8) / (p.vsize + c.vsize);
  };
  const mined = async (txids: string[]) => {
    await n.mine(1);
    const pool = await rpc<string[]>('getrawmempool');
    for (const t of txids) expect(pool).not.toContain(t);
  };

  /** The node wallet's test master key (tprv), for descriptors of wallets made here. */
  let master = '';
  const key = (path: string) => `${master}/${path}/*`;
  const H = '50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0';
  /**
   * A wallet whose active descriptors are `descriptor(0)` (receive) and `descriptor(1)` (change) for their address type,
   * plus p2sh-segwit ones; funded with 0.01 BTC at a `fundType` address (mine to confirm).
   */
  const scriptWallet = async (name: string, descriptor: (branch: number) => string, fundType: string) => {
    await rpc('createwallet', [name, false, true]);
    const w = n.node.rpc.forWallet(name);
    const descs = [descriptor(0), descriptor(1), `sh(wpkh(${key('49h/1h/9h/0')}))`, `sh(wpkh(${key('49h/1h/9h/1')}))`];
    const withChecksum = async (desc: string) => `${desc}#${(await rpc<{ checksum: string }>('getdescriptorinfo', [desc])).checksum}`;
    const imported = await w.call<{ success: boolean }[]>('importdescriptors', [await Promise.all(descs.map(async (desc, i) => ({ desc: await withChecksum(desc), active: true, internal: i % 2 === 1, range: [0, 20], timestamp: 'now' })))]);
    expect(imported.map((r) => r.success), name).toEqual([true, true, true, true]);
    await n.wallet.call('sendtoaddress', [await w.call<string>('getnewaddress', ['', fundType]), 0.01]);
    return w;
  };

  beforeAll(async () => {
    assertBuilt();
    work = tempDir('offchain-regtest-truc-attacks-');
    // An odd -incrementalrelayfee (0.333 sat/vB; Core then also raises -minrelaytxfee to it): what a replacement pays on top.
    n = await startFundedNode(BITCOIND!, 'truc-attacks', ['-txindex=0', '-incrementalrelayfee=0.00000333']);
    expect(await rpc<Record<string, unknown>>('getindexinfo')).toEqual({});
    master = (await n.wallet.call<{ descriptors: { desc: string }[] }>('listdescriptors', [true])).descriptors
      .map((d) => /^pkh\((tprv[1-9A-HJ-NP-Za-km-z]+)\//.exec(d.desc)?.[1]).find((x) => x !== undefined)!;
  }, 120_000);
  afterAll(async () => {
    await n?.stop();
    work?.cleanup();
  });

  it('a misstated script hiding the parent\'s sigops (a node that cannot show the input): refused naming the parent; the honest PSBT is bumped to the asked rate as Core measures it, and mined', () => spawned(async () => {
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
    const lieFile = parentPsbt(parent, c, { amount: c.amount, script: SOME_P2TR }, [heavy]);
    const lie = await child(lieFile, wallet, '10');
    // The in-process CLI (the file's other steps) refuses alike: the same exit code and the same line on stderr.
    const lieHere = await offchainInProcess(['package', 'child', '--parent', lieFile, '--wallet-psbt', wallet, '--fee-rate', '10', ...net()]);
    expect([lieHere.status, lieHere.stderr, lieHere.stdout]).toEqual([lie.status, lie.stderr, lie.stdout]);
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
  }));

  it('finding 7\'s check, attacked: Core\'s own taproot change record moved onto its key tweaked by a tree with a stranger\'s leaf is refused (it passed); wallets whose change is a script tree, multi_a under H, or wsh(multi) still bump, signed, submitted and mined', async () => {
    const parentFile = await zeroFeeParentFile();
    // The forgery: Core's bech32m change record (internal key K, no leaf) left as it is; the output becomes
    // tr(K, pk(stranger)) — K's key path is the wallet's, but the stranger spends by the script path.
    const created = JSON.parse(readFileSync(await walletPsbt(50_000n, 'bech32m'), 'utf8')) as { psbt: string };
    const tx = Transaction.fromPSBT(base64.decode(created.psbt), { allowUnknownOutputs: true });
    const at = Array.from({ length: tx.outputsLength }, (_, i) => i).find((i) => tx.getOutput(i).tapBip32Derivation?.some(([, d]) => d.hashes.length === 0))!;
    const K = tx.getOutput(at).tapInternalKey!;
    expect(Buffer.from(tx.getOutput(at).script!)).toEqual(Buffer.from(taprootOutput(K).script)); // Core's own: BIP-86
    const leaf = Uint8Array.from([0x20, ...publicKeyOf(new Uint8Array(32).fill(9)).subarray(1), 0xac]);
    const leafHash = taggedHash('TapLeaf', Uint8Array.of(0xc0, leaf.length), leaf);
    tx.updateOutput(at, { script: taprootOutput(K, leafHash).script, tapTree: [{ depth: 0, version: 0xc0, script: leaf }] }, true);
    const forged = await child(parentFile, file('forged.json', JSON.stringify({ psbt: base64.encode(tx.toPSBT()) })), '2');
    // Before the fix: exit 0 — a child paying (part of) the wallet's coins to an output the stranger can take.
    expect([forged.status, errorCode(forged), forged.stdout], describeRun(forged)).toEqual([4, 'E_WALLET_PSBT_OUTPUT', '']);

    // Core wallets whose own outputs (the payment and the change) are scripts, funding the child from p2sh-segwit
    // coins (an input the child can size before it is signed): every descriptor from one test master key (the node
    // wallet's), each wallet signing alone.
    const wallets: [string, string, (branch: number) => string][] = [
      ['tree', 'bech32m', (b) => `tr(${key(`86h/1h/1h/${b}`)},{pk(${key(`86h/1h/2h/${b}`)}),pk(${key(`86h/1h/3h/${b}`)})})`],
      ['numsmulti', 'bech32m', (b) => `tr(${H},multi_a(2,${key(`87h/1h/1h/${b}`)},${key(`87h/1h/2h/${b}`)}))`],
      ['wshmulti', 'bech32', (b) => `wsh(multi(2,${key(`48h/1h/1h/2h/${b}`)},${key(`48h/1h/2h/2h/${b}`)}))`],
    ];
    for (const [name, , descriptor] of wallets) await scriptWallet(name, descriptor, 'p2sh-segwit');
    await n.mine(1);
    for (const [name, type] of wallets) {
      const w = n.node.rpc.forWallet(name);
      const wf = await walletPsbt(50_000n, type, w);
      const outs = Transaction.fromPSBT(base64.decode((JSON.parse(readFileSync(wf, 'utf8')) as { psbt: string }).psbt), { allowUnknownOutputs: true });
      expect(Array.from({ length: outs.outputsLength }, (_, i) => outs.getOutput(i).script![0]), name).toEqual([type === 'bech32' ? 0x00 : 0x51, type === 'bech32' ? 0x00 : 0x51]);
      const msg = messageOf<ChildMessage>(await child(await zeroFeeParentFile(), wf, '3'), 'package/child');
      const rate = await signSubmit(msg, undefined, w);
      expect(rate, name).toBeGreaterThanOrEqual(3);
      await mined([msg.parent.txid, msg.child.txid]);
    }
  });

  it('a wallet whose coins are taproot outputs with a script tree: spent by the key path (its merkle root passed on; before: E_INTERNAL, exit 1), signed, submitted and mined; coins under H (script path only) are E_WALLET_PSBT_INPUT', async () => {
    const tree = await scriptWallet('treecoins', (b) => `tr(${key(`86h/1h/4h/${b}`)},{pk(${key(`86h/1h/5h/${b}`)}),pk(${key(`86h/1h/6h/${b}`)})})`, 'bech32m');
    const nums = await scriptWallet('numscoins', (b) => `tr(${H},multi_a(1,${key(`87h/1h/4h/${b}`)},${key(`87h/1h/5h/${b}`)}))`, 'bech32m');
    await n.mine(1);
    const built = await child(await zeroFeeParentFile(), await walletPsbt(50_000n, 'bech32m', tree), '4');
    const msg = messageOf<ChildMessage>(built, 'package/child');
    const rate = await signSubmit(msg, undefined, tree);
    expect(rate).toBeGreaterThanOrEqual(4);
    expect(rate).toBeLessThan(4.1); // sized as the key-path spend the wallet made
    await mined([msg.parent.txid, msg.child.txid]);
    const refused = await child(await zeroFeeParentFile(), await walletPsbt(50_000n, 'bech32m', nums), '4');
    expect([refused.status, errorCode(refused), refused.stdout], describeRun(refused)).toEqual([4, 'E_WALLET_PSBT_INPUT', '']);
  });

  it('--replaces on a node whose -incrementalrelayfee is not Core\'s default: the new child pays the earlier one\'s fee plus the NODE\'s incremental fee on its size (before: 0.1 sat/vB, refused by the node), evicts it, and is mined', async () => {
    expect((await rpc<{ incrementalrelayfee: number }>('getmempoolinfo')).incrementalrelayfee).toBe(0.00000333);
    const { path: parentFile, prevout } = await zeroFeeParent();
    const first = messageOf<ChildMessage>(await child(parentFile, await walletPsbt(), '2'), 'package/child');
    const s1 = await n.wallet.call<{ psbt: string; complete: boolean; hex: string }>('walletprocesspsbt', [first.psbt]);
    const sub1 = await via(['package', 'submit', '--parent', file('child.json', JSON.stringify(first)), '--child', file('signed.json', JSON.stringify(s1)), ...net()]);
    expect(sub1.status, describeRun(sub1)).toBe(0);
    // The same rate again: the floor is what decides the new child's fee. The parent is given as its hex with --prevout
    // (its funding is confirmed and the node has no -txindex: the file's word, vouched by getmempoolentry).
    const second = messageOf<ChildMessage>(await child(parentFile, await walletPsbt(), '2', ['--replaces', file('first.json', JSON.stringify(s1)), '--prevout', prevout]), 'package/child');
    const s2 = await n.wallet.call<{ psbt: string; complete: boolean }>('walletprocesspsbt', [second.psbt]);
    const sub2 = await via(['package', 'submit', '--parent', file('child.json', JSON.stringify(second)), '--child', file('signed.json', JSON.stringify(s2)), '--prevout', prevout, ...net()]);
    // Before the fix: E_BROADCAST_REJECTED — "insufficient fee, not enough additional fees to relay".
    expect(sub2.status, describeRun(sub2)).toBe(0);
    expect(messageOf<{ replaced_transactions: string[] }>(sub2, 'package/submitted').replaced_transactions).toEqual([first.child.txid]);
    const fee2 = Math.round((await rpc<MempoolEntry>('getmempoolentry', [second.child.txid])).fees.base * 1e8);
    expect(fee2).toBeGreaterThanOrEqual(first.child.fee_sat + Math.ceil((333 * second.child.vsize_max) / 1000) - 1);
    await mined([second.parent.txid, second.child.txid]);
  });

  it('the documented re-bump on a node without -txindex (the parent and a first child in its mempool, their funding confirmed): package child --parent <the first package/child> --replaces <the mempool\'s raw hex>, then package submit --parent <the new package/child>, with nothing else given — bumped and mined (before: E_TRUC_PREVOUT at each step)', async () => {
    const parentFile = await zeroFeeParentFile();
    const first = messageOf<ChildMessage>(await child(parentFile, await walletPsbt(), '2'), 'package/child');
    const s1 = await n.wallet.call<{ psbt: string; complete: boolean; hex: string }>('walletprocesspsbt', [first.psbt]);
    const firstFile = file('child.json', JSON.stringify(first));
    const sub1 = await via(['package', 'submit', '--parent', firstFile, '--child', file('signed.json', JSON.stringify(s1)), ...net()]);
    expect(sub1.status, describeRun(sub1)).toBe(0);
    // Whoever made the first child, what the mempool shows of it is its raw hex.
    const mempoolHex = await rpc<string>('getrawtransaction', [first.child.txid]);
    const secondRun = await child(firstFile, await walletPsbt(), '6', ['--replaces', file('first.hex', mempoolHex)]);
    const second = messageOf<ChildMessage>(secondRun, 'package/child');
    expect(second.parent.inputs_on_trust).toEqual([]);
    const rate = await signSubmit(second);
    expect(rate).toBeGreaterThanOrEqual(6);
    expect(rate).toBeLessThan(6.1);
    expect(await rpc<string[]>('getrawmempool')).not.toContain(first.child.txid);
    await mined([second.parent.txid, second.child.txid]);
  });

  it('the wallet PSBT\'s own inputs are the node\'s word too: one whose witness_utxo overstates the coin (the wallet signs the true amount, so the child pays that much less) is refused naming it; an unconfirmed coin (a second unconfirmed parent: Core refuses the child) is E_WALLET_PSBT_INPUT; the honest one is bumped and mined', async () => {
    const parentFile = await zeroFeeParentFile();
    const honestFile = await walletPsbt(50_000n);
    const honest = Transaction.fromPSBT(base64.decode((JSON.parse(readFileSync(honestFile, 'utf8')) as { psbt: string }).psbt), { allowUnknownOutputs: true });
    // The lie: input 0's witness_utxo 300 sat above the coin (its non_witness_utxo, which would contradict it, removed).
    const forged = honest.clone();
    const u = forged.getInput(0).witnessUtxo!;
    forged.updateInput(0, { nonWitnessUtxo: undefined }, true);
    forged.updateInput(0, { witnessUtxo: { script: u.script, amount: u.amount + 300n } }, true);
    const lie = await child(parentFile, file('forged.json', JSON.stringify({ psbt: base64.encode(forged.toPSBT()) })), '5');
    // Before the fix: exit 0, and the signed package went out ~300 sat under the asked 5 sat/vB.
    expect([lie.status, errorCode(lie), lie.stdout], describeRun(lie)).toEqual([2, 'E_TRUC_PREVOUT_CONFLICT', '']);
    expect(lie.stderr).toContain(`${Buffer.from(honest.getInput(0).txid!).toString('hex')}:${honest.getInput(0).index}`);

    // A coin the wallet has not confirmed yet: its only coin is the change of a payment still in the mempool.
    await rpc('createwallet', ['unconfirmed']);
    const w = n.node.rpc.forWallet('unconfirmed');
    await n.wallet.call('sendtoaddress', [await w.call<string>('getnewaddress', ['', 'bech32']), 0.01]);
    await n.mine(1);
    await w.call('sendtoaddress', [await n.wallet.call<string>('getnewaddress'), 0.002]);
    const pending = await child(parentFile, await walletPsbt(50_000n, 'bech32', w), '5');
    // Before the fix: exit 0 — and the node refuses the package ("TRUC-violation … would have too many ancestors").
    expect([pending.status, errorCode(pending), pending.stdout], describeRun(pending)).toEqual([4, 'E_WALLET_PSBT_INPUT', '']);

    const msg = messageOf<ChildMessage>(await child(parentFile, honestFile, '5'), 'package/child');
    const rate = await signSubmit(msg);
    expect(rate).toBeGreaterThanOrEqual(5);
    await mined([msg.parent.txid, msg.child.txid]);
  });

  describe('a parent the mempool or the chain already judged (a counterparty hands over a stale or conflicting parent)', () => {
    /** A confirmed anyone-can-spend coin, and a zero-fee v3 parent of it with a 0-sat anchor. */
    const parentOf = async () => {
      const c = await coin(OP_TRUE_SCRIPT);
      const parent = buildTx(3, [spendAnyone(c.txid, c.vout)], [{ amount: c.amount, script: ANYONE }, { amount: 0n, script: P2A }]);
      return { c, parent, path: file('parent.hex', parent.hex), prevout: `${c.txid}:${c.vout}:${c.amount}:${Buffer.from(c.script).toString('hex')}` };
    };

    it('its input already spent on chain by another transaction: E_TRUC_PARENT_SPENT (4), nothing printed (before: E_TRUC_PREVOUT, or with --prevout a child for a parent that can never confirm, exit 0)', () => spawned(async () => {
      const { c, path, prevout } = await parentOf();
      const other = buildTx(3, [spendAnyone(c.txid, c.vout)], [{ amount: c.amount - 1_000n, script: ANYONE }]);
      expect(await rpc<string>('sendrawtransaction', [other.hex])).toBe(other.parsed.txid);
      await n.mine(1);
      const r = await child(path, await walletPsbt(), '2', ['--prevout', prevout]);
      expect([r.status, errorCode(r), r.stdout], describeRun(r)).toEqual([4, 'E_TRUC_PARENT_SPENT', '']);
    }));

    it('its input an output of a transaction still in the mempool (a TRUC child cannot have a child): E_TRUC_TOO_MANY_ANCESTORS (v3) or E_TRUC_INHERITANCE (v2) with Core\'s reason, as Core refuses the package (before: exit 0)', async () => {
      for (const version of [3, 2]) {
        const c = await coin(OP_TRUE_SCRIPT);
        const g = buildTx(version, [spendAnyone(c.txid, c.vout)], [{ amount: c.amount - 1_000n, script: ANYONE }]);
        expect(await rpc<string>('sendrawtransaction', [g.hex])).toBe(g.parsed.txid);
        const parent = buildTx(3, [spendAnyone(g.parsed.txid, 0)], [{ amount: c.amount - 1_000n, script: ANYONE }, { amount: 0n, script: P2A }]);
        const r = await child(file('parent.hex', parent.hex), await walletPsbt(), '2');
        expect([r.status, errorCode(r), r.stdout], describeRun(r)).toEqual([4, version === 3 ? 'E_TRUC_TOO_MANY_ANCESTORS' : 'E_TRUC_INHERITANCE', '']);
        expect(r.stderr).toContain('Bitcoin Core: "TRUC-violation');
        await n.mine(1);
      }
    });

    it('its input spent in the mempool by a conflicting transaction (the other side\'s version, at 40 sat/vB): the child pays for package RBF — the conflict\'s fee plus the incremental fee on the package, above its feerate — and the package replaces it and is mined (before: a 2 sat/vB child, "package RBF failed: insufficient anti-DoS fees")', async () => {
      const { c, parent, path, prevout } = await parentOf();
      const theirs = buildTx(3, [spendAnyone(c.txid, c.vout)], [{ amount: c.amount - 4_400n, script: ANYONE }]);
      expect(await rpc<string>('sendrawtransaction', [theirs.hex])).toBe(theirs.parsed.txid);
      // The node shows the coin neither unspent nor (no -txindex) from its funding: the claim is vouched for by the
      // conflicting transaction's mempool entry. A claim 1 sat over is refused.
      const over = `${c.txid}:${c.vout}:${c.amount + 1n}:${Buffer.from(c.script).toString('hex')}`;
      const lie = await child(path, await walletPsbt(), '2', ['--prevout', over]);
      expect([lie.status, errorCode(lie), lie.stdout], describeRun(lie)).toEqual([2, 'E_TRUC_PREVOUT_CONFLICT', '']);
      const built = await child(path, await walletPsbt(), '2', ['--prevout', prevout]);
      const msg = messageOf<ChildMessage>(built, 'package/child');
      expect(built.stderr).toContain(`the parent conflicts with ${theirs.parsed.txid}`);
      // Core's terms, in test code: the package pays the 4,400 sat it evicts plus 0.333 sat/vB on its own size.
      expect(msg.child.fee_sat).toBeGreaterThanOrEqual(4_400 + Math.ceil((333 * (parent.parsed.vsize + msg.child.vsize_max)) / 1000));
      const s = await n.wallet.call<{ psbt: string; complete: boolean }>('walletprocesspsbt', [msg.psbt]);
      const sub = await via(['package', 'submit', '--parent', file('child.json', JSON.stringify(msg)), '--child', file('signed.json', JSON.stringify(s)), ...net()]);
      expect(sub.status, describeRun(sub)).toBe(0);
      expect(messageOf<{ replaced_transactions: string[] }>(sub, 'package/submitted').replaced_transactions).toEqual([theirs.parsed.txid]);
      await mined([parent.parsed.txid, msg.child.txid]);
    });
  });

  it('--replaces at a lower rate with a larger child (three coins where the first had one): the new package still improves the feerate diagram — its fee per weight above the earlier package\'s chunk — so the node swaps them, and it is mined', async () => {
    // Three small coins of a fresh wallet (confirmed first): a child about twice the first one's size.
    await rpc('createwallet', ['threecoins']);
    const w = n.node.rpc.forWallet('threecoins');
    for (let i = 0; i < 3; i++) await n.wallet.call('sendtoaddress', [await w.call<string>('getnewaddress', ['', 'bech32']), 0.0003]);
    const parentFile = await zeroFeeParentFile(); // mines a block: the three coins confirm
    // The first child spends exactly one wallet coin (the largest): left to coin selection, the main wallet's
    // small change outputs from earlier tests made it a two-coin child now and then, as large as the second.
    const coins = await n.wallet.call<{ txid: string; vout: number; amount: number }[]>('listunspent', [1]);
    const big = coins.reduce((a, b) => (b.amount > a.amount ? b : a));
    const one = await n.wallet.call<{ psbt: string }>('walletcreatefundedpsbt', [[{ txid: big.txid, vout: big.vout }], [{ [await n.wallet.call<string>('getnewaddress', ['', 'bech32'])]: 0.0005 }], 0, { fee_rate: 1, add_inputs: false }]);
    const first = messageOf<ChildMessage>(await child(parentFile, file('wallet.json', JSON.stringify(one)), '10'), 'package/child');
    const s1 = await n.wallet.call<{ psbt: string; complete: boolean; hex: string }>('walletprocesspsbt', [first.psbt]);
    const firstFile = file('child.json', JSON.stringify(first));
    const sub1 = await via(['package', 'submit', '--parent', firstFile, '--child', file('signed.json', JSON.stringify(s1)), ...net()]);
    expect(sub1.status, describeRun(sub1)).toBe(0);
    const created = await w.call<{ psbt: string }>('walletcreatefundedpsbt', [[], [{ [await w.call<string>('getnewaddress', ['', 'bech32'])]: 0.0008 }], 0, { fee_rate: 1 }]);
    const second = messageOf<ChildMessage>(await child(firstFile, file('wallet.json', JSON.stringify(created)), '2', ['--replaces', file('first.hex', s1.hex)]), 'package/child');
    expect(second.child.vsize_max).toBeGreaterThan(first.child.vsize_max + 100);
    const s2 = await w.call<{ psbt: string; complete: boolean }>('walletprocesspsbt', [second.psbt]);
    const sub2 = await via(['package', 'submit', '--parent', file('child.json', JSON.stringify(second)), '--child', file('signed.json', JSON.stringify(s2)), ...net()]);
    expect(sub2.status, describeRun(sub2)).toBe(0);
    expect(messageOf<{ replaced_transactions: string[] }>(sub2, 'package/submitted').replaced_transactions).toEqual([first.child.txid]);
    await mined([second.parent.txid, second.child.txid]);
  });
});
