/**
 * Test harness for throw-away Core Lightning nodes on a harness bitcoind: find
 * `lightningd` ($LIGHTNINGD, a path; `lightning-cli` beside it), start a node on a temp
 * lightning-dir bound to 127.0.0.1 with fast chain polling, call its RPC through
 * `lightning-cli`, stop it by its own PID. The suite that uses it skips visibly without one.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { nodeTempDir } from '../helpers.ts';
import { findBitcoind, freePort, type Bitcoind } from './bitcoind.ts';

export function findLightningd(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const wanted = env['LIGHTNINGD']?.trim();
  return wanted || undefined;
}

export interface Lightningd {
  dir: string;
  port: number;
  id: string;
  call<T = any>(method: string, params?: Record<string, unknown>): Promise<T>;
  /**
   * Several calls written at once on one connection to the node's RPC socket, answered in
   * the order given: lightningd reads them in one go, so a later call (waitsendpay) is
   * registered before anything from a peer can settle the first (sendonion). Each answer is
   * `{ result }` or `{ error }` (the RPC's error object), never a throw.
   */
  pipeline(calls: { method: string; params: Record<string, unknown> }[]): Promise<{ result?: any; error?: { code: number; message: string } }[]>;
  log(): string;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startLightningd(binary: string, btc: Bitcoind, name: string, timeoutMs = 30_000, extraArgs: string[] = []): Promise<Lightningd> {
  const dir = nodeTempDir(`offchain-cln-${name}-`);
  const port = await freePort();
  const cli = join(dirname(binary), 'lightning-cli');
  // bitcoin-cli beside the bitcoind the suite runs ($BITCOIND or PATH), or $BITCOIN_CLI.
  const bitcoinCli = process.env['BITCOIN_CLI'] ?? join(dirname(findBitcoind() ?? 'bitcoind'), 'bitcoin-cli');
  const args = [
    '--network=regtest',
    `--lightning-dir=${dir.path}`,
    `--bind-addr=127.0.0.1:${port}`,
    `--log-file=${join(dir.path, 'log')}`,
    `--bitcoin-cli=${bitcoinCli}`,
    `--bitcoin-datadir=${btc.datadir}`,
    '--bitcoin-rpcconnect=127.0.0.1',
    `--bitcoin-rpcport=${btc.rpcPort}`,
    '--developer',
    '--dev-bitcoind-poll=1',
    `--alias=offchain-${name}`,
    ...extraArgs,
  ];
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const log = () => {
    const path = join(dir.path, 'log');
    return `${stderr}\n--- log (tail) ---\n${existsSync(path) ? readFileSync(path, 'utf8').split('\n').slice(-30).join('\n') : ''}`;
  };
  const call = <T>(method: string, params: Record<string, unknown> = {}): Promise<T> =>
    new Promise((resolve, reject) => {
      const kv = Object.entries(params).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
      execFile(cli, ['--network=regtest', `--lightning-dir=${dir.path}`, '-k', method, ...kv], { timeout: 30_000 }, (err, stdout, errOut) => {
        if (err) reject(new Error(`lightning-cli ${method} ${kv.join(' ')}: ${errOut || stdout || err.message}`));
        else resolve(JSON.parse(stdout) as T);
      });
    });
  const stop = async () => {
    if (!exited) {
      await call('stop').catch(() => undefined);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(timer);
    }
    dir.cleanup();
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) {
      const text = log();
      dir.cleanup();
      throw new Error(`lightningd (${binary}) exited at start\n${text}`);
    }
    try {
      const info = await call<{ id: string }>('getinfo');
      return { dir: dir.path, port, id: info.id, call, pipeline: (calls) => pipeline(join(dir.path, 'regtest', 'lightning-rpc'), calls), log, stop };
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`lightningd did not answer within ${timeoutMs} ms\n${log()}`);
      }
      await sleep(200);
    }
  }
}

/**
 * Poll `check` every 250 ms until it returns a value, at most `ms`. Two minutes by default:
 * on a loaded 2-core CI machine (the whole suite beside it, load 10-15) lightningd took over
 * 30 s to see a mined coin through its bitcoin-cli plugin; an answer comes as soon as it is there.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(250);
  }
}

/** See `Lightningd.pipeline`: JSON-RPC 2.0 over the unix socket, the answers matched by id. */
function pipeline(socket: string, calls: { method: string; params: Record<string, unknown> }[]): Promise<{ result?: any; error?: { code: number; message: string } }[]> {
  return new Promise((resolve, reject) => {
    const answers = new Map<number, { result?: any; error?: { code: number; message: string } }>();
    const conn = createConnection(socket);
    const timer = setTimeout(() => (conn.destroy(), reject(new Error(`lightning-rpc pipeline: no answer within 60 s (${answers.size} of ${calls.length})`))), 60_000);
    let buffered = '';
    conn.setEncoding('utf8');
    conn.on('error', (e) => (clearTimeout(timer), reject(e)));
    conn.on('data', (chunk: string) => {
      buffered += chunk;
      // lightningd ends each answer with a blank line.
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const text = buffered.slice(0, end).trim();
        buffered = buffered.slice(end + 2);
        if (!text) continue;
        const answer = JSON.parse(text) as { id: number; result?: unknown; error?: { code: number; message: string } };
        answers.set(answer.id, answer.error ? { error: answer.error } : { result: answer.result });
      }
      if (answers.size === calls.length) {
        clearTimeout(timer);
        conn.end();
        resolve(calls.map((_, i) => answers.get(i)!));
      }
    });
    conn.write(calls.map((c, id) => JSON.stringify({ jsonrpc: '2.0', id, method: c.method, params: c.params })).join('\n') + '\n');
  });
}
