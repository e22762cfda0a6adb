/**
 * `sign-update --peer` on a PostgreSQL mint whose nonce is elsewhere (issue 39; docs/postgres.md,
 * "The restore rule"): every `serve mint` on PostgreSQL seals each nonce it issues under a key
 * only that process holds, so a nonce handed out before a restart is dead afterwards and the
 * user's next payment is refused E_NONCE_ELSEWHERE. `--peer` absorbs it: it abandons that
 * request through the same URL (the serving process burns the dead nonce and issues a fresh
 * one), signs the same payment again, and says so on stderr — one invocation, the balance as
 * if nothing happened. A second E_NONCE_ELSEWHERE (the re-signed request routed to a process
 * that cannot open the fresh nonce either: a 20-line router in this test sends updates to one
 * service and everything else to another — real services both) is shown as is, and the same
 * command run against the right service then pays.
 */
import { expect, it, beforeAll, afterAll } from 'vitest';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describePostgres } from './fixture.ts';
import { runInProcess } from '../e2e/in-process.ts';
import { runAsync } from '../e2e/process.ts';
import type { Run } from '../e2e/cli.ts';
import { serveMint, stopService, type Service } from '../e2e/serve-process.ts';
import { MINT_KEY, PAYOUT, REFUND } from '../e2e/stream-credit.ts';
import { USER_KEY, fixturePath } from '../e2e/fixtures.ts';

const FUNDING = fixturePath('credit/funding.psbt');
const TIP = ['--tip-height', '1000'];

function ok(r: Run, type: string): Record<string, any> {
  expect(r.status, r.stderr).toBe(0);
  const msg = JSON.parse(r.stdout) as Record<string, any>;
  expect(msg.type, r.stdout).toBe(type);
  return msg;
}

/** Forward each request to `route(path)`'s origin, body and status as they are. */
function router(route: (path: string) => string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const target = new URL(req.url ?? '/', route(req.url ?? '/'));
    const out = httpRequest(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on('error', () => res.writeHead(502).end());
    req.pipe(out);
  });
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` })));
}

describePostgres('sign-update --peer absorbs E_NONCE_ELSEWHERE once', (pg) => {
  let env: Record<string, string>;
  let storeUrl: string;
  const services: Service[] = [];
  const mintArgs = () => ['--key-env', 'MINT_KEY', '--state-dir', join(pg.root, 'mint'), '--store', storeUrl, ...TIP, '--confirmations', '1'];
  const serve = async () => {
    const s = await serveMint(mintArgs(), env);
    services.push(s);
    return s;
  };
  const user = (...args: string[]) => runInProcess([...args, '--key-env', 'USER_KEY', '--state-dir', join(pg.root, 'user')], { env: { USER_KEY } });

  beforeAll(async () => {
    env = { MINT_KEY, OFFCHAIN_STORE_PASSWORD: pg.server.password };
    storeUrl = await pg.server.createDatabase('serve_user');
    mkdirSync(join(pg.root, 'mint'), { recursive: true });
    ok(await runInProcess(['open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--store', storeUrl, '--key-env', 'MINT_KEY', '--state-dir', join(pg.root, 'mint')], { env }), 'credit/offer');
  }, 120_000);

  afterAll(async () => {
    for (const s of services) await stopService(s);
  }, 60_000);

  it('a restarted service: the payment is abandoned and signed again in the same invocation, said on stderr', async () => {
    const first = await serve();
    ok(await user('open-credit', '--role', 'user', '--peer', first.url, ...TIP, '--expiry', '+4320', '--refund-address', REFUND, '--in', FUNDING), 'credit/opened');
    expect(ok(await user('sign-update', '--role', 'user', '--amount', '10000', '--peer', first.url), 'credit/balance')).toMatchObject({ state: 1, cumulative_sat: 10_000 });
    // The process whose key sealed the nonce for state 2 ends: that nonce is dead.
    expect(await stopService(first)).toBe(0);
    const second = await serve();
    const r = await user('sign-update', '--role', 'user', '--amount', '25000', '--peer', second.url);
    expect(ok(r, 'credit/balance')).toMatchObject({ state: 2, cumulative_sat: 35_000 });
    expect(r.stderr).toMatch(/E_NONCE_ELSEWHERE.*abandoning that request.*paying 25000 sat again/);
    expect(r.stderr).not.toMatch(/error/);
    // And on: the fresh nonces are the serving process's.
    expect(ok(await user('sign-update', '--role', 'user', '--amount', '5000', '--peer', second.url), 'credit/balance')).toMatchObject({ state: 3, cumulative_sat: 40_000 });
  }, 120_000);

  it('a second E_NONCE_ELSEWHERE is shown as is (code, exit 5, nothing on stdout); the same command against the right service then pays', async () => {
    const [a, b] = [services.at(-1)!, await serve()];
    // Updates go to b, which can open none of a's nonces; the abandon goes to a, which issues the fresh one.
    const { server, url } = await router((path) => (path.startsWith('/v1/credit/update') ? b.url : a.url));
    try {
      const stage = ['sign-update', '--role', 'user', '--amount', '1000', '--peer', url, '--key-env', 'USER_KEY', '--state-dir', join(pg.root, 'user')];
      // A process, as an operator's shell runs it.
      const r = await runAsync(stage, { env: { USER_KEY } });
      expect(r.status, r.stderr).toBe(5);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/E_NONCE_ELSEWHERE.*abandoning that request/);
      expect(lines[1]).toMatch(/^offchain: error E_NONCE_ELSEWHERE: /);
      // The re-signed request is pending: sent where its nonce lives, it is signed.
      expect(ok(await user('sign-update', '--role', 'user', '--amount', '1000', '--peer', a.url), 'credit/balance')).toMatchObject({ state: 4, cumulative_sat: 41_000 });
    } finally {
      await new Promise((res) => server.close(res));
    }
  }, 120_000);

  it('rollover --peer and close-credit --start --peer absorb one E_NONCE_ELSEWHERE the same way: abandoned through the same URL, then done in the same invocation', async () => {
    // The contract's next nonce (state 5) was issued by the service the last test paid through; it ends.
    const [a, b] = services.slice(-2) as [Service, Service];
    expect(await stopService(a)).toBe(0);
    const rolled = await user('rollover', '--role', 'user', '--expiry', '+4320', ...TIP, '--peer', b.url);
    const r = ok(rolled, 'credit/rolled-over');
    expect(rolled.stderr).toMatch(/E_NONCE_ELSEWHERE.*abandoning that rollover.*then the rollover again/);
    expect(rolled.stderr).not.toMatch(/error/);
    // The new contract's first nonce was issued by b; it ends too.
    expect(await stopService(b)).toBe(0);
    const c = await serve();
    const closing = await user('close-credit', '--role', 'user', '--start', '--peer', c.url);
    expect(ok(closing, 'credit/closed')).toMatchObject({ contract_id: r.new_contract_id, cumulative_sat: 0 });
    expect(closing.stderr).toMatch(/E_NONCE_ELSEWHERE.*abandoning that close.*then the close again/);
    expect(closing.stderr).not.toMatch(/error/);
  }, 120_000);
});
