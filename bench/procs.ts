/**
 * What the service benchmarks (serve.ts, pg-scale.ts) share: a reverse proxy in front of
 * several services, and the CPU time of processes read from /proc (Linux).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, request as httpRequest, Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/** Clock ticks per second (/proc/<pid>/stat counts CPU time in them). */
const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/**
 * A reverse proxy: each request to a random backend, or (`byContract`) to the backend its
 * Offchain-Contract header is assigned to (a dropped backend: 502).
 */
export async function proxyTo(backends: string[], byContract?: Map<string, number>): Promise<{ url: string; server: Server }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const targets = backends.map((u) => new URL(u));
  const server = createServer((req, res) => {
    const home = byContract?.get(String(req.headers['offchain-contract']));
    const t = targets[home ?? Math.floor(Math.random() * targets.length)]!;
    const up = httpRequest({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers, agent }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    up.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** /proc/<pid>/stat after the command name: [state, ppid, …]; utime is field 14 of the whole line. */
export function stat(pid: number): string[] | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return line.slice(line.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}
/** CPU seconds of `pids` (utime + stime, and the children they reaped: cutime + cstime). */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const f = stat(pid);
    if (f) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return ticks / TICK;
}
/** The PostgreSQL server's processes: the postmaster (first line of postmaster.pid) and its children. */
export function postgresPids(dataDir: string): number[] {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const pids = [postmaster];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    if (stat(Number(e))?.[1] === String(postmaster)) pids.push(Number(e));
  }
  return pids;
}
