/**
 * What a watcher keeps between rounds, in the state directory's one database (records of kind
 * `watch`): its view of the chain (`chain`) and, per exit it sent, its last bid
 * (`exit-<contract>`). Each write is one step, committed before the act it records (a bid is
 * stored before its package is sent: a crash after the COMMIT makes the next bid outbid it, never
 * undercut what may already be in a mempool). A dry run on a directory without a database reads
 * nothing and writes nothing.
 */
import type { StateDb } from '../../lib/store/sqlite/database.ts';
import type { Records } from '../../lib/store/sqlite/records.ts';
import type { ChainView } from '../../lib/watch/chain-view.ts';
import type { ExitBid } from '../../lib/watch/credit.ts';

export class WatchRecords {
  private constructor(private readonly records: Records<unknown> | undefined) {}

  static async open(db: StateDb | undefined): Promise<WatchRecords> {
    if (db === undefined) return new WatchRecords(undefined);
    const { Records } = await import('../../lib/store/sqlite/records.ts');
    return new WatchRecords(new Records<unknown>(db, 'watch'));
  }

  view(): ChainView | undefined {
    return this.records?.get('chain') as ChainView | undefined;
  }

  async setView(view: ChainView): Promise<void> {
    const r = this.records;
    if (r) await r.db.step(() => r.put('chain', view));
  }

  bid(contract: string): ExitBid | undefined {
    return this.records?.get(`exit-${contract}`) as ExitBid | undefined;
  }

  async setBid(contract: string, bid: ExitBid): Promise<void> {
    const r = this.records;
    if (r) await r.db.step(() => r.put(`exit-${contract}`, bid));
  }
}
