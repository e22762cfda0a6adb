/**
 * Issue 38, Found 1 — whoever can write the mint's database recovered the mint's key: the
 * DBA (or the mint's own role, a table owner) copies a nonce's row and the contract's row
 * before a payment and puts them back after it, twice; the live mint opened the same
 * secret nonce again and signed three different state-1 messages with it, and three
 * signatures under one nonce solve for the key (test/pg/nonce-rewind-key.test.ts does the
 * algebra). Epochs and witnesses catch a restored database, not a rewound row.
 *
 * Here, through the built CLI, the attack exactly as found: a stream (process epoch) and
 * one-shot `sign-update` commands of one host (host epoch). The attacker is the database's
 * superuser (triggers off for its session: `session_replication_role = replica`, as a
 * table owner could `DISABLE TRIGGER`) and a colluding user who keeps a copy of its state
 * directory from before the payment, so each round is a different state 1. The test keeps
 * its own book of receipts per mint nonce (each receipt is one signature under that nonce):
 * exactly one. Each replay is refused E_NONCE_REOPENED (exit 1) with an alarm — a
 * `credit/error` line and a stderr line from the stream, one coded stderr line and nothing
 * on stdout from a one-shot command — and writes nothing: the database's rows and the
 * host's --state-dir are the same after it. The stream then serves another contract.
 *
 * Seen failing: with the ledger's check removed (`NonceLedger.claim` accepting any id),
 * both tests got three receipts under the one nonce.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { pipeline } from '../e2e/cli.ts';
import { mintStage, PAY_FLAGS, type Msg } from '../e2e/stream-credit.ts';
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

  it('one-shot commands of one host: the same rewinds; each replay refused E_NONCE_REOPENED (exit 1, one stderr line, nothing on stdout), the database and --state-dir unchanged', async () => {
    const { env, mintDir, offerPath } = await pgMint(fx.server, 'rewind_oneshot', fx.root);
    const db = await dba(fx.server, env['OFFCHAIN_STORE_URL']!);
    try {
      const oneShot = (line: string, ...args: string[]) => pipeline([mintStage(mintDir, env, ...args)], line).then((r) => r[0]!);
      const signedUnder = new Map<string, string[]>();
      const { user, line } = await userOpenRequest(fx.root, offerPath, 'rewind-oneshot', 0);
      const accept = await oneShot(line, 'open-credit', '--role', 'mint', '--tip-height', '1000');
      expect(accept.status, accept.stderr).toBe(0);
      await userOpened(user, accept.stdout);
      const nonce = user.nonce!;
      const back = snapshotUser(user);
      const saved = await save(db, user.contractId, nonce);
      const refused: { status: number | null; stdout: string; stderr: string }[] = [];
      for (const [round, amount] of AMOUNTS.entries()) {
        if (round > 0) {
          await rewind(db, user.contractId, saved);
          back();
        }
        const r = await userPays(user, amount);
        expect(r.nonce).toBe(nonce);
        const before = { rows: await rows(db), files: tree(mintDir) };
        const out = await oneShot(r.line, 'sign-update', '--role', 'mint', ...PAY_FLAGS);
        if (out.status === 0) {
          signedUnder.set(r.nonce, [...(signedUnder.get(r.nonce) ?? []), (JSON.parse(out.stdout) as Msg).txid as string]);
          continue;
        }
        refused.push(out);
        expect({ rows: await rows(db), files: tree(mintDir) }, 'a refused step writes nothing, in the database or under --state-dir').toEqual(before);
      }
      expect([...signedUnder.entries()].map(([n, txids]) => [n, txids.length])).toEqual([[nonce, 1]]);
      expect(refused).toHaveLength(2);
      for (const out of refused) {
        expect(out.status).toBe(1);
        expect(out.stdout).toBe('');
        const lines = out.stderr.split('\n').filter(Boolean);
        expect(lines).toHaveLength(1);
        expect(/^offchain: error (E_[A-Z0-9_]+): /.exec(lines[0]!)?.[1]).toBe('E_NONCE_REOPENED');
        expect(lines[0]).toMatch(/ALARM: .* but this host's one-shot mint commands \(epoch [0-9a-f]{8}…, under .*\) already opened it/);
      }
      // The host's ledger is a journal beside its key: 0600 files in a 0700 directory.
      const ledgers = readdirSync(join(mintDir, 'regtest', 'credit-mint-pg')).filter((f) => f.startsWith('ledger-'));
      expect(ledgers).toHaveLength(1);
      expect(statSync(join(mintDir, 'regtest', 'credit-mint-pg', ledgers[0]!)).mode & 0o777).toBe(0o700);
      expect(statSync(join(mintDir, 'regtest', 'credit-mint-pg', ledgers[0]!, 'journal')).mode & 0o777).toBe(0o600);
    } finally {
      await db.end();
    }
  }, 300_000);
}, { prefix: 'offchain-pg-rewind-' });
