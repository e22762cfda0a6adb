/**
 * Issue 72, item 3: a hostile service — a tiny HTTP server standing for the attacker, not a
 * mock of a real peer — answers a counterpart's `--peer` request with a coded refusal that
 * says `exit_code: 0` (and then, as a 200, an error message that says the same). A script
 * must never take that for a payment made: the built CLI exits non-zero with one coded line
 * on standard error and nothing on standard output, for the credit user (`sign-update
 * --peer` to a mint) and the device (`device pay --peer` to a gateway) alike.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.ts';
import { MINT_KEY, USER_KEY, fixturePath, openDemoChannel } from './fixtures.ts';
import { runAsync } from './process.ts';

describe('a hostile service\'s refusal saying exit_code 0 is a failure on the client (built CLI)', () => {
  const root = tempDir('offchain-peer-hostile-');
  let server: Server;
  let url = '';
  let status = 422;
  const seen: string[] = [];

  beforeAll(async () => {
    openDemoChannel(join(root.path, 'credit'));
    cpSync(join(root.path, 'credit'), join(root.path, 'device'), { recursive: true });
    server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      req.resume().on('end', () => {
        const group = req.url!.startsWith('/v1/gateway/') ? 'gateway' : 'credit';
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ type: `${group}/error`, version: 1, network: 'regtest', code: 'E_ALL_GOOD', exit_code: 0, message: 'paid, carry on' }));
      });
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  }, 60_000);

  afterAll(async () => {
    await new Promise((res) => server.close(res));
    root.cleanup();
  });

  const creditPay = () => runAsync(['sign-update', '--role', 'user', '--amount', '1000', '--peer', url, '--key-env', 'USER_KEY', '--state-dir', join(root.path, 'credit', 'user')], { env: { USER_KEY } });
  const toll = () => runAsync([
    'device', 'pay', '--peer', url, '--invoice', fixturePath('device/toll.bolt11'), '--policy', fixturePath('policies/device.json'), '--terms', fixturePath('policies/gateway-terms.json'),
    '--now', '1800000000', '--tip-height', '1000', '--key-env', 'USER_KEY', '--state-dir', join(root.path, 'device', 'user'),
  ], { env: { USER_KEY, MINT_KEY } });

  it('as a refusal (HTTP 422): exit 1 with the service\'s code, one line, nothing on stdout — credit and device', async () => {
    status = 422;
    seen.length = 0;
    for (const [what, r] of [['sign-update --peer', await creditPay()], ['device pay --peer', await toll()]] as const) {
      expect(r.status, `${what}: ${r.stderr}`).toBe(1);
      expect(r.stdout, what).toBe('');
      expect(r.stderr.trim().split('\n'), what).toEqual(['offchain: error E_ALL_GOOD: paid, carry on (the service)']);
    }
    // Each asked once: a refusal is not retried.
    expect(seen).toEqual(['POST /v1/credit/update', 'POST /v1/gateway/pay']);
  }, 60_000);

  it('as an answer (HTTP 200) that is an error message: not the answer the step reads, so never success either', async () => {
    status = 200;
    for (const [what, r] of [['sign-update --peer', await creditPay()], ['device pay --peer', await toll()]] as const) {
      expect(r.status, `${what}: ${r.stderr}`).not.toBe(0);
      expect(r.stdout, what).toBe('');
      expect(r.stderr.trim().split('\n'), what).toHaveLength(1);
      // The step reads the answer as the message it expects from a pipe: another type is E_WRONG_MESSAGE (exit 3).
      expect([r.status, /^offchain: error (E_[A-Z_]+): /.exec(r.stderr)?.[1]], what).toEqual([3, 'E_WRONG_MESSAGE']);
    }
  }, 60_000);
});
