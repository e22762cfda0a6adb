/**
 * `offchain watch` keeps the credit contract's deadlines on a real `bitcoind -regtest` with no
 * other command typed (issue 71): the user vanishes and the mint's watcher exits in time, its
 * bid rising each block while a fee spike keeps the exit out of blocks (Core's
 * prioritisetransaction takes the package's fee away from the block template, as a market of
 * higher bids would), to the budget one block before the deadline and never above it; a
 * reorganisation un-mines the exit and the watcher sees it and keeps it going; the mint
 * vanishes and the user's watcher refunds at expiry; a watcher killed (SIGKILL) at random points
 * and started again, and two watchers at once, end as the contract says. Each watcher is the
 * built CLI, spawned. Skipped, visibly, without bitcoind.
 *
 * Timeline: the mint publishes an offer with a 6-block safety margin; contracts X (expiry +40),
 * Y (+80), Z (+120) and W (+160) open through `serve mint` and take one payment each; the
 * service stops (from then on only watchers run beside the node).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { hex } from '@scure/base';
import { findBitcoind } from './bitcoind.ts';
import type { FundedNode } from './funded-node.ts';
import { ServeMintProcess } from '../e2e/serve-process.ts';
import { CONTRACT, MINT_KEY, USER_KEY, mintPeerSetup, ok } from './serve-mint-peer.ts';
import { BIN, offchain, describeRun } from './offchain-cli.ts';
import { publicKeyOf, singleKeyTaprootOutput } from '../independent/keys.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND
  ? `offchain watch keeps the credit contract's deadlines on bitcoind -regtest (${BITCOIND})`
  : 'offchain watch on bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

const MARGIN = 6;
/** The mint's budget, sat/vB (--max-fee-rate). */
const BUDGET = 5;
const PAYOUT_OUTPUT = singleKeyTaprootOutput(publicKeyOf(hex.decode(MINT_KEY)));

type Decision = { kind: string; contract: string; action: string; deadline: number; blocks_left: number; fee_rate?: number; txid?: string; error?: string; shortfall?: string };
type Report = { type: string; tip: { height: number; hash: string }; reorg?: { depth: number; fork_height?: number; deep: boolean; replaced: string[] }; decisions: Decision[]; summary: { errors: number; shortfalls: number; idle?: number } };
type Opened = { id: string; expiry: number; funding: { txid: string; vout: number } };

describe.skipIf(!BITCOIND)(TITLE, () => {
  const w = mintPeerSetup('offchain-regtest-watch-');
  let node: FundedNode;
  const contracts: Record<'X' | 'Y' | 'Z' | 'W', Opened> = {} as never;
  const rpc = <T>(method: string, params: unknown[] = []) => node.node.rpc.call<T>(method, params);

  const watchArgs = (dir: string, key: string[], extra: string[] = []) => ['watch', ...key, '--state-dir', dir, ...node.chain(), '--max-fee-rate', String(BUDGET), ...extra];
  const asMint = (extra: string[] = []) => watchArgs(w.mintDir, ['--key-env', 'MINT_KEY'], extra);
  const asUser = (extra: string[] = []) => watchArgs(w.userDir, [], extra);
  /** One round, as cron would run it: the built CLI, spawned. */
  const once = async (args: string[]): Promise<Report> => {
    const r = await offchain([...args, '--once'], { env: { MINT_KEY, USER_KEY } });
    expect(r.status, describeRun(r)).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.type).toBe('watch/report');
    return report;
  };
  const decision = (r: Report, c: Opened, kind = 'credit-mint') => {
    const d = r.decisions.find((x) => x.contract === c.id && x.kind === kind);
    expect(d, JSON.stringify(r)).toBeDefined();
    return d!;
  };
  /** The round did not read `c` (src/lib/watch/ports.ts: nothing it can need at this tip): no decision for it, counted among the idle. */
  const unread = (r: Report, c: Opened) => {
    expect(r.decisions.filter((x) => x.contract === c.id), JSON.stringify(r)).toEqual([]);
    expect(r.summary.idle, JSON.stringify(r.summary)).toBeGreaterThanOrEqual(1);
  };
  const mineTo = async (height: number) => {
    const n = height - (await node.tip());
    expect(n).toBeGreaterThanOrEqual(0);
    if (n > 0) await node.mine(n);
  };
  const mempool = () => rpc<string[]>('getrawmempool');
  const entry = (txid: string) => rpc<{ vsize: number; fees: { base: number } }>('getmempoolentry', [txid]);
  const confirmations = async (txid: string) => (await rpc<{ confirmations?: number }>('getrawtransaction', [txid, 1])).confirmations ?? 0;
  /** The fee spike: the package's fee taken away from the block template (the next block leaves it out). */
  const outbid = (txid: string) => rpc('prioritisetransaction', [txid, 0, -100_000_000]);
  /**
   * The mint's long-running watcher (the built CLI, spawned): its JSON log lines, a wait for one
   * (up to 20 s), its exit code. A test that fails must kill it (a watcher left polling a node that is gone).
   */
  const longRunning = (extra: string[]) => {
    const child = spawn(process.execPath, [BIN, ...asMint(extra)], { env: { ...process.env, MINT_KEY, OFFCHAIN_CONFIG: '/dev/null' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let out = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const lines = () => err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
    const until = async (what: () => boolean) => {
      for (let i = 0; i < 200 && !what(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(what(), err).toBe(true);
    };
    return { child, exited, lines, until, log: () => err, stdout: () => out };
  };

  /** A contract opened and paid once through a `serve mint` started for it (--no-watch) and stopped after: `refund`, the user's refund and change address. */
  const openPaid = async (capacity: bigint, expiry: string, amount: number, refund?: string): Promise<Opened> => {
    const svc = await ServeMintProcess.start(['--key-env', 'MINT_KEY', '--state-dir', w.mintDir, ...node.chain(), '--no-watch'], { MINT_KEY });
    try {
      const { opened, funding, signed } = await w.openThroughPeer(svc.url, capacity, expiry, refund);
      expect(await node.acceptAndMine(signed.hex)).toBe(funding.txid);
      ok(await w.user('sign-update', '--role', 'user', '--amount', String(amount), '--contract', opened.contract_id, '--peer', svc.url), 'credit/balance');
      return { id: opened.contract_id, expiry: opened.refund.final_from_height - 1, funding };
    } finally {
      expect((await svc.stop()).status, svc.stderr).toBe(0);
    }
  };

  beforeAll(async () => {
    node = await w.start(BITCOIND!, 'watch', ['--safety-margin', String(MARGIN), '--min-expiry', '20']);
    const svc = await ServeMintProcess.start(['--key-env', 'MINT_KEY', '--state-dir', w.mintDir, ...node.chain()], { MINT_KEY });
    try {
      for (const [name, blocks] of [['X', 40], ['Y', 80], ['Z', 120], ['W', 160]] as const) {
        const { opened, funding, signed } = await w.openThroughPeer(svc.url, 1_000_000n, `+${blocks}`);
        expect(await node.acceptAndMine(signed.hex)).toBe(funding.txid);
        ok(await w.user('sign-update', '--role', 'user', '--amount', '60000', '--contract', opened.contract_id, '--peer', svc.url), 'credit/balance');
        contracts[name] = { id: opened.contract_id, expiry: opened.refund.final_from_height - 1, funding: { txid: funding.txid, vout: funding.vout } };
      }
    } finally {
      expect((await svc.stop()).status, svc.stderr).toBe(0);
    }
  }, 240_000);

  afterAll(() => w.stop());

  it('far from any deadline the watchers do nothing: no contract is read (each can need nothing at this tip), all four counted idle, nothing sent', async () => {
    const mint = await once(asMint());
    expect(mint.decisions).toEqual([]);
    expect(mint.summary.idle).toBe(4);
    const user = await once(asUser());
    expect(user.decisions).toEqual([]);
    expect(user.summary.idle).toBe(4);
    expect(await mempool()).toEqual([]);
  }, 60_000);

  it('the user vanishes and fees spike: the mint\'s watcher exits X at the margin and rebids each block, reaching its budget one block before the deadline (lnd#8741), never above it; mined by the deadline', async () => {
    const X = contracts.X;
    // One block before the margin X is not read; the next block brings it within the margin: read, and exited.
    await mineTo(X.expiry - MARGIN - 1);
    unread(await once(asMint()), X);
    await mineTo(X.expiry - MARGIN);
    const rates: number[] = [];
    let state = '';
    for (let tip = X.expiry - MARGIN; tip < X.expiry; tip++) {
      expect(await node.tip()).toBe(tip);
      const d = decision(await once(asMint()), X);
      expect(d.action, JSON.stringify(d)).toBe(tip === X.expiry - MARGIN ? 'exit' : 'rebid');
      expect(d.error).toBeUndefined();
      rates.push(d.fee_rate!);
      // In the node's mempool: the state and this child, at the bid, counted by Core.
      const pool = await mempool();
      expect(pool).toContain(d.txid);
      const child = await rpc<{ depends: string[] }>('getmempoolentry', [d.txid]);
      state = child.depends[0]!;
      const [s, c] = [await entry(state), await entry(d.txid!)];
      const [stateFee, childFee] = [Math.round(s.fees.base * 1e8), Math.round(c.fees.base * 1e8)];
      const packageRate = (stateFee + childFee) / (s.vsize + c.vsize);
      expect(packageRate).toBeGreaterThanOrEqual(d.fee_rate! - 0.01);
      // Never above the budget: the package's rate (the fee guard is the package's; the child alone carries the state).
      expect(packageRate).toBeLessThanOrEqual(BUDGET);
      expect(childFee / c.vsize).toBeGreaterThan(0);
      // The spike: this bid is not enough for the next block (the state pays its own floor fee: it is outbid too, once).
      if (tip === X.expiry - MARGIN) await outbid(state);
      if (tip < X.expiry - 1) await outbid(d.txid!);
      else await rpc('prioritisetransaction', [state, 0, 100_000_000]); // the spike ends: the last bid is enough
      await node.mine(1);
    }
    // LND's linear schedule from the relay floor (0.1 sat/vB: regtest has no estimate) to the
    // budget (the package's rate, --max-fee-rate), reached at the last chance (tip = deadline − 1,
    // the 6th bid), worked out by hand: 0.1 + 4.9·k/5.
    expect(rates).toEqual([0.1, 1.08, 2.06, 3.04, 4.02, 5]);
    // Mined in the deadline's block at the latest: the user's refund is final only after it.
    expect(await confirmations(state)).toBe(1);
    expect(await node.tip()).toBe(X.expiry);
    const verified = verifyKeyPathSpend(await rpc<string>('getrawtransaction', [state]), [{ ...X.funding, amount: 1_000_000n, script: CONTRACT.script }], CONTRACT.outputKey);
    expect(verified.outputs.find((o) => hex.encode(o.script) === hex.encode(PAYOUT_OUTPUT.script))?.amount).toBe(60_000n);
    // The offer's min_confirmations is 1: the exit is done.
    expect(decision(await once(asMint()), X).action).toBe('done');
  }, 180_000);

  it('a reorganisation un-mines X\'s exit: the watcher reports it (depth, fork) and keeps the exit going until it is mined again; then done', async () => {
    const X = contracts.X;
    const tip = await node.tip();
    const replaced = await rpc<string>('getblockhash', [tip]);
    await rpc('invalidateblock', [replaced]);
    const r = await once(asMint());
    expect(r.reorg).toMatchObject({ depth: 1, fork_height: tip - 1, deep: false, replaced: [replaced] });
    const d = decision(r, X);
    // Core put the exit back in its mempool; the bid is at the budget: it is held, or sent again if it was lost.
    expect(['hold', 'rebroadcast'], JSON.stringify(d)).toContain(d.action);
    // A block of the new branch (to another address: the same coinbase in the same second would be the invalidated block again).
    await rpc('generatetoaddress', [1, node.sweepTo]);
    const done = decision(await once(asMint()), X);
    expect(done.action).toBe('done');
    expect(await confirmations(done.txid!)).toBe(1); // the exit's state, mined again on the new branch

    // Deeper, as deep as the issue asks (6): the last six blocks replaced by six others (the exit un-mined and mined again).
    const t = await node.tip();
    const gone: string[] = [];
    for (let h = t - 5; h <= t; h++) gone.push(await rpc<string>('getblockhash', [h]));
    await rpc('invalidateblock', [gone[0]]);
    await rpc('generatetoaddress', [6, await node.wallet.call<string>('getnewaddress', ['', 'bech32m'])]);
    const deeper = await once(asMint());
    expect(deeper.reorg).toEqual({ depth: 6, fork_height: t - 6, deep: false, replaced: gone });
    const again = decision(deeper, X);
    expect(again.action).toBe('done');
    expect(await confirmations(again.txid!)).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('the mint vanishes: the user\'s watcher refunds Y once the refund is final — not a block earlier — and it is mined; the mint\'s view says refunded', async () => {
    const Y = contracts.Y;
    await mineTo(Y.expiry - 1);
    unread(await once(asUser()), Y);
    await mineTo(Y.expiry);
    const d = decision(await once(asUser()), Y, 'credit-user');
    expect(d.action).toBe('refund');
    expect(d.error).toBeUndefined();
    expect(await mempool()).toContain(d.txid);
    await node.mine(1);
    expect(await confirmations(d.txid!)).toBe(1);
    expect(decision(await once(asUser()), Y, 'credit-user').action).toBe('wait');
    const list = ok(await offchain(['credit', 'list', '--state-dir', w.mintDir, ...node.chain()]), 'credit/contracts');
    expect(list.contracts.find((c: { contract_id: string }) => c.contract_id === Y.id)).toMatchObject({ refund: { txid: d.txid, confirmations: 1 } });
  }, 120_000);

  it('a long-running watcher killed (SIGKILL) at random points, 50 times across the scenario, and started again: Z is exited by its deadline, and no bid it stored ever fell', async () => {
    const Z = contracts.Z;
    await mineTo(Z.expiry - MARGIN - 2);
    const seen: number[] = [];
    const outbidden = new Set<string>();
    let kills = 0;
    // 7 blocks before the last chance, up to 8 kills in each: 50 (a kill anywhere — loading, mid-round, mid-send, idle).
    const perBlock = 8;
    while ((await node.tip()) < Z.expiry - 1) {
      for (let k = 0; k < perBlock && kills < 50; k++) {
        const child = spawn(process.execPath, [BIN, ...asMint(['--interval', '0.05', '--log-level', 'info'])], { env: { ...process.env, MINT_KEY, OFFCHAIN_CONFIG: '/dev/null' }, stdio: ['ignore', 'ignore', 'pipe'] });
        let log = '';
        child.stderr.on('data', (b: Buffer) => (log += b.toString()));
        const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
        await new Promise((resolve) => setTimeout(resolve, 30 + Math.floor(Math.random() * 600)));
        child.kill('SIGKILL');
        expect(await exited, `the watcher ended by itself before it was killed:\n${log}`).toBeNull();
        kills++;
        for (const line of log.split('\n').filter((l) => l.includes('"event":"decision"'))) {
          const d = JSON.parse(line) as Decision;
          if (d.contract === Z.id && d.fee_rate !== undefined && ['exit', 'rebid'].includes(d.action)) seen.push(d.fee_rate);
        }
        // Never two children of the exit's state (TRUC), and nothing of the mint's but the exit in the mempool.
        expect((await mempool()).length).toBeLessThanOrEqual(2);
      }
      // Keep the spike on whatever it sent (each transaction outbid once).
      for (const txid of await mempool()) if (!outbidden.has(txid)) outbidden.add(txid), await outbid(txid);
      await node.mine(1);
    }
    // The last chance: the spike ends (the node counts their fees again), one more round, one more block.
    for (const txid of outbidden) await rpc('prioritisetransaction', [txid, 0, 100_000_000]);
    const last = decision(await once(asMint()), Z);
    expect(['rebid', 'hold', 'rebroadcast', 'exit']).toContain(last.action);
    await node.mine(1);
    expect(decision(await once(asMint()), Z).action).toBe('done');
    expect(await node.tip()).toBe(Z.expiry);
    expect(kills).toBe(50);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!, `bids ${seen.join(', ')}`).toBeGreaterThanOrEqual(seen[i - 1]!);
  }, 240_000);

  it('two watchers at once act once: one exit package for W in the mempool, both exit 0', async () => {
    const W = contracts.W;
    await mineTo(W.expiry - MARGIN);
    const [a, b] = await Promise.all([once(asMint()), once(asMint())]);
    const sent = [decision(a, W), decision(b, W)];
    expect(sent.map((d) => d.error)).toEqual([undefined, undefined]);
    const pool = await mempool();
    expect(pool).toHaveLength(2); // the state and one child
    await node.mine(1);
    expect(decision(await once(asMint()), W).action).toBe('done');
  }, 120_000);

  it('a long-running watcher logs one JSON line per decision, serves /metrics on the operator\'s listener (blocks to the nearest deadline, actions pending), and stops on SIGTERM with exit 0', async () => {
    // V: a fresh contract far from its deadline, so the nearest deadline is V's.
    const V = await openPaid(500_000n, '+30', 1000);
    const { child, exited, lines, until, log, stdout } = longRunning(['--interval', '0.1', '--operator-listen', '127.0.0.1:0']);
    try {
      await until(() => lines().some((l) => l.event === 'round'));
      const url = lines().find((l) => l.event === 'listening')!.operator as string;
      const tip = await node.tip();
      const metrics = await (await fetch(`${url}/metrics`)).text();
      // V is not read (30 blocks from expiry, the margin 6): the nearest deadline is still its, and it is the one idle contract.
      expect(metrics).toContain(`offchain_watch_blocks_to_nearest_deadline{role="watch"} ${V.expiry - tip}`);
      expect(metrics).toContain('offchain_watch_contracts_idle{role="watch"} 1\n');
      expect(metrics).toMatch(/offchain_watch_actions_pending\{role="watch"\} \d+/);
      expect(metrics).toContain(`offchain_watch_tip_height{role="watch"} ${tip}`);
      // No contract id or txid in any label.
      expect(metrics).not.toContain(V.id);
      // A new block: a new round, seen in the log.
      const rounds = lines().filter((l) => l.event === 'round').length;
      await node.mine(1);
      await until(() => lines().filter((l) => l.event === 'round').length > rounds);
      child.kill('SIGTERM');
      expect(await exited, log()).toBe(0);
      expect(stdout()).toBe('');
      expect(lines().at(-1)).toMatchObject({ event: 'stopped' });
    } finally {
      // A failed expectation must not leave the watcher running after the test (it would poll a node that is gone, for ever).
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 120_000);

  it('serve mint keeps the deadlines itself (a watcher beside its routes): U is exited at its margin with no other command, the decision in the service\'s log; SIGTERM still drains and exits 0', async () => {
    const svc = await ServeMintProcess.start(['--key-env', 'MINT_KEY', '--state-dir', w.mintDir, ...node.chain(), '--max-fee-rate', String(BUDGET), '--log-level', 'info'], { MINT_KEY });
    try {
      const { opened, funding, signed } = await w.openThroughPeer(svc.url, 400_000n, '+25');
      expect(await node.acceptAndMine(signed.hex)).toBe(funding.txid);
      ok(await w.user('sign-update', '--role', 'user', '--amount', '3000', '--contract', opened.contract_id, '--peer', svc.url), 'credit/balance');
      const expiry = opened.refund.final_from_height - 1;
      await mineTo(expiry - MARGIN);
      const exitLine = () => svc.stderr.split('\n').filter((l) => l.includes('"event":"decision"')).map((l) => JSON.parse(l) as Decision).find((d) => d.contract === opened.contract_id && d.action === 'exit');
      for (let i = 0; i < 100 && !exitLine()?.txid; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      const d = exitLine();
      expect(d, svc.stderr).toMatchObject({ kind: 'credit-mint', deadline: expiry, blocks_left: MARGIN });
      expect(d!.error).toBeUndefined();
      expect(await mempool()).toContain(d!.txid);
      await node.mine(1);
      expect(await confirmations(d!.txid!)).toBe(1);
      // The exit froze the contract: the service signs no later state of it.
      const refused = await w.user('sign-update', '--role', 'user', '--amount', '1000', '--contract', opened.contract_id, '--peer', svc.url);
      expect(refused.status).toBe(4);
    } finally {
      expect((await svc.stop()).status, svc.stderr).toBe(0);
    }
  }, 120_000);

  /**
   * A contract whose user's change (its refund address) is a Core wallet address, exited by the
   * watcher at its margin; then the user pins the state: a v3 child on its change, ~930 vB paying
   * `pinFee` — more absolute fee than a small child pays, at a low rate. TRUC allows one child, so
   * it evicts the mint's.
   */
  const pinnedExit = async (pinFee: number) => {
    const userAddress = await node.wallet.call<string>('getnewaddress', ['', 'bech32m']);
    const P = await openPaid(300_000n, '+25', 20000, userAddress);
    await mineTo(P.expiry - MARGIN);
    const first = decision(await once(asMint()), P);
    expect(first.action).toBe('exit');
    const state = (await rpc<{ depends: string[] }>('getmempoolentry', [first.txid])).depends[0]!;
    const tx = await rpc<{ hex: string; vout: { n: number; value: number; scriptPubKey: { address?: string; hex: string } }[] }>('getrawtransaction', [state, 1]);
    const change = tx.vout.find((o) => o.scriptPubKey.address === userAddress)!;
    const changeSat = Math.round(change.value * 1e8);
    const outputs: Record<string, string>[] = [];
    for (let i = 0; i < 20; i++) outputs.push({ [await node.wallet.call<string>('getnewaddress', ['', 'bech32m'])]: ((Math.floor((changeSat - pinFee) / 20)) / 1e8).toFixed(8) });
    const raw = await rpc<string>('createrawtransaction', [[{ txid: state, vout: change.n }], outputs]);
    const signed = await node.wallet.call<{ hex: string; complete: boolean }>('signrawtransactionwithwallet', [`03000000${raw.slice(8)}`, [{ txid: state, vout: change.n, scriptPubKey: change.scriptPubKey.hex, amount: change.value }]]);
    expect(signed.complete).toBe(true);
    const pin = await rpc<string>('sendrawtransaction', [signed.hex]);
    expect(await mempool()).not.toContain(first.txid); // the user's child evicted the mint's
    expect(await mempool()).toContain(pin);
    return { P, state, pin };
  };

  it('the user pins the exit with a large low-rate TRUC child of its own on the state\'s change output: the watcher replaces it (sibling eviction) within its budget, and the state is mined by the deadline', async () => {
    const pinFee = 1100;
    const { P, state, pin } = await pinnedExit(pinFee);
    // The market mines none of it (empty blocks: generateblock with no transaction). Each block the
    // watcher's schedule rises; it holds while the pin's package rate is above the schedule, then
    // replaces the pin (its child pays more absolute fee than the whole pin: Core's rule 3).
    let again: Decision | undefined;
    const seen: string[] = [];
    for (let tip = await node.tip(); tip < P.expiry; tip++) {
      const d = decision(await once(asMint()), P);
      seen.push(d.action);
      expect(d.error, JSON.stringify(d)).toBeUndefined();
      if (d.action === 'rebid') {
        again = d;
        break;
      }
      expect(d.action).toBe('hold');
      await rpc('generateblock', [node.sweepTo, []]);
    }
    expect(again, seen.join(', ')).toBeDefined();
    const pool = await mempool();
    expect(pool).toContain(again!.txid);
    expect(pool).not.toContain(pin);
    const [s, c] = [await entry(state), await entry(again!.txid!)];
    const packageRate = (Math.round(s.fees.base * 1e8) + Math.round(c.fees.base * 1e8)) / (s.vsize + c.vsize);
    expect(packageRate).toBeLessThanOrEqual(BUDGET);
    expect(Math.round(c.fees.base * 1e8)).toBeGreaterThan(pinFee); // more absolute fee than the pin (Core's rule 3)
    await node.mine(1);
    expect(await confirmations(state)).toBe(1);
    expect(await node.tip()).toBeLessThanOrEqual(P.expiry);
  }, 180_000);

  it('a pin paying more than the budget can ever outbid: the watcher holds, says the budget falls short (shortfall budget, no error, nothing sent), and does not retry every 10 s', async () => {
    // BUDGET 5 sat/vB over the mint's package (state 154 vB + child 111 vB) is at most 1,325 sat: a 1,600-sat pin is out of reach.
    const { P, pin } = await pinnedExit(1600);
    const d = decision(await once(asMint()), P);
    expect(d, JSON.stringify(d)).toMatchObject({ action: 'hold', shortfall: 'budget', txid: pin });
    expect(d.error).toBeUndefined();
    await rpc('generateblock', [node.sweepTo, []]);
    const last = await once(asMint());
    expect(decision(last, P)).toMatchObject({ action: 'hold', shortfall: 'budget' });
    expect(last.summary).toMatchObject({ errors: 0 });
    expect(await mempool()).toContain(pin);
    // The operator's way out: a higher budget, by hand. exit-credit reads the pin itself (with a node) and its child replaces it.
    const pinFee = Math.round((await entry(pin)).fees.base * 1e8);
    expect(pinFee).toBeGreaterThanOrEqual(1600);
    const r = await offchain(['exit-credit', '--contract', P.id, '--fee-rate', '2', '--max-fee-rate', '10', '--broadcast', '--key-env', 'MINT_KEY', '--state-dir', w.mintDir, ...node.chain()], { env: { MINT_KEY } });
    expect(r.status, describeRun(r)).toBe(0);
    const exit = JSON.parse(r.stdout) as { state_tx: { txid: string }; child: { txid: string; fee_sat: number; replaces?: { txid: string; fee_sat: number } }; broadcast: { package_msg: string } };
    expect(exit.child.replaces).toEqual({ txid: pin, fee_sat: pinFee });
    expect(exit.child.fee_sat).toBeGreaterThan(pinFee); // more than the pin (Core's rule 3), above what --fee-rate 2 alone asks
    expect(exit.broadcast.package_msg).toBe('success');
    const pool = await mempool();
    expect(pool).toContain(exit.child.txid);
    expect(pool).not.toContain(pin);
    await node.mine(1);
    expect(await confirmations(exit.state_tx.txid)).toBe(1);
  }, 180_000);

  it('a mint store restored from a backup behind the chain never replaces its newer exit with an older state: the watcher holds and says E_WATCH_FOREIGN_SPEND', async () => {
    // T: paid once (the backup is taken then), paid again, exited with state 2 by the watcher.
    const backup = join(w.tmp.path, 'mint-backup');
    const T = await openPaid(300_000n, '+25', 10000);
    cpSync(w.mintDir, backup, { recursive: true });
    const svc = await ServeMintProcess.start(['--key-env', 'MINT_KEY', '--state-dir', w.mintDir, ...node.chain(), '--no-watch'], { MINT_KEY });
    try {
      ok(await w.user('sign-update', '--role', 'user', '--amount', '30000', '--contract', T.id, '--peer', svc.url), 'credit/balance');
    } finally {
      expect((await svc.stop()).status, svc.stderr).toBe(0);
    }
    await mineTo(T.expiry - MARGIN);
    const sent = decision(await once(asMint()), T);
    expect(sent.action).toBe('exit');
    const state2 = (await rpc<{ depends: string[] }>('getmempoolentry', [sent.txid])).depends[0]!;
    await outbid(state2);
    await outbid(sent.txid!);
    // The operator restores the backup: the store's latest is state 1 again.
    rmSync(w.mintDir, { recursive: true, force: true });
    cpSync(backup, w.mintDir, { recursive: true });
    await node.mine(1);
    const held = decision(await once(asMint()), T);
    expect(held.action, JSON.stringify(held)).toBe('hold');
    expect(held.error).toMatch(/^E_WATCH_FOREIGN_SPEND: /);
    expect(held.txid).toBe(state2);
    // Nothing was sent over it: state 2 and its child are still what the node holds.
    expect((await mempool()).sort()).toEqual([state2, sent.txid!].sort());
    const verified = verifyKeyPathSpend(await rpc<string>('getrawtransaction', [state2]), [{ ...T.funding, amount: 300_000n, script: CONTRACT.script }], CONTRACT.outputKey);
    expect(verified.outputs.find((o) => hex.encode(o.script) === hex.encode(PAYOUT_OUTPUT.script))?.amount).toBe(40_000n);
    // The operator's way out: state 2 mined (here, the spike ends).
    await rpc('prioritisetransaction', [state2, 0, 100_000_000]);
    await rpc('prioritisetransaction', [sent.txid, 0, 100_000_000]);
    await node.mine(1);
    expect(await confirmations(state2)).toBe(1);
  }, 180_000);

  it('the node restarted under a long-running watcher: its rounds fail while the node is away (logged, the watcher goes on), resume once it is back (a new cookie), and R is exited at its margin and mined by its deadline', async () => {
    const R = await openPaid(300_000n, '+25', 20000);
    await mineTo(R.expiry - MARGIN - 2);
    const { child, exited, lines, until, log } = longRunning(['--interval', '0.1']);
    try {
      await until(() => lines().some((l) => l.event === 'round'));
      // Down for 1.5 s (fifteen polls), then back on the same datadir: its cookie is a new one.
      await node.node.restart(1500);
      expect(lines().some((l) => l.event === 'round-failed'), log()).toBe(true);
      expect(child.exitCode).toBeNull();
      const before = lines().filter((l) => l.event === 'round').length;
      await node.mine(2);
      await until(() => lines().filter((l) => l.event === 'round').length > before);
      const exitLine = () => lines().find((l) => l.event === 'decision' && l.contract === R.id && l.action === 'exit' && l.txid);
      await until(() => exitLine() !== undefined);
      const d = exitLine()!;
      expect(d).toMatchObject({ kind: 'credit-mint', deadline: R.expiry, blocks_left: MARGIN });
      expect(d.error).toBeUndefined();
      const state = (await rpc<{ depends: string[] }>('getmempoolentry', [d.txid])).depends[0]!;
      await node.mine(1);
      expect(await confirmations(state)).toBe(1);
      child.kill('SIGTERM');
      expect(await exited, log()).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 180_000);
});
