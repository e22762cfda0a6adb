/**
 * The nonce ledger (src/lib/store/nonce-ledger.ts), alone: a PostgreSQL mint process opens a
 * nonce only if it issued it and has not opened it since, whatever its store says. In the
 * process's memory (its journal on disk went with the host epochs): entries pending until
 * `settle`, given back by `discard` (a rollback before COMMIT), final after; pruning keeps it
 * bounded; a COMMIT whose answer was lost keeps its nonces unopenable without an alarm.
 *
 * And the one exception (the invariant made precise: never two DIFFERENT partial
 * signatures under one secret nonce): a nonce opened for a signing session's digest is
 * opened again for that same digest — a stream's retry after a lost COMMIT or a rollback
 * after `settle`, a SQLite step killed before its COMMIT, a rewound row with the same
 * request (allowed, with the alarm said) — and for no other digest, none, or after a burn.
 */
import { describe, expect, it } from 'vitest';
import { COMPACT_MIN, NonceLedger } from '../../../src/lib/store/nonce-ledger.ts';
import { refusalAsync } from '../../setup/refusal.ts';

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
    const l = new NonceLedger(opts(alarms));
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
    const l = new NonceLedger(opts());
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
    const l = new NonceLedger(opts());
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
    const l = new NonceLedger(opts(alarms));
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
    const l = new NonceLedger(opts(alarms, notices));
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
    const l = new NonceLedger(opts(alarms, notices));
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
    const l = new NonceLedger(opts());
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
    const l = new NonceLedger({ ...opts(), consumed: async (ids) => { asked.push(ids.length); return new Set(ids.filter((i) => parseInt(i, 16) % 2 === 0)); } });
    await issued(l, Array.from({ length: COMPACT_MIN + 2 }, (_, i) => id(i)));
    expect(asked).toEqual([COMPACT_MIN + 2]);
    expect(l.size).toBe(COMPACT_MIN / 2 + 1);
    await l.claim(id(1), 'odd'); // kept
    await refusalAsync(l.claim(id(2), 'even'), 'E_NONCE_REOPENED', 1); // pruned: refused (it only ever refuses more)
  });

  it('a session digest that is not 32 bytes of hex is refused before anything is claimed', async () => {
    const l = new NonceLedger(opts());
    await issued(l, [id(1)]);
    for (const bad of [S(1).slice(2), S(1).toUpperCase(), `${S(1)}00`]) await expect(l.claim(id(1), 'n1', bad)).rejects.toThrow('a session digest is 32 bytes of hex');
    await l.claim(id(1), 'n1', S(1));
  });
});
