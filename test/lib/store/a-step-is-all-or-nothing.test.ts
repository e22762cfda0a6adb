/**
 * A STEP IS ALL OR NOTHING (src/lib/store/sqlite/database.ts ONE STEP, ONE TRANSACTION): a step
 * that returns is durable; one that throws left the database as it was, row for row and byte
 * for byte; a step inside a step is a SAVEPOINT (undone alone when it throws, committed with its
 * enclosing step); the mint's batch commits its steps together, a failing one undone alone; a
 * COMMIT the disk refuses releases nothing and leaves the store broken; a process killed in the
 * middle of a transaction or at its COMMIT leaves the last committed state (SQLite's WAL, shown
 * once, down to a WAL torn at any byte); the steps of two processes serialise (BEGIN IMMEDIATE)
 * and lose no update, and a writer that holds the database past the busy timeout is E_LOCK_HELD.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { toHex } from '../../../src/lib/bytes.ts';
import { StateDb, STATE_DB_FILE } from '../../../src/lib/store/sqlite/database.ts';
import { heldElsewhere } from '../../../src/lib/store/sqlite/files.ts';
import { SqliteMintStore } from '../../../src/lib/store/sqlite/mint.ts';
import { Records } from '../../../src/lib/store/sqlite/records.ts';
import { TABLES } from '../../../src/lib/store/sqlite/schema.ts';
import { Sealer } from '../../../src/lib/store/seal.ts';
import { tempDir } from '../../helpers.ts';
import { refusalAsync } from '../../setup/refusal.ts';
import { churnNonce, killNow, MUTATION_RUN, raceSqliteChildren, SQLITE_CHILD, startProcess, startSqliteChild } from './processes.ts';

const tmp = tempDir('offchain-all-or-nothing-');
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = () => join(tmp.path, `s-${++n}`, 'regtest');
const KEY = new Uint8Array(randomBytes(32));
const refused = new Error('refused after the writes');

type Doc = { v: number; pad?: string };
const docs = (db: StateDb) => new Records<Doc>(db, 'statechain');
const open = (dir: string) => StateDb.open(dir, { create: true })!;

/** Every row of every table, as the database holds them. */
function rows(db: StateDb): string {
  return JSON.stringify(TABLES.map((t) => db.sql.prepare(`SELECT * FROM ${t} ORDER BY 1`).all()));
}

/** The bytes of state.sqlite and its WAL (hex), for "nothing was written". */
function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of [STATE_DB_FILE, `${STATE_DB_FILE}-wal`]) if (existsSync(join(dir, f))) out[f] = readFileSync(join(dir, f), 'hex');
  return out;
}

describe('one step', () => {
  it('a step that throws after writing leaves the database as it was: every row, and state.sqlite and its WAL byte for byte', async () => {
    const dir = fresh();
    const db = open(dir);
    const book = docs(db);
    await db.step(() => book.put('a', { v: 1 }));
    const before = { rows: rows(db), files: files(dir) };
    await expect(
      db.step(async () => {
        book.put('a', { v: 2 });
        book.put('b', { v: 1, pad: 'x'.repeat(10_000) });
        book.remove('a');
        db.sql.prepare("INSERT INTO meta (key, value) VALUES ('k', 'v')").run();
        throw refused;
      }),
    ).rejects.toBe(refused);
    expect({ rows: rows(db), files: files(dir) }).toEqual(before);
    db.close();
  });

  it('a step that returns is durable when it returns: another connection (another process\'s view) reads it', async () => {
    const dir = fresh();
    const db = open(dir);
    await db.step(() => docs(db).put('a', { v: 7 }));
    const Database = (await import('better-sqlite3')).default;
    const other = new Database(join(dir, STATE_DB_FILE), { readonly: true });
    expect(other.prepare("SELECT body FROM records WHERE kind = 'statechain' AND id = 'a'").get()).toEqual({ body: '{"v":7}' });
    other.close();
    db.close();
  });

  it('steps inside a step are savepoints: one that throws (caught) is undone alone; the enclosing step then throwing undoes everything', async () => {
    const db = open(fresh());
    const book = docs(db);
    await db.step(async () => {
      book.put('outer', { v: 1 });
      await db.step(async () => {
        book.put('inner-kept', { v: 2 });
        await expect(
          db.step(async () => {
            book.put('innermost', { v: 3 });
            book.put('outer', { v: 99 });
            throw refused;
          }),
        ).rejects.toBe(refused);
      });
      await expect(
        db.step(async () => {
          book.put('inner-undone', { v: 4 });
          throw refused;
        }),
      ).rejects.toBe(refused);
    });
    expect(book.list()).toEqual([
      { id: 'inner-kept', record: { v: 2 } },
      { id: 'outer', record: { v: 1 } },
    ]);
    const before = rows(db);
    await expect(
      db.step(async () => {
        await db.step(() => book.put('nested-ok', { v: 5 }));
        book.put('outer', { v: 6 });
        throw refused;
      }),
    ).rejects.toBe(refused);
    expect(rows(db)).toEqual(before);
    db.close();
  });

  it('steps begun from separate async contexts take turns: 20 read-wait-write steps lose no update', async () => {
    const db = open(fresh());
    const book = docs(db);
    await Promise.all(
      Array.from({ length: 20 }, () =>
        db.step(async () => {
          const v = book.get('count')?.v ?? 0;
          await new Promise((r) => setTimeout(r, 1));
          book.put('count', { v: v + 1 });
        }),
      ),
    );
    expect(book.get('count')).toEqual({ v: 20 });
    db.close();
  });
});

describe('the mint\'s batch (group commit)', () => {
  it('its steps commit together; a step that throws is undone alone (the nonce it took unused again); an uncommitted batch is lost', async () => {
    const dir = fresh();
    const store = new SqliteMintStore<{ contract_id: string; n: number }>(open(dir), { sealer: Sealer.fromSecret(KEY) });
    const a = await store.step(() => store.issue('ctx/a', () => churnNonce(1)));
    await store.step(() => store.put({ contract_id: 'c1', n: 1 }));
    await expect(
      store.step(async () => {
        await store.take(a.pubnonce, 'ctx/a');
        await store.put({ contract_id: 'c2', n: 2 });
        throw refused;
      }),
    ).rejects.toBe(refused);
    expect(await store.status(a.pubnonce)).toBe('unused');
    await store.step(() => store.put({ contract_id: 'c3', n: 3 }));
    expect(store.dirty).toBe(true);
    await store.commit();
    expect(store.dirty).toBe(false);
    // A batch never committed (a crash: the store abandoned) is lost whole.
    await store.step(() => store.take(a.pubnonce, 'ctx/a'));
    await store.step(() => store.put({ contract_id: 'c4', n: 4 }));
    store.abandon();
    store.db.close();
    const again = new SqliteMintStore<{ contract_id: string; n: number }>(open(dir), { sealer: Sealer.fromSecret(KEY) });
    expect((await again.list()).map((r) => r.contract_id)).toEqual(['c1', 'c3']);
    expect(await again.status(a.pubnonce)).toBe('unused');
    again.abandon();
    again.db.close();
  });

  it('a nonce counter ticked by a step that is undone, or by a batch never committed, is drawn again; a commit keeps it', async () => {
    const dir = fresh();
    const counters: number[] = [];
    const tick = (c: number) => (counters.push(c), churnNonce(1000 + counters.length));
    const s = new SqliteMintStore<{ contract_id: string }>(open(dir), { sealer: Sealer.fromSecret(KEY) });
    await s.step(() => s.issue('a', tick)); // 1
    await expect(s.step(async () => (await s.issue('b', tick), Promise.reject(refused)))).rejects.toBe(refused); // 2, undone
    await s.step(() => s.issue('c', tick)); // 2
    await s.commit();
    await s.step(() => s.issue('d', tick)); // 3, never committed
    s.abandon();
    s.db.close();
    const t = new SqliteMintStore<{ contract_id: string }>(open(dir), { sealer: Sealer.fromSecret(KEY) });
    await t.step(() => t.issue('e', tick)); // 3 again
    await t.commit();
    expect(counters).toEqual([1, 2, 2, 3, 3]);
    expect(t.db.sql.prepare("SELECT value FROM meta WHERE key = 'nonce_counter'").get()).toEqual({ value: '3' });
    t.db.close();
  });
});

describe('a COMMIT that fails', () => {
  /** COMMIT refused as the disk refuses it (SQLite's code on the error), once. */
  function failNextCommit(db: StateDb, code: string): void {
    // The connection's COMMIT is a statement prepared once (database.ts `control`): its run refused.
    const commit = (db as unknown as { control: { commit: { run: (...a: unknown[]) => unknown } } }).control.commit;
    const run = commit.run.bind(commit);
    let armed = true;
    commit.run = (...a: unknown[]) => {
      if (armed) {
        armed = false;
        throw Object.assign(new Error(code === 'SQLITE_FULL' ? 'database or disk is full' : 'disk I/O error'), { code });
      }
      return run(...a);
    };
  }

  for (const [code, expected] of [['SQLITE_FULL', 'E_STORE_FULL'], ['SQLITE_IOERR_WRITE', 'E_STATE_WRITE']] as const) {
    it(`${code}: ${expected} (exit 1), nothing of the step in the database, and the store broken: every later step refused E_STATE_WRITE`, async () => {
      const dir = fresh();
      const db = open(dir);
      const book = docs(db);
      await db.step(() => book.put('a', { v: 1 }));
      const before = rows(db);
      failNextCommit(db, code);
      const e = await refusalAsync(db.step(() => book.put('a', { v: 2 })), expected, 1);
      expect(e.message).toMatch(/nothing of this step was (kept|released)/);
      expect(db.broken).toBeDefined();
      expect(rows(db)).toEqual(before);
      const later = await refusalAsync(db.step(() => book.put('b', { v: 3 })), 'E_STATE_WRITE', 1);
      expect(later.message).toContain('could not be written earlier');
      expect(rows(db)).toEqual(before);
      db.closeNow();
    });
  }

  it('in the mint\'s batch: commit() refused, none of the batch\'s steps kept', async () => {
    const dir = fresh();
    const store = new SqliteMintStore<{ contract_id: string; n: number }>(open(dir), { sealer: Sealer.fromSecret(KEY) });
    const a = await store.step(() => store.issue('ctx/a', () => churnNonce(1)));
    await store.commit();
    await store.step(() => store.take(a.pubnonce, 'ctx/a'));
    await store.step(() => store.put({ contract_id: 'c1', n: 1 }));
    failNextCommit(store.db, 'SQLITE_FULL');
    await refusalAsync(store.commit(), 'E_STORE_FULL', 1);
    expect(store.broken).toBeDefined();
    expect(await store.list()).toEqual([]);
    expect(await store.status(a.pubnonce)).toBe('unused');
    await refusalAsync(store.step(() => store.put({ contract_id: 'c2', n: 2 })), 'E_STATE_WRITE', 1);
    store.db.closeNow();
  });

  it.skipIf(MUTATION_RUN || process.platform !== 'linux')('a real write limit (RLIMIT_FSIZE, as a full disk): the failed batch releases nothing, the database keeps every earlier batch, and the store refuses after', async () => {
    const dir = fresh();
    mkdirSync(dir, { recursive: true });
    // write() past the limit fails with EFBIG as a full disk fails with ENOSPC; SIGXFSZ ignored so SQLite sees the error.
    const child = startProcess('sh', ['-c', `trap '' XFSZ; ulimit -f 2000; exec "${process.execPath}" --import tsx "${SQLITE_CHILD}" mint-fill "${dir}" 10000 3000 ${toHex(KEY)}`]);
    const r = await child.exited;
    const lines = r.stdout.trim().split('\n');
    expect(r.code, r.stderr).toBe(1);
    const failed = lines.findIndex((l) => l.startsWith('failed '));
    expect(lines[failed], r.stderr).toMatch(/^failed (E_STATE_WRITE|E_STORE_FULL)$/);
    expect(lines[failed + 1]).toBe('after E_STATE_WRITE');
    const committed = lines.filter((l) => l.startsWith('committed '));
    expect(committed.length).toBeGreaterThan(5);
    const [, last, pubnonce] = committed.at(-1)!.split(' ');
    const store = new SqliteMintStore<{ contract_id: string; n: number }>(open(dir), { sealer: Sealer.fromSecret(KEY) });
    // The last batch said committed is there; the failed one (which took that batch's nonce) is not.
    expect(Math.max(...(await store.list()).map((x) => x.n))).toBe(Number(last));
    expect(await store.status(Buffer.from(pubnonce!, 'hex'))).toBe('unused');
    expect(await store.status(churnNonce(Number(last) + 1).pubnonce)).toBe('unknown');
    store.abandon();
    store.db.close();
  });
});

describe('a process killed (kill -9)', () => {
  it.skipIf(MUTATION_RUN)('in the middle of its transaction: the last committed state, and the write lock free for the next', async () => {
    const dir = fresh();
    const db = open(dir);
    await db.step(() => docs(db).put('a', { v: 1 }));
    const before = rows(db);
    db.close();
    const child = startSqliteChild(['hold', dir]);
    await child.waitFor('held\n');
    await killNow(child);
    const after = open(dir);
    expect(rows(after)).toEqual(before);
    await after.step(() => docs(after).put('b', { v: 2 }));
    expect(docs(after).get('b')).toEqual({ v: 2 });
    after.close();
  });

  it.skipIf(MUTATION_RUN)('holding the write lock: a step of another process waiting for it gets it once the holder is killed, and builds on the last commit, never on the dead holder\'s writes', async () => {
    const dir = fresh();
    const db = open(dir);
    await db.step(() => docs(db).put('a', { v: 1 }));
    db.close();
    const holder = startSqliteChild(['hold', dir]);
    await holder.waitFor('held\n');
    const waiter = startSqliteChild(['wait-and-see', dir]);
    await waiter.waitFor('waiting\n');
    await new Promise((r) => setTimeout(r, 300));
    expect(waiter.stdout()).not.toContain('held');
    await killNow(holder);
    const r = await waiter.exited;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('{"held":null}\n');
    const after = open(dir);
    expect(docs(after).list().map((x) => x.id)).toEqual(['a', 'after']);
    after.close();
  });

  it('a WAL torn at any byte of its last commit (a crash mid-write, then a reboot: no -shm) gives exactly the commits before it, and the next commit lands', async () => {
    const dir = fresh();
    const db = open(dir);
    const book = docs(db);
    const wal = join(dir, `${STATE_DB_FILE}-wal`);
    await db.step(() => book.put('c1', { v: 1 }));
    const walAfterFirst = statSync(wal).size;
    await db.step(() => {
      book.put('c1', { v: 2 });
      book.put('c2', { v: 2, pad: 'y'.repeat(5000) });
    });
    const main = readFileSync(join(dir, STATE_DB_FILE));
    const walBytes = readFileSync(wal);
    db.closeNow();
    expect(walBytes.length).toBeGreaterThan(walAfterFirst);
    // Every length near each frame's start and end (headers, checksums, the commit frame's last bytes), and every 37th byte between.
    const frame = 24 + 4096;
    const lengths = new Set<number>();
    for (let l = walAfterFirst; l <= walBytes.length; l++) {
      const inFrame = (l - 32) % frame;
      if (inFrame < 48 || inFrame > frame - 48 || l % 37 === 0) lengths.add(l);
    }
    expect(lengths.size).toBeGreaterThan(300);
    for (const l of lengths) {
      const crash = fresh();
      mkdirSync(crash, { recursive: true });
      writeFileSync(join(crash, STATE_DB_FILE), main);
      writeFileSync(join(crash, `${STATE_DB_FILE}-wal`), walBytes.subarray(0, l));
      const t = open(crash);
      const complete = l === walBytes.length;
      expect(docs(t).list().map((x) => [x.id, x.record.v]), `torn at ${l} of ${walBytes.length}`).toEqual(complete ? [['c1', 2], ['c2', 2]] : [['c1', 1]]);
      await t.step(() => docs(t).put('c3', { v: 3 }));
      t.close();
      const u = open(crash);
      expect(docs(u).get('c3'), `a commit after a tear at ${l}`).toEqual({ v: 3 });
      u.close();
    }
  });
});

describe("an open that fails beside another process's database", () => {
  // A failed open (a full disk) takes back the -wal and -shm it added only while no process holds
  // the database: another that opened it meanwhile made them its own, and removing them would
  // lose its commits (e2e/full-disk.test.ts covers the taking back itself, on a real full tmpfs).
  it.skipIf(MUTATION_RUN || !existsSync('/proc/locks'))('sees a process that merely has the database open (its lock on the -shm), and none once it is gone', async () => {
    const dir = fresh();
    const db = open(dir);
    await db.step(() => docs(db).put('a', { v: 1 }));
    db.close();
    const path = join(dir, STATE_DB_FILE);
    expect(heldElsewhere(path)).toBe(false);
    const child = startSqliteChild(['idle', dir]);
    await child.waitFor('open\n');
    expect(existsSync(`${path}-shm`)).toBe(true);
    expect(heldElsewhere(path)).toBe(true);
    await killNow(child);
    expect(heldElsewhere(path)).toBe(false);
  });
});

describe('two processes on one database', () => {
  const PROCS = 6;
  const TIMES = 30;

  it.skipIf(MUTATION_RUN)('without a step, read-wait-write in autocommit loses updates (so the next test can fail)', async () => {
    const dir = fresh();
    open(dir).close();
    const results = await raceSqliteChildren(() => ['increment', dir, String(TIMES), 'raw'], PROCS);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const db = open(dir);
    expect(new Records<{ n: number }>(db, 'statechain').get('count')!.n).toBeLessThan(PROCS * TIMES);
    db.close();
  });

  it.skipIf(MUTATION_RUN)(`${PROCS} processes' steps serialise (BEGIN IMMEDIATE): every increment counted`, async () => {
    const dir = fresh();
    open(dir).close();
    const results = await raceSqliteChildren(() => ['increment', dir, String(TIMES), 'step'], PROCS);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const db = open(dir);
    expect(new Records<{ n: number }>(db, 'statechain').get('count')).toEqual({ n: PROCS * TIMES });
    db.close();
  });

  it.skipIf(MUTATION_RUN)('a step waiting on another process\'s write transaction past the busy timeout (10 s): E_LOCK_HELD (exit 5), nothing written', async () => {
    const dir = fresh();
    const db = open(dir);
    await db.step(() => docs(db).put('a', { v: 1 }));
    const child = startSqliteChild(['hold', dir]);
    await child.waitFor('held\n');
    try {
      const started = Date.now();
      const e = await refusalAsync(db.step(() => docs(db).put('a', { v: 2 })), 'E_LOCK_HELD', 5);
      expect(Date.now() - started).toBeGreaterThanOrEqual(9_000);
      expect(e.message).toContain(`the state in ${dir} is being written by another offchain process`);
    } finally {
      await killNow(child);
    }
    expect(docs(db).list()).toEqual([{ id: 'a', record: { v: 1 } }]);
    // The lock free again, the same connection writes.
    await db.step(() => docs(db).put('a', { v: 3 }));
    expect(docs(db).get('a')).toEqual({ v: 3 });
    db.close();
  });
});

/**
 * database.ts's invariant against a model, on random trees of steps: a step writes, runs its
 * children (a child that throws is caught by its parent), and may throw itself. What the
 * database holds after each top-level step is what the model says: the writes of every step
 * that returned, inside parents that returned; nothing of a step that threw, nor of its
 * children.
 */
describe('property: nested steps against their model', () => {
  type Step = { writes: [string, number][]; children: Step[]; throws: boolean };
  const key = fc.constantFrom('a', 'b', 'c', 'd');
  /** A step and its children, three levels deep at most (a savepoint in a savepoint in a savepoint in a step). */
  const stepAt = (depth: number): fc.Arbitrary<Step> =>
    fc.record({
      writes: fc.array(fc.tuple(key, fc.integer({ min: -1, max: 50 })), { maxLength: 3 }),
      children: depth === 0 ? fc.constant([]) : fc.array(stepAt(depth - 1), { maxLength: 2 }),
      throws: fc.boolean(),
    });
  const step = stepAt(3);

  /** The model: `state` after the step, or unchanged if it threw. */
  function model(s: Step, state: Map<string, number>): Map<string, number> {
    const next = new Map(state);
    for (const [k, v] of s.writes) if (v < 0) next.delete(k); else next.set(k, v);
    let cur = next;
    for (const c of s.children) cur = model(c, cur);
    return s.throws ? state : cur;
  }

  async function run(db: StateDb, book: Records<Doc>, s: Step): Promise<void> {
    await db.step(async () => {
      for (const [k, v] of s.writes) if (v < 0) book.remove(k); else book.put(k, { v });
      for (const c of s.children) await run(db, book, c).catch((e: unknown) => expect(e).toBe(refused));
      if (s.throws) throw refused;
    });
  }

  it('the database holds what the model says after every top-level step', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 6 }), async (steps) => {
        const dir = fresh();
        const db = open(dir);
        const book = docs(db);
        let expected = new Map<string, number>();
        try {
          for (const s of steps) {
            await run(db, book, s).catch((e: unknown) => expect(e).toBe(refused));
            expected = model(s, expected);
            expect(new Map(book.list().map((r) => [r.id, r.record.v]))).toEqual(expected);
            expect(db.sql.inTransaction).toBe(false);
          }
        } finally {
          db.close();
        }
        // Durable as the model says, read by a connection opened afterwards.
        const again = open(dir);
        expect(new Map(docs(again).list().map((r) => [r.id, r.record.v]))).toEqual(expected);
        again.close();
      }),
      { numRuns: 200 },
    );
  });
});
