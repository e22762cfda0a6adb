/**
 * ONE NONCE SIGNS ONCE (src/lib/store/sqlite/nonces.ts): BIP-327's secret nonce is handed out
 * by at most one take, ever — whatever races it (steps of one process, processes on one
 * database), whatever kills the taker (kill -9 anywhere in issue or take, inside its step or at
 * its COMMIT), whatever is asked of it (a misbound context, which must not burn it; a nonce of
 * another signer's key, which must not open; unknown and used ones). The rule is the database's
 * own (one conditional UPDATE, and triggers that refuse to make a consumed row usable or to
 * delete one); a consumed row keeps no secret, in the file or its WAL once closed.
 *
 * Out of scope by design (database.ts): whoever can write the state directory can put a
 * consumed row back (a restored copy of state.sqlite); the store refuses only what the
 * database itself can refuse.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { toHex } from '../../../src/lib/bytes.ts';
import { RefusedError, StateConflictError } from '../../../src/lib/errors.ts';
import { deterministicRandom } from '../../../src/lib/random.ts';
import { StateDb, STATE_DB_FILE } from '../../../src/lib/store/sqlite/database.ts';
import { SqliteMintStore } from '../../../src/lib/store/sqlite/mint.ts';
import { nonceId, SqliteNonces } from '../../../src/lib/store/sqlite/nonces.ts';
import { Sealer } from '../../../src/lib/store/seal.ts';
import { tempDir } from '../../helpers.ts';
import { refusalAsync } from '../../setup/refusal.ts';
import { churnNonce, killNow, MUTATION_RUN, raceSqliteChildren, startSqliteChild } from './processes.ts';

const tmp = tempDir('offchain-one-nonce-');
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = () => join(tmp.path, `s-${++n}`, 'regtest');

const KEY = new Uint8Array(randomBytes(32));
const CTX = 'offchain/credit/v1/ab12/state/3';

/** A stand-in for BIP-327 NonceGen that remembers what it handed out. */
function recording() {
  const issued: { secnonce: string; pubnonce: string; counter: number }[] = [];
  const generate = (counter: number) => {
    const secnonce = new Uint8Array(randomBytes(97));
    const pubnonce = new Uint8Array(randomBytes(66));
    issued.push({ secnonce: toHex(secnonce), pubnonce: toHex(pubnonce), counter });
    return { secnonce, pubnonce };
  };
  return { issued, generate };
}

/** The database of `dir` (made), and a signer's nonces on it; closed by the caller. */
function signer(dir: string, key: Uint8Array | undefined = KEY) {
  const db = StateDb.open(dir, { create: true })!;
  return { db, nonces: new SqliteNonces(db, key && Sealer.fromSecret(key)) };
}

/** The outcome of a take: `ok:<secret>` or the error code. */
async function attempt(nonces: SqliteNonces, pubnonce: Uint8Array, context: string): Promise<string> {
  try {
    return `ok:${toHex(await nonces.take(pubnonce, context))}`;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

type Row = { id: string; context: string | null; pubnonce: string | null; sealed: Buffer | null; consumed: number };
const rowOf = (db: StateDb, pubnonce: Uint8Array) => db.sql.prepare<[string], Row>('SELECT * FROM nonces WHERE id = ?').get(nonceId(pubnonce));
const allRows = (db: StateDb) => db.sql.prepare<[], Row>('SELECT * FROM nonces ORDER BY id').all();
const counter = (db: StateDb) => db.sql.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'nonce_counter'").get()?.value;

/** The bytes of state.sqlite and of its -wal, if any. */
function onDisk(dir: string): Buffer {
  const files = [STATE_DB_FILE, `${STATE_DB_FILE}-wal`].map((f) => join(dir, f)).filter(existsSync);
  return Buffer.concat(files.map((f) => readFileSync(f)));
}

describe('a nonce is taken once', () => {
  it('issued, taken once with the secret the generator made; a second take is E_NONCE_USED (exit 5), also on another connection', async () => {
    const dir = fresh();
    const gen = recording();
    const { db, nonces } = signer(dir);
    const { pubnonce } = await nonces.issue(CTX, gen.generate);
    expect(toHex(pubnonce)).toBe(gen.issued[0]!.pubnonce);
    expect(gen.issued[0]!.counter).toBe(1);
    expect(await nonces.status(pubnonce)).toBe('unused');
    expect(toHex(await nonces.take(pubnonce, CTX))).toBe(gen.issued[0]!.secnonce);
    expect(await nonces.status(pubnonce)).toBe('consumed');
    const again = await refusalAsync(nonces.take(pubnonce, CTX), 'E_NONCE_USED', 5);
    expect(again).toBeInstanceOf(StateConflictError);
    expect(again.message).toBe(`nonce ${nonceId(pubnonce)} has already been used; request a fresh nonce`);
    expect(again.detail).toEqual({ id: nonceId(pubnonce) });
    db.close();
    // Another invocation (a connection of its own) agrees.
    const other = signer(dir);
    await refusalAsync(other.nonces.take(pubnonce, CTX), 'E_NONCE_USED', 5);
    await refusalAsync(other.nonces.burn(pubnonce, CTX), 'E_NONCE_USED', 5);
    other.db.close();
  });

  it('a nonce never issued here: E_NONCE_UNKNOWN (exit 5) naming it, for a take and a burn; its status is unknown', async () => {
    const { db, nonces } = signer(fresh());
    await nonces.issue(CTX, recording().generate); // a database with other nonces in it
    const stranger = new Uint8Array(randomBytes(66));
    const e = await refusalAsync(nonces.take(stranger, CTX), 'E_NONCE_UNKNOWN', 5);
    expect(e.message).toBe(`nonce ${toHex(stranger).slice(0, 16)}… was never issued by this store (or the store was replaced); request a fresh nonce`);
    expect(e.detail).toEqual({ id: nonceId(stranger) });
    await refusalAsync(nonces.burn(stranger, CTX), 'E_NONCE_UNKNOWN', 5);
    expect(await nonces.status(stranger)).toBe('unknown');
    db.close();
  });

  it('a take for another context: E_NONCE_MISBOUND (exit 4), the nonce not burned (its row as it was); its own context takes it once', async () => {
    const gen = recording();
    const { db, nonces } = signer(fresh());
    const { pubnonce } = await nonces.issue(CTX, gen.generate);
    const before = rowOf(db, pubnonce);
    const e = await refusalAsync(nonces.take(pubnonce, 'offchain/credit/v1/ffff/state/3'), 'E_NONCE_MISBOUND', 4);
    expect(e).toBeInstanceOf(RefusedError);
    expect(e.detail).toEqual({ id: nonceId(pubnonce), issuedFor: CTX, requested: 'offchain/credit/v1/ffff/state/3' });
    expect(e.message).toBe(`nonce ${toHex(pubnonce).slice(0, 16)}… was issued for ${CTX}, not offchain/credit/v1/ffff/state/3; refusing to sign with it (it stays unused for its own context)`);
    await refusalAsync(nonces.burn(pubnonce, 'another'), 'E_NONCE_MISBOUND', 4);
    expect(rowOf(db, pubnonce)).toEqual(before);
    expect(await nonces.status(pubnonce)).toBe('unused');
    expect(toHex(await nonces.take(pubnonce, CTX))).toBe(gen.issued[0]!.secnonce);
    // Once used, any context is told it is used: nothing of its context is kept.
    await refusalAsync(nonces.take(pubnonce, 'another'), 'E_NONCE_USED', 5);
    db.close();
  });

  it('a burn consumes without opening: the nonce is used from then on', async () => {
    const { db, nonces } = signer(fresh());
    const { pubnonce } = await nonces.issue(CTX, recording().generate);
    await nonces.burn(pubnonce, CTX);
    expect(rowOf(db, pubnonce)).toEqual({ id: nonceId(pubnonce), context: null, pubnonce: null, sealed: null, consumed: 1 });
    await refusalAsync(nonces.take(pubnonce, CTX), 'E_NONCE_USED', 5);
    await refusalAsync(nonces.burn(pubnonce, CTX), 'E_NONCE_USED', 5);
    db.close();
  });

  it('a nonce of another signer\'s key (both on one database) does not open: E_STATE_CORRUPT (exit 3), nothing signed, and the nonce stays its owner\'s, unused', async () => {
    const dir = fresh();
    const gen = recording();
    const alice = signer(dir);
    const { pubnonce } = await alice.nonces.issue(CTX, gen.generate);
    const mallory = new SqliteNonces(alice.db, Sealer.fromSecret(new Uint8Array(randomBytes(32))));
    const e = await refusalAsync(mallory.take(pubnonce, CTX), 'E_STATE_CORRUPT', 3);
    expect(e.message).toContain('does not open under this key');
    expect(await alice.nonces.status(pubnonce)).toBe('unused');
    expect(toHex(await alice.nonces.take(pubnonce, CTX))).toBe(gen.issued[0]!.secnonce);
    alice.db.close();
  });

  it('a view (no key) issues and takes nothing: E_INTERNAL; it still tells a nonce\'s status', async () => {
    const dir = fresh();
    const { db, nonces } = signer(dir);
    const { pubnonce } = await nonces.issue(CTX, recording().generate);
    const view = new SqliteNonces(db, undefined);
    await refusalAsync(view.issue(CTX, recording().generate), 'E_INTERNAL', 1);
    await refusalAsync(view.take(pubnonce, CTX), 'E_INTERNAL', 1);
    expect(await nonces.status(pubnonce)).toBe('unused');
    expect(await view.status(pubnonce)).toBe('unused');
    expect(allRows(db)).toHaveLength(1);
    db.close();
  });
});

describe('the mint\'s nonces (its store, SqliteMintStore, in its batches)', () => {
  it('taken once — within a batch, across commits, after a reopen; unknown and misbound refused, a misbound take not burning it; a view issues none', async () => {
    const dir = fresh();
    const mintOf = () => new SqliteMintStore<{ contract_id: string }>(StateDb.open(dir, { create: true })!, { sealer: Sealer.fromSecret(KEY) });
    const s = mintOf();
    const { pubnonce } = await s.issue('contract/A/state/1', () => churnNonce(1));
    const other = await s.issue('contract/A/state/2', () => churnNonce(2));
    await refusalAsync(s.take(new Uint8Array(66).fill(9), 'x'), 'E_NONCE_UNKNOWN', 5);
    await refusalAsync(s.take(pubnonce, 'contract/B/state/1'), 'E_NONCE_MISBOUND', 4);
    expect(await s.status(pubnonce)).toBe('unused');
    expect(toHex(await s.take(pubnonce, 'contract/A/state/1'))).toBe(toHex(churnNonce(1).secnonce));
    await refusalAsync(s.take(pubnonce, 'contract/A/state/1'), 'E_NONCE_USED', 5);
    await s.commit();
    await refusalAsync(s.take(pubnonce, 'contract/A/state/1'), 'E_NONCE_USED', 5);
    await s.burn(other.pubnonce, 'contract/A/state/2');
    await s.close();
    s.db.close();
    const after = mintOf();
    await refusalAsync(after.take(pubnonce, 'contract/A/state/1'), 'E_NONCE_USED', 5);
    await refusalAsync(after.take(other.pubnonce, 'contract/A/state/2'), 'E_NONCE_USED', 5);
    expect(await after.counts()).toEqual({ contracts: 0, unusedNonces: 0 });
    after.abandon();
    const view = new SqliteMintStore<{ contract_id: string }>(after.db, {});
    await refusalAsync(view.issue('c', () => churnNonce(3)), 'E_USAGE', 2);
    expect(await view.status(pubnonce)).toBe('consumed');
    after.db.close();
  });
});

describe('issuing', () => {
  it.each([
    ['a 65-byte pubnonce', () => ({ secnonce: new Uint8Array(97).fill(1), pubnonce: new Uint8Array(65) }), 'nonce generator returned a 65-byte pubnonce, expected 66'],
    ['a pubnonce that is not bytes', () => ({ secnonce: new Uint8Array(97).fill(1), pubnonce: Array.from(new Uint8Array(66)) }), 'nonce generator returned a 66-byte pubnonce, expected 66'],
    ['no pubnonce', () => ({ secnonce: new Uint8Array(97).fill(1) }), 'nonce generator returned a undefined-byte pubnonce, expected 66'],
    ['an empty secnonce', () => ({ secnonce: new Uint8Array(0), pubnonce: new Uint8Array(randomBytes(66)) }), 'nonce generator returned no secnonce'],
    ['a secnonce that is not bytes', () => ({ secnonce: 'ab'.repeat(97), pubnonce: new Uint8Array(randomBytes(66)) }), 'nonce generator returned no secnonce'],
  ])('a broken generator (%s): E_NONCE_GENERATOR, no row, and the counter\'s tick taken back', async (_, generate, message) => {
    const { db, nonces } = signer(fresh());
    const e = await refusalAsync(nonces.issue(CTX, generate as never), 'E_NONCE_GENERATOR', 1);
    expect(e.message).toBe(message);
    expect(allRows(db)).toEqual([]);
    expect(counter(db)).toBeUndefined();
    db.close();
  });

  it('the generator\'s secret buffer is wiped once the row is written', async () => {
    const { db, nonces } = signer(fresh());
    let seen: Uint8Array | undefined;
    await nonces.issue(CTX, () => ((seen = new Uint8Array(randomBytes(97))), { secnonce: seen, pubnonce: new Uint8Array(randomBytes(66)) }));
    expect(seen!.every((b) => b === 0)).toBe(true);
    db.close();
  });

  it('a context must be 1 to 1024 characters: E_NONCE_CONTEXT, before anything is written', async () => {
    const { db, nonces } = signer(fresh());
    await refusalAsync(nonces.issue('', recording().generate), 'E_NONCE_CONTEXT', 1);
    const e = await refusalAsync(nonces.issue('x'.repeat(1025), recording().generate), 'E_NONCE_CONTEXT', 1);
    expect(e.message).toBe('nonce context must be a non-empty string of at most 1024 characters');
    await refusalAsync(nonces.issue(7 as unknown as string, recording().generate), 'E_NONCE_CONTEXT', 1);
    expect(allRows(db)).toEqual([]);
    await nonces.issue('x'.repeat(1024), recording().generate);
    expect(allRows(db)).toHaveLength(1);
    db.close();
  });

  it('the counter goes 1, 2, 3 across connections; in deterministic test mode (counter in the label) each draw differs', async () => {
    const dir = fresh();
    const seeded = (c: number) => {
      const rng = deterministicRandom('ci-seed');
      return { secnonce: rng.bytes(97, `musig2/nonce/${c}`), pubnonce: rng.bytes(66, `musig2/nonce/${c}`) };
    };
    const counters: number[] = [];
    const ids = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const { db, nonces } = signer(dir);
      const { pubnonce } = await nonces.issue(CTX, (c) => (counters.push(c), seeded(c)));
      ids.add(nonceId(pubnonce));
      db.close();
    }
    expect(counters).toEqual([1, 2, 3]);
    expect(ids.size).toBe(3);
  });

  it('a public nonce issued before (unused or consumed) is refused E_NONCE_REPEATED (exit 5): never a second row, the counter\'s tick taken back', async () => {
    const { db, nonces } = signer(fresh());
    const first = await nonces.issue(CTX, () => churnNonce(1));
    const second = await nonces.issue(CTX, () => churnNonce(2));
    await nonces.take(first.pubnonce, CTX);
    for (const [again, c] of [[1, 3], [2, 3]] as const) {
      const e = await refusalAsync(nonces.issue('other', () => churnNonce(again)), 'E_NONCE_REPEATED', 5);
      expect(e.message).toContain(`the generated public nonce ${toHex(churnNonce(again).pubnonce).slice(0, 16)}… was issued before (counter ${c})`);
      expect(e.detail).toEqual({ id: nonceId(churnNonce(again).pubnonce) });
    }
    expect(allRows(db)).toHaveLength(2);
    expect(counter(db)).toBe('2');
    expect(await nonces.status(first.pubnonce)).toBe('consumed');
    expect(await nonces.status(second.pubnonce)).toBe('unused');
    // A counter put back (a writer of the database: out of scope) cannot make a seeded generator hand one out twice.
    db.sql.prepare("DELETE FROM meta WHERE key = 'nonce_counter'").run();
    await refusalAsync(nonces.issue(CTX, (c) => churnNonce(c)), 'E_NONCE_REPEATED', 5);
    db.close();
  });
});

describe('the rule is the database\'s own', () => {
  it('the triggers refuse, whatever the code: a consumed row made unused again, a secret put back, an id changed, a row deleted', async () => {
    const { db, nonces } = signer(fresh());
    const used = await nonces.issue(CTX, recording().generate);
    const unused = await nonces.issue(CTX, recording().generate);
    await nonces.take(used.pubnonce, CTX);
    const id = nonceId(used.pubnonce);
    const before = allRows(db);
    const refused = (sql: string, ...params: unknown[]) => expect(() => db.sql.prepare(sql).run(...params)).toThrow(/a consumed nonce never becomes usable again|a nonce row is never deleted|CHECK constraint failed/);
    refused('UPDATE nonces SET consumed = 0, sealed = ?, context = ?, pubnonce = ? WHERE id = ?', Buffer.alloc(40, 1), CTX, toHex(used.pubnonce), id);
    refused('UPDATE nonces SET consumed = 0 WHERE id = ?', id);
    refused('UPDATE nonces SET sealed = ? WHERE id = ?', Buffer.alloc(40, 1), id);
    refused('UPDATE nonces SET id = ? WHERE id = ?', 'f'.repeat(32), nonceId(unused.pubnonce));
    refused('DELETE FROM nonces WHERE id = ?', id);
    refused('DELETE FROM nonces WHERE id = ?', nonceId(unused.pubnonce));
    refused('DELETE FROM nonces');
    // The row constraints: consumed ⇔ no secret; an unused row has its context and public nonce; an id is 32 hex digits.
    refused("INSERT INTO nonces (id, consumed, sealed) VALUES (?, 1, x'01')", 'e'.repeat(32));
    refused('INSERT INTO nonces (id, consumed) VALUES (?, 0)', 'e'.repeat(32));
    refused("INSERT INTO nonces (id, context, pubnonce, sealed) VALUES (?, NULL, 'p', x'01')", 'e'.repeat(32));
    refused("INSERT INTO nonces (id, context, pubnonce, sealed) VALUES ('short', 'c', 'p', x'01')");
    expect(allRows(db)).toEqual(before);
    db.close();
  });

  it('two takers that both read it unused (a check passed outside the gate): the conditional UPDATE lets exactly one consume it', async () => {
    const dir = fresh();
    const { db, nonces } = signer(dir);
    const { pubnonce } = await nonces.issue(CTX, recording().generate);
    db.close();
    const Database = (await import('better-sqlite3')).default;
    const [a, b] = [0, 1].map(() => new Database(join(dir, STATE_DB_FILE)));
    const consume = 'UPDATE nonces SET consumed = 1, sealed = NULL, context = NULL, pubnonce = NULL WHERE id = ? AND consumed = 0 AND context = ?';
    for (const c of [a!, b!]) {
      c.exec('BEGIN');
      expect(c.prepare('SELECT consumed FROM nonces WHERE id = ?').get(nonceId(pubnonce))).toEqual({ consumed: 0 });
    }
    expect(a!.prepare(consume).run(nonceId(pubnonce), CTX).changes).toBe(1);
    a!.exec('COMMIT');
    // B's view is stale: SQLite refuses its write (a busy snapshot); begun again, the gate finds it consumed.
    expect(() => b!.prepare(consume).run(nonceId(pubnonce), CTX)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^SQLITE_BUSY/) }));
    b!.exec('ROLLBACK');
    b!.exec('BEGIN IMMEDIATE');
    expect(b!.prepare(consume).run(nonceId(pubnonce), CTX).changes).toBe(0);
    b!.exec('ROLLBACK');
    a!.close();
    b!.close();
  });

  it('a refused take (used, unknown, misbound) writes nothing', async () => {
    const { db, nonces } = signer(fresh());
    const used = await nonces.issue(CTX, recording().generate);
    const unused = await nonces.issue(CTX, recording().generate);
    await nonces.take(used.pubnonce, CTX);
    const before = JSON.stringify([allRows(db), counter(db)]);
    await refusalAsync(nonces.take(used.pubnonce, CTX), 'E_NONCE_USED', 5);
    await refusalAsync(nonces.take(new Uint8Array(66).fill(4), CTX), 'E_NONCE_UNKNOWN', 5);
    await refusalAsync(nonces.take(unused.pubnonce, 'another'), 'E_NONCE_MISBOUND', 4);
    await refusalAsync(nonces.burn(used.pubnonce, CTX), 'E_NONCE_USED', 5);
    expect(JSON.stringify([allRows(db), counter(db)])).toBe(before);
    db.close();
  });

  it('a consumed row keeps only its id; its sealed secret is in neither state.sqlite nor its WAL once closed (secure_delete, WAL checkpointed and truncated); the plain secret never was', async () => {
    const dir = fresh();
    const gen = recording();
    const { db, nonces } = signer(dir);
    const used = await nonces.issue(CTX, gen.generate);
    const kept = await nonces.issue(CTX, gen.generate);
    const sealedUsed = rowOf(db, used.pubnonce)!.sealed!;
    const sealedKept = rowOf(db, kept.pubnonce)!.sealed!;
    // The search finds what is there: both sealed secrets are on disk while unused.
    expect(onDisk(dir).includes(sealedUsed)).toBe(true);
    await nonces.take(used.pubnonce, CTX);
    expect(rowOf(db, used.pubnonce)).toEqual({ id: nonceId(used.pubnonce), context: null, pubnonce: null, sealed: null, consumed: 1 });
    db.close();
    expect(existsSync(join(dir, `${STATE_DB_FILE}-wal`))).toBe(false);
    const disk = onDisk(dir);
    expect(disk.includes(sealedUsed)).toBe(false);
    expect(disk.includes(sealedKept)).toBe(true);
    for (const { secnonce } of gen.issued) expect(disk.includes(Buffer.from(secnonce, 'hex'))).toBe(false);
  });

  it.skipIf(MUTATION_RUN)('killed (no close): the next process\'s close leaves the consumed secret nowhere', async () => {
    const dir = fresh();
    const { db, nonces } = signer(dir);
    const { pubnonce } = await nonces.issue(CTX, recording().generate);
    const sealed = rowOf(db, pubnonce)!.sealed!;
    db.close();
    const child = startSqliteChild(['take-at-commit', dir, toHex(KEY), toHex(pubnonce), CTX, '0']);
    await child.waitFor('committed\n');
    await killNow(child);
    const after = signer(dir);
    expect(await after.nonces.status(pubnonce)).toBe('consumed');
    after.db.close();
    expect(onDisk(dir).includes(sealed)).toBe(false);
  });
});

describe('races', () => {
  it.skipIf(MUTATION_RUN)('16 processes race to take one nonce: exactly one gets its secret, 15 are told E_NONCE_USED', async () => {
    const dir = fresh();
    const gen = recording();
    const { db, nonces } = signer(dir);
    const { pubnonce } = await nonces.issue(CTX, gen.generate);
    db.close();
    const results = await raceSqliteChildren(() => ['take', dir, toHex(KEY), toHex(pubnonce), CTX], 16);
    const outcomes = results.map((r) => {
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('{'))!) as { ok: boolean; secnonce?: string; code?: string };
    });
    expect(outcomes.filter((o) => o.ok).map((o) => o.secnonce)).toEqual([gen.issued[0]!.secnonce]);
    expect(outcomes.filter((o) => !o.ok).map((o) => o.code)).toEqual(Array(15).fill('E_NONCE_USED'));
  });

  it('in one process, 12 concurrent takes (each a step of its own) yield one secret; 8 concurrent issues get counters 1…8', async () => {
    const { db, nonces } = signer(fresh());
    const { pubnonce } = await nonces.issue(CTX, recording().generate);
    const outcomes = await Promise.all(Array.from({ length: 12 }, () => attempt(new SqliteNonces(db, Sealer.fromSecret(KEY)), pubnonce, CTX)));
    expect(outcomes.filter((o) => o.startsWith('ok:'))).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'E_NONCE_USED')).toHaveLength(11);
    const counters: number[] = [];
    await Promise.all(Array.from({ length: 8 }, () => nonces.issue(CTX, (c) => (counters.push(c), churnNonce(100 + c)))));
    expect(counters.sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    db.close();
  });
});

describe('kill -9', () => {
  it.skipIf(MUTATION_RUN)('a taker killed inside its step, the secret in hand: nothing committed — the nonce unused, taken once by the next process', async () => {
    const dir = fresh();
    const gen = recording();
    const { db, nonces } = signer(dir);
    const { pubnonce } = await nonces.issue(CTX, gen.generate);
    db.close();
    const child = startSqliteChild(['take-then-hang', dir, toHex(KEY), toHex(pubnonce), CTX]);
    await child.waitFor('taken ');
    expect((await killNow(child)).signal).toBe('SIGKILL');
    const next = signer(dir);
    expect(await next.nonces.status(pubnonce)).toBe('unused');
    expect([await attempt(next.nonces, pubnonce, CTX), await attempt(next.nonces, pubnonce, CTX)]).toEqual([`ok:${gen.issued[0]!.secnonce}`, 'E_NONCE_USED']);
    next.db.close();
  });

  it.skipIf(MUTATION_RUN)('an issuer killed inside its step, the public nonce in hand: that nonce was never issued (unknown), and its counter is drawn again', async () => {
    const dir = fresh();
    const child = startSqliteChild(['issue-then-hang', dir, toHex(KEY)]);
    const line = (await child.waitFor(/issued \d+ [0-9a-f]+\n/)).split('\n').find((l) => l.startsWith('issued '))!;
    await killNow(child);
    const [, c, pub] = line.split(' ');
    expect(c).toBe('1');
    const next = signer(dir);
    expect(await next.nonces.status(Buffer.from(pub!, 'hex'))).toBe('unknown');
    await refusalAsync(next.nonces.take(Buffer.from(pub!, 'hex'), 'hang'), 'E_NONCE_UNKNOWN', 5);
    const counters: number[] = [];
    await next.nonces.issue(CTX, (k) => (counters.push(k), churnNonce(k)));
    expect(counters).toEqual([1]);
    next.db.close();
  });

  it.skipIf(MUTATION_RUN)('a taker killed at its COMMIT: the nonce is consumed or unused, never both, and an unused one is taken once', async () => {
    const outcomes = new Set<string>();
    for (let round = 0; round < 4; round++) {
      const dir = fresh();
      const gen = recording();
      const { db, nonces } = signer(dir);
      const { pubnonce } = await nonces.issue(CTX, gen.generate);
      db.close();
      const child = startSqliteChild(['take-at-commit', dir, toHex(KEY), toHex(pubnonce), CTX, String(50 * round)]);
      await child.waitFor('committing\n');
      await killNow(child);
      const next = signer(dir);
      const state = await next.nonces.status(pubnonce);
      outcomes.add(state);
      const expected = state === 'unused' ? [`ok:${gen.issued[0]!.secnonce}`, 'E_NONCE_USED'] : ['E_NONCE_USED', 'E_NONCE_USED'];
      expect(state).not.toBe('unknown');
      expect([await attempt(next.nonces, pubnonce, CTX), await attempt(next.nonces, pubnonce, CTX)]).toEqual(expected);
      next.db.close();
    }
    expect(outcomes.size).toBeGreaterThan(0);
  });

  it.skipIf(MUTATION_RUN)('a process issuing and taking in a loop, killed at random times (6 rounds): what it said committed is so; every nonce is taken at most once, with the secret it was issued with', async () => {
    const dir = fresh();
    const taken = new Map<number, string>();
    const issued = new Map<number, string>();
    for (let round = 0; round < 6; round++) {
      const child = startSqliteChild(['churn', dir, toHex(KEY)]);
      await child.waitFor('ready\n');
      await new Promise((r) => setTimeout(r, 30 + Math.floor(Math.random() * 200)));
      const { signal, code, stdout, stderr } = await killNow(child);
      expect({ signal, code }, stderr).toEqual({ signal: 'SIGKILL', code: null });
      for (const line of stdout.split('\n')) {
        const [what, c, hex] = line.split(' ');
        if (what === 'issued') issued.set(Number(c), hex!);
        if (what === 'took') {
          expect(taken.has(Number(c)), `nonce ${c} taken twice`).toBe(false);
          expect(hex).toBe(toHex(churnNonce(Number(c)).secnonce));
          taken.set(Number(c), hex!);
        }
      }
    }
    expect(taken.size).toBeGreaterThan(0);
    const { db, nonces } = signer(dir);
    const rows = allRows(db);
    const last = Number(counter(db));
    expect(last).toBeGreaterThanOrEqual(Math.max(...issued.keys()));
    // Each counter drawn names one nonce (a kill before its COMMIT took its tick back too): its row, if any, by its id.
    const byId = new Map(Array.from({ length: last }, (_, i) => [nonceId(churnNonce(i + 1).pubnonce), i + 1] as const));
    expect(rows.every((r) => byId.has(r.id))).toBe(true);
    for (const [c, pub] of issued) expect(rows.some((r) => r.id === nonceId(pub)), `issued ${c}`).toBe(true);
    for (const c of taken.keys()) expect(await nonces.status(churnNonce(c).pubnonce), `taken ${c}`).toBe('consumed');
    // An unused one (a kill between its issue and its take): taken once now, with its own secret.
    for (const r of rows.filter((x) => x.consumed === 0)) {
      const c = byId.get(r.id)!;
      expect(taken.has(c)).toBe(false);
      const pub = churnNonce(c).pubnonce;
      expect([await attempt(nonces, pub, 'churn'), await attempt(nonces, pub, 'churn')]).toEqual([`ok:${toHex(churnNonce(c).secnonce)}`, 'E_NONCE_USED']);
    }
    db.close();
  });
});

/**
 * The invariants of nonces.ts against a model, on random sequences of what callers do — issue,
 * take (the right context, another, a stranger's nonce, another key), burn, a take inside a
 * step that then fails, a new connection — each step's outcome predicted by the model: a
 * nonce's secret is handed out once, and only its own; refusals change nothing.
 */
describe('property: the nonce table against its model', () => {
  type Op =
    | { kind: 'issue'; ctx: number }
    | { kind: 'take' | 'burn'; nonce: number; ctx: number }
    | { kind: 'take-then-fail'; nonce: number }
    | { kind: 'take-other-key'; nonce: number }
    | { kind: 'reopen' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('issue' as const), ctx: fc.nat(2) }),
    fc.record({ kind: fc.constantFrom('take' as const, 'burn' as const), nonce: fc.nat(7), ctx: fc.nat(2) }),
    fc.record({ kind: fc.constantFrom('take-then-fail' as const, 'take-other-key' as const), nonce: fc.nat(7) }),
    fc.constant({ kind: 'reopen' as const }),
  );
  const ctxOf = (i: number) => `ctx/${i}`;

  it('each outcome is the model\'s; no secret twice', async () => {
    const other = Sealer.fromSecret(new Uint8Array(randomBytes(32)));
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (ops) => {
        const dir = fresh();
        let { db, nonces } = signer(dir);
        // The model: issued nonces by index, with their context, state and secret.
        const model: { pub: Uint8Array; ctx: string; secret: string; used: boolean }[] = [];
        const handedOut = new Set<string>();
        let drawn = 0;
        try {
          for (const o of ops) {
            if (o.kind === 'reopen') {
              db.close();
              ({ db, nonces } = signer(dir));
              continue;
            }
            if (o.kind === 'issue') {
              const { pubnonce } = await nonces.issue(ctxOf(o.ctx), (c) => churnNonce(1000 * n + c));
              drawn++;
              model.push({ pub: pubnonce, ctx: ctxOf(o.ctx), secret: toHex(churnNonce(1000 * n + drawn).secnonce), used: false });
              continue;
            }
            const m = model[o.nonce];
            const pub = m?.pub ?? churnNonce(-1 - o.nonce).pubnonce; // a stranger's
            const expectRefusal = (ctx: string) => (!m ? 'E_NONCE_UNKNOWN' : m.used ? 'E_NONCE_USED' : m.ctx !== ctx ? 'E_NONCE_MISBOUND' : undefined);
            if (o.kind === 'take' || o.kind === 'burn') {
              const ctx = ctxOf(o.ctx);
              const refusal = expectRefusal(ctx);
              const got = o.kind === 'take' ? await attempt(nonces, pub, ctx) : await nonces.burn(pub, ctx).then(() => 'ok', (e: { code?: string }) => e.code ?? String(e));
              if (refusal) expect(got).toBe(refusal);
              else {
                expect(got).toBe(o.kind === 'take' ? `ok:${m!.secret}` : 'ok');
                m!.used = true;
                if (o.kind === 'take') {
                  expect(handedOut.has(m!.secret)).toBe(false);
                  handedOut.add(m!.secret);
                }
              }
            } else if (o.kind === 'take-then-fail') {
              const boom = new Error('refused after the take');
              const got = await db.step(async () => {
                await nonces.take(pub, m?.ctx ?? 'ctx/0');
                throw boom;
              }).catch((e: unknown) => e);
              expect(got === boom ? 'rolled back' : (got as { code?: string }).code).toBe(expectRefusal(m?.ctx ?? 'ctx/0') ?? 'rolled back');
            } else {
              const got = await attempt(new SqliteNonces(db, other), pub, m?.ctx ?? 'ctx/0');
              expect(got).toBe(expectRefusal(m?.ctx ?? 'ctx/0') ?? 'E_STATE_CORRUPT');
            }
            for (const x of model) expect(await nonces.status(x.pub)).toBe(x.used ? 'consumed' : 'unused');
          }
        } finally {
          db.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});
