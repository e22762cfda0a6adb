/**
 * The restore rule (src/lib/store/pg/mint-store.ts): a backup of the mint's PostgreSQL
 * database restored after more payments can never make a mint nonce sign twice.
 *
 * 1. Two stream processes (epoch A) open four contracts and take two payments each.
 * 2. Backup: the server stopped, its data directory copied, started again. The users'
 *    state directories are copied too (a user who keeps an old copy is the attacker
 *    below).
 * 3. New processes (epoch B): the users' nonces were sealed under A's keys, gone with A's
 *    processes — users 0 and 1 are refused (E_NONCE_ELSEWHERE, nothing burned), abandon
 *    (B burns the dead nonce, issues a fresh one) and pay twice more.
 * 4. Restore: the server stopped, the copy put back, started; new processes (epoch C).
 *    The nonces B consumed are back, unused, sealed under keys nobody holds.
 * 5. The attack: each old copy of users 0 and 1 signs a DIFFERENT state against the
 *    revived nonce → refused (E_NONCE_ELSEWHERE). Then every request and abandon ever sent
 *    is replayed to every process → no new signature under any nonce.
 * 6. Recovery: users 2 and 3 (whose nonces died with A) abandon and pay again. Users 0
 *    and 1 are ahead of the restored mint (it lost the states B signed): their payments are
 *    refused with a coded error and nothing is signed (docs/postgres.md: what a restore
 *    costs).
 * Counted: for every mint nonce the test handed out, every receipt answering a request
 * signed against it names one txid; across every exit signature (taken after each
 * phase), two signatures with the same R sign the same transaction; all exits verify
 * with the independent verifier.
 */
import { expect, it } from 'vitest';
import { cpSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Transaction } from '@scure/btc-signer';
import { hex } from '@scure/base';
import { independentSchnorr, productBackends } from '../independent/schnorr.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { pipeline } from '../e2e/cli.ts';
import { CAPACITY, message, mintStage, type Msg } from '../e2e/stream-credit.ts';
import { describePostgres } from './fixture.ts';
import { Cluster, pgMint, userAbandons, userOpenRequest, userOpened, userPays, userTakesAbandoned, userTakesReceipt, type PgUser } from './mint-cluster.ts';

const USERS = 4;
const PROCS = 2;

describePostgres('a restored backup never makes a mint nonce sign twice', (fx) => {

  it('backup, more payments, restore, restart, replay everything: no second signature under any nonce; users recover', async () => {
    const { env, mintDir, offerPath } = await pgMint(fx.server, 'restore', fx.root);
    const parse = (t: string) => JSON.parse(t) as Msg;
    /** Every line ever sent to a mint process, with the nonce its request was signed against. */
    const log: { line: string; nonce?: string }[] = [];
    /** mint nonce → txids of the receipts answering requests signed against it. */
    const signedUnder = new Map<string, Set<string>>();
    const note = (nonce: string, answer: string) => {
      const a = parse(answer);
      if (a.type !== 'credit/receipt') return;
      const set = signedUnder.get(nonce) ?? new Set<string>();
      set.add(a.txid);
      signedUnder.set(nonce, set);
    };
    /** Every exit signature seen: R (hex) → the txids it signed. */
    const byR = new Map<string, Set<string>>();
    const verifier = await independentSchnorr(productBackends({}));
    const exits = async (users: PgUser[]) => {
      for (const u of users) {
        const exit = message(await pipeline([mintStage(mintDir, env, 'exit-credit', '--fee-rate', '2', '--contract', u.contractId, '--dry-run')], ''), 'credit/exit', `exit ${u.index}`);
        const spend = verifyKeyPathSpend(exit.msg.state_tx.hex, [{ amount: CAPACITY, script: u.script, txid: u.funding.txid, vout: u.funding.vout }], u.outputKey, { verifier });
        const sig = Transaction.fromRaw(hex.decode(exit.msg.state_tx.hex), { allowUnknownOutputs: true }).getInput(0).finalScriptWitness![0]!;
        const R = hex.encode(sig.subarray(0, 32));
        byR.set(R, (byR.get(R) ?? new Set()).add(spend.txid));
      }
    };
    const pay = async (c: Cluster, u: PgUser, amount: number) => {
      const r = await userPays(u, amount);
      log.push({ line: r.line, nonce: r.nonce });
      const a = await c.ask(u.home, r.line);
      note(r.nonce, a);
      return { answer: a, req: r };
    };
    const abandon = async (c: Cluster, u: PgUser) => {
      const line = await userAbandons(u);
      log.push({ line });
      const a = await c.ask(u.home, line);
      expect(parse(a).type, a).toBe('credit/abandoned');
      await userTakesAbandoned(u, a);
    };

    // ——— 1. epoch A: open and pay ———
    let cluster = new Cluster(PROCS, mintDir, env);
    const users: PgUser[] = [];
    for (let i = 0; i < USERS; i++) {
      const { user, line } = await userOpenRequest(fx.root, offerPath, 'restore', i);
      user.home = i % PROCS;
      log.push({ line });
      const accept = await cluster.ask(user.home, line);
      expect(parse(accept).type, accept).toBe('credit/open-accept');
      await userOpened(user, accept);
      users.push(user);
      for (let k = 1; k <= 2; k++) {
        const { answer } = await pay(cluster, user, 1000 * (i + 1) + k);
        expect(parse(answer).type, answer).toBe('credit/receipt');
        await userTakesReceipt(user, answer);
      }
    }
    expect((await cluster.end()).map((e) => e.status)).toEqual([0, 0]);
    await exits(users);

    // ——— 2. the backup (and the users' own old copies) ———
    await fx.server.pause();
    const backup = join(fx.root, 'pg-backup');
    execFileSync('cp', ['-a', fx.server.dataDir, backup]);
    for (const u of users.slice(0, 2)) cpSync(u.dir, `${u.dir}-old`, { recursive: true });
    await fx.server.resume();

    // ——— 3. epoch B: A's nonces are dead; users 0 and 1 abandon and pay twice more ———
    cluster = new Cluster(PROCS, mintDir, env);
    for (const u of users.slice(0, 2)) {
      const { answer } = await pay(cluster, u, 500);
      expect(parse(answer).code, 'a nonce sealed under a key that died with its process').toBe('E_NONCE_ELSEWHERE');
      await abandon(cluster, u);
      for (let k = 3; k <= 4; k++) {
        const { answer: a } = await pay(cluster, u, 700 + k);
        expect(parse(a).type, a).toBe('credit/receipt');
        await userTakesReceipt(u, a);
      }
    }
    expect((await cluster.end()).map((e) => e.status)).toEqual([0, 0]);
    await exits(users.slice(0, 2));

    // ——— 4. the restore ———
    await fx.server.pause();
    rmSync(fx.server.dataDir, { recursive: true, force: true });
    execFileSync('cp', ['-a', backup, fx.server.dataDir]);
    await fx.server.resume();
    cluster = new Cluster(PROCS, mintDir, env);

    // ——— 5. the attack, then every line ever sent, to every process ———
    for (const [i, u] of users.slice(0, 2).entries()) {
      const old: PgUser = { ...u, dir: `${u.dir}-old`, nonce: undefined };
      // The old copy's nonce: the one the mint handed out at state 2 (revived by the restore).
      const revived = log.filter((l) => l.nonce && parse(l.line).contract_id === u.contractId && parse(l.line).state === 3)[0]!.nonce!;
      old.nonce = revived;
      const attack = await userPays(old, 9000 + i); // another amount: another message for state 3
      log.push({ line: attack.line, nonce: revived });
      for (const a of await cluster.askAll(attack.line)) {
        note(revived, a);
        expect(parse(a).code, `the revived nonce signs nothing: ${a}`).toBe('E_NONCE_ELSEWHERE');
      }
    }
    const replayed: string[] = [];
    for (const l of log) {
      for (const a of await cluster.askAll(l.line)) {
        replayed.push(a);
        if (l.nonce) note(l.nonce, a);
      }
    }
    // Answers to the replays: stored receipts/accepts of epoch A, refusals, and abandons answered afresh — never a new state.
    const codes = new Set(replayed.map((a) => parse(a).code ?? parse(a).type));
    for (const c of codes) expect(['credit/receipt', 'credit/open-accept', 'credit/abandoned', 'E_NONCE_ELSEWHERE', 'E_NONCE_UNKNOWN', 'E_NONCE_USED', 'E_STALE_STATE', 'E_CONTRACT_EXISTS', 'E_STATE_NUMBER']).toContain(c);

    // ——— 6. recovery ———
    for (const u of users.slice(2)) {
      const { answer } = await pay(cluster, u, 600);
      expect(parse(answer).code).toBe('E_NONCE_ELSEWHERE');
      await abandon(cluster, u);
      const { answer: a } = await pay(cluster, u, 800);
      expect(parse(a).type, a).toBe('credit/receipt');
      await userTakesReceipt(u, a);
    }
    const ahead: string[] = [];
    for (const u of users.slice(0, 2)) {
      const r = await pay(cluster, u, 900);
      ahead.push(parse(r.answer).code);
    }
    expect((await cluster.end()).map((e) => e.status)).toEqual([0, 0]);
    await exits(users);

    // ——— the counts ———
    for (const [nonce, txids] of signedUnder) expect(txids.size, `receipts signed under nonce ${nonce.slice(0, 16)}…: ${[...txids]}`).toBe(1);
    for (const [R, txids] of byR) expect(txids.size, `exit signatures with R ${R.slice(0, 16)}…`).toBe(1);
    expect(signedUnder.size).toBe(USERS * 2 + 2 * 2 + 2); // A: 8 states; B: 4; C: users 2 and 3 once each
    console.log(`restore: ${log.length} lines sent, all replayed to ${PROCS} processes after the restore; ${signedUnder.size} nonces each signed once; ${byR.size} distinct exit R; users ahead of the restored mint refused with ${ahead.join(', ')}`);
  }, 600_000);
}, { prefix: 'offchain-pg-restore-' });
