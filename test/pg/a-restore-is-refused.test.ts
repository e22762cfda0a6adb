/**
 * A restore never makes a nonce sign twice (src/lib/store/pg/mint-store.ts, THE RESTORE RULE),
 * with the server's data directory really put back under processes that outlive it:
 *
 * - A restore of one or two nonce transactions under a live process: the nonce it revives is
 *   refused by the process's ledger for any other session (E_NONCE_REOPENED) before its
 *   secret is touched; the process's next nonce transaction finds its counter behind and is
 *   E_STORE_ROLLED_BACK, its key wiped; a fresh process cannot open any of that epoch's
 *   nonces (E_NONCE_ELSEWHERE) and burns them.
 * - A second process (another host; a copy of a --state-dir, which holds no key) and a restore:
 *   no nonce is opened twice, whichever process the revived nonce is offered to; a process
 *   started after the backup loses its row with the restore and commits nothing more.
 * - Through the built CLI: a `sign-update --stream` mint alive across a backup and its restore;
 *   a user's old copy signs a different state against the revived nonce (refused, the alarm on
 *   stderr); every request ever sent is replayed — no nonce the test handed out answers two
 *   transactions; the stream renews itself (E_STORE_ROLLED_BACK, its key wiped), the user abandons and pays on.
 * - As a property (./restore-property.ts): kills while a COMMIT is on its way and restores of
 *   one or more steps, in random order over two processes.
 *
 * Folded in here: host-epoch.test.ts's real restores of one and two ticks and its one-shot CLI
 * restore (now a stream), epochs-adversarial.test.ts's copied --state-dirs and restores, and its
 * witness-window property (witness-window.ts, now restore-property.ts). Gone with host epochs:
 * "a host whose witness was lost, then a restore" and "a --nonce-epoch host stream while another
 * holder of its key ticked" — no key is shared and no witness is kept outside the process; a
 * forged tick is epoch-counter.test.ts's "one above". restore.test.ts restores under processes
 * that are all restarted.
 */
import { cpSync } from 'node:fs';
import { expect, it } from 'vitest';
import { describePostgres } from './fixture.ts';
import { admin, backupData, counterOf, hexOf, issueOn, mintProcess, restoreData, retrying, session, storeTarget, takeOn } from './process-stores.ts';
import { restoreProperty } from './restore-property.ts';
import type { Msg } from '../e2e/stream-credit.ts';
import { Cluster, pgMint, userAbandons, userOpenRequest, userOpened, userPays, userTakesAbandoned, userTakesReceipt } from './mint-cluster.ts';

describePostgres('a restore never makes a mint nonce sign twice', (fx) => {
  let db = 0;
  const target = () => storeTarget(fx.server, `restore_${++db}`);

  for (const ticks of [1, 2]) {
    it(`a real restore of ${ticks} nonce transaction${ticks > 1 ? 's' : ''} under a live process: the revived nonce refused by its ledger, its next nonce transaction E_STORE_ROLLED_BACK (key wiped); a fresh process opens none of that epoch's nonces and burns them`, async () => {
      const { t, url } = await target();
      const a = await mintProcess(t);
      const dba = await admin(fx.server, url);
      try {
        const [x, y, z] = [await issueOn(a, 'ctx:x'), await issueOn(a, 'ctx:y'), await issueOn(a, 'ctx:z')];
        const backup = await backupData(fx, `lib-backup-${ticks}`);
        // After the backup: x (and y) sign, their secrets leave the process.
        const revived = ticks === 1 ? [[x, 'ctx:x']] as const : [[x, 'ctx:x'], [y, 'ctx:y']] as const;
        for (const [n, ctx] of revived) expect(await retrying(a, () => a.take(n.pub, ctx, session(1))).then(hexOf)).toBe(hexOf(n.sec));
        await restoreData(fx, backup);
        await dba.end();
        const c = await admin(fx.server, url);
        try {
          expect(await counterOf(c, a.epoch)).toBe(3);
          for (const [n] of revived) expect(await a.status(n.pub).catch(() => a.status(n.pub))).toBe('unused');
          // The revived nonces, for another session: refused before their secrets are touched; the store stays usable.
          for (const [n, ctx] of revived) {
            const got = await retrying(a, () => a.take(n.pub, ctx, session(2))).then(hexOf, (e: { code?: string }) => `refused ${e.code}`);
            expect(got).toBe('refused E_NONCE_REOPENED');
          }
          expect(a.broken).toBeUndefined();
          // Its next nonce transaction (z, never opened): the counter is behind what it counted — refused before COMMIT, key wiped.
          expect(await takeOn(a, z, 'ctx:z', session(3))).toBe('refused E_STORE_ROLLED_BACK');
          expect(a.broken).toBeDefined();
          expect(await c.query('SELECT consumed FROM nonces WHERE pubnonce = $1', [hexOf(z.pub)]).then((r) => r.rows)).toEqual([{ consumed: false }]);
          // A fresh process (the stream renewed, or restarted): every nonce of that epoch dead, burned by the user's abandon.
          const b = await mintProcess(t);
          for (const [n, ctx] of [[x, 'ctx:x'], [y, 'ctx:y'], [z, 'ctx:z']] as const) {
            expect(await takeOn(b, n, ctx, session(4))).toBe('refused E_NONCE_ELSEWHERE');
            await b.step(() => b.burn(n.pub, ctx));
          }
          await b.close();
        } finally {
          await c.end();
        }
      } finally {
        await a.abandon();
      }
    }, 180_000);
  }

  it('a second process (another host, or a copy of its --state-dir: no key in it) and a restore: the revived nonce opens in neither', async () => {
    const { t } = await target();
    const a = await mintProcess(t);
    const b = await mintProcess(t);
    try {
      const n1 = await issueOn(a, 'ctx:1');
      await issueOn(b, 'ctx:2'); // B serves
      await issueOn(a, 'ctx:3'); // A serves
      const backup = await backupData(fx, 'copy-backup');
      const opened: string[] = [];
      opened.push(await retrying(a, () => a.take(n1.pub, 'ctx:1', session(1))).then(hexOf));
      await restoreData(fx, backup);
      // The user (or a load balancer) sends n1's context to B, then to A, each for another message.
      opened.push(await retrying(b, () => b.take(n1.pub, 'ctx:1', session(2))).then(hexOf, (e: { code?: string }) => `refused ${e.code}`));
      opened.push(await retrying(a, () => a.take(n1.pub, 'ctx:1', session(3))).then(hexOf, (e: { code?: string }) => `refused ${e.code}`));
      expect(opened.map((o) => (o === hexOf(n1.sec) ? 'SECRET' : o))).toEqual(['SECRET', 'refused E_NONCE_ELSEWHERE', 'refused E_NONCE_REOPENED']);
    } finally {
      await a.abandon();
      await b.abandon();
    }
  }, 180_000);

  it('a process started after the backup, the first signs, the database goes back: the late process lost its row and commits nothing; neither opens that nonce again', async () => {
    const { t, url } = await target();
    const a = await mintProcess(t);
    const n1 = await issueOn(a, 'ctx:1');
    const backup = await backupData(fx, 'early-backup');
    const late = await mintProcess(t); // not yet in service: its row is not in the backup
    try {
      expect(await retrying(a, () => a.take(n1.pub, 'ctx:1', session(1))).then(hexOf)).toBe(hexOf(n1.sec));
      await restoreData(fx, backup);
      const c = await admin(fx.server, url);
      expect(await counterOf(c, late.epoch)).toBeUndefined();
      await c.end();
      expect(await retrying(late, () => late.take(n1.pub, 'ctx:1', session(2))).then(hexOf, (e: { code?: string }) => `refused ${e.code}`)).toBe('refused E_NONCE_ELSEWHERE');
      // Its first nonce transaction: no row — the database went back under it.
      const fresh = await retrying(late, () => late.issue('ctx:late', () => ({ secnonce: new Uint8Array(97).fill(5), pubnonce: new Uint8Array(66).fill(6) }))).then(() => 'issued', (e: { code?: string }) => e.code);
      expect(fresh).toBe('E_STORE_ROLLED_BACK');
      expect(await takeOn(a, n1, 'ctx:1', session(3))).toBe('refused E_NONCE_REOPENED');
    } finally {
      await a.abandon();
      await late.abandon();
    }
  }, 180_000);

  it('through the CLI: a stream alive across a backup and its restore; the user\'s old copy signs another state against the revived nonce, refused with the alarm; every request replayed signs nothing new; the stream renews, the user abandons and pays on', async () => {
    const { env, mintDir, offerPath } = await pgMint(fx.server, 'live_stream', fx.root);
    const parse = (text: string) => JSON.parse(text) as Msg;
    const stream = new Cluster(1, mintDir, env);
    /** mint nonce → the txids of every receipt answering a request signed against it. */
    const signedUnder = new Map<string, Set<string>>();
    const sent: { line: string; nonce: string }[] = [];
    const ask = async (line: string, nonce?: string) => {
      const answer = await stream.ask(0, line);
      if (nonce && parse(answer).type === 'credit/receipt') signedUnder.set(nonce, (signedUnder.get(nonce) ?? new Set()).add(parse(answer).txid));
      return answer;
    };
    try {
      const { user, line } = await userOpenRequest(fx.root, offerPath, 'live', 0);
      const accept = await ask(line);
      expect(parse(accept).type, accept).toBe('credit/open-accept');
      await userOpened(user, accept);
      const pay = async (u: typeof user, amount: number) => {
        const r = await userPays(u, amount);
        sent.push({ line: r.line, nonce: r.nonce });
        return ask(r.line, r.nonce);
      };
      for (const amount of [1000, 2000]) {
        const r = await pay(user, amount);
        expect(parse(r).type, r).toBe('credit/receipt');
        await userTakesReceipt(user, r);
      }
      const backup = await backupData(fx, 'cli-backup');
      const old = `${user.dir}-old`;
      cpSync(user.dir, old, { recursive: true });
      const revived = user.nonce!;
      for (const amount of [3000, 4000]) {
        const r = await pay(user, amount);
        expect(parse(r).type, r).toBe('credit/receipt');
        await userTakesReceipt(user, r);
      }
      await restoreData(fx, backup);

      // The attacker: the user's old copy signs a DIFFERENT state 3 against the revived nonce.
      const attacker = { ...user, dir: old, nonce: revived };
      const forked = parse(await pay(attacker, 2500));
      expect([forked.type, forked.code, forked.exit_code], JSON.stringify(forked)).toEqual(['credit/error', 'E_NONCE_REOPENED', 1]);
      expect(stream.procs[0]!.stderr).toMatch(/^offchain: warning: E_NONCE_REOPENED ALARM: /m);
      // Every request ever sent, replayed to the stream.
      for (const s of [...sent]) await ask(s.line, s.nonce);
      for (const [n, txids] of signedUnder) expect(txids.size, `nonce ${n.slice(0, 16)}… answered ${[...txids].join(', ')}`).toBe(1);
      expect(signedUnder.size).toBe(4);
      // The restore was seen: the stream renewed its epoch (its old key wiped) and serves on.
      expect(stream.procs[0]!.stderr).toMatch(/^offchain: warning: the store postgres:\/\/\S+ broke under this stream \(E_STORE_ROLLED_BACK: .*\): it wiped its nonce key/m);
      // Recovery: the old copy (what the restored mint knows) abandons and pays on.
      const abandon = await userAbandons(attacker);
      const answer = await ask(abandon);
      expect(parse(answer).type, answer).toBe('credit/abandoned');
      await userTakesAbandoned(attacker, answer);
      const again = await pay(attacker, 2600);
      expect(parse(again).type, again).toBe('credit/receipt');
      expect((await stream.end()).map((e) => e.status)).toEqual([0]);
    } finally {
      await Promise.all(stream.procs.map((p) => (p.alive ? p.kill() : undefined)));
    }
  }, 300_000);

  it('property: kills while a COMMIT is on its way and restores of one or more steps, in random order over two processes: no nonce opened for two sessions; a process whose transactions were undone commits nothing more, the others are never refused (restore-property.ts)', async () => {
    await restoreProperty(fx);
  }, 300_000);
}, { prefix: 'offchain-pg-restore-' });
