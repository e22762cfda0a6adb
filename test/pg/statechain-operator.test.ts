/**
 * The statechain operator on PostgreSQL (issue 29): the whole life of a coin through the
 * built CLI with the operator's records in a server of our own (deposit, transfer ×2,
 * withdraw; each party its own process; signatures checked by the independent verifier);
 * the store's coded refusals (a password on argv, a wrong password, no server, --store on
 * an owner's step), each with nothing written; N operator processes racing one coin's
 * transfer step (exactly one signs, the others refused with nothing written, every replay
 * answered byte for byte); and, through the store itself, the coin's row lock and the
 * single-use constraints holding even against a step whose code would break them.
 * Skips visibly where no PostgreSQL can be started.
 */
import { chmodSync, cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../e2e/cli.ts';
import { describePostgres } from './fixture.ts';
import { bytesOf, hexOf, parseTx } from '../independent/tx.ts';
import { decodeCompressed, encodeCompressed, pointAdd } from '../independent/secp256k1.ts';
import { taprootOutput } from '../independent/keys.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { KEYS, OPERATOR_PUB, TERMS, depositThrough, files, fundingTo, ok, refused, transferThrough } from '../e2e/statechain-flow.ts';
import { connect, count, operatorDatabase, pgFlow, pgParty, snapshot } from './operator.ts';
import { aliceSignedTransferVia, depositVia, ownerFlow } from './owner-steps.ts';
import { resolvePgTarget } from '../../src/lib/store/pg/connect.ts';
import { PgOperatorStore } from '../../src/lib/store/pg/operator-store.ts';
import { networkDir, records, versionWitness, witnessSeen } from '../state.ts';
import { fromHex } from '../../src/lib/bytes.ts';
import { signBody } from '../../src/lib/statechain/seal.ts';
import type { OperatorRecord } from '../../src/lib/statechain/ports.ts';

const TO = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';

describePostgres('statechain operator on PostgreSQL', (fx) => {
  const pgdb = operatorDatabase(fx);
  const temp = pgdb.temp;

  it('deposit, transfer ×2, withdraw: each party its own process, the operator\'s records only in PostgreSQL', async () => {
    const dir = temp();
    const f = pgFlow(dir, fx.server, pgdb.url);
    const d = depositThrough(f, 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
    const P = d.coin.statement.aggregate;
    const outputKey = taprootOutput(bytesOf(P).subarray(1)).outputKey;
    const fundingOut = parseTx(readFileSync(d.fundingFile, 'utf8')).outputs[1]!;
    const prevout = [{ amount: fundingOut.amount, script: fundingOut.script }];
    verifyKeyPathSpend(d.coin.backups[0]!, prevout, outputKey);

    const transcript = [d.request, d.offer, d.backupReq, d.cosigned];
    const shares = [JSON.parse(d.offer).statement.operator_share as string];
    for (const [sender, receiver] of [['ALICE_KEY', 'BOB_KEY'], ['BOB_KEY', 'CAROL_KEY']] as const) {
      const t = transferThrough(f, d.coinId, OPERATOR_PUB, sender, receiver);
      transcript.push(t.request, t.sign, t.cosigned, t.pkg, t.accept, t.done);
      for (const b of t.coin.backups) verifyKeyPathSpend(b, prevout, outputKey);
      const st = JSON.parse(t.done).statement as { owner_share: string; operator_share: string };
      expect(hexOf(encodeCompressed(pointAdd(decodeCompressed(bytesOf(st.owner_share)), decodeCompressed(bytesOf(st.operator_share)))))).toBe(P);
      shares.push(st.operator_share);
    }
    expect(new Set(shares).size).toBe(3); // the operator's share rotated at each transfer

    // Issue 37 review: a withdrawal request the operator refuses (a version-2 one, as an older offchain asked it) changes
    // no row; Carol, whose request it is, asks for another while the first waits (before: E_WITHDRAWAL_PENDING, a dead end).
    const w0 = ok(f.as('CAROL_KEY', ['statechain-withdraw', '--coin', d.coinId, '--to', TO, '--fee-rate', '2']));
    const { owner_sig: _sig, ...w0body } = JSON.parse(w0) as Record<string, string>;
    const v2: Record<string, string> = { ...w0body, tx: `02${w0body.tx!.slice(2)}` };
    const beforeRefusal = await snapshot(pgdb.db);
    refused(f.as('OPERATOR_KEY', ['statechain-withdraw'], JSON.stringify({ ...v2, owner_sig: signBody(v2.type!, v2, bytesOf(KEYS.CAROL_KEY!), new Uint8Array(32)) })), 'E_WITHDRAWAL_UNBUMPABLE');
    expect(await snapshot(pgdb.db)).toEqual(beforeRefusal);
    const w1 = ok(f.as('CAROL_KEY', ['statechain-withdraw', '--coin', d.coinId, '--to', TO, '--fee-rate', '3']));
    const w2 = ok(f.as('OPERATOR_KEY', ['statechain-withdraw'], w1));
    const spend = JSON.parse(ok(f.as('CAROL_KEY', ['statechain-withdraw'], w2))) as { hex: string; kind: string };
    verifyKeyPathSpend(spend.hex, prevout, outputKey);
    transcript.push(w1, w2);

    // The ledger the single-use rules live in: three backups, four owner nonces, two finished transfers, one withdrawal.
    const coin = (await pgdb.db.query<{ status: string; version: string }>('SELECT status, version FROM statechain_operator_coins WHERE coin_id = $1', [d.coinId])).rows[0]!;
    expect(coin.status).toBe('withdrawn');
    expect(await count(pgdb.db, 'backups', 'coin_id = $1', [d.coinId])).toBe(3);
    expect(await count(pgdb.db, 'nonces', 'coin_id = $1', [d.coinId])).toBe(4);
    expect(await count(pgdb.db, 'transfers', "coin_id = $1 AND state = 'done'", [d.coinId])).toBe(2);
    expect((await pgdb.db.query('SELECT txid FROM statechain_operator_withdrawals WHERE coin_id = $1', [d.coinId])).rows).toEqual([{ txid: JSON.parse(w2).txid }]);

    // No operator record in the operator's state.sqlite: only its rollback witness, at the version the store holds.
    const opState = networkDir(join(dir, 'OPERATOR_KEY'));
    expect(records(opState, 'statechain-operator')).toEqual([]);
    expect(witnessSeen(opState, d.coinId)).toMatchObject({ version: Number(coin.version), fingerprint: expect.stringMatching(/^[0-9a-f]+$/) }); // and the fingerprint of that version (review R10)

    // The shares are sealed in the database: no 32-byte share in the clear in any column, and no output carries one.
    const sealed = (await pgdb.db.query<{ sealed: Buffer }>('SELECT sealed FROM statechain_operator_shares WHERE coin_id = $1', [d.coinId])).rows[0]!.sealed;
    expect(sealed.toString('utf8')).not.toMatch(/share_secret/);
    const record = (await pgdb.db.query<{ record: string }>('SELECT record FROM statechain_operator_coins WHERE coin_id = $1', [d.coinId])).rows[0]!.record;
    expect(record).not.toMatch(/share_secret|"x1"/);

    // The password never left the environment: in no output, no error, no file.
    for (const m of transcript) expect(m).not.toContain(fx.server.password);
    for (const text of files(dir).values()) expect(text).not.toContain(fx.server.password);

    // The withdrawal asked again: the same answer, byte for byte, nothing written.
    const before = await snapshot(pgdb.db);
    expect(ok(f.as('OPERATOR_KEY', ['statechain-withdraw'], w1))).toBe(w2);
    expect(await snapshot(pgdb.db)).toEqual(before);
    // And a withdrawn coin signs nothing more: Bob's old transfer-sign (to Carol) again, refused, nothing written.
    refused(f.as('OPERATOR_KEY', ['statechain-transfer'], transcript[11]!), 'E_COIN_WITHDRAWN');
    expect(await snapshot(pgdb.db)).toEqual(before);
    // Carol's first request, sent after the second was co-signed: refused, nothing written.
    refused(f.as('OPERATOR_KEY', ['statechain-withdraw'], w0), 'E_COIN_WITHDRAWN');
    expect(await snapshot(pgdb.db)).toEqual(before);
  }, 300_000);

  it('refuses, coded, with nothing written: a password on argv, a wrong password, no such database, no server, --store on an owner\'s step', async () => {
    const dir = temp();
    const f = pgFlow(dir, fx.server, pgdb.url);
    const request = ok(f.as('ALICE_KEY', ['statechain-deposit', '--start', '--operator-key', OPERATOR_PUB]));
    const before = await snapshot(pgdb.db);
    const op = (args: string[], env: Record<string, string>) => run([...args, '--key-env', 'OPERATOR_KEY', '--state-dir', join(dir, 'OP'), '--tip-height', '200'], { input: request, env: { OPERATOR_KEY: KEYS.OPERATOR_KEY!, ...env } });

    const withPassword = pgdb.url.replace('postgres@', `postgres:${fx.server.password}@`);
    const r1 = op(['statechain-deposit', '--store', withPassword], {});
    refused(r1, 'E_SECRET_ON_ARGV', 2);
    expect(r1.stderr).not.toContain(fx.server.password);

    const r2 = op(['statechain-deposit', '--store', pgdb.url], { OFFCHAIN_STORE_PASSWORD: 'not-the-password' });
    refused(r2, 'E_STORE_AUTH', 2);

    refused(op(['statechain-deposit', '--store', pgdb.url.replace(/\/operator$/, '/no_such_db')], { OFFCHAIN_STORE_PASSWORD: fx.server.password }), 'E_STORE_URL', 2);

    const closed = `postgres://postgres@127.0.0.1:1/operator`;
    const r3 = op(['statechain-deposit', '--store', closed], { OFFCHAIN_STORE_PASSWORD: fx.server.password });
    refused(r3, 'E_STORE_UNREACHABLE', 1);
    expect(r3.stderr).toContain(closed);
    // The same URL with its password from the environment: printed redacted.
    const r4 = op(['statechain-deposit'], { OFFCHAIN_STORE_URL: closed.replace('postgres@', 'postgres:hunter2-secret@') });
    refused(r4, 'E_STORE_UNREACHABLE', 1);
    expect(r4.stderr).not.toContain('hunter2-secret');
    expect(r4.stderr).toContain('postgres://postgres@127.0.0.1:1/operator');

    // The password from a 0600 file works; from a file others may read it is refused.
    const pw = join(dir, 'pw');
    writeFileSync(pw, `${fx.server.password}\n`, { mode: 0o644 });
    refused(op(['statechain-deposit', '--store', pgdb.url, '--store-password-file', pw], {}), 'E_SECRET_FILE_PERMISSIONS', 4);

    refused(f.as('BOB_KEY', ['statechain-transfer', '--start', '--coin', '0'.repeat(32), '--operator-key', OPERATOR_PUB, '--store', pgdb.url]), 'E_USAGE', 2);

    expect(await snapshot(pgdb.db)).toEqual(before);
    expect(existsSync(join(dir, 'OP'))).toBe(false);

    chmodSync(pw, 0o600);
    const offer = JSON.parse(ok(op(['statechain-deposit', '--store', pgdb.url, '--store-password-file', pw], {}))) as { coin_id: string };
    expect(await count(pgdb.db, 'coins', 'coin_id = $1', [offer.coin_id])).toBe(1);
  }, 120_000);

  it('N operator processes race one coin\'s transfer step: exactly one signs, the others are refused with nothing written, every replay answers the same', async () => {
    const N = 6;
    const dir = temp();
    const f = ownerFlow(dir, fx.server, pgdb.url);
    const d = await depositVia(f, 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
    // N receivers, and N copies of Alice's state each answering one of them: N different
    // transfer-sign requests for the same state of the coin (the old owner trying to sell it N times).
    const signs: string[] = [];
    for (let i = 0; i < N; i++) {
      const request = ok(await f.as(`R${i}_KEY`, ['statechain-transfer', '--start', '--coin', d.coinId, '--operator-key', OPERATOR_PUB]));
      cpSync(join(dir, 'ALICE_KEY'), join(dir, `ALICE${i}`), { recursive: true });
      signs.push(ok(await ownerFlow(dir, fx.server, pgdb.url, { [`ALICE${i}`]: KEYS.ALICE_KEY! }).as(`ALICE${i}`, ['statechain-transfer'], request)));
    }
    const before = await snapshot(pgdb.db);
    const version = Number((before['statechain_operator_coins'] as { version: string }[]).find((c) => (c as unknown as { coin_id: string }).coin_id === d.coinId)!.version);

    // Each request through its own operator process (its own host: its own --state-dir), all at once.
    const runs = await Promise.all(signs.map((s, i) => f.as(`OPERATOR${i}`, ['statechain-transfer'], s)));
    const winners = runs.flatMap((r, i) => (r.status === 0 ? [i] : []));
    expect(winners).toHaveLength(1);
    const w = winners[0]!;
    for (const [i, r] of runs.entries()) {
      if (i === w) continue;
      // Refused by the protocol's check under the row lock: the winner's backup took this locktime.
      refused(r, 'E_BACKUP_LOCKTIME');
    }
    const after = await snapshot(pgdb.db);
    const tag = (s: string) => JSON.parse(s).owner_pubnonce as string;
    expect(await count(pgdb.db, 'backups', 'coin_id = $1', [d.coinId])).toBe(2);
    expect(await count(pgdb.db, 'nonces', 'coin_id = $1', [d.coinId])).toBe(2);
    expect((await pgdb.db.query("SELECT transfer_id FROM statechain_operator_transfers WHERE coin_id = $1 AND state = 'pending'", [d.coinId])).rows).toEqual([{ transfer_id: JSON.parse(signs[w]!).transfer_id }]);
    expect(Number((await pgdb.db.query<{ version: string }>('SELECT version FROM statechain_operator_coins WHERE coin_id = $1', [d.coinId])).rows[0]!.version)).toBe(version + 1);
    expect(tag(runs[w]!.stdout)).toBe(tag(signs[w]!));

    // Replays: the winner's request, N times at once on N hosts — the same answer byte for byte, nothing written;
    // a loser's again — the same refusal, nothing written.
    const replays = await Promise.all(signs.map((_, i) => f.as(`OPERATOR${i}`, ['statechain-transfer'], signs[w]!)));
    for (const r of replays) expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: runs[w]!.stdout });
    refused(await f.as('OPERATOR_KEY', ['statechain-transfer'], signs[(w + 1) % N]!), 'E_BACKUP_LOCKTIME');
    expect(await snapshot(pgdb.db)).toEqual(after);

    // The transfer the winner began finishes; its last step raced N ways answers the same everywhere.
    const pkg = ok(await ownerFlow(dir, fx.server, pgdb.url, { [`ALICE${w}`]: KEYS.ALICE_KEY! }).as(`ALICE${w}`, ['statechain-transfer'], runs[w]!.stdout));
    const accept = ok(await f.as(`R${w}_KEY`, ['statechain-transfer'], pkg));
    const dones = await Promise.all(signs.map((_, i) => f.as(`OPERATOR${i}`, ['statechain-transfer'], accept)));
    for (const r of dones) expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: dones[0]!.stdout });
    expect(await count(pgdb.db, 'transfers', "coin_id = $1 AND state = 'done'", [d.coinId])).toBe(1);
    expect(Number((await pgdb.db.query<{ version: string }>('SELECT version FROM statechain_operator_coins WHERE coin_id = $1', [d.coinId])).rows[0]!.version)).toBe(version + 2);
    ok(await f.as(`R${w}_KEY`, ['statechain-transfer'], dones[0]!.stdout));
  }, 300_000);

  it('a deposit-request sent again (its answer lost) gets the offer already made, from any host, also N at once; another request on a taken coin id is refused; nothing written', async () => {
    const N = 4;
    const dir = temp();
    const f = pgFlow(dir, fx.server, pgdb.url);
    const request = ok(f.as('ALICE_KEY', ['statechain-deposit', '--start', '--operator-key', OPERATOR_PUB]));
    // The first time: N hosts at once (a client that gave up on the first and retried elsewhere): one coin, one offer.
    const firsts = await Promise.all(Array.from({ length: N }, (_, i) => f.asAsync(`OPERATOR${i}`, ['statechain-deposit', ...TERMS], request)));
    for (const r of firsts) expect({ status: r.status, stdout: r.stdout }, r.stderr).toEqual({ status: 0, stdout: firsts[0]!.stdout });
    const offer = firsts[0]!.stdout;
    const coinId = (JSON.parse(offer) as { coin_id: string }).coin_id;
    expect((await pgdb.db.query('SELECT coin_id FROM statechain_operator_offers WHERE coin_id = $1', [coinId])).rowCount).toBe(1);
    const before = await snapshot(pgdb.db);
    expect(ok(f.as('OPERATOR9', ['statechain-deposit', ...TERMS], request))).toBe(offer);
    expect(await snapshot(pgdb.db)).toEqual(before);
    // Under the test seed every fresh process draws the same coin id: a second owner's request lands on a taken id.
    const seeded = pgFlow(temp(), fx.server, pgdb.url);
    const env = { OFFCHAIN_TEST_SEED: 'pg-deposit-retry' };
    const as = (who: string, a: string[], input?: string) => run(pgParty(seeded.dir, fx.server, pgdb.url).args(who, a), { input, env: { ...pgParty(seeded.dir, fx.server, pgdb.url).env(who), ...env } });
    const alice = ok(as('ALICE_KEY', ['statechain-deposit', '--start', '--operator-key', OPERATOR_PUB]));
    const bob = ok(as('BOB_KEY', ['statechain-deposit', '--start', '--operator-key', OPERATOR_PUB]));
    const seededOffer = ok(as('OPERATOR_KEY', ['statechain-deposit', ...TERMS], alice));
    const beforeBob = await snapshot(pgdb.db);
    expect(ok(as('OPERATOR_KEY', ['statechain-deposit', ...TERMS], alice))).toBe(seededOffer);
    refused(as('OPERATOR_KEY', ['statechain-deposit', ...TERMS], bob), 'E_COIN_EXISTS', 5);
    expect(await snapshot(pgdb.db)).toEqual(beforeBob);
  }, 120_000);

  it('the server restarted mid-flow: the step fails coded with nothing written, the same step after it answers, and again answers the same', async () => {
    const { f, d, sign } = await aliceSignedTransferVia(fx, pgdb);
    const before = await snapshot(pgdb.db);
    await pgdb.db.end();
    await fx.server.pause();
    try {
      const down = await f.as('OPERATOR_KEY', ['statechain-transfer'], sign);
      refused(down, 'E_STORE_UNREACHABLE', 1);
      expect(down.stderr).toContain('nothing was written');
    } finally {
      await fx.server.resume();
      await pgdb.reconnect();
    }
    expect(await snapshot(pgdb.db)).toEqual(before);
    const cosigned = ok(await f.as('OPERATOR_KEY', ['statechain-transfer'], sign));
    // The answer lost on the way (the connection dropped after COMMIT, the process killed before printing): asked again, the same bytes.
    expect(ok(await f.as('OPERATOR_KEY', ['statechain-transfer'], sign))).toBe(cosigned);
    const pkg = ok(await f.as('ALICE_KEY', ['statechain-transfer'], cosigned));
    ok(await f.as('BOB_KEY', ['statechain-transfer'], ok(await f.as('OPERATOR_KEY', ['statechain-transfer'], ok(await f.as('BOB_KEY', ['statechain-transfer'], pkg))))));
    expect(await count(pgdb.db, 'transfers', "coin_id = $1 AND state = 'done'", [d.coinId])).toBe(1);
  }, 180_000);

  it('a process dies holding a coin\'s lock, its write half done: the server rolls it back, the waiting step goes on', async () => {
    const { f, d, sign, version } = await aliceSignedTransferVia(fx, pgdb);
    const v0 = await version();
    // A process inside its step: the coin locked, a write made, no COMMIT yet.
    const holder = await connect(fx.server, 'operator');
    holder.on('error', () => {});
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM statechain_operator_coins WHERE coin_id = $1 FOR UPDATE', [d.coinId]);
    await holder.query("UPDATE statechain_operator_coins SET version = version + 1, record = '{}' WHERE coin_id = $1", [d.coinId]);
    let finished = false;
    const waiting = f.as('OPERATOR_KEY', ['statechain-transfer'], sign).finally(() => (finished = true));
    await new Promise((r) => setTimeout(r, 2000));
    expect(finished).toBe(false); // queued on the coin's row
    // kill -9: the connection dies without a word; the server aborts its transaction.
    (holder as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    const r = await waiting;
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).type).toBe('statechain/transfer-cosigned');
    expect(await version()).toBe(v0 + 1); // the dead process's write is gone; only the step's own
  }, 180_000);

  describe('the store itself', () => {
    let coinA: string;
    let coinB: string;
    const witnessDir = () => join(temp(), 'witness');
    const store = (beforeCommit?: () => Promise<void>) =>
      new PgOperatorStore(resolvePgTarget({ store: pgdb.url }, { OFFCHAIN_STORE_PASSWORD: fx.server.password })!, {
        network: 'regtest',
        operatorSecret: fromHex(KEYS.OPERATOR_KEY!, 'key', 32),
        witness: versionWitness(witnessDir()),
        ...(beforeCommit ? { beforeCommit } : {}),
      });

    beforeAll(async () => {
      const dir = temp();
      const f = ownerFlow(dir, fx.server, pgdb.url);
      coinA = (await depositVia(f, 'ALICE_KEY', (address) => fundingTo(address, 100_000n))).coinId;
      coinB = (await depositVia(f, 'BOB_KEY', (address) => fundingTo(address, 90_000n))).coinId;
    }, 120_000);

    it('a step holds its coin\'s rows until COMMIT: a second step on the coin waits and then sees it; another coin does not wait', async () => {
      const [s1, s2, s3] = [store(), store(), store()];
      const events: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const first = s1.step(coinA, async (r) => {
        events.push('first: locked');
        await gate;
        events.push('first: writes');
        return { record: { ...r, last_answer: { request: 'first', message: { n: 1 } } }, message: 'first' };
      });
      // The first step holds coin A before the second asks for it (polled, not a fixed wait: a loaded machine took longer than 300 ms to lock).
      for (let i = 0; i < 600 && !events.includes('first: locked'); i++) await new Promise((r) => setTimeout(r, 25));
      expect(events).toEqual(['first: locked']);
      const second = s2.step(coinA, (r: OperatorRecord) => {
        events.push(`second: sees ${r.last_answer?.request}`);
        return { record: r, message: 'second' };
      });
      const other = await s3.step(coinB, (r) => {
        events.push('other coin: done');
        return { record: r, message: 'other' };
      });
      expect(other).toBe('other');
      await new Promise((r) => setTimeout(r, 300));
      try {
        expect(events).toEqual(['first: locked', 'other coin: done']);
      } finally {
        release(); // never left holding coin A for the tests after this one
      }
      expect(await first).toBe('first');
      expect(await second).toBe('second');
      expect(events).toEqual(['first: locked', 'other coin: done', 'first: writes', 'second: sees first']);
      await Promise.all([s1.close(), s2.close(), s3.close()]);
    });

    it('a coin held too long by another step: E_LOCK_HELD (exit 5) after the lock timeout, nothing written', async () => {
      const holder = await connect(fx.server, 'operator');
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM statechain_operator_coins WHERE coin_id = $1 FOR UPDATE', [coinA]);
      const before = await snapshot(pgdb.db);
      const s = new PgOperatorStore(resolvePgTarget({ store: pgdb.url }, { OFFCHAIN_STORE_PASSWORD: fx.server.password })!, {
        network: 'regtest',
        operatorSecret: fromHex(KEYS.OPERATOR_KEY!, 'key', 32), witness: versionWitness(witnessDir()), lockTimeoutMs: 500,
      });
      let ran = false;
      const t0 = Date.now();
      await expect(s.step(coinA, (r) => ((ran = true), { record: { ...r, last_answer: null }, message: 'x' }))).rejects.toMatchObject({ code: 'E_LOCK_HELD', exitCode: 5 });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
      expect(ran).toBe(false);
      await holder.query('ROLLBACK');
      await holder.end();
      await s.close();
      expect(await snapshot(pgdb.db)).toEqual(before);
    });

    it('nothing is kept or answered when the step fails before COMMIT', async () => {
      const before = await snapshot(pgdb.db);
      const s = store(async () => {
        throw new Error('the connection dropped before COMMIT');
      });
      // The step's failure is reported as the store's (coded, exit 1, saying nothing was written), never as a signed answer.
      await expect(s.step(coinA, (r) => ({ record: { ...r, last_answer: null, seen_nonces: [...r.seen_nonces, 'ab'.repeat(16)] }, message: 'never' }))).rejects.toMatchObject({ code: 'E_STORE_UNREACHABLE', exitCode: 1, message: expect.stringMatching(/nothing was written/) });
      await s.close();
      expect(await snapshot(pgdb.db)).toEqual(before);
    });

    it('the constraints refuse a second use even when a step\'s code would allow it, and nothing is written', async () => {
      const s = store();
      const before = await snapshot(pgdb.db);
      // An owner nonce signed against again.
      await expect(s.step(coinA, (r) => ({ record: { ...r, seen_nonces: [...r.seen_nonces, r.seen_nonces[0]!] }, message: 'x' }))).rejects.toMatchObject({ code: 'E_NONCE_REPLAY', exitCode: 5 });
      // A second backup under a number (and a locktime) already signed.
      await expect(s.step(coinA, (r) => ({ record: { ...r, statement: { ...r.statement, backups: [...r.statement.backups, { ...r.statement.backups[0]!, txid: 'ee'.repeat(32) }] } }, message: 'x' }))).rejects.toMatchObject({ code: 'E_ALREADY_SIGNED', exitCode: 5 });
      // A second transfer pending beside the first (the code replaces the old one; a bug that did not is refused).
      expect(await s.step(coinA, (r) => ({ record: { ...r, statement: { ...r.statement, count: 2, backups: [...r.statement.backups, { n: 2, txid: 'dd'.repeat(32), locktime: 1, owner_share: r.statement.owner_share }], transfer: { transfer_id: 't1', receiver_auth: '', receiver_share: '', x1_point: '' } } }, message: 'ok' }))).toBe('ok');
      const mid = await snapshot(pgdb.db);
      // The partial unique index itself: a second 'pending' row for the coin, whoever writes it.
      await expect(pgdb.db.query("INSERT INTO statechain_operator_transfers (coin_id, transfer_id, backup_n, state) VALUES ($1, 't2', 1, 'pending')", [coinA])).rejects.toMatchObject({ constraint: 'statechain_operator_one_pending' });
      // A finished transfer that was never pending: refused, nothing written.
      await expect(s.step(coinA, (r) => ({ record: { ...r, done: [...r.done, { transfer_id: 'never-begun', statement: {} as never }] }, message: 'x' }))).rejects.toMatchObject({ code: 'E_NO_TRANSFER' });
      expect(await snapshot(pgdb.db)).toEqual(mid);
      expect(before).not.toEqual(mid);
      await s.close();
    });

    it('a withdrawn coin\'s row never changes again (a trigger), whatever a step returns', async () => {
      const s = store();
      await s.step(coinB, (r) => ({ record: { ...r, statement: { ...r.statement, status: 'withdrawn' } }, message: 'w' }));
      const before = await snapshot(pgdb.db);
      await expect(s.step(coinB, (r) => ({ record: { ...r, statement: { ...r.statement, status: 'active' } }, message: 'x' }))).rejects.toMatchObject({ code: 'E_COIN_WITHDRAWN', exitCode: 4 });
      expect(await snapshot(pgdb.db)).toEqual(before);
      await s.close();
    });
  });
}, { prefix: 'offchain-pg-op-' });
