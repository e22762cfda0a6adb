/**
 * The mint's store (SQLite, WAL, synchronous=FULL): a batch's writes become durable
 * together at commit; a crash before commit loses them all; a torn WAL tail (a crash
 * mid-write, at any byte) leaves exactly the batches committed before it; a failed
 * commit (full disk) releases nothing and poisons the store; a nonce is single-use
 * across batches and restarts; a step that fails is undone; after close no consumed
 * secret nonce remains on disk; a pre-SQLite directory is imported once.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MintStore } from '../../../src/lib/store/mint-store.ts';
import { toHex } from '../../../src/lib/bytes.ts';
import { TEST_DIR, tempDir } from '../../helpers.ts';

type Rec = { contract_id: string; n: number };
const CHILD = join(TEST_DIR, 'lib/store/mint-store-child.ts');
let dirs: { cleanup: () => void }[] = [];
afterEach(() => {
  dirs.forEach((d) => d.cleanup());
  dirs = [];
});

function fresh() {
  const d = tempDir('offchain-mintstore-');
  dirs.push(d);
  return d.path;
}

const gen = (tag: number) => () => ({ secnonce: new Uint8Array(97).fill(tag), pubnonce: new Uint8Array(66).fill(tag) });
/** Every file under `dir` (the nonce ledger's directory too), as hex. */
const allFiles = (dir: string): string =>
  readdirSync(dir, { withFileTypes: true }).map((f) => (f.isDirectory() ? allFiles(join(dir, f.name)) : readFileSync(join(dir, f.name)).toString('hex'))).join('\n');

describe('MintStore', () => {
  it('makes a batch durable at commit and loses an uncommitted one', async () => {
    const dir = fresh();
    const a = await MintStore.open<Rec>(dir);
    await a.put({ contract_id: 'c1', n: 1 });
    const { pubnonce } = await a.issue('ctx/1', gen(7));
    await a.commit();
    await a.put({ contract_id: 'c1', n: 2 });
    await a.take(pubnonce, 'ctx/1'); // written, never committed: a "crash" now
    a.abandon();
    const b = await MintStore.open<Rec>(dir);
    expect(await b.get('c1')).toEqual({ contract_id: 'c1', n: 1 });
    expect(await b.status(pubnonce)).toBe('unused');
  });

  it('uses a nonce once: within a batch, across commits, across reopen and close', async () => {
    const dir = fresh();
    const s = await MintStore.open<Rec>(dir);
    const { pubnonce } = await s.issue('ctx/1', gen(1));
    const secnonce = await s.take(pubnonce, 'ctx/1');
    expect(toHex(secnonce)).toBe('01'.repeat(97));
    await expect(s.take(pubnonce, 'ctx/1')).rejects.toMatchObject({ code: 'E_NONCE_USED', exitCode: 5 });
    await s.commit();
    await expect((await MintStore.open<Rec>(dir)).take(pubnonce, 'ctx/1')).rejects.toMatchObject({ code: 'E_NONCE_USED' });
    await s.close();
    const after = await MintStore.open<Rec>(dir);
    await expect(after.take(pubnonce, 'ctx/1')).rejects.toMatchObject({ code: 'E_NONCE_USED' });
    expect(await after.status(pubnonce)).toBe('consumed');
  });

  it('refuses unknown and mis-bound nonces; a mis-bound attempt does not burn the nonce', async () => {
    const s = await MintStore.open<Rec>(fresh());
    await expect(s.take(new Uint8Array(66).fill(9), 'x')).rejects.toMatchObject({ code: 'E_NONCE_UNKNOWN', exitCode: 5 });
    const { pubnonce } = await s.issue('contract/A/state/1', gen(2));
    await expect(s.take(pubnonce, 'contract/B/state/1')).rejects.toMatchObject({ code: 'E_NONCE_MISBOUND', exitCode: 4 });
    expect(await s.status(pubnonce)).toBe('unused');
    await expect(s.take(pubnonce, 'contract/A/state/1')).resolves.toHaveLength(97);
  });

  it('undoes a failed step and keeps the batch\'s earlier steps', async () => {
    const dir = fresh();
    const s = await MintStore.open<Rec>(dir);
    const { pubnonce } = await s.issue('ctx/1', gen(1));
    await s.step(async () => s.put({ contract_id: 'c1', n: 1 }));
    await expect(
      s.step(async () => {
        await s.take(pubnonce, 'ctx/1');
        await s.put({ contract_id: 'c2', n: 2 });
        throw new Error('refused after writing');
      }),
    ).rejects.toThrow('refused after writing');
    expect(await s.status(pubnonce)).toBe('unused');
    await s.commit();
    s.abandon();
    const t = await MintStore.open<Rec>(dir);
    expect(await t.list()).toEqual([{ contract_id: 'c1', n: 1 }]);
    expect(await t.status(pubnonce)).toBe('unused');
  });

  it('a torn WAL tail (a crash at any byte of the last commit) leaves exactly the earlier commits, and the next commit lands', async () => {
    // Two commits in the WAL, files copied as a crash would leave them (no -shm: a reboot).
    const dir = fresh();
    const s = await MintStore.open<Rec>(dir);
    const first = await s.issue('ctx/1', gen(1));
    await s.put({ contract_id: 'c1', n: 1 });
    await s.commit();
    const walAfterFirst = statSync(join(dir, 'mint.sqlite-wal')).size;
    await s.take(first.pubnonce, 'ctx/1');
    await s.issue('ctx/2', gen(2));
    await s.put({ contract_id: 'c1', n: 2 });
    await s.put({ contract_id: 'c2', n: 2 });
    await s.commit();
    const db = readFileSync(join(dir, 'mint.sqlite'));
    const wal = readFileSync(join(dir, 'mint.sqlite-wal'));
    s.abandon();
    expect(wal.length).toBeGreaterThan(walAfterFirst);
    // Every length near each frame's start and end (headers, checksums, the commit
    // frame's last bytes), and every 37th byte in between: ~700 crash points.
    const frame = 24 + 4096;
    const lengths = new Set<number>();
    for (let l = walAfterFirst; l <= wal.length; l++) {
      const inFrame = (l - 32) % frame;
      if (inFrame < 48 || inFrame > frame - 48 || l % 37 === 0) lengths.add(l);
    }
    for (const l of lengths) {
      const crash = fresh();
      writeFileSync(join(crash, 'mint.sqlite'), db);
      writeFileSync(join(crash, 'mint.sqlite-wal'), wal.subarray(0, l));
      const t = await MintStore.open<Rec>(crash);
      const complete = l === wal.length;
      expect(await t.list(), `torn at ${l} of ${wal.length}`).toEqual(complete ? [{ contract_id: 'c1', n: 2 }, { contract_id: 'c2', n: 2 }] : [{ contract_id: 'c1', n: 1 }]);
      expect(await t.status(first.pubnonce)).toBe(complete ? 'consumed' : 'unused');
      await t.put({ contract_id: 'c3', n: 3 });
      await t.commit();
      t.abandon();
      const u = await MintStore.open<Rec>(crash);
      expect((await u.get('c3'))?.n, `a commit after a tear at ${l}`).toBe(3);
      u.abandon();
      rmSync(crash, { recursive: true, force: true });
    }
    expect(lengths.size).toBeGreaterThan(300);
  });

  it('a full disk: the failing commit reports E_STATE_WRITE, releases nothing, and the store keeps every earlier commit', async () => {
    const dir = fresh();
    // RLIMIT_FSIZE makes write() fail with EFBIG past the limit, as a full disk fails
    // with ENOSPC; SIGXFSZ is ignored so the process sees the error.
    const child = spawnSync('sh', ['-c', `trap '' XFSZ; ulimit -f 2000; exec "${process.execPath}" --import tsx "${CHILD}" "${dir}" 10000 3000`], { encoding: 'utf8', timeout: 60_000 });
    const lines = child.stdout.trim().split('\n');
    const last = lines.at(-1)!;
    expect(last, child.stderr).toMatch(/^failed E_STATE_WRITE$/);
    expect(child.status).toBe(1);
    const committed = lines.filter((l) => l.startsWith('committed '));
    expect(committed.length).toBeGreaterThan(5);
    const [, n, pubnonce] = committed.at(-1)!.split(' ');
    const s = await MintStore.open<{ contract_id: string; n: number }>(dir);
    // The last batch printed is there; the failed one (which took that nonce) is not.
    expect(Math.max(...(await s.list()).map((r) => r.n))).toBe(Number(n));
    expect(await s.status(Buffer.from(pubnonce!, 'hex'))).toBe('unused');
    s.abandon();
  });

  it('imports a pre-SQLite directory once (a torn last journal line never committed), builds the funding index, shreds the old files', async () => {
    const dir = fresh();
    const rec = (id: string, txid: string) => ({ contract_id: id, contract: { funding: { txid, vout: 0 } } });
    // The old store's nonce id: the first 16 bytes of SHA-256 of the public nonce's hex.
    const pubnonce = '02' + '11'.repeat(65);
    const id = createHash('sha256').update(pubnonce).digest('hex').slice(0, 32);
    writeFileSync(join(dir, 'snapshot.json'), JSON.stringify({
      generation: 3, counter: 7, records: { a: rec('a', 'aa'.repeat(32)) }, docs: { offer: { min_fee_rate: 1 } },
      nonces: { [id]: { context: 'ctx/1', pubnonce, secnonce: '22'.repeat(97) } }, consumed: ['00'.repeat(16)],
    }));
    writeFileSync(join(dir, 'journal-3.jsonl'), `${JSON.stringify([{ op: 'put', record: rec('b', 'bb'.repeat(32)) }])}\n[{"op":"put","record":{"contract_id":"c"`);
    const s = await MintStore.open<Rec>(dir);
    expect((await s.list()).map((r) => r.contract_id)).toEqual(['a', 'b']);
    expect(await s.readDoc('offer')).toEqual({ min_fee_rate: 1 });
    expect(await s.fundingOwner(`${'bb'.repeat(32)}:0`)).toEqual({ contract_id: 'b', kind: 'open' });
    expect(await s.status(Buffer.from(pubnonce, 'hex'))).toBe('unused');
    expect(toHex(await s.take(Buffer.from(pubnonce, 'hex'), 'ctx/1'))).toBe('22'.repeat(97));
    expect(readdirSync(dir).filter((f) => !f.startsWith('mint.sqlite'))).toEqual([]);
    s.abandon();
  });

  it('leaves no consumed secret nonce on disk after close, and its files are 0600', async () => {
    const dir = fresh();
    const s = await MintStore.open<Rec>(dir);
    const used = await s.issue('ctx/used', gen(0xab));
    await s.issue('ctx/unused', gen(0xcd));
    await s.commit();
    await s.take(used.pubnonce, 'ctx/used');
    await s.close();
    // Secrets are stored as hex text: look for the hex of that text in every file's bytes.
    const disk = allFiles(dir);
    const asStored = (hex: string) => Buffer.from(hex, 'utf8').toString('hex');
    expect(disk).not.toContain(asStored('ab'.repeat(97)));
    expect(disk).toContain(asStored('cd'.repeat(97))); // the unused one must survive
    for (const f of readdirSync(dir, { withFileTypes: true })) {
      expect(statSync(join(dir, f.name)).mode & 0o777).toBe(f.isDirectory() ? 0o700 : 0o600);
      if (f.isDirectory()) for (const g of readdirSync(join(dir, f.name))) expect(statSync(join(dir, f.name, g)).mode & 0o777, g).toBe(0o600);
    }
  });

  it('never hands out the same nonce twice, even when the generator repeats itself', async () => {
    const s = await MintStore.open<Rec>(fresh());
    await s.issue('a', gen(5));
    await expect(s.issue('b', gen(5))).rejects.toMatchObject({ code: 'E_NONCE_REPEATED' });
  });

  it('passes the generator a counter that only grows, across reopen', async () => {
    const dir = fresh();
    const counters: number[] = [];
    const s = await MintStore.open<Rec>(dir);
    for (const tag of [1, 2]) await s.issue(`c${tag}`, (c) => (counters.push(c), gen(tag)()));
    await s.close();
    const t = await MintStore.open<Rec>(dir);
    await t.issue('c3', (c) => (counters.push(c), gen(3)()));
    expect(counters).toEqual([1, 2, 3]);
  });

  it('keeps the counter with the batch: a step rolled back, a repeated nonce and an uncommitted batch take their ticks back; a commit keeps them', async () => {
    const dir = fresh();
    const counters: number[] = [];
    const tick = (tag: number) => (c: number) => (counters.push(c), gen(tag)());
    const s = await MintStore.open<Rec>(dir);
    await s.issue('a', tick(1)); // 1
    await expect(s.step(async () => {
      await s.issue('b', tick(2)); // 2, rolled back
      throw new Error('refused');
    })).rejects.toThrow('refused');
    await expect(s.issue('c', tick(1))).rejects.toMatchObject({ code: 'E_NONCE_REPEATED' }); // 2, not kept
    await s.step(() => s.issue('d', tick(3))); // 2
    await s.commit();
    await s.issue('e', tick(4)); // 3, never committed
    s.abandon();
    const t = await MintStore.open<Rec>(dir);
    await t.issue('f', tick(5)); // 3 again: the batch that drew it never committed
    await t.close();
    expect(counters).toEqual([1, 2, 2, 2, 3, 3]);
    const db = new Database(join(dir, 'mint.sqlite'), { readonly: true });
    expect(db.prepare("SELECT value FROM meta WHERE key = 'counter'").get()).toEqual({ value: '3' });
    db.close();
  });
  describe('unfunded opens: found by a column written with the record, not by json_extract over every record', () => {
    type Open = { contract_id: string; status: string; opened_at_height?: number; latest?: unknown; funding_seen?: boolean };
    const open = (id: string, height: number, more: Partial<Open> = {}): Open => ({ contract_id: id, status: 'open', opened_at_height: height, ...more });

    it('lists the opens never paid nor seen funded, oldest first, up to the limit; a payment, a sighting or a close takes one off', async () => {
      const s = await MintStore.open<Open>(fresh());
      for (const [id, h] of [['a', 30], ['b', 10], ['c', 20], ['d', 40]] as const) await s.put(open(id, h));
      await s.put(open('paid', 5, { latest: { state: 1 } }));
      await s.put(open('seen', 6, { funding_seen: true }));
      await s.put(open('closing', 7, { status: 'closing' }));
      await s.put({ contract_id: 'old', status: 'open' }); // from before opened_at_height
      await s.commit();
      expect((await s.unfundedOpens(35, 10)).map((r) => r.contract_id)).toEqual(['b', 'c', 'a']);
      expect((await s.unfundedOpens(35, 2)).map((r) => r.contract_id)).toEqual(['b', 'c']);
      await s.put(open('b', 10, { latest: { state: 1 } }));
      await s.put(open('c', 20, { funding_seen: true }));
      expect((await s.unfundedOpens(35, 10)).map((r) => r.contract_id)).toEqual(['a']);
      await s.close();
    });

    it('a store from before the column gets it filled from its records at its first open, and its json_extract index goes', async () => {
      const dir = fresh();
      const s = await MintStore.open<Open>(dir);
      await s.close();
      // As such a store was: no column, the old index, records written by an older toolkit.
      const db = new Database(join(dir, 'mint.sqlite'));
      db.exec('DROP INDEX unfunded_since; ALTER TABLE contracts DROP COLUMN unfunded_since');
      db.exec(`CREATE INDEX unfunded_opens ON contracts (json_extract(record, '$.opened_at_height'))
        WHERE json_extract(record, '$.status') = 'open' AND json_extract(record, '$.latest') IS NULL AND json_extract(record, '$.funding_seen') IS NULL`);
      const put = db.prepare('INSERT INTO contracts (contract_id, record) VALUES (?, ?)');
      for (const r of [open('x', 12), open('y', 11), open('z', 3, { latest: { state: 2 } }), open('w', 4, { funding_seen: true })]) put.run(r.contract_id, JSON.stringify(r));
      db.close();
      const t = await MintStore.open<Open>(dir);
      expect((await t.unfundedOpens(100, 10)).map((r) => r.contract_id)).toEqual(['y', 'x']);
      await t.close();
      const after = new Database(join(dir, 'mint.sqlite'), { readonly: true });
      expect(after.prepare('SELECT contract_id, unfunded_since FROM contracts ORDER BY contract_id').all()).toEqual([
        { contract_id: 'w', unfunded_since: null }, { contract_id: 'x', unfunded_since: 12 }, { contract_id: 'y', unfunded_since: 11 }, { contract_id: 'z', unfunded_since: null },
      ]);
      expect(after.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contracts' AND sql IS NOT NULL").all()).toEqual([{ name: 'unfunded_since' }]);
      after.close();
    });

    it('a row whose column an older toolkit left stale (it paid the open) is never listed: the record decides', async () => {
      const dir = fresh();
      const s = await MintStore.open<Open>(dir);
      await s.put(open('p', 8));
      await s.put(open('q', 9));
      await s.close();
      const db = new Database(join(dir, 'mint.sqlite'));
      db.prepare('UPDATE contracts SET record = ? WHERE contract_id = ?').run(JSON.stringify(open('p', 8, { latest: { state: 1 } })), 'p');
      db.close();
      const t = await MintStore.open<Open>(dir);
      expect((await t.unfundedOpens(100, 10)).map((r) => r.contract_id)).toEqual(['q']);
      await t.close();
    });
  });
});
