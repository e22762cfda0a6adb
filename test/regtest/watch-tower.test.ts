/**
 * `offchain watch --tower DIR`, a keyless watchtower, keeps statechain owners' deadlines on a
 * real `bitcoind -regtest` (issue 71 item 5, the statechain half). Alice deposits two coins under
 * anchored terms (zero-fee backups with a P2A anchor) and hands one to Bob, one to Carol; Bob and
 * Carol each export theirs to the tower's directory (`statechain tower-export`, the CLI) and
 * vanish; Carol first hands her coin on to Dave, who does not use the tower — Carol's export is
 * stale. The operator is gone from the transfers on. Only the tower runs — with no key at all, its
 * own state directory, and the node's wallet `tower` for fees.
 *
 * - Bob's backup is final at L₂ = L₁ − 5: the tower sends it with a TRUC child spending its anchor
 *   and a coin of the tower's wallet, and under a fee spike rebids each block up to its budget one
 *   block before the deadline; mined by L₁ − 1; Core refuses Alice's older backup at L₁.
 * - Carol's stale export: Dave's backup (final at L₃ = L₂ − 5, broadcast by Dave, kept out of
 *   blocks) spends the coin in the mempool when Carol's becomes final: the tower waits, never
 *   replaces it, sends nothing; once Dave's is mined the tower is done with the coin, and Core
 *   refuses Carol's backup. Dave exports it after all: the tower keeps his export (the newest), and
 *   with his removed never goes back to Carol's.
 * - Refused before any round: a tower not told which of the node's two wallets pays (E_NO_WALLET).
 *   Run twice at one tip, it holds: nothing is sent twice.
 *
 * Every watcher round is the built CLI, spawned; the setup steps run in-process. Skipped, visibly,
 * without bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { satsToBtc } from '../../src/lib/chain/amount.ts';
import { tempDir } from '../helpers.ts';
import { hexOf, parseTx } from '../independent/tx.ts';
import { KEYS } from '../e2e/statechain-flow.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { assertBuilt, describeRun, messageOf, offchain } from './offchain-cli.ts';
import { offchainInProcess } from './in-process-cli.ts';
import { statechainCoins } from './statechain-coins.ts';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND
  ? `offchain watch --tower keeps anchored statechain backups for their owners on bitcoind -regtest (${BITCOIND})`
  : 'offchain watch --tower on bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

const INTERVAL = 5;
const ANCHORED = ['--interval', String(INTERVAL), '--initial-lock', '+40', '--min-confirmations', '2', '--backup-fee', '0', '--anchor', '--margin', '2'];
/** Regtest's terms are below an owner's default floor: its owners lower theirs to match. */
const FLOOR = ['--min-interval', String(INTERVAL), '--min-margin', '2'];
/** The tower's budget, sat/vB of the package (--max-fee-rate): it pays. */
const BUDGET = 5;
const AMOUNT = 100_000n;
const P2A = '51024e73';

type Decision = { kind: string; contract: string; action: string; deadline: number; blocks_left: number; fee_rate?: number; txid?: string; error?: string; shortfall?: string; reason: string };
type Report = { type: string; tip: { height: number }; reorg?: { depth: number; fork_height?: number }; decisions: Decision[]; summary: { errors: number } };
type Export = { coin_id: string; backup: { n: number; txid: string; locktime: number; hex: string }; previous: { txid: string; locktime: number }; deadline: number; older_txids: string[] };

describe.skipIf(!BITCOIND)(TITLE, () => {
  let work: { path: string; cleanup: () => void };
  let n: FundedNode;
  const coins = { bob: '', carol: '' };
  let L1 = 0;
  let L2 = 0;
  let L3 = 0;
  let bobExport: Export;
  let carolExport: Export;
  /** Dave's own backup and child (he keeps his coin himself), broadcast at L₃ and kept out of blocks until L₂ + 1. */
  let dave = { backup: '', child: '' };
  const rpc = <T>(method: string, params: unknown[] = []) => n.node.rpc.call<T>(method, params);
  const towerWallet = () => n.node.rpc.forWallet('tower');
  const dir = (who: string) => join(work.path, who);
  const towerDir = () => join(work.path, 'tower-drop');

  const step = async (who: string, args: string[], input = '') => {
    const extra = ['statechain-deposit', 'statechain-transfer'].includes(args[0]!) ? FLOOR : [];
    const r = await offchainInProcess([...args, ...extra, '--key-env', who, '--state-dir', dir(who), ...n.chain()], { input, env: KEYS });
    messageOf(r);
    return r.stdout;
  };
  /** One round of the tower, as cron would run it: the built CLI, spawned with no key in its environment. */
  const tower = async (): Promise<Report> => {
    const r = await offchain(['watch', '--tower', towerDir(), '--state-dir', dir('TOWER'), '--rpc-wallet', 'tower', '--max-fee-rate', String(BUDGET), ...n.chain(), '--once'], { env: {} });
    expect(r.status, describeRun(r)).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.type).toBe('watch/report');
    return report;
  };
  const decision = (r: Report, coin: string) => {
    const d = r.decisions.find((x) => x.contract === coin);
    expect(d, JSON.stringify(r)).toBeDefined();
    expect(d!.kind).toBe('tower-statechain');
    return d!;
  };
  const mineTo = async (height: number) => {
    const blocks = height - (await n.tip());
    expect(blocks).toBeGreaterThanOrEqual(0);
    if (blocks > 0) await n.mine(blocks);
  };
  const mempool = async () => (await rpc<string[]>('getrawmempool')).sort();
  const confirmations = async (txid: string) => (await rpc<{ confirmations?: number }>('getrawtransaction', [txid, 1])).confirmations ?? 0;
  const entry = (txid: string) => rpc<{ vsize: number; fees: { base: number }; spentby: string[] }>('getmempoolentry', [txid]);
  /** The fee spike: the transaction's fee taken away from the block template (the next block leaves it out). */
  const outbid = (txid: string, by = -100_000_000) => rpc('prioritisetransaction', [txid, 0, by]);

  const coins_ = statechainCoins({ node: () => n, work: () => work.path, step, amount: AMOUNT });
  /** Alice deposits under anchored terms; the funding sent. */
  const deposit = async () => {
    const d = await coins_.deposit(ANCHORED);
    await rpc('sendrawtransaction', [d.fundingHex]);
    return { coinId: d.coinId, lockTime: d.lockTime };
  };
  const transfer = (coinId: string, sender: string, receiver: string) => coins_.transfer(coinId, sender, receiver);
  /** The owner's hand-over, as an owner would drop it: written aside, renamed into the tower's directory. */
  const exportTo = async (who: string, coinId: string): Promise<Export> => {
    const r = await offchainInProcess(['statechain', 'tower-export', '--coin', coinId, '--key-env', who, '--state-dir', dir(who)], { env: KEYS });
    const m = messageOf<Export>(r, 'statechain/tower-backup');
    // Nothing secret leaves: no key of the owner's (nor any 32-byte secret of the fixtures) is in the message.
    for (const secret of Object.values(KEYS)) expect(r.stdout).not.toContain(secret);
    writeFileSync(join(towerDir(), `.${coinId}.part`), r.stdout);
    renameSync(join(towerDir(), `.${coinId}.part`), join(towerDir(), `${coinId}.json`));
    return m;
  };

  beforeAll(async () => {
    assertBuilt();
    work = tempDir('offchain-regtest-watch-tower-');
    mkdirSync(towerDir());
    n = await startFundedNode(BITCOIND!, 'watch-tower');
    // The tower's own wallet: six confirmed coins of 20,000 sat (each rebid's child takes a fresh one; the replaced child's is freed),
    // taproot, so the child signed is exactly the size it was built for (a P2WPKH signature may come out a byte short: a rate a hair above the bid).
    await rpc('createwallet', ['tower']);
    const pay = Object.fromEntries(await Promise.all(Array.from({ length: 6 }, async () => [await towerWallet().call<string>('getnewaddress', ['', 'bech32m']), satsToBtc(20_000n)])));
    await n.wallet.call('sendmany', ['', pay]);
    const a = await deposit();
    const b = await deposit();
    await n.mine(2);
    L1 = a.lockTime;
    expect(b.lockTime).toBe(L1);
    coins.bob = a.coinId;
    coins.carol = b.coinId;
    L2 = (await transfer(a.coinId, 'ALICE_KEY', 'BOB_KEY')).latest_locktime;
    expect((await transfer(b.coinId, 'ALICE_KEY', 'CAROL_KEY')).latest_locktime).toBe(L2);
    expect(L2).toBe(L1 - INTERVAL);
    bobExport = await exportTo('BOB_KEY', coins.bob);
    carolExport = await exportTo('CAROL_KEY', coins.carol);
    // Carol hands her coin on to Dave after exporting it: her export is now stale. Dave keeps his coin himself.
    L3 = (await transfer(b.coinId, 'CAROL_KEY', 'DAVE_KEY')).latest_locktime;
    expect(L3).toBe(L2 - INTERVAL);
    // The owner's own command refuses a coin it no longer holds.
    const sent = await offchainInProcess(['statechain', 'tower-export', '--coin', coins.carol, '--key-env', 'CAROL_KEY', '--state-dir', dir('CAROL_KEY')], { env: KEYS });
    expect({ status: sent.status, stdout: sent.stdout, code: /error (E_[A-Z_]+)/.exec(sent.stderr)?.[1] }).toEqual({ status: 5, stdout: '', code: 'E_NOT_OWNER' });
    // The operator, Bob and Carol vanish here.
  }, 60_000);
  afterAll(async () => {
    await n?.stop();
    work?.cleanup();
  });

  it('each export says what the tower needs, from the owner\'s chain: the backup (zero fee, a 0-sat P2A), Lₙ, the deadline Lₙ₋₁ − 1 and the older backup; before any backup is final the tower does nothing', async () => {
    expect(bobExport).toMatchObject({ coin_id: coins.bob, backup: { n: 2, locktime: L2 }, previous: { locktime: L1 }, deadline: L1 - 1 });
    expect(bobExport.older_txids).toEqual([bobExport.previous.txid]);
    const backup = parseTx(bobExport.backup.hex);
    expect(backup.outputs.map((o) => [hexOf(o.script).startsWith('5120') ? 'p2tr' : hexOf(o.script), o.amount])).toEqual([['p2tr', AMOUNT], [P2A, 0n]]);
    await mineTo(L3 - 1);
    const r = await tower();
    expect(decision(r, coins.bob)).toMatchObject({ action: 'none', deadline: L1 - 1 });
    expect(decision(r, coins.carol)).toMatchObject({ action: 'none', deadline: L1 - 1 });
    expect(await mempool()).toEqual([]);
    // The node holds two wallets: a tower not told which one pays is refused before any round.
    const unnamed = await offchain(['watch', '--tower', towerDir(), '--state-dir', dir('TOWER'), '--max-fee-rate', String(BUDGET), ...n.chain(), '--once'], { env: {} });
    expect({ status: unnamed.status, stdout: unnamed.stdout, code: /error (E_[A-Z_]+)/.exec(unnamed.stderr)?.[1] }).toEqual({ status: 2, stdout: '', code: 'E_NO_WALLET' });
  }, 60_000);

  it('Dave, the new owner, broadcasts his own backup once final (L₃) and a fee spike keeps it out of blocks: when Carol\'s stale export becomes final the tower waits on it, never replacing it', async () => {
    await mineTo(L3);
    const r = await offchainInProcess(['statechain-backup', '--coin', coins.carol, '--to', n.sweepTo, '--fee-rate', '2', '--broadcast', '--key-env', 'DAVE_KEY', '--state-dir', dir('DAVE_KEY'), ...n.chain()], { env: KEYS });
    const spend = messageOf<{ txid: string; broadcast: { child: { txid: string } } }>(r, 'statechain/spend');
    dave = { backup: spend.txid, child: spend.broadcast.child.txid };
    await outbid(dave.child);
    await mineTo(L2 - 1);
    expect(await mempool()).toEqual([dave.backup, dave.child].sort());
    expect(decision(await tower(), coins.carol).action).toBe('none');
  }, 60_000);

  it('the owners are gone and fees spike: the tower sends Bob\'s backup once final with a child paid from its wallet, rebids each block to its budget one block before the deadline, mined by it; Carol\'s stale export only waits on Dave\'s backup, then is done', async () => {
    await mineTo(L2);
    const towerCoins = new Set((await towerWallet().call<{ txid: string; vout: number }[]>('listunspent')).map((u) => `${u.txid}:${u.vout}`));
    const rates: number[] = [];
    let backup = '';
    for (let tip = L2; tip < L1 - 1; tip++) {
      expect(await n.tip()).toBe(tip);
      const r = await tower();
      const d = decision(r, coins.bob);
      expect(d.action, JSON.stringify(d)).toBe(tip === L2 ? 'backup' : 'rebid');
      expect(d.error).toBeUndefined();
      rates.push(d.fee_rate!);
      backup = d.txid!;
      expect(backup).toBe(bobExport.backup.txid);
      // Carol's stale export: the coin is spent in the mempool by a transaction it does not name (Dave's): waited on, never replaced.
      expect(decision(r, coins.carol)).toMatchObject({ action: 'wait', txid: dave.backup });
      const b = await entry(backup);
      expect(Math.round(b.fees.base * 1e8)).toBe(0);
      expect(b.spentby).toHaveLength(1);
      const child = b.spentby[0]!;
      const c = await entry(child);
      const packageRate = Math.round(c.fees.base * 1e8) / (b.vsize + c.vsize);
      expect(packageRate).toBeGreaterThanOrEqual(d.fee_rate! - 0.01);
      expect(packageRate).toBeLessThanOrEqual(BUDGET);
      // The child spends the backup's anchor and a coin of the tower's wallet, and pays only the tower's wallet.
      const tx = parseTx(await rpc<string>('getrawtransaction', [child]));
      expect(`${tx.inputs[0]!.txid}:${tx.inputs[0]!.vout}`).toBe(`${backup}:1`);
      expect(tx.inputs.slice(1).every((i) => towerCoins.has(`${i.txid}:${i.vout}`)), JSON.stringify(tx.inputs)).toBe(true);
      const decoded = await rpc<{ vout: { scriptPubKey: { address?: string } }[] }>('getrawtransaction', [child, 1]);
      expect(decoded.vout.length).toBe(tx.outputs.length);
      for (const v of decoded.vout) expect((await towerWallet().call<{ ismine: boolean }>('getaddressinfo', [v.scriptPubKey.address])).ismine).toBe(true);
      expect(await mempool()).toEqual([backup, child, dave.backup, dave.child].sort());
      if (tip === L2) {
        // A second round at the same tip (a restart, cron twice): the package in the node is at the schedule's rate — held, nothing sent twice.
        expect(decision(await tower(), coins.bob)).toMatchObject({ action: 'hold', txid: backup });
        expect(await mempool()).toEqual([backup, child, dave.backup, dave.child].sort());
      }
      if (tip < L1 - 2) await outbid(child);
      else {
        await outbid(child, 100_000_000); // the spike ends: the last bid is enough
        await outbid(dave.child, 200_000_000);
      }
      await n.mine(1);
    }
    // LND's linear schedule from the relay floor (0.1 sat/vB: regtest has no estimate) to the budget at the last chance
    // (tip = L₁ − 2, for block L₁ − 1), as the owner's own watcher bids: 0.1 + ⌈4,900·k/3⌉ sat/kvB.
    expect(rates).toEqual([0.1, 1.734, 3.367, 5]);
    expect(await n.tip()).toBe(L1 - 1);
    expect(await confirmations(backup)).toBe(1);
    expect(await confirmations(dave.backup)).toBe(1);
    const r = await tower();
    expect(decision(r, coins.bob)).toMatchObject({ action: 'wait', txid: backup });
    // Spent in a block by a transaction the export does not name (the node has no index of spends to say which): a later owner's, done.
    expect(decision(r, coins.carol)).toMatchObject({ action: 'done' });
    expect(decision(r, coins.carol).error).toBeUndefined();
    // Bob's backup pays Bob's share, as signed: the tower could pay for it, not change it.
    expect(hexOf(parseTx(await rpc<string>('getrawtransaction', [backup])).outputs[0]!.script)).toBe(hexOf(parseTx(bobExport.backup.hex).outputs[0]!.script));
  }, 60_000);

  it('a reorganisation of two blocks un-mines Bob\'s backup package (mined at L₁ − 1): the tower reports it, holds its package in the mempool at the budget, and it is mined again on the new branch by the deadline', async () => {
    const backup = bobExport.backup.txid;
    await rpc('invalidateblock', [await rpc<string>('getblockhash', [L1 - 2])]);
    expect(await n.tip()).toBe(L1 - 3);
    const pool = await mempool();
    expect(pool).toContain(backup);
    const r = await tower();
    expect(r.reorg).toMatchObject({ depth: 2, fork_height: L1 - 3 });
    const d = decision(r, coins.bob);
    expect(d, JSON.stringify(d)).toMatchObject({ action: 'hold', txid: backup, blocks_left: 2 });
    expect(d.error).toBeUndefined();
    // Nothing sent: the same package, at most the budget.
    expect(await mempool()).toEqual(pool);
    const b = await entry(backup);
    const c = await entry(b.spentby[0]!);
    expect(Math.round(c.fees.base * 1e8) / (b.vsize + c.vsize)).toBeLessThanOrEqual(BUDGET);
    await rpc('generatetoaddress', [1, await n.wallet.call<string>('getnewaddress', ['', 'bech32m'])]);
    expect(await n.tip()).toBe(L1 - 2);
    expect(await confirmations(backup)).toBe(1);
    expect(decision(await tower(), coins.bob)).toMatchObject({ action: 'wait', txid: backup });
  }, 60_000);

  it('at L₁ Core refuses Alice\'s older backup of Bob\'s coin and Carol\'s stale backup (their input is spent); six deep the tower is done, and nothing of its own is left in the mempool', async () => {
    await mineTo(L1);
    const alice = await offchainInProcess(['statechain-backup', '--coin', coins.bob, '--key-env', 'ALICE_KEY', '--state-dir', dir('ALICE_KEY'), ...n.chain()], { env: KEYS });
    const older = messageOf<{ hex: string }>(alice, 'statechain/spend');
    expect(await n.mempool(older.hex)).toMatchObject({ allowed: false, 'reject-reason': 'missing-inputs' });
    expect(await n.mempool(carolExport.backup.hex)).toMatchObject({ allowed: false, 'reject-reason': 'missing-inputs' });
    await mineTo(L1 + 4);
    const r = await tower();
    expect(decision(r, coins.bob)).toMatchObject({ action: 'done', txid: bobExport.backup.txid });
    expect(r.summary.errors).toBe(0);
    expect(await mempool()).toEqual([]);
    // Dave exports the coin after all (backup 3): the tower keeps his export, not Carol's stale one (Dave's backup is 6 deep: done).
    const daves = await exportTo('DAVE_KEY', coins.carol);
    expect(daves.backup).toMatchObject({ n: 3, txid: dave.backup, locktime: L3 });
    writeFileSync(join(towerDir(), 'carol-again.json'), JSON.stringify(carolExport));
    expect(decision(await tower(), coins.carol)).toMatchObject({ action: 'done', deadline: L2 - 1, txid: dave.backup });
    // Dave's export removed, Carol's left: older than the one the tower kept — never acted on again.
    rmSync(join(towerDir(), `${coins.carol}.json`));
    const stale = decision(await tower(), coins.carol);
    expect(stale).toMatchObject({ action: 'done', deadline: L1 - 1 });
    expect(stale.reason).toMatch(new RegExp(`older than the backup with locktime ${L3}`));
    // The tower kept its own records in its own state directory, and no owner's.
    expect(readFileSync(join(dir('TOWER'), 'regtest', 'state.sqlite')).length).toBeGreaterThan(0);
  }, 60_000);

  it('a writer dresses a 60-output payout of its own coin as an export (a 0-sat P2A, deadline now), and drops junk beside it: the tower starts, skips both, says so, and pays nothing', async () => {
    // The writer's coin: 0.5 BTC to a taproot address of its own wallet.
    const mine = await n.wallet.call<string>('getnewaddress', ['', 'bech32m']);
    const ftx = await n.wallet.call<string>('sendtoaddress', [mine, 0.5]);
    await n.mine(1);
    const info = await n.wallet.call<{ details: { vout: number; address: string }[] }>('gettransaction', [ftx]);
    const vout = info.details.find((d) => d.address === mine)!.vout;
    const tip = await n.tip();
    const outs: Record<string, string>[] = [];
    for (let i = 0; i < 60; i++) outs.push({ [await n.wallet.call<string>('getnewaddress', ['', 'bech32m'])]: satsToBtc(500_000n) });
    outs.push({ [await n.wallet.call<string>('getnewaddress', ['', 'bech32m'])]: satsToBtc(50_000_000n - 60n * 500_000n) });
    outs.push({ [(await rpc<{ address: string }>('decodescript', [P2A])).address]: '0' });
    const raw = await n.wallet.call<string>('createrawtransaction', [[{ txid: ftx, vout }], outs, tip, false, 3]);
    const signed = await n.wallet.call<{ hex: string; complete: boolean }>('signrawtransactionwithwallet', [raw]);
    expect(signed.complete).toBe(true);
    const batch = await rpc<{ txid: string }>('decoderawtransaction', [signed.hex]);
    const forged = {
      type: 'statechain/tower-backup', version: 1, network: 'regtest', coin_id: 'ab'.repeat(16), outpoint: `${ftx}:${vout}`, amount_sat: 50_000_000,
      backup: { n: 2, txid: batch.txid, locktime: tip, hex: signed.hex }, previous: { txid: 'cc'.repeat(32), locktime: tip + 1 }, deadline: tip, older_txids: ['cc'.repeat(32)], next: '',
    };
    writeFileSync(join(towerDir(), 'x.json'), JSON.stringify(forged));
    writeFileSync(join(towerDir(), 'zz-junk.json'), '{"type":'); // junk beside it: said, never a refusal to start
    const before = await towerWallet().call<number>('getbalance');
    const r = await offchain(['watch', '--tower', towerDir(), '--state-dir', dir('TOWER'), '--rpc-wallet', 'tower', '--max-fee-rate', String(BUDGET), ...n.chain(), '--once'], { env: {} });
    expect(r.status, describeRun(r)).toBe(0);
    expect(r.stderr).toMatch(/x\.json skipped: .*outputs are not an anchored backup/);
    expect(r.stderr).toMatch(/zz-junk\.json skipped: .*not JSON/);
    expect((JSON.parse(r.stdout) as Report).decisions.map((d) => d.contract)).not.toContain(forged.coin_id);
    expect(await mempool()).toEqual([]);
    await n.mine(1);
    expect(await towerWallet().call<number>('getbalance')).toBe(before);
  }, 60_000);
});
