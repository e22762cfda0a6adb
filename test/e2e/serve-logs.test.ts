/**
 * A service's standard error is its JSON log, every line of it (docs/serve.md, "The shell every
 * service shares"): each real service (the built CLI, port 0) started with the test seed's
 * warning, asked for its health, sent a message its route refuses and a path it does not serve,
 * stopped with SIGTERM — and a start that fails (a flag it refuses when it reads it, one oclif
 * refuses, a state directory with no mint): every line of standard error parses as one JSON
 * object carrying pino's level, time and the role; the refusal is a line with its code; a
 * failed start writes nothing on standard output. Before: the terminal's notes ("… serving on
 * the libsecp256k1 secp256k1 backend", the test seed's warning) and the error line were plain text.
 * Each also answers GET /v1/info on its operator's socket (404 on the public one).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { ROOT, tempDir } from '../helpers.ts';
import { cleanEnv, run } from './cli.ts';
import { fixture, fixturePath } from './fixtures.ts';
import { ServeProcess } from './serve-process.ts';
import { decodeMessage } from '../../src/lib/message.ts';
import { ServeInfoSchema } from '../../src/lib/serve/schemas.ts';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const ENV = { OFFCHAIN_TEST_SEED: 'demo', MINT_KEY: fixture('keys/mint.key') };
const TERMS = join(ROOT, 'fixtures/policies/gateway-terms.json');

/** Each line of `stderr` as the object it must be; the test fails on the first that is not. */
function jsonLines(stderr: string, role: string): Record<string, unknown>[] {
  const lines = stderr.split('\n').filter((l) => l !== '');
  expect(lines.length).toBeGreaterThan(0);
  return lines.map((line) => {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new Error(`not a JSON line on ${role}'s standard error: ${line}`);
    }
    expect(v, line).toMatchObject({ level: expect.any(Number), time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), role });
    return v as Record<string, unknown>;
  });
}

describe('serve <role>: every line on standard error is one JSON object', () => {
  let dir: { path: string; cleanup: () => void };
  const args: Record<string, (d: string) => string[]> = {
    mint: (d) => ['--key-env', 'MINT_KEY', '--state-dir', join(d, 'mint'), '--tip-height', '1001'],
    gateway: (d) => ['--terms', TERMS, '--key-env', 'MINT_KEY', '--state-dir', join(d, 'mint'), '--tip-height', '1001'],
    statechain: (d) => ['--key-env', 'MINT_KEY', '--state-dir', join(d, 'statechain'), '--tip-height', '200'],
  };
  /** A message its route refuses (the wrong type for it), per role. */
  const refused: Record<string, [string, string]> = {
    mint: ['/v1/credit/update', fixture('credit/abandon.json')],
    gateway: ['/v1/gateway/pay', fixture('credit/abandon.json')],
    statechain: ['/v1/statechain/deposit', fixture('statechain/withdraw-request.json')],
  };

  beforeAll(() => {
    dir = tempDir('offchain-serve-logs-');
    const demo = spawnSync('sh', [fixturePath('credit/open-demo.sh')], { env: cleanEnv({ OFFCHAIN_DEMO_DIR: dir.path, MINT_KEY: ENV.MINT_KEY }), cwd: ROOT, encoding: 'utf8' });
    if (demo.status !== 0) throw new Error(`open-demo.sh: ${demo.stderr}`);
  }, 60_000);
  afterAll(() => dir?.cleanup());

  for (const role of ['mint', 'gateway', 'statechain']) {
    it(`${role}: started, asked, refusing, stopped with SIGTERM`, async () => {
      const svc = await ServeProcess.launch(role, [...args[role]!(dir.path), '--operator-listen', '127.0.0.1:0'], ENV);
      let exit;
      try {
        expect((await svc.get('/healthz')).status).toBe(200);
        const [path, body] = refused[role]!;
        const r = await svc.post(path, body);
        expect([r.status, JSON.parse(r.text).code]).toEqual([400, 'E_WRONG_MESSAGE']);
        expect((await svc.get('/v1/nowhere')).status).toBe(404);
        // GET /v1/info: the operator's listener only; the status in schemas/serve.info.json's shape.
        expect((await svc.get('/v1/info')).status).toBe(404);
        const info = await svc.get('/v1/info', svc.operator);
        expect(info.status, info.text).toBe(200);
        expect(decodeMessage(ServeInfoSchema, JSON.parse(info.text))).toMatchObject({
          role, network: 'regtest', offchain_version: VERSION,
          store: { kind: 'sqlite', path: join(dir.path, role === 'statechain' ? 'statechain' : 'mint', 'regtest') },
          chain: { source: 'offline', height: role === 'statechain' ? 200 : 1001 },
          watcher: { running: false }, listening: { public: svc.url, operator: svc.operator },
        });
      } finally {
        exit = await svc.stop();
      }
      expect(exit.status, svc.stderr).toBe(0);
      const lines = jsonLines(svc.stderr, role);
      expect(lines.some((l) => l.level === 40 && /OFFCHAIN_TEST_SEED/.test(String(l.msg)))).toBe(true);
      expect(lines.some((l) => l.code === 'E_WRONG_MESSAGE' && l.status === 400)).toBe(true);
      expect(lines.at(-1)!.msg).toBe('stopped');
      // Standard output: the serve/listening line alone.
      expect(svc.stdout.trim().split('\n').map((l) => JSON.parse(l).type)).toEqual(['serve/listening']);
    }, 60_000);

    it(`${role}: a start refused — its flag's refusal, oclif's, the store's — is a JSON line with its code, nothing on standard output`, () => {
      const cases: [string[], number, string][] = [
        [[...args[role]!(dir.path), '--operator-listen', '0.0.0.0:1'], 2, 'E_USAGE'],
        [[...args[role]!(dir.path), '--no-such-flag'], 2, 'E_USAGE'],
        // A stray word after the command: refused before the command runs (src/cli.ts), a plain line until the argv named the service.
        [['stray', ...args[role]!(dir.path)], 2, 'E_USAGE'],
        ...(role === 'statechain' ? [] : [[[...args[role]!(join(dir.path, 'empty'))], 2, 'E_NO_MINT_POLICY'] as [string[], number, string]]),
      ];
      for (const [a, status, code] of cases) {
        const r = run(['serve', role, ...a, '--listen', '127.0.0.1:0'], { env: ENV });
        expect([r.status, r.stdout], r.stderr).toEqual([status, '']);
        const lines = jsonLines(r.stderr, role);
        expect(lines.at(-1), r.stderr).toMatchObject({ level: 50, code, exit_code: status, msg: expect.stringMatching(new RegExp(`^${code}: `)) });
      }
    }, 60_000);
  }
});
