/**
 * A watcher's own view of the best chain, by block hash: the last blocks it evaluated, so that
 * a new tip is recognised as an extension of what it saw or as a reorganisation — and how deep.
 * Like LND's chain notifier and LDK's `Listen`, it follows a header chain: from the node's tip
 * back, parent by parent (getblockheader's previousblockhash), until it meets a block it kept.
 * A tip's ancestry never changes, so what it walks is one chain however the node moves while it
 * walks (asking the best chain's hash height by height could mix two forks).
 *
 * INVARIANTS (test/lib/watch/chain-view.test.ts, property tests over random forks):
 * - After `follow`, the view is a run of consecutive heights ending at the tip it was given,
 *   each block the parent of the next, at most KEEP_BLOCKS of them.
 * - A block of the earlier view that is not an ancestor of the tip is reported as replaced —
 *   every one of them, lowest first — and the fork height is the highest block both chains
 *   share. A tip that only grew reports nothing replaced; a tip that fell back onto a block the
 *   view holds reports the blocks above it.
 * - A fork below everything the view kept is reported as `deep` (all it kept is replaced): the
 *   caller then treats every decision as to be taken again, which is always safe.
 * - Nothing is asked of the node when the tip's hash is the view's last (the common poll), and
 *   never more than MAX_WALK headers in one follow.
 *
 * Pure but for `headerOf`, the caller's getblockheader; no other I/O.
 */

export type BlockRef = { height: number; hash: string };

/** The view: consecutive blocks, lowest first, at most KEEP_BLOCKS of them. */
export type ChainView = { blocks: BlockRef[] };

/** How many blocks a view remembers: a day of blocks, deeper than any reorganisation Bitcoin has seen since 2013. */
export const KEEP_BLOCKS = 144;

export type Followed = {
  view: ChainView;
  /** Blocks the view held that are not ancestors of the tip, lowest first. */
  replaced: BlockRef[];
  /** Height of the highest block the old view and the tip's chain share (undefined: none it kept, or a first view). */
  forkHeight?: number;
  /** The fork is below everything the view kept: how deep is unknown, at least replaced.length. */
  deep: boolean;
  /** Blocks new to the view (above the fork, or above its old tip), lowest first. */
  connected: BlockRef[];
};

/**
 * The most headers one follow asks for: two weeks of blocks. A watcher back after longer (or a
 * view that is not what it kept) starts a fresh view from the tip: nothing is reported replaced,
 * since nothing is known — and every decision is taken from the chain anyway.
 */
export const MAX_WALK = 2016;

/** The header a walk needs: the block's parent (null: genesis). */
export type HeaderOf = (hash: string) => Promise<{ prev: string | null }>;

/** The view after the node's best chain moved to `tip`. */
export async function follow(view: ChainView | undefined, tip: BlockRef, headerOf: HeaderOf): Promise<Followed> {
  const kept = view?.blocks ?? [];
  const last = kept[kept.length - 1];
  if (last === undefined) return { view: { blocks: [tip] }, replaced: [], deep: false, connected: [tip] };
  if (last.height === tip.height && last.hash === tip.hash) return { view: { blocks: kept }, replaced: [], forkHeight: tip.height, deep: false, connected: [] };
  const at = new Map(kept.map((b, i) => [b.hash, i]));
  const lowest = kept[0]!.height;
  // From the tip back, parent by parent, to a block kept — or below all of them (a deep fork).
  const walked: BlockRef[] = [];
  let cur: BlockRef | undefined = tip;
  let shared = -1;
  while (cur !== undefined) {
    const i = at.get(cur.hash);
    if (i !== undefined && kept[i]!.height === cur.height) {
      shared = i;
      break;
    }
    walked.push(cur);
    if (cur.height <= lowest) break;
    if (walked.length >= MAX_WALK) return { view: { blocks: walked.reverse().slice(-KEEP_BLOCKS) }, replaced: [], deep: false, connected: walked };
    const { prev } = await headerOf(cur.hash);
    cur = prev === null ? undefined : { height: cur.height - 1, hash: prev };
  }
  const connected = walked.reverse();
  const replaced = kept.slice(shared + 1);
  const blocks = [...kept.slice(0, shared + 1), ...connected].slice(-KEEP_BLOCKS);
  return { view: { blocks }, replaced, ...(shared >= 0 ? { forkHeight: kept[shared]!.height } : {}), deep: shared < 0, connected };
}
