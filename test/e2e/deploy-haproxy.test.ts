/**
 * The compose file's balancer (deploy/compose/haproxy.cfg) in front of a real `serve mint`, on a
 * real HAProxy: the mint trusts the balancer's X-Forwarded-For and X-Request-Id
 * (trust_proxy), so the balancer must name the client itself — not pass on what the client
 * wrote — or every client picks its own rate-limit bucket and its own log id. The balancer
 * connects from 127.0.0.2 (the mint's trust_proxy), the client from 127.0.0.1. Skipped where
 * no haproxy is installed (apt-get install haproxy).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.ts';
import { run } from './cli.ts';
import { ServeProcess } from './serve-process.ts';

const HAPROXY = spawnSync('haproxy', ['-v']).status === 0;
const dir = tempDir('offchain-haproxy-');
afterAll(() => dir.cleanup());

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** The shipped haproxy.cfg, its listener and servers moved to this machine's loopback. */
function balancerConfig(port: number, mint: string): string {
  const shipped = readFileSync(join(ROOT, 'deploy/compose/haproxy.cfg'), 'utf8');
  const servers = [...shipped.matchAll(/^(\s*)server (\S+) \S+(.*)$/gm)];
  expect(servers.length).toBeGreaterThan(0);
  return shipped
    .replace(/^(\s*)bind :8338$/m, `$1bind 127.0.0.1:${port}`)
    .replace(/^\s*server .*$\n?/gm, '')
    .replace(/^(backend mint\n(?:.*\n)*)/m, `$1    server mint-1 ${mint} source 127.0.0.2 check\n`);
}

describe.skipIf(!HAPROXY)('the shipped balancer in front of serve mint (trust_proxy its address)', () => {
  it('the client\'s own X-Forwarded-For and X-Request-Id are not believed: its requests are rate-limited as its own', async () => {
    const key = join(dir.path, 'mint.key');
    copyFileSync(join(ROOT, 'fixtures/keys/mint.key'), key);
    chmodSync(key, 0o600);
    const mint = ['--network', 'regtest', '--key-file', key, '--state-dir', join(dir.path, 'state')];
    const published = run(['credit', 'open', '--role', 'mint', '--publish', '--payout-address', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', ...mint]);
    expect(published.status, published.stderr).toBe(0);
    const svc = await ServeProcess.launch('mint', [...mint, '--trust-proxy', '127.0.0.2', '--rate-limit', '2', '--rate-window', '600', '--no-watch', '--tip-height', '1001'], {});
    let haproxy: ChildProcess | undefined;
    try {
      const port = await freePort();
      const cfg = join(dir.path, 'haproxy.cfg');
      writeFileSync(cfg, balancerConfig(port, svc.url.replace(/^http:\/\//, '')));
      haproxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
      let log = '';
      haproxy.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
      const base = `http://127.0.0.1:${port}`;
      for (let i = 0; ; i++) {
        const up = await fetch(`${base}/healthz`).then((r) => r.status, () => 0);
        if (up === 200) break;
        if (i > 100) throw new Error(`haproxy did not forward /healthz: ${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const statuses: number[] = [];
      const ids: string[] = [];
      for (const n of [1, 2, 3, 4]) {
        const r = await fetch(`${base}/v1/credit/offer`, { headers: { 'X-Forwarded-For': `203.0.113.${n}`, 'X-Request-Id': `chosen-by-the-client-${n}` } });
        statuses.push(r.status);
        ids.push(r.headers.get('x-request-id') ?? '');
      }
      // Two requests per window from 127.0.0.1, whatever it claims: the third and the fourth refused.
      expect(statuses.slice(2)).toEqual([429, 429]);
      for (const id of ids) expect(id).not.toMatch(/chosen-by-the-client/);
    } finally {
      haproxy?.kill('SIGTERM');
      await svc.stop();
    }
  }, 60_000);
});
