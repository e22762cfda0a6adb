/**
 * The restore rule as a property (src/lib/store/pg/mint-store.ts, THE RESTORE RULE and THE
 * LEDGER RULE), on process epochs: random sequences over two live mint processes of one
 * PostgreSQL store — issue a nonce, take one for one of a few signing sessions (through its
 * issuer or the other process), a process killed while its COMMIT is on its way (it took a
 * nonce and issued the contract's next one; the COMMIT never reaches the server; a fresh
 * process takes its place), and restores of the database by one or more steps (the `epochs`
 * and `nonces` tables put back as they were after an earlier step, as a restore does; the
 * single-use trigger does not fire for a restore) —
 *
 * - never open one nonce for two different sessions (a killed process's opening counts: its
 *   partial signature was computed), and every opening returns that nonce's own secret;
 * - a process any of whose nonce transactions a restore undid (its row's counter below what
 *   the test counted it commit, or its row gone) commits nothing more: its next nonce
 *   transaction is E_STORE_ROLLED_BACK (then a fresh process takes its place, as a stream
 *   renews), and it never answers one with a secret; a process none of whose transactions
 *   were undone is never refused so (no false alarm).
 *
 * The test counts each process's committed nonce transactions itself (each issue and take
 * that answered); one database per run. Run by a-restore-is-refused.test.ts on its server.
 * Replaces witness-window.ts, the host epoch's witness window (gone with host epochs).
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import type pg from 'pg';
import type { PgFixture } from './fixture.ts';
import { admin, counterOf, hexOf, mintProcess, nonce, nonceTables, session, storeTarget, type NonceTables } from './process-stores.ts';

type Op =
  | { kind: 'issue'; p: number }
  | { kind: 'take'; p: number; pick: number; session: number }
  | { kind: 'kill'; p: number; pick: number; session: number }
  | { kind: 'restore'; back: number };

const proc = fc.nat(1);
/** `pick`: which nonce, counted from the newest (a few contracts, each paid again and again); `back`: how many steps a restore undoes, mostly one. */
const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('issue' as const), p: proc }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('take' as const), p: proc, pick: fc.nat(2), session: fc.integer({ min: 1, max: 2 }) }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('kill' as const), p: proc, pick: fc.nat(2), session: fc.integer({ min: 1, max: 2 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('restore' as const), back: fc.oneof({ arbitrary: fc.constant(1), weight: 2 }, { arbitrary: fc.integer({ min: 2, max: 3 }), weight: 1 }) }), weight: 3 },
);

let runs = 0;

type Proc = Awaited<ReturnType<typeof mintProcess>> & { committed: number; doomed: boolean };

export async function restoreProperty(fx: PgFixture, numRuns = 8): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 4, maxLength: 12 }), async (ops) => {
      const { t, url } = await storeTarget(fx.server, `restore_prop_${++runs}`);
      const dba: pg.Client = await admin(fx.server, url);
      const tables = nonceTables(dba);
      const fresh = async (): Promise<Proc> => Object.assign(await mintProcess(t), { committed: 0, doomed: false });
      const procs: Proc[] = [await fresh(), await fresh()];
      const nonces: { sec: Uint8Array; pub: Uint8Array; ctx: string }[] = [];
      /** nonce index → the sessions it was opened for (a secret returned, or computed by a killed process). */
      const opened = new Map<number, Set<number>>();
      const snapshots: string[] = [];
      const where = () => `(ops ${JSON.stringify(ops)})`;
      const record = (i: number, k: number) => {
        const set = opened.get(i) ?? new Set<number>();
        opened.set(i, set.add(k));
        expect(set.size, `nonce ${i} opened for sessions ${[...set].join(', ')} ${where()}`).toBe(1);
      };
      /** An answer of process `p` to a nonce transaction: a success counts, E_STORE_ROLLED_BACK replaces it. */
      const answered = async (p: number, ok: boolean, code?: string) => {
        const x = procs[p]!;
        if (ok) {
          expect(x.doomed, `process ${p} committed after a restore undid its transactions ${where()}`).toBe(false);
          x.committed++;
          return;
        }
        if (code === 'E_STORE_ROLLED_BACK') {
          expect(x.doomed, `process ${p} refused E_STORE_ROLLED_BACK with none of its transactions undone ${where()}`).toBe(true);
          await x.abandon();
          procs[p] = await fresh();
        }
      };
      try {
        snapshots.push(JSON.stringify(await tables.snapshot()));
        for (const o of ops) {
          if (o.kind === 'restore') {
            const at = Math.max(0, snapshots.length - 1 - o.back);
            await tables.restore(JSON.parse(snapshots[at]!) as NonceTables);
            snapshots.length = at + 1;
            // Undone: a process whose row says less than it committed, or whose row is gone.
            for (const x of procs) if ((await counterOf(dba, x.epoch)) !== x.committed) x.doomed = true;
            continue;
          }
          const x = procs[o.p]!;
          if (o.kind === 'issue') {
            const n = { ...nonce(), ctx: `ctx:${nonces.length}` };
            const r = await x.step(() => x.issue(n.ctx, () => ({ secnonce: Uint8Array.from(n.sec), pubnonce: n.pub }))).then(() => undefined, (e: { code?: string }) => e.code ?? String(e));
            if (r === undefined) nonces.push(n);
            else expect(r, where()).toBe('E_STORE_ROLLED_BACK');
            await answered(o.p, r === undefined, r);
          } else if (o.kind === 'take') {
            if (nonces.length === 0) continue;
            const i = Math.max(0, nonces.length - 1 - o.pick);
            const n = nonces[i]!;
            const got = await x.step(() => x.take(n.pub, n.ctx, session(o.session))).then(hexOf, (e: { code?: string }) => `refused ${e.code}`);
            if (!got.startsWith('refused')) {
              expect(got, 'the nonce\'s own secret').toBe(hexOf(n.sec));
              record(i, o.session);
              await answered(o.p, true);
            } else {
              expect(got, where()).toMatch(/^refused E_(NONCE_USED|NONCE_REOPENED|NONCE_ELSEWHERE|NONCE_UNKNOWN|STORE_ROLLED_BACK)$/);
              await answered(o.p, false, got.slice('refused '.length));
            }
          } else {
            // Process p takes a nonce and issues the contract's next one, and is killed while its
            // COMMIT is on its way: the connection closes before the server sees the COMMIT.
            if (nonces.length === 0) continue;
            const i = Math.max(0, nonces.length - 1 - o.pick);
            const n = nonces[i]!;
            const client = (x as unknown as { client: pg.Client }).client;
            const query = client.query.bind(client) as (...a: unknown[]) => Promise<unknown>;
            let reached = false;
            (client as unknown as { query: (...a: unknown[]) => Promise<unknown> }).query = (...a: unknown[]) => {
              if (a[0] === 'COMMIT' && !reached) {
                reached = true;
                (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
                return Promise.reject(new Error('Connection terminated unexpectedly'));
              }
              return query(...a);
            };
            let secret: string | undefined;
            const outcome = await x.step(async () => {
              secret = hexOf(await x.take(n.pub, n.ctx, session(o.session)));
              const next = nonce();
              await x.issue(`ctx:${nonces.length}`, () => ({ secnonce: next.sec, pubnonce: next.pub }));
            }).then(() => 'answered', (e: { code?: string }) => `refused ${e.code}`);
            expect(outcome, where()).not.toBe('answered');
            if (!reached && outcome === 'refused E_STORE_ROLLED_BACK') expect(x.doomed, `a false alarm ${where()}`).toBe(true);
            if (secret !== undefined) {
              expect(secret).toBe(hexOf(n.sec));
              record(i, o.session);
            }
            // Its COMMIT went nowhere: nothing of it counts. The process is gone; another takes its place.
            await x.abandon();
            procs[o.p] = await fresh();
          }
          snapshots.push(JSON.stringify(await tables.snapshot()));
        }
      } finally {
        await Promise.all(procs.map((x) => x.abandon()));
        await dba.end();
      }
    }),
    { numRuns },
  );
}
