/**
 * One-shot mint commands on a PostgreSQL mint (src/topics/credit/mint-store.ts;
 * src/lib/store/pg/mint-store.ts, THE RESTORE RULE 1), through the built CLI. A nonce is
 * sealed under the key of the long-running process that issued it, so a one-shot step that
 * would issue, take or burn one is refused up front — E_STORE_ONE_SHOT, exit 2, one stderr
 * line, nothing on stdout, nothing written to the database or under --state-dir: open-credit,
 * sign-update, close-credit, rollover and credit abandon --role mint (gateway pay, settle,
 * fail and complete: gateway.test.ts). The steps that use no nonce run one-shot as before
 * (publishing the offer, exit-credit, credit list; gateway claim and the migrations in their
 * files) and write nothing under --state-dir. --nonce-epoch host is retired (E_USAGE saying
 * so, before anything is opened), process a no-op. A mint process keeps nothing of its nonces
 * under --state-dir: a copy of that directory is no key, and a process started on it (or the
 * same one restarted) cannot sign with the nonces the first issued (E_NONCE_ELSEWHERE) — its
 * users abandon once and pay on.
 *
 * Replaced (the machinery is gone): host epochs let one-shot mint commands of one host share a
 * nonce key file (host-epoch.test.ts "one-shot CLI processes", "sign-update --stream
 * --nonce-epoch host … take each other's nonces"; nonce-rewind.test.ts's one-shot half;
 * epochs-adversarial.test.ts "a --nonce-epoch host stream and one-shot processes paying at
 * once"; serve-mint.test.ts "the host's services share its nonces"; lifecycle.test.ts's
 * one-shot close E_NONCE_ELSEWHERE). What those staged — a one-shot process signing with a
 * nonce it cannot hold, a copied --state-dir carrying a key — is refused or absent here.
 */
import { cpSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { pipeline, type Run } from '../e2e/cli.ts';
import { ServeMintProcess } from '../e2e/serve-process.ts';
import { MINT_KEY, PAY_FLAGS, PAYOUT, mintStage, message, userStage, type Msg } from '../e2e/stream-credit.ts';
import { describePostgres } from './fixture.ts';
import { Cluster, pgMint, userAbandons, userOpenRequest, userOpened, userPays, userTakesAbandoned, userTakesReceipt, type PgUser } from './mint-cluster.ts';
import { dba, rows, tree } from './rewind.ts';

/** The one stderr line's code, and that nothing else was printed. */
function oneLine(r: Run): { status: number; code: string | undefined } {
  expect(r.stdout).toBe('');
  const lines = r.stderr.split('\n').filter(Boolean);
  expect(lines, r.stderr).toHaveLength(1);
  // A service's is a line of its JSON log (docs/serve.md), a one-shot's the plain coded line.
  const code = lines[0]!.startsWith('{') ? (JSON.parse(lines[0]!) as { code?: string }).code : /^offchain: error (E_[A-Z0-9_]+): /.exec(lines[0]!)?.[1];
  return { status: r.status, code };
}
/** Every file under `dir` with its digest; nothing when there is no such directory. */
const files = (dir: string) => (existsSync(dir) ? tree(dir) : {});

describePostgres('one-shot mint steps on PostgreSQL', (fx) => {
  const parse = (text: string) => JSON.parse(text) as Msg;

  /** A PostgreSQL mint with one contract opened and paid through a stream (its --state-dir `mintDir`), and the stream. */
  async function mintWithContract(name: string) {
    const m = await pgMint(fx.server, name, fx.root);
    const stream = new Cluster(1, m.mintDir, m.env);
    const { user, line } = await userOpenRequest(fx.root, m.offerPath, name, 0);
    const accept = await stream.ask(0, line);
    expect(parse(accept).type, accept).toBe('credit/open-accept');
    await userOpened(user, accept);
    const paid = await stream.ask(0, (await userPays(user, 1000)).line);
    expect(parse(paid).type, paid).toBe('credit/receipt');
    await userTakesReceipt(user, paid);
    return { ...m, stream, user };
  }

  /** A copy of the user's directory (each request below from the same state: a user has one pending request at a time). */
  let copies = 0;
  const copyOf = (u: PgUser): PgUser => {
    const dir = `${u.dir}-copy-${++copies}`;
    cpSync(u.dir, dir, { recursive: true });
    return { ...u, dir };
  };
  const userLine = async (u: PgUser, type: string, ...args: string[]) => JSON.stringify(message(await pipeline([userStage(u, {}, ...args)], ''), type, `${type} of user ${u.index}`).msg);

  it('every one-shot mint step that uses a nonce is refused E_STORE_ONE_SHOT (exit 2, one line), nothing written to the database or under --state-dir: open-credit, sign-update, close-credit, rollover and credit abandon --role mint', async () => {
    const m = await mintWithContract('one_shot_refused');
    const db = await dba(fx.server, m.env['OFFCHAIN_STORE_URL']!);
    try {
      const u = m.user;
      const second = await userOpenRequest(fx.root, m.offerPath, 'one_shot_refused', 1);
      const steps: [string, string[], string][] = [
        ['open-credit', ['open-credit', '--role', 'mint', '--tip-height', '1000'], second.line],
        ['sign-update', ['sign-update', '--role', 'mint', ...PAY_FLAGS], (await userPays(copyOf(u), 2000)).line],
        ['close-credit', ['close-credit', '--role', 'mint'], await userLine(copyOf(u), 'credit/close-request', 'close-credit', '--role', 'user', '--start')],
        ['rollover', ['rollover', '--role', 'mint', '--tip-height', '1002'], await userLine(copyOf(u), 'credit/rollover-request', 'rollover', '--role', 'user', '--expiry', '+4320', '--tip-height', '1002')],
        ['credit abandon', ['credit', 'abandon', '--role', 'mint'], await (async () => {
          const pending = copyOf(u); // a request waiting for the mint: what an abandon abandons
          await userPays(pending, 700);
          return userAbandons(pending);
        })()],
      ];
      for (const [what, args, input] of steps) {
        const before = { rows: await rows(db), files: files(m.mintDir) };
        const [r] = await pipeline([mintStage(m.mintDir, m.env, ...args)], input);
        expect(oneLine(r!), `${what}: ${r!.stderr}`).toEqual({ status: 2, code: 'E_STORE_ONE_SHOT' });
        expect(r!.stderr).toContain('"serve mint"');
        expect({ rows: await rows(db), files: files(m.mintDir) }, `${what} wrote nothing`).toEqual(before);
      }
      // The same requests reach the stream: it serves them (the user's pending payment, here).
      const served = await m.stream.ask(0, steps[1]![2]);
      expect(parse(served).type, served).toBe('credit/receipt');
      expect((await m.stream.end()).map((e) => e.status)).toEqual([0]);
    } finally {
      await db.end();
      if (m.stream.procs[0]!.alive) await m.stream.procs[0]!.kill();
    }
  }, 240_000);

  it('the one-shot steps that use no nonce run on PostgreSQL and write nothing under --state-dir: the offer published (and read back), exit-credit --dry-run, credit list', async () => {
    const m = await mintWithContract('one_shot_allowed');
    await m.stream.end();
    const host = join(fx.root, 'no-nonce-host'); // a --state-dir these steps are given and never write to
    const before = files(host);
    const offer = (await pipeline([mintStage(host, m.env, 'open-credit', '--role', 'mint', '--publish')], ''))[0]!;
    expect(offer.status, offer.stderr).toBe(0);
    expect(offer.stdout).toBe(readFileSync(m.offerPath, 'utf8'));
    const again = (await pipeline([mintStage(host, m.env, 'open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT)], ''))[0]!;
    expect(again.status, again.stderr).toBe(0);
    const exit = (await pipeline([mintStage(host, m.env, 'exit-credit', '--contract', m.user.contractId, '--fee-rate', '2', '--dry-run', '--tip-height', '1001')], ''))[0]!;
    expect(exit.status, exit.stderr).toBe(0);
    expect(parse(exit.stdout)).toMatchObject({ type: 'credit/exit', contract_id: m.user.contractId, state: 1, cumulative_sat: 1000 });
    const list = (await pipeline([{ args: ['credit', 'list', '--tip-height', '1001', '--state-dir', host], env: m.env }], ''))[0]!;
    expect(list.status, list.stderr).toBe(0);
    expect(parse(list.stdout).contracts).toEqual([expect.objectContaining({ contract_id: m.user.contractId, cumulative_sat: 1000 })]);
    expect(files(host)).toEqual(before);
  }, 240_000);

  it('--nonce-epoch host is retired: serve mint and sign-update --stream refuse it (E_USAGE, exit 2, saying so) before the store is opened; --nonce-epoch process is a no-op; the flag is hidden', async () => {
    const m = await pgMint(fx.server, 'nonce_epoch_flag', fx.root);
    const db = await dba(fx.server, m.env['OFFCHAIN_STORE_URL']!);
    try {
      const before = await rows(db);
      for (const args of [['serve', 'mint', '--listen', '127.0.0.1:0', '--nonce-epoch', 'host'], ['sign-update', '--role', 'mint', '--stream', '--nonce-epoch', 'host', ...PAY_FLAGS]]) {
        const [r] = await pipeline([mintStage(m.mintDir, m.env, ...args)], '');
        expect(oneLine(r!), r!.stderr).toEqual({ status: 2, code: 'E_USAGE' });
        expect(r!.stderr).toContain('--nonce-epoch host is retired');
      }
      expect(await rows(db), 'no epoch registered, nothing written').toBe(before);
      // process: what every PostgreSQL mint process does anyway.
      const stream = new Cluster(1, m.mintDir, m.env, ['--nonce-epoch', 'process']);
      const { user, line } = await userOpenRequest(fx.root, m.offerPath, 'nonce_epoch_flag', 0);
      const accept = await stream.ask(0, line);
      expect(parse(accept).type, accept).toBe('credit/open-accept');
      await userOpened(user, accept);
      expect((await stream.end()).map((e) => e.status)).toEqual([0]);
      for (const args of [['serve', 'mint', '--help'], ['sign-update', '--help']]) {
        const [help] = await pipeline([{ args, env: {} }], '');
        expect(help!.status).toBe(0);
        expect(help!.stdout).not.toContain('nonce-epoch');
      }
    } finally {
      await db.end();
    }
  }, 120_000);

  it('a mint process keeps nothing of its nonces under --state-dir: after a stream and serve mint served there, a copy of the directory on a second host (or the service restarted) signs nothing with the first\'s nonces (E_NONCE_ELSEWHERE); the user abandons there and pays on', async () => {
    const m = await mintWithContract('copied_state_dir');
    const u = m.user;
    expect((await m.stream.end()).map((e) => e.status)).toEqual([0]);
    const args = ['--key-env', 'MINT_KEY', '--state-dir', m.mintDir, ...PAY_FLAGS];
    const first = await ServeMintProcess.start(args, { ...m.env, MINT_KEY });
    try {
      // The stream's last nonce died with it: the user abandons through the service, then pays there.
      const refused = await first.post('/v1/credit/update', (await userPays(u, 500)).line);
      expect([refused.status, parse(refused.text).code]).toEqual([409, 'E_NONCE_ELSEWHERE']);
      const ab = await first.post('/v1/credit/abandon', await userAbandons(u));
      expect(ab.status, ab.text).toBe(200);
      await userTakesAbandoned(u, ab.text);
      const paid = await first.post('/v1/credit/update', (await userPays(u, 2000)).line);
      expect(paid.status, paid.text).toBe(200);
      await userTakesReceipt(u, paid.text);
    } finally {
      expect((await first.stop()).status).toBe(0);
    }
    // Under --state-dir: no key, no ledger, no journal — nothing of the mint at all.
    expect(existsSync(m.mintDir) ? readdirSync(m.mintDir, { recursive: true }) : []).toEqual([]);
    // The directory copied to a second host, a service started there: the user's nonce (the first service's) opens nowhere.
    const copy = `${m.mintDir}-copy`;
    if (existsSync(m.mintDir)) cpSync(m.mintDir, copy, { recursive: true });
    const second = await ServeMintProcess.start([...args.slice(0, 2), '--state-dir', copy, ...PAY_FLAGS], { ...m.env, MINT_KEY });
    try {
      const pay = await userPays(u, 3000);
      const r = await second.post('/v1/credit/update', pay.line);
      expect([r.status, parse(r.text).code], r.text).toEqual([409, 'E_NONCE_ELSEWHERE']);
      const ab = await second.post('/v1/credit/abandon', await userAbandons(u));
      expect(ab.status, ab.text).toBe(200);
      expect(parse(ab.text).type).toBe('credit/abandoned');
      await userTakesAbandoned(u, ab.text);
      const paid = await second.post('/v1/credit/update', (await userPays(u, 3000)).line);
      expect(paid.status, paid.text).toBe(200);
      expect(parse(paid.text)).toMatchObject({ type: 'credit/receipt', cumulative_sat: 6000 });
      await userTakesReceipt(u, paid.text);
    } finally {
      expect((await second.stop()).status).toBe(0);
    }
  }, 240_000);
}, { prefix: 'offchain-pg-oneshot-' });
