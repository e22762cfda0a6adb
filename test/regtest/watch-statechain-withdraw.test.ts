/**
 * `offchain watch` bumps a statechain owner's signed withdrawal on a real `bitcoind -regtest`
 * (issue 71 item 3): Alice deposits two coins and hands both to Bob, whose backups are final at
 * L₂ = L₁ − 5 (Alice's at L₁: the coin's deadline is L₁ − 1, the backup's window opens at L₂). Bob
 * withdraws both cooperatively at 0.2 sat/vB, then the operator is gone:
 *
 * - coin A pays Bob's own key (its BIP-86 P2TR): his watcher sends it as signed at L₂ − 5, and
 *   through a fee spike (Core's prioritisetransaction takes the fee away from the block template,
 *   as a market of higher bids would) bumps it each block with a child spending its payout and its
 *   anchor, on the coin's schedule toward L₁ − 1, never above the budget; mined before the
 *   backup's window; a reorganisation of that block puts the package back in the mempool, where it
 *   stands (it pays what the schedule asks), mined again; done six deep.
 * - coin B pays another address (the payee's): never bumped — the watcher holds no key for its
 *   output and the operator signs no second withdrawal — `wait` with the shortfall said
 *   (`wallet`), nothing sent; at L₂ (its window) Bob's backup replaces it, as before.
 *
 * Each child's signature is checked by the independent verifier. Every watcher is the built CLI,
 * spawned; the deposits, transfers and withdrawals it stands on run in-process. Skipped, visibly,
 * without bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { WatchReportSchema } from '../../src/lib/watch/schemas.ts';
import { tempDir } from '../helpers.ts';
import { bytesOf, hexOf, parseTx } from '../independent/tx.ts';
import { p2trScript, singleKeyTaprootOutput } from '../independent/keys.ts';
import { publicKeyOf } from '../independent/secp256k1.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { KEYS } from '../e2e/statechain-flow.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { assertBuilt, describeRun, messageOf, offchain } from './offchain-cli.ts';
import { offchainInProcess } from './in-process-cli.ts';
import { FLOOR, INTERVAL, TERMS, ownerStep, statechainCoins } from './statechain-coins.ts';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND
  ? `offchain watch bumps a statechain owner's withdrawal on bitcoind -regtest (${BITCOIND})`
  : 'offchain watch bumps a statechain owner\'s withdrawal on bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

/** Bob's budget, sat/vB of the package (--max-fee-rate). */
const BUDGET = 5;

type Decision = { kind: string; contract: string; action: string; deadline: number; blocks_left: number; fee_rate?: number; txid?: string; error?: string; shortfall?: string; reason: string };
type Report = { reorg?: { depth: number; fork_height?: number }; decisions: Decision[] };

describe.skipIf(!BITCOIND)(TITLE, () => {
  let work: { path: string; cleanup: () => void };
  let n: FundedNode;
  const coins = { own: '', payee: '' };
  const withdrawals = { own: '', payee: '' };
  let L1 = 0;
  let L2 = 0;
  const rpc = <T>(method: string, params: unknown[] = []) => n.node.rpc.call<T>(method, params);
  const dir = (who: string) => join(work.path, who);
  const step = ownerStep({ node: () => n, dir, env: KEYS, floor: FLOOR });
  /** One round of Bob's watcher, as cron would run it: the built CLI, spawned. */
  const once = async (): Promise<Report> => {
    const r = await offchain(['watch', '--once', '--key-env', 'BOB_KEY', '--state-dir', dir('BOB_KEY'), ...n.chain(), '--max-fee-rate', String(BUDGET)], { env: KEYS });
    expect(r.status, describeRun(r)).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    // The report is its schema's (schemas/watch.report.json): what the watcher keeps for its own send stays out of it.
    expect([...Value.Errors(WatchReportSchema, report)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
    return report;
  };
  const decision = (r: Report, coin: string) => {
    const d = r.decisions.find((x) => x.contract === coin && x.kind === 'statechain-owner');
    expect(d, JSON.stringify(r)).toBeDefined();
    return d!;
  };
  const mempool = async () => (await rpc<string[]>('getrawmempool')).sort();
  const entry = (txid: string) => rpc<{ vsize: number; fees: { base: number }; spentby: string[] }>('getmempoolentry', [txid]);
  const confirmations = async (txid: string) => (await rpc<{ confirmations?: number }>('getrawtransaction', [txid, 1])).confirmations ?? 0;
  /** The fee spike: the transaction's fee taken away from the block template (the next block leaves it out). */
  const outbid = (txid: string, by = -100_000_000) => rpc('prioritisetransaction', [txid, 0, by]);
  const sats = (btc: number) => Math.round(btc * 1e8);
  const bobKey = singleKeyTaprootOutput(publicKeyOf(bytesOf(KEYS.BOB_KEY!)));

  beforeAll(async () => {
    assertBuilt();
    work = tempDir('offchain-regtest-watch-sc-withdraw-');
    n = await startFundedNode(BITCOIND!, 'watch-sc-withdraw');
    const made = statechainCoins({ node: () => n, work: () => work.path, step, amount: 100_000n });
    // Each funding sent before the next is funded (the wallet would pick the same coins again), both at one tip: one L₁.
    const a = await made.deposit(TERMS);
    await rpc('sendrawtransaction', [a.fundingHex]);
    const b = await made.deposit(TERMS);
    await rpc('sendrawtransaction', [b.fundingHex]);
    await n.mine(2);
    L1 = a.lockTime;
    expect(b.lockTime).toBe(L1);
    coins.own = a.coinId;
    coins.payee = b.coinId;
    L2 = (await made.transfer(a.coinId, 'ALICE_KEY', 'BOB_KEY')).latest_locktime;
    expect((await made.transfer(b.coinId, 'ALICE_KEY', 'BOB_KEY')).latest_locktime).toBe(L2);
    expect(L2).toBe(L1 - INTERVAL);
    // Bob's own address (his key's BIP-86 P2TR) for coin A; the wallet's, a payee's, for coin B.
    const key = messageOf<{ p2tr_address: string }>(await offchainInProcess(['key', 'show', '--key-env', 'BOB_KEY'], { env: KEYS }), 'key/public');
    const withdraw = async (coin: string, to: string) => {
      const asked = await step('BOB_KEY', ['statechain-withdraw', '--coin', coin, '--to', to, '--fee-rate', '0.2']);
      return (JSON.parse(await step('BOB_KEY', ['statechain-withdraw'], await step('OPERATOR_KEY', ['statechain-withdraw'], asked))) as { txid: string }).txid;
    };
    withdrawals.own = await withdraw(a.coinId, key.p2tr_address);
    withdrawals.payee = await withdraw(b.coinId, n.sweepTo);
    // The operator vanishes here: nothing below runs one of its steps.
  }, 180_000);
  afterAll(async () => {
    await n?.stop();
    work?.cleanup();
  });

  it('a withdrawal paying Bob: sent as signed, then bumped each block by a child of its payout and anchor through a fee spike, never above the budget, mined before the backup\'s window; a reorganisation of that block: it stands in the mempool, mined again; done six deep. A withdrawal paying the payee: never bumped, the shortfall said; replaced by Bob\'s backup in its window', async () => {
    const T0 = L2 - 5;
    await n.mine(T0 - (await n.tip()));
    const rates: number[] = [];
    let signedRate = 0;
    let child = '';
    for (let tip = T0; tip < L2 - 1; tip++) {
      expect(await n.tip()).toBe(tip);
      const r = await once();
      const d = decision(r, coins.own);
      expect(d.action, JSON.stringify(d)).toBe(tip === T0 ? 'rebroadcast' : 'rebid');
      expect(d.error, d.error).toBeUndefined();
      expect(d.txid).toBe(withdrawals.own);
      rates.push(d.fee_rate!);
      const w = await entry(withdrawals.own);
      if (tip === T0) {
        // Sent as signed (it pays what the schedule asks at its start, the relay floor): no child.
        expect(w.spentby).toEqual([]);
        signedRate = Math.floor((1000 * sats(w.fees.base)) / w.vsize) / 1000;
      } else {
        expect(w.spentby).toHaveLength(1);
        child = w.spentby[0]!;
        const c = await entry(child);
        const packageRate = (sats(w.fees.base) + sats(c.fees.base)) / (w.vsize + c.vsize);
        expect(packageRate).toBeGreaterThanOrEqual(d.fee_rate! - 0.01);
        expect(packageRate).toBeLessThanOrEqual(BUDGET);
        // The child spends the withdrawal's payout (Bob's key, key path) and its anchor, and pays Bob's key again.
        const raw = await rpc<string>('getrawtransaction', [child]);
        const tx = parseTx(raw);
        const parent = parseTx(await rpc<string>('getrawtransaction', [withdrawals.own]));
        expect(tx.inputs.map((i) => `${i.txid}:${i.vout}`)).toEqual([`${withdrawals.own}:0`, `${withdrawals.own}:1`]);
        expect(tx.outputs.map((o) => hexOf(o.script))).toEqual([hexOf(p2trScript(bobKey.outputKey))]);
        verifyKeyPathSpend(raw, [parent.outputs[0]!, parent.outputs[1]!], [bobKey.outputKey, null]);
      }
      // The payee's withdrawal: sent as signed once, then waited on — the shortfall said, nothing sent for it.
      const p = decision(r, coins.payee);
      if (tip === T0) expect(p).toMatchObject({ action: 'rebroadcast', txid: withdrawals.payee });
      else {
        expect(p, JSON.stringify(p)).toMatchObject({ action: 'wait', shortfall: 'wallet', txid: withdrawals.payee });
        expect(p.reason).toContain(`cannot bump it (E_NO_CHILD: the withdrawal pays ${n.sweepTo}, not this owner's key nor its share`);
        expect(p.reason).toMatch(/a withdrawal paying more needs the operator's co-signature, which it gave once/);
        expect((await entry(withdrawals.payee)).spentby).toEqual([]);
      }
      expect(await mempool()).toEqual([withdrawals.own, withdrawals.payee, ...(child ? [child] : [])].sort());
      // The spike: both withdrawals (and each child) left out of the next block — until Bob's last bid.
      if (tip === T0) {
        await outbid(withdrawals.own);
        await outbid(withdrawals.payee);
      }
      if (child && tip < L2 - 2) await outbid(child);
      if (tip === L2 - 2) await outbid(withdrawals.own, 100_000_000); // the spike ends for coin A: the last bid is enough
      await n.mine(1);
    }
    // The coin's schedule, from the relay floor (regtest has no estimate) at L₂ − 5 to the budget at L₁ − 2 (the last
    // chance before the previous owner's backup is final): 0.1 + ⌈4.9 · k / 8⌉ sat/vB, k = 1 … 3 — the first send the
    // withdrawal's own rate (0.2 sat/vB on its signed size, rounded up to a sat).
    expect(signedRate).toBeGreaterThanOrEqual(0.2);
    expect(rates).toEqual([signedRate, 0.713, 1.325, 1.938]);
    expect(await n.tip()).toBe(L2 - 1);
    expect(await confirmations(withdrawals.own)).toBe(1);
    expect(await confirmations(child)).toBe(1);
    expect(decision(await once(), coins.own)).toMatchObject({ action: 'wait', txid: withdrawals.own });

    // A reorganisation of the block that mined it: the package back in the node's mempool, where it stands (it pays
    // what the schedule asks at L₂ − 2), mined again on the other branch.
    const replaced = await rpc<string>('getblockhash', [L2 - 1]);
    await rpc('invalidateblock', [replaced]);
    const reorged = await once();
    expect(reorged.reorg).toMatchObject({ depth: 1, fork_height: L2 - 2 });
    expect(decision(reorged, coins.own), JSON.stringify(reorged)).toMatchObject({ action: 'wait', txid: withdrawals.own });
    expect(await mempool()).toContain(child);
    await rpc('generatetoaddress', [1, n.sweepTo]);
    expect(await confirmations(child)).toBe(1);
    await n.mine(1);

    // At L₂ the payee's withdrawal is still out of blocks: Bob's backup (his window) replaces it, paying Bob, as before.
    expect(await n.tip()).toBe(L2);
    const r = await once();
    expect(decision(r, coins.own)).toMatchObject({ action: 'wait', txid: withdrawals.own });
    const backup = decision(r, coins.payee);
    expect(backup, JSON.stringify(backup)).toMatchObject({ action: 'backup' });
    expect(backup.reason).toMatch(/not to the withdrawal's payee/);
    expect(await mempool()).not.toContain(withdrawals.payee);
    expect(await mempool()).toContain(backup.txid);
    await n.mine(5);
    expect(await confirmations(withdrawals.own)).toBe(7);
    expect(decision(await once(), coins.own)).toMatchObject({ action: 'done', txid: withdrawals.own });
    expect(await confirmations(backup.txid!)).toBe(5);
  }, 180_000);
});
