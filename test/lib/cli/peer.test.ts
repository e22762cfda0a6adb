/**
 * The counterpart's client (src/lib/cli/peer.ts) against a plain node:http server the test
 * scripts answer by answer: it retries — the same bytes — only where the request may not
 * have reached a step or its answer was lost, and raises a service's refusal as the
 * one-shot command's own error, without retrying it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_ANSWER_BYTES, PEER_RETRY_SECONDS, callPeer, endpoint, peerRetry, peerUrl } from '../../../src/lib/cli/peer.ts';
import { peerFlags } from '../../../src/lib/cli/flags.ts';

type Seen = { method: string; url: string; body: string; headers: IncomingMessage['headers'] };

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((res) => (server ? server.close(() => res()) : res()));
  server = undefined;
});

/** A server answering the n-th request with the n-th script entry (the last one repeats). */
async function scripted(script: Array<(res: ServerResponse) => void>): Promise<{ url: URL; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, body, headers: req.headers });
      script[Math.min(seen.length, script.length) - 1]!(res);
    });
  });
  await new Promise<void>((res) => server!.listen(0, '127.0.0.1', res));
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), seen };
}

const json = (status: number, value: unknown, headers: Record<string, string> = {}) => (res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
};
const refusal = (code: string, exit: number, message = 'no') => ({ type: 'credit/error', version: 1, network: 'regtest', code, exit_code: exit, message });
const noWait = { sleep: async () => {} };

/** A clock that moves only when the client sleeps (each wait kept), so 60 s of retries take no real time; `tick` runs at each new time. */
function fakeClock(tick: (t: number) => Promise<void> = async () => {}) {
  let t = 0;
  const waits: number[] = [];
  return {
    waits,
    now: () => t,
    sleep: async (ms: number) => {
      waits.push(ms);
      t += ms;
      await tick(t);
    },
  };
}

describe('callPeer', () => {
  it('sends the message as JSON with the contract header and returns the answer', async () => {
    const { url, seen } = await scripted([json(200, { type: 'credit/receipt', state: 3 })]);
    const body = '{\n  "type": "credit/update-request"\n}\n';
    const out = await callPeer(url, '/v1/credit/update', { body, contract: 'ab'.repeat(32) });
    expect(out).toEqual({ status: 200, value: { type: 'credit/receipt', state: 3 }, text: '{"type":"credit/receipt","state":3}' });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/v1/credit/update', body });
    expect(seen[0]!.headers['content-type']).toBe('application/json');
    expect(seen[0]!.headers['offchain-contract']).toBe('ab'.repeat(32));
  });

  it('retries the same bytes after 503 (waiting its Retry-After) and a dropped connection, then takes the answer', async () => {
    const waits: number[] = [];
    const why: string[] = [];
    const { url, seen } = await scripted([
      json(503, refusal('E_STORE_BUSY', 1), { 'retry-after': '2' }),
      (res) => res.socket!.destroy(),
      json(200, { ok: true }),
    ]);
    const out = await callPeer(url, '/v1/x', { body: '{"a":1}', sleep: async (ms) => void waits.push(ms), onRetry: (w) => why.push(w) });
    expect(out.value).toEqual({ ok: true });
    expect(seen.map((s) => s.body)).toEqual(['{"a":1}', '{"a":1}', '{"a":1}']);
    expect(waits[0]).toBe(2000);
    expect(waits[1]).toBeGreaterThanOrEqual(200);
    expect(why[0]).toBe('E_STORE_BUSY (HTTP 503)');
  });

  it('never retries a refusal: it is the one-shot\'s error, same code and exit code', async () => {
    const { url, seen } = await scripted([json(422, refusal('E_BAD_SIGNATURE', 4, 'the update is not signed\nby you'))]);
    const e = await callPeer(url, '/v1/x', { body: '{}', ...noWait }).catch((x) => x);
    expect(e).toMatchObject({ code: 'E_BAD_SIGNATURE', exitCode: 4, message: 'the update is not signed by you (the service)' });
    expect(seen).toHaveLength(1);
  });

  it('a hostile service\'s refusal saying exit_code 0 is a failure on the client: exit 1, never 0', async () => {
    for (const status of [400, 409, 422, 500]) {
      const { url } = await scripted([json(status, refusal('E_ALL_GOOD', 0, 'payment made, honest'))]);
      const e = await callPeer(url, '/v1/x', { body: '{}', ...noWait }).catch((x) => x);
      expect(e, `HTTP ${status}`).toMatchObject({ code: 'E_ALL_GOOD', exitCode: 1 });
      await new Promise<void>((res) => server!.close(() => res()));
      server = undefined;
    }
  });

  it('takes an unknown exit code as 1 and an answer that is not the service\'s as E_PEER_ANSWER', async () => {
    let s = await scripted([json(409, refusal('E_ODD', 77))]);
    expect(await callPeer(s.url, '/v1/x', { body: '{}', ...noWait }).catch((x) => x)).toMatchObject({ code: 'E_ODD', exitCode: 1 });
    await new Promise<void>((res) => server!.close(() => res()));
    s = await scripted([(res) => { res.writeHead(404, { 'content-type': 'text/html' }); res.end('<h1>nginx</h1>'); }]);
    expect(await callPeer(s.url, '/v1/x', { body: '{}', ...noWait }).catch((x) => x)).toMatchObject({ code: 'E_PEER_ANSWER', exitCode: 1 });
    await new Promise<void>((res) => server!.close(() => res()));
    s = await scripted([(res) => { res.writeHead(200); res.end('not json'); }]);
    expect(await callPeer(s.url, '/v1/x', { body: '{}', ...noWait }).catch((x) => x)).toMatchObject({ code: 'E_PEER_ANSWER' });
  });

  it('gives up with E_PEER_UNREACHABLE after its attempts when nothing listens', async () => {
    const { url } = await scripted([json(200, {})]);
    await new Promise<void>((res) => server!.close(() => res()));
    server = undefined;
    let calls = 0;
    const e = await callPeer(url, '/v1/x', { body: '{}', attempts: 3, sleep: async () => void calls++ }).catch((x) => x);
    expect(e).toMatchObject({ code: 'E_PEER_UNREACHABLE', exitCode: 1 });
    expect(e.message).toMatch(/: 3 attempts over [\d.]+ s \(--peer-timeout 60; last: ECONNREFUSED\); the same message may be sent again safely/);
    expect(calls).toBe(2);
  });

  it('nothing listening: retries for retryForMs with exponential backoff and jitter (each wait half to all of 250 ms · 2^n, at most 5 s), the last wait cut at the deadline, then the caller\'s way to resend', async () => {
    const { url } = await scripted([json(200, {})]);
    await new Promise<void>((res) => server!.close(() => res()));
    server = undefined;
    const clock = fakeClock();
    const e = await callPeer(url, '/v1/x', { body: '{}', retryForMs: 60_000, resend: 'send it again with "offchain x --resend"', ...clock }).catch((x) => x);
    expect(e).toMatchObject({ code: 'E_PEER_UNREACHABLE', exitCode: 1 });
    expect(e.message).toMatch(/: \d+ attempts over 60\.0 s \(--peer-timeout 60; last: ECONNREFUSED\); send it again with "offchain x --resend"$/);
    const waits = clock.waits;
    // Backoff of the n-th wait: 250, 500, 1000, 2000, 4000, then 5000 each.
    waits.slice(0, -1).forEach((w, n) => {
      const b = Math.min(5000, 250 * 2 ** n);
      expect(w, `wait ${n}`).toBeGreaterThanOrEqual(b / 2);
      expect(w, `wait ${n}`).toBeLessThanOrEqual(b);
    });
    // Jitter: not every 5 s wait the same.
    expect(new Set(waits.slice(5, -1)).size).toBeGreaterThan(1);
    expect(waits.reduce((a, b) => a + b, 0)).toBe(60_000);
    // At 60 s of 2.5–5 s waits after the first 7.75 s: at least 12 attempts (6 once was all).
    expect(waits.length + 1).toBeGreaterThanOrEqual(12);
  });

  it('a service restarted within retryForMs gets the same bytes and answers (the old 6 attempts gave up after ~5 s)', async () => {
    const { url, seen } = await scripted([json(200, { ok: true })]);
    const port = Number(url.port);
    await new Promise<void>((res) => server!.close(() => res()));
    const down = server!;
    server = undefined;
    const clock = fakeClock(async (t) => {
      // Back on its port 20 s (of the test's clock) later.
      if (t >= 20_000 && !server) {
        server = down;
        await new Promise<void>((res) => down.listen(port, '127.0.0.1', res));
      }
    });
    const out = await callPeer(url, '/v1/x', { body: '{"same":1}', ...clock });
    expect(out.value).toEqual({ ok: true });
    expect(seen.map((s) => s.body)).toEqual(['{"same":1}']);
    expect(clock.waits.length).toBeGreaterThan(6);
  });

  it('retryForMs 0 (--peer-timeout 0): one attempt', async () => {
    const { url, seen } = await scripted([json(503, refusal('E_DRAINING', 1))]);
    const e = await callPeer(url, '/v1/x', { body: '{}', retryForMs: 0, ...noWait }).catch((x) => x);
    expect(e).toMatchObject({ code: 'E_DRAINING', exitCode: 1 });
    expect(seen).toHaveLength(1);
  });

  it('a service that stays unavailable past retryForMs: its last code and exit code, with the caller\'s way to resend', async () => {
    const { url, seen } = await scripted([json(503, refusal('E_PAYMENT_PENDING', 5, 'payment 00 is not decided yet'), { 'retry-after': '1' })]);
    const clock = fakeClock();
    const e = await callPeer(url, '/v1/x', { body: '{}', retryForMs: 10_000, resend: 'send it again with "offchain device pay --resend"', ...clock }).catch((x) => x);
    expect(e).toMatchObject({ code: 'E_PAYMENT_PENDING', exitCode: 5, message: 'payment 00 is not decided yet (the service); send it again with "offchain device pay --resend"' });
    // Its Retry-After (1 s) each time: 10 waits, 11 attempts.
    expect(clock.waits).toEqual(Array(10).fill(1000));
    expect(seen).toHaveLength(11);
  });

  it('surfaces the last refusal when a service stays unavailable', async () => {
    const { url, seen } = await scripted([json(503, refusal('E_STEP_TIMEOUT', 1))]);
    const e = await callPeer(url, '/v1/x', { body: '{}', attempts: 2, ...noWait }).catch((x) => x);
    expect(e).toMatchObject({ code: 'E_STEP_TIMEOUT', exitCode: 1 });
    expect(seen).toHaveLength(2);
  });
});

describe('callPeer on node:http (not fetch: a fresh process paid ~110 ms of CPU for undici)', () => {
  it('never follows a redirect: the message goes only where --peer says (a 3xx is an answer, not retried)', async () => {
    const { url, seen } = await scripted([(res) => { res.writeHead(307, { location: 'http://127.0.0.1:9/elsewhere' }); res.end(); }]);
    const e = await callPeer(url, '/v1/x', { body: '{"a":1}', ...noWait }).catch((x) => x);
    expect(e).toMatchObject({ code: 'E_PEER_ANSWER', exitCode: 1 });
    expect(e.message).toMatch(/answered HTTP 307/);
    expect(seen).toHaveLength(1);
  });

  it('bounds each attempt by timeoutMs, the answer\'s body included, then retries the same bytes', async () => {
    const why: string[] = [];
    const { url, seen } = await scripted([
      (res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.write('{"half":'); }, // never ends
      json(200, { ok: true }),
    ]);
    const out = await callPeer(url, '/v1/x', { body: 'é', timeoutMs: 300, sleep: async () => {}, onRetry: (w) => why.push(w) });
    expect(out.value).toEqual({ ok: true });
    expect(why).toEqual(['no answer within 0.3 s']);
    expect(seen.map((s) => [s.body, s.headers['content-length']])).toEqual([['é', '2'], ['é', '2']]);
  });
});

describe('--peer-timeout', () => {
  it('defaults to callPeer\'s own default, 60 s at least (longer than a service\'s restart)', () => {
    expect(peerFlags['peer-timeout'].default).toBe(PEER_RETRY_SECONDS);
    expect(PEER_RETRY_SECONDS).toBeGreaterThanOrEqual(60);
    expect(peerRetry(7)).toEqual({ retryForMs: 7000 });
    expect(peerRetry(undefined)).toEqual({});
  });
});

describe('callPeer caps the answer it reads (a hostile service made a client read 400 MB)', () => {
  it('stops reading an endless answer past MAX_ANSWER_BYTES: E_PEER_ANSWER (exit 1), not retried, the connection dropped', async () => {
    let written = 0;
    let dropped: Promise<void> = Promise.resolve();
    const { url, seen } = await scripted([(res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      dropped = new Promise((done) => res.on('close', done));
      const pump = () => {
        while (!res.destroyed && written < 64 * MAX_ANSWER_BYTES) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      pump();
    }]);
    const e = await callPeer(url, '/v1/x', { body: '{}', ...noWait }).catch((x) => x);
    expect(e).toMatchObject({ code: 'E_PEER_ANSWER', exitCode: 1 });
    expect(e.message).toMatch(/answered more than 4194304 bytes/);
    expect(seen).toHaveLength(1);
    await dropped;
    // What the service got out before the client hung up: the cap and what the sockets buffer, not the 256 MiB it had.
    // The loopback's buffers are the kernel's to size (autotuned, several MiB under load: a CI run saw 8.1 MiB
    // past a 4 MiB cap), so the bound is 4 caps — still a 16th of what the service would have sent.
    expect(written).toBeLessThan(4 * MAX_ANSWER_BYTES);
  });

  it('does not start reading an answer whose Content-Length is over the cap', async () => {
    const { url } = await scripted([(res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(MAX_ANSWER_BYTES + 1) });
      res.write('{');
    }]);
    const e = await callPeer(url, '/v1/x', { body: '{}', ...noWait }).catch((x) => x);
    expect(e).toMatchObject({ code: 'E_PEER_ANSWER', exitCode: 1 });
  });
});

describe('peerUrl', () => {
  it('takes an http(s) base URL, keeps a proxy\'s path prefix, and refuses credentials on argv', () => {
    expect(endpoint(peerUrl('http://127.0.0.1:8338'), '/v1/keys').href).toBe('http://127.0.0.1:8338/v1/keys');
    expect(endpoint(peerUrl('https://mint.example/offchain/'), '/v1/keys').href).toBe('https://mint.example/offchain/v1/keys');
    expect(() => peerUrl('http://user:pw@127.0.0.1:1')).toThrow(expect.objectContaining({ code: 'E_SECRET_ON_ARGV', exitCode: 2 }));
    for (const bad of ['ftp://x', '127.0.0.1:8338', 'http://x/?a=1']) expect(() => peerUrl(bad)).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
  });
});
