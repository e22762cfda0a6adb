/**
 * The operator's unix socket (serve's --operator-listen unix:PATH): whoever can connect to it
 * acts as the operator, so it is made 0600 whatever the process umask — under umask 000 it
 * was 0777. Changes the process umask, so it runs in a fork of its own (vitest.config.ts
 * PROCESS_WIDE), never in a shared worker thread.
 */
import { statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startService, type RunningService } from '../../../src/topics/serve/service.ts';
import { tempDir } from '../../helpers.ts';

let svc: RunningService | undefined;
const dir = tempDir();
const umask = process.umask();
afterEach(async () => {
  process.umask(umask);
  await svc?.stop();
  dir.cleanup();
});

it('makes the operator\'s unix socket 0600 under umask 000, and answers on it', async () => {
  const path = join(dir.path, 'operator.sock');
  process.umask(0);
  svc = await startService({
    role: 'test', group: 'credit', network: 'regtest', listen: { host: '127.0.0.1', port: 0 }, operatorListen: { path },
    bodyLimit: 2048, requestTimeoutMs: 5000, stepTimeoutMs: 2000, rateLimit: undefined, drainTimeoutMs: 2000, logLevel: 'silent',
    maxConnections: 0, maxConnectionsPerAddress: 0, maxBodyBytes: 1 << 20,
  }, []);
  expect(statSync(path).mode & 0o777).toBe(0o600);
  // The process umask is as it was: only the socket was made under 0177.
  expect(process.umask()).toBe(0);
  const status = await new Promise<number | undefined>((res, rej) => request({ socketPath: path, path: '/healthz' }, (r) => {
    r.resume();
    res(r.statusCode);
  }).on('error', rej).end());
  expect(status).toBe(200);
});
