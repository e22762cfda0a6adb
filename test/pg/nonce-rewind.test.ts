/**
 * Issue 38, Found 1 — whoever can write the mint's database recovered the mint's key: the
 * DBA (or the mint's own role, a table owner) copies a nonce's row and the contract's row
 * before a payment and puts them back after it, twice; the live mint opened the same
 * secret nonce again and signed three different state-1 messages with it, and three
 * signatures under one nonce solve for the key (test/pg/nonce-rewind-key.test.ts does the
 * algebra). Epochs and witnesses catch a restored database, not a rewound row.
 *
 * Here, through the built CLI, the attack exactly as found: a `sign-update --stream` mint and a
 * `serve mint` service (each a process epoch; the one-shot mint commands of a host epoch it was
 * staged against once are refused on PostgreSQL now: one-shot-steps.test.ts). The attacker is the database's
 * superuser (triggers off for its session: `session_replication_role = replica`, as a
 * table owner could `DISABLE TRIGGER`) and a colluding user who keeps a copy of its state
 * directory from before the payment, so each round is a different state 1. The test keeps
 * its own book of receipts per mint nonce (each receipt is one signature under that nonce):
 * exactly one. Each replay is refused E_NONCE_REOPENED (exit 1) with an alarm — a
 * `credit/error` line and a stderr line from the stream, a credit/error answer and a log line
 * from the service — and writes nothing: the database's rows and the service's --state-dir are
 * the same after it. Each then serves another contract.
 *
 * Seen failing: with the ledger's check removed (`NonceLedger.claim` accepting any id),
 * both tests got three receipts under the one nonce.
 */
import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';
import { MINT_KEY, PAY_FLAGS, type Msg } from '../e2e/stream-credit.ts';
import { ServeMintProcess } from '../e2e/serve-process.ts';
import { describePostgres } from './fixture.ts';
import { Cluster, pgMint, userOpenRequest, userOpened, userPays, userTakesReceipt } from './mint-cluster.ts';
import { dba, rewind, rows, save, snapshotUser, tree } from './rewind.ts';

const AMOUNTS = [1000, 2000, 3000];

describePostgres('a rewound nonce row gets no second signature (issue 38, the ledger rule)', (fx) => {
  it('a stream: the nonce and contract rows put back twice after a payment; two more state-1 requests on that nonce refused with an alarm, nothing written; the stream serves on', async () => {
    const { env, mintDir, offerPath } = await pgMint(fx.server, 'rewind_stream', fx.root);
    const db = await dba(fx.server, env['OFFCHAIN_STORE_URL']!);
    const stream = new Cluster(1, mintDir, env);
    try {
      const parse = (t: string) => JSON.parse(t) as Msg;
      /** mint nonce → the txids of the receipts answering requests signed against it. */
      const signedUnder = new Map<string, string[]>();
      const { user, line } = await userOpenRequest(fx.root, offerPath, 'rewind-stream', 0);
      const accept = await stream.ask(0, line);
      expect(parse(accept).type, accept).toBe('credit/open-accept');
      await userOpened(user, accept);
      const nonce = user.nonce!;
      const back = snapshotUser(user);
      const saved = await save(db, user.contractId, nonce);
      const refusals: Msg[] = [];
      for (const [round, amount] of AMOUNTS.entries()) {
        if (round > 0) {
          await rewind(db, user.contractId, saved);
          back();
        }
        const r = await userPays(user, amount);
        expect(r.nonce).toBe(nonce);
        const before = await rows(db);
        const answer = parse(await stream.ask(0, r.line));
        if (answer.type === 'credit/receipt') {
          signedUnder.set(r.nonce, [...(signedUnder.get(r.nonce) ?? []), answer.txid as string]);
          continue;
        }
        refusals.push(answer);
        expect(await rows(db), 'a refused request writes nothing').toBe(before);
      }
      // One signature under the nonce, whatever the database said later.
      expect([...signedUnder.entries()].map(([n, txids]) => [n, txids.length])).toEqual([[nonce, 1]]);
      expect(refusals.map((a) => [a.type, a.code, a.exit_code])).toEqual([['credit/error', 'E_NONCE_REOPENED', 1], ['credit/error', 'E_NONCE_REOPENED', 1]]);
      expect(refusals[0]!.message).toMatch(/^ALARM: the store postgres:\/\/.* offers the mint's nonce [0-9a-f]{16}… as unused, but this process \(pid \d+, epoch [0-9a-f]{8}…\) already opened it/);
      // The alarm on standard error too, once per refusal.
      expect(stream.procs[0]!.stderr.match(/^offchain: warning: E_NONCE_REOPENED ALARM: /gm)).toHaveLength(2);
      // The stream was not stopped: another contract opens and pays through it.
      const other = await userOpenRequest(fx.root, offerPath, 'rewind-stream', 1);
      const otherAccept = await stream.ask(0, other.line);
      await userOpened(other.user, otherAccept);
      const paid = parse(await stream.ask(0, (await userPays(other.user, 500)).line));
      expect(paid.type, JSON.stringify(paid)).toBe('credit/receipt');
      await userTakesReceipt(other.user, JSON.stringify(paid));
      expect((await stream.end()).map((e) => e.status)).toEqual([0]);
    } finally {
      await db.end();
      await Promise.all(stream.procs.map((p) => (p.alive ? p.kill() : undefined)));
    }
  }, 300_000);

  it('serve mint: the same rewinds; each replay refused E_NONCE_REOPENED (exit 1, its alarm in the answer and the log), the database and --state-dir unchanged; the service serves on', async () => {
    const { env, mintDir, offerPath } = await pgMint(fx.server, 'rewind_service', fx.root);
    const db = await dba(fx.server, env['OFFCHAIN_STORE_URL']!);
    const svc = await ServeMintProcess.start(['--key-env', 'MINT_KEY', '--state-dir', mintDir, ...PAY_FLAGS], { ...env, MINT_KEY });
    try {
      const signedUnder = new Map<string, string[]>();
      const { user, line } = await userOpenRequest(fx.root, offerPath, 'rewind-service', 0);
      const accept = await svc.post('/v1/credit/open', line);
      expect(accept.status, accept.text).toBe(200);
      await userOpened(user, accept.text);
      const nonce = user.nonce!;
      const back = snapshotUser(user);
      const saved = await save(db, user.contractId, nonce);
      const refused: { status: number; body: Msg }[] = [];
      for (const [round, amount] of AMOUNTS.entries()) {
        if (round > 0) {
          await rewind(db, user.contractId, saved);
          back();
        }
        const r = await userPays(user, amount);
        expect(r.nonce).toBe(nonce);
        const before = { rows: await rows(db), files: existsSync(mintDir) ? tree(mintDir) : {} };
        const out = await svc.post('/v1/credit/update', r.line);
        if (out.status === 200) {
          signedUnder.set(r.nonce, [...(signedUnder.get(r.nonce) ?? []), (JSON.parse(out.text) as Msg).txid as string]);
          continue;
        }
        refused.push({ status: out.status, body: JSON.parse(out.text) as Msg });
        expect({ rows: await rows(db), files: existsSync(mintDir) ? tree(mintDir) : {} }, 'a refused step writes nothing, in the database or under --state-dir').toEqual(before);
      }
      expect([...signedUnder.entries()].map(([n, txids]) => [n, txids.length])).toEqual([[nonce, 1]]);
      expect(refused.map((x) => [x.body.type, x.body.code, x.body.exit_code])).toEqual([['credit/error', 'E_NONCE_REOPENED', 1], ['credit/error', 'E_NONCE_REOPENED', 1]]);
      for (const x of refused) expect(x.status).toBeGreaterThanOrEqual(400);
      expect(refused[0]!.body.message).toMatch(/^ALARM: the store postgres:\/\/.* offers the mint's nonce [0-9a-f]{16}… as unused, but this process \(pid \d+, epoch [0-9a-f]{8}…\) already opened it/);
      expect(svc.stderr.match(/E_NONCE_REOPENED/g)?.length ?? 0, svc.stderr).toBeGreaterThanOrEqual(2);
      // The service was not stopped: another contract opens and pays through it.
      const other = await userOpenRequest(fx.root, offerPath, 'rewind-service', 1);
      const otherAccept = await svc.post('/v1/credit/open', other.line);
      expect(otherAccept.status, otherAccept.text).toBe(200);
      await userOpened(other.user, otherAccept.text);
      const paid = await svc.post('/v1/credit/update', (await userPays(other.user, 500)).line);
      expect(paid.status, paid.text).toBe(200);
      await userTakesReceipt(other.user, paid.text);
    } finally {
      await db.end();
      expect((await svc.stop()).status, svc.stderr).toBe(0);
    }
  }, 300_000);
}, { prefix: 'offchain-pg-rewind-' });
