/**
 * Every role's real table of routes (mint, gateway, statechain) as the service builds it —
 * each a fastify plugin on its listener — driven through inject(), no socket: a request its
 * route's JSON Schema refuses gets the documented status, code and exit_code (NUT-00's shape
 * on the NUT routes) and never reaches its step (the role's steps here are recorders that
 * fail the test when called); a valid message reaches its step unchanged and the step's answer
 * leaves as the one-shot prints it. The expected codes are written here by hand, route by
 * route; a route with a schema and no case here fails the last test of its role. Also GET
 * /v1/info: 404 on the public listener, and on the operator's an answer whatever the node does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { buildService, type BuiltService, type Route, type ServeOptions } from '../../../src/topics/serve/service.ts';
import type { RoutePlugin } from '../../../src/topics/serve/routes-plugin.ts';
import { mintPlugin, type MintServe } from '../../../src/topics/serve/mint-routes.ts';
import { gatewayPlugin, type GatewaySteps } from '../../../src/topics/serve/gateway-routes.ts';
import { statechainPlugin, type StatechainService } from '../../../src/topics/serve/statechain-routes.ts';
import { fixturePath } from '../../e2e/fixtures.ts';
import { infoHook } from '../../../src/topics/serve/info.ts';
import { ServeInfoSchema } from '../../../src/lib/serve/schemas.ts';
import { decodeMessage } from '../../../src/lib/message.ts';
import { OffchainError } from '../../../src/lib/errors.ts';
import type { ChainSource } from '../../../src/lib/chain/types.ts';

const base: ServeOptions = {
  role: 'test', group: 'credit', network: 'regtest', listen: { host: '127.0.0.1', port: 0 }, operatorListen: { host: '127.0.0.1', port: 0 },
  bodyLimit: 65536, requestTimeoutMs: 5000, stepTimeoutMs: 2000, rateLimit: undefined, drainTimeoutMs: 5000, logLevel: 'silent',
  maxConnections: 0, maxConnectionsPerAddress: 0, maxBodyBytes: 1 << 20,
};

const message = (file: string) => JSON.parse(readFileSync(fixturePath(file), 'utf8')) as Record<string, unknown>;

/** A step that records its call: the refusals below must leave `calls` empty. */
function recorder() {
  const calls: string[] = [];
  const step = (name: string, answer: unknown = { type: 'test/answer', version: 1, network: 'regtest', step: name }) => async (...args: unknown[]) => {
    calls.push(name);
    last.set(name, args);
    return answer;
  };
  const last = new Map<string, unknown[]>();
  return { calls, step, last };
}

/** Routes whose schema takes any string in the path (an unknown keyset id is the step's NUT-00 12001): no request it refuses. */
const ANY_STRING = new Set(['GET /v1/keys/:id']);

type Bad = { what: string; method: 'GET' | 'POST'; url: string; body?: unknown; listener?: 'operator'; status: number; code: string; exit?: number; nut?: true };

/** For a route taking `fixture`'s message: its envelope or schema broken five ways. */
function badMessages(url: string, fixture: string, otherType: string): Bad[] {
  const m = message(fixture);
  return [
    { what: 'not an object', method: 'POST', url, body: [m], status: 400, code: 'E_MALFORMED_MESSAGE', exit: 3 },
    { what: 'version 2', method: 'POST', url, body: { ...m, version: 2 }, status: 400, code: 'E_MESSAGE_VERSION', exit: 3 },
    { what: 'another network', method: 'POST', url, body: { ...m, network: 'testnet' }, status: 422, code: 'E_NETWORK_MISMATCH', exit: 4 },
    { what: 'another route\'s message', method: 'POST', url, body: { ...m, type: otherType }, status: 400, code: 'E_WRONG_MESSAGE', exit: 3 },
    { what: 'a field its schema does not have', method: 'POST', url, body: { ...m, amount_msat: 1 }, status: 400, code: 'E_MALFORMED_MESSAGE', exit: 3 },
  ];
}

async function inject(apps: BuiltService['apps'], b: Pick<Bad, 'method' | 'url' | 'body' | 'listener'>) {
  const app = (b.listener === 'operator' ? apps.operator : apps.public) as FastifyInstance;
  return app.inject(b.body !== undefined ? { ...postJson(b.url, b.body), method: b.method } : { method: b.method, url: b.url });
}

/** Each case refused with its status and code, in its route's shape, and no step called. */
function refusesBeforeTheStep(role: string, make: () => { plugin: RoutePlugin; calls: string[]; group: string }, bad: () => Bad[]) {
  describe(`${role}: a request its route's schema refuses never reaches the step`, () => {
    let built: BuiltService;
    let calls: string[];
    let routes: readonly Route[];
    beforeAll(async () => {
      const r = make();
      calls = r.calls;
      routes = r.plugin.routes;
      built = await buildService({ ...base, role, group: r.group }, [r.plugin]);
    });
    afterAll(() => built.close());

    it('each refused with its code, exit_code and status; the step never called', async () => {
      for (const b of bad()) {
        const r = await inject(built.apps, b);
        const body = JSON.parse(r.body);
        const got = b.nut ? { status: r.statusCode, code: String(body.detail).split(':')[0], nut: body.code } : { status: r.statusCode, code: body.code, exit: body.exit_code, type: body.type };
        const want = b.nut ? { status: b.status, code: b.code, nut: 0 } : { status: b.status, code: b.code, exit: b.exit, type: `${(make().group)}/error` };
        expect(got, `${b.method} ${b.url}: ${b.what}: ${r.body}`).toEqual(want);
      }
      expect(calls).toEqual([]);
    });

    it('every route with a schema has a case', () => {
      const matches = (r: Route, b: Bad) => r.method === b.method && new RegExp(`^${r.path.replace(/:[a-z]+/g, '[^/]+')}$`).test(b.url.split('?')[0]!);
      const uncovered = routes.filter((r) => r.schema && !ANY_STRING.has(`${r.method} ${r.path}`) && !bad().some((b) => matches(r, b)));
      expect(uncovered.map((r) => `${r.method} ${r.path}`)).toEqual([]);
    });
  });
}

const mint = () => {
  const rec = recorder();
  const m = {
    network: 'regtest',
    ctx: { ecash: undefined },
    store: {},
    batch: { submitDecoded: rec.step('submitDecoded'), read: rec.step('read') },
    exit: rec.step('exit'),
  } as unknown as MintServe;
  return { plugin: mintPlugin(m), calls: rec.calls, group: 'credit', rec };
};

refusesBeforeTheStep('mint', mint, () => [
  ...badMessages('/v1/credit/open', 'credit/open-request.json', 'credit/update-request'),
  ...badMessages('/v1/credit/update', 'credit/update-request.json', 'credit/abandon'),
  ...badMessages('/v1/credit/abandon', 'credit/abandon.json', 'credit/update-request'),
  ...badMessages('/v1/credit/close', 'credit/close-request.json', 'credit/update-request'),
  ...badMessages('/v1/credit/rollover', 'credit/rollover-request.json', 'credit/rollover-sign'),
  ...badMessages('/v1/credit/rollover/sign', 'credit/rollover-sign.json', 'credit/rollover-request'),
  { what: 'outputs not an array', method: 'POST', url: '/v1/restore', body: { outputs: 'all' }, status: 400, code: 'E_MALFORMED_MESSAGE', nut: true },
  { what: 'another message', method: 'POST', url: '/v1/restore', body: { type: 'credit/update-request', outputs: [] }, status: 400, code: 'E_WRONG_MESSAGE', nut: true },
  { what: 'expiring-within not a number', method: 'GET', url: '/v1/operator/contracts?expiring-within=soon', listener: 'operator', status: 400, code: 'E_USAGE', exit: 2 },
  { what: 'a misspelt switch', method: 'POST', url: '/v1/operator/exit', listener: 'operator', body: { fee_rate: '2', 'dry-run': true }, status: 400, code: 'E_MALFORMED_REQUEST', exit: 3 },
  { what: 'no fee_rate', method: 'POST', url: '/v1/operator/exit', listener: 'operator', body: { dry_run: true }, status: 400, code: 'E_MALFORMED_REQUEST', exit: 3 },
  { what: 'fee_rate a number', method: 'POST', url: '/v1/operator/exit', listener: 'operator', body: { fee_rate: 5 }, status: 400, code: 'E_MALFORMED_REQUEST', exit: 3 },
  { what: 'a contract id in capitals', method: 'POST', url: '/v1/operator/exit', listener: 'operator', body: { fee_rate: '2', contract_id: 'AB'.repeat(32) }, status: 400, code: 'E_MALFORMED_REQUEST', exit: 3 },
  { what: 'broadcast and dry_run', method: 'POST', url: '/v1/operator/exit', listener: 'operator', body: { fee_rate: '2', broadcast: true, dry_run: true }, status: 400, code: 'E_MALFORMED_REQUEST', exit: 3 },
  { what: 'an operator route on the public listener', method: 'POST', url: '/v1/operator/exit', body: { fee_rate: '2' }, status: 404, code: 'E_NO_SUCH_ENDPOINT', exit: 2 },
]);

const gateway = () => {
  const rec = recorder();
  const s: GatewaySteps = {
    network: 'regtest', terms: rec.step('terms') as never, pay: rec.step('pay') as never, complete: rec.step('complete') as never,
    payment: rec.step('payment') as never, settle: rec.step('settle') as never, fail: rec.step('fail') as never, claim: rec.step('claim') as never,
  };
  return { plugin: gatewayPlugin(s), calls: rec.calls, group: 'gateway', rec };
};

refusesBeforeTheStep('gateway', gateway, () => [
  ...badMessages('/v1/gateway/pay', 'device/pay.json', 'device/settle'),
  ...badMessages('/v1/gateway/complete', 'device/device-settle.json', 'device/pay'),
  { what: 'a hash of 3 letters', method: 'GET', url: '/v1/operator/payments/xyz', listener: 'operator', status: 400, code: 'E_MALFORMED_REQUEST', exit: 3 },
  { what: 'a short preimage', method: 'POST', url: '/v1/operator/settle', listener: 'operator', body: { preimage: 'ab' }, status: 400, code: 'E_MALFORMED_REQUEST', exit: 3 },
  { what: 'no payment_hash', method: 'POST', url: '/v1/operator/fail', listener: 'operator', body: {}, status: 400, code: 'E_MALFORMED_REQUEST', exit: 3 },
  { what: 'a field it does not take', method: 'POST', url: '/v1/operator/claim', listener: 'operator', body: { fee_rate: '2', force: true }, status: 400, code: 'E_MALFORMED_REQUEST', exit: 3 },
]);

const statechain = () => {
  const rec = recorder();
  const s: StatechainService = { network: 'regtest', answer: rec.step('answer') as never, info: rec.step('info') as never, coins: rec.step('coins') as never };
  return { plugin: statechainPlugin(s), calls: rec.calls, group: 'statechain', rec };
};

refusesBeforeTheStep('statechain', statechain, () => [
  ...badMessages('/v1/statechain/deposit', 'statechain/deposit-request.json', 'statechain/deposit-backup'),
  ...badMessages('/v1/statechain/deposit/backup', 'statechain/deposit-backup.json', 'statechain/deposit-request'),
  ...badMessages('/v1/statechain/transfer/sign', 'statechain/transfer-sign.json', 'statechain/transfer-accept'),
  ...badMessages('/v1/statechain/transfer/accept', 'statechain/transfer-accept.json', 'statechain/transfer-sign'),
  ...badMessages('/v1/statechain/withdraw', 'statechain/withdraw-request.json', 'statechain/transfer-accept'),
]);

/** The service built (not listening) with a role's plugin, `fn` run on it, then closed. */
async function builtWith<R extends { plugin: RoutePlugin; group: string }>(r: R, fn: (apps: BuiltService['apps'], r: R) => Promise<void>): Promise<void> {
  const built = await buildService({ ...base, group: r.group }, [r.plugin]);
  try {
    await fn(built.apps, r);
  } finally {
    await built.close();
  }
}

const postJson = (url: string, body: unknown) => ({ method: 'POST' as const, url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });

describe('a valid request reaches its step as sent, and its answer leaves as the one-shot prints it', () => {
  it('mint: each credit message to its route is submitted as that route\'s type; the answer in canonical JSON', async () => {
    await builtWith(mint(), async (apps, m) => {
      const req = message('credit/update-request.json');
      const r = await apps.public.inject(postJson('/v1/credit/update', req));
      expect(r.statusCode, r.body).toBe(200);
      expect(r.body).toBe('{\n  "type": "test/answer",\n  "version": 1,\n  "network": "regtest",\n  "step": "submitDecoded"\n}\n');
      expect(m.rec.last.get('submitDecoded')).toEqual([req, 'credit/update-request']);
    });
  });

  it('gateway: an operator claim\'s body becomes gateway claim\'s flags', async () => {
    await builtWith(gateway(), async (apps, g) => {
      const id = 'ab'.repeat(32);
      const r = await apps.operator!.inject(postJson('/v1/operator/claim', { contract_id: id, fee_rate: '3', dry_run: true }));
      expect(r.statusCode, r.body).toBe(200);
      expect(g.rec.last.get('claim')).toEqual([{ contract: id, feeRate: '3', broadcast: false, dryRun: true }]);
      const hash = 'AB'.repeat(32);
      await apps.operator!.inject({ method: 'GET', url: `/v1/operator/payments/${hash}` });
      expect(g.rec.last.get('payment')).toEqual([hash.toLowerCase()]);
    });
  });

  it('statechain: a deposit-request reaches the operator\'s row for its type', async () => {
    await builtWith(statechain(), async (apps, s) => {
      const req = message('statechain/deposit-request.json');
      const r = await apps.public.inject(postJson('/v1/statechain/deposit', req));
      expect(r.statusCode, r.body).toBe(200);
      expect(s.rec.last.get('answer')).toEqual(['statechain/deposit-request', req]);
    });
  });
});

describe('GET /v1/info: on the operator listener only, never failing for the node', () => {
  const tip = { height: 812, medianTimePast: 1, hash: 'cd'.repeat(32) };
  const chains: [string, Partial<ChainSource>, Record<string, unknown>][] = [
    ['a node that answers', { kind: 'rpc', tip: async () => tip }, { source: 'rpc', height: 812, hash: 'cd'.repeat(32) }],
    ['a node that refuses', { kind: 'rpc', tip: async () => { throw new OffchainError('E_RPC_UNREACHABLE', 'connect ECONNREFUSED 127.0.0.1:1'); } }, { source: 'rpc', error: 'E_RPC_UNREACHABLE: connect ECONNREFUSED 127.0.0.1:1' }],
    ['a node that never answers', { kind: 'rpc', tip: () => new Promise(() => {}) }, { source: 'rpc', error: 'E_RPC_UNREACHABLE: the node did not answer within 2000 ms' }],
    ['--tip-height', { kind: 'offline', tip: async () => ({ height: 1001, medianTimePast: 0 }) }, { source: 'offline', height: 1001 }],
  ];
  for (const [what, chain, want] of chains) {
    it(`${what}: the status answered, in the schema of schemas/serve.info.json`, async () => {
      const watcher = { state: { reorgs: 0, failedRounds: 2, last: { tip: { height: 811, hash: 'ef'.repeat(32) } } as never, lastAt: '2026-01-01T00:00:00.000Z' }, running: () => true };
      const built = await buildService({ ...base, role: 'mint' }, [mint().plugin], {
        info: infoHook({ version: '9.9.9', store: { kind: 'postgres', url: 'postgres://mint@db:5432/mint' }, chain: chain as ChainSource, watcher }),
      });
      try {
        expect((await built.apps.public.inject({ method: 'GET', url: '/v1/info' })).statusCode).toBe(404);
        const r = await built.apps.operator!.inject({ method: 'GET', url: '/v1/info' });
        expect(r.statusCode, r.body).toBe(200);
        const info = decodeMessage(ServeInfoSchema, JSON.parse(r.body));
        expect(info).toEqual({
          type: 'serve/info', version: 1, network: 'regtest', role: 'mint', offchain_version: '9.9.9',
          store: { kind: 'postgres', url: 'postgres://mint@db:5432/mint' }, chain: want, secp256k1: expect.any(String),
          watcher: { running: true, tip: { height: 811, hash: 'ef'.repeat(32) }, at: '2026-01-01T00:00:00.000Z', failed_rounds: 2 },
          uptime_s: 0, listening: { public: 'closed', operator: 'closed' },
        });
      } finally {
        await built.close();
      }
    }, 10_000);
  }
});
