/**
 * Issue 72, item 4: a `--peer` payment outlasts its service's restart, and a payment left
 * pending is sent again with one command, the one its error line names. The built CLI
 * against a real `offchain serve mint` process (the demo contract, offline chain facts),
 * killed -9 and started again on its port.
 *
 *   → the service killed; `sign-update --peer` started against it retries (same bytes, backoff
 *     with jitter) until the service, started again 8 s later — past the ~5 s the client used to
 *     give up after — answers: exit 0, the payment made once (the mint's view agrees)
 *   → the service down past `--peer-timeout 1`: E_PEER_UNREACHABLE, its line naming
 *     `sign-update --role user --resend --contract ID --peer URL`; another amount meanwhile is
 *     E_PENDING naming the same, nothing written; `--resend` without --peer prints the request
 *     as recorded; the command the line named, run once the service is back, makes the payment;
 *     run again, E_NOTHING_PENDING
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fileSnapshot, tempDir } from '../helpers.ts';
import { networkDir, records } from '../state.ts';
import type { UserContractRecord } from '../../src/lib/credit/ports.ts';
import { MINT_KEY, USER_KEY, openDemoChannel } from './fixtures.ts';
import { runAsync } from './process.ts';
import { serveMint, stopService, type Service } from './serve-process.ts';

type Msg = Record<string, any>;
const MINT_ARGS = (dir: string) => ['--key-env', 'MINT_KEY', '--state-dir', dir, '--tip-height', '1000', '--confirmations', '1'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The one error line: its code and text (stdout empty). */
function errorLine(r: { status: number; stdout: string; stderr: string }): { code: string; line: string } {
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  const line = lines.at(-1)!;
  const code = /^offchain: error (E_[A-Z0-9_]+): /.exec(line)?.[1];
  expect(code, r.stderr).toBeDefined();
  return { code: code!, line };
}

describe('--peer against a serve mint killed and started again (built CLI)', () => {
  const root = tempDir('offchain-peer-restart-');
  const mintDir = join(root.path, 'mint');
  const userDir = join(root.path, 'user');
  const user = (...args: string[]) => runAsync([...args, '--key-env', 'USER_KEY', '--state-dir', userDir], { env: { USER_KEY }, timeoutMs: 120_000 });
  let svc: Service | undefined;
  let contract = '';

  beforeAll(async () => {
    openDemoChannel(root.path);
    svc = await serveMint(MINT_ARGS(mintDir), { MINT_KEY });
    const first = await user('sign-update', '--role', 'user', '--amount', '1000', '--peer', svc.url);
    expect(first.status, first.stderr).toBe(0);
    const balance = JSON.parse(first.stdout) as Msg;
    expect([balance.type, balance.state, balance.cumulative_sat]).toEqual(['credit/balance', 1, 1000]);
    contract = balance.contract_id;
    expect(contract).toMatch(/^[0-9a-f]{64}$/);
  }, 60_000);

  afterAll(async () => {
    await stopService(svc);
    root.cleanup();
  });

  const mintCumulative = async () => {
    const list = await runAsync(['credit', 'list', '--state-dir', mintDir, '--tip-height', '1000']);
    expect(list.status, list.stderr).toBe(0);
    return (JSON.parse(list.stdout) as Msg).contracts.find((c: Msg) => c.contract_id === contract).cumulative_sat;
  };

  it('a payment sent while the service is down is made once it is back 8 s later, by the same process (the same request, retried with backoff)', async () => {
    const port = svc!.port;
    await stopService(svc, 'SIGKILL');
    svc = undefined;
    const paying = user('sign-update', '--role', 'user', '--amount', '2000', '--peer', `http://127.0.0.1:${port}`);
    await sleep(8000);
    svc = await serveMint(MINT_ARGS(mintDir), { MINT_KEY }, port);
    const r = await paying;
    expect(r.status, r.stderr).toBe(0);
    const balance = JSON.parse(r.stdout) as Msg;
    expect([balance.type, balance.state, balance.cumulative_sat]).toEqual(['credit/balance', 2, 3000]);
    // Each retry said on standard error, and more of them than the six attempts that once were all.
    const retries = r.stderr.split('\n').filter((l) => /\/v1\/credit\/update: ECONNREFUSED; sending the same message again in [\d.]+ s$/.test(l));
    expect(retries.length, r.stderr).toBeGreaterThanOrEqual(6);
    expect(await mintCumulative()).toBe(3000);
  }, 120_000);

  it('past --peer-timeout the payment stays pending and the error line names the one command that resends it; run, it makes the payment once', async () => {
    const url = svc!.url;
    const port = svc!.port;
    await stopService(svc, 'SIGKILL');
    svc = undefined;
    const down = await user('sign-update', '--role', 'user', '--amount', '500', '--peer', url, '--peer-timeout', '1');
    expect(down.status, down.stderr).toBe(1);
    const unreachable = errorLine(down);
    expect(unreachable.code).toBe('E_PEER_UNREACHABLE');
    expect(unreachable.line).toMatch(/ attempts over [\d.]+ s \(--peer-timeout 1; last: ECONNREFUSED\)/);
    const resend = /send it again with "offchain (sign-update [^"]+)"/.exec(unreachable.line)?.[1];
    expect(resend).toBe(`sign-update --role user --resend --contract ${contract} --peer ${url}`);
    const pending = () => records<UserContractRecord>(networkDir(userDir), 'credit-user').find((x) => x.record.contract_id === contract)!.record.pending!;
    expect(pending()).toMatchObject({ kind: 'update', state: 3, cumulative_sat: 3500 });

    // Another amount meanwhile: refused before anything is signed or sent, naming the same way out.
    const before = fileSnapshot(userDir, { sqliteRows: true });
    const other = await user('sign-update', '--role', 'user', '--amount', '700', '--peer', url);
    expect(other.status, other.stderr).toBe(5);
    const conflict = errorLine(other);
    expect(conflict.code).toBe('E_PENDING');
    expect(conflict.line).toContain(`resend it as recorded: offchain sign-update --role user --resend --contract ${contract} (with --peer URL for a mint service)`);
    // Without --peer, --resend prints the request exactly as recorded (for a pipe).
    const printed = await user('sign-update', '--role', 'user', '--resend');
    expect(printed.status, printed.stderr).toBe(0);
    expect(JSON.parse(printed.stdout)).toEqual(pending().request);
    expect(fileSnapshot(userDir, { sqliteRows: true })).toEqual(before);

    svc = await serveMint(MINT_ARGS(mintDir), { MINT_KEY }, port);
    const done = await user(...resend!.split(' '));
    expect(done.status, done.stderr).toBe(0);
    const balance = JSON.parse(done.stdout) as Msg;
    expect([balance.type, balance.state, balance.cumulative_sat]).toEqual(['credit/balance', 3, 3500]);
    expect(await mintCumulative()).toBe(3500);
    // Nothing pending now: --resend sends nothing.
    const again = await user(...resend!.split(' '));
    expect(again.status).toBe(5);
    expect(errorLine(again).code).toBe('E_NOTHING_PENDING');
    expect(await mintCumulative()).toBe(3500);
  }, 120_000);
});
