/**
 * One secret nonce signs once on a PostgreSQL mint, whoever writes the database
 * (src/lib/store/pg/mint-store.ts: the restore rule's first half and THE LEDGER RULE;
 * src/lib/store/nonce-ledger.ts). Library level: each `PgMintStore.open` is one mint process
 * (./process-stores.ts) — its own epoch row, its own random key and ledger in its memory —
 * on its own connection, as separate processes are.
 *
 * - A nonce opens only in the process that issued it: another process (another machine, a
 *   copy of a host's --state-dir, the same service restarted) holds no key for it and is
 *   refused E_NONCE_ELSEWHERE (exit 5), nothing written, the nonce not burned — it can burn
 *   it (the user's abandon) but never sign with it.
 * - Processes racing for every nonce at once: exactly one opening each, by its issuer; every
 *   epoch's counter is exactly its own process's nonce transactions (no false rollback).
 * - A DBA who puts a used nonce's row back (past the single-use trigger), again and again:
 *   the live process refuses it every time (E_NONCE_REOPENED, exit 1, an alarm), nothing
 *   written; a fresh process cannot open it either; a burn still takes it out.
 * - A DBA who puts three ticks' worth of rows back and sets the epoch counter so the restore
 *   check passes: the ledger alone refuses each revived nonce for another session, and signs
 *   the session it was opened for again — the same secret for the same message.
 *
 * Replaced (the machinery is gone): host epochs shared a key file among one host's one-shot
 * commands (host-epoch.test.ts "shares one key among a host's commands", "a key file written
 * once", "a retirement killed mid-shred") and kept a ledger journal beside it
 * (ledger-host.test.ts "a used epoch without its ledger", witness-review.test.ts "a long-lived
 * process holding an old read of a compacted journal"). No process shares a key now, and a
 * process's ledger is its memory: the first tests here show a nonce opens in no other
 * process, and one-shot-steps.test.ts that a --state-dir holds nothing of a PostgreSQL mint.
 */
import { expect, it } from 'vitest';
import { describePostgres } from './fixture.ts';
import { refusalAsync } from '../setup/refusal.ts';
import { admin, counterOf, hexOf, issueOn, mintProcess, nonceTables, session, storeTarget, takeOn } from './process-stores.ts';
import { rewind, rows, save } from './rewind.ts';
import { seeded } from '../helpers.ts';

describePostgres('a nonce signs once on a PostgreSQL mint', (fx) => {
  let db = 0;
  const target = () => storeTarget(fx.server, `once_${++db}`);

  it('a nonce opens only in the process that issued it: another is refused E_NONCE_ELSEWHERE naming it, nothing written, not burned; it can burn it; the issuer opens it', async () => {
    const { t, url } = await target();
    const [a, b] = [await mintProcess(t), await mintProcess(t)];
    const dba = await admin(fx.server, url);
    try {
      const n = await issueOn(a, 'ctx:1');
      const before = await rows(dba);
      const e = await refusalAsync(b.step(() => b.take(n.pub, 'ctx:1')), 'E_NONCE_ELSEWHERE', 5);
      expect(e.message).toMatch(new RegExp(`issued by another mint process \\(epoch ${a.epoch.slice(0, 8)}…, pid ${process.pid} on `));
      expect(await rows(dba), 'a refusal writes nothing').toBe(before);
      expect(await b.status(n.pub)).toBe('unused');
      // The issuer signs with it, once.
      expect(await takeOn(a, n, 'ctx:1')).toBe(hexOf(n.sec));
      expect(await takeOn(a, n, 'ctx:1')).toBe('refused E_NONCE_USED');
      // Another nonce of A's, burned by B (the user's abandon reached B): consumed, never opened.
      const m = await issueOn(a, 'ctx:2');
      await b.step(() => b.burn(m.pub, 'ctx:2'));
      expect(await a.status(m.pub)).toBe('consumed');
      expect(await takeOn(a, m, 'ctx:2')).toBe('refused E_NONCE_USED');
    } finally {
      await Promise.all([a.close(), b.close(), dba.end()]);
    }
  }, 60_000);

  it('a process restarted (or killed): the nonces its predecessor issued open nowhere — E_NONCE_ELSEWHERE ("a process that is gone" once its row is deleted) — and are burned, not signed', async () => {
    const { t } = await target();
    const first = await mintProcess(t);
    const n = await issueOn(first, 'ctx:1');
    const killed = await mintProcess(t);
    const k = await issueOn(killed, 'ctx:2');
    await first.close(); // its key wiped, its epoch row deleted
    await killed.abandon(); // kill -9: the key gone with the process, its row left behind
    const next = await mintProcess(t);
    try {
      const gone = await refusalAsync(next.step(() => next.take(n.pub, 'ctx:1')), 'E_NONCE_ELSEWHERE', 5);
      expect(gone.message).toContain('a process that is gone');
      await refusalAsync(next.step(() => next.take(k.pub, 'ctx:2')), 'E_NONCE_ELSEWHERE', 5);
      for (const [x, ctx] of [[n, 'ctx:1'], [k, 'ctx:2']] as const) {
        await next.step(() => next.burn(x.pub, ctx));
        expect(await next.status(x.pub)).toBe('consumed');
      }
      // Its own nonces it signs with.
      const m = await issueOn(next, 'ctx:3');
      expect(await takeOn(next, m, 'ctx:3')).toBe(hexOf(m.sec));
    } finally {
      await next.close();
    }
  }, 60_000);

  it('three processes racing for every nonce at once: each opened exactly once, by its issuer; every epoch counter is its own process\'s nonce transactions (no false rollback)', async () => {
    const { t, url } = await target();
    const PROCS = 3;
    const EACH = 8;
    const procs = await Promise.all(Array.from({ length: PROCS }, () => mintProcess(t)));
    const dba = await admin(fx.server, url);
    try {
      const issued = (await Promise.all(procs.map(async (p, i) => {
        const out = [];
        for (let k = 0; k < EACH; k++) out.push({ n: await issueOn(p, `ctx:${i}:${k}`), ctx: `ctx:${i}:${k}`, by: i });
        return out;
      }))).flat();
      const rnd = seeded(43);
      /** nonce index → every process that got its secret. */
      const openedBy = new Map<number, number[]>();
      const refusals = new Set<string>();
      // Each process asks for every nonce, in its own shuffled order, all processes at once.
      await Promise.all(procs.map(async (p, i) => {
        const order = issued.map((_, j) => j).sort(() => rnd() - 0.5);
        for (const j of order) {
          const { n, ctx } = issued[j]!;
          const got = await takeOn(p, n, ctx);
          if (got.startsWith('refused')) refusals.add(got);
          else {
            expect(got, 'the nonce\'s own secret').toBe(hexOf(n.sec));
            openedBy.set(j, [...(openedBy.get(j) ?? []), i]);
          }
        }
      }));
      expect(issued.map((x, j) => openedBy.get(j))).toEqual(issued.map((x) => [x.by]));
      for (const r of refusals) expect(['refused E_NONCE_ELSEWHERE', 'refused E_NONCE_USED']).toContain(r);
      expect(refusals.has('refused E_NONCE_ELSEWHERE')).toBe(true);
      // Each epoch ticked once per nonce transaction its process committed: its issues and its own takes.
      for (const p of procs) {
        expect(p.broken).toBeUndefined();
        expect(await counterOf(dba, p.epoch)).toBe(2 * EACH);
      }
    } finally {
      await Promise.all([...procs.map((p) => p.close()), dba.end()]);
    }
  }, 120_000);

  it('the DBA puts a used nonce\'s row back, three times: the live process refuses it each time (E_NONCE_REOPENED, exit 1, an alarm), nothing written, never opened twice; a fresh process cannot open it; a burn takes it out', async () => {
    const { t, url } = await target();
    const a = await mintProcess(t);
    const dba = await admin(fx.server, url);
    try {
      const n = await issueOn(a, 'ctx:a');
      expect((await dba.query("INSERT INTO contracts (contract_id, record) VALUES ('c', '{\"contract_id\":\"c\",\"status\":\"open\"}')")).rowCount).toBe(1);
      const saved = await save(dba, 'c', hexOf(n.pub));
      expect(await takeOn(a, n, 'ctx:a', session(1))).toBe(hexOf(n.sec));
      const opened: string[] = [];
      for (let i = 0; i < 3; i++) {
        await rewind(dba, 'c', saved);
        const before = await rows(dba);
        const got = await takeOn(a, n, 'ctx:a', session(2 + i));
        if (!got.startsWith('refused')) opened.push(got);
        expect(got).toBe('refused E_NONCE_REOPENED');
        expect(await rows(dba), 'a refusal writes nothing').toBe(before);
      }
      expect(opened).toEqual([]);
      expect(a.alarms.map((x) => x.refused)).toEqual([true, true, true]);
      expect(a.alarms[0]!.message).toMatch(/^ALARM: the store postgres:\/\/.* offers the mint's nonce [0-9a-f]{16}… as unused, but this process \(pid \d+, epoch [0-9a-f]{8}…\) already opened it/);
      // Another process holds no key for it.
      const b = await mintProcess(t);
      expect(await takeOn(b, n, 'ctx:a', session(9))).toBe('refused E_NONCE_ELSEWHERE');
      await b.close();
      // The user's abandon: burned (no secret opened), consumed for good.
      await a.step(() => a.burn(n.pub, 'ctx:a'));
      expect(await a.status(n.pub)).toBe('consumed');
      expect(a.broken).toBeUndefined();
    } finally {
      await Promise.all([a.close(), dba.end()]);
    }
  }, 60_000);

  it('the DBA puts three ticks back (every nonce they opened unused again) and sets the counter to what the process counted: the restore check passes, the ledger refuses each revived nonce for another session, and signs the session it was opened for again', async () => {
    const { t, url } = await target();
    const a = await mintProcess(t);
    const dba = await admin(fx.server, url);
    const tables = nonceTables(dba);
    try {
      const ns = [await issueOn(a, 'ctx:0'), await issueOn(a, 'ctx:1'), await issueOn(a, 'ctx:2')];
      const before = await tables.snapshot();
      for (const [i, n] of ns.entries()) expect(await takeOn(a, n, `ctx:${i}`, session(1))).toBe(hexOf(n.sec));
      const counted = (await counterOf(dba, a.epoch))!;
      expect(counted).toBe(6);
      await tables.restore(before);
      await dba.query('UPDATE epochs SET counter = $2 WHERE epoch = $1', [a.epoch, counted]);
      const got: string[] = [];
      for (const [i, n] of ns.entries()) got.push(await takeOn(a, n, `ctx:${i}`, session(2)));
      expect(got).toEqual(['refused E_NONCE_REOPENED', 'refused E_NONCE_REOPENED', 'refused E_NONCE_REOPENED']);
      // The session each was opened for: the same secret for the same message (nothing new), said as an alarm.
      expect(await takeOn(a, ns[0]!, 'ctx:0', session(1))).toBe(hexOf(ns[0]!.sec));
      expect(a.alarms.map((x) => x.refused)).toEqual([true, true, true, false]);
      expect(a.broken).toBeUndefined();
    } finally {
      await Promise.all([a.close(), dba.end()]);
    }
  }, 60_000);
}, { prefix: 'offchain-pg-once-' });
