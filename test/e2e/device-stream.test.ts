/**
 * `device pay --stream --peer URL` through the built CLI: one device process paying the invoices on
 * its standard input through `serve gateway --lightning-rpc` (a scripted Core Lightning socket; the
 * real node: bench/device-serve.ts's row). The one-shot `device pay --peer` is the oracle: one demo
 * channel copied twice, each with its own gateway service; the same invoices, in the same order, as
 * lines of one stream on one copy and as one process each on the other; every line of the stream
 * must be what the one-shot printed (its credit/balance), or its refusal (code and exit code) as a
 * credit/error line, and the stream goes on. A gateway gone mid-stream ends it as it ends the
 * one-shot (E_PEER_UNREACHABLE, exit 1, one line on stderr), the lines before it written, and
 * `device pay --resend` finishes the payment.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import type { Server } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { toHex } from '../../src/lib/bytes.ts';
import { ROOT, tempDir } from '../helpers.ts';
import { networkDir, records } from '../state.ts';
import { BIN, assertFreshBuild, cleanEnv } from './cli.ts';
import { timedRun } from './serve-gateway-service.ts';
import { startGateway, type GatewayService as Service } from './serve-process.ts';
import { MINT_KEY, USER_KEY, openDemoChannel } from './fixtures.ts';
import { NOW, invoice, paymentHash } from '../lib/device/world.ts';
import { payingAtOnce } from './fake-lightning-rpc.ts';
import type { UserContractRecord } from '../../src/lib/credit/ports.ts';

const TIP = '1000';
const TERMS = join(ROOT, 'fixtures/policies/gateway-terms.json');
const POLICY = join(ROOT, 'fixtures/policies/device.json');
type Msg = Record<string, any>;

/** A running `device pay --stream`: write a line, read the next answer line; its exit and standard error. */
function startStream(args: string[]) {
  const child = spawn(process.execPath, [BIN, 'device', 'pay', '--stream', ...args], { env: cleanEnv({ USER_KEY }), stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
  return {
    send: (line: string) => child.stdin.write(line + '\n'),
    next: async () => {
      const r = await lines.next();
      return r.done ? undefined : r.value;
    },
    end: async () => {
      child.stdin.end();
      return exited;
    },
    exited,
    stderr: () => stderr,
  };
}

describe('device pay --stream: one device process pays the invoices on its standard input, each line as the one-shot answers it', () => {
  let root: { path: string; cleanup: () => void };
  let server: Server;
  const services: Record<'stream' | 'oneshot', Service | undefined> = { stream: undefined, oneshot: undefined };
  const byInvoice = new Map<string, number>();
  const payCalls: string[] = [];
  const dir = (copy: 'stream' | 'oneshot', who: 'user' | 'mint') => join(root.path, copy, who);
  const gwArgs = (copy: 'stream' | 'oneshot') => ['--terms', TERMS, '--now', String(NOW), '--tip-height', TIP, '--confirmations', '1', '--key-env', 'MINT_KEY', '--state-dir', dir(copy, 'mint'), '--lightning-rpc', join(root.path, 'lightning-rpc'), '--pay-timeout', '2'];
  const payFlags = ['--policy', POLICY, '--terms', TERMS, '--now', String(NOW), '--tip-height', TIP, '--key-env', 'USER_KEY'];
  const bolt11 = (n: number) => {
    const text = invoice(n, BigInt(1_000_000 + n * 1000));
    byInvoice.set(text, n);
    return text;
  };
  const oneShot = (line: string) => {
    const file = join(root.path, `line-${Math.random().toString(36).slice(2)}.bolt11`);
    writeFileSync(file, line + '\n');
    return timedRun(['device', 'pay', '--peer', services.oneshot!.public, '--invoice', file, ...payFlags, '--state-dir', dir('oneshot', 'user')], { USER_KEY });
  };
  const device = (copy: 'stream' | 'oneshot') => records<UserContractRecord>(networkDir(dir(copy, 'user')), 'credit-user')[0]!.record.device!;

  beforeAll(async () => {
    assertFreshBuild();
    root = tempDir('offchain-device-stream-');
    openDemoChannel(join(root.path, 'stream'));
    openDemoChannel(join(root.path, 'oneshot'));
    // The node pays every invoice of the test at once, with its preimage.
    server = await payingAtOnce(join(root.path, 'lightning-rpc'), Number(TIP), (text) => byInvoice.get(text)!, payCalls);
    services.stream = await startGateway(gwArgs('stream'), { MINT_KEY });
    services.oneshot = await startGateway(gwArgs('oneshot'), { MINT_KEY });
  }, 60_000);
  afterAll(async () => {
    for (const s of Object.values(services)) await s?.stop();
    await new Promise<void>((res) => server?.close(() => res()));
    root?.cleanup();
  });

  it('three tolls, a repeated invoice and a line that is no invoice: each line the one-shot\'s answer, the refusals as credit/error lines, exit 0', async () => {
    // Line 3 pays invoice 0 again (E_ALREADY_PAID, exit 4); line 5 is no invoice (exit 3); line 4 is blank (skipped, counted).
    const lines = [bolt11(0), bolt11(1), bolt11(0), '', 'lnbcrt1this-is-no-invoice', bolt11(2)];
    const expected: Msg[] = [];
    for (const [i, line] of lines.entries()) {
      if (line === '') continue;
      const r = await oneShot(line);
      if (r.status === 0) expected.push(JSON.parse(r.stdout) as Msg);
      else {
        expect(r.stdout).toBe('');
        const code = /error (E_[A-Z0-9_]+): /.exec(r.stderr)?.[1];
        expect(code, r.stderr).toBeDefined();
        expected.push({ type: 'credit/error', line: i + 1, code, exit_code: r.status });
      }
    }
    // The one-shots' own verdicts, as the test knows them: paid, paid, already paid, malformed, paid.
    expect(expected.map((m) => m.type === 'credit/error' ? `${m.code}/${m.exit_code}` : `${m.type}/${m.state}`)).toEqual(['credit/balance/2', 'credit/balance/4', 'E_ALREADY_PAID/4', expect.stringMatching(/\/3$/), 'credit/balance/6']);
    const calls = payCalls.length;

    const s = startStream(['--peer', services.stream!.public, ...payFlags, '--state-dir', dir('stream', 'user')]);
    const got: Msg[] = [];
    for (const line of lines) {
      s.send(line);
      if (line === '') continue;
      got.push(JSON.parse((await s.next())!) as Msg);
    }
    expect(await s.end(), s.stderr()).toBe(0);
    expect(got.map((m) => m.type === 'credit/error' ? { type: m.type, line: m.line, code: m.code, exit_code: m.exit_code } : m)).toEqual(expected);
    for (const m of got.filter((m) => m.type === 'credit/error')) expect([m.version, m.network, typeof m.message]).toEqual([1, 'regtest', 'string']);
    // Nothing but information on standard error: no error line.
    expect(s.stderr()).not.toMatch(/error E_/);
    // The node paid the three invoices once each for the stream, as for the one-shots.
    expect(payCalls.length - calls).toBe(3);
    const [a, b] = [device('stream'), device('oneshot')];
    expect([a.state, a.settled_sat, a.in_flight, a.pending, a.paid.map((p) => p.payment_hash)]).toEqual([b.state, b.settled_sat, undefined, undefined, b.paid.map((p) => p.payment_hash)]);
  }, 180_000);

  it('the gateway gone mid-stream: E_PEER_UNREACHABLE (exit 1) ends it after the lines written; --resend finishes the payment; the invoice again is a credit/error line', async () => {
    const s = startStream(['--peer', services.stream!.public, ...payFlags, '--peer-timeout', '1', '--state-dir', dir('stream', 'user')]);
    s.send(bolt11(3));
    expect(JSON.parse((await s.next())!)).toMatchObject({ type: 'credit/balance', state: 8 });
    await services.stream!.stop();
    s.send(bolt11(4));
    expect(await s.next()).toBeUndefined();
    expect(await s.exited).toBe(1);
    const errors = s.stderr().split('\n').filter((l) => l.includes('error E_'));
    expect(errors, s.stderr()).toHaveLength(1);
    expect(errors[0]).toMatch(/^offchain: error E_PEER_UNREACHABLE: .*device pay --resend/);
    // The payment was signed and kept before it went out: in flight now, as a one-shot leaves it.
    expect(device('stream').in_flight?.payment_hash).toBe(toHex(paymentHash(4)));

    services.stream = await startGateway(gwArgs('stream'), { MINT_KEY });
    const resent = await timedRun(['device', 'pay', '--resend', '--peer', services.stream.public, '--key-env', 'USER_KEY', '--state-dir', dir('stream', 'user')], { USER_KEY });
    expect(resent.status, resent.stderr).toBe(0);
    expect(JSON.parse(resent.stdout)).toMatchObject({ type: 'credit/balance', state: 10 });

    const again = startStream(['--peer', services.stream.public, ...payFlags, '--state-dir', dir('stream', 'user')]);
    again.send(bolt11(4));
    expect(JSON.parse((await again.next())!)).toMatchObject({ type: 'credit/error', line: 1, code: 'E_ALREADY_PAID', exit_code: 4 });
    expect(await again.end()).toBe(0);
  }, 180_000);

  it('refused before any toll, one coded line, nothing on stdout: --stream without --peer, with --invoice, with --resend', async () => {
    const refused = async (extra: string[], named: string) => {
      const r = await timedRun(['device', 'pay', '--stream', ...extra, ...payFlags, '--state-dir', dir('stream', 'user')], { USER_KEY });
      expect([r.status, r.stdout, /error (E_[A-Z_]+)/.exec(r.stderr)?.[1]], r.stderr).toEqual([2, '', 'E_USAGE']);
      expect(r.stderr.split('\n').filter((l) => l.includes('error E_'))).toHaveLength(1);
      expect(r.stderr).toContain(named);
    };
    const before = device('stream');
    await refused([], '--peer URL');
    await refused(['--invoice', 'x.bolt11', '--peer', services.stream!.public], 'drop --invoice');
    await refused(['--resend', '--peer', services.stream!.public], 'drop --resend');
    expect(device('stream')).toEqual(before);
  }, 60_000);
});
