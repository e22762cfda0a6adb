import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../../src/lib/bytes.ts';
import { RefusedError, StateConflictError } from '../../../src/lib/errors.ts';
import { deterministicRandom } from '../../../src/lib/random.ts';
import { NonceStore, nonceId, type NonceStep } from '../../../src/lib/store/nonce-store.ts';
import { tempDir } from '../../helpers.ts';
import { bundleChild, raceChildren, startChild } from './spawn.ts';

const tmp = tempDir('offchain-nonce-');
let script = '';
beforeAll(() => {
  script = bundleChild(tmp.path);
});
afterAll(() => tmp.cleanup());

const fresh = () => join(tmp.path, `store-${Math.random().toString(16).slice(2)}`);

/** A stand-in for BIP-327 NonceGen that remembers what it handed out. */
function recordingGenerator() {
  const issued: Array<{ secnonce: string; pubnonce: string; counter: number }> = [];
  const generate = (counter: number) => {
    const secnonce = new Uint8Array(randomBytes(97));
    const pubnonce = new Uint8Array(randomBytes(66));
    issued.push({ secnonce: toHex(secnonce), pubnonce: toHex(pubnonce), counter });
    return { secnonce, pubnonce };
  };
  return { issued, generate };
}

/** Every file under dir with its contents, for "where does the secret live" checks. */
function filesUnder(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const path = join(entry.parentPath, entry.name);
      out.set(path.slice(dir.length + 1), readFileSync(path, 'utf8'));
    }
  }
  return out;
}

function placesHolding(dir: string, secretHex: string): string[] {
  return [...filesUnder(dir)].filter(([, text]) => text.includes(secretHex)).map(([name]) => name);
}

async function attempt(store: NonceStore, pubnonce: Uint8Array, context: string): Promise<string> {
  try {
    const secnonce = await store.take(pubnonce, context);
    return `ok:${toHex(secnonce)}`;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

const CTX = 'credit/contract=ab12/state=3';

describe('NonceStore: the single-use rule', () => {
  it('issues, takes once, then refuses with E_NONCE_USED (exit 5)', async () => {
    const dir = fresh();
    const gen = recordingGenerator();
    const store = new NonceStore(dir);
    const nonce = await store.issue(CTX, gen.generate);
    expect(nonce).toMatchObject({ id: nonceId(nonce.pubnonce), context: CTX, counter: 1 });
    expect(toHex(nonce.pubnonce)).toBe(gen.issued[0]!.pubnonce);
    expect(await store.status(nonce.pubnonce)).toBe('unused');

    const secnonce = await store.take(nonce.pubnonce, CTX);
    expect(toHex(secnonce)).toBe(gen.issued[0]!.secnonce);
    expect(await store.status(nonce.pubnonce)).toBe('consumed');

    const again = await store.take(nonce.pubnonce, CTX).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(StateConflictError);
    expect(again).toMatchObject({ code: 'E_NONCE_USED', exitCode: 5 });
    // A second store on the same directory (another invocation) agrees.
    await expect(new NonceStore(dir).take(nonce.pubnonce, CTX)).rejects.toMatchObject({ code: 'E_NONCE_USED' });
  });

  it('refuses an unknown pubnonce with E_NONCE_UNKNOWN (exit 5)', async () => {
    const store = new NonceStore(fresh());
    const stranger = new Uint8Array(randomBytes(66));
    await expect(store.take(stranger, CTX)).rejects.toMatchObject({ code: 'E_NONCE_UNKNOWN', exitCode: 5 });
    expect(await store.status(stranger)).toBe('unknown');
  });

  it('refuses a mis-bound take with E_NONCE_MISBOUND (exit 4) and does not burn the nonce', async () => {
    const dir = fresh();
    const gen = recordingGenerator();
    const store = new NonceStore(dir);
    const nonce = await store.issue(CTX, gen.generate);
    const err = await store.take(nonce.pubnonce, 'credit/contract=ffff/state=3').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefusedError);
    expect(err).toMatchObject({ code: 'E_NONCE_MISBOUND', exitCode: 4 });
    expect(await store.status(nonce.pubnonce)).toBe('unused');
    expect(placesHolding(dir, gen.issued[0]!.secnonce)).toEqual([`unused/${nonce.id}.json`]);
    // Its rightful owner can still use it, once.
    expect(toHex(await store.take(nonce.pubnonce, CTX))).toBe(gen.issued[0]!.secnonce);
    // After use a mis-bound request is still told it is mis-bound, not merely used.
    await expect(store.take(nonce.pubnonce, 'other')).rejects.toMatchObject({ code: 'E_NONCE_MISBOUND' });
  });

  it('keeps no copy of the secret after a successful take', async () => {
    const dir = fresh();
    const gen = recordingGenerator();
    const store = new NonceStore(dir);
    const nonce = await store.issue(CTX, gen.generate);
    expect(placesHolding(dir, gen.issued[0]!.secnonce)).toEqual([`unused/${nonce.id}.json`]);
    await store.take(nonce.pubnonce, CTX);
    expect(placesHolding(dir, gen.issued[0]!.secnonce)).toEqual([]);
    const tomb = JSON.parse(readFileSync(join(dir, 'consumed', `${nonce.id}.json`), 'utf8'));
    expect(tomb).toMatchObject({ id: nonce.id, context: CTX, pubnonce: toHex(nonce.pubnonce), counter: 1 });
    expect(tomb).not.toHaveProperty('secnonce');
    expect(readdirSync(join(dir, 'taking'))).toEqual([]);
  });

  it('stores files 0600 in directories 0700', async () => {
    const dir = fresh();
    const store = new NonceStore(dir);
    const a = await store.issue(CTX, recordingGenerator().generate);
    await store.issue(CTX, recordingGenerator().generate);
    await store.take(a.pubnonce, CTX);
    const files = [...filesUnder(dir).keys()];
    expect(files.length).toBe(3); // counter, one unused, one tombstone
    for (const f of files) expect(statSync(join(dir, f)).mode & 0o777, f).toBe(0o600);
    for (const d of ['', 'unused', 'taking', 'consumed']) expect(statSync(join(dir, d)).mode & 0o777, d).toBe(0o700);
  });

  it('wipes the generator output buffer once it is on disk', async () => {
    let seen: Uint8Array | undefined;
    await new NonceStore(fresh()).issue(CTX, () => {
      seen = new Uint8Array(randomBytes(97));
      return { secnonce: seen, pubnonce: new Uint8Array(randomBytes(66)) };
    });
    expect(seen!.every((b) => b === 0)).toBe(true);
  });
});

describe('NonceStore: counter and deterministic test mode', () => {
  /** What a fresh CLI invocation in test mode does: a new seeded stream, counter in the label. */
  const seededGenerate = (counter: number) => {
    const rng = deterministicRandom('ci-seed');
    return { secnonce: rng.bytes(97, `musig2/nonce/${counter}`), pubnonce: rng.bytes(66, `musig2/nonce/${counter}`) };
  };

  it('hands out distinct nonces across invocations with the same seed, counter 1, 2, 3', async () => {
    const dir = fresh();
    const issued = [];
    for (let i = 0; i < 3; i++) issued.push(await new NonceStore(dir).issue(CTX, seededGenerate));
    expect(issued.map((n) => n.counter)).toEqual([1, 2, 3]);
    expect(new Set(issued.map((n) => n.id)).size).toBe(3);
  });

  it('refuses to store a nonce it already issued (E_NONCE_REPEATED), e.g. after a counter reset', async () => {
    const dir = fresh();
    const first = await new NonceStore(dir).issue(CTX, seededGenerate);
    await new NonceStore(dir).take(first.pubnonce, CTX);
    // A reset counter file on its own is survived: the counter resumes above what is stored.
    rmSync(join(dir, 'counter.json'));
    expect((await new NonceStore(dir).issue(CTX, seededGenerate)).counter).toBe(2);
    // A generator that repeats itself regardless of the counter is caught.
    const replay = () => seededGenerate(1);
    await expect(new NonceStore(dir).issue(CTX, replay)).rejects.toMatchObject({ code: 'E_NONCE_REPEATED', exitCode: 5 });
    expect(await new NonceStore(dir).status(first.pubnonce)).toBe('consumed');
  });
});

describe('NonceStore: crashes never make a nonce usable twice', () => {
  const TAKE_STEPS: NonceStep[] = ['take:checked', 'take:renamed', 'take:synced', 'take:read', 'take:tombstoned', 'take:done'];

  /**
   * After a crash during take: the nonce is either still unused and can be taken exactly
   * once, or consumed; and the secret is left nowhere but in an unused nonce file.
   */
  async function checkAfterCrash(dir: string, pubnonce: Uint8Array, secretHex: string, id: string) {
    const store = new NonceStore(dir);
    const state = await store.status(pubnonce);
    expect(state).not.toBe('unknown');
    const expectedPlaces = state === 'unused' ? [`unused/${id}.json`] : [];
    expect(placesHolding(dir, secretHex)).toEqual(expectedPlaces);
    const outcomes = [await attempt(store, pubnonce, CTX), await attempt(new NonceStore(dir), pubnonce, CTX)];
    if (state === 'unused') expect(outcomes).toEqual([`ok:${secretHex}`, 'E_NONCE_USED']);
    else expect(outcomes).toEqual(['E_NONCE_USED', 'E_NONCE_USED']);
    expect(placesHolding(dir, secretHex)).toEqual([]);
    return state;
  }

  it.each(TAKE_STEPS)('a thrown failure at %s', async (step) => {
    const dir = fresh();
    const gen = recordingGenerator();
    const nonce = await new NonceStore(dir).issue(CTX, gen.generate);
    const crash = new Error(`crash at ${step}`);
    const crashing = new NonceStore(dir, {
      onStep: (s) => {
        if (s === step) throw crash;
      },
    });
    await expect(crashing.take(nonce.pubnonce, CTX)).rejects.toBe(crash);
    const state = await checkAfterCrash(dir, nonce.pubnonce, gen.issued[0]!.secnonce, nonce.id);
    expect(state).toBe(step === 'take:checked' ? 'unused' : 'consumed');
  });

  it.each(TAKE_STEPS)('a process killed (SIGKILL) at %s', async (step) => {
    const dir = fresh();
    const gen = recordingGenerator();
    const nonce = await new NonceStore(dir).issue(CTX, gen.generate);
    const r = await startChild(script, ['take-crash', dir, toHex(nonce.pubnonce), CTX, step]).exited;
    expect(r.signal, r.stderr).toBe('SIGKILL');
    if (step !== 'take:checked' && step !== 'take:done') {
      // Killed after the commit rename and before the scrub: the secret is still on disk
      // in taking/, which is exactly what recovery must bury.
      expect(placesHolding(dir, gen.issued[0]!.secnonce)).toEqual([expect.stringMatching(/^taking\//)]);
    }
    const state = await checkAfterCrash(dir, nonce.pubnonce, gen.issued[0]!.secnonce, nonce.id);
    expect(state).toBe(step === 'take:checked' ? 'unused' : 'consumed');
  });

  it.each<NonceStep>(['issue:counter-saved', 'issue:generated', 'issue:persisted'])('a failure during issue at %s', async (step) => {
    const dir = fresh();
    const gen = recordingGenerator();
    const crash = new Error(`crash at ${step}`);
    const crashing = new NonceStore(dir, {
      onStep: (s) => {
        if (s === step) throw crash;
      },
    });
    await expect(crashing.issue(CTX, gen.generate)).rejects.toBe(crash);
    const store = new NonceStore(dir);
    // Counter first: a crash right after saving it happens before any nonce exists.
    expect(gen.issued.length).toBe(step === 'issue:counter-saved' ? 0 : 1);
    const lost = gen.issued[0];
    if (lost) {
      // The public nonce was never returned. If it reached disk it is usable once, else unknown.
      const pubnonce = Buffer.from(lost.pubnonce, 'hex');
      const state = await store.status(pubnonce);
      expect(state).toBe(step === 'issue:persisted' ? 'unused' : 'unknown');
      expect(placesHolding(dir, lost.secnonce)).toEqual(state === 'unused' ? [`unused/${nonceId(pubnonce)}.json`] : []);
    }
    // The counter value was spent either way; the next nonce gets a new one.
    const next = await store.issue(CTX, gen.generate);
    expect(next.counter).toBe(2);
  });
});

describe('NonceStore: concurrent processes', () => {
  type TakeOutcome = { ok: boolean; checked: boolean; secnonce?: string; code?: string };

  async function race(withBarrier: boolean): Promise<{ outcomes: TakeOutcome[]; secret: string; dir: string }> {
    const dir = fresh();
    const gen = recordingGenerator();
    const nonce = await new NonceStore(dir).issue(CTX, gen.generate);
    const barrier = join(dir, '..', `barrier-${nonce.id}`);
    mkdirSync(barrier);
    const args = ['take', dir, toHex(nonce.pubnonce), CTX, ...(withBarrier ? [barrier, '16'] : [])];
    const results = await raceChildren(script, () => args, 16);
    const outcomes = results.map((r) => {
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('{'))!) as TakeOutcome;
    });
    return { outcomes, secret: gen.issued[0]!.secnonce, dir };
  }

  function expectOneWinner({ outcomes, secret, dir }: { outcomes: TakeOutcome[]; secret: string; dir: string }) {
    expect(outcomes.filter((o) => o.ok).map((o) => o.secnonce)).toEqual([secret]);
    expect(outcomes.filter((o) => !o.ok && o.code !== 'E_NONCE_USED')).toEqual([]);
    expect(outcomes.filter((o) => !o.ok).length).toBe(15);
    expect(placesHolding(dir, secret)).toEqual([]);
    expect(readdirSync(join(dir, 'taking'))).toEqual([]);
  }

  it('16 processes race to take one nonce: exactly one wins, the rest get E_NONCE_USED', async () => {
    expectOneWinner(await race(false));
  });

  it('16 processes that all passed the "is it unused?" check: the commit rename lets exactly one win', async () => {
    const result = await race(true);
    expect(result.outcomes.every((o) => o.checked)).toBe(true);
    expectOneWinner(result);
  });

  it('recovery leaves alone the taking/ file of a take that is still running in another process', async () => {
    const dir = fresh();
    const gen = recordingGenerator();
    const nonce = await new NonceStore(dir).issue(CTX, gen.generate);
    const release = join(dir, '..', `release-${nonce.id}`);
    const child = startChild(script, ['take-pause', dir, toHex(nonce.pubnonce), CTX, 'take:synced', release]);
    await child.waitFor('paused\n');
    const store = new NonceStore(dir);
    expect(await store.status(nonce.pubnonce)).toBe('consumed'); // runs recover()
    expect(await store.recover()).toBe(0);
    await expect(store.take(nonce.pubnonce, CTX)).rejects.toMatchObject({ code: 'E_NONCE_USED' });
    expect(placesHolding(dir, gen.issued[0]!.secnonce)).toEqual([expect.stringMatching(/^taking\//)]);
    writeFileSync(release, '');
    const r = await child.exited;
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('{'))!)).toEqual({ ok: true, secnonce: gen.issued[0]!.secnonce });
    expect(placesHolding(dir, gen.issued[0]!.secnonce)).toEqual([]);
  });

  it('in one process, concurrent takes of one nonce also yield exactly one secret', async () => {
    const dir = fresh();
    const nonce = await new NonceStore(dir).issue(CTX, recordingGenerator().generate);
    const outcomes = await Promise.all(Array.from({ length: 12 }, () => attempt(new NonceStore(dir), nonce.pubnonce, CTX)));
    expect(outcomes.filter((o) => o.startsWith('ok:')).length).toBe(1);
    expect(outcomes.filter((o) => o === 'E_NONCE_USED').length).toBe(11);
  });

  it('concurrent issues from one process get distinct counters', async () => {
    const dir = fresh();
    const gen = recordingGenerator();
    const issued = await Promise.all(Array.from({ length: 8 }, () => new NonceStore(dir).issue(CTX, gen.generate)));
    expect(issued.map((n) => n.counter).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

describe('NonceStore: looking creates nothing (issue 41: a mistyped --state-dir leaves no trace)', () => {
  it('status() and take() on a directory that does not exist: unknown / E_NONCE_UNKNOWN, and no directory is made', async () => {
    const parent = join(tmp.path, 'mistyped');
    mkdirSync(parent);
    const store = new NonceStore(join(parent, 'alcie', 'regtest', 'nonces'));
    const pubnonce = new Uint8Array(66).fill(2);
    expect(await store.status(pubnonce)).toBe('unknown');
    await expect(store.take(pubnonce, 'ctx')).rejects.toMatchObject({ code: 'E_NONCE_UNKNOWN', exitCode: 5 });
    expect(readdirSync(parent)).toEqual([]);
  });
});
