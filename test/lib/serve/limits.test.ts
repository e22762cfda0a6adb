/**
 * What a service holds for its clients, bounded (src/topics/serve/limits.ts, docs/serve.md
 * "Limits"), on real sockets where the socket is the point — a body trickled a byte at a time,
 * connections from several loopback addresses (127.0.0.2…), bodies held at once — and through
 * inject() where it is not: whose X-Request-Id is believed, a name twice in one body.
 */
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { startService, type Route, type RunningService, type ServeOptions } from '../../../src/topics/serve/service.ts';
import { BodyBudget, clientOf } from '../../../src/topics/serve/limits.ts';

const base: ServeOptions = {
  role: 'test', group: 'credit', network: 'regtest', listen: { host: '127.0.0.1', port: 0 },
  bodyLimit: 64 * 1024, requestTimeoutMs: 5000, stepTimeoutMs: 2000, rateLimit: undefined, drainTimeoutMs: 2000, logLevel: 'silent',
  maxConnections: 0, maxConnectionsPerAddress: 0, maxBodyBytes: 1 << 20,
};

const routes: Route[] = [
  { method: 'POST', path: '/v1/echo', step: 'echo', listener: 'public', in: 'x', out: 'x', handle: async (r) => ({ type: 'test/echo', got: r.body }) },
  { method: 'GET', path: '/v1/x', step: 'x', listener: 'public', in: '—', out: 'x', handle: async () => ({ ok: true }) },
];

let running: RunningService[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

async function serve(opts: Partial<ServeOptions>): Promise<{ svc: RunningService; port: number }> {
  const svc = await startService({ ...base, ...opts }, routes);
  running.push(svc);
  return { svc, port: Number(new URL(svc.urls.public).port) };
}

/** A raw connection from `from` (a loopback address): what it receives, and when it closed (ms after it opened). */
type Raw = { socket: Socket; text: () => string; closed: Promise<number>; open: Promise<boolean> };
function raw(port: number, from = '127.0.0.1'): Raw {
  const t0 = Date.now();
  const socket = connect({ port, host: '127.0.0.1', localAddress: from });
  sockets.push(socket);
  let text = '';
  socket.setEncoding('utf8').on('data', (d: string) => (text += d));
  socket.on('error', () => undefined);
  const closed = new Promise<number>((res) => socket.on('close', () => res(Date.now() - t0)));
  // Open: the server did not close it within 150 ms of the connect (a refused one is closed at once).
  const open = new Promise<boolean>((res) => socket.on('connect', () => {
    const t = setTimeout(() => res(true), 150);
    void closed.then(() => {
      clearTimeout(t);
      res(false);
    });
  }));
  return { socket, text: () => text, closed, open };
}

const head = (length: number) => `POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

describe('a whole-request deadline', () => {
  it('ends a body trickled a byte every 200 ms at --request-timeout with 408 (was: held until Node\'s headersTimeout, 60 s and more)', async () => {
    const { port } = await serve({ requestTimeoutMs: 1500 });
    const c = raw(port);
    c.socket.write(head(1000));
    const drip = setInterval(() => c.socket.write(' '), 200);
    const closedAfter = await c.closed;
    clearInterval(drip);
    expect(c.text()).toMatch(/^HTTP\/1\.1 408 /);
    expect(closedAfter).toBeGreaterThanOrEqual(1500);
    expect(closedAfter).toBeLessThan(3500);
  });

  it('ends headers trickled a byte at a time at the same deadline', async () => {
    const { port } = await serve({ requestTimeoutMs: 1500 });
    const c = raw(port);
    c.socket.write('GET /v1/x HTTP/1.1\r\nX-A: ');
    const drip = setInterval(() => c.socket.write('a'), 200);
    const closedAfter = await c.closed;
    clearInterval(drip);
    expect(closedAfter).toBeLessThan(3500);
  });

  it('does not cut a request that arrives whole and a step that takes longer than the deadline', async () => {
    const slow: Route = { method: 'GET', path: '/v1/slow', step: 'slow', listener: 'public', in: '—', out: 'x', handle: () => new Promise((res) => setTimeout(() => res({ ok: 1 }), 1800)) };
    const svc = await startService({ ...base, requestTimeoutMs: 1000, stepTimeoutMs: 3000 }, [slow]);
    running.push(svc);
    const r = await fetch(`${svc.urls.public}/v1/slow`);
    expect([r.status, await r.json()]).toEqual([200, { ok: 1 }]);
  });
});

describe('caps on connections', () => {
  it('per client address: the cap\'s next connection is closed at once, other addresses are not, and a closed one frees its place', async () => {
    const { svc, port } = await serve({ maxConnectionsPerAddress: 3 });
    const a = [raw(port, '127.0.0.2'), raw(port, '127.0.0.2'), raw(port, '127.0.0.2')];
    expect(await Promise.all(a.map((c) => c.open))).toEqual([true, true, true]);
    const fourth = raw(port, '127.0.0.2');
    expect(await fourth.open).toBe(false);
    expect(fourth.text()).toBe('');
    const other = raw(port, '127.0.0.3');
    expect(await other.open).toBe(true);
    other.socket.write('GET /v1/x HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((res) => setTimeout(res, 200));
    expect(other.text()).toMatch(/^HTTP\/1\.1 200 /);
    a[0]!.socket.destroy();
    await a[0]!.closed;
    await new Promise((res) => setTimeout(res, 50));
    expect(await raw(port, '127.0.0.2').open).toBe(true);
    const metrics = await svc.apps.public.inject({ method: 'GET', url: '/healthz' });
    expect(metrics.statusCode).toBe(200);
  });

  it('does not count a --trust-proxy peer\'s connections against the per-address cap', async () => {
    const { port } = await serve({ maxConnectionsPerAddress: 2, trustProxy: ['127.0.0.4'] });
    const proxied = [raw(port, '127.0.0.4'), raw(port, '127.0.0.4'), raw(port, '127.0.0.4'), raw(port, '127.0.0.4')];
    expect(await Promise.all(proxied.map((c) => c.open))).toEqual([true, true, true, true]);
  });

  it('in all (--max-connections): the next one is closed, whatever its address, and counted as E_TOO_MANY_CONNECTIONS', async () => {
    const { svc, port } = await serve({ maxConnections: 3, operatorListen: { host: '127.0.0.1', port: 0 } });
    const first = [raw(port, '127.0.0.2'), raw(port, '127.0.0.3'), raw(port, '127.0.0.5')];
    expect(await Promise.all(first.map((c) => c.open))).toEqual([true, true, true]);
    expect(await raw(port, '127.0.0.6').open).toBe(false);
    const text = await (await fetch(`${svc.urls.operator}/metrics`)).text();
    expect(text).toMatch(/^offchain_refusals_total\{role="test",code="E_TOO_MANY_CONNECTIONS"\} 1$/m);
    expect(text).toMatch(/^offchain_http_connections\{role="test"\} 3$/m);
  });

  it('keys an IPv6 client by its /64, an IPv4-mapped one by its IPv4 address', () => {
    expect(clientOf('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:db8:1:2::9')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientOf('2001:0db8:0001:0002:ffff::1')).toBe('2001:db8:1:2::/64');
    expect(clientOf('1::2:3:4:5.6.7.8')).toBe('1:0:0:2::/64');
    expect(clientOf('::1')).toBe('0:0:0:0::/64');
    expect(clientOf('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(clientOf('10.1.2.3')).toBe('10.1.2.3');
  });
});

describe('the bytes of bodies in flight', () => {
  it('answers 503 E_SERVICE_BUSY with Retry-After to the body that would pass --max-body-bytes, serves the others, and gives the bytes back when each answer left', async () => {
    const { svc, port } = await serve({ maxBodyBytes: 300_000, bodyLimit: 256 * 1024, operatorListen: { host: '127.0.0.1', port: 0 } });
    const held = async () => Number(/^offchain_http_body_bytes_held\{role="test"\} (\d+)$/m.exec(await (await fetch(`${svc.urls.operator}/metrics`)).text())?.[1]);
    const body = (n: number) => `{"a":"${'x'.repeat(n - 8)}"}`;
    // Two slow senders, 200 KB each declared: 150 KB of the first arrive, then 160 KB of the second (310 KB > 300 KB).
    const one = raw(port, '127.0.0.2');
    one.socket.write(head(200_000) + body(200_000).slice(0, 150_000));
    await new Promise((res) => setTimeout(res, 200));
    expect(await held()).toBe(150_000);
    const two = raw(port, '127.0.0.3');
    two.socket.write(head(200_000) + body(200_000).slice(0, 160_000));
    const refusedAfter = await two.closed.then(() => two.text()).catch(() => two.text());
    expect(refusedAfter).toMatch(/^HTTP\/1\.1 503 /);
    expect(refusedAfter).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(refusedAfter).toContain('"code": "E_SERVICE_BUSY"');
    expect(await held()).toBe(150_000);
    // A small honest request still fits.
    const small = await fetch(`${svc.urls.public}/v1/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(small.status).toBe(200);
    // The first finishes; its answer leaves and its bytes are given back.
    one.socket.write(body(200_000).slice(150_000));
    await new Promise((res) => setTimeout(res, 300));
    expect(one.text()).toMatch(/^HTTP\/1\.1 200 /);
    one.socket.destroy();
    await one.closed;
    await new Promise((res) => setTimeout(res, 50));
    expect(await held()).toBe(0);
  });

  it('gives back the bytes of a client that went away mid-body', async () => {
    const { svc, port } = await serve({ operatorListen: { host: '127.0.0.1', port: 0 } });
    const c = raw(port);
    c.socket.write(head(60_000) + 'x'.repeat(40_000));
    await new Promise((res) => setTimeout(res, 200));
    const held = async () => Number(/^offchain_http_body_bytes_held\{role="test"\} (\d+)$/m.exec(await (await fetch(`${svc.urls.operator}/metrics`)).text())?.[1]);
    expect(await held()).toBe(40_000);
    c.socket.destroy();
    await new Promise((res) => setTimeout(res, 200));
    expect(await held()).toBe(0);
  });
});

describe('the budget of body bytes (BodyBudget), on a body alone', () => {
  const chunks = async (payload: PassThrough, ...sizes: number[]) => {
    for (const n of sizes) payload.write(Buffer.alloc(n));
    await new Promise((res) => setImmediate(res));
  };

  it('tells the reader listening on the body that it passed the budget: E_SERVICE_BUSY, 503, its bytes kept until its answer is done', async () => {
    const budget = new BodyBudget(100);
    const payload = new PassThrough();
    const res = new EventEmitter() as ServerResponse;
    budget.count(payload, res);
    const heard: unknown[] = [];
    payload.on('error', (e) => heard.push(e));
    payload.resume();
    await chunks(payload, 60, 60);
    expect(heard).toMatchObject([{ code: 'E_SERVICE_BUSY', statusCode: 503 }]);
    expect(budget.bytes).toBe(60);
    res.emit('close');
    expect(budget.bytes).toBe(0);
  });

  it('drops what passes the budget when no reader listens any more (fastify refused the body first): nothing thrown, the process serves on', async () => {
    const budget = new BodyBudget(100);
    const payload = new PassThrough();
    const res = new EventEmitter() as ServerResponse;
    budget.count(payload, res);
    payload.resume();
    await chunks(payload, 60, 60, 60);
    expect(budget.bytes).toBe(60);
    res.emit('close');
    expect(budget.bytes).toBe(0);
  });
});

describe('X-Request-Id', () => {
  const id = 'proxy-7f3a';
  it('is taken from a --trust-proxy peer only: a client connecting directly gets a fresh one, whatever it sent', async () => {
    const { svc } = await serve({ trustProxy: ['10.0.0.1'] });
    const direct = await svc.apps.public.inject({ method: 'GET', url: '/v1/x', headers: { 'x-request-id': id }, remoteAddress: '10.9.9.9' });
    expect(direct.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const big = await svc.apps.public.inject({ method: 'GET', url: '/v1/x', headers: { 'x-request-id': 'a'.repeat(3000) }, remoteAddress: '10.9.9.9' });
    expect(big.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const proxied = await svc.apps.public.inject({ method: 'GET', url: '/v1/x', headers: { 'x-request-id': id }, remoteAddress: '10.0.0.1' });
    expect(proxied.headers['x-request-id']).toBe(id);
    // Even a trusted proxy's id must be short and plain.
    const long = await svc.apps.public.inject({ method: 'GET', url: '/v1/x', headers: { 'x-request-id': 'a'.repeat(3000) }, remoteAddress: '10.0.0.1' });
    expect(long.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('is never taken without --trust-proxy', async () => {
    const { svc } = await serve({});
    const r = await svc.apps.public.inject({ method: 'GET', url: '/v1/x', headers: { 'x-request-id': id }, remoteAddress: '127.0.0.1' });
    expect(r.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('a name twice in one body', () => {
  const post = async (svc: RunningService, payload: string) => {
    const r = await svc.apps.public.inject({ method: 'POST', url: '/v1/echo', headers: { 'content-type': 'application/json' }, payload });
    return { status: r.statusCode, body: JSON.parse(r.body) as { code?: string; message?: string } };
  };
  it('is refused E_MALFORMED_JSON (400), at the top, nested, and written with an escape; the same name in two objects is not', async () => {
    const { svc } = await serve({});
    const abandonFirst = await post(svc, '{"type":"credit/abandon","contract_id":"00","type":"credit/update-request"}');
    expect(abandonFirst).toEqual({ status: 400, body: expect.objectContaining({ code: 'E_MALFORMED_JSON', message: 'the request body names "type" twice in one object, at line 1, column 45: readers disagree on which one counts, so neither does' }) });
    expect((await post(svc, '{"a":{"b":1,\n "b":2}}')).body.message).toMatch(/names "b" twice in one object, at line 2, column 2:/);
    expect((await post(svc, '{"type":1,"\\u0074ype":2}')).body.code).toBe('E_MALFORMED_JSON');
    expect((await post(svc, '{"p":{"x":1},"q":{"x":2,"y":{"x":3}}}')).status).toBe(200);
  });
});
