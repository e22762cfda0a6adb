/**
 * What a watcher decides for one contract at one tip: the row of `offchain watch`'s report,
 * the one JSON log line it writes per decision, and what its metrics count (docs/watch.md has
 * the decision table of every kind). Pure types and one ordering; no I/O.
 */

/** The contract kinds a watcher keeps (docs/watch.md). */
export type WatchKind = 'credit-mint' | 'credit-user' | 'gateway' | 'device' | 'statechain-owner' | 'statechain-joint' | 'tower-statechain' | 'tower-channel' | 'htlc-payer' | 'ptlc-payer' | 'channel';

/**
 * - `none`: nothing to do yet (the deadline is not near); `wait`: something is on its way (a
 *   settlement, a mined exit gathering confirmations, a refund in the mempool);
 * - `exit`, `claim`, `refund`, `backup`, `penalty`, `sweep`: the first broadcast of the kind's
 *   action (a gateway's `claim` may replace the device's refund; `backup`: a statechain owner's
 *   newest backup with its CPFP child; `penalty`, `sweep`: a channel party's justice transactions,
 *   its own to_local's sweep); `rebid`: the same action at a
 *   higher fee, replacing the earlier one; `rebroadcast`: the earlier bid sent again (the node
 *   lost it: evicted, a reorganisation, a crash before it was sent); `hold`: the earlier bid
 *   stands (a higher one would not outbid it within the budget);
 * - `done`: the contract's funds are where it says; nothing more will be done.
 */
export type WatchAction = 'none' | 'wait' | 'exit' | 'claim' | 'refund' | 'backup' | 'penalty' | 'sweep' | 'rebid' | 'rebroadcast' | 'hold' | 'done';

/**
 * Blocks under which a watcher takes a transaction as final: a user's refund is `done`, and a
 * long-running watcher stops asking about a contract settled that deep — until a reorganisation
 * that deep makes it a question again.
 */
export const FINAL_DEPTH = 6;

/** The actions that send something to the node. */
export const SENDING: ReadonlySet<WatchAction> = new Set(['exit', 'claim', 'refund', 'backup', 'penalty', 'sweep', 'rebid', 'rebroadcast']);

export type Decision = {
  kind: WatchKind;
  contract: string;
  action: WatchAction;
  /** The last height whose block may hold the action's transaction (credit-mint: expiry); for a kind that acts from a height on (credit-user's refund), that height. */
  deadline: number;
  /** deadline − tip. */
  blocks_left: number;
  /** One line for the operator: why this action, what happens next. */
  reason: string;
  /** The bid, sat/vB (of the package, for a CPFP exit). */
  fee_rate?: number;
  /** Why the bid is short of the schedule (deadline-fee.ts): the budget, the coins at hand, or a deadline already passed. */
  shortfall?: 'budget' | 'wallet' | 'deadline-passed';
  /** The transaction the action sent, or is waiting on. */
  txid?: string;
  /** What the node answered when it refused the action (the decision is taken again at the next block). */
  error?: string;
};

/** Soonest deadline first, then by kind and contract: the report's order. */
export function byDeadline(a: Decision, b: Decision): number {
  return a.blocks_left - b.blocks_left || a.kind.localeCompare(b.kind) || a.contract.localeCompare(b.contract);
}

/** One round's report (`watch/report`, ./schemas.ts): what --once prints and the metrics read. */
export type Report = {
  type: 'watch/report';
  version: 1;
  network: string;
  dry_run: boolean;
  tip: { height: number; hash?: string };
  reorg?: { depth: number; fork_height?: number; deep: boolean; replaced: string[] };
  decisions: Decision[];
  /** Kinds whose round failed as a whole ("CODE: message"): the other kinds acted; it is taken again 10 s later. */
  failures?: { kind: string; error: string }[];
  /** `contracts`: those decided; `idle`: those not read (src/lib/watch/ports.ts); `nearest_deadline`: blocks to the nearest deadline of a contract not done, the idle included. */
  summary: { contracts: number; sent: number; pending: number; shortfalls: number; errors: number; nearest_deadline?: number; idle?: number };
};

/**
 * The rate, sat/kvB, of what the node's mempool holds on a transaction: its descendants' fee
 * (Core's modified fees: a prioritisetransaction delta counts, as in its replacement rules) over
 * their size, rounded up, never below 0 — what a replacement must outbid.
 */
export function heldRate(held: { descendantFee: bigint; descendantVsize: number }): number {
  return Math.max(0, Math.ceil((1000 * Number(held.descendantFee)) / held.descendantVsize));
}

/**
 * The least package rate, sat/kvB, at which a new child of a parent in the mempool replaces the
 * child there (ours, or a stranger's on an anchor: TRUC sibling eviction) — more absolute fee than
 * the parent and its descendants pay, plus the incremental relay fee on the new child (Core's
 * rules 3 and 4), at a rate above their chunk's — as a rate of the new package (parent + child,
 * `packageVsize`). A large child at a low rate pins the parent far above `heldRate`.
 */
export function childReplaceRate(held: { descendantFee: bigint; chunkFee: bigint; chunkWeight: number }, childVsize: number, packageVsize: number, incremental: number): number {
  const fee = Math.ceil((1000 * Number(held.descendantFee) + incremental * childVsize) / packageVsize);
  const chunk = Math.floor((4000 * Number(held.chunkFee)) / held.chunkWeight) + 1;
  return Math.max(0, fee, chunk);
}
