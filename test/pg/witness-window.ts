/**
 * The host epoch's witness window as a property (src/lib/store/pg/host-epoch.ts, "THE WITNESS
 * IS EXACT, BUT ONE"): random sequences of one host's one-shot mint commands on PostgreSQL —
 * issue a nonce, take one for one of a few signing sessions, a command killed between raising
 * the witness and its COMMIT (its COMMIT never reaches the server), and restores of the
 * database by one or more steps (the `epochs` and `nonces` tables put back as they were after
 * an earlier step, as a restore does; the single-use trigger does not fire for a restore) —
 *
 * - never open one nonce for two different sessions (a killed command's opening counts: its
 *   partial signature was computed), and every opening returns that nonce's own secret;
 * - retire the host's key at the next command exactly when the counter is two or more below
 *   the witness (or its row is gone while the witness knew it), and keep it otherwise — a
 *   killed command and a one-step restore each cost nothing, together they retire;
 * - never lower the witness.
 *
 * Each command is a library-level store opened as a one-shot command of the host would
 * (test/pg/host-stores.ts), one database per run. Run by epochs-adversarial.test.ts (on its
 * server: no server of its own to start).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { expect } from 'vitest';
import type pg from 'pg';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import type { PgFixture } from './fixture.ts';
import { command, nonce, nonceTables, storeTarget, type NonceTables, type Rec } from './host-stores.ts';

type Op =
  | { kind: 'issue' }
  | { kind: 'take'; pick: number; session: number }
  | { kind: 'kill'; pick: number; session: number }
  | { kind: 'restore'; back: number };

/** `pick`: which nonce, counted from the newest (a few contracts, each paid again and again); `back`: how many ticks a restore undoes (at least), mostly one. */
const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.constant<Op>({ kind: 'issue' }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('take' as const), pick: fc.nat(2), session: fc.integer({ min: 1, max: 2 }) }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('kill' as const), pick: fc.nat(2), session: fc.integer({ min: 1, max: 2 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('restore' as const), back: fc.oneof({ arbitrary: fc.constant(1), weight: 2 }, { arbitrary: fc.integer({ min: 2, max: 3 }), weight: 1 }) }), weight: 3 },
);

const session = (k: number) => new Uint8Array(32).fill(k);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

let runs = 0;

/** The property, on the test file's server (one database and one --state-dir per run). */
export async function witnessWindowProperty(fx: PgFixture, numRuns = 8): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 4, maxLength: 10 }), async (ops) => {
      const { t, url } = await storeTarget(fx.server, `window_${++runs}`);
      const host = join(fx.root, `window-${runs}`);
      const { default: pgm } = await import('pg');
      const admin: pg.Client = new pgm.Client({ host: t.host, port: t.port, user: fx.server.user, password: fx.server.password, database: new URL(url).pathname.slice(1) });
      await admin.connect();
      const nonces: { sec: Uint8Array; pub: Uint8Array; ctx: string }[] = [];
      /** nonce index → the sessions it was opened for (a secret returned, or computed by a killed command). */
      const opened = new Map<number, Set<number>>();
      const snapshots: string[] = [];
      const keyEpoch = () => {
        const f = readdirSync(host).find((x) => x.startsWith('epoch-'));
        return f ? (JSON.parse(readFileSync(join(host, f), 'utf8')) as { epoch: string }).epoch : undefined;
      };
      const witness = (epoch: string) => {
        try {
          return (JSON.parse(readFileSync(join(host, `seen-${epoch}.json`), 'utf8')) as { version: number }).version;
        } catch {
          return 0;
        }
      };
      const counter = async (epoch: string) => {
        const row = (await admin.query<{ counter: string }>('SELECT counter FROM epochs WHERE epoch = $1', [epoch])).rows[0];
        return row ? Number(row.counter) : undefined;
      };
      const tables = nonceTables(admin);
      const snapshot = async () => {
        snapshots.push(JSON.stringify(await tables.snapshot()));
      };
      const restore = (text: string) => tables.restore(JSON.parse(text) as NonceTables);
      const record = (i: number, k: number) => {
        const set = opened.get(i) ?? new Set<number>();
        opened.set(i, set.add(k));
        expect(set.size, `nonce ${i} opened for sessions ${[...set].join(', ')} (ops ${JSON.stringify(ops)})`).toBe(1);
      };
      const issueOne = async (s: PgMintStore<Rec>) => {
        const n = { ...nonce(), ctx: `ctx:${nonces.length}` };
        await s.issue(n.ctx, () => ({ secnonce: Uint8Array.from(n.sec), pubnonce: n.pub }));
        nonces.push(n);
      };
      try {
        await command(t, host, async () => undefined); // the schema and the host's epoch, counter 0
        await snapshot();
        await command(t, host, (s) => issueOne(s));
        await snapshot();
        /** After a restore: whether the next command must retire the key (undefined: no restore since). */
        let mustRetire: boolean | undefined;
        for (const o of ops) {
          const before = keyEpoch()!;
          const seenBefore = witness(before);
          if (o.kind === 'restore') {
            // Back to the last state whose counter is `back` ticks or more below the present one.
            const now = await counter(before);
            const ticksOf = (text: string) => (JSON.parse(text) as { e: { epoch: string; counter: number }[] }).e.find((r) => r.epoch === before)?.counter;
            let at = 0;
            for (let j = snapshots.length - 1; j >= 0; j--) {
              const then = ticksOf(snapshots[j]!);
              if (now === undefined || then === undefined || then <= now - o.back) {
                at = j;
                break;
              }
            }
            await restore(snapshots[at]!);
            snapshots.length = at + 1;
            const c = await counter(before);
            const w = witness(before);
            mustRetire = c === undefined ? w > 0 : w - c >= 2;
            continue;
          }
          if (o.kind === 'issue') {
            await command(t, host, (s) => issueOne(s));
          } else if (o.kind === 'take') {
            const i = Math.max(0, nonces.length - 1 - o.pick);
            const n = nonces[i]!;
            const got = await command(t, host, (s) => s.take(n.pub, n.ctx, session(o.session))).then(hex, (e: { code?: string }) => `refused ${e.code}`);
            if (!got.startsWith('refused')) {
              expect(got, 'the nonce\'s own secret').toBe(hex(n.sec));
              record(i, o.session);
            } else {
              expect(got).toMatch(/^refused E_NONCE_(USED|REOPENED|ELSEWHERE|UNKNOWN)$/);
            }
          } else {
            // A command that takes a nonce and issues the contract's next one, killed while its
            // COMMIT is on its way: the connection closes before the server sees it.
            const i = Math.max(0, nonces.length - 1 - o.pick);
            const n = nonces[i]!;
            const s = await PgMintStore.open<Rec>(t, 'regtest', { hostDir: host });
            const client = (s as unknown as { client: pg.Client }).client;
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
            const outcome = await s.step(async () => {
              secret = hex(await s.take(n.pub, n.ctx, session(o.session)));
              await issueOne(s);
            }).then(() => 'answered', (e: { code?: string }) => `refused ${e.code}`);
            await s.abandon();
            expect(outcome).not.toBe('answered');
            if (reached) {
              expect(secret).toBe(hex(n.sec));
              record(i, o.session);
              nonces.pop(); // its next nonce was never committed
            }
          }
          const after = keyEpoch()!;
          if (mustRetire !== undefined) {
            expect(after !== before, `retired after a restore (ops ${JSON.stringify(ops)})`).toBe(mustRetire);
            mustRetire = undefined;
          } else {
            expect(after, `no retirement without a restore (ops ${JSON.stringify(ops)})`).toBe(before);
            expect(witness(after), 'the witness never goes down').toBeGreaterThanOrEqual(seenBefore);
          }
          if (after === before) {
            const c = await counter(after);
            expect(witness(after) - c!, 'the counter is the witness, or one below it').toBeLessThanOrEqual(1);
          }
          await snapshot();
        }
      } finally {
        await admin.end();
      }
    }),
    { numRuns },
  );
}
