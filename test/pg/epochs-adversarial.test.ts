/**
 * Adversarial review of host epochs (src/lib/store/pg/host-epoch.ts): what the host's
 * rollback witness must catch beyond a restore of the database alone.
 *
 * 1. A --state-dir copied to a second host (a gateway VM cloned to scale out, `rsync -a` of
 *    /srv/mint): both hosts hold the same epoch key, each with its own witness. Whatever
 *    each host sees, a restore of the database must never let one host open a nonce the
 *    other already signed with. The witness of a host that did not write the last counter
 *    lags it; a witness that does not cover the counter exactly is a history this host
 *    did not write, and must be treated as one: the key is retired.
 * 2. A COMMIT whose answer was lost while another command of the same host ticked the
 *    epoch before the new connection asked: the transaction committed, and the host's key
 *    must not be retired for it (a false alarm makes every user holding one of the host's
 *    nonces abandon).
 * 3. A COMMIT still in progress (a synchronous standby slow to confirm) when its connection
 *    dropped: the new connection must not read the counter before that COMMIT has ended —
 *    saying "nothing was kept" of a request that was, and then taking its own counter for
 *    a restore.
 * 4. The witness window (host-epoch.ts, "THE WITNESS IS EXACT, BUT ONE"): a command killed
 *    between raising the witness and its COMMIT costs no retirement, and its nonce signs
 *    only its own request again; a COMMIT lost that did not happen is not taken for
 *    committed when another command's tick passed one below; and, as a property
 *    (witness-window.ts), kills and restores in any order never open a nonce for two sessions.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describePostgres } from './fixture.ts';
import { pipeline } from '../e2e/cli.ts';
import { PAY_FLAGS, mintStage, type Msg } from '../e2e/stream-credit.ts';
import { Cluster, pgMint, userOpenRequest, userOpened, userPays, userTakesReceipt } from './mint-cluster.ts';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { resolvePgTarget, type PgTarget } from '../../src/lib/store/pg/connect.ts';
import { CommitProxy } from './commit-proxy.ts';
import { command, issue, nonce, storeTarget, type Rec } from './host-stores.ts';
import { witnessWindowProperty } from './witness-window.ts';



/** A stream's store (a process epoch) on `target`, with one nonce `n1` it issued for `ctx`. */
async function streamWithNonce(target: PgTarget, ctx: string) {
  const store = await PgMintStore.open<Rec & { response?: string }>(target, 'regtest');
  const n1 = nonce();
  await store.step(() => store.issue(ctx, () => ({ secnonce: Uint8Array.from(n1.sec), pubnonce: n1.pub })));
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

describePostgres('host epochs, adversarial: copied state directories, lost COMMITs', (fx) => {
  let db = 0;

  const target = () => storeTarget(fx.server, `witness_${++db}`);
  /** The secret `take` returned, or the refusal's code. */
  const tryTake = (t: PgTarget, hostDir: string, n: { pub: Uint8Array }, ctx: string) =>
    command(t, hostDir, (s) => s.take(n.pub, ctx)).then((sec) => Buffer.from(sec).toString('hex'), (e: { code?: string }) => `refused ${e.code}`);
  const backup = async (name: string) => {
    await fx.server.pause();
    const to = join(fx.root, name);
    execFileSync('cp', ['-a', fx.server.dataDir, to]);
    await fx.server.resume();
    return to;
  };
  const restore = async (from: string) => {
    await fx.server.pause();
    rmSync(fx.server.dataDir, { recursive: true, force: true });
    execFileSync('cp', ['-a', from, fx.server.dataDir]); // -a: as root the server's files belong to postgres
    await fx.server.resume();
  };

  /** A COMMIT proxy in front of the server, the database's target through it, and a direct admin connection. */
  const throughProxy = async ({ t, url }: { t: PgTarget; url: string }) => {
    const proxy = new CommitProxy(fx.server.port);
    await proxy.start();
    const { default: pgm } = await import('pg');
    const admin = new pgm.Client({ host: t.host, port: t.port, user: t.user, password: t.password, database: t.database });
    await admin.connect();
    admin.on('error', () => {}); // a test that restarts the server ends this connection too
    const viaProxy = resolvePgTarget({}, { OFFCHAIN_STORE_URL: url.replace(`:${fx.server.port}/`, `:${proxy.port}/`), OFFCHAIN_STORE_PASSWORD: fx.server.password })!;
    const end = async () => {
      proxy.hold = undefined;
      await admin.end().catch(() => undefined);
      await proxy.stop();
    };
    return { proxy, admin, viaProxy, end };
  };

  it('a --nonce-epoch host stream and one-shot processes of the same host paying at once (built CLI): the exact witness raises no false alarm', async () => {
    const { env, mintDir, offerPath } = await pgMint(fx.server, `cli_race_${++db}`, fx.root);
    const stream = new Cluster(1, mintDir, env, ['--nonce-epoch', 'host']);
    const users = await Promise.all([0, 1, 2, 3].map((i) => userOpenRequest(fx.root, offerPath, 'clirace', i)));
    for (const { user, line } of users) {
      const accept = await stream.ask(0, line);
      expect((JSON.parse(accept) as Msg).type, accept).toBe('credit/open-accept');
      await userOpened(user, accept);
    }
    const hostDir = join(mintDir, 'regtest', 'credit-mint-pg');
    const keyFile = readdirSync(hostDir).find((f) => f.startsWith('epoch-'))!;
    const keyBefore = readFileSync(join(hostDir, keyFile), 'utf8');
    const warnings: string[] = [];
    // Users 0 and 1 pay through the stream, users 2 and 3 through one-shot processes, all at
    // once, three rounds; each contract alternates between the two in the next rounds.
    for (let round = 0; round < 3; round++) {
      await Promise.all(users.map(async ({ user }, i) => {
        const req = await userPays(user, 1000 * (round + 1));
        const viaStream = (i + round) % 2 === 0;
        const answer = viaStream
          ? await stream.ask(0, req.line)
          : await pipeline([mintStage(mintDir, env, 'sign-update', '--role', 'mint', ...PAY_FLAGS)], req.line).then((r) => {
            if (r[0]!.stderr.trim()) warnings.push(r[0]!.stderr.trim());
            return r[0]!.status === 0 ? r[0]!.stdout : `exit ${r[0]!.status}: ${r[0]!.stderr}`;
          });
        expect(answer, `round ${round}, user ${i}, ${viaStream ? 'stream' : 'one-shot'}`).toMatch(/"type":\s*"credit\/receipt"/);
        await userTakesReceipt(user, answer);
      }));
    }
    expect((await stream.end()).map((e) => e.status)).toEqual([0]);
    expect(warnings.filter((w) => /went back in time/.test(w))).toEqual([]);
    expect(readFileSync(join(hostDir, keyFile), 'utf8')).toBe(keyBefore);
  }, 240_000);

  it("the host's key file is written once, not by every command (a rewrite leaves the old copy's blocks behind, unshredded)", async () => {
    const { t } = await target();
    const host = join(fx.root, 'once');
    await issue(t, host, 'ctx:1');
    const file = join(host, readdirSync(host).find((f) => f.startsWith('epoch-'))!);
    const before = statSync(file);
    await issue(t, host, 'ctx:2');
    await command(t, host, async () => undefined);
    const after = statSync(file);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  }, 60_000);

  it("a retirement killed between shredding the key file and unlinking it: the next command draws a fresh key (not E_STATE_CORRUPT for ever)", async () => {
    const { t } = await target();
    const host = join(fx.root, 'shred');
    const n1 = await issue(t, host, 'ctx:1');
    const file = join(host, readdirSync(host).find((f) => f.startsWith('epoch-'))!);
    const { epoch } = JSON.parse(readFileSync(file, 'utf8')) as { epoch: string };
    // What shredFile leaves when killed after its overwrite and fsync, before its unlink.
    writeFileSync(file, new Uint8Array(statSync(file).size));
    const s = await PgMintStore.open<Rec>(t, 'regtest', { hostDir: host });
    expect(s.epoch).not.toBe(epoch);
    await s.abandon();
    // The old epoch's nonce is dead (nobody holds its key), and burnable.
    expect(await tryTake(t, host, n1, 'ctx:1')).toBe('refused E_NONCE_ELSEWHERE');
    await command(t, host, (x) => x.burn(n1.pub, 'ctx:1'));
  }, 60_000);

  it('a --state-dir copied to a second host, then a restore: no nonce secret is opened twice', async () => {
    const { t } = await target();
    const hostA = join(fx.root, 'copy-a');
    const hostB = join(fx.root, 'copy-b');
    const n1 = await issue(t, hostA, 'ctx:1');
    // The operator clones host A to scale out: B has A's key and A's witness as of now.
    cpSync(hostA, hostB, { recursive: true });
    await issue(t, hostB, 'ctx:2'); // B serves
    await issue(t, hostA, 'ctx:3'); // A serves: the counter is now past what B's witness knows
    const b = await backup('copy-backup');
    // Host A signs with n1: its secret is used (leaves the command as a signature).
    const opened: string[] = [];
    opened.push(await tryTake(t, hostA, n1, 'ctx:1'));
    // The database goes back: n1 is unused again.
    await restore(b);
    // The user (or a load balancer) sends n1's context to host B, then to host A.
    opened.push(await tryTake(t, hostB, n1, 'ctx:1'));
    opened.push(await tryTake(t, hostA, n1, 'ctx:1'));
    const secret = Buffer.from(n1.sec).toString('hex');
    expect(opened.filter((o) => o === secret).length, `n1 opened by: ${opened.map((o) => (o === secret ? 'SECRET' : o)).join(', ')}`).toBeLessThanOrEqual(1);
  }, 120_000);

  it('a --state-dir copied to a second host, the first signs, the database goes back before the copy was ever used: the copy does not open that nonce', async () => {
    const { t } = await target();
    const hostA = join(fx.root, 'early-a');
    const hostB = join(fx.root, 'early-b');
    const n1 = await issue(t, hostA, 'ctx:1');
    const b = await backup('early-backup');
    cpSync(hostA, hostB, { recursive: true }); // B: a clone of A, not yet in service
    const secret = Buffer.from(n1.sec).toString('hex');
    expect(await tryTake(t, hostA, n1, 'ctx:1')).toBe(secret);
    await restore(b);
    // B's first command ever: its key and witness are exactly A's as of the backup.
    expect(await tryTake(t, hostB, n1, 'ctx:1')).not.toBe(secret);
  }, 120_000);

  it('a --nonce-epoch host stream open while another process holds its key under another witness, then a restore: the stream does not open the nonce that process signed with (the tick is exact)', async () => {
    // Issue 42 item 6. The open check (HostEpoch.join) cannot see this: the stream passed it
    // before the other holder ticked. Only the per-transaction tick — the counter must be
    // EXACTLY the stream's witness + 1 — stands between the restore and a second opening.
    const { t } = await target();
    const hostA = join(fx.root, 'stream-a');
    const hostB = join(fx.root, 'stream-b');
    const n1 = await issue(t, hostA, 'ctx:1'); // counter 1, A's witness 1, n1 in A's ledger
    // The long-running stream of host A (sign-update --stream --nonce-epoch host opens its store so).
    const stream = await PgMintStore.open<Rec>(t, 'regtest', { hostDir: hostA });
    try {
      // Host B holds the same key under a witness of its own: its --state-dir a clone of A's
      // whose key file is the very same file (a block-level clone, a shared volume), so B's
      // first command finds its witness consistent and serves.
      cpSync(hostA, hostB, { recursive: true });
      const keyFile = readdirSync(hostA).find((f) => f.startsWith('epoch-'))!;
      rmSync(join(hostB, keyFile));
      execFileSync('ln', [join(hostA, keyFile), join(hostB, keyFile)]);
      await issue(t, hostB, 'ctx:2'); // counter 2: past the stream's witness
      const b = await backup('stream-backup');
      const secret = Buffer.from(n1.sec).toString('hex');
      const opened: string[] = [];
      opened.push(await tryTake(t, hostB, n1, 'ctx:1')); // B signs with n1: counter 3
      expect(opened[0], 'host B opens n1 once').toBe(secret);
      await restore(b); // counter 2, n1 unused again
      // The stream (its ledger under A still holds n1: B's opening went to B's ledger) is asked for n1.
      const second = await stream.step(async () => Buffer.from(await stream.take(n1.pub, 'ctx:1')).toString('hex'))
        .then((sec) => sec, (e: { code?: string }) => `refused ${e.code}`);
      opened.push(second);
      expect(second, 'the stream refuses: the counter (3) is above its witness (1) + 1').toBe('refused E_STORE_ROLLED_BACK');
      expect(opened.filter((o) => o === secret).length, `n1 committed by: ${opened.map((o) => (o === secret ? 'SECRET' : o)).join(', ')}`).toBe(1);
    } finally {
      await stream.abandon();
    }
  }, 120_000);

  it("a host whose witness was lost (its key kept), then a restore: the revived nonce's secret is not opened again", async () => {
    const { t } = await target();
    const host = join(fx.root, 'lost');
    const n1 = await issue(t, host, 'ctx:1');
    const b = await backup('lost-backup');
    const secret = Buffer.from(n1.sec).toString('hex');
    expect(await tryTake(t, host, n1, 'ctx:1')).toBe(secret);
    // The witness goes (a clean-up, a --state-dir restored from before the first nonce step);
    // the key file stays. Then the database goes back.
    const witness = readdirSync(host).filter((f) => f.startsWith('seen-'));
    expect(witness.length).toBe(1);
    for (const f of witness) rmSync(join(host, f));
    await restore(b);
    expect(await tryTake(t, host, n1, 'ctx:1')).not.toBe(secret);
  }, 120_000);

  /**
   * Command 1 of a fresh host (--state-dir `fx.root/name`), through the proxy: it takes a fresh
   * nonce n1 (for `sessionOf`), and its COMMIT is held on the wire — `after`: it reached the
   * server and the answer is lost; `before`: dropped before the server saw it — until `release()`.
   * `first` is its outcome: the secret's hex, or "refused CODE: message".
   */
  async function heldTake(name: string, armed: 'after' | 'before', sessionOf?: Uint8Array) {
    const { t, url } = await target();
    const host = join(fx.root, name);
    const { proxy, viaProxy, end } = await throughProxy({ t, url });
    try {
      const n1 = await issue(t, host, 'ctx:1');
      const keyFile = readdirSync(host).find((f) => f.startsWith('epoch-'))!;
      const keyBefore = readFileSync(join(host, keyFile), 'utf8');
      const a = await PgMintStore.open<Rec>(viaProxy, 'regtest', { hostDir: host });
      let release!: () => void;
      proxy.hold = new Promise<void>((r) => (release = r));
      proxy.armed = armed;
      const first = a.step(() => a.take(n1.pub, 'ctx:1', sessionOf)).then((sec) => Buffer.from(sec).toString('hex'), (e: { code?: string; message?: string }) => `refused ${e.code}: ${e.message}`);
      await proxy.fires();
      return { t, host, n1, keyFile, keyBefore, a, release, first, end };
    } catch (e) {
      await end();
      throw e;
    }
  }

  it("a COMMIT whose answer was lost while another command of the host ticked: it committed, and the host's key is kept", async () => {
    // Command 1 (through the proxy) takes n1; its COMMIT reaches the server, the answer is lost.
    const { t, host, n1, keyFile, keyBefore, a, release, first, end } = await heldTake('lost-commit', 'after');
    try {
      // Before command 1's new connection asks, command 2 of the same host issues a nonce.
      await new Promise((r) => setTimeout(r, 300)); // the COMMIT lands before command 2's tick waits on its row
      const n2 = await issue(t, host, 'ctx:2');
      release();
      const outcome = await first;
      await a.abandon();
      // The take committed: the answer may be released, and the secret is the nonce's.
      expect(outcome).toBe(Buffer.from(n1.sec).toString('hex'));
      // No false alarm: the host's key file is the same, and command 2's nonce is still signable.
      expect(existsSync(join(host, keyFile)) && readFileSync(join(host, keyFile), 'utf8')).toBe(keyBefore);
      expect(await tryTake(t, host, n2, 'ctx:2')).toBe(Buffer.from(n2.sec).toString('hex'));
    } finally {
      await end();
    }
  }, 120_000);

  const session = (b: number) => new Uint8Array(32).fill(b);
  const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
  const witnessOf = (host: string, epoch: string) => (JSON.parse(readFileSync(join(host, `seen-${epoch}.json`), 'utf8')) as { version: number }).version;
  const counterOf = async (admin: { query: (q: string, v: unknown[]) => Promise<{ rows: { counter: string }[] }> }, epoch: string) => Number((await admin.query('SELECT counter FROM epochs WHERE epoch = $1', [epoch])).rows[0]!.counter);

  it('a command killed between raising the witness and its COMMIT: the host keeps its key; the nonce it opened signs only that same request again (another is E_NONCE_USED: one abandon); the next tick brings the witness back to the counter', async () => {
    const { t, url } = await target();
    const host = join(fx.root, 'killed-tick');
    const { proxy, admin, viaProxy, end } = await throughProxy({ t, url });
    const window = process.env['OFFCHAIN_STORE_RECONNECT_SECONDS'];
    try {
      const n1 = await issue(t, host, 'ctx:1');
      const n2 = await issue(t, host, 'ctx:2');
      const keyFile = readdirSync(host).find((f) => f.startsWith('epoch-'))!;
      const keyBefore = readFileSync(join(host, keyFile), 'utf8');
      const { epoch } = JSON.parse(keyBefore) as { epoch: string };
      // The victim signs with n1 (session 1) and issues the contract's next nonce; its COMMIT
      // is held on the wire — ledger settled, witness raised — and then it dies: its
      // connection closes (the server rolls the transaction back) and it never speaks again.
      const victim = await PgMintStore.open<Rec>(viaProxy, 'regtest', { hostDir: host });
      proxy.armed = 'held';
      process.env['OFFCHAIN_STORE_RECONNECT_SECONDS'] = '0';
      const dying = victim.step(async () => {
        await victim.take(n1.pub, 'ctx:1', session(1));
        await victim.issue('ctx:1/next', () => ({ secnonce: new Uint8Array(97).fill(7), pubnonce: nonce().pub }));
      }).then(() => 'answered', (e: { code?: string }) => `refused ${e.code}`);
      await proxy.fires();
      await proxy.stop();
      expect(await dying).not.toBe('answered');
      await victim.abandon();
      if (window === undefined) delete process.env['OFFCHAIN_STORE_RECONNECT_SECONDS'];
      else process.env['OFFCHAIN_STORE_RECONNECT_SECONDS'] = window;
      expect(witnessOf(host, epoch), 'the window: the witness one above the counter').toBe((await counterOf(admin, epoch)) + 1);
      // The host's next command keeps the key.
      const next = await PgMintStore.open<Rec>(t, 'regtest', { hostDir: host });
      expect(next.retiredHostEpoch).toBeUndefined();
      expect(next.epoch).toBe(epoch);
      await next.abandon();
      // n1 is unused in the database but opened in the host's ledger (settled before the
      // witness): another request on it is refused as used — its user abandons once —
      // before its secret is touched …
      await expect(command(t, host, (s) => s.take(n1.pub, 'ctx:1', session(2)))).rejects.toMatchObject({ code: 'E_NONCE_USED', exitCode: 5 });
      // … and the same request again (a --peer retry sends the same bytes) is signed again identically.
      expect(hexOf(await command(t, host, (s) => s.take(n1.pub, 'ctx:1', session(1))))).toBe(hexOf(n1.sec));
      // That tick passed one below and left the counter at the witness; the next is plain.
      expect(witnessOf(host, epoch)).toBe(await counterOf(admin, epoch));
      expect(hexOf(await command(t, host, (s) => s.take(n2.pub, 'ctx:2', session(3))))).toBe(hexOf(n2.sec));
      expect(witnessOf(host, epoch)).toBe(await counterOf(admin, epoch));
      expect(readFileSync(join(host, keyFile), 'utf8')).toBe(keyBefore);
    } finally {
      if (window === undefined) delete process.env['OFFCHAIN_STORE_RECONNECT_SECONDS'];
      else process.env['OFFCHAIN_STORE_RECONNECT_SECONDS'] = window;
      await end();
    }
  }, 120_000);

  it("a COMMIT lost on the wire that did not happen, while another command of the host ticked one below the witness: not taken for committed (the server says aborted), nothing released", async () => {
    // Command 1 (through the proxy) takes n1; its COMMIT is dropped before the server sees it
    // (the server rolls the transaction back), and its reconnection is held.
    const { t, host, n1, keyFile, keyBefore, a, release, first, end } = await heldTake('lost-aborted', 'before', session(1));
    try {
      // Command 2 of the host ticks: the counter one below the witness command 1 raised, it
      // passes and brings the counter to exactly what command 1's tick would have made it.
      const n2 = await issue(t, host, 'ctx:2');
      release();
      const outcome = await first;
      await a.abandon();
      expect(outcome, 'command 1 releases nothing: its COMMIT did not happen').toMatch(/^refused E_STORE_UNREACHABLE: /);
      expect(await command(t, host, (s) => s.status(n1.pub))).toBe('unused');
      // The key is kept; n1 signs only that same request again; n2 signs.
      expect(readFileSync(join(host, keyFile), 'utf8')).toBe(keyBefore);
      await expect(command(t, host, (s) => s.take(n1.pub, 'ctx:1', session(2)))).rejects.toMatchObject({ code: 'E_NONCE_USED' });
      expect(hexOf(await command(t, host, (s) => s.take(n1.pub, 'ctx:1', session(1))))).toBe(hexOf(n1.sec));
      expect(await tryTake(t, host, n2, 'ctx:2')).toBe(hexOf(n2.sec));
    } finally {
      await end();
    }
  }, 120_000);

  it('property: kills between witness and COMMIT, one- and many-step restores in random order: no nonce opened for two sessions; the key retired exactly when the counter is two or more below the witness (witness-window.ts)', async () => {
    await witnessWindowProperty(fx);
  }, 300_000);

  it("a stream's COMMIT answer lost, its result replayed by another process, then a failover to a standby without it: the stream does not sign with that nonce again", async () => {
    const { t, url } = await target();
    const { proxy, viaProxy, end } = await throughProxy({ t, url });
    try {
      // Stream P (a process epoch, through the proxy) issues n1 for a close at state 1.
      const { store: p, n1 } = await streamWithNonce(viaProxy, 'ctx:close');
      // The standby that will be promoted lags here: it has n1 issued, not taken.
      const lagging = await backup('failover-standby');
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
      await restore(lagging);
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
    const { proxy, admin, viaProxy, end } = await throughProxy({ t, url });
    try {
      const { store: p, n1 } = await streamWithNonce(viaProxy, 'ctx:close');
      // The dump (what pg_dump keeps of the tables that matter here).
      const tables = ['epochs', 'nonces', 'contracts'];
      for (const table of tables) await admin.query(`CREATE TABLE dump_${table} AS TABLE ${table}`);
      const opened: string[] = [];
      const { first, release } = await signLosingCommit(proxy, p, n1, opened);
      let replayed: string | undefined;
      for (let i = 0; i < 100 && !replayed; i++) {
        replayed = (await admin.query<{ record: string }>("SELECT record FROM contracts WHERE contract_id = 'c1'")).rows[0]?.record;
        if (!replayed) await new Promise((r) => setTimeout(r, 50));
      }
      expect(replayed).toMatch(/signed M1/);
      // pg_restore --clean of the dump: each table dropped, created again, its rows copied back.
      await admin.query('BEGIN');
      for (const table of tables) {
        await admin.query(`CREATE TABLE restored_${table} (LIKE ${table} INCLUDING ALL)`);
        await admin.query(`DROP TABLE ${table}`);
        await admin.query(`ALTER TABLE restored_${table} RENAME TO ${table}`);
        await admin.query(`INSERT INTO ${table} SELECT * FROM dump_${table}`);
      }
      await admin.query('COMMIT');
      release();
      const outcome = await first;
      await neverTwice(p, n1, outcome, opened);
    } finally {
      await end();
    }
  }, 120_000);

  it('a COMMIT still in progress when its connection dropped (a synchronous standby slow to answer): not reported "not kept" while it commits, no false rollback after', async () => {
    const { t, url } = await target();
    const { proxy, admin, viaProxy, end } = await throughProxy({ t, url });
    try {
      // A stream's store (a process epoch), through the proxy.
      const { store: a, n1 } = await streamWithNonce(viaProxy, 'ctx:1');
      // What a synchronous standby slow to confirm does to a COMMIT: it is finished (and
      // visible, its locks released) only later. Stood in for by a deferred trigger that waits.
      await admin.query(`CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1.5); RETURN NULL; END $$;
        CREATE CONSTRAINT TRIGGER slow_commit AFTER UPDATE ON epochs DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();`);
      proxy.armed = 'during';
      const outcome = await a.step(() => a.take(n1.pub, 'ctx:1')).then((sec) => ({ secret: Buffer.from(sec).toString('hex') }), (e: { code?: string; message?: string }) => ({ code: e.code, message: e.message ?? '' }));
      expect(proxy.fired).toBe(1);
      await admin.query('DROP TRIGGER slow_commit ON epochs');
      await new Promise((r) => setTimeout(r, 2_000)); // the lost COMMIT has finished by now
      // n1 is the only nonce of this database (a consumed row keeps neither pubnonce nor secret).
      const rows = (await admin.query<{ consumed: boolean }>('SELECT consumed FROM nonces')).rows;
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
}, { prefix: 'offchain-pg-witness-' });
