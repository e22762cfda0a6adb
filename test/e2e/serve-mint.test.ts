/**
 * `offchain serve mint` (the built CLI, spawned) answers every route of its table
 * (src/topics/serve/mint-routes.ts) with what the one-shot command prints for the same
 * message from the same starting state:
 *
 * - each POST of the credit protocol: the mint's state directory copied twice; the one-shot
 *   mint command runs on one copy, a fresh `serve mint` on the other gets the same bytes as its
 *   POST body; the answers are compared as Buffers. A fresh service per POST because
 *   OFFCHAIN_TEST_SEED's draws count per process: a service that answered before would draw
 *   other nonces than a fresh one-shot (a per-process drift this comparison would report).
 * - the GETs on one service: the offer and `credit list` byte for byte; the NUT-01 keys and the
 *   NUT-09 restore as `credit keyset` and `credit ecash restore` print them without their
 *   envelope (compared as parsed JSON); NUT-02 keysets against the keyset `credit keyset` derives.
 * - refusals: the same code and exit_code as the one-shot's stderr line and exit status.
 * The table is iterated: a route without a case fails the last test.
 *
 * - the operator's exit: `credit exit` on one copy, the service on the other, dry_run and not,
 *   the freeze read from the SQLite file and then seen as E_CONTRACT_FROZEN through the service.
 * Also: operator routes answer 404 on the public listener, a non-loopback --operator-listen is
 * E_USAGE (exit 2, nothing on stdout), and @cashu/cashu-ts (independent) reads /v1/keys and
 * /v1/keysets. The mint is fixtures/credit/ecash-demo.sh's (one contract paying in ecash); the
 * users' steps and the one-shot mint steps run in this process (in-process.ts).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { cpSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { hex } from '@scure/base';
import { Mint } from '@cashu/cashu-ts';
import Database from 'better-sqlite3';
import { ROOT, tempDir } from '../helpers.ts';
import { dbFile, networkDir } from '../state.ts';
import { cleanEnv, run, type Run } from './cli.ts';
import { pipelineInProcess, runInProcess } from './in-process.ts';
import { fixture, fixturePath } from './fixtures.ts';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { fundingPsbt, MINT_PUB, REFUND } from './stream-credit.ts';
import { mintRoutes } from '../../src/topics/serve/mint-routes.ts';
import { ServeMintProcess, serveErrors } from './serve-process.ts';

const USER2_KEY = hex.encode(createHash('sha256').update('offchain serve-mint test user 2').digest());
const ENV = {
  OFFCHAIN_TEST_SEED: 'demo',
  MINT_KEY: fixture('keys/mint.key'),
  USER_KEY: fixture('keys/user.key'),
  DEMO_ECASH_SEED: fixture('credit/ecash-seed.txt'),
  DEMO_WALLET_SEED: '5e'.repeat(64),
};
const ENV2 = { ...ENV, USER_KEY: USER2_KEY };
const TIP = ['--tip-height', '1002'];
const mintArgs = (dir: string) => ['--key-env', 'MINT_KEY', '--state-dir', dir];
const serveArgs = (dir: string, ...more: string[]) => [...mintArgs(dir), '--ecash-seed-env', 'DEMO_ECASH_SEED', ...TIP, '--confirmations', '1', ...more];

/** The one-shot mint command for each message type (the flags each command takes). */
const ONE_SHOT: Record<string, (dir: string) => string[]> = {
  'credit/open-request': (d) => ['open-credit', '--role', 'mint', ...mintArgs(d), '--ecash-seed-env', 'DEMO_ECASH_SEED', ...TIP],
  'credit/update-request': (d) => ['sign-update', '--role', 'mint', ...mintArgs(d), '--ecash-seed-env', 'DEMO_ECASH_SEED', ...TIP, '--confirmations', '1'],
  'credit/abandon': (d) => ['credit', 'abandon', '--role', 'mint', ...mintArgs(d), ...TIP],
  'credit/close-request': (d) => ['close-credit', '--role', 'mint', ...mintArgs(d), ...TIP],
  'credit/rollover-request': (d) => ['rollover', '--role', 'mint', ...mintArgs(d), ...TIP],
  'credit/rollover-sign': (d) => ['rollover', '--role', 'mint', ...mintArgs(d), ...TIP],
};

// With serve mint's exit bound (serve gateway binds none: it claims instead).
const ROUTES = mintRoutes({ exit: () => Promise.reject(new Error('not called')) } as never).map((r) => `${r.method} ${r.path}`);

/** The coded line of a failed one-shot: its code and exit status. */
function oneShotRefusal(r: Run): { code: string; exit_code: number } {
  const code = /error (E_[A-Z0-9_]+)/.exec(r.stderr)?.[1];
  if (!code) throw new Error(`no coded error line (exit ${r.status}): ${r.stderr} ${r.stdout}`);
  expect(r.stdout).toBe('');
  return { code, exit_code: r.status };
}

function ok(r: Run, type: string): string {
  expect(r.status, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout).type, r.stdout).toBe(type);
  return r.stdout;
}

describe('serve mint: every route answers what the one-shot prints', () => {
  let dir: { path: string; cleanup: () => void };
  /** The mint's state as the last case left it (the one-shot's copy). */
  let cur: string;
  let n = 0;
  const covered = new Set<string>();
  const user = (...args: string[]) => ({ args: [...args, '--key-env', 'USER_KEY', '--state-dir', join(dir.path, 'user')], env: ENV });
  const user2 = (...args: string[]) => ({ args: [...args, '--key-env', 'USER_KEY', '--state-dir', join(dir.path, 'user2')], env: ENV2 });
  const wallet = ['--wallet-seed-env', 'DEMO_WALLET_SEED'];
  let stale = '';

  /** The one-shot on one copy, a fresh service on the other: the same bytes. */
  async function sameBytes(path: string, request: string): Promise<string> {
    const type = JSON.parse(request).type as string;
    const a = join(dir.path, `case-${n}-one-shot`);
    const b = join(dir.path, `case-${n++}-serve`);
    cpSync(cur, a, { recursive: true });
    cpSync(cur, b, { recursive: true });
    const one = await runInProcess(ONE_SHOT[type]!(a), { input: request, env: ENV });
    const svc = await ServeMintProcess.start(serveArgs(b), ENV);
    let answer;
    try {
      answer = await svc.post(path, request);
    } finally {
      expect((await svc.stop()).status, svc.stderr).toBe(0);
    }
    expect(one.status, one.stderr).toBe(0);
    expect(answer.status, answer.text).toBe(200);
    expect(Buffer.from(answer.text)).toEqual(Buffer.from(one.stdout));
    covered.add(`POST ${path}`);
    cur = a;
    return one.stdout;
  }

  beforeAll(() => {
    dir = tempDir('offchain-serve-mint-');
    const demo = spawnSync('sh', [fixturePath('credit/ecash-demo.sh')], { env: cleanEnv({ OFFCHAIN_DEMO_DIR: dir.path }), cwd: ROOT, encoding: 'utf8' });
    if (demo.status !== 0) throw new Error(`ecash-demo.sh: ${demo.stderr}`);
    cur = join(dir.path, 'mint');
  }, 60_000);
  afterAll(() => dir?.cleanup());

  it('POST /v1/credit/update: a payment in ecash, the same receipt', async () => {
    const [req] = await pipelineInProcess([user('sign-update', '--role', 'user', '--amount', '500', ...wallet)]);
    stale = ok(req!, 'credit/update-request');
    const receipt = await sameBytes('/v1/credit/update', stale);
    expect(JSON.parse(receipt).signatures.length).toBeGreaterThan(0); // the payment carried outputs: the service signed ecash
    ok((await pipelineInProcess([user('sign-update', '--role', 'user', ...wallet, '--token-out', join(dir.path, 'token-1.txt'))], receipt))[0]!, 'credit/balance');
  }, 60_000);

  it('POST /v1/credit/abandon: a payment the mint never saw, abandoned', async () => {
    ok((await pipelineInProcess([user('sign-update', '--role', 'user', '--amount', '300', ...wallet)]))[0]!, 'credit/update-request');
    const abandon = ok((await pipelineInProcess([user('credit', 'abandon', '--role', 'user', '--start')]))[0]!, 'credit/abandon');
    const answer = await sameBytes('/v1/credit/abandon', abandon);
    const settled = (await pipelineInProcess([user('credit', 'abandon', '--role', 'user', ...wallet, '--token-out', join(dir.path, 'token-2.txt'))], answer))[0]!;
    expect(settled.status, settled.stderr).toBe(0);
  }, 60_000);

  it('POST /v1/operator/exit: what credit exit prints, dry_run and not; the freeze then refuses an update; on the operator listener only (the state after the abandon, copied)', async () => {
    const a = join(dir.path, `case-${n}-exit-one-shot`);
    const b = join(dir.path, `case-${n++}-exit-serve`);
    cpSync(cur, a, { recursive: true });
    cpSync(cur, b, { recursive: true });
    const exitArgs = (...more: string[]) => ['credit', 'exit', ...mintArgs(a), ...TIP, '--fee-rate', '2', ...more];
    /** The record's `exiting` mark, read straight from the service's state.sqlite (read-only), not through the store's code. */
    const exiting = (id: string) => {
      const db = new Database(dbFile(networkDir(b)), { readonly: true });
      try {
        return (db.prepare('SELECT json_extract(record, \'$.exiting\') AS e FROM contracts WHERE contract_id = ?').get(id) as { e: string | null }).e;
      } finally {
        db.close();
      }
    };
    // A payment the user (a copy: the later cases go on with the user's own state) asks for now, sent once the mint exited.
    const u = join(dir.path, `case-${n}-exit-user`);
    cpSync(join(dir.path, 'user'), u, { recursive: true });
    const request = ok((await pipelineInProcess([{ args: ['sign-update', '--role', 'user', '--amount', '100', ...wallet, '--key-env', 'USER_KEY', '--state-dir', u], env: ENV }]))[0]!, 'credit/update-request');
    const id = JSON.parse(request).contract_id as string;
    const svc = await ServeMintProcess.start(serveArgs(b, '--operator-listen', '127.0.0.1:0'), ENV);
    try {
      // The contract not named: the one-shot's pick (its only open one) or its refusal (several).
      const pick = await runInProcess(exitArgs('--dry-run'), { env: ENV });
      const r0 = await svc.post('/v1/operator/exit', JSON.stringify({ fee_rate: '2', dry_run: true }), svc.operator);
      if (pick.status === 0) expect(Buffer.from(r0.text)).toEqual(Buffer.from(pick.stdout));
      else expect(JSON.parse(r0.text)).toMatchObject({ type: 'credit/error', ...oneShotRefusal(pick) });

      // dry_run: the same bytes, nothing frozen.
      const dry = ok(await runInProcess(exitArgs('--dry-run', '--contract', id), { env: ENV }), 'credit/exit');
      const r1 = await svc.post('/v1/operator/exit', JSON.stringify({ contract_id: id, fee_rate: '2', dry_run: true }), svc.operator);
      expect(r1.status, r1.text).toBe(200);
      expect(Buffer.from(r1.text)).toEqual(Buffer.from(dry));
      expect(JSON.parse(dry).child.complete).toBe(true); // the demo's payout is the mint key's own address: the child is signed
      expect(exiting(id)).toBeNull(); // a dry run freezes nothing

      // Malformed requests: refused before any step, nothing written.
      for (const body of [{ fee_rate: '2', 'dry-run': true }, { dry_run: true }, { fee_rate: 5 }, { fee_rate: '2', broadcast: true, dry_run: true }, { fee_rate: '2', contract_id: id.toUpperCase() }]) {
        const bad = await svc.post('/v1/operator/exit', JSON.stringify(body), svc.operator);
        expect([bad.status, JSON.parse(bad.text).code], JSON.stringify(body)).toEqual([400, 'E_MALFORMED_REQUEST']);
      }
      // Offline, a broadcast has no node: the one-shot's refusal (E_CHAIN_OFFLINE), nothing frozen.
      const offline = oneShotRefusal(await runInProcess(exitArgs('--broadcast', '--contract', id), { env: ENV }));
      expect(offline.code).toBe('E_CHAIN_OFFLINE');
      const rb = await svc.post('/v1/operator/exit', JSON.stringify({ contract_id: id, fee_rate: '2', broadcast: true }), svc.operator);
      expect(JSON.parse(rb.text)).toMatchObject({ type: 'credit/error', ...offline });
      expect(exiting(id)).toBeNull();

      // The exit itself, the contract named: the same bytes, and the contract frozen.
      const real = ok(await runInProcess(exitArgs('--contract', id), { env: ENV }), 'credit/exit');
      const r2 = await svc.post('/v1/operator/exit', JSON.stringify({ contract_id: id, fee_rate: '2' }), svc.operator);
      expect(r2.status, r2.text).toBe(200);
      expect(Buffer.from(r2.text)).toEqual(Buffer.from(real));
      expect(JSON.parse(exiting(id)!)).toEqual({ state: JSON.parse(real).state, txid: JSON.parse(real).state_tx.txid, attempts: [expect.stringMatching(/^[0-9a-f]{16}$/)] });

      // A later payment, through the service: refused as the one-shot mint refuses it on its frozen copy.
      const frozen = oneShotRefusal(await runInProcess(ONE_SHOT['credit/update-request']!(a), { input: request, env: ENV }));
      expect(frozen).toEqual({ code: 'E_CONTRACT_FROZEN', exit_code: 4 });
      const r3 = await svc.post('/v1/credit/update', request);
      expect([r3.status, JSON.parse(r3.text)]).toEqual([422, expect.objectContaining({ type: 'credit/error', ...frozen })]);

      // Never on the public listener.
      const pub = await svc.post('/v1/operator/exit', JSON.stringify({ fee_rate: '2', dry_run: true }));
      expect(pub.status).toBe(404);
      expect(JSON.parse(pub.text)).toMatchObject({ type: 'credit/error', code: 'E_NO_SUCH_ENDPOINT' });
    } finally {
      expect((await svc.stop()).status, svc.stderr).toBe(0);
    }
    covered.add('POST /v1/operator/exit');
  }, 60_000);

  it('POST /v1/credit/rollover and /v1/credit/rollover/sign: the same refund, the same acceptance', async () => {
    const request = ok((await pipelineInProcess([user('rollover', '--role', 'user', '--expiry', '+4320', ...TIP)]))[0]!, 'credit/rollover-request');
    const refund = await sameBytes('/v1/credit/rollover', request);
    const sign = ok((await pipelineInProcess([user('rollover', '--role', 'user')], refund))[0]!, 'credit/rollover-sign');
    const accept = await sameBytes('/v1/credit/rollover/sign', sign);
    ok((await pipelineInProcess([user('rollover', '--role', 'user')], accept))[0]!, 'credit/rolled-over');
  }, 60_000);

  it('POST /v1/credit/open and /v1/credit/close: a second user opens and closes', async () => {
    const output = musigTaprootOutput([publicKeyOf(hex.decode(USER2_KEY)), MINT_PUB]);
    const offer = join(dir.path, 'offer.json');
    const [req] = await pipelineInProcess([user2('open-credit', '--role', 'user', '--offer', offer, '--tip-height', '1000', '--expiry', '+4320', '--refund-address', REFUND)], fundingPsbt(output.script, 'serve-mint user 2'));
    const accept = await sameBytes('/v1/credit/open', ok(req!, 'credit/open-request'));
    ok((await pipelineInProcess([user2('open-credit', '--role', 'user')], accept))[0]!, 'credit/opened');
    const close = ok((await pipelineInProcess([user2('close-credit', '--role', 'user', '--start')]))[0]!, 'credit/close-request');
    const closed = await sameBytes('/v1/credit/close', close);
    expect(JSON.parse(closed).type).toBe('credit/closed');
  }, 60_000);

  describe('one service for the reads and the refusals', () => {
    let svc: ServeMintProcess;
    let g: string;
    beforeAll(async () => {
      g = join(dir.path, 'reads');
      cpSync(cur, g, { recursive: true });
      // Every log line kept (debug): the secrets test below reads them all.
      svc = await ServeMintProcess.start(serveArgs(g, '--operator-listen', '127.0.0.1:0', '--log-level', 'debug'), ENV);
    }, 30_000);
    afterAll(async () => {
      if (svc) expect((await svc.stop()).status, svc.stderr).toBe(0);
    });

    it('GET /v1/credit/offer: the offer --publish prints', async () => {
      const one = await runInProcess(['open-credit', '--role', 'mint', '--publish', ...mintArgs(g)], { env: ENV });
      const r = await svc.get('/v1/credit/offer');
      expect(r.status).toBe(200);
      expect(Buffer.from(r.text)).toEqual(Buffer.from(ok(one, 'credit/offer')));
      covered.add('GET /v1/credit/offer');
    });

    it('GET /v1/keys, /v1/keys/:id, /v1/keysets: the keyset credit keyset derives (NUT-01/02), read by cashu-ts', async () => {
      const one = JSON.parse(ok(await runInProcess(['credit', 'keyset', '--ecash-seed-env', 'DEMO_ECASH_SEED'], { env: ENV }), 'credit/keyset'));
      const { type: _t, version: _v, network: _n, ...nut01 } = one;
      const keys = await svc.get('/v1/keys');
      expect(keys.status).toBe(200);
      expect(JSON.parse(keys.text)).toEqual(nut01);
      const id = nut01.keysets[0].id as string;
      const byId = await svc.get(`/v1/keys/${id}`);
      expect(JSON.parse(byId.text)).toEqual(nut01);
      const unknown = await svc.get(`/v1/keys/${id.slice(0, -2)}00`);
      expect(unknown.status).toBe(400);
      expect(JSON.parse(unknown.text)).toMatchObject({ code: 12001, detail: expect.stringMatching(/^E_UNKNOWN_KEYSET: /) });
      const keysets = await svc.get('/v1/keysets');
      expect(JSON.parse(keysets.text)).toEqual({ keysets: [{ id, unit: 'sat', active: true, input_fee_ppk: nut01.keysets[0].input_fee_ppk, final_expiry: null }] });
      // An independent reader: a Cashu wallet library.
      const mint = new Mint(svc.url);
      const read = await mint.getKeys();
      expect(read.keysets.map((k) => [k.id, k.keys])).toEqual([[id, nut01.keysets[0].keys]]);
      expect((await mint.getKeys(id)).keysets[0]!.id).toBe(id);
      expect((await mint.getKeySets()).keysets.map((k) => [k.id, k.active, k.input_fee_ppk])).toEqual([[id, true, nut01.keysets[0].input_fee_ppk]]);
      for (const r of ['GET /v1/keys', 'GET /v1/keys/:id', 'GET /v1/keysets']) covered.add(r);
    });

    it('POST /v1/restore: the signatures credit ecash restore gives', async () => {
      const body = fixture('credit/restore-request.json');
      const one = JSON.parse(ok(await runInProcess(['credit', 'ecash', 'restore', '--state-dir', g, '--ecash-seed-env', 'DEMO_ECASH_SEED', '--in', fixturePath('credit/restore-request.json')], { env: ENV }), 'credit/restore'));
      const { type: _t, version: _v, network: _n, ...nut09 } = one;
      expect(nut09.signatures.length).toBeGreaterThan(0);
      const r = await svc.post('/v1/restore', body);
      expect(r.status, r.text).toBe(200);
      expect(JSON.parse(r.text)).toEqual(nut09);
      // The bare NUT-09 body (what a wallet POSTs) is answered the same.
      const { type: _a, version: _b, network: _c, ...bare } = JSON.parse(body);
      expect(JSON.parse((await svc.post('/v1/restore', JSON.stringify(bare))).text)).toEqual(nut09);
      covered.add('POST /v1/restore');
    });

    it('GET /v1/operator/contracts: what credit list prints, on the operator listener only', async () => {
      const one = ok(await runInProcess(['credit', 'list', ...mintArgs(g), ...TIP], { env: ENV }), 'credit/contracts');
      const r = await svc.get('/v1/operator/contracts', svc.operator);
      expect(r.status, r.text).toBe(200);
      expect(Buffer.from(r.text)).toEqual(Buffer.from(one));
      const within = ok(await runInProcess(['credit', 'list', ...mintArgs(g), ...TIP, '--expiring-within', '144'], { env: ENV }), 'credit/contracts');
      expect([JSON.parse(within).contracts.length, JSON.parse(one).contracts.length > 0]).toEqual([0, true]); // the filter filters here
      expect(Buffer.from((await svc.get('/v1/operator/contracts?expiring-within=144', svc.operator)).text)).toEqual(Buffer.from(within));
      expect((await svc.get('/v1/operator/contracts?expiring-within=soon', svc.operator)).status).toBe(400);
      const pub = await svc.get('/v1/operator/contracts');
      expect(pub.status).toBe(404);
      expect(JSON.parse(pub.text)).toMatchObject({ type: 'credit/error', code: 'E_NO_SUCH_ENDPOINT' });
      expect((await svc.get('/metrics')).status).toBe(404);
      covered.add('GET /v1/operator/contracts');
    });

    it('/metrics on the operator listener: the mint\'s contracts and unused nonces, counted apart from the service', async () => {
      const listed = JSON.parse(ok(await runInProcess(['credit', 'list', ...mintArgs(g), ...TIP], { env: ENV }), 'credit/contracts')).contracts.length;
      // The nonce rows read straight from state.sqlite (read-only), not through the store's code.
      const db = new Database(dbFile(networkDir(g)), { readonly: true });
      const unused = (db.prepare('SELECT COUNT(*) AS n FROM nonces WHERE consumed = 0').get() as { n: number }).n;
      db.close();
      expect([listed > 0, unused > 0]).toEqual([true, true]);
      const text = (await svc.get('/metrics', svc.operator)).text;
      expect(text).toMatch(new RegExp(`^offchain_contracts\\{role="mint"\\} ${listed}$`, 'm'));
      expect(text).toMatch(new RegExp(`^offchain_nonces_outstanding\\{role="mint"\\} ${unused}$`, 'm'));
      expect(text).toMatch(/^offchain_steps_total\{role="mint",step="[a-z/-]+",outcome="answered"\} [1-9]/m);
    });

    it('refusals: the one-shot\'s code and exit_code; a retried payment: its stored receipt, byte for byte', async () => {
      const cases: { path: string; body: string }[] = [
        { path: '/v1/credit/open', body: stale }, // an update-request where an open-request goes
        { path: '/v1/credit/close', body: JSON.stringify({ ...JSON.parse(stale), type: 'credit/close-request' }) }, // not a close-request's fields
        { path: '/v1/credit/update', body: JSON.stringify({ ...JSON.parse(stale), network: 'signet' }) }, // another network
        { path: '/v1/credit/update', body: JSON.stringify({ ...JSON.parse(stale), cumulative_sat: 1 }) }, // a state that does not match its PSBT
        { path: '/v1/credit/update', body: stale }, // the first payment again: its stored receipt
      ];
      const refusals = new Set<string>();
      let replayed = 0;
      for (const c of cases) {
        const type = ({ '/v1/credit/open': 'credit/open-request', '/v1/credit/update': 'credit/update-request', '/v1/credit/close': 'credit/close-request' } as Record<string, string>)[c.path]!;
        const copy = join(dir.path, `refusal-${n++}`);
        cpSync(g, copy, { recursive: true });
        // --network: the service serves the network it was started for, as a one-shot told which.
        const one = await runInProcess([...ONE_SHOT[type]!(copy), '--network', 'regtest'], { input: c.body, env: ENV });
        const r = await svc.post(c.path, c.body);
        if (one.status === 0) {
          expect(r.status, r.text).toBe(200);
          expect(Buffer.from(r.text)).toEqual(Buffer.from(one.stdout));
          replayed++;
          continue;
        }
        const want = oneShotRefusal(one);
        expect(JSON.parse(r.text), `${c.path} ${r.text}`).toMatchObject({ type: 'credit/error', version: 1, network: 'regtest', code: want.code, exit_code: want.exit_code });
        expect(r.status).toBe(({ 2: 400, 3: 400, 4: 422, 5: 409 } as Record<number, number>)[want.exit_code]);
        refusals.add(want.code);
      }
      expect(refusals.has('E_WRONG_MESSAGE')).toBe(true);
      expect(refusals.size).toBeGreaterThanOrEqual(3);
      expect(replayed).toBe(1);
    });

    it('its log (every line, at debug) and its metrics carry no key, seed or message: only ids, routes, statuses, times and codes', async () => {
      const metrics = (await svc.get('/metrics', svc.operator)).text;
      const log = svc.stderr;
      expect(log).toMatch(/"route":"\/v1\/credit\/update"/); // the requests above were logged
      const stalePsbt = (JSON.parse(stale) as { psbt: string }).psbt;
      for (const secret of [ENV.MINT_KEY, ENV.USER_KEY, ENV.DEMO_ECASH_SEED, ENV.DEMO_WALLET_SEED, stalePsbt.slice(0, 40)]) {
        expect(log.includes(secret), `log holds ${secret.slice(0, 8)}…`).toBe(false);
        expect(metrics.includes(secret), `metrics hold ${secret.slice(0, 8)}…`).toBe(false);
      }
    });
  });

  it('--operator-listen on a non-loopback address: E_USAGE, exit 2, nothing on stdout', () => {
    const r = run(['serve', 'mint', ...serveArgs(cur, '--operator-listen', '0.0.0.0:1')], { env: ENV });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(serveErrors(r.stderr)).toEqual([{ code: 'E_USAGE', exit_code: 2, msg: expect.stringMatching(/^E_USAGE: --operator-listen 0\.0\.0\.0:1/) }]);
  });

  it('--nonce-epoch host: E_USAGE (retired: a host\'s shared nonce key is gone, on every store), exit 2', () => {
    const r = run(['serve', 'mint', ...serveArgs(cur, '--nonce-epoch', 'host')], { env: ENV });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(serveErrors(r.stderr)).toEqual([{ code: 'E_USAGE', exit_code: 2, msg: expect.stringMatching(/^E_USAGE: --nonce-epoch host is retired: .*drop the flag/) }]);
  });

  it('a second serve mint (or a --stream) on the SQLite --state-dir a serve mint holds: E_LOCK_HELD, exit 5, one line, nothing on stdout; one-shots beside it still run; stopped, the directory is free again', async () => {
    const d = join(dir.path, 'held');
    cpSync(cur, d, { recursive: true });
    const first = await ServeMintProcess.start(serveArgs(d), ENV);
    try {
      const second = run(['serve', 'mint', ...serveArgs(d, '--listen', '127.0.0.1:0')], { env: ENV, timeoutMs: 30_000 });
      expect({ status: second.status, stdout: second.stdout }).toEqual({ status: 5, stdout: '' });
      expect(serveErrors(second.stderr)).toEqual([{ code: 'E_LOCK_HELD', exit_code: 5, msg: expect.stringMatching(/^E_LOCK_HELD: .* is held by another long-running process/) }]);
      const stream = run(['sign-update', '--role', 'mint', '--stream', ...serveArgs(d)], { env: ENV, input: '', timeoutMs: 30_000 });
      expect([stream.status, stream.stdout, /error (E_[A-Z_]+)/.exec(stream.stderr)?.[1]]).toEqual([5, '', 'E_LOCK_HELD']);
      const list = run(['credit', 'list', '--state-dir', d, ...TIP], { env: ENV });
      expect(list.status, list.stderr).toBe(0);
      expect((await first.get('/v1/credit/offer')).status).toBe(200);
    } finally {
      expect((await first.stop()).status, first.stderr).toBe(0);
    }
    const again = await ServeMintProcess.start(serveArgs(d), ENV);
    expect((await again.stop()).status, again.stderr).toBe(0);
  });

  it('every route of the table had its case', () => {
    writeFileSync(join(dir.path, 'routes.txt'), ROUTES.join('\n'));
    expect(ROUTES.filter((r) => !covered.has(r))).toEqual([]);
  });
});
