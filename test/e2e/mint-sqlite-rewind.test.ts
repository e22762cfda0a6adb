/**
 * Issue 38, Found 1, on the embedded store: whoever can write `mint.sqlite` (or puts an old
 * copy of it back) copies a nonce's row and the contract's row before a payment and puts
 * them back after it, twice, while a colluding user replays state 1 from a copy of its
 * state directory. Through the built CLI, a one-shot `sign-update --role mint` and a
 * `--stream` on one mint directory (they share its nonces): one receipt under the nonce;
 * each replay refused E_NONCE_REOPENED (exit 1) — one coded stderr line from the one-shot
 * command, a `credit/error` line and a stderr alarm from the stream — with nothing signed
 * and the database unchanged. The directory's ledger (nonce-ledger/journal) is what holds:
 * it is not part of the database the attacker rewinds.
 *
 * Seen failing with the ledger's check removed: three receipts under the nonce.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type BetterSqlite3 from 'better-sqlite3';
import { base64 } from '@scure/base';
import { tempDir } from '../helpers.ts';
import { musigFields } from '../pg/musig-nonce-reuse.ts';
import { pipeline } from './cli.ts';
import { MINT_PUB, MintStream, PAY_FLAGS, mintStage, openContracts, payRequest, type Msg, type User } from './stream-credit.ts';

const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;

/** The rows a writer of the file copies and puts back: the nonce's (by its public nonce) and the contract's. */
function saveRows(file: string, contractId: string, pubnonce: string): () => void {
  const db = new Database(file);
  const nonce = db.prepare('SELECT * FROM nonces WHERE pubnonce = ?').get(pubnonce) as Record<string, unknown>;
  const record = (db.prepare('SELECT record FROM contracts WHERE contract_id = ?').get(contractId) as { record: string }).record;
  db.close();
  expect(nonce['consumed']).toBe(0);
  return () => {
    const w = new Database(file);
    w.pragma('busy_timeout = 10000');
    w.prepare('UPDATE nonces SET consumed = ?, secnonce = ?, context = ?, pubnonce = ? WHERE id = ?').run(nonce['consumed'], nonce['secnonce'], nonce['context'], nonce['pubnonce'], nonce['id']);
    w.prepare('UPDATE contracts SET record = ? WHERE contract_id = ?').run(record, contractId);
    w.close();
  };
}

/** Every row of the mint's tables. */
function rows(file: string): string {
  const db = new Database(file, { readonly: true });
  const out = ['meta', 'contracts', 'funding', 'nonces', 'blind_signatures'].map((t) => JSON.stringify(db.prepare(`SELECT * FROM ${t} ORDER BY 1`).all()));
  db.close();
  return out.join('\n');
}

function userCopy(user: User): () => void {
  const copy = `${user.dir}.copy`;
  execFileSync('cp', ['-a', user.dir, copy]);
  return () => {
    rmSync(user.dir, { recursive: true, force: true });
    execFileSync('cp', ['-a', copy, user.dir]);
  };
}

const tmp = tempDir('offchain-sqlite-rewind-');
afterAll(() => tmp.cleanup());

describe('SQLite: a rewound nonce row gets no second signature (issue 38, the ledger rule)', () => {
  it('one-shot commands and a stream on one mint directory: each replay of the rewound nonce refused E_NONCE_REOPENED with an alarm, nothing signed or written', async () => {
    const env = {};
    const parties = await openContracts(tmp.path, 2, env, 'sqlite-rewind');
    const file = join(parties.mintDir, 'regtest', 'credit-mint', 'mint.sqlite');
    /** The mint's public nonce a request is signed against, read from its PSBT (BIP-373) by test code. */
    const nonceOf = (request: Msg) => Buffer.from(musigFields(base64.decode(request.psbt as string)).pubnonces.get(Buffer.from(MINT_PUB).toString('hex'))!).toString('hex');
    const receipts = new Map<string, number>();
    const count = (nonce: string) => receipts.set(nonce, (receipts.get(nonce) ?? 0) + 1);

    // One-shot: contract 0.
    const u0 = parties.users[0]!;
    const back0 = userCopy(u0);
    const oneShot = async (line: string) => (await pipeline([mintStage(parties.mintDir, env, 'sign-update', '--role', 'mint', ...PAY_FLAGS)], line))[0]!;
    const r0 = await payRequest(u0, 1000, env);
    const n0 = nonceOf(r0.msg);
    const rewind0 = saveRows(file, u0.contractId, n0);
    const first = await oneShot(r0.line);
    expect(first.status, first.stderr).toBe(0);
    expect((JSON.parse(first.stdout) as Msg).type).toBe('credit/receipt');
    count(n0);
    for (const amount of [2000, 3000]) {
      rewind0();
      back0();
      const before = rows(file);
      const r = await payRequest(u0, amount, env);
      expect(nonceOf(r.msg)).toBe(n0);
      const out = await oneShot(r.line);
      if (out.status === 0) count(n0);
      else {
        expect(out.status).toBe(1);
        expect(out.stdout).toBe('');
        const lines = out.stderr.split('\n').filter(Boolean);
        expect(lines).toHaveLength(1);
        expect(/^offchain: error (E_[A-Z0-9_]+): /.exec(lines[0]!)?.[1]).toBe('E_NONCE_REOPENED');
        expect(rows(file)).toBe(before);
      }
    }

    // A stream: contract 1 (its nonce issued by the one-shot open: the stream and the commands share them).
    const u1 = parties.users[1]!;
    const back1 = userCopy(u1);
    const r1 = await payRequest(u1, 1000, env);
    const n1 = nonceOf(r1.msg);
    const rewind1 = saveRows(file, u1.contractId, n1);
    const stream = new MintStream(parties.mintDir, env);
    try {
      let asked = 0;
      const ask = async (line: string) => {
        stream.write(`${line}\n`);
        const n = ++asked;
        await stream.until(() => stream.lines().length >= n, `answer ${n}`, 60_000);
        return JSON.parse(stream.lines()[n - 1]!) as Msg;
      };
      const a1 = await ask(r1.line);
      expect(a1.type, JSON.stringify(a1)).toBe('credit/receipt');
      count(n1);
      const errors: Msg[] = [];
      for (const amount of [2000, 3000]) {
        rewind1();
        back1();
        const before = rows(file);
        const a = await ask((await payRequest(u1, amount, env)).line);
        if (a.type === 'credit/receipt') count(n1);
        else {
          errors.push(a);
          expect(rows(file)).toBe(before);
        }
      }
      expect(errors.map((e) => [e.code, e.exit_code])).toEqual([['E_NONCE_REOPENED', 1], ['E_NONCE_REOPENED', 1]]);
      expect(stream.stderr.match(/^offchain: warning: E_NONCE_REOPENED ALARM: /gm)).toHaveLength(2);
      // Contract 0's nonce, opened by a one-shot command, rewound once more: the stream refuses it
      // too — the ledger is the directory's, shared by its processes.
      back0();
      rewind0();
      const a0 = await ask((await payRequest(u0, 4000, env)).line);
      expect([a0.type, a0.code]).toEqual(['credit/error', 'E_NONCE_REOPENED']);
      expect((await stream.end()).status).toBe(0);
    } finally {
      if (stream.alive) await stream.kill();
    }
    expect([...receipts.entries()]).toEqual([[n0, 1], [n1, 1]]);
  }, 300_000);
});
