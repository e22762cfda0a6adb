/**
 * A connection lost at each step of opening a PostgreSQL store (issue 38, Found 3): every
 * store client has its error handler from the first byte, so a connection that dies while
 * a process logs in, creates the schema, registers its epoch or renews it — in the middle of
 * a request, or while the client sits idle between two — fails with a coded error
 * (E_STORE_UNREACHABLE, exit 1) and never crashes the process (an 'error' event with no
 * listener is an uncaught exception: E_INTERNAL, or a stack).
 *
 * A proxy that reads the wire protocol (wire-proxy.ts) cuts the connection before the
 * k-th request the client sends, and after the k-th time the server says it is ready, for
 * every k until an open goes through uncut: the mint's store of a process (a stream) on a
 * database it creates the schema in and on one that has it, a stream renewing its epoch
 * after the store broke under it, the view (`credit list`), and the statechain operator's
 * store. Through the built CLI too: `credit list` cut at each point exits 0 with its answer
 * or 1 with one coded line. (The host epoch's open — a one-shot command joining its host's
 * key — is gone: a one-shot mint step that uses nonces is refused before any connection.)
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describePostgres } from './fixture.ts';
import { WireProxy, type Cut } from './wire-proxy.ts';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { PgOperatorStore } from '../../src/lib/store/pg/operator-store.ts';
import { versionWitness } from '../state.ts';
import { resolvePgTarget, type PgTarget } from '../../src/lib/store/pg/connect.ts';
import { OffchainError } from '../../src/lib/errors.ts';
import { nonce, type Rec } from './process-stores.ts';
import { pipeline } from '../e2e/cli.ts';
import { mintStage } from '../e2e/stream-credit.ts';

describePostgres('a connection lost at each step of opening the store', (fx) => {
  /** Uncaught exceptions seen while `f` ran (an 'error' event nobody listened to). */
  async function uncaught<T>(f: () => Promise<T>): Promise<{ value: T; uncaught: unknown[] }> {
    const seen: unknown[] = [];
    const listener = (e: unknown) => seen.push(e);
    process.on('uncaughtException', listener);
    try {
      const value = await f();
      await new Promise((r) => setTimeout(r, 30)); // a socket's 'end' comes a turn later
      return { value, uncaught: seen };
    } finally {
      process.off('uncaughtException', listener);
    }
  }

  /**
   * For each cut ('before' the k-th request, 'idle' after the k-th ready), `open` through the
   * proxy: it must resolve (the cut came after it finished) or reject E_STORE_UNREACHABLE
   * exit 1, with no uncaught exception. Returns how many cuts fired, per kind.
   */
  async function everyCut(proxy: WireProxy, open: () => Promise<unknown>): Promise<Record<Cut['how'], number>> {
    const fired = { before: 0, idle: 0 };
    for (const how of ['before', 'idle'] as const) {
      for (let at = 1; ; at++) {
        const before = proxy.cuts;
        proxy.cut = { at, how };
        const r = await uncaught(() => open().then(() => 'opened' as const, (e: unknown) => e));
        const cut = proxy.cuts > before;
        proxy.cut = undefined;
        expect(r.uncaught, `${how} ${at}: ${String(r.uncaught[0])}`).toEqual([]);
        if (!cut) {
          expect(r.value, `${how} ${at}: uncut`).toBe('opened');
          break;
        }
        fired[how]++;
        if (r.value !== 'opened') {
          expect(r.value, `${how} ${at}`).toBeInstanceOf(OffchainError);
          const e = r.value as OffchainError;
          expect({ code: e.code, exit: e.exitCode }, `${how} ${at}: ${e.message}`).toEqual({ code: 'E_STORE_UNREACHABLE', exit: 1 });
        }
        expect(at, 'cut points').toBeLessThan(200);
      }
    }
    return fired;
  }

  const through = async (db: string): Promise<{ proxy: WireProxy; t: PgTarget; direct: PgTarget }> => {
    const url = await fx.server.createDatabase(db);
    const proxy = new WireProxy(fx.server.port);
    await proxy.start();
    const viaProxy = url.replace(`:${fx.server.port}/`, `:${proxy.port}/`);
    return {
      proxy,
      t: resolvePgTarget({}, { OFFCHAIN_STORE_URL: viaProxy, OFFCHAIN_STORE_PASSWORD: fx.server.password })!,
      direct: resolvePgTarget({}, { OFFCHAIN_STORE_URL: url, OFFCHAIN_STORE_PASSWORD: fx.server.password })!,
    };
  };

  it('the mint store: a process\'s open (a new schema, then an existing one), a stream renewing its epoch, and the view — coded at every cut, never uncaught', async () => {
    const { proxy, t, direct } = await through('open_cuts');
    try {
      // A stream's open (process epoch), on a database it creates the schema in first, then again.
      const stream = () => PgMintStore.open<Rec>(t, 'regtest').then(async (s) => {
        await s.step(() => s.issue('ctx:stream', () => ({ secnonce: nonce().sec, pubnonce: nonce().pub })));
        await s.close();
      });
      const fresh = await everyCut(proxy, stream);
      expect(fresh.before).toBeGreaterThanOrEqual(12); // startup, SASL ×2, the schema, the epoch, one step…
      expect(fresh.idle).toBeGreaterThanOrEqual(8);
      // The schema there now: a second process's open.
      const existing = await everyCut(proxy, stream);
      expect(existing.before).toBeGreaterThanOrEqual(8);
      // A stream whose store broke under it (the database went back: E_STORE_ROLLED_BACK) renews its epoch on a new connection.
      const { default: pgm } = await import('pg');
      const dba = new pgm.Client({ host: fx.server.host, port: fx.server.port, user: fx.server.user, password: fx.server.password, database: 'open_cuts' });
      await dba.connect();
      let n = 0;
      const renewing = async () => {
        proxy.cut = undefined;
        const s = await PgMintStore.open<Rec>({ ...direct }, 'regtest'); // its own copy: its reconnection is pointed at the proxy below
        try {
          const x = nonce();
          await s.step(() => s.issue(`ctx:renew:${++n}`, () => ({ secnonce: x.sec, pubnonce: x.pub })));
          await dba.query('UPDATE epochs SET counter = counter - 1 WHERE epoch = $1', [s.epoch]);
          await s.step(() => s.take(x.pub, `ctx:renew:${n}`)).catch(() => undefined);
          expect((s.broken as { code?: string } | undefined)?.code).toBe('E_STORE_ROLLED_BACK');
          return s;
        } catch (e) {
          await s.abandon();
          throw e;
        }
      };
      const renewCuts = { before: 0, idle: 0 };
      for (const how of ['before', 'idle'] as const) {
        for (let at = 1; ; at++) {
          const s = await renewing();
          // Its reconnection goes through the proxy from here on.
          (s as unknown as { target: PgTarget }).target.port = proxy.port;
          const cuts = proxy.cuts;
          proxy.cut = { at, how };
          const r = await uncaught(() => s.renew(2_000).then(() => 'renewed' as const, (e: unknown) => e));
          proxy.cut = undefined;
          await s.abandon();
          expect(r.uncaught, `renew ${how} ${at}: ${String(r.uncaught[0])}`).toEqual([]);
          if (proxy.cuts === cuts) {
            expect(r.value, `renew ${how} ${at}: uncut`).toBe('renewed');
            break;
          }
          renewCuts[how]++;
          if (r.value !== 'renewed') {
            expect(r.value, `renew ${how} ${at}`).toBeInstanceOf(OffchainError);
            expect({ code: (r.value as OffchainError).code }, `renew ${how} ${at}: ${(r.value as Error).message}`).toEqual({ code: expect.stringMatching(/^E_STORE_(UNREACHABLE|ROLLED_BACK)$/) });
          }
          expect(at, 'cut points').toBeLessThan(100);
        }
      }
      await dba.end();
      expect(renewCuts.before).toBeGreaterThanOrEqual(3); // the connection, the opening transaction…
      const view = await everyCut(proxy, () => PgMintStore.open<Rec>(t, 'regtest', { view: true }).then((s) => s.list().then(() => s.close())));
      expect(view.before).toBeGreaterThanOrEqual(5);
    } finally {
      await proxy.stop();
    }
  }, 300_000);

  it("the statechain operator's store: coded at every cut, never uncaught", async () => {
    const { proxy, t } = await through('open_cuts_operator');
    try {
      const open = async () => {
        const store = new PgOperatorStore(t, { network: 'regtest', operatorSecret: new Uint8Array(32).fill(7), witness: versionWitness(join(fx.root, 'cuts-op-witness')) });
        try {
          await store.ready();
        } finally {
          await store.close();
        }
      };
      const fired = await everyCut(proxy, open);
      expect(fired.before).toBeGreaterThanOrEqual(4);
    } finally {
      await proxy.stop();
    }
  }, 120_000);

  it('through the built CLI: `credit list` cut at each step exits 0 with its answer or 1 with one E_STORE_UNREACHABLE line', async () => {
    const url = await fx.server.createDatabase('open_cuts_cli');
    const env = { OFFCHAIN_STORE_PASSWORD: fx.server.password };
    const state = join(fx.root, 'cuts-cli');
    const offer = await pipeline([mintStage(state, env, 'open-credit', '--role', 'mint', '--publish', '--payout-address', 'bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte', '--store', url)], '');
    expect(offer[0]!.status, offer[0]!.stderr).toBe(0);
    /** `credit list` through a proxy of its own that cuts at `cut`: whether it fired, and the run. */
    const listCut = async (cut: Cut) => {
      const proxy = new WireProxy(fx.server.port);
      await proxy.start();
      proxy.cut = cut;
      try {
        const [r] = await pipeline([{ args: ['credit', 'list', '--store', url.replace(`:${fx.server.port}/`, `:${proxy.port}/`), '--tip-height', '1000', '--state-dir', state], env }], '');
        return { fired: proxy.cuts > 0, r: r! };
      } finally {
        await proxy.stop();
      }
    };
    let cuts = 0;
    for (const how of ['before', 'idle'] as const) {
      // Four cut points at a time, each through its own proxy, until one runs uncut.
      for (let at = 1, done = false; !done; at += 4) {
        const runs = await Promise.all([0, 1, 2, 3].map((i) => listCut({ at: at + i, how })));
        for (const [i, { fired, r }] of runs.entries()) {
          const where = `${how} ${at + i}: ${r.stderr}`;
          if (!fired) {
            expect(r.status, where).toBe(0);
            done = true;
            continue;
          }
          cuts++;
          if (r.status === 0) continue; // cut after the last step it needed
          expect({ status: r.status, stdout: r.stdout }, where).toEqual({ status: 1, stdout: '' });
          const lines = r.stderr.trim().split('\n');
          expect(lines.length, where).toBe(1);
          expect(/^offchain: error (E_[A-Z0-9_]+): /.exec(lines[0]!)?.[1], where).toBe('E_STORE_UNREACHABLE');
          expect(r.stderr).not.toContain(fx.server.password);
        }
        expect(at, 'cut points').toBeLessThan(100);
      }
    }
    expect(cuts).toBeGreaterThanOrEqual(8);
  }, 300_000);
});
