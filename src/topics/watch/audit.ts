/**
 * The mint's store read against its index, one slice a round (src/lib/watch/ports.ts, "THE
 * AUDIT"): a round reads the contracts due at its tip through the store's index, which follows
 * the record — and a record can lie (an expiry moved in it), or an index be edited under the
 * database. Each round also reads the slice of the store its tip names (auditSlices: any N
 * consecutive tips read every record, N = auditEvery(margin)), and checks each record there: one
 * whose terms do not hash to its id is reported and not acted on (its expiry cannot be trusted:
 * restore it); one the rule makes due that the index left out is read — and read every round from
 * then on, by id; one the store reads otherwise than offchain (a key written twice: due at every
 * tip by the store, acted on as offchain reads it) is reported. Each report is E_STATE_CORRUPT in
 * its contract's decision (the log, the report's errors, /metrics), until the slice is read again
 * and finds the record sound. What it costs: docs/watch.md "Scale".
 */
import type { MintContractRecord } from '../../lib/credit/ports.ts';
import type { MintStorePort } from '../../lib/store/mint-store-port.ts';
import type { Decision } from '../../lib/watch/decision.ts';
import { auditSlice, auditSlices, missedByIndex, mintWatchHeight, type Due } from '../../lib/watch/ports.ts';
import { errorText } from './credit.ts';

/** What the last read of one slice found. */
type SliceFindings = {
  /** By contract: "E_STATE_CORRUPT: …". */
  alarms: Map<string, string>;
  /** Contracts whose terms do not hash to their id: not acted on. */
  untrusted: Set<string>;
  /** The terms (their JSON text) each contract's id was checked against: a long-running watcher hashes a contract's terms again only when they change. */
  verified: Map<string, string>;
};

export class MintAudit {
  /** The tip of a long-running watcher's last round (none yet, and never for --once). */
  private last: number | undefined;
  /** Contracts the index left out though due: read every round, by id. */
  private readonly missed = new Set<string>();
  /** By slice: what its last read found. */
  private readonly slices = new Map<number, SliceFindings>();

  /** `every`: auditEvery(margin), the slices; `longRunning`: a watcher that rounds again (it reads the slices of the tips it skipped, and none twice at one tip). */
  constructor(private readonly every: number, private readonly longRunning: boolean) {}

  /** What the slices read so far found, by contract: "E_STATE_CORRUPT: …". */
  get alarms(): ReadonlyMap<string, string> {
    return new Map([...this.slices.values()].flatMap((f) => [...f.alarms]));
  }

  /** The contracts whose terms do not hash to their id, as the slices read so far found them: not acted on. */
  get held(): ReadonlySet<string> {
    return new Set([...this.slices.values()].flatMap((f) => [...f.untrusted]));
  }

  /** The round's read: the index's, and the slices due at `tip` checked against it. */
  async read<R extends MintContractRecord>(store: MintStorePort<R>, upTo: number, tip: number): Promise<Due<R>> {
    const due = await store.due(upTo);
    const read = new Set(due.records.map((r) => r.contract_id));
    for (const slice of auditSlices(tip, this.every, this.last)) await this.audit(store, slice, read, upTo);
    if (this.longRunning) this.last = tip;
    const untrusted = this.held;
    const extra: R[] = [];
    for (const id of this.missed) {
      if (read.has(id)) continue;
      const r = await store.get(id);
      if (r) extra.push(r);
    }
    const records = [...due.records, ...extra].filter((r) => !untrusted.has(r.contract_id));
    return { ...due, records, others: Math.max(0, due.others - extra.length) };
  }

  private async audit<R extends MintContractRecord>(store: MintStorePort<R>, slice: number, read: ReadonlySet<string>, upTo: number): Promise<void> {
    const { termsId } = await import('../../lib/credit/codec.ts');
    const rows = await store.slice(auditSlice(slice, this.every));
    const before = this.slices.get(slice)?.verified;
    const found: SliceFindings = { alarms: new Map(), untrusted: new Set(), verified: new Map() };
    for (const { record: r, height } of rows) {
      const terms = JSON.stringify(r.contract);
      let id = before?.get(r.contract_id) === terms ? r.contract_id : undefined;
      try {
        id ??= termsId(r.contract, r.network);
      } catch (e) {
        id = errorText(e);
      }
      if (id !== r.contract_id) {
        found.untrusted.add(r.contract_id);
        found.alarms.set(r.contract_id, `E_STATE_CORRUPT: the mint's record of contract ${r.contract_id} holds terms that ${/^[0-9a-f]{64}$/.test(id) ? `hash to ${id}` : `are not a contract's (${id})`}: its expiry cannot be trusted, nothing is done for it — restore the record from the copy you trust (who writes the mint's database?)`);
        continue;
      }
      found.verified.set(id, terms);
      if (height !== mintWatchHeight(r)) {
        found.alarms.set(r.contract_id, `E_STATE_CORRUPT: the mint's record of contract ${r.contract_id} reads otherwise to the store (watch height ${height}) than to offchain (${mintWatchHeight(r)}): a key written twice in its text (SQLite reads the first, offchain the last), or an expiry written as offchain never writes one — the store makes it due at every tip, and it is acted on as offchain reads it; find out who writes the mint's database`);
      }
    }
    for (const r of missedByIndex(rows.map((x) => x.record), read, (x) => x.contract_id, mintWatchHeight, upTo)) {
      this.missed.add(r.contract_id);
      if (found.untrusted.has(r.contract_id)) continue;
      found.alarms.set(r.contract_id, `E_STATE_CORRUPT: contract ${r.contract_id} is due at this tip (its record's watch height ${mintWatchHeight(r)}) but the store's index left it out (an index edited under the database, or damaged): read every round from now on — find out who writes the mint's database`);
    }
    this.slices.set(slice, found);
  }
}

/**
 * The round's decisions with what the audit found: each alarm in its contract's decision; a
 * contract with none this round gets one — `hold` when its terms are untrusted (`held`: it was
 * left out), else `none` (a contract settled for good, whose record was altered since).
 */
export function withAlarms(decisions: Decision[], alarms: ReadonlyMap<string, string>, held: ReadonlySet<string>, tip: number): Decision[] {
  const decided = new Set<string>();
  for (const d of decisions) {
    const alarm = alarms.get(d.contract);
    if (alarm === undefined) continue;
    decided.add(d.contract);
    d.error ??= alarm;
  }
  for (const [contract, error] of alarms) {
    if (decided.has(contract)) continue;
    decisions.push(held.has(contract)
      ? { kind: 'credit-mint', contract, action: 'hold', deadline: tip, blocks_left: 0, reason: 'the mint\'s record of this contract cannot be trusted: nothing is done for it', error }
      : { kind: 'credit-mint', contract, action: 'none', deadline: tip, blocks_left: 0, reason: 'the mint\'s record of this contract was altered', error });
  }
  return decisions;
}
