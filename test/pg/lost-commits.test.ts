/**
 * A COMMIT whose answer is lost never lets a nonce sign twice, and never costs a false alarm
 * (src/lib/store/pg/mint-transactions.ts `commit`, `resolveCommit`; nonce-ledger.ts
 * `commitLost`). A proxy in front of the server (commit-proxy.ts, wire-proxy.ts) loses a
 * process's connection around its COMMIT:
 *
 * - the answer lost after the server committed, other processes committing meanwhile: the new
 *   connection finds the transaction's tick — committed, the answer released, the key kept;
 * - dropped before the server saw it: "did not happen", nothing released (E_STORE_UNREACHABLE);
 *   the nonce it opened stays unused in the database but signs only that same request again
 *   (another is E_NONCE_USED: one abandon), identically;
 * - the process killed -9 while its COMMIT is held (the server rolls it back): the nonce it
 *   opened dies with its key — no other process opens it (E_NONCE_ELSEWHERE), one burns it;
 * - the answer lost, the result replayed by another process from the stored answer, then a
 *   failover to a standby without it, or a logical restore (pg_restore --clean) on the running
 *   server: the process does not sign with that nonce again;
 * - a COMMIT still in progress when its connection dropped (a synchronous standby slow to
 *   answer): not reported "not kept" while it commits, and no false rollback after;
 * - a COMMIT the server committed, answered with bytes no server sends: not taken for "did not
 *   happen" — nothing released, the store broken (the process exits), the nonce consumed.
 *
 * Folded in from epochs-adversarial.test.ts (its lost-COMMIT cases, the host's "another
 * command of the host ticked" now another process committing: no process ticks another's row)
 * and ledger-session.test.ts (review 41's garbled COMMIT: the step record it kept sealed is
 * gone with steps as transactions; what it guarded — no "not committed" on a client's own
 * error — is checked here on the store). serve-three.test.ts kills a service in that window
 * through the built CLI.
 */
import { expect, it } from 'vitest';
import { describePostgres } from './fixture.ts';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { resolvePgTarget, type PgTarget } from '../../src/lib/store/pg/connect.ts';
import { refusalAsync } from '../setup/refusal.ts';
import { CommitProxy } from './commit-proxy.ts';
import { WireProxy } from './wire-proxy.ts';
import { admin, backupData, counterOf, hexOf, issueOn, mintProcess, nonce, restoreData, session, storeTarget, takeOn, type Rec } from './process-stores.ts';

/** A stream's store (a process epoch) on `target`, with one nonce `n1` it issued for `ctx`. */
async function streamWithNonce(target: PgTarget, ctx: string) {
  const store = await PgMintStore.open<Rec & { response?: string }>(target, 'regtest');
  const n1 = await issueOn(store as PgMintStore<Rec>, ctx);
  return { store, n1 };
}

/**
 * Stream P signs "M1" with `n1` (a close: the answer stored carries the mint's partial
 * signature) and the primary commits it, but the proxy drops the COMMIT's answer and holds
 * P's reconnection until `release()`: P's step is `first`, still open.
 */
async function signLosingCommit(proxy: CommitProxy, p: PgMintStore<Rec & { response?: string }>, n1: { pub: Uint8Array }, opened: string[]) {
  let release!: () => void;
  proxy.hold = new Promise<void>((r) => (release = r));
  proxy.armed = 'after';
  const first = p.step(async () => {
    const sec = Buffer.from(await p.take(n1.pub, 'ctx:close')).toString('hex');
    opened.push(sec);
    await p.put({ contract_id: 'c1', status: 'closing', response: `signed M1 with ${sec.slice(0, 16)}` });
    return sec;
  }).then((sec) => sec, (e: { code?: string }) => `refused ${e.code}`);
  await proxy.fires();
  return { first, release };
}

/** Whatever P answered its lost COMMIT (`outcome`), n1 must not open again to sign a second message. */
async function neverTwice(p: PgMintStore<Rec & { response?: string }>, n1: { sec: Uint8Array; pub: Uint8Array }, outcome: string, opened: string[]): Promise<void> {
  const second = await p.step(async () => {
    const sec = Buffer.from(await p.take(n1.pub, 'ctx:close')).toString('hex');
    opened.push(sec);
    return sec;
  }).then((sec) => sec, (e: { code?: string }) => `refused ${e.code}`);
  await p.abandon();
  const secret = Buffer.from(n1.sec).toString('hex');
  const said = outcome === secret ? 'released M1' : outcome;
  expect(second === secret ? 'n1 opened again to sign M2' : second, `P's answer to the lost COMMIT: ${said}`).not.toBe('n1 opened again to sign M2');
  expect(opened.length, 'n1 opened (in memory) once for M1; never again after M1 left').toBe(1);
}


describePostgres('a lost COMMIT never lets a nonce sign twice', (fx) => {
  let db = 0;
  const target = () => storeTarget(fx.server, `lost_${++db}`);

  /** A COMMIT proxy in front of the server, the database's target through it, and the DBA's direct connection. */
  const throughProxy = async ({ t, url }: { t: PgTarget; url: string }) => {
    const proxy = new CommitProxy(fx.server.port);
    await proxy.start();
    const dba = await admin(fx.server, url);
    const viaProxy = resolvePgTarget({}, { OFFCHAIN_STORE_URL: url.replace(`:${fx.server.port}/`, `:${proxy.port}/`), OFFCHAIN_STORE_PASSWORD: fx.server.password })!;
    const end = async () => {
      proxy.hold = undefined;
      await dba.end().catch(() => undefined);
      await proxy.stop();
    };
    return { t, proxy, dba, viaProxy, end };
  };

  /**
   * Process A (through the proxy) takes a fresh nonce n1 (for `sessionOf`); its COMMIT is lost on
   * the wire — `after`: it reached the server and the answer is lost; `before`: dropped before the
   * server saw it — and its reconnection held until `release()`. `first`: the secret's hex, or
   * "refused CODE: message".
   */
  async function heldTake(armed: 'after' | 'before', sessionOf?: Uint8Array) {
    const x = await throughProxy(await target());
    try {
      const a = await mintProcess(x.viaProxy);
      const n1 = await issueOn(a, 'ctx:1');
      let release!: () => void;
      x.proxy.hold = new Promise<void>((r) => (release = r));
      x.proxy.armed = armed;
      const first = a.step(() => a.take(n1.pub, 'ctx:1', sessionOf)).then(hexOf, (e: { code?: string; message?: string }) => `refused ${e.code}: ${e.message}`);
      await x.proxy.fires();
      return { ...x, a, n1, release, first };
    } catch (e) {
      await x.end();
      throw e;
    }
  }

  it('the answer to a COMMIT lost after the server committed, another process committing meanwhile: committed — the secret released, the key kept, the next nonce signs', async () => {
    const { t, dba, a, n1, release, first, end } = await heldTake('after');
    const b = await mintProcess(t);
    try {
      await new Promise((r) => setTimeout(r, 300)); // the COMMIT lands first
      const n2 = await issueOn(b, 'ctx:2');
      release();
      expect(await first).toBe(hexOf(n1.sec));
      expect(a.broken).toBeUndefined();
      expect(await counterOf(dba, a.epoch)).toBe(2);
      const n3 = await issueOn(a, 'ctx:3');
      expect(await takeOn(a, n3, 'ctx:3')).toBe(hexOf(n3.sec));
      expect(await takeOn(b, n2, 'ctx:2')).toBe(hexOf(n2.sec));
    } finally {
      await a.close();
      await b.close();
      await end();
    }
  }, 120_000);

  it('a COMMIT dropped before the server saw it, another process committing meanwhile: E_STORE_UNREACHABLE, nothing released; the nonce signs only that same request again (another is E_NONCE_USED), identically', async () => {
    const { t, a, n1, release, first, end } = await heldTake('before', session(1));
    const b = await mintProcess(t);
    try {
      await issueOn(b, 'ctx:2');
      release();
      expect(await first, 'A releases nothing: its COMMIT did not happen').toMatch(/^refused E_STORE_UNREACHABLE: /);
      expect(await a.status(n1.pub)).toBe('unused');
      expect(a.broken).toBeUndefined();
      await refusalAsync(a.step(() => a.take(n1.pub, 'ctx:1', session(2))), 'E_NONCE_USED', 5);
      expect(await takeOn(a, n1, 'ctx:1', session(1))).toBe(hexOf(n1.sec));
      expect(a.alarms).toEqual([]);
    } finally {
      await a.close();
      await b.close();
      await end();
    }
  }, 120_000);

  it('a process killed -9 while its COMMIT is held (the server rolls it back): the nonce it opened dies with its key — unused, opened by no other process, burned by one', async () => {
    const x = await throughProxy(await target());
    const window = process.env['OFFCHAIN_STORE_RECONNECT_SECONDS'];
    try {
      const victim = await mintProcess(x.viaProxy);
      const n1 = await issueOn(victim, 'ctx:1');
      const opened: string[] = [];
      x.proxy.armed = 'held';
      process.env['OFFCHAIN_STORE_RECONNECT_SECONDS'] = '0';
      const dying = victim.step(async () => {
        opened.push(hexOf(await victim.take(n1.pub, 'ctx:1', session(1))));
        await victim.issue('ctx:1/next', () => ({ secnonce: new Uint8Array(97).fill(7), pubnonce: nonce().pub }));
      }).then(() => 'answered', (e: { code?: string }) => `refused ${e.code}`);
      await x.proxy.fires();
      await x.proxy.stop(); // the process dies: its connections close, the server rolls the transaction back
      expect(await dying).not.toBe('answered');
      await victim.abandon();
      expect(opened).toEqual([hexOf(n1.sec)]); // its partial signature was computed: the nonce counts as opened
      expect((await x.dba.query('SELECT consumed FROM nonces WHERE pubnonce = $1', [hexOf(n1.pub)])).rows).toEqual([{ consumed: false }]);
      const next = await mintProcess(x.t);
      try {
        for (const k of [1, 2]) expect(await takeOn(next, n1, 'ctx:1', session(k))).toBe('refused E_NONCE_ELSEWHERE');
        await next.step(() => next.burn(n1.pub, 'ctx:1'));
        expect(await next.status(n1.pub)).toBe('consumed');
      } finally {
        await next.close();
      }
    } finally {
      if (window === undefined) delete process.env['OFFCHAIN_STORE_RECONNECT_SECONDS'];
      else process.env['OFFCHAIN_STORE_RECONNECT_SECONDS'] = window;
      x.proxy.hold = undefined;
      await x.dba.end().catch(() => undefined);
    }
  }, 120_000);

  it("a stream's COMMIT answer lost, its result replayed by another process, then a failover to a standby without it: the stream does not sign with that nonce again", async () => {
    const { t, url } = await target();
    const { proxy, viaProxy, end } = await throughProxy({ t, url });
    try {
      // Stream P (a process epoch, through the proxy) issues n1 for a close at state 1.
      const { store: p, n1 } = await streamWithNonce(viaProxy, 'ctx:close');
      // The standby that will be promoted lags here: it has n1 issued, not taken.
      const lagging = await backupData(fx, 'failover-standby');
      // (The backup restarted the server: P's connection is renewed now, outside the hold below.)
      await p.list().catch(() => p.list());
      // P signs the close with n1 and stores its answer (a close answer carries the mint's
      // partial signature); the primary commits, and P never hears it.
      const opened: string[] = [];
      const { first, release } = await signLosingCommit(proxy, p, n1, opened);
      // The user's retry reaches process Q, which answers from the stored answer: M1's signature leaves.
      let replayed: string | undefined;
      for (let i = 0; i < 100 && !replayed; i++) {
        const q = await PgMintStore.open<Rec & { response?: string }>(t, 'regtest', { view: true });
        replayed = (await q.get('c1'))?.response;
        await q.abandon();
        if (!replayed) await new Promise((r) => setTimeout(r, 50));
      }
      expect(replayed).toMatch(/^signed M1/);
      // The primary fails; the lagging standby is promoted (its data put in place); P's
      // new connection reaches it.
      await restoreData(fx, lagging);
      release();
      const outcome = await first;
      // Whatever P answers now, n1 must not sign a second, different message: M2.
      await neverTwice(p, n1, outcome, opened);
    } finally {
      await end();
    }
  }, 120_000);

  it("a stream's COMMIT answer lost, its result replayed by another process, then a logical restore on the running server (pg_restore --clean): the stream does not sign with that nonce again", async () => {
    const { t, url } = await target();
    const { proxy, dba, viaProxy, end } = await throughProxy({ t, url });
    try {
      const { store: p, n1 } = await streamWithNonce(viaProxy, 'ctx:close');
      // The dump (what pg_dump keeps of the tables that matter here).
      const tables = ['epochs', 'nonces', 'contracts'];
      for (const table of tables) await dba.query(`CREATE TABLE dump_${table} AS TABLE ${table}`);
      const opened: string[] = [];
      const { first, release } = await signLosingCommit(proxy, p, n1, opened);
      let replayed: string | undefined;
      for (let i = 0; i < 100 && !replayed; i++) {
        replayed = (await dba.query<{ record: string }>("SELECT record FROM contracts WHERE contract_id = 'c1'")).rows[0]?.record;
        if (!replayed) await new Promise((r) => setTimeout(r, 50));
      }
      expect(replayed).toMatch(/signed M1/);
      // pg_restore --clean of the dump: each table dropped, created again, its rows copied back.
      await dba.query('BEGIN');
      for (const table of tables) {
        await dba.query(`CREATE TABLE restored_${table} (LIKE ${table} INCLUDING ALL)`);
        await dba.query(`DROP TABLE ${table}`);
        await dba.query(`ALTER TABLE restored_${table} RENAME TO ${table}`);
        await dba.query(`INSERT INTO ${table} SELECT * FROM dump_${table}`);
      }
      await dba.query('COMMIT');
      release();
      const outcome = await first;
      await neverTwice(p, n1, outcome, opened);
    } finally {
      await end();
    }
  }, 120_000);

  it('a COMMIT still in progress when its connection dropped (a synchronous standby slow to answer): not reported "not kept" while it commits, no false rollback after', async () => {
    const { t, url } = await target();
    const { proxy, dba, viaProxy, end } = await throughProxy({ t, url });
    try {
      // A stream's store (a process epoch), through the proxy.
      const { store: a, n1 } = await streamWithNonce(viaProxy, 'ctx:1');
      // What a synchronous standby slow to confirm does to a COMMIT: it is finished (and
      // visible, its locks released) only later. Stood in for by a deferred trigger that waits.
      await dba.query(`CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1.5); RETURN NULL; END $$;
        CREATE CONSTRAINT TRIGGER slow_commit AFTER UPDATE ON epochs DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();`);
      proxy.armed = 'during';
      const outcome = await a.step(() => a.take(n1.pub, 'ctx:1')).then((sec) => ({ secret: Buffer.from(sec).toString('hex') }), (e: { code?: string; message?: string }) => ({ code: e.code, message: e.message ?? '' }));
      expect(proxy.fired).toBe(1);
      await dba.query('DROP TRIGGER slow_commit ON epochs');
      await new Promise((r) => setTimeout(r, 2_000)); // the lost COMMIT has finished by now
      // n1 is the only nonce of this database (a consumed row keeps neither pubnonce nor secret).
      const rows = (await dba.query<{ consumed: boolean }>('SELECT consumed FROM nonces')).rows;
      expect(rows.length).toBe(1);
      const consumed = rows[0]!.consumed;
      // What the store said must be what happened: "nothing was kept" only if nothing was.
      if ('code' in outcome) expect({ consumed, said: outcome.message }).toEqual({ consumed: false, said: outcome.message });
      else expect([consumed, outcome.secret]).toEqual([true, Buffer.from(n1.sec).toString('hex')]);
      // And the stream serves on: its next nonce step is no "went back in time".
      const n2 = nonce();
      await expect(a.step(() => a.issue('ctx:2', () => ({ secnonce: Uint8Array.from(n2.sec), pubnonce: n2.pub })))).resolves.toBeDefined();
      await a.close();
    } finally {
      await end();
    }
  }, 120_000);

  it('a COMMIT the server committed, answered with bytes no server sends: not taken for "did not happen" — nothing released, the store broken (restart), the nonce consumed', async () => {
    const url = await fx.server.createDatabase('commit_garbled');
    const proxy = new WireProxy(fx.server.port);
    await proxy.start();
    const dba = await admin(fx.server, url);
    try {
      const t = resolvePgTarget({}, { OFFCHAIN_STORE_URL: url.replace(`:${fx.server.port}/`, `:${proxy.port}/`), OFFCHAIN_STORE_PASSWORD: fx.server.password })!;
      const a = await mintProcess(t);
      const n1 = await issueOn(a, 'ctx:1');
      proxy.garbleReplyTo = 'COMMIT';
      const outcome = await a.step(() => a.take(n1.pub, 'ctx:1', session(1))).then(hexOf, (e: { code?: string; message?: string }) => ({ code: e.code, message: e.message ?? '' }));
      expect(typeof outcome, 'the client saw an error: nothing released').toBe('object');
      const e = outcome as { code: string; message: string };
      expect(e.message).not.toMatch(/nothing of this request was kept|did not happen/);
      // The server's word: it committed.
      expect((await dba.query('SELECT consumed FROM nonces WHERE id IS NOT NULL')).rows).toEqual([{ consumed: true }]);
      // Nothing more from this process (it exits: restart it); the same request again opens nothing.
      expect(a.broken).toBeDefined();
      await refusalAsync(a.step(() => a.take(n1.pub, 'ctx:1', session(1))), 'E_STATE_WRITE', 1);
      await a.abandon();
      // Restarted: the nonce is used, a fresh one signs.
      const next = await mintProcess(t);
      expect(await takeOn(next, n1, 'ctx:1', session(1))).toBe('refused E_NONCE_USED');
      const n2 = await issueOn(next, 'ctx:2');
      expect(await takeOn(next, n2, 'ctx:2', session(2))).toBe(hexOf(n2.sec));
      await next.close();
    } finally {
      await dba.end();
      await proxy.stop();
    }
  }, 120_000);
}, { prefix: 'offchain-pg-lost-' });
