/**
 * The nonce store's rules where `npm run mutate` found a planted change passing every test
 * (src/lib/store/nonce-store.ts): a broken generator is refused and nothing usable is
 * stored; refusals name the nonce; a tombstone or a taking/ copy wins over an unused copy
 * of the same nonce (a restored backup of unused/ must never sign again); a taking/ file
 * belongs to its own nonce only; recovery buries what a crashed take left, with the
 * record it had (or the id its name gives, when unreadable), marked recovered, and counts
 * it; a take whose file changed under it refuses and stays consumed; a lost counter
 * resumes above every counter stored, ignoring what is not a nonce file; a corrupt counter
 * is refused; stale temp files are scrubbed at issue. All in one process, milliseconds.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toHex } from '../../../src/lib/bytes.ts';
import { withLock } from '../../../src/lib/store/lock.ts';
import { takerTag } from '../../../src/lib/store/nonce-files.ts';
import { NonceStore, nonceId, type NonceStep } from '../../../src/lib/store/nonce-store.ts';
import { tempDir } from '../../helpers.ts';
import { refusalAsync } from '../../setup/refusal.ts';

const tmp = tempDir('offchain-nonce-mut-');
afterAll(() => tmp.cleanup());
const fresh = () => join(tmp.path, `store-${Math.random().toString(16).slice(2)}`);
const CTX = 'credit/contract=abcd/state=2';
const gen = () => {
  const secnonce = new Uint8Array(randomBytes(97));
  const pubnonce = new Uint8Array(randomBytes(66));
  return { secnonce, pubnonce, secHex: toHex(secnonce), generate: () => ({ secnonce, pubnonce }) };
};
const json = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
/** A taking/ file name of a taker on another host: never judged gone, never buried. */
const foreignTaker = (id: string) => `${id}.0badc0de.1.x.0.0.json`;

async function issued(dir: string, store = new NonceStore(dir)) {
  const g = gen();
  const n = await store.issue(CTX, g.generate);
  return { ...n, secHex: g.secHex, unused: join(dir, 'unused', `${n.id}.json`) };
}

describe('a broken generator is refused, and no nonce is stored', () => {
  it.each([
    ['a 65-byte pubnonce', () => ({ secnonce: new Uint8Array(97), pubnonce: new Uint8Array(65) }), 'nonce generator returned a 65-byte pubnonce, expected 66'],
    ['a pubnonce that is not bytes', () => ({ secnonce: new Uint8Array(97), pubnonce: Array.from(new Uint8Array(66)) }), 'nonce generator returned a 66-byte pubnonce, expected 66'],
    ['no pubnonce', () => ({ secnonce: new Uint8Array(97) }), 'nonce generator returned a undefined-byte pubnonce, expected 66'],
    ['an empty secnonce', () => ({ secnonce: new Uint8Array(0), pubnonce: new Uint8Array(randomBytes(66)) }), 'nonce generator returned no secnonce'],
    ['a secnonce that is not bytes', () => ({ secnonce: 'ab'.repeat(97), pubnonce: new Uint8Array(randomBytes(66)) }), 'nonce generator returned no secnonce'],
  ])('%s: E_NONCE_GENERATOR', async (_, generate, message) => {
    const dir = fresh();
    const e = await refusalAsync(new NonceStore(dir).issue(CTX, generate as never), 'E_NONCE_GENERATOR', 1);
    expect(e.message).toBe(message);
    expect(readdirSync(join(dir, 'unused'))).toEqual([]);
  });
});

describe('refusals name the nonce', () => {
  it('E_NONCE_UNKNOWN names the id (message and detail); E_NONCE_REPEATED names the id and the counter', async () => {
    const dir = fresh();
    const stranger = new Uint8Array(randomBytes(66));
    const e = await refusalAsync(new NonceStore(dir).take(stranger, CTX), 'E_NONCE_UNKNOWN', 5);
    expect(e.message).toContain(`nonce ${nonceId(stranger)} was never issued by this store`);
    expect(e.detail).toEqual({ id: nonceId(stranger) });
    const g = gen();
    const first = await new NonceStore(dir).issue(CTX, g.generate);
    const r = await refusalAsync(new NonceStore(dir).issue(CTX, () => ({ secnonce: new Uint8Array(97).fill(1), pubnonce: first.pubnonce })), 'E_NONCE_REPEATED', 5);
    expect(r.message).toContain(`already-issued nonce ${first.id} (counter 2)`);
  });
  it('the lock timeout is the store\'s: a held directory is E_LOCK_HELD after lockTimeoutMs', async () => {
    const dir = fresh();
    await new NonceStore(dir).status(new Uint8Array(66)); // the directories exist
    let release!: () => void;
    let acquired!: () => void;
    const holding = new Promise<void>((r) => (acquired = r));
    const held = withLock(dir, () => new Promise<void>((r) => {
      release = r;
      acquired();
    }));
    await holding;
    const started = Date.now();
    await refusalAsync(new NonceStore(dir, { lockTimeoutMs: 200 }).issue(CTX, gen().generate), 'E_LOCK_HELD', 5);
    expect(Date.now() - started).toBeLessThan(5_000);
    release();
    await held;
  });
});

describe('the copy that says consumed wins', () => {
  it('a tombstone beside a restored unused/ copy: consumed, E_NONCE_USED, the secret never handed out again', async () => {
    const dir = fresh();
    const n = await issued(dir);
    const copy = readFileSync(n.unused, 'utf8');
    await new NonceStore(dir).take(n.pubnonce, CTX);
    writeFileSync(n.unused, copy); // unused/ restored from a backup
    expect(await new NonceStore(dir).status(n.pubnonce)).toBe('consumed');
    await refusalAsync(new NonceStore(dir).take(n.pubnonce, CTX), 'E_NONCE_USED', 5);
  });
  it('a taking/ file of a take still running elsewhere beside the unused copy: consumed', async () => {
    const dir = fresh();
    const n = await issued(dir);
    writeFileSync(join(dir, 'taking', foreignTaker(n.id)), readFileSync(n.unused));
    expect(await new NonceStore(dir).status(n.pubnonce)).toBe('consumed');
    await refusalAsync(new NonceStore(dir).take(n.pubnonce, CTX), 'E_NONCE_USED', 5);
  });
  it('a taking/ file is its own nonce\'s only: another nonce, and a non-JSON file, change nothing', async () => {
    const dir = fresh();
    const a = await issued(dir);
    const b = await issued(dir);
    writeFileSync(join(dir, 'taking', foreignTaker(a.id)), readFileSync(a.unused));
    writeFileSync(join(dir, 'taking', `${b.id}.0badc0de.1.x.0.0.tmp`), 'x');
    expect(await new NonceStore(dir).status(b.pubnonce)).toBe('unused');
    expect(toHex(await new NonceStore(dir).take(b.pubnonce, CTX))).toBe(b.secHex);
  });
  it('a taking/ file naming its context: a take for another context is told it is mis-bound; with none readable, used', async () => {
    const dir = fresh();
    const a = await issued(dir);
    writeFileSync(join(dir, 'taking', foreignTaker(a.id)), readFileSync(a.unused));
    await refusalAsync(new NonceStore(dir).take(a.pubnonce, 'another/context'), 'E_NONCE_MISBOUND', 4);
    const b = await issued(dir);
    writeFileSync(join(dir, 'taking', foreignTaker(b.id)), JSON.stringify({ id: b.id, context: 7 }));
    await refusalAsync(new NonceStore(dir).take(b.pubnonce, 'another/context'), 'E_NONCE_USED', 5);
  });
  it('a tombstone without a context (an old or recovered one): any take is E_NONCE_USED, not mis-bound', async () => {
    const dir = fresh();
    const n = await issued(dir);
    await new NonceStore(dir).take(n.pubnonce, CTX);
    writeFileSync(join(dir, 'consumed', `${n.id}.json`), JSON.stringify({ id: n.id }));
    await refusalAsync(new NonceStore(dir).take(n.pubnonce, 'another/context'), 'E_NONCE_USED', 5);
  });
  it('a used nonce is refused before any step of a take', async () => {
    const dir = fresh();
    const n = await issued(dir);
    await new NonceStore(dir).take(n.pubnonce, CTX);
    const steps: NonceStep[] = [];
    await refusalAsync(new NonceStore(dir, { onStep: (s) => steps.push(s) }).take(n.pubnonce, CTX), 'E_NONCE_USED', 5);
    expect(steps).toEqual([]);
  });
  it('an unused/ path that cannot be read is an error, not "never issued"', async () => {
    const dir = fresh();
    const n = await issued(dir);
    const other = new Uint8Array(randomBytes(66));
    mkdirSync(join(dir, 'unused', `${nonceId(other)}.json`));
    await expect(new NonceStore(dir).status(other)).rejects.toMatchObject({ code: 'EISDIR' });
    expect(await new NonceStore(dir).status(n.pubnonce)).toBe('unused');
  });
});

describe('a take whose file changed under it refuses, and the nonce stays consumed', () => {
  it.each([
    ['the record names another id', (r: Record<string, unknown>) => ({ ...r, id: 'ff'.repeat(16) }), 'E_STATE_CORRUPT', 3],
    ['the record holds another pubnonce', (r: Record<string, unknown>) => ({ ...r, pubnonce: 'ee'.repeat(66) }), 'E_STATE_CORRUPT', 3],
    ['the record was issued for another context', (r: Record<string, unknown>) => ({ ...r, context: 'another/context' }), 'E_NONCE_MISBOUND', 4],
  ])('%s', async (_, change, code, exit) => {
    const dir = fresh();
    const n = await issued(dir);
    const store = new NonceStore(dir, {
      onStep: (s) => {
        if (s === 'take:checked') writeFileSync(n.unused, JSON.stringify(change(json(n.unused))));
      },
    });
    const e = await refusalAsync(store.take(n.pubnonce, CTX), code, exit);
    if (code === 'E_STATE_CORRUPT') expect(e.message).toMatch(/^nonce file .*taking\/.* does not match its name; the nonce stays consumed$/);
    // Never usable again, and the secret is nowhere on disk. (With another id in the record,
    // recovery buries it under that id: the nonce then reads 'unknown', not 'consumed'.)
    expect(await new NonceStore(dir).status(n.pubnonce)).toBe(code === 'E_STATE_CORRUPT' && _.includes('id') ? 'unknown' : 'consumed');
    const everything = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((f) => f.isFile()).map((f) => readFileSync(join(f.parentPath, f.name), 'utf8'));
    expect(everything.filter((t) => t.includes(n.secHex))).toEqual([]);
  });
  it('a rename that fails for another reason than a lost race is that error, not E_NONCE_USED, and the nonce stays unused', async () => {
    const dir = fresh();
    const n = await issued(dir);
    const taking = join(dir, 'taking');
    const store = new NonceStore(dir, {
      onStep: (s) => {
        if (s === 'take:checked') {
          rmSync(taking, { recursive: true });
          writeFileSync(taking, ''); // taking/ is a file now: the rename into it fails with ENOTDIR
        }
      },
    });
    await expect(store.take(n.pubnonce, CTX)).rejects.toMatchObject({ code: 'ENOTDIR' });
    rmSync(taking);
    mkdirSync(taking, { mode: 0o700 });
    expect(await new NonceStore(dir).status(n.pubnonce)).toBe('unused');
  });
});

describe('recovery buries what a crashed take left in taking/', () => {
  /** A take that crashed after its commit rename, in this module instance (so its taker is gone). */
  const crashAfterRename = (dir: string, id: string, body?: string) => {
    const name = `${id}.${takerTag()}.json`;
    const unused = join(dir, 'unused', `${id}.json`);
    writeFileSync(join(dir, 'taking', name), body ?? readFileSync(unused));
    rmSync(unused);
    return name;
  };
  it('a readable file: its record in the tombstone, marked recovered, counted; no step of a take runs; the secret is gone', async () => {
    const dir = fresh();
    const n = await issued(dir);
    crashAfterRename(dir, n.id);
    const steps: NonceStep[] = [];
    expect(await new NonceStore(dir, { onStep: (s) => steps.push(s) }).recover()).toBe(1);
    expect(steps).toEqual([]);
    const tomb = json(join(dir, 'consumed', `${n.id}.json`));
    expect(tomb).toMatchObject({ id: n.id, context: CTX, pubnonce: toHex(n.pubnonce), counter: n.counter, recovered: true });
    expect(typeof tomb.created).toBe('string');
    expect(readdirSync(join(dir, 'taking'))).toEqual([]);
    expect(await new NonceStore(dir).recover()).toBe(0);
    await refusalAsync(new NonceStore(dir).take(n.pubnonce, CTX), 'E_NONCE_USED', 5);
  });
  it('an unreadable file: buried under the id its name gives, with nothing else known; a take of it is E_NONCE_USED for any context', async () => {
    const dir = fresh();
    const n = await issued(dir);
    crashAfterRename(dir, n.id, '\0'.repeat(40));
    expect(await new NonceStore(dir).recover()).toBe(1);
    const tomb = json(join(dir, 'consumed', `${n.id}.json`));
    expect(tomb).toMatchObject({ id: n.id, context: null, pubnonce: null, counter: null, created: null, recovered: true });
    expect(readdirSync(join(dir, 'consumed'))).toEqual([`${n.id}.json`]);
    await refusalAsync(new NonceStore(dir).take(n.pubnonce, 'another/context'), 'E_NONCE_USED', 5);
  });
  it('an unreadable file beside a tombstone: scrubbed, the better tombstone kept, nothing counted', async () => {
    const dir = fresh();
    const n = await issued(dir);
    const keep = readFileSync(n.unused);
    await new NonceStore(dir).take(n.pubnonce, CTX);
    const before = readFileSync(join(dir, 'consumed', `${n.id}.json`), 'utf8');
    writeFileSync(n.unused, keep);
    crashAfterRename(dir, n.id, 'not json');
    expect(await new NonceStore(dir).recover()).toBe(0);
    expect(readdirSync(join(dir, 'taking'))).toEqual([]);
    expect(readFileSync(join(dir, 'consumed', `${n.id}.json`), 'utf8')).toBe(before);
  });
  it('a file that is not a .json one is left alone', async () => {
    const dir = fresh();
    const n = await issued(dir);
    const name = `${n.id}.${takerTag()}.part`; // without its last five characters, a gone taker's name
    writeFileSync(join(dir, 'taking', name), 'x');
    expect(await new NonceStore(dir).recover()).toBe(0);
    expect(readdirSync(join(dir, 'taking'))).toEqual([name]);
    expect(existsSync(join(dir, 'consumed', `${n.id}.json`))).toBe(false);
  });
  it('a take\'s own tombstone is not marked recovered', async () => {
    const dir = fresh();
    const n = await issued(dir);
    await new NonceStore(dir).take(n.pubnonce, CTX);
    expect(json(join(dir, 'consumed', `${n.id}.json`))).not.toHaveProperty('recovered');
  });
});

describe('the counter', () => {
  it('a counter file holding no whole number ≥ 0 is E_STATE_CORRUPT naming it; 0 is a counter', async () => {
    for (const bad of [{ counter: -1 }, { counter: 'x' }, { counter: 1.5 }, {}]) {
      const dir = fresh();
      await new NonceStore(dir).recover();
      writeFileSync(join(dir, 'counter.json'), JSON.stringify(bad));
      const e = await refusalAsync(new NonceStore(dir).issue(CTX, gen().generate), 'E_STATE_CORRUPT', 3);
      expect(e.message, JSON.stringify(bad)).toBe(`${join(dir, 'counter.json')} does not hold a counter`);
    }
    const dir = fresh();
    await new NonceStore(dir).recover();
    writeFileSync(join(dir, 'counter.json'), JSON.stringify({ counter: 0 }));
    expect((await new NonceStore(dir).issue(CTX, gen().generate)).counter).toBe(1);
  });
  it('lost: resumes above every counter of unused/ and consumed/, ignoring temp files, other files, and what does not parse', async () => {
    const dir = fresh();
    const a = await issued(dir);
    await issued(dir);
    await new NonceStore(dir).take(a.pubnonce, CTX); // counters 1 (consumed) and 2 (unused)
    rmSync(join(dir, 'counter.json'));
    writeFileSync(join(dir, 'unused', '.stale.json'), JSON.stringify({ counter: 90 }));
    writeFileSync(join(dir, 'unused', 'notes.txt'), JSON.stringify({ counter: 91 }));
    writeFileSync(join(dir, 'consumed', 'broken.json'), '{');
    writeFileSync(join(dir, 'consumed', 'odd.json'), JSON.stringify({ counter: '92' }));
    expect((await new NonceStore(dir).issue(CTX, gen().generate)).counter).toBe(3);
  });
});

describe('issue scrubs temp files a crashed issue left in unused/', () => {
  it('dot-files ending .tmp only', async () => {
    const dir = fresh();
    await new NonceStore(dir).recover();
    for (const f of ['.a.json.tmp', 'b.tmp', '.c', 'd.tmpx']) writeFileSync(join(dir, 'unused', f), 'secret');
    const n = await issued(dir);
    expect(readdirSync(join(dir, 'unused')).sort()).toEqual(['.c', `${n.id}.json`, 'b.tmp', 'd.tmpx'].sort());
  });
});

describe('damaged files', () => {
  it('an unreadable taking/ file of a take elsewhere, beside the unused copy: consumed, E_NONCE_USED', async () => {
    const dir = fresh();
    const n = await issued(dir);
    writeFileSync(join(dir, 'taking', foreignTaker(n.id)), '{ half-written');
    await refusalAsync(new NonceStore(dir).take(n.pubnonce, CTX), 'E_NONCE_USED', 5);
    expect(readFileSync(n.unused, 'utf8')).toContain(n.secHex);
  });
  it('a damaged unused/ file that no take moved on: E_STATE_CORRUPT (exit 3), not unused', async () => {
    const dir = fresh();
    const n = await issued(dir);
    writeFileSync(n.unused, '{ "id": 1 }');
    await refusalAsync(new NonceStore(dir).status(n.pubnonce), 'E_STATE_CORRUPT', 3);
  });
  it('a taking/ entry recovery cannot read (a directory): that error, nothing buried', async () => {
    const dir = fresh();
    const n = await issued(dir);
    mkdirSync(join(dir, 'taking', `${n.id}.${takerTag()}.json`));
    await expect(new NonceStore(dir).recover()).rejects.toMatchObject({ code: 'EISDIR' });
    expect(readdirSync(join(dir, 'consumed'))).toEqual([]);
  });
});
