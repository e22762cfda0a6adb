/**
 * The watcher's port to the stores: which credit contracts a round must read at a tip
 * (docs/watch.md, "Scale"). Each record's WATCH HEIGHT is kept by its store beside the record and
 * indexed, so that a round reads the contracts that can need something at its tip and leaves the
 * rest unread — its cost grows with those, not with the store — and a store answers a round's
 * read as `Due`. Pure: no I/O (the stores write the height with the record,
 * src/lib/store/sqlite/mint.ts and records.ts; PostgreSQL indexes the same rule, pg/schema.ts).
 *
 * A contract is due at tip T when its watch height is at most T plus the lead of its kind: the
 * mint's safety margin for the mint's contracts (mintDueUpTo), none for the user's (userDueUpTo).
 * Why a contract that is not due can need nothing, from the decision tables it feeds:
 *
 * - credit-mint (./credit.ts decideMint, over credit list's row, src/lib/credit/operator.ts):
 *   it sends, holds or waits only when the row `must_exit` — a signed state and expiry − T ≤
 *   margin — or its status is `exiting` (the record's `exiting`: the mint froze it for its exit),
 *   or `refunding` (the user's refund in the mempool, which needs expiry ≤ T). Any other row is
 *   `none`, or `done` when its close or rollover is confirmed: nothing sent, nothing waited on —
 *   and that settlement's confirmations steer nothing until the contract is within the margin.
 *   What the user can do alone before expiry needs nothing of the mint either: it holds no state
 *   the mint signed (only the mint keeps them), its refund is not final, and a close the mint
 *   signed pays the mint its due.
 * - gateway (./device.ts decideGateway): it claims from its HTLC's expiry, not the contract's, and
 *   at once when the state is on chain — a record whose gateway holds a payment in flight is due
 *   at every tip (height 0; a superset of src/topics/watch/device.ts gatewayKeeps).
 * - credit-user (./credit.ts decideUser): it refunds only from T ≥ expiry, and before that asks the
 *   node nothing (`none`, or `done` once closed or rolled over). A device channel inside the
 *   record (./device.ts decideDevice) acts on its HTLCs' expiries: due at every tip (height 0).
 *
 * INVARIANTS (test/lib/watch/ports.test.ts, property tests over any record):
 * - A record whose height the rule cannot read (no numeric expiry) is due at every tip (0): a
 *   record the rule does not understand is never left out.
 * - A mint's record that is not due at T decides `none` or `done` at T, whatever the chain says;
 *   a user's record that is not due decides `none` or `done` and asks the node nothing.
 * - A record the gateway or the device keeps, or that the mint is exiting, is due at every tip.
 * - A record the rule makes due that a store's index left out (missedByIndex) is read all the same
 *   once a round reads the whole store (auditDue): at a long-running watcher's first round and
 *   every auditEvery(lead) blocks — a third of the shortest lead — so such a row is read at most
 *   that many blocks into its window, well inside it.
 *
 * THE AUDIT. The index is the store's word, not the record's: a writer of the database who can
 * run SQL (the operator's administrator, who holds no key) can raise a SQLite row's
 * `watch_height` — or a migration can compute a height SQL reads otherwise than JSON.parse (a
 * record with a key twice: SQLite takes the first, JavaScript the last) — and a round would never
 * read that contract, saying nothing. So every auditEvery(lead) blocks a round reads every record
 * and checks it against the rule; what the index missed is read every round from then on and
 * reported (src/topics/watch/audit.ts: E_STATE_CORRUPT). The same read checks that each record's
 * terms hash to its id (an expiry moved in the record moves its watch height too, on either store).
 */

/** What the rule reads of a mint's record (src/lib/credit/ports.ts MintContractRecord), as any stored JSON may be. */
export type MintWatched = { contract?: { expiry_height?: unknown } | null; exiting?: unknown; gateway?: { in_flight?: unknown } | null };

/** What the rule reads of a credit user's record (UserContractRecord). */
export type UserWatched = { contract?: { expiry_height?: unknown } | null; device?: unknown };

/** The contract's expiry when the record says one (a safe integer), else 0 (due at every tip). */
function expiryOf(record: { contract?: { expiry_height?: unknown } | null }): number {
  const e = record.contract?.expiry_height;
  return Number.isSafeInteger(e) ? (e as number) : 0;
}

/** A mint's (or gateway's) contract: 0 while the mint is exiting it or its gateway has a payment in flight, else its expiry. */
export function mintWatchHeight(stored: object): number {
  const record = stored as MintWatched;
  if (record.exiting !== undefined || record.gateway?.in_flight !== undefined) return 0;
  return expiryOf(record);
}

/** A credit user's contract: 0 while a device channel rides in it, else its expiry (its refund final from there). */
export function userWatchHeight(stored: object): number {
  const record = stored as UserWatched;
  if (record.device !== undefined) return 0;
  return expiryOf(record);
}

/** A round's read of a store: the records due, how many others it holds, and the lowest watch height among those (their nearest deadline: an expiry; undefined when none). */
export type Due<R> = { records: R[]; others: number; next?: number };

/** The highest watch height of a mint's contract that is due at `tip`: within the safety margin (a margin below 0 counts as 0: the refund is final at expiry). */
export function mintDueUpTo(tip: number, margin: number): number {
  return tip + Math.max(0, margin);
}

/** The highest watch height of a credit user's contract that is due at `tip`. */
export function userDueUpTo(tip: number): number {
  return tip;
}

/** Blocks between two reads of the whole store (the audit): a third of `lead`, the fewest blocks a due contract has to act in (the mint's margin, a gateway's claim window), at least 1. */
export function auditEvery(lead: number): number {
  return Math.max(1, Math.floor(lead / 3));
}

/**
 * Whether the round at `tip` reads the whole store: a long-running watcher's first round
 * (`start`), and a round in another `every`-block span than the last audit's (`last`) — a tip
 * that is a multiple of `every` for a watcher with none (`--once`, run each block from cron).
 */
export function auditDue(tip: number, every: number, last: number | undefined, start: boolean): boolean {
  if (last === undefined) return start || tip % every === 0;
  return Math.floor(tip / every) !== Math.floor(last / every);
}

/** The records of a whole read that the rule makes due by `upTo` and the index's read (`read`: their ids) left out. */
export function missedByIndex<R>(all: readonly R[], read: ReadonlySet<string>, idOf: (r: R) => string, heightOf: (r: R) => number, upTo: number): R[] {
  return all.filter((r) => !read.has(idOf(r)) && heightOf(r) <= upTo);
}
