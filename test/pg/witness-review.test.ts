/**
 * Review of "THE WITNESS IS EXACT, BUT ONE" (src/lib/store/pg/host-epoch.ts): a restore of
 * exactly one tick now passes the witness, so whatever that tick opened is the host's nonce
 * ledger's alone to refuse (nonce-ledger.ts, its journal nonce-journal.ts). These attacks aim
 * at that ledger, with the database's administrator as the attacker (every row writable, any
 * restore) and a long-lived process of the host (a `sign-update --stream --nonce-epoch host`,
 * here a store opened with the host's --state-dir and kept open across steps).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type pg from 'pg';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { Journal } from '../../src/lib/store/nonce-journal.ts';
import { describePostgres } from './fixture.ts';
import { systemTempDir } from '../setup/run-tmp.ts';
import { command, issue, nonceTables, storeTarget, type Rec } from './host-stores.ts';

const session = (k: number) => new Uint8Array(32).fill(k);
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

describePostgres('host epoch witness window, attacked', (fx) => {
  let db = 0;

  /** The DBA's view of the store: snapshots of the nonce tables and their restore (as a backup restored: the single-use trigger does not fire). */
  const dba = async (url: string) => {
    const { default: pgm } = await import('pg');
    const admin: pg.Client = new pgm.Client({ host: fx.server.host, port: fx.server.port, user: fx.server.user, password: fx.server.password, database: new URL(url).pathname.slice(1) });
    await admin.connect();
    return { admin, ...nonceTables(admin) };
  };

  it("a one-tick restore while a long-lived host process holds an old read of the journal, compacted twice meanwhile (ext4 hands the first file's inode back): that process does not open the revived nonce for another session", async (ctx) => {
    const { t, url } = await storeTarget(fx.server, `review_${++db}`);
    // On a disk (the system temp dir): the run's own temp dir may be in memory, and tmpfs
    // never hands a freed inode straight back, so the attack could not be staged there.
    const disk = mkdtempSync(join(systemTempDir(), 'offchain-witness-review-'));
    ctx.onTestFinished(() => rmSync(disk, { recursive: true, force: true }));
    const host = join(disk, `compact-${db}`);
    // The long-lived process (a --nonce-epoch host stream), and other commands of the host.
    const stream = await PgMintStore.open<Rec>(t, 'regtest', { hostDir: host });
    const { epoch } = stream as unknown as { epoch: string };
    const dir = join(host, `ledger-${epoch}`);
    const d = await dba(url);
    try {
      // Each attempt: x issued; the stream reads the journal (its step settles a nonce of its own);
      // a one-shot command opens x for session 1 (one tick: its signature leaves); then other
      // commands compact the journal twice (nonce-journal.ts `compact`: a new file renamed over
      // it), as a busy host does every few thousand lines — on ext4 the second new file mostly
      // gets the inode of the file the stream read (another process's new file may take it first: again).
      let x: { sec: Uint8Array; pub: Uint8Array; ctx: string } | undefined;
      let before: Awaited<ReturnType<typeof d.snapshot>> | undefined;
      for (let attempt = 0; attempt < 8 && before === undefined; attempt++) {
        const xi = await issue(t, host, `ctx:x${attempt}`);
        const y = await issue(t, host, `ctx:y${attempt}`);
        expect(same(await stream.step(() => stream.take(y.pub, `ctx:y${attempt}`, session(9))), y.sec)).toBe(true);
        const read = statSync(join(dir, 'journal')).ino;
        const snap = await d.snapshot();
        expect(same(await command(t, host, (s) => s.take(xi.pub, `ctx:x${attempt}`, session(1))), xi.sec)).toBe(true);
        const j = new Journal(dir, `offchain nonce ledger v1 ${epoch}`);
        const entries = { live: new Set<string>(), unsure: new Set<string>(), sessions: new Map<string, string>() };
        for (let i = 0; i < 2; i++) {
          await j.refresh(entries);
          await j.compact(entries);
        }
        if (statSync(join(dir, 'journal')).ino === read) [x, before] = [{ ...xi, ctx: `ctx:x${attempt}` }, snap];
      }
      if (!x || !before) {
        console.warn('SKIPPED: the journal never got back the inode the stream read (this filesystem does not reuse a freed inode at once, or other processes took it eight times)');
        ctx.skip();
        return;
      }
      // The DBA restores exactly that one tick: the counter one below the witness (passes), x unused again.
      await d.restore(before);
      // x, offered to the long-lived process for another session: its ledger must refuse it.
      const got = await stream.step(() => stream.take(x!.pub, x!.ctx, session(2))).then((sec) => (same(sec, x!.sec) ? 'SIGNED x AGAIN' : 'another secret'), (e: { code?: string }) => e.code);
      expect(got, 'x opened for a second session').toBe('E_NONCE_REOPENED');
    } finally {
      await stream.abandon();
      await d.admin.end();
    }
  }, 120_000);
  it('the DBA puts three ticks back (every nonce they opened unused again) and sets the counter to one below the witness by hand: the witness passes, the ledger refuses each revived nonce for another session in a fresh command, nothing signed twice', async () => {
    const { t, url } = await storeTarget(fx.server, `review_${++db}`);
    const host = join(fx.root, `by-hand-${db}`);
    const ns = [await issue(t, host, 'ctx:0'), await issue(t, host, 'ctx:1'), await issue(t, host, 'ctx:2')];
    const d = await dba(url);
    try {
      const before = await d.snapshot();
      for (const [i, n] of ns.entries()) expect(same(await command(t, host, (s) => s.take(n.pub, `ctx:${i}`, session(1))), n.sec)).toBe(true);
      const { epoch, counter } = (await d.admin.query<{ epoch: string; counter: string }>('SELECT epoch, counter FROM epochs')).rows[0]!;
      await d.restore(before);
      await d.admin.query('UPDATE epochs SET counter = $2 WHERE epoch = $1', [epoch, Number(counter) - 1]);
      const got: string[] = [];
      for (const [i, n] of ns.entries()) {
        got.push(await command(t, host, (s) => s.take(n.pub, `ctx:${i}`, session(2))).then((sec) => (same(sec, n.sec) ? 'SIGNED AGAIN' : 'another secret'), (e: { code?: string }) => e.code ?? String(e)));
      }
      expect(got).toEqual(['E_NONCE_REOPENED', 'E_NONCE_REOPENED', 'E_NONCE_REOPENED']);
      // The witness saw nothing (the key is kept): against a writer of the counter only the ledger holds.
      expect((await d.admin.query<{ epoch: string }>('SELECT epoch FROM epochs')).rows.map((r) => r.epoch)).toEqual([epoch]);
    } finally {
      await d.admin.end();
    }
  }, 120_000);
});
