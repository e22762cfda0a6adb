/**
 * The mint's journaled store: effects staged in memory become durable together at
 * commit (one append + fsync); a crash before commit loses them all; a torn last line
 * is ignored; a nonce is single-use across batches, restarts and compactions; after
 * compaction no consumed secret nonce remains on disk.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { readdirSync, readFileSync, statSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { MintStore } from '../../../src/lib/store/mint-store.ts';
import { toHex } from '../../../src/lib/bytes.ts';
import { tempDir } from '../../helpers.ts';

type Rec = { contract_id: string; n: number };
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
const allFiles = (dir: string) => readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');

describe('MintStore', () => {
  it('makes a batch durable at commit and loses an uncommitted one', async () => {
    const dir = fresh();
    const a = await MintStore.open<Rec>(dir);
    await a.put({ contract_id: 'c1', n: 1 });
    const { pubnonce } = await a.issue('ctx/1', gen(7));
    await a.commit();
    await a.put({ contract_id: 'c1', n: 2 });
    await a.take(pubnonce, 'ctx/1'); // staged, never committed: a "crash" now
    const b = await MintStore.open<Rec>(dir);
    expect(await b.get('c1')).toEqual({ contract_id: 'c1', n: 1 });
    expect(await b.status(pubnonce)).toBe('unused');
  });

  it('uses a nonce once: within a batch, across commits, across reopen and compaction', async () => {
    const dir = fresh();
    const s = await MintStore.open<Rec>(dir);
    const { pubnonce } = await s.issue('ctx/1', gen(1));
    const secnonce = await s.take(pubnonce, 'ctx/1');
    expect(toHex(secnonce)).toBe('01'.repeat(97));
    await expect(s.take(pubnonce, 'ctx/1')).rejects.toMatchObject({ code: 'E_NONCE_USED', exitCode: 5 });
    await s.commit();
    await expect((await MintStore.open<Rec>(dir)).take(pubnonce, 'ctx/1')).rejects.toMatchObject({ code: 'E_NONCE_USED' });
    await s.compact();
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

  it('ignores a torn last journal line (a crash mid-append) and keeps every committed batch', async () => {
    const dir = fresh();
    const s = await MintStore.open<Rec>(dir);
    await s.put({ contract_id: 'c1', n: 1 });
    await s.commit();
    await s.put({ contract_id: 'c2', n: 2 });
    await s.commit();
    const journal = readdirSync(dir).find((f) => f.startsWith('journal-'))!;
    appendFileSync(join(dir, journal), '[{"op":"put","record":{"contract_id":"c3"');
    const t = await MintStore.open<Rec>(dir);
    expect((await t.list()).map((r) => r.contract_id)).toEqual(['c1', 'c2']);
  });

  it('leaves no consumed secret nonce on disk after close, and its files are 0600', async () => {
    const dir = fresh();
    const s = await MintStore.open<Rec>(dir);
    const used = await s.issue('ctx/used', gen(0xab));
    await s.issue('ctx/unused', gen(0xcd));
    await s.commit();
    await s.take(used.pubnonce, 'ctx/used');
    await s.close();
    const disk = allFiles(dir);
    expect(disk).not.toContain('ab'.repeat(97));
    expect(disk).toContain('cd'.repeat(97)); // the unused one must survive
    for (const f of readdirSync(dir)) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
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
});
