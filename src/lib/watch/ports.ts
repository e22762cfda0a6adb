/**
 * The watcher's port to the stores: which credit contracts a round must read at a tip
 * (docs/watch.md, "Scale"). Each record's WATCH HEIGHT is computed by its store from the record
 * it holds, and indexed, so that a round reads the contracts that can need something at its tip
 * and leaves the rest unread — its cost grows with those, not with the store — and a store
 * answers a round's read as `Due`. Pure: no I/O (SQLite computes the height in a generated
 * column, src/lib/store/sqlite/schema.ts; PostgreSQL in an expression index, pg/schema.ts).
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
 * - A store's height is never later than the rule's on any record text JSON.parse reads
 *   (test/lib/store/a-watcher-reads-the-contracts-due.test.ts; pg/watch-height.test.ts).
 * - Every contract is in exactly one of the audit's `every` slices, and any `every` consecutive
 *   tips read them all (auditSlice, auditSlices): a record the index left out (missedByIndex) is
 *   read at most every − 1 blocks after its window opens — a third of the safety margin into it.
 *
 * THE AUDIT. The index is the store's word. Since the store computes it (schema version 3 on
 * SQLite), no row's height can be set apart from its record: an administrator's `UPDATE
 * contracts SET watch_height = …` is refused, and a record whose text holds a key the rule reads
 * twice — SQLite takes the first, JavaScript the last — is due at every tip. What the index
 * cannot see is a record that lies: an expiry moved in it (it no longer hashes to its id; the
 * index follows the lie, on either store), or an index whose entries were edited under SQLite
 * (writable_schema, the file's bytes). So each round reads one slice of the store — slice
 * T mod every at tip T, a key range of the ids (hashes), about 1/every of the records — and checks
 * each record against its id and the rule against the index; what it finds is reported
 * (src/topics/watch/audit.ts: E_STATE_CORRUPT), and a contract the index missed is read every
 * round from then on. Why a third of the safety margin and not of a gateway's 10-block claim
 * window: a gateway's payment in flight makes its record due at every tip whatever its expiry
 * says, and a key written twice cannot hide it any more. What is left to hide a record is a moved
 * expiry — which moves only the mint's exit, and that has the margin — or an index edited under
 * SQLite; whoever can do that can as well delete the record, or the payment in it, which no audit
 * sees (docs/watch.md, "Scale"): within a third of the margin the audit finds such an index in
 * time for the mint's exit, not promised for a claim.
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

/** Blocks within which the rolling audit reads every record once: a third of the mint's safety margin (48 at 144), at least 1 — see THE AUDIT for why not a gateway's claim window. */
export function auditEvery(margin: number): number {
  return Math.max(1, Math.floor(margin / 3));
}

/** A key range of contract ids: from `from` (inclusive; '' for the first) to `to` (exclusive; none for the last). */
export type IdRange = { from: string; to?: string };

/** A record a slice read, with the watch height its store computes from it. */
export type Sliced<R> = { record: R; height: number };

/** 2^32: ids are hashes, their first 8 hex digits a uniform 32-bit number. */
const SPAN = 2 ** 32;

/**
 * Slice `i` of `every`: the ids whose first 8 hex digits are at least i·2^32/every and below
 * (i + 1)·2^32/every — about 1/every of the store each. The first is open below and the last
 * above, so any id, a hash or not, is in exactly one.
 */
export function auditSlice(i: number, every: number): IdRange {
  const bound = (k: number) => Math.floor((k * SPAN) / every).toString(16).padStart(8, '0');
  return { from: i === 0 ? '' : bound(i), ...(i < every - 1 ? { to: bound(i + 1) } : {}) };
}

/**
 * The slices the round at `tip` reads: tip mod every — so any `every` consecutive tips read the
 * whole store, a `--once` run each block included, with nothing remembered. A long-running
 * watcher passes the tip of its last round (`last`): it also reads the slices of the tips it did
 * not round at (a gap: all of them from `every` blocks on), and none at a tip it has read already.
 */
export function auditSlices(tip: number, every: number, last?: number): number[] {
  const slice = (t: number) => ((t % every) + every) % every;
  if (last === undefined || tip < last) return [slice(tip)];
  const tips = Math.min(tip - last, every);
  return Array.from({ length: tips }, (_, k) => slice(tip - k)).sort((a, b) => a - b);
}

/** The records of a read of the store that the rule makes due by `upTo` and the index's read (`read`: their ids) left out. */
export function missedByIndex<R>(all: readonly R[], read: ReadonlySet<string>, idOf: (r: R) => string, heightOf: (r: R) => number, upTo: number): R[] {
  return all.filter((r) => !read.has(idOf(r)) && heightOf(r) <= upTo);
}
