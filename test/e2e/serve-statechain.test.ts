/**
 * `offchain serve statechain` (the built CLI, spawned: the process under test):
 * - same bytes: every POST route of its table answers what the one-shot operator step
 *   (`statechain deposit|transfer|withdraw`, the same bundle's `main` run in this process, as
 *   are the owners' steps around it) prints for the same message from the same state
 *   (a copy of the service's --state-dir taken just before; both under one test seed), and
 *   refuses what it refuses with the same code and exit code; the table is iterated, so a
 *   route without a case fails; the GET routes against independently computed values;
 * - a deposit-request whose answer was lost on the way (a proxy in this test drops the
 *   connection after the service answered) is sent again by `--peer` and gets the same offer:
 *   one coin at the operator;
 * - the "done when" flow on regtest (BITCOIND; skipped visibly without it): an owner deposits,
 *   transfers to a receiver and the receiver withdraws, every exchange with the operator
 *   through `--peer` to one running service; the funding and the withdrawal mined by Core,
 *   the withdrawal's signature checked by the independent verifier.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { join } from 'node:path';
import { tempDir } from '../helpers.ts';
import type { Run } from './cli.ts';
import { runInProcess } from './in-process.ts';
import { flowHere, type AsyncFlow } from './statechain-here.ts';
import { chainFor, flow, fundingPsbt, fundingTo, KEYS, ok, OPERATOR_PUB, TERMS, stateSnapshot } from './statechain-flow.ts';
import { startServe, type Served } from './serve-process.ts';
import { bytesOf, hexOf, parseTx } from '../independent/tx.ts';
import { publicKeyOf } from '../independent/secp256k1.ts';
import { taprootOutput } from '../independent/keys.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { statechainRoutes } from '../../src/topics/serve/statechain-routes.ts';
import { findBitcoind } from '../regtest/bitcoind.ts';
import { startFundedNode, type FundedNode } from '../regtest/funded-node.ts';
import { satsToBtc } from '../../src/lib/chain/amount.ts';

const OFFLINE = ['--tip-height', '200', '--confirmations', '3'];
const SEED = { OFFCHAIN_TEST_SEED: 'serve-statechain' };
const TO = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';

/** Every route of the table, as "METHOD path" (stub dependencies: only the table is read). */
const TABLE = statechainRoutes({ network: 'regtest', answer: async () => ({}), info: async () => ({}), coins: async () => ({}) }).map((r) => `${r.method} ${r.path}`);

async function post(base: string, path: string, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, text: await res.text() };
}

async function get(base: string, path: string): Promise<{ status: number; value: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, value: (await res.json()) as Record<string, unknown> };
}

const codeOf = (r: Run) => /error (E_[A-Z0-9_]+):/.exec(r.stderr)?.[1];

describe('serve statechain: the same bytes as the one-shot operator, route by route', () => {
  let dir: { path: string; cleanup: () => void };
  let svc: Served;
  let f: AsyncFlow;
  const covered = new Set<string>();
  const opDir = () => join(dir.path, 'OP');
  let copies = 0;

  beforeAll(async () => {
    dir = tempDir('offchain-e2e-serve-sc-');
    f = flowHere(dir.path, () => OFFLINE, SEED);
    mkdirSync(opDir()); // the service writes nothing before its first request: the one-shots' copies start from this empty directory
    svc = await startServe(['statechain', '--key-env', 'OPERATOR_KEY', '--state-dir', opDir(), ...OFFLINE, ...TERMS, '--operator-listen', '127.0.0.1:0', '--network', 'regtest', '--log-level', 'warn'], { ...KEYS, ...SEED });
  }, 60_000);
  afterAll(async () => {
    expect(await svc?.stop()).toBe(0);
    dir?.cleanup();
  });

  /** The one-shot operator command of a route, on a copy of the service's state taken now; returns a runner for after the service answered. */
  const oneShotFromHere = (path: string) => {
    const copy = join(dir.path, `copy-${copies++}`);
    cpSync(opDir(), copy, { recursive: true });
    const cmd = `statechain-${/^\/v1\/statechain\/(deposit|transfer|withdraw)/.exec(path)![1]}`;
    const args = [cmd, ...(cmd === 'statechain-deposit' ? TERMS : []), '--key-env', 'OPERATOR_KEY', '--state-dir', copy, ...chainFor([cmd], OFFLINE), '--network', 'regtest'];
    return (input: string) => runInProcess(args, { input, env: { ...KEYS, ...SEED } });
  };

  /** `message` to `path` and to the one-shot from the same state: the same bytes (or the same refusal). Returns the service's answer. */
  const same = async (path: string, message: string): Promise<string> => {
    const oneShot = oneShotFromHere(path);
    const served = await post(svc.public, path, message);
    const r = await oneShot(message);
    if (r.status === 0) {
      expect(served.status, served.text).toBe(200);
      expect(Buffer.from(served.text)).toEqual(Buffer.from(r.stdout));
    } else {
      const body = JSON.parse(served.text) as { type: string; code: string; exit_code: number };
      expect({ type: body.type, code: body.code, exit_code: body.exit_code }).toEqual({ type: 'statechain/error', code: codeOf(r), exit_code: r.status });
      expect(served.status).toBe({ 2: 400, 3: 400, 4: 422, 5: 409 }[r.status]);
    }
    covered.add(`POST ${path}`);
    return served.text;
  };

  /** A refusal of each route: both refuse it alike, and the service's state is as it was. */
  const refusedAlike = async (path: string, message: string, code: string) => {
    const before = stateSnapshot(opDir());
    const text = await same(path, message);
    expect(JSON.parse(text)).toMatchObject({ code });
    expect(stateSnapshot(opDir())).toEqual(before);
  };
  const unknownCoin = (message: string) => JSON.stringify({ ...(JSON.parse(message) as object), coin_id: '00'.repeat(16) });

  it('deposit, transfer, withdraw: each operator step served as the one-shot answers it; refusals alike; every route covered', async () => {
    // Deposit: the request, and the same request again (its answer lost): the same offer.
    const request = ok(await f.as('ALICE_KEY', ['statechain-deposit', '--start', '--operator-key', OPERATOR_PUB]));
    const forged = JSON.parse(request) as Record<string, string>;
    forged.owner_sig = forged.owner_sig!.slice(0, -2) + (forged.owner_sig!.endsWith('00') ? '01' : '00');
    await refusedAlike('/v1/statechain/deposit', JSON.stringify(forged), 'E_BAD_REQUEST_SIG');
    const offer = await same('/v1/statechain/deposit', request);
    expect((await post(svc.public, '/v1/statechain/deposit', request)).text).toBe(offer);
    const { coin_id: coinId, statement } = JSON.parse(offer) as { coin_id: string; statement: { address: string } };
    const psbt = join(dir.path, 'funding.psbt');
    writeFileSync(psbt, fundingPsbt(fundingTo(statement.address, 100_000n)));
    const backup = ok(await f.as('ALICE_KEY', ['statechain-deposit', '--funding', psbt], offer));
    await refusedAlike('/v1/statechain/deposit/backup', unknownCoin(backup), 'E_UNKNOWN_COIN');
    const cosigned = await same('/v1/statechain/deposit/backup', backup);
    expect(JSON.parse(ok(await f.as('ALICE_KEY', ['statechain-deposit'], cosigned)))).toMatchObject({ coin_id: coinId });

    // Transfer Alice → Bob.
    const tRequest = ok(await f.as('BOB_KEY', ['statechain-transfer', '--start', '--coin', coinId, '--operator-key', OPERATOR_PUB]));
    const sign = ok(await f.as('ALICE_KEY', ['statechain-transfer'], tRequest));
    await refusedAlike('/v1/statechain/transfer/sign', unknownCoin(sign), 'E_UNKNOWN_COIN');
    const tCosigned = await same('/v1/statechain/transfer/sign', sign);
    const pkg = ok(await f.as('ALICE_KEY', ['statechain-transfer'], tCosigned));
    const accept = ok(await f.as('BOB_KEY', ['statechain-transfer'], pkg));
    await refusedAlike('/v1/statechain/transfer/accept', unknownCoin(accept), 'E_UNKNOWN_COIN');
    const done = await same('/v1/statechain/transfer/accept', accept);
    expect(JSON.parse(ok(await f.as('BOB_KEY', ['statechain-transfer'], done)))).toMatchObject({ type: 'statechain/coin', coin_id: coinId });

    // Withdrawal by Bob.
    const wRequest = ok(await f.as('BOB_KEY', ['statechain-withdraw', '--coin', coinId, '--to', TO, '--fee-rate', '2']));
    await refusedAlike('/v1/statechain/withdraw', unknownCoin(wRequest), 'E_UNKNOWN_COIN');
    // A message of another route's type: E_WRONG_MESSAGE (exit 3) from both.
    await refusedAlike('/v1/statechain/withdraw', accept, 'E_WRONG_MESSAGE');
    const wCosigned = await same('/v1/statechain/withdraw', wRequest);
    expect(JSON.parse(ok(await f.as('BOB_KEY', ['statechain-withdraw'], wCosigned)))).toMatchObject({ type: 'statechain/spend', coin_id: coinId });

    // GET /v1/statechain/info: the operator's key (computed here from its secret) and the terms of its flags.
    const info = await get(svc.public, '/v1/statechain/info');
    expect(info).toEqual({
      status: 200,
      value: { type: 'statechain/operator-info', version: 1, network: 'regtest', operator_auth: hexOf(publicKeyOf(bytesOf(KEYS.OPERATOR_KEY!))), terms: { interval: 10, initial_lock: 100, confirmations: 2, backup_fee_sat: 400, margin: 6 } },
    });
    covered.add('GET /v1/statechain/info');
    // GET /v1/operator/coins: on the operator's listener only; the one coin, withdrawn, after one transfer.
    expect((await get(svc.public, '/v1/operator/coins')).status).toBe(404);
    const coins = await get(svc.operator!, '/v1/operator/coins');
    expect(coins.value).toMatchObject({ type: 'statechain/operator-coins', coins: [{ coin_id: coinId, status: 'withdrawn', backups: 2, transfers: 1 }] });
    expect(JSON.stringify(coins.value)).not.toMatch(/share_secret|x1/);
    covered.add('GET /v1/operator/coins');

    expect(TABLE.filter((r) => !covered.has(r))).toEqual([]);
    expect(TABLE.length).toBeGreaterThanOrEqual(7);
    // No body, key or signature in the service's log.
    for (const secret of [KEYS.OPERATOR_KEY!, (JSON.parse(request) as { owner_sig: string }).owner_sig]) expect(svc.log()).not.toContain(secret);
  }, 180_000);
});

describe('serve statechain: --peer sends a deposit-request again after its answer was lost', () => {
  let dir: { path: string; cleanup: () => void };
  let svc: Served;
  let proxy: Server;
  let proxyUrl: string;
  let dropped = 0;

  beforeAll(async () => {
    dir = tempDir('offchain-e2e-serve-sc-lost-');
    svc = await startServe(['statechain', '--key-env', 'OPERATOR_KEY', '--state-dir', join(dir.path, 'OP'), ...OFFLINE, ...TERMS, '--operator-listen', '127.0.0.1:0', '--log-level', 'warn'], KEYS);
    // Forwards every request; the first deposit's answer is read from the service and then lost (the client's socket destroyed).
    proxy = createServer((req, res) => {
      const target = new URL(req.url!, svc.public);
      const up = httpRequest(target, { method: req.method, headers: req.headers }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          if (req.url === '/v1/statechain/deposit' && dropped++ === 0) {
            req.socket.destroy();
            return;
          }
          res.writeHead(answer.statusCode!, answer.headers);
          res.end(Buffer.concat(chunks));
        });
      });
      req.pipe(up);
    });
    await new Promise<void>((res) => proxy.listen(0, '127.0.0.1', res));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
  }, 60_000);
  afterAll(async () => {
    await new Promise((res) => proxy?.close(res));
    expect(await svc?.stop()).toBe(0);
    dir?.cleanup();
  });

  it('the owner\'s --start --peer prints the one offer; the operator holds one coin; the deposit finishes through --peer', async () => {
    const f = flow(dir.path, () => OFFLINE);
    const r = await f.asAsync('ALICE_KEY', ['statechain-deposit', '--start', '--operator-key', OPERATOR_PUB, '--peer', proxyUrl]);
    expect(r.status, r.stderr).toBe(0);
    expect(dropped).toBe(2); // the lost answer, then the retry
    expect(r.stderr).toMatch(/--peer: .*sending the same statechain\/deposit-request again/);
    const offer = JSON.parse(r.stdout) as { type: string; coin_id: string; statement: { address: string } };
    expect(offer.type).toBe('statechain/deposit-offer');
    const coins = await get(svc.operator!, '/v1/operator/coins');
    expect((coins.value.coins as { coin_id: string }[]).map((c) => c.coin_id)).toEqual([offer.coin_id]);
    // Steps 3–5 in one run: the offer applied with --funding, backup 1 co-signed by the service, finished here.
    const psbt = join(dir.path, 'funding.psbt');
    writeFileSync(psbt, fundingPsbt(fundingTo(offer.statement.address, 100_000n)));
    const coin = await f.asAsync('ALICE_KEY', ['statechain-deposit', '--funding', psbt, '--peer', proxyUrl], r.stdout);
    expect(coin.status, coin.stderr).toBe(0);
    expect(JSON.parse(coin.stdout)).toMatchObject({ type: 'statechain/coin', coin_id: offer.coin_id, backups: [expect.any(String)] });
    expect((await get(svc.operator!, '/v1/operator/coins')).value).toMatchObject({ coins: [{ coin_id: offer.coin_id, status: 'active', backups: 1 }] });

    // A transfer through --peer, each --peer step run a second time as after a crash before it printed. The sender's
    // step answers the same package (the operator its stored answer); the receiver's and the withdrawal's, whose runs
    // ended with the coin recorded, are refused coded with nothing changed (as re-piping those steps is): nothing signed twice.
    const request = await f.asAsync('BOB_KEY', ['statechain-transfer', '--start', '--coin', offer.coin_id, '--operator-key', OPERATOR_PUB]);
    const peerRun = async (who: string, args: string[], input: string) => {
      const r = await f.asAsync(who, [...args, '--peer', svc.public], input);
      expect(r.status, r.stderr).toBe(0);
      return r.stdout;
    };
    const again = async (who: string, args: string[], input: string, code: string) => {
      const before = stateSnapshot(join(dir.path, who));
      const r = await f.asAsync(who, [...args, '--peer', svc.public], input);
      expect({ status: r.status, stdout: r.stdout, code: /error (E_[A-Z_]+)/.exec(r.stderr)?.[1] }).toEqual({ status: 5, stdout: '', code });
      expect(stateSnapshot(join(dir.path, who))).toEqual(before);
    };
    await again('ALICE_KEY', ['statechain-deposit', '--funding', psbt], r.stdout, 'E_UNKNOWN_COIN');
    const pkg = await peerRun('ALICE_KEY', ['statechain-transfer'], request.stdout);
    expect(await peerRun('ALICE_KEY', ['statechain-transfer'], request.stdout)).toBe(pkg);
    expect(JSON.parse(await peerRun('BOB_KEY', ['statechain-transfer'], pkg))).toMatchObject({ type: 'statechain/coin', coin_id: offer.coin_id });
    await again('BOB_KEY', ['statechain-transfer'], pkg, 'E_NOT_RECEIVING');
    const withdraw = ['statechain-withdraw', '--coin', offer.coin_id, '--to', TO, '--fee-rate', '2'];
    const spend = JSON.parse(await peerRun('BOB_KEY', withdraw, '')) as { type: string; hex: string };
    expect(spend.type).toBe('statechain/spend');
    await again('BOB_KEY', withdraw, '', 'E_ALREADY_WITHDRAWN');
    // `--coin ID` alone prints the kept withdrawal again.
    expect(JSON.parse((await f.asAsync('BOB_KEY', ['statechain-withdraw', '--coin', offer.coin_id])).stdout)).toMatchObject({ hex: spend.hex });
    expect((await get(svc.operator!, '/v1/operator/coins')).value).toMatchObject({ coins: [{ coin_id: offer.coin_id, status: 'withdrawn', backups: 2, transfers: 1 }] });
  }, 120_000);
});

const BITCOIND = findBitcoind();
const TITLE = BITCOIND ? `serve statechain on regtest: deposit, transfer, withdraw, every operator step through --peer (${BITCOIND})` : 'serve statechain on regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

describe.skipIf(!BITCOIND)(TITLE, () => {
  const REG_TERMS = ['--interval', '5', '--initial-lock', '+40', '--min-confirmations', '2', '--backup-fee', '400', '--margin', '2'];
  const FLOOR = ['--min-interval', '5', '--min-margin', '2'];
  let dir: { path: string; cleanup: () => void };
  let n: FundedNode;
  let svc: Served;

  beforeAll(async () => {
    dir = tempDir('offchain-e2e-serve-sc-regtest-');
    n = await startFundedNode(BITCOIND!, 'serve-sc');
    svc = await startServe(['statechain', '--key-env', 'OPERATOR_KEY', '--state-dir', join(dir.path, 'OP'), ...n.chain(), ...REG_TERMS, '--log-level', 'warn'], KEYS);
  }, 120_000);
  afterAll(async () => {
    expect(await svc?.stop()).toBe(0);
    await n?.stop();
    dir?.cleanup();
  });

  it('an owner deposits, transfers to a receiver, the receiver withdraws: each party one process per step, the operator only the service', async () => {
    const as = async (who: string, args: string[], input = '') => {
      mkdirSync(join(dir.path, who), { recursive: true });
      const extra = ['statechain-deposit', 'statechain-transfer'].includes(args[0]!) ? FLOOR : [];
      const r = await (await import('./process.ts')).runAsync([...args, ...extra, '--key-env', who, '--state-dir', join(dir.path, who), ...n.chain()], { input, env: KEYS });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout;
    };
    const peer = ['--peer', svc.public];
    const offerText = await as('ALICE_KEY', ['statechain-deposit', '--start', '--operator-key', OPERATOR_PUB, ...peer]);
    const offer = JSON.parse(offerText) as { coin_id: string; statement: { address: string } };
    const funded = await n.wallet.call<{ hex: string }>('fundrawtransaction', [await n.wallet.call<string>('createrawtransaction', [[], [{ [offer.statement.address]: satsToBtc(100_000n) }]])]);
    const fundingFile = join(dir.path, 'funding.hex');
    writeFileSync(fundingFile, funded.hex);
    const coin = JSON.parse(await as('ALICE_KEY', ['statechain-deposit', '--funding', fundingFile, ...peer], offerText)) as { outpoint: string; statement: { aggregate: string }; backups: string[] };
    const signed = await n.wallet.call<{ hex: string; complete: boolean }>('signrawtransactionwithwallet', [funded.hex]);
    expect(parseTx(signed.hex).txid).toBe(coin.outpoint.split(':')[0]);
    await n.acceptAndMine(signed.hex);
    await n.mine(1);

    const request = await as('BOB_KEY', ['statechain-transfer', '--start', '--coin', offer.coin_id, '--operator-key', OPERATOR_PUB]);
    const pkg = await as('ALICE_KEY', ['statechain-transfer', ...peer], request);
    expect(JSON.parse(pkg)).toMatchObject({ type: 'statechain/transfer-package' });
    const bobCoin = JSON.parse(await as('BOB_KEY', ['statechain-transfer', ...peer], pkg)) as { type: string; backups: string[] };
    expect(bobCoin).toMatchObject({ type: 'statechain/coin' });

    const spend = JSON.parse(await as('BOB_KEY', ['statechain-withdraw', '--coin', offer.coin_id, '--to', n.sweepTo, '--fee-rate', '2', '--broadcast', ...peer])) as { txid: string; hex: string; broadcast: { txid: string } };
    expect(spend.broadcast.txid).toBe(spend.txid);
    const fundingOut = parseTx(signed.hex).outputs[Number(coin.outpoint.split(':')[1])]!;
    verifyKeyPathSpend(spend.hex, [{ amount: fundingOut.amount, script: fundingOut.script }], taprootOutput(bytesOf(coin.statement.aggregate).subarray(1)).outputKey);
    await n.mine(1);
    expect((await n.wallet.call<{ confirmations: number }>('gettransaction', [spend.txid])).confirmations).toBe(1);
    // Bob's backup (from the transfer) would have been non-final before the withdrawal: the coin is spent now.
    expect((await n.mempool(bobCoin.backups[bobCoin.backups.length - 1]!))['reject-reason']).toMatch(/missing|non-final|inputs/);
  }, 300_000);
});
