/**
 * Host epochs (src/lib/store/pg/host-epoch.ts): the one-shot mint commands of one host
 * share a nonce key kept under --state-dir, with a rollback witness beside it, so a
 * gateway (every step a one-shot command) works on a PostgreSQL mint — and a restore
 * still never makes a nonce sign twice.
 *
 * Library level (PgMintStore, several "commands" as separate stores on separate
 * connections): the key is shared on one host and not across hosts; many commands of one
 * host racing leave the witness exactly at the counter (no false alarm); a witness one
 * above the counter (a step killed between its witness and its COMMIT) keeps the key, two
 * above retire it, a counter above the witness retires it; a real restore (the server's
 * data directory put back) of exactly one tick keeps the key and the host's ledger refuses
 * the revived nonce (E_NONCE_REOPENED) in every command; a restore of two ticks: a store
 * that survives it refuses before anything leaves and shreds the key, and a command opened
 * after it retires the epoch and cannot open a revived nonce.
 *
 * CLI level: a contract opened and paid through one-shot `open-credit`/`sign-update
 * --role mint` processes on PostgreSQL; a backup; more one-shot payments; the restore;
 * the next one-shot step warns and refuses the revived nonce (E_NONCE_ELSEWHERE); every
 * request ever sent is replayed through one-shot processes: no nonce the test handed out
 * answers two different transactions; the user abandons and pays again.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { pipeline } from '../e2e/cli.ts';
import { PAY_FLAGS, mintStage, type Msg } from '../e2e/stream-credit.ts';
import { describePostgres } from './fixture.ts';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import type { PgTarget } from '../../src/lib/store/pg/connect.ts';
import { command, issue, storeTarget, type Rec } from './host-stores.ts';
import { Cluster, pgMint, userAbandons, userOpenRequest, userOpened, userPays, userTakesAbandoned, userTakesReceipt } from './mint-cluster.ts';


describePostgres('host epochs: one-shot mint commands on PostgreSQL', (fx) => {
  let db = 0;

  const target = async (): Promise<PgTarget> => (await storeTarget(fx.server, `host_${++db}`)).t;
  const keyFile = (hostDir: string) => readdirSync(hostDir).find((f) => f.startsWith('epoch-'))!;
  const seenOf = (hostDir: string, epoch: string) => (JSON.parse(readFileSync(join(hostDir, `seen-${epoch}.json`), 'utf8')) as { version: number }).version;
  const counterOf = async (t: PgTarget, epoch: string) => {
    const s = await PgMintStore.open<Rec>(t, 'regtest', { view: true });
    try {
      const { default: pgm } = await import('pg');
      const c = new pgm.Client({ host: t.host, port: t.port, user: t.user, password: t.password, database: t.database });
      await c.connect();
      const row = (await c.query<{ counter: string }>('SELECT counter FROM epochs WHERE epoch = $1', [epoch])).rows[0];
      await c.end();
      return row ? Number(row.counter) : undefined;
    } finally {
      await s.abandon();
    }
  };

  it("shares one key among a host's one-shot commands (0600 under --state-dir), not with another host", async () => {
    const t = await target();
    const hostA = join(fx.root, 'share-a');
    const hostB = join(fx.root, 'share-b');
    const n = await issue(t, hostA, 'ctx:1');
    // A second command of host A (a new process in real life) opens the nonce the first issued.
    const secret = await command(t, hostA, (s) => s.take(n.pub, 'ctx:1'));
    expect(Buffer.from(secret).equals(Buffer.from(n.sec))).toBe(true);
    const file = keyFile(hostA);
    expect(statSync(join(hostA, file)).mode & 0o777).toBe(0o600);
    const { epoch } = JSON.parse(readFileSync(join(hostA, file), 'utf8')) as { epoch: string };
    expect(seenOf(hostA, epoch)).toBe(2); // issue + take, each one nonce transaction
    expect(await counterOf(t, epoch)).toBe(2);
    // Host B (another --state-dir) has its own key: it cannot sign with A's nonce, and nothing was written.
    const m = await issue(t, hostA, 'ctx:2');
    await expect(command(t, hostB, (s) => s.take(m.pub, 'ctx:2'))).rejects.toMatchObject({ code: 'E_NONCE_ELSEWHERE', exitCode: 5 });
    expect(await command(t, hostB, (s) => s.status(m.pub))).toBe('unused');
    expect(Buffer.from(await command(t, hostA, (s) => s.take(m.pub, 'ctx:2'))).equals(Buffer.from(m.sec))).toBe(true);
  }, 60_000);

  it("many commands of one host racing: every take served once, the witness ends exactly at the counter (no false alarm)", async () => {
    const t = await target();
    const host = join(fx.root, 'race');
    const ROUNDS = 8;
    const WORKERS = 6;
    const issued = await Promise.all(Array.from({ length: WORKERS * ROUNDS }, (_, i) => issue(t, host, `ctx:${i}`)));
    // Every nonce taken twice at once, by different commands: exactly one gets the secret.
    const outcomes = await Promise.all(
      issued.flatMap((n, i) => [0, 1].map(() => command(t, host, (s) => s.take(n.pub, `ctx:${i}`)).then((sec) => ({ ok: Buffer.from(sec).equals(Buffer.from(n.sec)) }), (e: { code?: string }) => ({ code: e.code })))),
    );
    expect(outcomes.filter((o) => 'ok' in o && o.ok).length).toBe(WORKERS * ROUNDS);
    expect(outcomes.filter((o) => 'code' in o).map((o) => (o as { code: string }).code).every((c) => c === 'E_NONCE_USED')).toBe(true);
    const { epoch } = JSON.parse(readFileSync(join(host, keyFile(host)), 'utf8')) as { epoch: string };
    expect(seenOf(host, epoch)).toBe(2 * WORKERS * ROUNDS);
    expect(await counterOf(t, epoch)).toBe(2 * WORKERS * ROUNDS);
  }, 120_000);

  it('a witness one above the counter (a step killed between witness and COMMIT) keeps the key; two above retires it, never a revived secret', async () => {
    const t = await target();
    const host = join(fx.root, 'killed');
    const n = await issue(t, host, 'ctx:k');
    const file = join(host, keyFile(host));
    const { epoch } = JSON.parse(readFileSync(file, 'utf8')) as { epoch: string };
    const witness = (v: number) => writeFileSync(join(host, `seen-${epoch}.json`), JSON.stringify({ version: v }), { mode: 0o600 });
    // What the witness write of a step killed before its COMMIT leaves behind: one above.
    witness(seenOf(host, epoch) + 1);
    const kept = await PgMintStore.open<Rec>(t, 'regtest', { hostDir: host });
    expect(kept.retiredHostEpoch).toBeUndefined();
    expect(kept.epoch).toBe(epoch);
    await kept.abandon();
    // The next tick passes one below and leaves the counter at the witness (not above it).
    const m = await issue(t, host, 'ctx:m');
    expect(seenOf(host, epoch)).toBe(2);
    expect(await counterOf(t, epoch)).toBe(2);
    // Two above (one-belows never add up: the witness only rises): retired.
    witness(4);
    const s = await PgMintStore.open<Rec>(t, 'regtest', { hostDir: host });
    expect(s.retiredHostEpoch).toMatchObject({ epoch, counter: 2, seen: 4 });
    expect(s.epoch).not.toBe(epoch);
    await s.abandon();
    await expect(command(t, host, (x) => x.take(n.pub, 'ctx:k'))).rejects.toMatchObject({ code: 'E_NONCE_ELSEWHERE' });
    await expect(command(t, host, (x) => x.take(m.pub, 'ctx:m'))).rejects.toMatchObject({ code: 'E_NONCE_ELSEWHERE' });
    // The user's way out: the dead nonce is burned by the new epoch, no secret needed.
    await command(t, host, (x) => x.burn(n.pub, 'ctx:k'));
    expect(await command(t, host, (x) => x.status(n.pub))).toBe('consumed');
    // A key file that is not a key is refused, coded.
    writeFileSync(file.replace(epoch, 'x'), '');
    writeFileSync(join(host, keyFile(host)), '{"epoch":"zz","key":"00"}', { mode: 0o600 });
    await expect(PgMintStore.open<Rec>(t, 'regtest', { hostDir: host })).rejects.toMatchObject({ code: 'E_STATE_CORRUPT' });
  }, 60_000);

  it('a counter above the witness (a tick this witness never saw) retires the key at the tick, before anything leaves', async () => {
    const t = await target();
    const host = join(fx.root, 'above');
    const n = await issue(t, host, 'ctx:a');
    const { epoch } = JSON.parse(readFileSync(join(host, keyFile(host)), 'utf8')) as { epoch: string };
    // Another holder of the key ticked (a copy of this --state-dir): the witness lags by one.
    const open = await PgMintStore.open<Rec>(t, 'regtest', { hostDir: host }); // passed its open check before
    writeFileSync(join(host, `seen-${epoch}.json`), JSON.stringify({ version: 0 }), { mode: 0o600 });
    await expect(open.step(() => open.take(n.pub, 'ctx:a'))).rejects.toMatchObject({ code: 'E_STORE_ROLLED_BACK' });
    await open.abandon();
    const s = await PgMintStore.open<Rec>(t, 'regtest', { hostDir: host });
    expect(s.epoch).not.toBe(epoch);
    await s.abandon();
    await expect(command(t, host, (x) => x.take(n.pub, 'ctx:a'))).rejects.toMatchObject({ code: 'E_NONCE_ELSEWHERE' });
  }, 60_000);

  const backupServer = async (name: string) => {
    await fx.server.pause();
    const to = join(fx.root, name);
    execFileSync('cp', ['-a', fx.server.dataDir, to]);
    await fx.server.resume();
    return to;
  };
  const restoreServer = async (from: string) => {
    await fx.server.pause();
    rmSync(fx.server.dataDir, { recursive: true, force: true });
    execFileSync('cp', ['-a', from, fx.server.dataDir]); // -a: as root the fx.server's files belong to postgres
    await fx.server.resume();
  };
  /** A store open across a restore: its first use after the server restart may be the lost connection; the retry meets the checks. */
  const retrying = (s: PgMintStore<Rec>) => <T>(fn: () => Promise<T>) => s.step(fn).catch(async (e) => {
    if ((e as { code?: string }).code === 'E_STORE_UNREACHABLE') return s.step(fn);
    throw e;
  });
  const session = (b: number) => new Uint8Array(32).fill(b);
  const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

  it('a real restore of exactly one tick (it took a nonce): the key is kept, the revived nonce is refused by the ledger (E_NONCE_REOPENED) in every command, nothing signed; the next tick restores the witness', async () => {
    const t = await target();
    const host = join(fx.root, 'restore-one');
    const a = await issue(t, host, 'ctx:a');
    const b = await issue(t, host, 'ctx:b');
    const backup = await backupServer('one-backup');
    // After the backup, one tick: nonce a signs session 1 (its secret leaves this "command").
    expect(same(await command(t, host, (s) => s.take(a.pub, 'ctx:a', session(1))), a.sec)).toBe(true);
    const survivor = await PgMintStore.open<Rec>(t, 'regtest', { hostDir: host });
    const keyPath = join(host, keyFile(host));
    const keyBefore = readFileSync(keyPath, 'utf8');
    const { epoch } = JSON.parse(keyBefore) as { epoch: string };
    expect(seenOf(host, epoch)).toBe(3);
    await restoreServer(backup); // the counter is 2: one below the witness, as after a killed step
    expect(await counterOf(t, epoch)).toBe(2);
    const opened: string[] = [];
    const take = (s: PgMintStore<Rec>, n: { pub: Uint8Array; sec: Uint8Array }, ctx: string, k: number) => async () => {
      const sec = await s.take(n.pub, ctx, session(k));
      opened.push(`${ctx}/${k}`);
      return sec;
    };
    // The revived a, for another session: the store open across the restore refuses it before its secret is touched …
    await expect(retrying(survivor)(take(survivor, a, 'ctx:a', 2))).rejects.toMatchObject({ code: 'E_NONCE_REOPENED', exitCode: 1 });
    expect(survivor.broken).toBeUndefined();
    // … and so does a command opened after it (the host's journal, not the process's memory).
    const fresh = await PgMintStore.open<Rec>(t, 'regtest', { hostDir: host });
    expect(fresh.retiredHostEpoch).toBeUndefined();
    await expect(fresh.step(take(fresh, a, 'ctx:a', 3))).rejects.toMatchObject({ code: 'E_NONCE_REOPENED' });
    await fresh.abandon();
    expect(opened, 'a opened for no second session').toEqual([]);
    // The key is kept: b, never opened, signs; the tick (counter 2 → 3, the witness 3) restores equality.
    expect(same(await retrying(survivor)(take(survivor, b, 'ctx:b', 4)), b.sec)).toBe(true);
    await survivor.close();
    expect(readFileSync(keyPath, 'utf8')).toBe(keyBefore);
    expect(seenOf(host, epoch)).toBe(3);
    expect(await counterOf(t, epoch)).toBe(3);
    // The same session a signed before is signed again (the same partial signature: nothing new).
    expect(same(await command(t, host, (s) => s.take(a.pub, 'ctx:a', session(1))), a.sec)).toBe(true);
  }, 180_000);

  it('a real restore of two ticks: the surviving store refuses before anything leaves and shreds the key; the next command retires the epoch and cannot open a revived nonce', async () => {
    const t = await target();
    const host = join(fx.root, 'restore');
    const a = await issue(t, host, 'ctx:a');
    const b = await issue(t, host, 'ctx:b');
    const c = await issue(t, host, 'ctx:c');
    const backup = await backupServer('lib-backup');
    // After the backup, two ticks: nonces a and b sign (their secrets leave these "commands").
    expect(same(await command(t, host, (s) => s.take(a.pub, 'ctx:a')), a.sec)).toBe(true);
    expect(same(await command(t, host, (s) => s.take(b.pub, 'ctx:b')), b.sec)).toBe(true);
    const survivor = await PgMintStore.open<Rec>(t, 'regtest', { hostDir: host });
    const keyPath = join(host, keyFile(host));
    const keyBefore = readFileSync(keyPath, 'utf8');
    await restoreServer(backup);
    // The revived a was opened before: the host's ledger refuses it before its secret is
    // touched (nonce-ledger.ts), the store stays usable.
    await expect(retrying(survivor)(() => survivor.take(a.pub, 'ctx:a'))).rejects.toMatchObject({ code: 'E_NONCE_REOPENED', exitCode: 1 });
    expect(survivor.broken).toBeUndefined();
    // Its next nonce step (taking c, never opened) is refused at its COMMIT by the witness —
    // after opening c in memory, before anything leaves — and the store is broken.
    await expect(retrying(survivor)(() => survivor.take(c.pub, 'ctx:c'))).rejects.toMatchObject({ code: 'E_STORE_ROLLED_BACK', exitCode: 1 });
    expect(survivor.broken).toBeDefined();
    await survivor.abandon();
    // The key file was shredded: nothing under --state-dir can open the revived nonces.
    expect(readdirSync(host).some((f) => f.startsWith('epoch-') && readFileSync(join(host, f), 'utf8') === keyBefore)).toBe(false);
    // The next command draws a fresh epoch; the revived a, b (and c) are dead to it, not signable.
    const next = await PgMintStore.open<Rec>(t, 'regtest', { hostDir: host });
    expect(next.epoch).not.toBe(JSON.parse(keyBefore).epoch);
    await next.close();
    for (const [n, ctx] of [[a, 'ctx:a'], [b, 'ctx:b'], [c, 'ctx:c']] as const) await expect(command(t, host, (s) => s.take(n.pub, ctx))).rejects.toMatchObject({ code: 'E_NONCE_ELSEWHERE' });
    expect(await command(t, host, (s) => s.status(a.pub))).toBe('unused');
  }, 180_000);

  it('one-shot CLI processes: open and pay, backup, pay more, restore; the next step warns and refuses the revived nonce; every request replayed signs nothing new; the user abandons and pays on', async () => {
    const { env, mintDir, offerPath } = await pgMint(fx.server, 'oneshot', fx.root);
    const parse = (text: string) => JSON.parse(text) as Msg;
    const oneShot = (line: string, ...args: string[]) => pipeline([mintStage(mintDir, env, ...args)], line).then((r) => r[0]!);
    /** mint nonce → the txids of every receipt answering a request signed against it. */
    const signedUnder = new Map<string, Set<string>>();
    const sent: { line: string; nonce: string }[] = [];
    const pay = async (u: Awaited<ReturnType<typeof userOpenRequest>>['user'], amount: number) => {
      const r = await userPays(u, amount);
      sent.push({ line: r.line, nonce: r.nonce });
      const out = await oneShot(r.line, 'sign-update', '--role', 'mint', ...PAY_FLAGS);
      if (out.status === 0) signedUnder.set(r.nonce, (signedUnder.get(r.nonce) ?? new Set()).add(parse(out.stdout).txid));
      return out;
    };
    const { user, line } = await userOpenRequest(fx.root, offerPath, 'oneshot', 0);
    const accept = await oneShot(line, 'open-credit', '--role', 'mint', '--tip-height', '1000');
    expect(accept.status, accept.stderr).toBe(0);
    await userOpened(user, accept.stdout);
    for (const amount of [1000, 2000]) {
      const r = await pay(user, amount);
      expect(r.status, r.stderr).toBe(0);
      await userTakesReceipt(user, r.stdout);
    }
    const hostDir = join(mintDir, 'regtest', 'credit-mint-pg');
    expect(statSync(join(hostDir, keyFile(hostDir))).mode & 0o777).toBe(0o600);

    await fx.server.pause();
    const backup = join(fx.root, 'cli-backup');
    execFileSync('cp', ['-a', fx.server.dataDir, backup]);
    await fx.server.resume();
    const old = `${user.dir}-old`;
    cpSync(user.dir, old, { recursive: true });

    for (const amount of [3000, 4000]) {
      const r = await pay(user, amount);
      expect(r.status, r.stderr).toBe(0);
      await userTakesReceipt(user, r.stdout);
    }

    await fx.server.pause();
    rmSync(fx.server.dataDir, { recursive: true, force: true });
    execFileSync('cp', ['-a', backup, fx.server.dataDir]); // -a: as root the fx.server's files belong to postgres
    await fx.server.resume();

    // The attacker: the user's old copy signs a DIFFERENT state against the revived nonce.
    const attacker = { ...user, dir: old };
    const forked = await pay(attacker, 2500);
    expect(forked.status, forked.stderr).toBe(5);
    expect(forked.stderr).toMatch(/went back in time/);
    expect(forked.stderr).toMatch(/E_NONCE_ELSEWHERE/);
    // Every request ever sent, replayed through one-shot processes.
    for (const s of [...sent]) {
      const r = await oneShot(s.line, 'sign-update', '--role', 'mint', ...PAY_FLAGS);
      if (r.status === 0 && parse(r.stdout).type === 'credit/receipt') signedUnder.set(s.nonce, (signedUnder.get(s.nonce) ?? new Set()).add(parse(r.stdout).txid));
    }
    for (const [n, txids] of signedUnder) expect(txids.size, `nonce ${n.slice(0, 16)}… answered ${[...txids].join(', ')}`).toBe(1);
    expect(signedUnder.size).toBe(4);
    // Recovery: the old copy (what the restored mint knows) abandons and pays on.
    const abandon = await userAbandons(attacker);
    const answer = await oneShot(abandon, 'credit', 'abandon', '--role', 'mint');
    expect(answer.status, answer.stderr).toBe(0);
    expect(parse(answer.stdout).type).toBe('credit/abandoned');
    await userTakesAbandoned(attacker, answer.stdout);
    const again = await pay(attacker, 2600);
    expect(again.status, again.stderr).toBe(0);
    expect(parse(again.stdout).type).toBe('credit/receipt');
  }, 300_000);

  it('sign-update --stream --nonce-epoch host: a restarted stream and the host\'s one-shot commands take each other\'s nonces, no abandon', async () => {
    const { env, mintDir, offerPath } = await pgMint(fx.server, 'hoststream', fx.root);
    const parse = (text: string) => JSON.parse(text) as Msg;
    const { user, line } = await userOpenRequest(fx.root, offerPath, 'hoststream', 0);
    let stream = new Cluster(1, mintDir, env, ['--nonce-epoch', 'host']);
    const accept = await stream.ask(0, line);
    expect(parse(accept).type, accept).toBe('credit/open-accept');
    await userOpened(user, accept);
    const r1 = await stream.ask(0, (await userPays(user, 1000)).line);
    expect(parse(r1).type, r1).toBe('credit/receipt');
    await userTakesReceipt(user, r1);
    expect((await stream.end()).map((e) => e.status)).toEqual([0]);
    // The restarted stream takes the nonce its predecessor issued: no abandon.
    stream = new Cluster(1, mintDir, env, ['--nonce-epoch', 'host']);
    const r2 = await stream.ask(0, (await userPays(user, 2000)).line);
    expect(parse(r2).type, r2).toBe('credit/receipt');
    await userTakesReceipt(user, r2);
    expect((await stream.end()).map((e) => e.status)).toEqual([0]);
    // A one-shot command of the same host takes the stream's nonce too.
    const r3 = (await pipeline([mintStage(mintDir, env, 'sign-update', '--role', 'mint', ...PAY_FLAGS)], (await userPays(user, 3000)).line))[0]!;
    expect(r3.status, r3.stderr).toBe(0);
    expect(parse(r3.stdout)).toMatchObject({ type: 'credit/receipt', cumulative_sat: 6000 });
    // The flag only where it means something.
    const oneShot = (await pipeline([mintStage(mintDir, env, 'sign-update', '--role', 'mint', '--nonce-epoch', 'host', ...PAY_FLAGS)], ''))[0]!;
    expect([oneShot.status, oneShot.stderr.trim()]).toEqual([2, expect.stringMatching(/^offchain: error E_USAGE: --nonce-epoch is for the mint's --stream/)]);
    const sqlite = (await pipeline([mintStage(join(fx.root, 'no-store'), {}, 'sign-update', '--role', 'mint', '--stream', '--nonce-epoch', 'host', ...PAY_FLAGS)], ''))[0]!;
    expect([sqlite.status, sqlite.stderr.trim()]).toEqual([2, expect.stringMatching(/^offchain: error E_USAGE: --nonce-epoch needs a PostgreSQL store/)]);
  }, 180_000);
}, { prefix: 'offchain-pg-host-' });
