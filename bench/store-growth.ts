/**
 * Does the mint's cost per payment grow with its store? One payment — the mint's update step
 * (`acceptUpdate`, src/lib/credit/mint.ts, in its store step, then the COMMIT) — in a store
 * that holds only the working contracts ("empty") against the same store with F other
 * contracts (default 100,000) as real use leaves them. In process, on the given tree's own
 * modules, so it measures either tree:
 *
 *   node --import tsx bench/store-growth.ts --tree /work/fixtures-clone   (before: MintStore, mint.sqlite + nonce ledger)
 *   node --import tsx bench/store-growth.ts --tree /work/main             (after: StateDb + SqliteMintStore, state.sqlite)
 *
 * Setup (not timed): <tree>/bench/credit-closed-loop.ts `setup` makes a SQLite mint with W
 * working contracts (default 200), each with its funding bound and its state-1 nonce issued;
 * one untimed round pays each once, so every record holds a signed state, as after real use.
 * That directory is copied twice. In the "full" copy the tables get F other contracts, raw,
 * through the tree's own better-sqlite3, each row a copy of a real one with fresh random ids:
 *   contracts  one row per contract: a working contract's record (after its payment) with
 *              its contract id replaced (its sealed state kept: never opened here)
 *   funding    one outpoint per contract
 *   nonces     C consumed rows per contract (default 5: its past payments) and 1 unused one
 *              (its next state's, the secret a copy of a real sealed one)
 * Rows go in with explicit rowids, the working contracts' own rows moved to random rowids
 * among them (their rows are scattered through the table as in a store where every contract
 * pays now and then), random keys in the primary-key indexes. Then the WAL is checkpointed
 * and truncated. Before: the other contracts' unused nonces are appended to the nonce ledger's
 * journal (nonce-ledger/journal, `+<id>` lines), as its processes would have issued them.
 *
 * Timed: rounds of W payments (one per working contract, the user's request signed before
 * the clock starts; each user's next request is signed against the nonce its receipt
 * carried), each payment `store.step(() => acceptUpdate(…))`, a COMMIT every `commit-every`
 * payments (1: each payment its own COMMIT, as `serve mint` with one user; 256: the
 * service's batch) and at the round's end. Per payment: CPU user and system µs
 * (process.cpuUsage), bytes written (/proc/self/io write_bytes, and wchar: bytes handed to
 * write calls) and wall µs; the median of the rounds after one untimed warm-up round. The
 * empty and the full store run alternately, round by round. One JSON line per figure and
 * size, then the ratio full/empty, each with the load average.
 *
 *   --tree DIR            the tree (required)
 *   --contracts F         other contracts in the full store (default 100000)
 *   --working W           working contracts = payments per round (default 200)
 *   --rounds R            timed rounds per store (default 5)
 *   --consumed C          consumed nonces per other contract (default 5)
 *   --commit-every LIST   e.g. 1 or 1,256 (default 1,256): one measurement per value
 *   --backend NAME        secp256k1 backend (default auto, as serve mint)
 *   --pragma K=V          an experiment, not the tree as it ships: run PRAGMA K=V on the mint's
 *                         connection once it is open (e.g. cache_size=-65536, mmap_size=1073741824);
 *                         repeatable, printed in every line
 *   --keep                keep the work directory
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';

function parseArgs() {
  const a = process.argv.slice(2);
  const o = { tree: '', contracts: 100_000, working: 200, rounds: 5, consumed: 5, commitEvery: [1, 256], backend: 'auto', keep: false, pragmas: [] as string[] };
  for (let i = 0; i < a.length; i++) {
    const v = () => a[++i]!;
    switch (a[i]) {
      case '--tree': o.tree = resolve(v()); break;
      case '--contracts': o.contracts = Number(v()); break;
      case '--working': o.working = Number(v()); break;
      case '--rounds': o.rounds = Number(v()); break;
      case '--consumed': o.consumed = Number(v()); break;
      case '--commit-every': o.commitEvery = v().split(',').map(Number); break;
      case '--backend': o.backend = v(); break;
      case '--keep': o.keep = true; break;
      case '--pragma': o.pragmas.push(v()); break;
      default: throw new Error(`store-growth: unknown argument ${a[i]}`);
    }
  }
  if (!o.tree) throw new Error('store-growth: --tree DIR is required');
  return o;
}
const opts = parseArgs();
const TREE = opts.tree;
const AFTER = existsSync(join(TREE, 'src/lib/store/sqlite/database.ts'));
const load = () => loadavg().map((l) => Number(l.toFixed(2)));
const commit = spawnSync('git', ['-C', TREE, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
const dirty = spawnSync('git', ['-C', TREE, 'status', '--porcelain', '--', 'src', 'bench/credit-closed-loop.ts', 'bench/stores.ts'], { encoding: 'utf8' }).stdout.trim() !== '';
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'store-growth', tree: TREE, commit, ...(dirty ? { src_dirty: true } : {}), layout: AFTER ? 'state.sqlite' : 'mint.sqlite+nonce-ledger', ...(opts.pragmas.length ? { pragmas: opts.pragmas } : {}), ...o, load: load() }));

const mod = async <T = any>(p: string): Promise<T> => import(pathToFileURL(join(TREE, p)).href) as Promise<T>;

const loop = await mod('bench/credit-closed-loop.ts');
const { acceptUpdate } = await mod('src/lib/credit/mint.ts');
const { OfflineChainSource } = await mod('src/lib/chain/offline.ts');
const { deterministicRandom } = await mod('src/lib/random.ts');
const { decodeMessage } = await mod('src/lib/message.ts');
const { UpdateRequestSchema } = await mod('src/lib/credit/schemas.ts');
const { selectBackend } = await mod('src/lib/musig/bip327.ts');
const { setBasePointWindow } = await mod('src/lib/curve.ts');
const Database = createRequire(join(TREE, 'package.json'))('better-sqlite3');

const selection = await selectBackend(opts.backend);
setBasePointWindow(8); // as the stream and the service do

/** The mint's store of a bench directory, opened as the tree's mint commands open it (with its key). */
type Store = { step<T>(fn: () => Promise<T>): Promise<T>; commit(): Promise<void>; close(): Promise<void>; readDoc<T>(n: string): Promise<T | undefined> };
async function openStore(dir: string): Promise<Store> {
  let store: any;
  if (AFTER) {
    const { openMint } = await mod('bench/stores.ts');
    store = await openMint(join(dir, 'regtest'), loop.mint.secretKey);
  } else {
    const { MintStore } = await mod('src/lib/store/mint-store.ts');
    const { StateSeal } = await mod('src/lib/store/state-seal.ts');
    store = await MintStore.open(join(dir, 'regtest', 'credit-mint'), { seal: StateSeal.fromMintKey(loop.mint.secretKey) });
  }
  // The connection: after, StateDb's `sql`; before, MintDatabase's (protected) `db`.
  const sql = AFTER ? store.db.sql : store.db;
  for (const p of opts.pragmas) sql.pragma(p);
  return store;
}
const dbFile = (dir: string) => (AFTER ? join(dir, 'regtest', 'state.sqlite') : join(dir, 'regtest', 'credit-mint', 'mint.sqlite'));

type Ct = { c: { id: string; funding: { txid: string; vout: number }; capacity: bigint; script: Uint8Array }; state: number; nonce: unknown };

/** A mint context on `store`, as the stream builds it (offline chain: every working funding confirmed). */
async function context(store: Store, cts: Ct[]) {
  const offer = (await store.readDoc<Record<string, unknown>>('offer'))!;
  const { type: _t, version: _v, network: _n, ...policy } = offer;
  const chain = new OfflineChainSource({
    tipHeight: 1001,
    utxos: cts.map(({ c }) => ({ txid: c.funding.txid, vout: c.funding.vout, value: c.capacity, scriptPubKey: c.script, confirmations: 1 })),
  });
  return { network: 'regtest', mint: loop.mint, policy: { ...policy, min_fee_rate: 1 }, records: store, funding: store, nonces: store, chain, random: deterministicRandom(`store-growth-${randomBytes(8).toString('hex')}`) };
}

function io(): { write_bytes: number; wchar: number } {
  const t = readFileSync('/proc/self/io', 'utf8');
  return { write_bytes: Number(/write_bytes: (\d+)/.exec(t)![1]), wchar: Number(/wchar: (\d+)/.exec(t)![1]) };
}

/**
 * One round: every working contract pays once. Requests signed first (untimed); then the
 * mint's steps and commits, timed together. Returns per-payment figures.
 */
async function round(store: Store, ctx: unknown, cts: Ct[], commitEvery: number) {
  const lines = cts.map((ct) => loop.request(ct) as string);
  const io0 = io();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const receipts: { next_nonce: unknown }[] = [];
  for (const [n, line] of lines.entries()) {
    const req = decodeMessage(UpdateRequestSchema, JSON.parse(line));
    receipts.push(await store.step(() => acceptUpdate(ctx, req)));
    if ((n + 1) % commitEvery === 0) await store.commit();
  }
  await store.commit();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const io1 = io();
  for (const [k, ct] of cts.entries()) {
    ct.nonce = receipts[k]!.next_nonce;
    ct.state++;
  }
  const n = cts.length;
  return { user_us: cpu.user / n, system_us: cpu.system / n, cpu_us: (cpu.user + cpu.system) / n, write_bytes: (io1.write_bytes - io0.write_bytes) / n, wchar: (io1.wchar - io0.wchar) / n, wall_us: (wall * 1000) / n };
}

const rnd = (bytes: number) => randomBytes(bytes).toString('hex');
function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/**
 * Put `fillers` new rows into `table` with explicit rowids 1..N (N = fillers + the rows it
 * has), the rows it has moved to random rowids among them.
 */
function fillTable(db: any, table: string, fillers: number, make: (i: number) => Record<string, unknown>) {
  const existing = db.prepare(`SELECT rowid AS r FROM ${table} ORDER BY rowid`).all().map((x: { r: number }) => x.r);
  const total = fillers + existing.length;
  const positions = shuffle(Array.from({ length: total }, (_, i) => i + 1));
  const mine = positions.slice(0, existing.length).sort((a, b) => a - b);
  const taken = new Set(mine);
  db.prepare(`UPDATE ${table} SET rowid = rowid + ?`).run(total + 10);
  let insert: any;
  let i = 0;
  for (let r = 1; r <= total; r++) {
    if (taken.has(r)) continue;
    const row = make(i++);
    insert ??= db.prepare(`INSERT INTO ${table} (rowid, ${Object.keys(row).join(', ')}) VALUES (?, ${Object.keys(row).map(() => '?').join(', ')})`);
    insert.run(r, ...Object.values(row));
  }
  const move = db.prepare(`UPDATE ${table} SET rowid = ? WHERE rowid = ?`);
  existing.forEach((old: number, k: number) => move.run(mine[k], old + total + 10));
}

/** The full store: `contracts` other contracts, their funding and nonces, as real use leaves them. */
function fill(dir: string, contracts: number, consumed: number, working: Ct[]) {
  const db = new Database(dbFile(dir));
  db.pragma('journal_mode = WAL');
  db.pragma('secure_delete = ON');
  const t0 = performance.now();
  const template = db.prepare('SELECT contract_id, record, unfunded_since FROM contracts WHERE contract_id = ?').get(working[0]!.c.id) as { contract_id: string; record: string; unfunded_since: number | null };
  const nonceCols = (db.prepare('PRAGMA table_info(nonces)').all() as { name: string }[]).map((c) => c.name);
  const usedRow = db.prepare('SELECT * FROM nonces WHERE consumed = 1 LIMIT 1').get() as Record<string, unknown>;
  const unusedRow = db.prepare('SELECT * FROM nonces WHERE consumed = 0 LIMIT 1').get() as Record<string, unknown>;
  const fundingRow = db.prepare('SELECT * FROM funding LIMIT 1').get() as Record<string, unknown>;
  if (!template || !usedRow || !unusedRow || !fundingRow) throw new Error('store-growth: the working store lacks a row to copy');
  const ids = Array.from({ length: contracts }, () => rnd(32));
  const workingUnused = db.prepare('SELECT id FROM nonces WHERE consumed = 0').all().map((r: { id: string }) => r.id);
  db.transaction(() => {
    fillTable(db, 'contracts', contracts, (i) => ({ contract_id: ids[i], record: template.record.replaceAll(template.contract_id, ids[i]!), unfunded_since: template.unfunded_since }));
    fillTable(db, 'funding', contracts, (i) => ({ ...fundingRow, outpoint: `${rnd(32)}:0`, contract_id: ids[i] }));
    const per = consumed + 1;
    fillTable(db, 'nonces', contracts * per, (i) => {
      const cid = ids[Math.floor(i / per)]!;
      if (i % per < consumed) return { ...usedRow, id: rnd(16) };
      const row: Record<string, unknown> = { ...unusedRow, id: rnd(16), pubnonce: rnd(66) };
      if (nonceCols.includes('context')) row.context = String(unusedRow.context).replace(/[0-9a-f]{64}/, cid);
      return row;
    });
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  // Before: the other contracts' unused nonces were issued by this directory's processes, so
  // its nonce ledger's journal holds them (`+<id>`, as a compacted journal does).
  if (!AFTER) {
    const unused = db.prepare('SELECT id FROM nonces WHERE consumed = 0 AND id NOT IN (SELECT value FROM json_each(?))').all(JSON.stringify(workingUnused)).map((r: { id: string }) => `+${r.id}\n`);
    appendFileSync(join(dir, 'regtest', 'credit-mint', 'nonce-ledger', 'journal'), unused.join(''));
  }
  const counts = {
    contracts: (db.prepare('SELECT COUNT(*) AS n FROM contracts').get() as { n: number }).n,
    nonces: (db.prepare('SELECT COUNT(*) AS n FROM nonces').get() as { n: number }).n,
    funding: (db.prepare('SELECT COUNT(*) AS n FROM funding').get() as { n: number }).n,
  };
  db.close();
  return { ...counts, fill_s: (performance.now() - t0) / 1000, db_bytes: statSync(dbFile(dir)).size, record_bytes: template.record.length };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const work = mkdtempSync(join(tmpdir(), 'offchain-bench-growth-'));
process.on('exit', () => {
  if (opts.keep) process.stderr.write(`store-growth: work directory kept: ${work}\n`);
  else rmSync(work, { recursive: true, force: true });
});

// The working store: W contracts, one untimed round so that each record holds a signed state.
const base = join(work, 'base');
const cts: Ct[] = await loop.setup(base, opts.working);
{
  const store = await openStore(base);
  await round(store, await context(store, cts), cts, 256);
  await store.close();
}

for (const commitEvery of opts.commitEvery) {
  const dirs = { empty: join(work, `empty-${commitEvery}`), full: join(work, `full-${commitEvery}`) };
  const state: Record<string, Ct[]> = {};
  for (const [size, dir] of Object.entries(dirs)) {
    cpSync(base, dir, { recursive: true });
    state[size] = cts.map((ct) => ({ ...ct }));
    if (size === 'full') {
      const filled = fill(dir, opts.contracts, opts.consumed, cts);
      emit({ figure: 'full_store', commit_every: commitEvery, ...filled, working: opts.working });
    }
  }
  const stores: Record<string, { store: Store; ctx: unknown }> = {};
  for (const [size, dir] of Object.entries(dirs)) {
    const store = await openStore(dir);
    stores[size] = { store, ctx: await context(store, state[size]!) };
  }
  const rows: Record<string, ReturnType<typeof round> extends Promise<infer R> ? R[] : never> = { empty: [], full: [] };
  // One untimed warm-up round each, then the timed rounds, the two sizes alternately.
  for (let r = 0; r <= opts.rounds; r++) {
    for (const size of r % 2 ? ['full', 'empty'] : ['empty', 'full']) {
      const { store, ctx } = stores[size]!;
      const row = await round(store, ctx, state[size]!, commitEvery);
      if (r > 0) rows[size]!.push(row);
    }
  }
  for (const { store } of Object.values(stores)) await store.close();
  const med: Record<string, Record<string, number>> = {};
  for (const size of ['empty', 'full']) {
    const rs = rows[size]!;
    med[size] = Object.fromEntries(Object.keys(rs[0]!).map((k) => [k, Number(median(rs.map((x) => (x as Record<string, number>)[k]!)).toFixed(1))]));
    emit({
      figure: 'per_payment', size, other_contracts: size === 'full' ? opts.contracts : 0, commit_every: commitEvery, ...med[size],
      rounds: opts.rounds, payments_per_round: opts.working, backend: selection.engine,
      cpu_us_each_round: rs.map((x) => Math.round(x.cpu_us)),
    });
  }
  const ratio = (k: string) => Number((med.full![k]! / med.empty![k]!).toFixed(3));
  const diff = (k: string) => Number((med.full![k]! - med.empty![k]!).toFixed(1));
  emit({
    figure: 'full_over_empty', other_contracts: opts.contracts, consumed_per_contract: opts.consumed, commit_every: commitEvery,
    cpu_ratio: ratio('cpu_us'), user_us_delta: diff('user_us'), system_us_delta: diff('system_us'), write_bytes_ratio: ratio('write_bytes'), wchar_ratio: ratio('wchar'), wall_ratio: ratio('wall_us'),
  });
  rmSync(dirs.empty, { recursive: true, force: true });
  rmSync(dirs.full, { recursive: true, force: true });
}
