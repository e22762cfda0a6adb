/**
 * `package child` and `package submit` (issue 24, step 1) against a real `bitcoind
 * -regtest`, through the built CLI: a zero-fee TRUC parent with a pay-to-anchor, which
 * the node refuses alone, bumped by a child built from the node wallet's
 * `walletcreatefundedpsbt` answer, signed by `walletprocesspsbt`, submitted and mined —
 * the package paying the asked rate as Core measures it. Then: a second child replacing
 * the first by TRUC sibling eviction (and the node refusing one that does not pay
 * more, with nothing accepted); a child spending the caller's own parent output instead
 * of an anchor; and the refusals made before anything is printed (a wallet PSBT paying
 * a stranger, a v2 parent, a child over 1,000 vB — the same reason as Core's). Parents
 * are built by hand in test code (test/lib/truc/build.ts: anyone-can-spend coins, no
 * signatures). Skipped visibly without a bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { satsToBtc } from '../../src/lib/chain/amount.ts';
import { tempDir } from '../helpers.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode, type OutPoint } from './funded-node.ts';
import { assertBuilt, describeRun, errorCode, messageOf, offchain } from './offchain-cli.ts';
import { inProcessUnlessSpawned, offchainInProcess } from './in-process-cli.ts';
import { Value } from '@sinclair/typebox/value';
import { base64 } from '@scure/base';
import { Transaction } from '@scure/btc-signer';
import { PackageChildSchema, PackageSubmittedSchema } from '../../src/lib/truc/schemas.ts';
import { ANYONE, P2A, buildTx, spendAnyone, type Built } from '../lib/truc/build.ts';

const BITCOIND = findBitcoind();
const COIN = 100_000n;

type ChildMessage = { type: string; parent: { txid: string; fee_sat: number }; child: { txid: string; fee_sat: number; vsize_max: number }; package: { fee_sat: number; vsize_max: number }; psbt: string; replaces?: { txid: string; fee_sat: number } };
type Submitted = { type: string; package_msg: string; parent: { txid: string }; child: { txid: string; fees_sat?: number; vsize?: number }; replaced_transactions: string[] };
type MempoolEntry = { vsize: number; fees: { base: number } };

describe.skipIf(!BITCOIND)(`package child / package submit on regtest${BITCOIND ? '' : ' (SKIPPED: no bitcoind; set BITCOIND)'}`, () => {
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
  /**
   * How a step runs: the built CLI's `main` in-process (in-process-cli.ts), or spawned inside `spawned(...)` —
   * the narrated bump (the first test) and the refusals' samples (E_WALLET_PSBT_OUTPUT, E_TRUC_VERSION, E_TRUC_CHILD_TOO_BIG) keep the process.
   */
  const { step: via, spawned } = inProcessUnlessSpawned();

  /** A coin locked to P2WSH(OP_TRUE), confirmed. */
  const anyoneCoin = async (): Promise<OutPoint & { amount: bigint }> => ({ ...(await n.fund(anyoneAddress, COIN)), amount: COIN });
  /** A zero-fee v3 parent: the whole coin to an anyone-can-spend output, and a 0-sat P2A. */
  const zeroFeeParent = (c: OutPoint & { amount: bigint }, version = 3): Built => buildTx(version, [spendAnyone(c.txid, c.vout)], [{ amount: c.amount, script: ANYONE }, { amount: 0n, script: P2A }]);
  /** The wallet's walletcreatefundedpsbt answer paying `sat` to one of its own addresses (or `to`), as a file. */
  const walletPsbt = async (sat = 50_000n, to?: string, options: Record<string, unknown> = {}) => {
    const address = to ?? (await n.wallet.call<string>('getnewaddress', ['', 'bech32']));
    const created = await n.wallet.call<{ psbt: string }>('walletcreatefundedpsbt', [[], [{ [address]: satsToBtc(sat) }], 0, { fee_rate: 1, ...options }]);
    return file('wallet.json', JSON.stringify(created));
  };
  const child = async (parentFile: string, wallet: string, feeRate: string, extra: string[] = []) => via(['package', 'child', '--parent', parentFile, '--wallet-psbt', wallet, '--fee-rate', feeRate, ...extra, ...net()]);
  const sign = async (psbt: string) => {
    const signed = await n.wallet.call<{ psbt: string; complete: boolean; hex: string }>('walletprocesspsbt', [psbt]);
    expect(signed.complete).toBe(true);
    return file('signed.json', JSON.stringify(signed));
  };
  const submit = (parentFile: string, childFile: string) => via(['package', 'submit', '--parent', parentFile, '--child', childFile, ...net()]);
  const confirmations = async (txid: string) => (await n.node.rpc.call<{ confirmations?: number }>('getrawtransaction', [txid, 1])).confirmations ?? 0;

  beforeAll(async () => {
    assertBuilt();
    work = tempDir('offchain-regtest-truc-child-');
    n = await startFundedNode(BITCOIND!, 'truc-child');
    anyoneAddress = (await n.node.rpc.call<{ segwit: { address: string } }>('decodescript', ['51'])).segwit.address;
  }, 120_000);
  afterAll(async () => {
    await n?.stop();
    work?.cleanup();
  });

  it('a zero-fee parent refused alone is bumped by a wallet-funded child to 5 sat/vB, submitted and mined; Core measures the package at 5 sat/vB or just above', () => spawned(async () => {
    const parent = zeroFeeParent(await anyoneCoin());
    // The parent alone: zero fee, refused by the node.
    expect((await n.mempool(parent.hex))['reject-reason']).toBe('min relay fee not met');
    const r = await child(file('parent.hex', parent.hex), await walletPsbt(), '5');
    const msg = messageOf<ChildMessage>(r, 'package/child');
    expect(msg.parent).toMatchObject({ txid: parent.parsed.txid, fee_sat: 0 });
    const childMsg = file('child.json', r.stdout);
    const s = await submit(childMsg, await sign(msg.psbt));
    const done = messageOf<Submitted>(s, 'package/submitted');
    expect(done.package_msg).toBe('success');
    expect(done.child.txid).toBe(msg.child.txid); // the txid known before signing
    expect([...Value.Errors(PackageChildSchema, msg)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
    expect([...Value.Errors(PackageSubmittedSchema, done)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
    const entry = await n.node.rpc.call<MempoolEntry>('getmempoolentry', [msg.child.txid]);
    const parentEntry = await n.node.rpc.call<MempoolEntry>('getmempoolentry', [parent.parsed.txid]);
    const fee = Math.round((entry.fees.base + parentEntry.fees.base) * 1e8);
    const rate = fee / (entry.vsize + parentEntry.vsize);
    expect(rate).toBeGreaterThanOrEqual(5);
    expect(rate).toBeLessThan(5.05); // sized on the child's largest signature: at most a vbyte or two over
    expect(entry.vsize).toBeLessThanOrEqual(msg.child.vsize_max);
    await n.mine(1);
    expect(await confirmations(parent.parsed.txid)).toBe(1);
    expect(await confirmations(msg.child.txid)).toBe(1);
  }));

  it('a second child replaces the first (TRUC sibling eviction) with --replaces; one that does not pay more is refused by the node, nothing replaced', async () => {
    const parent = zeroFeeParent(await anyoneCoin());
    const parentFile = file('parent.hex', parent.hex);
    const first = messageOf<ChildMessage>(await child(parentFile, await walletPsbt(), '2'), 'package/child');
    const firstSigned = await sign(first.psbt);
    messageOf<Submitted>(await submit(file('child.json', JSON.stringify(first)), firstSigned), 'package/submitted');
    // Another child at the same rate, from other coins (the first's are spent in the mempool): the node keeps the first.
    const same = messageOf<ChildMessage>(await child(parentFile, await walletPsbt(), '2'), 'package/child');
    const refused = await submit(file('child.json', JSON.stringify(same)), await sign(same.psbt));
    expect(refused.status, describeRun(refused)).toBe(4);
    expect(errorCode(refused)).toBe('E_BROADCAST_REJECTED');
    expect(refused.stdout).toBe('');
    expect(await n.node.rpc.call<string[]>('getrawmempool')).toContain(first.child.txid);
    // With --replaces: at least the first's fee plus 0.1 sat/vB of its own size; the node evicts the first.
    const second = messageOf<ChildMessage>(await child(parentFile, await walletPsbt(), '2', ['--replaces', firstSigned]), 'package/child');
    expect(second.replaces).toEqual({ txid: first.child.txid, fee_sat: first.child.fee_sat });
    expect(second.child.fee_sat).toBeGreaterThanOrEqual(first.child.fee_sat + Math.ceil(second.child.vsize_max / 10));
    const done = messageOf<Submitted>(await submit(file('child.json', JSON.stringify(second)), await sign(second.psbt)), 'package/submitted');
    expect(done.replaced_transactions).toEqual([first.child.txid]);
    const pool = await n.node.rpc.call<string[]>('getrawmempool');
    expect(pool).not.toContain(first.child.txid);
    await n.mine(1);
    expect(await confirmations(second.child.txid)).toBe(1);
    expect(await confirmations(parent.parsed.txid)).toBe(1);
  });

  it('a child spending the caller\'s own parent output (--spend, no anchor): the wallet signs both inputs; mined', async () => {
    const coin = await anyoneCoin();
    const own = await n.wallet.call<string>('getnewaddress', ['', 'bech32m']);
    const ownScript = (await n.wallet.call<{ scriptPubKey: string }>('getaddressinfo', [own])).scriptPubKey;
    const parent = buildTx(3, [spendAnyone(coin.txid, coin.vout)], [{ amount: coin.amount, script: Buffer.from(ownScript, 'hex') }]);
    const msg = messageOf<ChildMessage>(await child(file('parent.hex', parent.hex), await walletPsbt(), '3', ['--spend', '0']), 'package/child');
    const done = messageOf<Submitted>(await submit(file('child.json', JSON.stringify(msg)), await sign(msg.psbt)), 'package/submitted');
    expect(done.package_msg).toBe('success');
    await n.mine(1);
    expect(await confirmations(msg.child.txid)).toBe(1);
  });

  it('refusals before anything is printed: a wallet PSBT paying a stranger, a v2 parent, a child over 1,000 vB (Core\'s reason)', () => spawned(async () => {
    const parent = zeroFeeParent(await anyoneCoin());
    const parentFile = file('parent.hex', parent.hex);
    const stranger = await child(parentFile, await walletPsbt(50_000n, anyoneAddress), '2');
    expect([stranger.status, errorCode(stranger), stranger.stdout]).toEqual([4, 'E_WALLET_PSBT_OUTPUT', '']);

    const v2Args = [file('parent.hex', zeroFeeParent(await anyoneCoin(), 2).hex), await walletPsbt(), '2'] as const;
    const v2 = await child(...v2Args);
    expect([v2.status, errorCode(v2), v2.stdout]).toEqual([4, 'E_TRUC_VERSION', '']);
    // The in-process CLI (the file's other steps) refuses alike: the same exit code and the same line on stderr.
    const v2Here = await offchainInProcess(['package', 'child', '--parent', v2Args[0], '--wallet-psbt', v2Args[1], '--fee-rate', v2Args[2], ...net()]);
    expect([v2Here.status, v2Here.stderr, v2Here.stdout]).toEqual([v2.status, v2.stderr, '']);

    // Sixteen small P2WPKH coins of the wallet's, all spent by one child: 16 × 68 vB is over 1,000.
    const address = await n.wallet.call<string>('getnewaddress', ['', 'bech32']);
    const small: { txid: string; vout: number }[] = [];
    for (let i = 0; i < 16; i++) {
      const txid = await n.wallet.call<string>('sendtoaddress', [address, 0.0001]);
      const tx = await n.wallet.call<{ details: { vout: number; address: string; category: string }[] }>('gettransaction', [txid]);
      small.push({ txid, vout: tx.details.find((d) => d.address === address && d.category === 'receive')!.vout });
    }
    await n.mine(1);
    const created = await n.wallet.call<{ psbt: string }>('walletcreatefundedpsbt', [small, [{ [await n.wallet.call<string>('getnewaddress', ['', 'bech32'])]: 0.001 }], 0, { fee_rate: 1, add_inputs: false }]);
    const big = await child(parentFile, file('wallet.json', JSON.stringify(created)), '2');
    expect([big.status, errorCode(big), big.stdout]).toEqual([4, 'E_TRUC_CHILD_TOO_BIG', '']);
    expect(big.stderr).toContain('Bitcoin Core: "TRUC-violation, version=3 child tx');
    expect(readFileSync(parentFile, 'utf8')).toBe(parent.hex);
  }));

  it('issue 37 finding 7: the wallet\'s own outputs of every address type Core makes are proved by their derivation (each child built); Core\'s mark moved onto a stranger\'s script is refused', async () => {
    const parentFile = file('parent.hex', zeroFeeParent(await anyoneCoin()).hex);
    const types = ['bech32', 'bech32m', 'p2sh-segwit', 'legacy'];
    const runs = await Promise.all(types.map(async (type) => {
      const own = await n.wallet.call<string>('getnewaddress', ['', type]);
      // fee_rate 25: at 1 sat/vB Core's coin selection may consolidate a dozen small coins (a child over 1,000 vB).
      return child(parentFile, await walletPsbt(50_000n, own, { change_type: type === 'legacy' ? 'bech32' : type, fee_rate: 25 }), '2');
    }));
    runs.forEach((r, i) => expect(r.status, `${types[i]}: ${describeRun(r)}`).toBe(0));
    // Core's own PSBT, its payment output's script swapped for a stranger's, the wallet's BIP-32 record left on it.
    const own = await n.wallet.call<string>('getnewaddress', ['', 'bech32']);
    const created = JSON.parse(readFileSync(await walletPsbt(50_000n, own), 'utf8')) as { psbt: string };
    const tx = Transaction.fromPSBT(base64.decode(created.psbt), { allowUnknownOutputs: true });
    const ownScript = Buffer.from((await n.wallet.call<{ scriptPubKey: string }>('getaddressinfo', [own])).scriptPubKey, 'hex');
    const at = Array.from({ length: tx.outputsLength }, (_, i) => i).find((i) => Buffer.from(tx.getOutput(i).script!).equals(ownScript))!;
    expect(tx.getOutput(at).bip32Derivation?.length).toBeGreaterThan(0);
    tx.updateOutput(at, { script: ANYONE }, true);
    const forged = await child(parentFile, file('forged.json', JSON.stringify({ psbt: base64.encode(tx.toPSBT()) })), '2');
    expect([forged.status, errorCode(forged), forged.stdout]).toEqual([4, 'E_WALLET_PSBT_OUTPUT', '']);
    expect(forged.stderr).toContain('none of its BIP-32 derivation keys makes');
  });
});
