/**
 * What a watcher keeps between rounds, in the state directory's one database (records of kind
 * `watch`): its view of the chain (`chain`), per exit it sent, its last bid
 * (`exit-<contract>`), and per channel whose funding is spent, the spender it found and the
 * justice transactions it sent (`channel-<id>`: advice, re-checked against the node). Each write is one step, committed before the act it records (a bid is
 * stored before its package is sent: a crash after the COMMIT makes the next bid outbid it, never
 * undercut what may already be in a mempool). Reading creates nothing: the database is made by
 * the first write (a mint on PostgreSQL has none under --state-dir until then).
 */
import type { StateDb } from '../../lib/store/sqlite/database.ts';
import type { Records } from '../../lib/store/sqlite/records.ts';
import type { ChainView } from '../../lib/watch/chain-view.ts';
import type { ExitBid } from '../../lib/watch/credit.ts';

const HASH = /^[0-9a-f]{64}$/;

/** What a watcher keeps of a channel: the funding's spender it found, where its penalty schedule started, the justice transaction it sent last per output taken. */
export type ChannelWatch = { spender?: string; start_tip?: number; sent: Record<string, string> };

export class WatchRecords {
  private opened: Records<unknown> | undefined;

  /** `open(create)`: the state directory's database (undefined: none, and not `create`). */
  constructor(private readonly open: (create: boolean) => Promise<StateDb | undefined>) {}

  private async records(create: boolean): Promise<Records<unknown> | undefined> {
    if (this.opened) return this.opened;
    const db = await this.open(create);
    if (db === undefined) return undefined;
    const { Records } = await import('../../lib/store/sqlite/records.ts');
    return (this.opened = new Records<unknown>(db, 'watch'));
  }

  /** A record, or undefined — also for one that is not JSON (a damaged row is as good as none: the watcher decides from the chain). */
  private async read(id: string): Promise<unknown> {
    const r = await this.records(false);
    try {
      return r?.get(id);
    } catch (e) {
      if ((e as { code?: string }).code === 'E_STATE_CORRUPT') return undefined;
      throw e;
    }
  }

  /** The view, or undefined when there is none or it is not one (a first view is then taken: always safe). */
  async view(): Promise<ChainView | undefined> {
    const v = await this.read('chain') as ChainView | undefined;
    const ok = v !== undefined && Array.isArray(v.blocks) && v.blocks.length > 0 && v.blocks.every((b, i) =>
      typeof b === 'object' && b !== null && Number.isSafeInteger(b.height) && b.height >= 0 && typeof b.hash === 'string' && HASH.test(b.hash) && (i === 0 || b.height === v.blocks[i - 1]!.height + 1));
    return ok ? v : undefined;
  }

  async setView(view: ChainView): Promise<void> {
    const r = (await this.records(true))!;
    await r.db.step(() => r.put('chain', view));
  }

  /** The last bid, or undefined when there is none or it is not one (only its start_tip steers the next: a bad one restarts the schedule). */
  async bid(contract: string): Promise<ExitBid | undefined> {
    const b = await this.read(`exit-${contract}`) as ExitBid | undefined;
    const ok = typeof b === 'object' && b !== null && Number.isSafeInteger(b.start_tip) && b.start_tip >= 0 && Number.isSafeInteger(b.rate) && b.rate >= 0;
    return ok ? b : undefined;
  }

  async setBid(contract: string, bid: ExitBid): Promise<void> {
    const r = (await this.records(true))!;
    await r.db.step(() => r.put(`exit-${contract}`, bid));
  }

  /** A channel's record, or an empty one when there is none or it is not one (advice only: the node is asked again). */
  async channel(id: string): Promise<ChannelWatch> {
    const c = await this.read(`channel-${id}`) as ChannelWatch | undefined;
    if (typeof c !== 'object' || c === null) return { sent: {} };
    const spender = typeof c.spender === 'string' && HASH.test(c.spender) ? { spender: c.spender } : {};
    const start = Number.isSafeInteger(c.start_tip) && c.start_tip! >= 0 ? { start_tip: c.start_tip! } : {};
    const sent = typeof c.sent === 'object' && c.sent !== null ? Object.fromEntries(Object.entries(c.sent).filter(([, t]) => typeof t === 'string' && HASH.test(t))) : {};
    return { ...spender, ...start, sent };
  }

  async setChannel(id: string, c: ChannelWatch): Promise<void> {
    const r = (await this.records(true))!;
    await r.db.step(() => r.put(`channel-${id}`, c));
  }
}
