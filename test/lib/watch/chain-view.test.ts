/**
 * The watcher's view of the best chain (src/lib/watch/chain-view.ts): narrated cases, then the
 * module's invariants as properties over a block TREE modelled here, independently of the
 * module. Every block ever made stays in the tree with its parent (random 64-hex hashes), and
 * `headerOf` answers for any of them, best chain or not, as getblockheader does; the node's best
 * chain is just which leaf is its tip. Each run follows a succession of moves: growth by up to
 * 400 blocks, reorganisations 1–10 deep, reorganisations deeper than KEEP_BLOCKS, a tip that
 * falls back onto its own ancestors (invalidateblock), a flip to an earlier best chain, a poll
 * with nothing new, from a first view of nothing. Then the node switches forks — or falls back,
 * or grows — in the middle of a follow, between two headerOf calls. Expected values are read
 * from the model (which blocks are ancestors of the tip), never from the module.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { follow, KEEP_BLOCKS, type BlockRef, type ChainView, type Followed, type HeaderOf } from '../../../src/lib/watch/chain-view.ts';

/** Random 64-hex block hashes from a seed (mulberry32): reproducible from fast-check's seed, distinct in practice. */
function hashSource(seed: number): () => string {
  let a = seed | 0;
  const word = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0).toString(16).padStart(8, '0');
  };
  return () => Array.from({ length: 8 }, word).join('');
}

/** A switch of the node's best chain just before the `atCall`-th headerOf of a follow is answered. */
type Switch = { atCall: number; to: () => string[] };

/**
 * The node: a tree of every block it has seen (hash → height and parent, never changed once
 * set), and its best chain (an array of hashes, index = height) whose last is the tip. headerOf
 * is counted, answers for any block of the tree, and throws for a block the node never saw.
 */
class Node {
  private readonly headers = new Map<string, { height: number; prev: string | null }>();
  chain: string[] = [];
  /** Hashes asked of headerOf since the last `reset`. */
  asked: string[] = [];
  switches: Switch[] = [];
  constructor(chain: string[]) {
    this.moveTo(chain);
  }
  /** The best chain becomes `chain`; its blocks join the tree (a hash never gets a second parent). */
  moveTo(chain: string[]): void {
    chain.forEach((hash, height) => {
      const prev = height === 0 ? null : chain[height - 1]!;
      const known = this.headers.get(hash);
      if (known && (known.height !== height || known.prev !== prev)) throw new Error(`model: ${hash} given a second parent`);
      this.headers.set(hash, { height, prev });
    });
    this.chain = chain;
  }
  reset(): void {
    this.asked = [];
    this.switches = [];
  }
  tip(): BlockRef {
    return { height: this.chain.length - 1, hash: this.chain[this.chain.length - 1]! };
  }
  headerOf: HeaderOf = async (hash) => {
    this.asked.push(hash);
    for (const s of this.switches) if (s.atCall === this.asked.length) this.moveTo(s.to());
    await Promise.resolve();
    const h = this.headers.get(hash);
    if (h === undefined) throw new Error(`getblockheader: block not found: ${hash}`);
    return { prev: h.prev };
  };
  /** The block's own header, per the model (undefined: never seen). */
  header(hash: string): { height: number; prev: string | null } | undefined {
    return this.headers.get(hash);
  }
  /** The tip's ancestry per the tree, index = height (the tip included): walked through the model's parent links, not the best chain. */
  lineOf(tip: BlockRef): string[] {
    const line: string[] = [];
    let hash: string | null = tip.hash;
    while (hash !== null) {
      const h = this.headers.get(hash);
      if (h === undefined) throw new Error(`model: ${hash} unknown`);
      line[h.height] = hash;
      hash = h.prev;
    }
    if (line.length !== tip.height + 1) throw new Error(`model: tip ${tip.hash} is not at height ${tip.height}`);
    return line;
  }
}

type Move =
  | { kind: 'grow'; blocks: number }
  | { kind: 'reorg'; depth: number; blocks: number }
  | { kind: 'poll' }
  | { kind: 'back'; which: number }
  | { kind: 'rollback'; depth: number };

/** `depth` blocks disconnected (never genesis), then `blocks` new ones connected. */
function fork(chain: string[], depth: number, blocks: number, fresh: () => string): string[] {
  return [...chain.slice(0, Math.max(1, chain.length - depth)), ...Array.from({ length: blocks }, fresh)];
}

/** The node's best chain after a move; `earlier` holds every best chain so far (for a flip back). */
function moved(chain: string[], m: Move, fresh: () => string, earlier: string[][]): string[] {
  switch (m.kind) {
    case 'grow':
      return fork(chain, 0, m.blocks, fresh);
    case 'reorg':
      return fork(chain, m.depth, m.blocks, fresh);
    case 'poll':
      return chain;
    case 'rollback':
      return fork(chain, m.depth, 0, fresh);
    case 'back':
      return earlier[m.which % earlier.length]!;
  }
}

const move: fc.Arbitrary<Move> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('grow' as const), blocks: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 400 })) }) },
  // 1–10 blocks replaced by 1–12: the tip may go down, to a shorter but different chain.
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('reorg' as const), depth: fc.integer({ min: 1, max: 10 }), blocks: fc.integer({ min: 1, max: 12 }) }) },
  // Deeper than the view remembers; the new chain as short as one block or far longer.
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reorg' as const), depth: fc.integer({ min: KEEP_BLOCKS - 2, max: KEEP_BLOCKS + 250 }), blocks: fc.integer({ min: 1, max: 400 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'poll' as const }) },
  // An earlier best chain: another fork, an ancestor (a fall back), or a descendant.
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('back' as const), which: fc.nat() }) },
  // The tip falls back onto its own ancestors (invalidateblock, or a poll between the disconnects of a reorganisation).
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rollback' as const), depth: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: KEEP_BLOCKS + 20 })) }) },
);

const runs = fc.record({
  seed: fc.integer(),
  // Short chains (heights near genesis) and tall ones.
  length: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 600 })),
  first: fc.constantFrom<ChainView | undefined>(undefined, { blocks: [] }),
  moves: fc.array(move, { minLength: 1, maxLength: 8 }),
});
type Run = { seed: number; length: number; first: ChainView | undefined; moves: Move[] };

/** One follow: the move before it, the view before, the tip passed in, its ancestry per the model, the hashes asked. */
type Step = { move: Move | 'first'; old: BlockRef[]; tip: BlockRef; line: string[]; asked: string[]; followed: Followed; node: Node };

/** Follows the node through every move of a run, calling `check` after each follow; the node and view where it ends. */
async function play(r: Run, check: (s: Step) => void, fresh = hashSource(r.seed)): Promise<{ node: Node; view: ChainView | undefined; earlier: string[][] }> {
  const node = new Node(Array.from({ length: r.length }, fresh));
  const earlier = [node.chain];
  let view = r.first;
  for (const m of ['first' as const, ...r.moves]) {
    if (m !== 'first') node.moveTo(moved(node.chain, m, fresh, earlier));
    earlier.push(node.chain);
    view = await step(node, view, m, check);
  }
  return { node, view, earlier };
}

/** One follow at the node's tip (read before the follow starts), checked. */
async function step(node: Node, view: ChainView | undefined, m: Move | 'first', check: (s: Step) => void): Promise<ChainView> {
  const tip = node.tip();
  const asked: string[] = (node.asked = []);
  const followed = await follow(view, tip, node.headerOf);
  check({ move: m, old: view?.blocks ?? [], tip, line: node.lineOf(tip), asked, followed, node });
  return followed.view;
}

const heightsFrom = (low: number, high: number) => Array.from({ length: Math.max(0, high - low + 1) }, (_, i) => low + i);
const same = (a: BlockRef, b: BlockRef) => a.height === b.height && a.hash === b.hash;
const ancestorOf = (line: string[]) => (b: BlockRef) => line[b.height] === b.hash;

/**
 * The view: one chain of consecutive heights ending at the tip passed in, each block the parent
 * of the next per the model's tree, every one an ancestor of the tip, at most KEEP_BLOCKS.
 * Not that it holds a full KEEP_BLOCKS: after a reorganisation to a shorter chain it keeps
 * only from its old lowest block up, and fills again as the chain grows.
 */
function viewIsOneChainToTheTip({ followed: { view }, tip, line, node }: Step): void {
  const blocks = view.blocks;
  expect(blocks.length).toBeGreaterThan(0);
  expect(blocks.length).toBeLessThanOrEqual(KEEP_BLOCKS);
  expect(blocks.at(-1), 'ends at the tip passed in').toEqual(tip);
  expect(blocks.map((b) => b.height), 'consecutive heights').toEqual(heightsFrom(blocks[0]!.height, tip.height));
  expect(blocks.filter((b) => node.header(b.hash)?.height !== b.height), 'blocks the node never made at that height').toEqual([]);
  expect(blocks.slice(1).filter((b, i) => node.header(b.hash)?.prev !== blocks[i]!.hash), 'blocks whose parent is not the block before').toEqual([]);
  expect(blocks.filter((b) => !ancestorOf(line)(b)), 'blocks not ancestors of the tip').toEqual([]);
}

/**
 * Replaced: exactly the earlier view's blocks that are not ancestors of the tip, lowest first;
 * the fork is the highest block both share. Connected: a run of the tip's ancestry ending at the
 * tip, above the fork, holding every block new to the view and none the view had.
 */
function replacedAreTheNonAncestors({ old, tip, line, followed: f }: Step): void {
  const isAncestor = ancestorOf(line);
  expect(f.replaced).toEqual(old.filter((b) => !isAncestor(b)));
  expect(f.forkHeight).toBe(old.filter(isAncestor).at(-1)?.height);
  const c = f.connected;
  expect(c.filter((b) => !isAncestor(b)), 'connected blocks not ancestors of the tip').toEqual([]);
  if (c.length > 0) expect(c.map((b) => b.height), 'connected: consecutive, ending at the tip').toEqual(heightsFrom(tip.height - c.length + 1, tip.height));
  if (f.forkHeight !== undefined) expect(c.length, 'connected: exactly the blocks above the fork').toBe(tip.height - f.forkHeight);
  expect(c.filter((b) => old.some((o) => same(o, b))), 'connected blocks the view already had').toEqual([]);
  expect(f.view.blocks.filter((b) => !old.some((o) => same(o, b)) && !c.some((x) => same(x, b))), 'new blocks in the view not reported connected').toEqual([]);
}

/** Deep iff the earlier view had blocks and none of them is an ancestor of the tip. */
function deepIffNoneShared({ old, line, followed }: Step): void {
  expect(followed.deep).toBe(old.length > 0 && !old.some(ancestorOf(line)));
}

/** A tip that only grew (or stayed) replaces nothing, keeps the last KEEP_BLOCKS of old + new, and asks at most one header a block grown. */
function growthReplacesNothing({ move: m, old, tip, line, asked, followed }: Step): void {
  if (m === 'first' || (m.kind !== 'grow' && m.kind !== 'poll') || old.length === 0) return;
  const n = m.kind === 'grow' ? m.blocks : 0;
  const grown = heightsFrom(old.at(-1)!.height + 1, tip.height).map((height) => ({ height, hash: line[height]! }));
  expect(grown.length).toBe(n);
  expect(followed.replaced).toEqual([]);
  expect(followed.deep).toBe(false);
  expect(followed.forkHeight).toBe(old.at(-1)!.height);
  expect(followed.view.blocks, 'the last KEEP_BLOCKS of the old view and the blocks grown').toEqual([...old, ...grown].slice(-KEEP_BLOCKS));
  expect(asked.length, `headers asked for a growth by ${n}`).toBeLessThanOrEqual(n);
}

/** Nothing asked of the node when the tip is the view's last block. */
function pollAsksNothing({ old, tip, asked, followed }: Step): void {
  const last = old.at(-1);
  if (last && same(last, tip)) {
    expect(asked).toEqual([]);
    expect(followed.view.blocks).toEqual(old);
  }
}

/** A tip that fell back onto a block the view holds: the view ends there, once; the blocks above it replaced; nothing connected. */
function fallBackIsNotDuplicated({ old, tip, followed: f }: Step): void {
  const at = old.findIndex((b) => same(b, tip));
  if (at < 0) return;
  expect(f.replaced).toEqual(old.slice(at + 1));
  expect(f.forkHeight).toBe(tip.height);
  expect(f.deep).toBe(false);
  expect(f.connected).toEqual([]);
  expect(f.view.blocks).toEqual(old.slice(0, at + 1));
}

/**
 * What is asked: only the tip and its ancestors, each once, walking down no further than the
 * fork (or, for a deep fork, than the lowest block the view kept); a first view asks nothing.
 */
function asksOnlyTheWalk({ old, tip, line, asked, followed: f }: Step): void {
  expect(asked.filter((h) => !line.includes(h)), 'headers asked of blocks not ancestors of the tip').toEqual([]);
  expect(new Set(asked).size, 'a header asked twice').toBe(asked.length);
  const bound = old.length === 0 ? 0 : f.forkHeight !== undefined ? tip.height - f.forkHeight : Math.max(0, tip.height - old[0]!.height + 1);
  expect(asked.length, 'headers asked beyond the walk').toBeLessThanOrEqual(bound);
}

const all = (s: Step) => {
  viewIsOneChainToTheTip(s);
  replacedAreTheNonAncestors(s);
  deepIffNoneShared(s);
  growthReplacesNothing(s);
  pollAsksNothing(s);
  fallBackIsNotDuplicated(s);
  asksOnlyTheWalk(s);
};

const b = (tag: string, height: number): BlockRef => ({ height, hash: (tag.repeat(2) + height.toString(16).padStart(4, '0')).repeat(32).slice(0, 64) });
const hashes = (blocks: BlockRef[]) => blocks.map((x) => x.hash);

describe('narrated cases', () => {
  it('a 2-block reorganisation (a9, a10 replaced by b9, b10, b11): replaced lowest first, fork at 8, the view ends at the new tip; the next poll asks nothing', async () => {
    const a = heightsFrom(0, 10).map((h) => b('a', h));
    const node = new Node(hashes(a));
    node.moveTo(hashes([...a.slice(0, 9), b('b', 9), b('b', 10), b('b', 11)]));
    const followed = await follow({ blocks: a }, node.tip(), node.headerOf);
    expect(followed.replaced).toEqual([b('a', 9), b('a', 10)]);
    expect(followed.forkHeight).toBe(8);
    expect(followed.deep).toBe(false);
    expect(followed.connected).toEqual([b('b', 9), b('b', 10), b('b', 11)]);
    expect(followed.view.blocks).toEqual([...a.slice(0, 9), b('b', 9), b('b', 10), b('b', 11)]);
    expect(node.asked).toEqual(hashes([b('b', 11), b('b', 10), b('b', 9)]));

    node.reset();
    const again = await follow(followed.view, node.tip(), node.headerOf);
    expect(again).toEqual({ view: followed.view, replaced: [], forkHeight: 11, deep: false, connected: [] });
    expect(node.asked).toEqual([]);
  });

  it('a first view (undefined, or no blocks) is the tip alone, nothing replaced, nothing asked', async () => {
    const node = new Node(hashes(heightsFrom(0, 30).map((h) => b('a', h))));
    for (const first of [undefined, { blocks: [] }]) {
      const followed = await follow(first, node.tip(), node.headerOf);
      expect(followed).toEqual({ view: { blocks: [b('a', 30)] }, replaced: [], deep: false, connected: [b('a', 30)] });
    }
    expect(node.asked).toEqual([]);
  });

  it('growth by 300 (> KEEP_BLOCKS) from a view of 0 to 10: the last 144 blocks kept, nothing replaced, at most 300 headers asked', async () => {
    const a = heightsFrom(0, 310).map((h) => b('a', h));
    const node = new Node(hashes(a));
    const followed = await follow({ blocks: a.slice(0, 11) }, node.tip(), node.headerOf);
    expect(followed.view.blocks).toEqual(a.slice(-KEEP_BLOCKS));
    expect(followed.replaced).toEqual([]);
    expect(followed.deep).toBe(false);
    expect(followed.forkHeight).toBe(10);
    expect(followed.connected).toEqual(a.slice(11));
    expect(node.asked.length).toBeLessThanOrEqual(300);
  });

  it('a reorganisation whose fork (100) lies below the kept window (200 to 343) is deep: all kept replaced, no fork height, the view the new chain', async () => {
    const a = heightsFrom(0, 343).map((h) => b('a', h));
    const c = [...a.slice(0, 101), ...heightsFrom(101, 400).map((h) => b('c', h))];
    const node = new Node(hashes(a));
    node.moveTo(hashes(c));
    const old = a.slice(200);
    const followed = await follow({ blocks: old }, node.tip(), node.headerOf);
    expect(followed.deep).toBe(true);
    expect(followed.replaced).toEqual(old);
    expect(followed.forkHeight).toBeUndefined();
    expect(followed.view.blocks).toEqual(c.slice(-KEEP_BLOCKS));
    expect(node.asked.length).toBeLessThanOrEqual(400 - 200 + 1);
  });

  it('a tip fallen back onto a kept block (0 to 10 back to 8): 9 and 10 replaced, the view 0 to 8 with 8 once, nothing asked', async () => {
    const a = heightsFrom(0, 10).map((h) => b('a', h));
    const node = new Node(hashes(a));
    node.moveTo(hashes(a.slice(0, 9)));
    const followed = await follow({ blocks: a }, node.tip(), node.headerOf);
    expect(followed.replaced).toEqual([b('a', 9), b('a', 10)]);
    expect(followed.forkHeight).toBe(8);
    expect(followed.deep).toBe(false);
    expect(followed.view.blocks).toEqual(a.slice(0, 9));
    expect(followed.connected).toEqual([]);
    expect(node.asked).toEqual([]);
  });

  it('a fall back below the whole view (kept 50 to 60, tip back to 40) is deep: all kept replaced, the view the tip', async () => {
    const a = heightsFrom(0, 60).map((h) => b('a', h));
    const node = new Node(hashes(a));
    node.moveTo(hashes(a.slice(0, 41)));
    const followed = await follow({ blocks: a.slice(50) }, node.tip(), node.headerOf);
    expect(followed.deep).toBe(true);
    expect(followed.replaced).toEqual(a.slice(50));
    expect(followed.view.blocks).toEqual([b('a', 40)]);
  });

  it('the node switches forks mid-follow (tip x15 read, then y9–y12 from a8 after the 2nd header): the view is x\'s, and the next follow at y12 replaces a9–x15', async () => {
    const a = heightsFrom(0, 10).map((h) => b('a', h));
    const x = [...a, ...heightsFrom(11, 15).map((h) => b('b', h))];
    const y = [...a.slice(0, 9), ...heightsFrom(9, 12).map((h) => b('c', h))];
    const node = new Node(hashes(x));
    node.switches = [{ atCall: 2, to: () => hashes(y) }];
    const tip = node.tip();
    const first = await follow({ blocks: a }, tip, node.headerOf);
    expect(node.chain).toEqual(hashes(y));
    expect(first.view.blocks).toEqual(x);
    expect(first.replaced).toEqual([]);
    expect(first.connected).toEqual(x.slice(11));

    node.reset();
    const next = await follow(first.view, node.tip(), node.headerOf);
    expect(next.replaced).toEqual(x.slice(9));
    expect(next.forkHeight).toBe(8);
    expect(next.deep).toBe(false);
    expect(next.view.blocks).toEqual(y);
    expect(next.connected).toEqual(y.slice(9));
  });

  it('the node falls back below the walk mid-follow (tip 20 read, then back to 5 after the 1st header): the view still ends at 20, and the next follow replaces 6 to 20', async () => {
    const a = heightsFrom(0, 20).map((h) => b('a', h));
    const node = new Node(hashes(a));
    node.switches = [{ atCall: 1, to: () => hashes(a.slice(0, 6)) }];
    const first = await follow({ blocks: a.slice(0, 11) }, node.tip(), node.headerOf);
    expect(first.view.blocks).toEqual(a);
    node.reset();
    const next = await follow(first.view, node.tip(), node.headerOf);
    expect(next.replaced).toEqual(a.slice(6));
    expect(next.forkHeight).toBe(5);
    expect(next.view.blocks).toEqual(a.slice(0, 6));
    expect(node.asked).toEqual([]);
  });
});

describe('invariants, over random forks (growth, 1–10 deep and deeper than KEEP_BLOCKS, fall backs, flips to earlier chains, polls)', () => {
  const property = (check: (s: Step) => void) => fc.assert(fc.asyncProperty(runs, (r) => play(r, check).then(() => undefined)), { numRuns: 60 });

  it('after follow, the view is one chain of consecutive heights ending at the tip passed in, each block the parent of the next, at most KEEP_BLOCKS', () => property(viewIsOneChainToTheTip));
  it('every block of the earlier view that is not an ancestor of the tip is replaced, lowest first; the fork is the highest block both share; connected is what is new', () => property(replacedAreTheNonAncestors));
  it('a fork below everything the view kept is deep, and only then', () => property(deepIffNoneShared));
  it('a tip that only grew replaces nothing, keeps the last KEEP_BLOCKS, and asks at most one header per block grown', () => property(growthReplacesNothing));
  it('nothing is asked of the node when the tip is the view\'s last', () => property(pollAsksNothing));
  it('a tip fallen back onto a kept block reports the blocks above it and holds it once', () => property(fallBackIsNotDuplicated));
  it('only the tip and its ancestors are asked, each once, no lower than the fork (or the view\'s lowest block)', () => property(asksOnlyTheWalk));
});

describe('the node switching forks in the middle of a follow (headerOf answers from parent links, which never change)', () => {
  /** A run, one more move whose tip the watcher reads, then 1–3 switches of the node's best chain between headerOf calls. */
  const switching = fc.record({
    run: runs.map((r) => ({ ...r, moves: r.moves.slice(0, 3) })),
    next: move,
    switches: fc.array(fc.record({ atCall: fc.oneof(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 300 })), move }), { minLength: 1, maxLength: 3 }),
  });

  it('the view is one chain ending at the tip passed in; the next follow, at the new tip, reports exactly the blocks not its ancestors', () =>
    fc.assert(
      fc.asyncProperty(switching, async ({ run, next, switches }) => {
        const fresh = hashSource(run.seed);
        const { node, view, earlier } = await play(run, () => {}, fresh);
        node.moveTo(moved(node.chain, next, fresh, earlier));
        earlier.push(node.chain);
        node.switches = switches.map(({ atCall, move: m }) => ({
          atCall,
          to: () => {
            const chain = moved(node.chain, m, fresh, earlier);
            earlier.push(chain);
            return chain;
          },
        }));
        // The follow, at the tip read before the node moved: every invariant, against that tip's ancestry.
        const during = await step(node, view, next, all);
        // A switch the follow asked too few headers to reach happens now, before the next poll.
        for (const s of node.switches.filter((s) => s.atCall > node.asked.length)) node.moveTo(s.to());
        node.reset();
        // The next poll, at wherever the node is now: every invariant again.
        await step(node, during, 'first', all);
      }),
      { numRuns: 150 },
    ));
});
