/**
 * A watcher's rounds, over a host its caller builds (the `watch` command, or `serve mint`
 * running one beside its routes): one round per new best block — follow the chain by block
 * hash (src/lib/watch/chain-view.ts: a reorganisation is seen, and every decision is taken
 * again on the new chain), then, for every contract the host's roles hold, decide
 * (src/lib/watch/) and act through the one-shot step's own code (./credit.ts).
 *
 * Every round decides from the chain and the store alone, so a watcher killed at any point and
 * started again takes the same decisions: what it sent is either in the node (seen there) or
 * not (sent again), and a bid is stored before it is sent, so no later bid undercuts it.
 */
import { OffchainError } from '../../lib/errors.ts';
import type { StateDb } from '../../lib/store/sqlite/database.ts';
import { byDeadline, SENDING, type Decision, type Report } from '../../lib/watch/decision.ts';
import type { Round, WatchChain } from './credit.ts';
import { WatchRecords } from './state.ts';
import type { WatchGaugeState, WatchLogger } from './service.ts';
import type { HashblockSetting } from './hashblock.ts';
import { Wake } from './wake.ts';

export type WatchHost = {
  network: string;
  chain: WatchChain;
  /** The state directory's database (created only by the first write: `create`). */
  db: (create: boolean) => Promise<StateDb | undefined>;
  /**
   * Every contract kind the state directory's roles hold, each its round's decisions (acted on
   * unless `r.dryRun`): the credit mint's and the credit user's today (./credit.ts). A new kind is
   * one more entry — its decision table in src/lib/watch/, its round beside ./credit.ts.
   */
  kinds: readonly { kind: string; round: KindRound }[];
};

/** One kind's round. `reorgDepth`: blocks this round's tip replaced (what a kind took as final is asked again). */
export type KindRound = (r: Round, reorgDepth: number) => Promise<Decision[]>;

/** `zmq`: --zmq-hashblock (`auto`, `off` or an endpoint): what wakes the loop before its next poll (./hashblock.ts). */
export type LoopOptions = { dryRun: boolean; intervalMs: number; zmq: HashblockSetting; log: WatchLogger; gauges: WatchGaugeState; signal: AbortSignal };

/** A round with a failed action is taken again after this long, at the same tip (the last chance must not wait for a block). */
const RETRY_MS = 10_000;

const PENDING = new Set(['exit', 'claim', 'refund', 'backup', 'penalty', 'sweep', 'rebid', 'rebroadcast', 'hold', 'wait']);

/** One round at the node's tip: follow the chain, decide for every contract, act unless `dryRun`. */
export async function watchRound(host: WatchHost, dryRun: boolean): Promise<Report> {
  const { follow } = await import('../../lib/watch/chain-view.ts');
  const { chain } = host;
  const records = new WatchRecords(dryRun ? async () => host.db(false) : host.db);
  const tip = await chain.tip();
  const offline = chain.kind !== 'rpc';
  const followed = offline ? undefined : await follow(await records.view(), { height: tip.height, hash: tip.hash! }, (hash) => chain.blockHeader(hash));
  const idle: NonNullable<Round['idle']> = { count: 0 };
  const r: Round = { tip: tip.height, block: tip.hash ?? '', dryRun, offline, chain, records, connected: followed?.connected.map((b) => b.hash) ?? [], idle };
  const reorgDepth = followed?.deep ? Number.MAX_SAFE_INTEGER : followed?.replaced.length ?? 0;
  const decisions: Decision[] = [];
  // One kind that fails (its store unreadable, a key that is not its own, a bug) is that kind's failure in the report:
  // the others still act this round, and the failed one is taken again 10 s later (as a failed action).
  const failures: { kind: string; error: string }[] = [];
  for (const { kind, round } of host.kinds) {
    try {
      decisions.push(...await round(r, reorgDepth));
    } catch (e) {
      failures.push({ kind, error: e instanceof OffchainError ? `${e.code}: ${e.message}` : `E_INTERNAL: ${(e as Error)?.message ?? String(e)}` });
    }
  }
  decisions.sort(byDeadline);
  if (!dryRun && followed) await records.setView(followed.view);
  const live = decisions.filter((d) => d.action !== 'done');
  const nearest = [...live.map((d) => d.blocks_left), ...(idle.next !== undefined ? [idle.next - tip.height] : [])];
  const reorg = followed && followed.replaced.length > 0
    ? { depth: followed.replaced.length, ...(followed.forkHeight !== undefined ? { fork_height: followed.forkHeight } : {}), deep: followed.deep, replaced: followed.replaced.map((b) => b.hash) }
    : undefined;
  return {
    type: 'watch/report',
    version: 1,
    network: host.network,
    dry_run: dryRun === true, // oclif leaves an absent boolean flag undefined: the report says false
    tip: { height: tip.height, ...(tip.hash ? { hash: tip.hash } : {}) },
    ...(reorg ? { reorg } : {}),
    // What a kind keeps for its own send (the bid in sat/kvB, which statechain transaction) is not the report's.
    decisions: decisions.map(({ rate: _rate, withdrawal: _withdrawal, ...d }: Decision & { rate?: number; withdrawal?: string }) => d),
    ...(failures.length > 0 ? { failures } : {}),
    summary: {
      contracts: decisions.length,
      sent: decisions.filter((d) => SENDING.has(d.action) && d.error === undefined && !dryRun).length,
      pending: decisions.filter((d) => PENDING.has(d.action)).length,
      shortfalls: decisions.filter((d) => d.shortfall !== undefined).length,
      errors: decisions.filter((d) => d.error !== undefined).length + failures.length,
      // The contracts left unread count too: the nearest of their deadlines is their lowest expiry.
      ...(nearest.length > 0 ? { nearest_deadline: Math.min(...nearest) } : {}),
      ...(idle.count > 0 ? { idle: idle.count } : {}),
    },
  };
}

/**
 * Rounds until `signal` aborts: one at start, then one per new best block (the node asked every
 * `intervalMs`, and at once when its ZMQ hashblock wakes the loop), each decision other than
 * `none` that changed logged as one JSON line. A round that fails (the node unreachable, a busy
 * store) is logged and tried again at the next poll; a round whose action failed is taken again
 * after RETRY_MS at the same tip.
 */
export async function watchLoop(host: WatchHost, opts: LoopOptions): Promise<void> {
  const wake = new Wake();
  const { followHashblock } = await import('./hashblock.ts');
  const zmq = await followHashblock(opts.zmq, host.chain, { wake, log: opts.log, gauges: opts.gauges, pollSeconds: opts.intervalMs / 1000 });
  try {
    await rounds(host, opts, wake);
  } finally {
    await zmq.close();
  }
}

async function rounds(host: WatchHost, opts: LoopOptions, wake: Wake): Promise<void> {
  const log = opts.log.info;
  let last: string | undefined;
  /** After a round whose action failed (the node away, a refusal): when to take it again at the same tip. */
  let retryAt: number | undefined;
  const previous = new Map<string, string>();
  while (!opts.signal.aborted) {
    try {
      const tip = await host.chain.tip();
      if (tip.hash !== last || (retryAt !== undefined && Date.now() >= retryAt)) {
        const report = await watchRound(host, opts.dryRun);
        last = report.tip.hash;
        retryAt = report.summary.errors > 0 ? Date.now() + RETRY_MS : undefined;
        opts.gauges.last = report;
        opts.gauges.lastAt = new Date().toISOString();
        if (report.reorg) {
          opts.gauges.reorgs++;
          log({ event: 'reorg', tip: report.tip, ...report.reorg }, 'reorganisation: decisions taken again on the new best chain');
        }
        for (const f of report.failures ?? []) log({ event: 'kind-failed', kind: f.kind, code: f.error.split(':')[0] }, f.error);
        for (const d of report.decisions) {
          const key = `${d.kind}:${d.contract}`;
          const said = `${d.action}:${d.fee_rate ?? ''}:${d.txid ?? ''}:${d.error ?? ''}`;
          if ((d.action !== 'none' || d.error !== undefined) && previous.get(key) !== said) log({ event: 'decision', height: report.tip.height, ...d }, d.reason);
          previous.set(key, said);
        }
        log({ event: 'round', tip: report.tip, ...report.summary }, 'round');
      }
    } catch (e) {
      // Whatever failed (the node, the store, a record), the next poll tries again: a watcher that stops keeps no deadline.
      opts.gauges.failedRounds++;
      const code = e instanceof OffchainError ? e.code : 'E_INTERNAL';
      log({ event: 'round-failed', code }, (e as Error)?.message ?? String(e));
    }
    await wake.wait(opts.intervalMs, opts.signal);
  }
}
