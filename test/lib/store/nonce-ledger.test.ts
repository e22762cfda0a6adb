/**
 * The nonce ledger (src/lib/store/nonce-ledger.ts), alone: a signer opens a nonce only if
 * it issued it and has not opened it since, whatever its store says. In memory (a
 * process epoch) and as a journal shared by the processes of one host (a host epoch, a
 * SQLite mint directory): entries pending until `settle`, given back by `discard` (a
 * rollback before COMMIT), final after; a racing process's claim refused at settle; a
 * torn tail ignored and cut; a damaged line refused; compaction and pruning keep it bounded;
 * a COMMIT whose answer was lost keeps its nonces unopenable without an alarm.
 *
 * And the one exception (the invariant made precise: never two DIFFERENT partial
 * signatures under one secret nonce): a nonce opened for a signing session's digest is
 * opened again for that same digest — a stream's retry after a lost COMMIT or a rollback
 * after `settle`, a SQLite step killed before its COMMIT, a rewound row with the same
 * request (allowed, with the alarm said) — and for no other digest, none, or after a burn.
 */
import { appendFileSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COMPACT_MIN, NonceLedger } from '../../../src/lib/store/nonce-ledger.ts';
import { tempDir } from '../../helpers.ts';
import { refusalAsync } from '../../setup/refusal.ts';

const tmp = tempDir('offchain-ledger-');
afterAll(() => tmp.cleanup());
let dirs = 0;
const freshDir = () => join(tmp.path, `ledger-${++dirs}`);
const id = (n: number) => n.toString(16).padStart(32, '0');
const opts = (alarms: string[] = [], notices: string[] = []) => ({ who: 'this test', where: 'nowhere', alarm: (m: string, refused: boolean) => (refused ? alarms : notices).push(m) });
/** Session digests (hex, 32 bytes), as `signingSessionDigest` gives them. */
const S = (n: number) => n.toString(16).padStart(64, 'a');

/** A transaction's end as a store runs it: settle, COMMIT (here: nothing), committed. */
async function commit(l: NonceLedger): Promise<void> {
  await l.settle();
  await l.committed();
}

/** Issue `ids` in one committed transaction. */
async function issued(l: NonceLedger, ids: string[]): Promise<void> {
  for (const i of ids) l.issued(i);
  await commit(l);
}

describe('the nonce ledger in memory (a process epoch)', () => {
  it('opens what it issued, once: a second claim, before or after settle, is the alarm (E_NONCE_REOPENED, exit 1); one never issued too', async () => {
    const alarms: string[] = [];
    const l = NonceLedger.inMemory(opts(alarms));
    await issued(l, [id(1), id(2)]);
    await l.claim(id(1), 'n1');
    await refusalAsync(l.claim(id(1), 'n1'), 'E_NONCE_REOPENED', 1); // twice in one transaction
    await commit(l);
    await refusalAsync(l.claim(id(1), 'n1'), 'E_NONCE_REOPENED', 1); // the store offers it again
    await refusalAsync(l.claim(id(9), 'n9'), 'E_NONCE_REOPENED', 1); // never issued here
    expect(alarms).toHaveLength(3);
    expect(alarms[1]).toMatch(/^ALARM: the store nowhere offers the mint's nonce n1 as unused, but this test already opened it/);
    await l.claim(id(2), 'n2');
    expect(l.size).toBe(1);
  });

  it('a rollback before COMMIT gives the claim back (a deadlock retried, a request refused after its nonce was taken); a savepoint only its own', async () => {
    const l = NonceLedger.inMemory(opts());
    await issued(l, [id(1), id(2)]);
    await l.claim(id(1), 'n1');
    l.discard();
    await l.claim(id(1), 'n1'); // the retry
    const mark = l.mark();
    await l.claim(id(2), 'n2');
    l.discard(mark); // the step with n2 failed, the batch goes on
    await commit(l);
    await refusalAsync(l.claim(id(1), 'n1'), 'E_NONCE_REOPENED', 1);
    await l.claim(id(2), 'n2');
  });

  it('an issue rolled back never enters it; a burn takes an entry out without opening it', async () => {
    const l = NonceLedger.inMemory(opts());
    l.issued(id(1));
    l.discard();
    await refusalAsync(l.claim(id(1), 'n1'), 'E_NONCE_REOPENED', 1);
    l.discard();
    await issued(l, [id(2)]);
    l.burned(id(2));
    l.burned(id(3)); // another epoch's: burning needs no entry
    await commit(l);
    expect(l.size).toBe(0);
    await refusalAsync(l.claim(id(2), 'n2'), 'E_NONCE_REOPENED', 1);
  });

  it('a COMMIT whose answer was lost: its nonces stay unopenable, refused as used (E_NONCE_USED, exit 5), not as an alarm', async () => {
    const alarms: string[] = [];
    const l = NonceLedger.inMemory(opts(alarms));
    await issued(l, [id(1)]);
    await l.claim(id(1), 'n1');
    await l.settle();
    l.commitLost();
    await refusalAsync(l.claim(id(1), 'n1'), 'E_NONCE_USED', 5);
    expect(alarms).toEqual([]);
  });

  it('a nonce opened for a session is opened again for that session only: after a COMMIT, with the alarm said but not refused; for another session, none, or after a burn, the alarm refusal', async () => {
    const alarms: string[] = [];
    const notices: string[] = [];
    const l = NonceLedger.inMemory(opts(alarms, notices));
    await issued(l, [id(1), id(2)]);
    await l.claim(id(1), 'n1', S(1));
    await commit(l);
    // A writer put the row back and the same request came: the same partial signature again.
    await l.claim(id(1), 'n1', S(1));
    await commit(l);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/^ALARM: the store nowhere offers the mint's nonce n1 as unused, but this test already opened it and its COMMIT was done: .* signed again with the same signature/);
    await refusalAsync(l.claim(id(1), 'n1', S(2)), 'E_NONCE_REOPENED', 1); // another session
    await refusalAsync(l.claim(id(1), 'n1'), 'E_NONCE_REOPENED', 1); // no session named
    expect(alarms).toHaveLength(2);
    // Opened without a session: never again, not even "for" one.
    await l.claim(id(2), 'n2');
    await commit(l);
    await refusalAsync(l.claim(id(2), 'n2', S(2)), 'E_NONCE_REOPENED', 1);
    // A burn after the opening (an abandon): nothing to open it again for.
    l.burned(id(1));
    await commit(l);
    await refusalAsync(l.claim(id(1), 'n1', S(1)), 'E_NONCE_REOPENED', 1);
    expect(notices).toHaveLength(1);
  });

  it('settled but its COMMIT never sent or its answer lost: the same session again is opened without an alarm (a stream serving the request again), another is E_NONCE_USED', async () => {
    const alarms: string[] = [];
    const notices: string[] = [];
    const l = NonceLedger.inMemory(opts(alarms, notices));
    await issued(l, [id(1), id(2)]);
    // Settled, then the transaction failed before COMMIT was sent (the counter's tick lost its connection).
    await l.claim(id(1), 'n1', S(1));
    await l.settle();
    l.discard();
    await refusalAsync(l.claim(id(1), 'n1', S(9)), 'E_NONCE_USED', 5);
    l.discard();
    await l.claim(id(1), 'n1', S(1));
    await commit(l);
    // The COMMIT's answer lost, and the store says it did not happen.
    await l.claim(id(2), 'n2', S(2));
    await l.settle();
    l.commitLost();
    await refusalAsync(l.claim(id(2), 'n2', S(3)), 'E_NONCE_USED', 5);
    l.discard();
    await l.claim(id(2), 'n2', S(2));
    await commit(l);
    expect({ alarms, notices }).toEqual({ alarms: [], notices: [] });
    // Once its COMMIT is done, another session is the alarm.
    await refusalAsync(l.claim(id(2), 'n2', S(3)), 'E_NONCE_REOPENED', 1);
  });

  it('bounded: the digests of the last COMPACT_MIN committed openings are kept; an older one is forgotten, and its nonce refused for every session', async () => {
    const l = NonceLedger.inMemory(opts());
    const ids = Array.from({ length: COMPACT_MIN + 1 }, (_, i) => id(i + 1));
    await issued(l, ids);
    for (const [i, n] of ids.entries()) {
      await l.claim(n, n, S(i + 1));
      await commit(l);
    }
    await refusalAsync(l.claim(ids[0]!, 'oldest', S(1)), 'E_NONCE_REOPENED', 1);
    l.discard();
    await l.claim(ids[1]!, 'kept', S(2));
  });

  it('bounded: past the threshold, ids the store shows consumed (burned elsewhere) are pruned', async () => {
    const asked: number[] = [];
    const l = NonceLedger.inMemory({ ...opts(), consumed: async (ids) => { asked.push(ids.length); return new Set(ids.filter((i) => parseInt(i, 16) % 2 === 0)); } });
    await issued(l, Array.from({ length: COMPACT_MIN + 2 }, (_, i) => id(i)));
    expect(asked).toEqual([COMPACT_MIN + 2]);
    expect(l.size).toBe(COMPACT_MIN / 2 + 1);
    await l.claim(id(1), 'odd'); // kept
    await refusalAsync(l.claim(id(2), 'even'), 'E_NONCE_REOPENED', 1); // pruned: refused (it only ever refuses more)
  });
});

describe('the nonce ledger as a journal (a host epoch, a SQLite mint directory)', () => {
  it('two processes of one host: what one issues the other opens (read on a miss); a stale view is caught at settle, under the lock', async () => {
    const dir = freshDir();
    const a = NonceLedger.onDisk(dir, 'e1', opts());
    const b = NonceLedger.onDisk(dir, 'e1', opts());
    await refusalAsync(b.claim(id(9), 'n9'), 'E_NONCE_REOPENED', 1); // b has read the (missing) journal
    b.discard();
    await issued(a, [id(1), id(2)]);
    await b.claim(id(1), 'n1'); // a miss: b reads what a wrote since
    await commit(b);
    await a.claim(id(1), 'n1'); // a's view still holds it…
    await refusalAsync(a.settle(), 'E_NONCE_REOPENED', 1); // …the journal does not
    a.discard();
    await a.claim(id(2), 'n2');
    await commit(a);
  });

  it('a claim both processes passed before either settled: the second settle refuses, nothing of it written', async () => {
    const dir = freshDir();
    const a = NonceLedger.onDisk(dir, 'e1', opts());
    await issued(a, [id(1)]);
    const b = NonceLedger.onDisk(dir, 'e1', opts());
    const c = NonceLedger.onDisk(dir, 'e1', opts());
    await b.claim(id(1), 'n1');
    await c.claim(id(1), 'n1');
    await b.settle();
    const journal = readFileSync(join(dir, 'journal'), 'utf8');
    await refusalAsync(c.settle(), 'E_NONCE_REOPENED', 1);
    expect(readFileSync(join(dir, 'journal'), 'utf8')).toBe(journal);
    expect(journal.split('\n')).toEqual(['offchain nonce ledger v1 e1', `+${id(1)}`, `-${id(1)}`, '']);
  });

  it('the journal: 0600 in a 0700 directory, fsynced lines; a torn tail (an append whose COMMIT was never sent) is ignored, then cut', async () => {
    const dir = freshDir();
    const a = NonceLedger.onDisk(dir, 'e1', opts());
    await issued(a, [id(1)]);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'journal')).mode & 0o777).toBe(0o600);
    appendFileSync(join(dir, 'journal'), `-${id(1).slice(0, 10)}`); // torn: no newline
    const b = NonceLedger.onDisk(dir, 'e1', opts());
    await b.claim(id(1), 'n1'); // the torn line never happened
    b.issued(id(2));
    await b.settle();
    expect(readFileSync(join(dir, 'journal'), 'utf8')).toBe(`offchain nonce ledger v1 e1\n+${id(1)}\n-${id(1)}\n+${id(2)}\n`);
  });

  it('a damaged line or another ledger\'s journal is E_STATE_CORRUPT (exit 3), never read as entries', async () => {
    const dir = freshDir();
    await issued(NonceLedger.onDisk(dir, 'e1', opts()), [id(1)]);
    appendFileSync(join(dir, 'journal'), '+not-an-id\n');
    await refusalAsync(NonceLedger.onDisk(dir, 'e1', opts()).claim(id(1), 'n1'), 'E_STATE_CORRUPT', 3);
    const other = freshDir();
    await issued(NonceLedger.onDisk(other, 'e1', opts()), [id(1)]);
    await refusalAsync(NonceLedger.onDisk(other, 'e2', opts()).claim(id(1), 'n1'), 'E_STATE_CORRUPT', 3);
  });

  it('bounded: compacted to the live entries, pruned of those the store shows consumed; a compaction is seen by the other processes', async () => {
    const dir = freshDir();
    const all = Array.from({ length: COMPACT_MIN }, (_, i) => id(i + 1));
    const a = NonceLedger.onDisk(dir, 'e1', { ...opts(), consumed: async (ids) => new Set(ids.filter((i) => i === id(2))) });
    const b = NonceLedger.onDisk(dir, 'e1', opts());
    await issued(a, all);
    await b.claim(id(3), 'n3'); // b has read the journal before the compaction
    b.discard();
    for (const i of all.slice(3, COMPACT_MIN - 10)) await a.claim(i, i);
    await commit(a);
    a.issued(id(99_999));
    await a.settle(); // lines > max(COMPACT_MIN, 2 × entries): compacted, id(2) pruned
    const lines = readFileSync(join(dir, 'journal'), 'utf8').split('\n').filter(Boolean);
    expect(lines).toEqual(['offchain nonce ledger v1 e1', `+${id(1)}`, `+${id(3)}`, ...all.slice(COMPACT_MIN - 10).map((i) => `+${i}`), `+${id(99_999)}`]);
    await b.claim(all[5]!, 'opened by a'); // b's view predates the compaction…
    await refusalAsync(b.settle(), 'E_NONCE_REOPENED', 1); // …its settle reads the new file
    b.discard();
    await b.claim(id(3), 'n3');
    await commit(b);
    await a.claim(id(3), 'n3');
    await refusalAsync(a.settle(), 'E_NONCE_REOPENED', 1);
  });

  it('a step interrupted between its journal and its COMMIT (a crash): opened again for its own session only (no alarm), another is E_NONCE_USED (exit 5, no alarm); once committed, the same session with the alarm said, another the alarm refusal', async () => {
    const dir = freshDir();
    const alarms: string[] = [];
    const notices: string[] = [];
    const crashed = NonceLedger.onDisk(dir, 'e1', opts(alarms, notices));
    await issued(crashed, [id(1), id(2)]);
    await crashed.claim(id(1), 'n1', S(1));
    await crashed.settle(); // killed here: no COMMIT, no `=` line
    const next = NonceLedger.onDisk(dir, 'e1', opts(alarms, notices));
    await refusalAsync(next.claim(id(1), 'n1', S(2)), 'E_NONCE_USED', 5);
    await refusalAsync(next.claim(id(1), 'n1'), 'E_NONCE_USED', 5);
    expect({ alarms, notices }).toEqual({ alarms: [], notices: [] });
    next.discard();
    await next.claim(id(1), 'n1', S(1)); // the same request sent again: its digest is in the journal
    await commit(next);
    expect(notices).toEqual([]);
    const after = NonceLedger.onDisk(dir, 'e1', opts(alarms, notices));
    await after.claim(id(1), 'n1', S(1)); // committed, offered again for the same session: said, signed the same
    await commit(after);
    expect(notices).toHaveLength(1);
    await refusalAsync(after.claim(id(1), 'n1', S(2)), 'E_NONCE_REOPENED', 1);
    expect(alarms).toHaveLength(1);
    expect(readFileSync(join(dir, 'journal'), 'utf8').split('\n').filter(Boolean)).toEqual([
      'offchain nonce ledger v1 e1', `+${id(1)}`, `+${id(2)}`, `-${id(1)} ${S(1)}`, `-${id(1)} ${S(1)}`, `=${id(1)}`, `-${id(1)} ${S(1)}`, `=${id(1)}`,
    ]);
  });

  it('shared by the processes of a host: the digest is durable, so another process opens the nonce again for that session only; two racing openings settle only if their sessions are the same', async () => {
    const dir = freshDir();
    const a = NonceLedger.onDisk(dir, 'e1', opts());
    await issued(a, [id(1), id(2)]);
    await a.claim(id(1), 'n1', S(1));
    await commit(a);
    const b = NonceLedger.onDisk(dir, 'e1', opts());
    await refusalAsync(b.claim(id(1), 'n1', S(2)), 'E_NONCE_REOPENED', 1);
    b.discard();
    await b.claim(id(1), 'n1', S(1));
    await commit(b);
    // Both claim id(2) before either settles: the same session settles twice (the same
    // signature), another session is refused at settle, nothing of it written.
    const c = NonceLedger.onDisk(dir, 'e1', opts());
    const d = NonceLedger.onDisk(dir, 'e1', opts());
    const e = NonceLedger.onDisk(dir, 'e1', opts());
    await c.claim(id(2), 'n2', S(2));
    await d.claim(id(2), 'n2', S(2));
    await e.claim(id(2), 'n2', S(3));
    await c.settle();
    await d.settle();
    const journal = readFileSync(join(dir, 'journal'), 'utf8');
    await refusalAsync(e.settle(), 'E_NONCE_REOPENED', 1);
    expect(readFileSync(join(dir, 'journal'), 'utf8')).toBe(journal);
  });

  it('a journal cut back to before an opening, or replaced without it, under a live process: the nonces it opened stay opened (E_NONCE_REOPENED for every session), whatever the file now says', async () => {
    for (const damage of ['cut back', 'replaced'] as const) {
      const dir = freshDir();
      const alarms: string[] = [];
      const a = NonceLedger.onDisk(dir, 'e1', opts(alarms));
      await issued(a, [id(1), id(2)]);
      const before = readFileSync(join(dir, 'journal'), 'utf8'); // header, +1, +2
      await a.claim(id(1), 'n1', S(1));
      await commit(a);
      // A writer of the directory puts the journal back as it was before the opening (with
      // the nonce's row rewound in the store, a second session would be signed with it).
      if (damage === 'replaced') rmSync(join(dir, 'journal'));
      writeFileSync(join(dir, 'journal'), before);
      await refusalAsync(a.claim(id(1), 'n1', S(2)), 'E_NONCE_REOPENED', 1);
      a.discard();
      await refusalAsync(a.claim(id(1), 'n1', S(1)), 'E_NONCE_REOPENED', 1); // its digest went with the lines: refused too
      a.discard();
      expect(alarms.length).toBe(2);
      await a.claim(id(2), 'n2', S(3)); // what it never opened, the file is believed for
      await commit(a);
    }
  });

  it('a digest that is not 32 bytes of hex is a damaged journal (E_STATE_CORRUPT, exit 3); compaction keeps the digests of unsure openings and drops the committed ones (refusing more)', async () => {
    const dir = freshDir();
    await issued(NonceLedger.onDisk(dir, 'e1', opts()), [id(1)]);
    appendFileSync(join(dir, 'journal'), `-${id(1)} ${S(1).slice(2)}\n`);
    await refusalAsync(NonceLedger.onDisk(dir, 'e1', opts()).claim(id(1), 'n1'), 'E_STATE_CORRUPT', 3);
    const other = freshDir();
    const all = Array.from({ length: COMPACT_MIN }, (_, i) => id(i + 1));
    const a = NonceLedger.onDisk(other, 'e1', opts());
    await issued(a, all);
    await a.claim(id(1), 'n1', S(1));
    await commit(a); // committed
    await a.claim(id(2), 'n2', S(2));
    await a.settle(); // unsure (its `=` never written)
    for (const i of all.slice(2, COMPACT_MIN - 10)) await a.claim(i, i);
    await commit(a);
    a.issued(id(99_999));
    await a.settle(); // lines > max(COMPACT_MIN, 2 × entries): compacted
    const lines = readFileSync(join(other, 'journal'), 'utf8').split('\n').filter(Boolean);
    expect(lines).toEqual(['offchain nonce ledger v1 e1', ...all.slice(COMPACT_MIN - 10).map((i) => `+${i}`), `+${id(99_999)}`, `+${id(2)}`, `-${id(2)} ${S(2)}`]);
    const b = NonceLedger.onDisk(other, 'e1', opts());
    await refusalAsync(b.claim(id(1), 'n1', S(1)), 'E_NONCE_REOPENED', 1); // its digest went with its lines
    b.discard();
    await b.claim(id(2), 'n2', S(2)); // unsure: kept, with its digest
  });

  it("a live signer whose journal vanishes (deleted beside a rewound SQLite file) never starts again from the store: the nonce it opened stays refused for another session", async () => {
    // Before: the next settle found no journal and took the store's unused nonces as its
    // ledger again — the rewound row among them — and the nonce opened for S(1) opened for S(2).
    const dir = freshDir();
    const unused = new Set([id(1), id(2)]);
    const alarms: string[] = [];
    const l = NonceLedger.onDisk(dir, 'sqlite', opts(alarms), async () => [...unused]);
    await l.claim(id(1), 'n1', S(1));
    await commit(l);
    unused.delete(id(1)); // its row consumed
    // Whoever writes the directory puts n1's row back unused and removes the journal.
    unused.add(id(1));
    rmSync(join(dir, 'journal'));
    l.issued(id(3)); // an unrelated request of the same live process
    unused.add(id(3));
    await commit(l);
    await refusalAsync(l.claim(id(1), 'n1', S(2)), 'E_NONCE_REOPENED', 1);
    // What it still holds is still openable, and the journal written again says so for the host's next process.
    await l.claim(id(2), 'n2', S(3));
    const next = NonceLedger.onDisk(dir, 'sqlite', opts(), async () => [...unused]);
    await refusalAsync(next.claim(id(1), 'n1', S(2)), 'E_NONCE_REOPENED', 1);
    await next.claim(id(3), 'n3', S(4));
  });

  it('no journal yet: started from what the store holds (SQLite\'s unused nonces), written at the first settle', async () => {
    const dir = freshDir();
    const l = NonceLedger.onDisk(dir, 'sqlite', opts(), async () => [id(1), id(2)]);
    await l.claim(id(1), 'n1');
    await commit(l);
    expect(readFileSync(join(dir, 'journal'), 'utf8')).toBe(`offchain nonce ledger v1 sqlite\n+${id(1)}\n+${id(2)}\n-${id(1)}\n=${id(1)}\n`);
    // From then on the journal is the record, not the store.
    const again = NonceLedger.onDisk(dir, 'sqlite', opts(), async () => [id(1), id(2), id(3)]);
    await refusalAsync(again.claim(id(1), 'n1'), 'E_NONCE_REOPENED', 1);
    await refusalAsync(again.claim(id(3), 'n3'), 'E_NONCE_REOPENED', 1);
    await again.claim(id(2), 'n2');
    expect(await NonceLedger.journalExists(dir)).toBe(true);
    expect(await NonceLedger.journalExists(freshDir())).toBe(false);
    writeFileSync(join(dir, 'journal'), ''); // an empty file: no header
    await refusalAsync(NonceLedger.onDisk(dir, 'sqlite', opts()).claim(id(2), 'n2'), 'E_NONCE_REOPENED', 1);
  });
});
