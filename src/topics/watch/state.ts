/**
 * What a watcher keeps between rounds, in the state directory's one database (records of kind
 * `watch`): its view of the chain (`chain`), per exit, gateway claim, refund or withdrawal it sent, its
 * last bid (`exit-<contract>`, `claim-<contract>`, `refund-<outpoint>`, `device-…`, `withdrawal-<coin>`), and per channel whose
 * funding is spent, the spender it found and the justice transactions it sent (`channel-<id>`:
 * advice, re-checked against the node), and each payment preimage a channel party's watcher learnt
 * on chain (`preimage-<payment hash>`, ./preimages.ts: stored before any claim it opens is sent). Each write is one step, committed before the act it records (a bid is
 * stored before its package is sent: a crash after the COMMIT makes the next bid outbid it, never
 * undercut what may already be in a mempool). Reading creates nothing: the database is made by
 * the first write (a mint on PostgreSQL has none under --state-dir until then).
 */
import type { StateDb } from '../../lib/store/sqlite/database.ts';
import type { Records } from '../../lib/store/sqlite/records.ts';
import type { ChainView } from '../../lib/watch/chain-view.ts';
import type { ExitBid } from '../../lib/watch/credit.ts';
import type { Breach, VerifiedLadder } from '../../lib/bolt3/tower-justice.ts';
import { learntPreimageOf, type LearntPreimage } from '../../lib/watch/preimages.ts';

const HASH = /^[0-9a-f]{64}$/;

/**
 * What a bid is for: the mint's exit (and a statechain owner's backup), the gateway's claim of an HTLC, a tower's package for an
 * owner's backup, a payer's refund of an HTLC or a PTLC (../watch/htlc.ts), the device's refund of a payment's HTLC
 * (`device-<contract>:<payment hash>`, ./device.ts), or a statechain owner's withdrawal bumped by its child (./statechain.ts).
 */
export type BidOf = 'exit' | 'claim' | 'tower' | 'refund' | 'device' | 'withdrawal';
/**
 * What a watcher keeps of a channel: the funding's spender it found, where its penalty schedule started, the justice transaction it sent last per output taken;
 * `walked_to`: the tip block a walk back for the spender reached down from (later walks stop there: only newly connected blocks are read);
 * `done`: the channel was done with its spender mined at that height (not evaluated again while the node says so: a reorganisation of FINAL_DEPTH or more asks again).
 */
export type ChannelWatch = {
  spender?: string; start_tip?: number; sent: Record<string, string>; walked_to?: string; done?: { spender: string; height: number };
  /**
   * Anchors: per HTLC outpoint of the party's own commitment, the wallet's coins its second stage spends
   * (walletcreatefundedpsbt's answer, base64: every bid spends these same coins, across restarts — never a second
   * set while one of its transactions may be mined) and every txid bid with them (which one a block mined).
   */
  funded?: Record<string, { wallet: string; txids: string[] }>;
};

/**
 * What a tower keeps of a revoked commitment it found on chain (`breach-<txid>`): the party's ladders
 * as verified when found (src/lib/bolt3/tower-justice.ts openBreach), each second stage's once the
 * cheater's HTLC transaction was seen and it verified (by the outpoint of the commitment output it
 * follows), the first tip it bid at, the rung it sent last per outpoint and the tip then; `done`: the
 * commitment's height when every ladder was settled (not evaluated again unless a reorganisation
 * that deep).
 */
export type TowerBreach = { breach: Breach; second: Record<string, VerifiedLadder>; start_tip?: number; sent: Record<string, { rung: number; tip: number }>; done?: number };

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
  async bid(contract: string, of: BidOf = 'exit'): Promise<ExitBid | undefined> {
    const b = await this.read(`${of}-${contract}`) as ExitBid | undefined;
    const ok = typeof b === 'object' && b !== null && Number.isSafeInteger(b.start_tip) && b.start_tip >= 0 && Number.isSafeInteger(b.rate) && b.rate >= 0;
    if (!ok) return undefined;
    // A claim's txid that is not one is no claim: only asked of the node, never sent.
    if (b.txid !== undefined && !(typeof b.txid === 'string' && HASH.test(b.txid))) {
      const { txid: _bad, ...rest } = b;
      return rest;
    }
    // Stored wallet coins that are not a string are none: new ones are chosen (and stored) before the next send.
    if (b.wallet !== undefined && typeof b.wallet !== 'string') {
      const { wallet: _bad, ...rest } = b;
      return rest;
    }
    return b;
  }

  async setBid(contract: string, bid: ExitBid, of: BidOf = 'exit'): Promise<void> {
    const r = (await this.records(true))!;
    await r.db.step(() => r.put(`${of}-${contract}`, bid));
  }

  /**
   * A tower's newest verified export per coin (`export-<outpoint>`: its backup's nLockTime, the lowest kept): a tower never
   * goes back to a higher one. A damaged row, or one of an older tower's (keyed by coin_id, a backup number only), counts as none.
   */
  async towerKept(): Promise<Map<string, number>> {
    const r = await this.records(false);
    const kept = new Map<string, number>();
    for (const id of r?.ids() ?? []) {
      if (!id.startsWith('export-')) continue;
      const lockTime = (await this.read(id) as { locktime?: unknown } | undefined)?.locktime;
      if (Number.isSafeInteger(lockTime)) kept.set(id.slice('export-'.length), lockTime as number);
    }
    return kept;
  }

  async setTowerKept(coin: string, kept: { locktime: number; txid: string }): Promise<void> {
    const r = (await this.records(true))!;
    await r.db.step(() => r.put(`export-${coin}`, kept));
  }

  /** The breaches a tower keeps, by commitment txid (a row that is not one is left out: it is said by the caller's count only). */
  async towerBreaches(): Promise<Map<string, TowerBreach>> {
    const r = await this.records(false);
    const out = new Map<string, TowerBreach>();
    for (const id of r?.ids() ?? []) {
      if (!id.startsWith('breach-')) continue;
      const b = await this.read(id) as TowerBreach | undefined;
      const ok = typeof b === 'object' && b !== null && typeof b.breach === 'object' && b.breach !== null && Array.isArray(b.breach.outputs)
        && typeof b.breach.commitment === 'string' && HASH.test(b.breach.commitment) && Number.isSafeInteger(b.breach.to_self_delay)
        && typeof b.sent === 'object' && b.sent !== null && typeof b.second === 'object' && b.second !== null;
      if (ok) out.set(b.breach.commitment, b);
    }
    return out;
  }

  async setTowerBreach(b: TowerBreach): Promise<void> {
    const r = (await this.records(true))!;
    await r.db.step(() => r.put(`breach-${b.breach.commitment}`, b));
  }

  /** The channel exports (by content digest) whose locators a tower has matched against the blocks before it got them. */
  async towerScanned(): Promise<Set<string>> {
    const r = await this.records(false);
    return new Set((r?.ids() ?? []).filter((id) => id.startsWith('scanned-')).map((id) => id.slice('scanned-'.length)));
  }

  async setTowerScanned(digests: readonly string[], tip: number): Promise<void> {
    if (digests.length === 0) return;
    const r = (await this.records(true))!;
    await r.db.step(() => {
      for (const d of digests) r.put(`scanned-${d}`, { tip });
    });
  }

  /** A channel's record, or an empty one when there is none or it is not one (advice only: the node is asked again). */
  async channel(id: string): Promise<ChannelWatch> {
    const c = await this.read(`channel-${id}`) as ChannelWatch | undefined;
    if (typeof c !== 'object' || c === null) return { sent: {} };
    const spender = typeof c.spender === 'string' && HASH.test(c.spender) ? { spender: c.spender } : {};
    const start = Number.isSafeInteger(c.start_tip) && c.start_tip! >= 0 ? { start_tip: c.start_tip! } : {};
    const sent = typeof c.sent === 'object' && c.sent !== null ? Object.fromEntries(Object.entries(c.sent).filter(([, t]) => typeof t === 'string' && HASH.test(t))) : {};
    const walked = typeof c.walked_to === 'string' && HASH.test(c.walked_to) ? { walked_to: c.walked_to } : {};
    const d = c.done;
    const done = typeof d === 'object' && d !== null && typeof d.spender === 'string' && HASH.test(d.spender) && Number.isSafeInteger(d.height) && d.height >= 0 ? { done: { spender: d.spender, height: d.height } } : {};
    const f = typeof c.funded === 'object' && c.funded !== null ? Object.entries(c.funded).filter(([, v]) => typeof v === 'object' && v !== null && typeof v.wallet === 'string' && Array.isArray(v.txids) && v.txids.every((t) => typeof t === 'string' && HASH.test(t))) : [];
    const funded = f.length > 0 ? { funded: Object.fromEntries(f.map(([k, v]) => [k, { wallet: v.wallet, txids: [...v.txids] }])) } : {};
    return { ...spender, ...start, sent, ...walked, ...done, ...funded };
  }

  async setChannel(id: string, c: ChannelWatch): Promise<void> {
    const r = (await this.records(true))!;
    await r.db.step(() => r.put(`channel-${id}`, c));
  }

  /** The preimages learnt on chain, by payment hash: each record checked (its preimage opens its key; any other row is none, its id told to `ignored`). */
  async preimagesLearnt(ignored?: (id: string) => void): Promise<Map<string, LearntPreimage>> {
    const r = await this.records(false);
    const out = new Map<string, LearntPreimage>();
    for (const id of r?.ids() ?? []) {
      if (!id.startsWith('preimage-')) continue;
      const hash = id.slice('preimage-'.length);
      const p = learntPreimageOf(hash, await this.read(id));
      if (p) out.set(hash, p);
      else ignored?.(id);
    }
    return out;
  }

  async setPreimageLearnt(paymentHash: string, p: LearntPreimage): Promise<void> {
    const r = (await this.records(true))!;
    await r.db.step(() => r.put(`preimage-${paymentHash}`, p));
  }
}
