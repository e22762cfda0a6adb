/**
 * The mint's store read whole, now and then, against its index (src/lib/watch/ports.ts, "THE
 * AUDIT"): a round reads the contracts due at its tip through the store's index, which a writer of
 * the database can make skip one (a SQLite `watch_height` raised by hand, an expiry moved in the
 * record). At a long-running watcher's first round and every auditEvery(lead) blocks, the round
 * reads every record: one whose terms do not hash to its id is reported and not acted on (its
 * expiry cannot be trusted: restore it), one the rule makes due that the index left out is read —
 * and read every round from then on, by id — and each is reported, E_STATE_CORRUPT, in its
 * contract's decision (the log, the report's errors, /metrics). What it costs: docs/watch.md "Scale".
 */
import type { MintContractRecord } from '../../lib/credit/ports.ts';
import type { MintStorePort } from '../../lib/store/mint-store-port.ts';
import type { Decision } from '../../lib/watch/decision.ts';
import { auditDue, missedByIndex, mintWatchHeight, type Due } from '../../lib/watch/ports.ts';
import { errorText } from './credit.ts';

export class MintAudit {
  /** The tip of the last whole read (none yet). */
  private last: number | undefined;
  /** Contracts the index left out though due: read every round, by id. */
  private readonly missed = new Set<string>();
  /** What the last whole read found, by contract: "E_STATE_CORRUPT: …". */
  readonly alarms = new Map<string, string>();
  /** Contracts whose terms do not hash to their id: not acted on. */
  private readonly untrusted = new Set<string>();
  /** The terms (their JSON text) each contract's id was checked against: a long-running watcher hashes a contract's terms again only when they change. */
  private verified = new Map<string, string>();

  /** `start`: a long-running watcher (it reads the whole store at its first round); `every`: auditEvery(lead). */
  constructor(private readonly every: number, private readonly start: boolean) {}

  /** The round's read: the index's, and — when an audit is due at `tip` — the whole store checked against it. */
  async read<R extends MintContractRecord>(store: MintStorePort<R>, upTo: number, tip: number): Promise<Due<R>> {
    const due = await store.due(upTo);
    if (auditDue(tip, this.every, this.last, this.start)) await this.audit(store, due, upTo, tip);
    const read = new Set(due.records.map((r) => r.contract_id));
    const extra: R[] = [];
    for (const id of this.missed) {
      if (read.has(id)) continue;
      const r = await store.get(id);
      if (r) extra.push(r);
    }
    const records = [...due.records, ...extra].filter((r) => !this.untrusted.has(r.contract_id));
    return { ...due, records, others: Math.max(0, due.others - extra.length) };
  }

  private async audit<R extends MintContractRecord>(store: MintStorePort<R>, due: Due<R>, upTo: number, tip: number): Promise<void> {
    const { termsId } = await import('../../lib/credit/codec.ts');
    const all = await store.list();
    this.last = tip;
    this.alarms.clear();
    this.untrusted.clear();
    const verified = new Map<string, string>();
    for (const r of all) {
      const terms = JSON.stringify(r.contract);
      let id = this.verified.get(r.contract_id) === terms ? r.contract_id : undefined;
      try {
        id ??= termsId(r.contract, r.network);
      } catch (e) {
        id = errorText(e);
      }
      if (id === r.contract_id) {
        verified.set(id, terms);
        continue;
      }
      this.untrusted.add(r.contract_id);
      this.alarms.set(r.contract_id, `E_STATE_CORRUPT: the mint's record of contract ${r.contract_id} holds terms that ${/^[0-9a-f]{64}$/.test(id) ? `hash to ${id}` : `are not a contract's (${id})`}: its expiry cannot be trusted, nothing is done for it — restore the record from the copy you trust (who writes the mint's database?)`);
    }
    this.verified = verified;
    const read = new Set(due.records.map((r) => r.contract_id));
    for (const r of missedByIndex(all, read, (x) => x.contract_id, mintWatchHeight, upTo)) {
      this.missed.add(r.contract_id);
      if (this.untrusted.has(r.contract_id)) continue;
      this.alarms.set(r.contract_id, `E_STATE_CORRUPT: contract ${r.contract_id} is due at this tip (its record's watch height ${mintWatchHeight(r)}) but the store's index left it out (a watch_height written by something other than offchain, or a damaged index): read every round from now on — find out who writes the mint's database`);
    }
  }
}

/** The round's decisions with what the audit found: each alarm in its contract's decision, a `hold` for a contract left out (its terms untrusted). */
export function withAlarms(decisions: Decision[], alarms: ReadonlyMap<string, string>, tip: number): Decision[] {
  const decided = new Set<string>();
  for (const d of decisions) {
    const alarm = alarms.get(d.contract);
    if (alarm === undefined) continue;
    decided.add(d.contract);
    d.error ??= alarm;
  }
  for (const [contract, error] of alarms) {
    if (!decided.has(contract)) decisions.push({ kind: 'credit-mint', contract, action: 'hold', deadline: tip, blocks_left: 0, reason: 'the mint\'s record of this contract cannot be trusted: nothing is done for it', error });
  }
  return decisions;
}
