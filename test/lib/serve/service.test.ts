/**
 * The shell every `serve` command shares (src/topics/serve/service.ts), on real HTTP over
 * 127.0.0.1 with routes of the test's own: what a client gets for an answer, each kind of
 * refusal, the limits, the listeners, metrics, the rate limit and the drain. The expected
 * bodies are written here by hand (the documented shape, docs/serve.md), never produced by
 * the service's own serializer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Answer, startService, type Route, type RunningService, type ServeOptions } from '../../../src/topics/serve/service.ts';
import { httpStatus } from '../../../src/topics/serve/refusal.ts';
import { parseListen, serveOptions } from '../../../src/topics/serve/flags.ts';
import { ServiceMetrics } from '../../../src/topics/serve/metrics.ts';
import { MalformedInputError, OffchainError, RefusedError, StateConflictError, UsageError } from '../../../src/lib/errors.ts';

const base: ServeOptions = {
  role: 'test', group: 'credit', network: 'regtest', listen: { host: '127.0.0.1', port: 0 }, operatorListen: { host: '127.0.0.1', port: 0 },
  bodyLimit: 2048, requestTimeoutMs: 5000, stepTimeoutMs: 2000, rateLimit: undefined, drainTimeoutMs: 5000, logLevel: 'silent',
  maxConnections: 0, maxConnectionsPerAddress: 0, maxBodyBytes: 1 << 20,
};

const post = (body: string, type = 'application/json'): RequestInit => ({ method: 'POST', headers: { 'content-type': type }, body });

/** The refusal body docs/serve.md documents, written out by hand. */
function refusalText(code: string, exit: number, message: string): string {
  return `{\n  "type": "credit/error",\n  "version": 1,\n  "network": "regtest",\n  "code": "${code}",\n  "exit_code": ${exit},\n  "message": ${JSON.stringify(message)}\n}\n`;
}

describe('answers and refusals', () => {
  let svc: RunningService;
  const done: string[] = [];
  const routes: Route[] = [
    { method: 'POST', path: '/v1/echo', step: 'echo', listener: 'public', in: 'x', out: 'x', handle: async (r) => ({ type: 'test/echo', got: r.body, big: 10n }) },
    { method: 'POST', path: '/v1/big', step: 'big', listener: 'public', in: 'x', out: 'x', bodyLimit: 8192, handle: async (r) => ({ length: JSON.stringify(r.body).length }) },
    { method: 'POST', path: '/v1/throw/:kind', step: 'throw', listener: 'public', in: 'x', out: 'x', handle: async (r) => {
      const kinds: Record<string, Error> = {
        usage: new UsageError('E_USAGE', 'bad flag'), malformed: new MalformedInputError('E_MALFORMED_MESSAGE', 'bad field'),
        refused: new RefusedError('E_BAD_SIGNATURE', 'no'), state: new StateConflictError('E_NONCE_USED', 'used'),
        busy: new OffchainError('E_STORE_BUSY', 'busy'), internal: new Error('boom\n    at secret stack line'),
      };
      throw kinds[r.params.kind!]!;
    } },
    { method: 'GET', path: '/v1/slow', step: 'slow', listener: 'public', in: '—', out: 'x', handle: () => new Promise((res) => setTimeout(() => { done.push('slow'); res({ ok: 1 }); }, 2600)) },
    { method: 'GET', path: '/v1/nut', step: 'nut', listener: 'public', in: '—', out: 'x', errors: 'nut', handle: async () => { throw new RefusedError('E_UNKNOWN_KEYSET', 'no such keyset', { nut_code: 12001 }); } },
    { method: 'GET', path: '/v1/operator/thing', step: 'thing', listener: 'operator', in: '—', out: 'x', handle: async () => new Answer(202, { op: true }, { 'x-extra': 'yes' }) },
  ];
  beforeAll(async () => {
    svc = await startService(base, routes, { gauges: [{ name: 'offchain_test_things', help: 'things', read: async () => 7 }] });
  });
  afterAll(async () => {
    await svc.stop();
  });

  it('answers the message as the one-shot prints it: canonical two-space JSON, a newline, bigints as numbers', async () => {
    const r = await fetch(`${svc.urls.public}/v1/echo`, post('{"a":\n  [1, "x"]}'));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    // The canonical order of every message: type first, then the fields by name.
    expect(await r.text()).toBe('{\n  "type": "test/echo",\n  "big": 10,\n  "got": {\n    "a": [\n      1,\n      "x"\n    ]\n  }\n}\n');
  });

  it('reads the body with our JSON reader: the line and column of the one-shot, not the framework\'s words', async () => {
    const r = await fetch(`${svc.urls.public}/v1/echo`, post('{"a":\n 1'));
    expect(r.status).toBe(400);
    const body = await r.json() as Record<string, unknown>;
    expect(body).toMatchObject({ type: 'credit/error', code: 'E_MALFORMED_JSON', exit_code: 3 });
    expect(body.message).toMatch(/^the request body is not valid JSON at line 2, column 3: /);
    const empty = await fetch(`${svc.urls.public}/v1/echo`, post(''));
    expect(empty.status).toBe(400);
    expect(await empty.text()).toBe(refusalText('E_EMPTY_INPUT', 3, 'the request body is empty: send one JSON message'));
  });

  it('refuses another content type (415), a body over the limit (413) and an unknown endpoint (404)', async () => {
    const plain = await fetch(`${svc.urls.public}/v1/echo`, post('{}', 'text/plain'));
    expect([plain.status, await plain.text()]).toEqual([415, refusalText('E_CONTENT_TYPE', 2, 'send the message as Content-Type: application/json')]);
    const big = await fetch(`${svc.urls.public}/v1/echo`, post(`{"a":"${'x'.repeat(3000)}"}`));
    expect([big.status, (await big.json() as { code: string }).code]).toEqual([413, 'E_INPUT_TOO_LARGE']);
    // A route with a larger limit of its own (restore's) takes it, and no more.
    expect((await fetch(`${svc.urls.public}/v1/big`, post(`{"a":"${'x'.repeat(3000)}"}`))).status).toBe(200);
    expect((await fetch(`${svc.urls.public}/v1/big`, post(`{"a":"${'x'.repeat(9000)}"}`))).status).toBe(413);
    const none = await fetch(`${svc.urls.public}/v1/nothing?q=secret`);
    expect(none.status).toBe(404);
    expect(await none.text()).toBe(refusalText('E_NO_SUCH_ENDPOINT', 2, 'no GET /v1/nothing on this listener (docs/serve.md lists the endpoints)'));
  });

  it('refuses a path the router cannot read — a bad %-escape, a part over 100 characters — in the documented shape, counted, the path not echoed', async () => {
    // fastify answers these before any route: its own uncoded body, unlogged and uncounted, the path echoed whole.
    const cases: [string, string][] = [
      ['/v1/throw/%zz', 'the path has a %-escape that is not one (%XX, hexadecimal digits)'],
      [`/v1/throw/${'a'.repeat(150)}`, 'the path has a part longer than 100 characters'],
    ];
    for (const [path, message] of cases) {
      const r = await fetch(`${svc.urls.public}${path}`, post('{}'));
      expect([path.slice(0, 20), r.status, r.headers.get('x-request-id')?.length, await r.text()]).toEqual([path.slice(0, 20), 400, 36, refusalText('E_MALFORMED_REQUEST', 3, message)]);
    }
    const text = await (await fetch(`${svc.urls.operator}/metrics`)).text();
    expect(text).toMatch(/^offchain_refusals_total\{role="test",code="E_MALFORMED_REQUEST"\} 2$/m);
  });

  it('maps each exit class to its status: 2 and 3 → 400, 4 → 422, 5 → 409, busy → 503 with Retry-After, anything else → 500 without its stack', async () => {
    const expected: Record<string, [number, string, number]> = {
      usage: [400, 'E_USAGE', 2], malformed: [400, 'E_MALFORMED_MESSAGE', 3], refused: [422, 'E_BAD_SIGNATURE', 4],
      state: [409, 'E_NONCE_USED', 5], busy: [503, 'E_STORE_BUSY', 1], internal: [500, 'E_INTERNAL', 1],
    };
    for (const [kind, [status, code, exit]] of Object.entries(expected)) {
      const r = await fetch(`${svc.urls.public}/v1/throw/${kind}`, post('{}'));
      const text = await r.text();
      expect([kind, r.status, JSON.parse(text).code, JSON.parse(text).exit_code]).toEqual([kind, status, code, exit]);
      expect(r.headers.get('retry-after')).toBe(status === 503 ? '1' : null);
      expect(text).not.toMatch(/secret stack|\bat /);
    }
    expect([httpStatus('E_RATE_LIMITED', 1), httpStatus('E_STEP_TIMEOUT', 1), httpStatus('E_X', 7)]).toEqual([429, 503, 500]);
  });

  it('answers a NUT endpoint\'s refusal in NUT-00\'s shape', async () => {
    const r = await fetch(`${svc.urls.public}/v1/nut`);
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({ detail: 'E_UNKNOWN_KEYSET: no such keyset', code: 12001 });
  });

  it('keeps operator routes and metrics off the public listener', async () => {
    expect((await fetch(`${svc.urls.public}/v1/operator/thing`)).status).toBe(404);
    expect((await fetch(`${svc.urls.public}/metrics`)).status).toBe(404);
    const op = await fetch(`${svc.urls.operator}/v1/operator/thing`);
    expect([op.status, op.headers.get('x-extra'), await op.json()]).toEqual([202, 'yes', { op: true }]);
    expect((await fetch(`${svc.urls.operator}/v1/echo`, post('{}'))).status).toBe(404);
    for (const url of [svc.urls.public, svc.urls.operator!]) expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
  });

  it('answers 503 E_STEP_TIMEOUT when a step is late, and the step still finishes', async () => {
    const r = await fetch(`${svc.urls.public}/v1/slow`);
    expect([r.status, r.headers.get('retry-after'), (await r.json() as { code: string }).code]).toEqual([503, '1', 'E_STEP_TIMEOUT']);
    expect(done).toEqual([]);
    await new Promise((res) => setTimeout(res, 800));
    expect(done).toEqual(['slow']);
  });

  it('counts steps by outcome and refusals by code, with the role\'s gauges, and no request value in a label', async () => {
    const text = await (await fetch(`${svc.urls.operator}/metrics`)).text();
    expect(text).toMatch(/^offchain_steps_total\{role="test",step="echo",outcome="answered"\} [1-9]/m);
    expect(text).toMatch(/^offchain_steps_total\{role="test",step="throw",outcome="refused"\} [1-9]/m);
    expect(text).toMatch(/^offchain_refusals_total\{role="test",code="E_BAD_SIGNATURE"\} 1$/m);
    expect(text).toMatch(/^offchain_refusals_total\{role="test",code="E_NO_SUCH_ENDPOINT"\} [1-9]/m);
    expect(text).toMatch(/^offchain_test_things\{role="test"\} 7$/m);
    expect(text).toMatch(/^offchain_step_seconds_bucket\{le="0.005",role="test",step="echo"\} /m);
    expect(text).not.toMatch(/secret|nothing/);
  });
});

describe('the steps\' metrics (ServiceMetrics)', () => {
  it('counts each step once by outcome, however often scraped, and the steps in flight as they are now', async () => {
    const m = new ServiceMetrics('test', []);
    await m.ready();
    const line = (text: string, name: string) => new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm').exec(text)?.[1];
    for (const outcome of ['answered', 'answered', 'refused'] as const) m.start('pay')(outcome);
    const open = m.start('pay');
    for (const scrape of [1, 2]) {
      const text = await m.text();
      expect([scrape, line(text, 'offchain_steps_total{role="test",step="pay",outcome="answered"}'), line(text, 'offchain_steps_total{role="test",step="pay",outcome="refused"}'), line(text, 'offchain_http_inflight{role="test"}')]).toEqual([scrape, '2', '1', '1']);
    }
    open('failed');
    const text = await m.text();
    expect([line(text, 'offchain_steps_total{role="test",step="pay",outcome="failed"}'), line(text, 'offchain_http_inflight{role="test"}'), line(text, 'offchain_step_seconds_count{role="test",step="pay"}')]).toEqual(['1', '0', '4']);
  });
});

describe('limits per client', () => {
  it('rate-limits each client address (429 with Retry-After), believing X-Forwarded-For only from a trusted proxy; /healthz is never limited', async () => {
    const plain = await startService({ ...base, operatorListen: undefined, rateLimit: { max: 3, windowMs: 60_000 } }, [
      { method: 'GET', path: '/v1/x', step: 'x', listener: 'public', in: '—', out: 'x', handle: async () => ({ ok: true }) },
    ]);
    const trusted = await startService({ ...base, operatorListen: undefined, rateLimit: { max: 3, windowMs: 60_000 }, trustProxy: ['127.0.0.1'] }, [
      { method: 'GET', path: '/v1/x', step: 'x', listener: 'public', in: '—', out: 'x', handle: async () => ({ ok: true }) },
    ]);
    try {
      const get = (svc: RunningService, from: string) => fetch(`${svc.urls.public}/v1/x`, { headers: { 'x-forwarded-for': from } });
      const statuses = async (svc: RunningService, from: string, n: number) => {
        const out: number[] = [];
        for (let i = 0; i < n; i++) out.push((await get(svc, from)).status);
        return out;
      };
      // Untrusted: the header is ignored, so "another client" is the same address.
      expect(await statuses(plain, '10.0.0.1', 3)).toEqual([200, 200, 200]);
      const limited = await get(plain, '10.0.0.2');
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await limited.json()).toMatchObject({ code: 'E_RATE_LIMITED', exit_code: 1 });
      expect((await fetch(`${plain.urls.public}/healthz`)).status).toBe(200);
      // Trusted: each forwarded client has its own count.
      expect(await statuses(trusted, '10.0.0.1', 4)).toEqual([200, 200, 200, 429]);
      expect(await statuses(trusted, '10.0.0.2', 1)).toEqual([200]);
    } finally {
      await Promise.all([plain.stop(), trusted.stop()]);
    }
  });
});

describe('drain', () => {
  it('finishes the request in flight, refuses new connections, then runs the role\'s drain and exits 0', async () => {
    const events: string[] = [];
    const svc = await startService(base, [
      { method: 'GET', path: '/v1/slow', step: 'slow', listener: 'public', in: '—', out: 'x', handle: () => new Promise((res) => setTimeout(() => { events.push('step'); res({ ok: 1 }); }, 400)) },
    ], { drain: async () => { events.push('drain'); } });
    const inflight = fetch(`${svc.urls.public}/v1/slow`);
    await new Promise((res) => setTimeout(res, 100));
    expect(svc.inflight()).toBe(1);
    const stopping = svc.stop();
    const r = await inflight;
    expect([r.status, await r.json(), r.headers.get('connection')]).toEqual([200, { ok: 1 }, 'close']);
    await expect(fetch(`${svc.urls.public}/healthz`)).rejects.toThrow();
    expect(await stopping).toBe(0);
    expect(await svc.done).toBe(0);
    expect(events).toEqual(['step', 'drain']);
  });

  it('exits 1 when the drain outlasts --drain-timeout', async () => {
    const svc = await startService({ ...base, drainTimeoutMs: 200 }, [
      { method: 'GET', path: '/v1/slow', step: 'slow', listener: 'public', in: '—', out: 'x', handle: () => new Promise((res) => setTimeout(() => res({ ok: 1 }), 1500)) },
    ]);
    const inflight = fetch(`${svc.urls.public}/v1/slow`).catch(() => undefined);
    await new Promise((res) => setTimeout(res, 100));
    expect(await svc.stop()).toBe(1);
    await inflight;
  });
});

describe('flags', () => {
  const f = { 'body-limit': 65536, 'request-timeout': 10, 'step-timeout': 30, 'rate-limit': 600, 'rate-window': 60, 'drain-timeout': 30, 'log-level': 'info', 'max-connections': 512, 'max-connections-per-address': 16, 'max-body-bytes': 1 << 25 };
  it('listens on loopback unless told, and the operator\'s listener only on loopback or a socket', () => {
    expect(serveOptions(f, 8338).listen).toEqual({ host: '127.0.0.1', port: 8338 });
    expect(serveOptions({ ...f, listen: '[::1]:0' }, 8338).listen).toEqual({ host: '::1', port: 0 });
    expect(serveOptions({ ...f, 'operator-listen': 'unix:/tmp/op.sock' }, 1).operatorListen).toEqual({ path: '/tmp/op.sock' });
    // A host NAME that begins "127." is a name: it binds wherever it resolves, loopback or not.
    for (const bad of ['0.0.0.0:9000', '10.1.2.3:9000', 'example.com:9000', '127.db.example:9000', '127.0.0.1.nip.io:9000', '127.1:9000']) {
      expect(() => serveOptions({ ...f, 'operator-listen': bad }, 1)).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    }
    for (const bad of ['127.0.0.1', ':80', '127.0.0.1:70000', 'unix:/x']) expect(() => parseListen(bad, '--listen', false)).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    expect(() => serveOptions({ ...f, 'trust-proxy': '10.0.0.0/8,nonsense' }, 1)).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    expect(serveOptions({ ...f, 'rate-limit': 0 }, 1).rateLimit).toBeUndefined();
  });
});
