/**
 * Test harness for a throw-away `bitcoind -regtest`: find the binary (BITCOIND, else
 * PATH), start it on a temp datadir with free ports, wait until RPC answers through
 * the cookie, stop it and delete the datadir. Used only by the optional regtest suite,
 * which is skipped (visibly) when no binary is found.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { delimiter, join } from 'node:path';
import { RpcClient, RpcError } from '../../src/lib/chain/rpc-client.ts';
import type { RpcConfig } from '../../src/lib/chain/rpc-config.ts';
import { OffchainError } from '../../src/lib/errors.ts';
import { nodeTempDir } from '../helpers.ts';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The bitcoind to use: $BITCOIND (a path, or a name looked up on PATH), else `bitcoind`
 * on PATH; undefined when there is none. A BITCOIND that names nothing is returned
 * as-is so the suite runs and fails loudly rather than skipping silently.
 */
export function findBitcoind(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const wanted = env['BITCOIND']?.trim();
  if (wanted && wanted.includes('/')) return wanted;
  const name = wanted || 'bitcoind';
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return wanted || undefined;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Bitcoind {
  datadir: string;
  rpcPort: number;
  p2pPort: number;
  cookieFile: string;
  /** RPC config for our own RpcChainSource (cookie auth, like an operator's setup). */
  config: RpcConfig;
  rpc: RpcClient;
  /** Log output so far, for failure messages. */
  log(): string;
  stop(): Promise<void>;
  /**
   * Stops the node (RPC `stop`, its mempool saved as on any clean shutdown) and starts it again
   * on the same datadir and ports after `downMs`: what an operator's node restart looks like to
   * its clients (a new cookie; wallets not loaded again unless asked).
   */
  restart(downMs?: number): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** bitcoind's words when a port it was given is taken (by another run's node, between freePort and its bind). */
export const PORT_TAKEN = /unable to bind|address already in use|bind.*failed|failed to listen/i;

/**
 * Start a node on free ports. A port can be taken between `freePort` closing it and
 * bitcoind binding it — by the node of another run on the same machine (two suites at
 * once, CI under load) — and bitcoind then exits at start saying so: that start is
 * retried on new ports, up to three times; any other failure is thrown at once.
 */
export async function startBitcoind(binary: string, extraArgs: string[] = [], startTimeoutMs = 60_000): Promise<Bitcoind> {
  for (let attempt = 1; ; attempt++) {
    const rpcPort = await freePort();
    let p2pPort = await freePort();
    while (p2pPort === rpcPort) p2pPort = await freePort();
    try {
      return await startOnce(binary, extraArgs, startTimeoutMs, rpcPort, p2pPort);
    } catch (e) {
      if (attempt >= 3 || !(e instanceof PortTakenError)) throw e;
    }
  }
}

class PortTakenError extends Error {}

async function startOnce(binary: string, extraArgs: string[], startTimeoutMs: number, rpcPort: number, p2pPort: number): Promise<Bitcoind> {
  const dir = nodeTempDir('offchain-regtest-');
  const args = [
    '-regtest',
    `-datadir=${dir.path}`,
    `-rpcport=${rpcPort}`,
    // P2P on a free loopback port only; -listen=1 explicitly, because -connect may
    // soft-disable listening and -bind is an init error when not listening.
    '-listen=1',
    `-port=${p2pPort}`,
    `-bind=127.0.0.1:${p2pPort}`,
    '-listenonion=0',
    '-connect=0', // no outbound peers
    '-dnsseed=0',
    '-fixedseeds=0',
    '-server=1',
    '-txindex=1', // getrawtransaction of confirmed transactions
    '-fallbackfee=0.0002', // regtest has no fee estimates for the wallet's sendtoaddress
    '-printtoconsole=0',
    ...extraArgs,
  ];
  let output = '';
  let child: ChildProcess;
  let exited: { code: number | null; signal: string | null } | undefined;
  let spawnError: Error | undefined;
  let exitPromise: Promise<void>;
  const launch = () => {
    exited = undefined;
    child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    exitPromise = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exited = { code, signal };
        resolve();
      });
      child.once('error', (e) => {
        spawnError = e;
        exited = { code: null, signal: null };
        resolve();
      });
    });
  };
  launch();

  const cookieFile = join(dir.path, 'regtest', '.cookie');
  const config: RpcConfig = { url: `http://127.0.0.1:${rpcPort}/`, network: 'regtest', auth: { cookieFile }, timeoutMs: 30_000 };
  const rpc = new RpcClient(config);
  const debugLog = () => {
    const path = join(dir.path, 'regtest', 'debug.log');
    return existsSync(path) ? readFileSync(path, 'utf8').split('\n').slice(-40).join('\n') : '';
  };
  const log = () => `${output}\n--- debug.log (tail) ---\n${debugLog()}`;

  const halt = async (): Promise<void> => {
    if (!exited) {
      await rpc.call('stop').catch(() => undefined);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exitPromise;
      clearTimeout(timer);
    }
  };
  const stop = async (): Promise<void> => {
    await halt();
    dir.cleanup();
  };

  await answering(startTimeoutMs);
  const restart = async (downMs = 0): Promise<void> => {
    await halt();
    await sleep(downMs);
    launch();
    await answering(startTimeoutMs);
  };
  return { datadir: dir.path, rpcPort, p2pPort, cookieFile, config, rpc, log, stop, restart };

  /** Until the node answers RPC (warm-up done), or it exited, or the time is up. */
  async function answering(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exited) {
        const why = spawnError ? spawnError.message : `exit code ${exited.code} signal ${exited.signal}`;
        const text = log();
        dir.cleanup();
        const ErrorClass = PORT_TAKEN.test(text) ? PortTakenError : Error;
        throw new ErrorClass(`bitcoind (${binary}) did not start: ${why}\n${text}`);
      }
      if (existsSync(cookieFile)) {
        try {
          await rpc.call('getblockchaininfo');
          break;
        } catch (e) {
          // Warm-up (-28) and a not-yet-listening socket are expected; anything else is fatal.
          const retry = (e instanceof RpcError && e.rpcCode === -28) || (e instanceof OffchainError && e.code === 'E_RPC_UNREACHABLE');
          if (!retry) {
            await stop();
            throw e;
          }
        }
      }
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`bitcoind did not answer RPC within ${timeoutMs} ms\n${log()}`);
      }
      await sleep(100);
    }
  }
}
