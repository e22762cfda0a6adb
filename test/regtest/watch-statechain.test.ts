/**
 * `offchain watch` keeps the statechain owner's deadline on a real `bitcoind -regtest` with no
 * other command typed (issue 71): Alice deposits two coins with the CLI and hands one to Bob and
 * one to Carol; the operator is gone from then on (none of its steps runs again). Bob's backup is
 * final at L₂ = L₁ − 5, Alice's at L₁: Bob's watcher must have his mined by block L₁ − 1.
 *
 * - Bob's watcher, one `--once` round per block from L₂ under a fee spike (Core's
 *   prioritisetransaction takes the package's fee away from the block template, as a market of
 *   higher bids would): it sends his backup with a CPFP child, rebids each block up to its budget
 *   one block before the deadline, and is mined by it; killed (SIGKILL) after it acted and started
 *   again, it sends nothing twice; a reorganisation un-mines the backup and the watcher sees it;
 *   at L₁ Core refuses Alice's backup (its input is spent).
 * - Carol's watcher was down until Alice's backup is final and Alice broadcast it: the watcher
 *   replaces it with Carol's backup and child (package RBF), mined; Alice's is gone.
 * - Alice's third coin, withdrawn cooperatively (signed, never sent): her watcher sends the
 *   withdrawal, waits for it, and is done six blocks deep.
 * - Dave's coin, under anchored terms (a zero-fee backup and a P2A anchor): his watcher's child
 *   spends the backup's output and the anchor; mined.
 * - The watcher review's findings (one node, one setup): Bob handed a fourth coin on to Erin, then
 *   asked to withdraw it, refused — his watcher never sends his stale backup (finding 1); Erin
 *   withdrew a fifth coin (signed, never sent) and at L₁ Alice broadcasts her older backup: Erin's
 *   watcher outruns it with her backup (finding 2); Frank's two anchored coins — one broadcast by
 *   Alice with a stranger's large low-rate child on its anchor before Frank's watcher ever ran, one
 *   whose child a stranger replaces after Frank's first bid — are each replaced within the budget
 *   at what Core's absolute-fee rule asks, the schedule rising from the first hold (findings 3, 4).
 *
 * - `statechain list` (no key, spawned beside the node) shows each coin as the chain has it at
 *   each point: Bob's active, then exiting (his backup in the mempool, must_act), exited once
 *   mined; Carol's contested while Alice's older backup is in the mempool, then exited; Alice's
 *   withdrawal signed, sent, withdrawn; the coins Alice handed on, transferred.
 *
 * Every step is the built CLI (the deposits and transfers it only stands on run in-process,
 * in-process-cli.ts); every watcher is spawned. Skipped, visibly, without bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { satsToBtc } from '../../src/lib/chain/amount.ts';
import { tempDir } from '../helpers.ts';
import { bytesOf, hexOf, parseTx } from '../independent/tx.ts';
import { singleKeyTaprootOutput } from '../independent/keys.ts';
import { publicKeyOf } from '../independent/secp256k1.ts';
import { KEYS } from '../e2e/statechain-flow.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { BIN, assertBuilt, describeRun, messageOf, offchain } from './offchain-cli.ts';
import { offchainInProcess } from './in-process-cli.ts';
import { FLOOR, INTERVAL, TERMS, ownerStep, statechainCoins } from './statechain-coins.ts';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND
  ? `offchain watch keeps the statechain owner's deadline on bitcoind -regtest (${BITCOIND})`
  : 'offchain watch for a statechain owner on bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

/** Anchored terms (zero-fee backups with a P2A anchor) and a later lock: Dave's coin, kept after the others. */
const ANCHORED = ['--interval', String(INTERVAL), '--initial-lock', '+60', '--min-confirmations', '2', '--backup-fee', '0', '--anchor', '--margin', '2'];
/** The owner's budget, sat/vB of the package (--max-fee-rate). */
const BUDGET = 5;
const AMOUNT = 100_000n;
/** Frank's anchored coins: locked 10 blocks after Dave's, kept last. */
const PINNED = ['--interval', String(INTERVAL), '--initial-lock', '+70', '--min-confirmations', '2', '--backup-fee', '0', '--anchor', '--margin', '2'];
/** The CLI's keys, and two more owners of the review's coins. */
const ENV: Record<string, string> = { ...KEYS, ERIN_KEY: '77'.repeat(32), FRANK_KEY: '88'.repeat(32) };

type Decision = { kind: string; contract: string; action: string; deadline: number; blocks_left: number; fee_rate?: number; txid?: string; error?: string; shortfall?: string; reason: string };
type Report = { type: string; tip: { height: number }; reorg?: { depth: number; fork_height?: number; replaced: string[] }; decisions: Decision[]; summary: { errors: number } };

describe.skipIf(!BITCOIND)(TITLE, () => {
  let work: { path: string; cleanup: () => void };
  let n: FundedNode;
  const coins: Record<'bob' | 'carol' | 'alice' | 'dave' | 'stale' | 'withdrawn' | 'pinned' | 'repinned', string> = { bob: '', carol: '', alice: '', dave: '', stale: '', withdrawn: '', pinned: '', repinned: '' };
  /** Frank's backups' locktime (his anchored coins). */
  let frankLock = 0;
  /** Dave's backup locktime (anchored terms, 20 blocks after the others). */
  let daveLock = 0;
  /** Alice's cooperative withdrawal of her third coin, signed while the operator was there and never broadcast. */
  let withdrawal = '';
  /** Alice's backup locktime (L₁) and Bob's and Carol's (L₂ = L₁ − 5). */
  let L1 = 0;
  let L2 = 0;
  const rpc = <T>(method: string, params: unknown[] = []) => n.node.rpc.call<T>(method, params);
  const dir = (who: string) => join(work.path, who);

  const step = ownerStep({ node: () => n, dir, env: ENV, floor: FLOOR });
  const watchArgs = (who: string, extra: string[] = []) => ['watch', '--key-env', who, '--state-dir', dir(who), ...n.chain(), '--max-fee-rate', String(BUDGET), ...extra];
  /** One round, as cron would run it: the built CLI, spawned. */
  const once = async (who: string): Promise<Report> => {
    const r = await offchain([...watchArgs(who), '--once'], { env: ENV });
    expect(r.status, describeRun(r)).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.type).toBe('watch/report');
    return report;
  };
  type CoinRow = { coin_id: string; status: string; must_act: boolean; chain?: { funding: string; spent_by?: string; txid?: string; confirmations?: number }; deadline_height?: number; next: string };
  /** `statechain list` of `who`'s state directory beside the node: no key given (none is needed), the built CLI spawned. */
  const listed = async (who: string, coin: string, extra: string[] = []): Promise<CoinRow> => {
    const r = await offchain(['statechain', 'list', '--state-dir', dir(who), ...n.chain(), ...extra], { env: {} });
    expect(r.status, describeRun(r)).toBe(0);
    const m = JSON.parse(r.stdout) as { type: string; tip_height: number; coins: CoinRow[] };
    expect(m.type).toBe('statechain/coins');
    const row = m.coins.find((c) => c.coin_id === coin);
    expect(row, r.stdout).toBeDefined();
    return row!;
  };
  const decision = (r: Report, coin: string) => {
    const d = r.decisions.find((x) => x.contract === coin && x.kind === 'statechain-owner');
    expect(d, JSON.stringify(r)).toBeDefined();
    return d!;
  };
  const mineTo = async (height: number) => {
    const blocks = height - (await n.tip());
    expect(blocks).toBeGreaterThanOrEqual(0);
    if (blocks > 0) await n.mine(blocks);
  };
  const mempool = () => rpc<string[]>('getrawmempool');
  const confirmations = async (txid: string) => (await rpc<{ confirmations?: number }>('getrawtransaction', [txid, 1])).confirmations ?? 0;
  const entry = (txid: string) => rpc<{ vsize: number; fees: { base: number }; spentby: string[]; depends: string[] }>('getmempoolentry', [txid]);
  /** The fee spike: the transaction's fee taken away from the block template (the next block leaves it out). */
  const outbid = (txid: string, by = -100_000_000) => rpc('prioritisetransaction', [txid, 0, by]);

  const coins_ = statechainCoins({ node: () => n, work: () => work.path, step, amount: AMOUNT });
  /** Alice deposits (its funding signed by the wallet only after backup 1): the coin id and the signed funding. */
  const deposit = (terms = TERMS) => coins_.deposit(terms);
  const transfer = (coinId: string, receiver: string, sender = 'ALICE_KEY') => coins_.transfer(coinId, sender, receiver);
  /** Alice's own backup of a coin, printed by `statechain backup` from her state directory (final once the tip reaches L₁). */
  const alicesBackup = async (coinId: string, broadcast = false) => {
    const r = await offchainInProcess(['statechain-backup', '--coin', coinId, ...(broadcast ? ['--broadcast'] : []), '--key-env', 'ALICE_KEY', '--state-dir', dir('ALICE_KEY'), ...n.chain()], { env: ENV });
    return messageOf<{ txid: string; hex: string }>(r, 'statechain/spend');
  };

  beforeAll(async () => {
    assertBuilt();
    work = tempDir('offchain-regtest-watch-sc-');
    n = await startFundedNode(BITCOIND!, 'watch-statechain');
    // Each funding sent before the next is funded (the wallet would pick the same coins again), all at one tip: one L₁.
    const sent = async (terms = TERMS) => {
      const d = await deposit(terms);
      await rpc('sendrawtransaction', [d.fundingHex]);
      return d;
    };
    const a = await sent();
    const b = await sent();
    const c = await sent();
    const anchored = await sent(ANCHORED);
    const stale = await sent();
    const withdrawn = await sent();
    const pinned = await sent(PINNED);
    const repinned = await sent(PINNED);
    await n.mine(2);
    L1 = a.lockTime;
    expect(b.lockTime).toBe(L1);
    coins.bob = a.coinId;
    coins.carol = b.coinId;
    L2 = (await transfer(a.coinId, 'BOB_KEY')).latest_locktime;
    expect((await transfer(b.coinId, 'CAROL_KEY')).latest_locktime).toBe(L2);
    expect(L2).toBe(L1 - INTERVAL);
    coins.alice = c.coinId;
    coins.dave = anchored.coinId;
    daveLock = (await transfer(anchored.coinId, 'DAVE_KEY')).latest_locktime;
    expect(daveLock).toBe(L2 + 20);
    const asked = await step('ALICE_KEY', ['statechain-withdraw', '--coin', c.coinId, '--to', n.sweepTo, '--fee-rate', '2']);
    withdrawal = (JSON.parse(await step('ALICE_KEY', ['statechain-withdraw'], await step('OPERATOR_KEY', ['statechain-withdraw'], asked))) as { txid: string }).txid;
    // Finding 1: Bob hands his coin on to Erin (completed), then asks to withdraw it (allowed from `sent`): the operator
    // refuses — Erin owns it — and Bob's record stays `withdrawing`, Erin's backup in it.
    coins.stale = stale.coinId;
    expect((await transfer(stale.coinId, 'BOB_KEY')).latest_locktime).toBe(L2);
    expect((await transfer(stale.coinId, 'ERIN_KEY', 'BOB_KEY')).latest_locktime).toBe(L2 - INTERVAL);
    const staleAsk = await step('BOB_KEY', ['statechain-withdraw', '--coin', stale.coinId, '--to', n.sweepTo, '--fee-rate', '2']);
    const refused = await offchainInProcess(['statechain-withdraw', '--key-env', 'OPERATOR_KEY', '--state-dir', dir('OPERATOR_KEY'), ...n.chain()], { input: staleAsk, env: ENV });
    expect(refused.status, describeRun(refused)).not.toBe(0);
    // Finding 2: Erin's own coin, withdrawn cooperatively (signed, never sent: her watcher is down until L₁).
    coins.withdrawn = withdrawn.coinId;
    expect((await transfer(withdrawn.coinId, 'ERIN_KEY')).latest_locktime).toBe(L2);
    const erinAsk = await step('ERIN_KEY', ['statechain-withdraw', '--coin', withdrawn.coinId, '--to', n.sweepTo, '--fee-rate', '2']);
    await step('ERIN_KEY', ['statechain-withdraw'], await step('OPERATOR_KEY', ['statechain-withdraw'], erinAsk));
    // Findings 3 and 4: Frank's two anchored coins.
    coins.pinned = pinned.coinId;
    coins.repinned = repinned.coinId;
    frankLock = (await transfer(pinned.coinId, 'FRANK_KEY')).latest_locktime;
    expect(frankLock).toBe(daveLock + 10);
    expect((await transfer(repinned.coinId, 'FRANK_KEY')).latest_locktime).toBe(frankLock);
    // The operator vanishes here: nothing below runs one of its steps.
  }, 120_000);
  afterAll(async () => {
    await n?.stop();
    work?.cleanup();
  });

  it('before his backup is final Bob\'s watcher does nothing; a wrong or missing key is refused before anything is decided', async () => {
    await mineTo(L2 - 1);
    const d = decision(await once('BOB_KEY'), coins.bob);
    // The deadline: the block before Alice's backup is final (L₁ − 1), worked out from the terms, not read from the watcher.
    expect(d).toMatchObject({ action: 'none', deadline: L1 - 1, blocks_left: L1 - 1 - (L2 - 1) });
    expect(await mempool()).toEqual([]);
    // The list: the coin unspent, held, his backup not final yet — nothing to do (must_act only once it is).
    expect(await listed('BOB_KEY', coins.bob)).toMatchObject({ status: 'active', chain: { funding: 'unspent' }, must_act: false, deadline_height: L1 - 1 });
    const wrong = await offchain(['watch', '--once', '--key-env', 'CAROL_KEY', '--state-dir', dir('BOB_KEY'), ...n.chain()], { env: ENV });
    expect({ status: wrong.status, stdout: wrong.stdout, code: /error (E_[A-Z_]+)/.exec(wrong.stderr)?.[1] }).toEqual({ status: 4, stdout: '', code: 'E_WRONG_KEY' });
    const none = await offchain(['watch', '--once', '--state-dir', dir('BOB_KEY'), ...n.chain()], { env: {} });
    expect({ status: none.status, stdout: none.stdout, code: /error (E_[A-Z_]+)/.exec(none.stderr)?.[1] }).toEqual({ status: 2, stdout: '', code: 'E_NO_KEY' });
    expect(await mempool()).toEqual([]);
  }, 60_000);

  it('the operator is gone and fees spike: Bob\'s watcher sends his backup once final and rebids each block, reaching its budget one block before the deadline; killed and restarted it sends nothing twice; mined by the deadline', async () => {
    await mineTo(L2);
    const rates: number[] = [];
    let backup = '';
    for (let tip = L2; tip < L1 - 1; tip++) {
      expect(await n.tip()).toBe(tip);
      // The first round by a long-running watcher, killed (SIGKILL) once it has decided; the rest by --once rounds.
      let d: Decision;
      if (tip === L2) d = await decidedThenKilled('BOB_KEY', coins.bob);
      else {
        const r = await once('BOB_KEY');
        d = decision(r, coins.bob);
        // Finding 1: the coin Bob handed on to Erin (his record `withdrawing`, her backup in it): his stale backup is never sent.
        expect(decision(r, coins.stale), 'finding 1').toMatchObject({ action: 'none' });
      }
      expect(d.action, JSON.stringify(d)).toBe(tip === L2 ? 'backup' : 'rebid');
      expect(d.error).toBeUndefined();
      rates.push(d.fee_rate!);
      backup = d.txid!;
      const b = await entry(backup);
      expect(b.spentby).toHaveLength(1);
      const child = b.spentby[0]!;
      const c = await entry(child);
      const packageRate = (Math.round(b.fees.base * 1e8) + Math.round(c.fees.base * 1e8)) / (b.vsize + c.vsize);
      expect(packageRate).toBeGreaterThanOrEqual(d.fee_rate! - 0.01);
      expect(packageRate).toBeLessThanOrEqual(BUDGET);
      expect((await mempool()).sort()).toEqual([backup, child].sort());
      if (tip === L2) {
        // The list, beside: his backup in the node's mempool — exiting, and still must act (not mined yet); Alice handed it on: transferred.
        expect(await listed('BOB_KEY', coins.bob)).toMatchObject({ status: 'exiting', chain: { funding: 'spent', spent_by: 'own-backup', confirmations: 0 }, must_act: true });
        expect(await listed('ALICE_KEY', coins.bob)).toMatchObject({ status: 'transferred', must_act: false });
        // Finding 1's coin: handed on to Erin, the record still `withdrawing` — transferred, never to act on.
        expect(await listed('BOB_KEY', coins.stale)).toMatchObject({ status: 'transferred', record_status: 'withdrawing', must_act: false });
        // Started again at the same tip (a long-running watcher, killed again, and a --once round): the package the
        // killed one sent is in the node above the schedule's rate — each holds it, nothing is sent twice.
        expect((await decidedThenKilled('BOB_KEY', coins.bob)).action).toBe('hold');
        const again = await once('BOB_KEY');
        expect(decision(again, coins.bob).action).toBe('hold');
        expect(decision(again, coins.stale).reason, 'finding 1').toMatch(/a later owner's backup/);
        expect((await mempool()).sort()).toEqual([backup, child].sort());
      }
      if (tip === L2) await outbid(backup);
      if (tip < L1 - 2) await outbid(child);
      else await outbid(backup, 100_000_000); // the spike ends: the last bid is enough
      await n.mine(1);
    }
    // LND's linear schedule from the relay floor (0.1 sat/vB: regtest has no estimate) to the budget, reached at the
    // last chance (tip = L₁ − 2, for block L₁ − 1): four chances, worked out by hand: 0.1 + ⌈4,900·k/3⌉ sat/kvB.
    expect(rates).toEqual([0.1, 1.734, 3.367, 5]);
    expect(await n.tip()).toBe(L1 - 1);
    expect(await confirmations(backup)).toBe(1);
    // Bob's backup pays his share (its BIP-86 P2TR), and his child pays on to Bob's own key, both mined.
    const mined = parseTx(await rpc<string>('getrawtransaction', [backup]));
    expect(mined.outputs.map((o) => o.amount)).toEqual([AMOUNT - 400n]);
    expect(decision(await once('BOB_KEY'), coins.bob)).toMatchObject({ action: 'wait', txid: backup });
    // The list shows the chain's truth: exited by his backup, one confirmation, nothing left to do — for a person too.
    expect(await listed('BOB_KEY', coins.bob)).toMatchObject({ status: 'exited', chain: { funding: 'spent', spent_by: 'own-backup', confirmations: 1 }, must_act: false });
    const human = await offchain(['statechain', 'list', '--state-dir', dir('BOB_KEY'), ...n.chain(), '--human'], { env: {} });
    expect(human.status, describeRun(human)).toBe(0);
    expect(human.stdout).toContain(`${coins.bob}  exited\n`);
    expect(human.stdout).toMatch(new RegExp(`chain +spent by own-backup ${backup}, 1 confirmation\\n`));
  }, 120_000);

  it('a reorganisation un-mines Bob\'s backup: the watcher reports it and keeps the backup going; then, with the tip at L₁, Core refuses Alice\'s backup: its input is spent', async () => {
    const tip = await n.tip();
    const replaced = await rpc<string>('getblockhash', [tip]);
    await rpc('invalidateblock', [replaced]);
    const r = await once('BOB_KEY');
    expect(r.reorg).toMatchObject({ depth: 1, fork_height: tip - 1, replaced: [replaced] });
    const d = decision(r, coins.bob);
    // Core put the package back in its mempool at the budget: held (or sent again had it been lost).
    expect(['hold', 'rebroadcast'], JSON.stringify(d)).toContain(d.action);
    const backup = (await mempool()).find((t) => t === d.txid) ?? d.txid!;
    await rpc('generatetoaddress', [1, n.sweepTo]);
    expect(decision(await once('BOB_KEY'), coins.bob)).toMatchObject({ action: 'wait' });
    expect(await confirmations(backup)).toBe(1);
    await mineTo(L1);
    const alice = await alicesBackup(coins.bob);
    expect(await n.mempool(alice.hex)).toMatchObject({ allowed: false, 'reject-reason': 'missing-inputs' });
    await mineTo(L1 + 4);
    expect(decision(await once('BOB_KEY'), coins.bob)).toMatchObject({ action: 'done', txid: backup });
  }, 120_000);

  it('Carol\'s watcher was down: at L₁ Alice broadcasts her older backup of Carol\'s coin; the watcher, back, replaces it with Carol\'s backup and child (package RBF), within the budget; mined, Alice\'s gone', async () => {
    expect(await n.tip()).toBeGreaterThanOrEqual(L1);
    const alice = await alicesBackup(coins.carol, true);
    expect(await mempool()).toEqual([alice.txid]);
    // Before her watcher is back, the list says what is at stake: contested by Alice's backup in the mempool, act now.
    const contested = await listed('CAROL_KEY', coins.carol);
    expect(contested).toMatchObject({ status: 'contested', chain: { funding: 'spent', spent_by: 'previous-backup', txid: alice.txid, confirmations: 0 }, must_act: true });
    expect(contested.next).toMatch(/^act now/);
    const d = decision(await once('CAROL_KEY'), coins.carol);
    expect(d, JSON.stringify(d)).toMatchObject({ action: 'backup', shortfall: 'deadline-passed', fee_rate: BUDGET });
    expect(d.error).toBeUndefined();
    const pool = await mempool();
    expect(pool).not.toContain(alice.txid);
    expect(pool).toContain(d.txid);
    const b = await entry(d.txid!);
    const c = await entry(b.spentby[0]!);
    expect((Math.round(b.fees.base * 1e8) + Math.round(c.fees.base * 1e8)) / (b.vsize + c.vsize)).toBeLessThanOrEqual(BUDGET);
    await n.mine(1);
    expect(await confirmations(d.txid!)).toBe(1);
    await expect(rpc('getrawtransaction', [alice.txid, 1])).rejects.toThrow();
    // Carol's backup pays her share; her child pays her own key's BIP-86 P2TR (not Alice's, not the operator's).
    const childTx = parseTx(await rpc<string>('getrawtransaction', [b.spentby[0]!]));
    expect(hexOf(childTx.outputs[0]!.script)).toBe(hexOf(singleKeyTaprootOutput(publicKeyOf(bytesOf(KEYS.CAROL_KEY!))).script));
    expect(decision(await once('CAROL_KEY'), coins.carol)).toMatchObject({ action: 'wait', txid: d.txid });
    expect(await listed('CAROL_KEY', coins.carol)).toMatchObject({ status: 'exited', chain: { spent_by: 'own-backup', txid: d.txid, confirmations: 1 }, must_act: false });
    // Alice's record of it says `sent`; the chain says Carol's backup spent it: transferred, a later owner's backup.
    expect(await listed('ALICE_KEY', coins.carol)).toMatchObject({ status: 'transferred', chain: { spent_by: 'later-backup', txid: d.txid }, must_act: false });
  }, 120_000);

  it('finding 2: Erin withdrew her coin (signed, never sent) and her watcher was down; at L₁ Alice broadcasts her older backup: Erin\'s watcher, back, outruns it with her own backup and child (package RBF) — the coin back to Erin rather than lost to Alice; mined, Alice\'s gone', async () => {
    expect(await n.tip()).toBeGreaterThanOrEqual(L1);
    const alice = await alicesBackup(coins.withdrawn, true);
    expect(await mempool()).toEqual([alice.txid]);
    const r = await once('ERIN_KEY');
    const d = decision(r, coins.withdrawn);
    expect(d, JSON.stringify(d)).toMatchObject({ action: 'backup', fee_rate: BUDGET });
    expect(d.error).toBeUndefined();
    // The coin Bob handed on to her (finding 1's): its deadline passed with nobody's backup out — hers goes out, hers by right.
    expect(decision(r, coins.stale)).toMatchObject({ action: 'backup' });
    expect(await mempool()).not.toContain(alice.txid);
    await n.mine(1);
    expect(await confirmations(d.txid!)).toBe(1);
    await expect(rpc('getrawtransaction', [alice.txid, 1])).rejects.toThrow();
    expect(decision(await once('ERIN_KEY'), coins.withdrawn)).toMatchObject({ action: 'wait', txid: d.txid });
    expect(await mempool()).toEqual([]);
  }, 60_000);

  it('Alice\'s withdrawal, signed but never sent: her watcher sends it while the coin is unspent, waits while it is unmined, done six deep; the coins she handed on are done for her', async () => {
    // The node does not have it: the list flags it (the watcher's withdrawalPending) — it must be sent.
    expect(await listed('ALICE_KEY', coins.alice)).toMatchObject({ status: 'withdrawal-signed', chain: { funding: 'unspent' }, withdrawal_pending: 'unknown', must_act: true });
    const r = await once('ALICE_KEY');
    expect(decision(r, coins.alice)).toMatchObject({ action: 'rebroadcast', txid: withdrawal });
    expect(decision(r, coins.alice).error).toBeUndefined();
    expect([decision(r, coins.bob).action, decision(r, coins.carol).action]).toEqual(['done', 'done']);
    expect(await mempool()).toEqual([withdrawal]);
    expect(decision(await once('ALICE_KEY'), coins.alice)).toMatchObject({ action: 'wait', txid: withdrawal });
    expect(await listed('ALICE_KEY', coins.alice)).toMatchObject({ status: 'withdrawal-sent', chain: { funding: 'spent', spent_by: 'withdrawal', confirmations: 0 }, withdrawal_pending: 'mempool', must_act: false });
    await n.mine(1);
    expect(await confirmations(withdrawal)).toBe(1);
    expect(decision(await once('ALICE_KEY'), coins.alice)).toMatchObject({ action: 'wait', txid: withdrawal });
    await n.mine(5);
    expect(decision(await once('ALICE_KEY'), coins.alice)).toMatchObject({ action: 'done', txid: withdrawal });
    expect(await mempool()).toEqual([]);
    expect(await listed('ALICE_KEY', coins.alice)).toMatchObject({ status: 'withdrawn', chain: { funding: 'spent', spent_by: 'withdrawal', confirmations: 6 }, must_act: false });
  }, 60_000);

  it('Dave\'s coin under anchored terms (a zero-fee backup with a P2A anchor): once final his watcher sends it with a child spending its output and the anchor, accepted and mined', async () => {
    await mineTo(daveLock - 1);
    expect(decision(await once('DAVE_KEY'), coins.dave).action).toBe('none');
    await mineTo(daveLock);
    const d = decision(await once('DAVE_KEY'), coins.dave);
    expect(d).toMatchObject({ action: 'backup', deadline: daveLock + INTERVAL - 1 });
    expect(d.error).toBeUndefined();
    const b = await entry(d.txid!);
    expect(Math.round(b.fees.base * 1e8)).toBe(0);
    const backup = parseTx(await rpc<string>('getrawtransaction', [d.txid]));
    expect(backup.outputs.map((o) => [hexOf(o.script).startsWith('5120') ? 'p2tr' : hexOf(o.script), o.amount])).toEqual([['p2tr', AMOUNT], ['51024e73', 0n]]);
    const child = parseTx(await rpc<string>('getrawtransaction', [b.spentby[0]!]));
    expect(child.inputs.map((i) => `${i.txid}:${i.vout}`)).toEqual([`${d.txid}:0`, `${d.txid}:1`]);
    expect(hexOf(child.outputs[0]!.script)).toBe(hexOf(singleKeyTaprootOutput(publicKeyOf(bytesOf(KEYS.DAVE_KEY!))).script));
    await n.mine(1);
    expect(await confirmations(d.txid!)).toBe(1);
    expect(decision(await once('DAVE_KEY'), coins.dave)).toMatchObject({ action: 'wait', txid: d.txid });
  }, 60_000);

  it('findings 3 and 4: Frank\'s anchored backups pinned by a stranger\'s large low-rate child on the anchor — one broadcast so by Alice before his watcher ran, one whose child a stranger replaced after his first bid: each replaced within the budget at what Core\'s absolute-fee rule asks, no bid refused, the schedule rising from the first hold', async () => {
    await mineTo(frankLock);
    const deadline = frankLock + INTERVAL - 1;
    // The previous owner holds Frank's backup bytes (its sent record keeps the chain it handed over): printed here from Frank's.
    const printed = await offchainInProcess(['statechain-backup', '--coin', coins.pinned, '--key-env', 'FRANK_KEY', '--state-dir', dir('FRANK_KEY'), ...n.chain()], { env: ENV });
    const backup = messageOf<{ txid: string; hex: string }>(printed, 'statechain/spend');
    const pin = await strangerChild(backup.txid);
    const submitted = await rpc<{ package_msg: string }>('submitpackage', [[backup.hex, pin]]);
    expect(submitted.package_msg, JSON.stringify(submitted)).toBe('success');
    const first = await once('FRANK_KEY');
    // Finding 3: a hold over a package someone else sent starts the schedule here.
    expect(decision(first, coins.pinned)).toMatchObject({ action: 'hold' });
    const sent = decision(first, coins.repinned);
    expect(sent, JSON.stringify(sent)).toMatchObject({ action: 'backup' });
    expect(sent.error).toBeUndefined();
    // A stranger's child on the anchor replaces Frank's (more absolute fee, a higher rate of its own).
    const repin = await rpc<string>('sendrawtransaction', [await strangerChild(sent.txid!)]);
    expect((await entry(sent.txid!)).spentby).toEqual([repin]);
    const strangers = [parseTx(pin).txid, repin];
    const pins = async () => (await mempool()).filter((t) => strangers.includes(t));
    expect((await pins()).sort()).toEqual([...strangers].sort());
    const seen: { tip: number; coin: string; action: string; fee_rate?: number; error?: string }[] = [];
    // Each block mined empty (a market above both packages) until both children are replaced.
    for (let tip = frankLock + 1; tip < deadline && (await pins()).length > 0; tip++) {
      await rpc('generateblock', [n.miner, []]);
      const r = await once('FRANK_KEY');
      for (const coin of [coins.pinned, coins.repinned]) {
        const d = decision(r, coin);
        seen.push({ tip, coin: coin === coins.pinned ? 'pinned' : 'repinned', action: d.action, ...(d.fee_rate !== undefined ? { fee_rate: d.fee_rate } : {}), ...(d.error ? { error: d.error } : {}) });
      }
    }
    // Finding 4: 5 sat/vB of Frank's ~280 vB package (1,400 sat) covers the 1,000 sat + incremental fee Core asks: no bid refused.
    expect(seen.filter((x) => x.error !== undefined), JSON.stringify(seen)).toEqual([]);
    expect(await pins(), JSON.stringify(seen)).toEqual([]);
    // Finding 3: the schedule rose from the first hold, so both are replaced before the last chance (tip deadline − 1).
    for (const coin of ['pinned', 'repinned']) expect(seen.find((x) => x.coin === coin && x.action === 'rebid')?.tip, JSON.stringify(seen)).toBeLessThan(deadline - 1);
    await n.mine(1);
    expect(await confirmations(backup.txid)).toBe(1);
    expect(await confirmations(sent.txid!)).toBe(1);
  }, 120_000);

  /** The stranger's child of an anchored backup: its anchor and a confirmed wallet coin, change back and an 800-byte OP_RETURN (~1,000 vB), fee 1,000 sat (signed hex). */
  const usedCoins = new Set<string>();
  async function strangerChild(parent: string): Promise<string> {
    const utxo = (await n.wallet.call<{ txid: string; vout: number; amount: number }[]>('listunspent', [1])).find((u) => u.amount >= 1 && !usedCoins.has(`${u.txid}:${u.vout}`))!;
    usedCoins.add(`${utxo.txid}:${utxo.vout}`);
    const change = await n.wallet.call<string>('getnewaddress', ['', 'bech32m']);
    const out = BigInt(Math.round(utxo.amount * 1e8)) - 1_000n;
    const unsigned = await rpc<string>('createrawtransaction', [[{ txid: parent, vout: 1 }, { txid: utxo.txid, vout: utxo.vout }], [{ [change]: satsToBtc(out) }, { data: 'ab'.repeat(800) }], 0, false, 3]);
    const signed = await n.wallet.call<{ hex: string; complete: boolean }>('signrawtransactionwithwallet', [unsigned, [{ txid: parent, vout: 1, scriptPubKey: '51024e73', amount: 0 }]]);
    expect(signed.complete).toBe(true);
    return signed.hex;
  }

  /** A long-running watcher spawned, SIGKILLed as soon as it logged its decision on `coin` at the current tip: that decision. */
  async function decidedThenKilled(who: string, coin: string): Promise<Decision> {
    const child = spawn(process.execPath, [BIN, ...watchArgs(who, ['--interval', '0.05', '--log-level', 'info'])], { env: { ...process.env, ...ENV, OFFCHAIN_CONFIG: '/dev/null' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (b: Buffer) => (log += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const found = () => log.split('\n').filter((l) => l.includes('"event":"decision"')).map((l) => JSON.parse(l) as Decision).find((d) => d.contract === coin);
    try {
      for (let i = 0; i < 200 && !found(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      child.kill('SIGKILL');
    }
    expect(await exited, log).toBeNull();
    expect(found(), log).toBeDefined();
    return found()!;
  }
});
