/**
 * `offchain watch` woken by the node's ZMQ `hashblock` (issue 71; src/topics/watch/hashblock.ts)
 * beside a real `bitcoind -regtest`: a watcher polling every 60 s starts a round within two
 * seconds of a block; it survives the node's restart (the subscription comes back by itself);
 * with the endpoint unreachable it says so once and still finds each block by polling. Each
 * watcher is the built CLI, spawned.
 *
 * The publisher: bitcoind's own, started with -zmqpubhashblock and found by the watcher through
 * getzmqnotifications (its default, --zmq-hashblock auto) — when this bitcoind was built with ZMQ.
 * A bitcoind built without it (-DWITH_ZMQ=OFF: it answers getzmqnotifications "Method not found")
 * cannot publish: the test then binds a ZMQ publisher of its own on the same endpoint and sends
 * what Core's CZMQPublishHashBlockNotifier sends — "hashblock", the block hash, a little-endian
 * sequence number — after each block it mines, and gives the watcher that endpoint. The title
 * says which ran. Skipped, visibly, without bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { Publisher } from 'zeromq';
import { findBitcoind, freePort, startBitcoind, type Bitcoind } from './bitcoind.ts';
import { BIN, assertBuilt } from './offchain-cli.ts';
import { tempDir } from '../helpers.ts';
import { startServe } from '../e2e/serve-process.ts';
import { runInProcess } from '../e2e/in-process.ts';
import { PAYOUT } from '../e2e/stream-credit.ts';
import { MINT_KEY, ok } from './serve-mint-peer.ts';
import { join } from 'node:path';

const BITCOIND = findBitcoind();
if (!BITCOIND) console.warn('[regtest] offchain watch woken by ZMQ hashblock — SKIPPED: no bitcoind on PATH and BITCOIND is unset');
const TO = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Line = Record<string, any>;

describe.skipIf(!BITCOIND)('offchain watch woken by the node\'s ZMQ hashblock on bitcoind -regtest', () => {
  const dir = tempDir('offchain-regtest-zmq-');
  let node: Bitcoind;
  let endpoint: string;
  /** The test's own publisher when this bitcoind has no ZMQ (see the header). */
  let standIn: Publisher | undefined;
  let sequence = 0;
  const children: ChildProcess[] = [];

  const bindStandIn = async () => {
    standIn = new Publisher({ linger: 0 });
    await standIn.bind(endpoint);
  };
  /** One block, announced as Core announces it (by Core itself, or by the stand-in); its height. */
  const mine = async (): Promise<number> => {
    const [hash] = await node.rpc.call<string[]>('generatetoaddress', [1, TO]);
    if (standIn) {
      const n = Buffer.alloc(4);
      n.writeUInt32LE(sequence++);
      await standIn.send(['hashblock', Buffer.from(hash!, 'hex'), n]);
    }
    return node.rpc.call<number>('getblockcount');
  };

  /** A long-running `offchain watch` on an empty state directory: its JSON log lines, a wait for one. */
  function watcher(extra: string[]) {
    const args = ['watch', '--state-dir', dir.path, '--rpc-url', node.config.url, '--rpc-cookie', node.cookieFile, '--log-level', 'info', ...extra];
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, OFFCHAIN_CONFIG: '/dev/null' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const lines = (): Line[] => err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
    const zmq = () => lines().filter((l) => l.event === 'zmq');
    const roundAt = (height: number) => lines().some((l) => l.event === 'round' && l.tip.height === height);
    /** Until `what` holds, `ms` at most; how long it took. */
    const until = async (what: () => boolean, ms = 10_000): Promise<number> => {
      const t0 = Date.now();
      while (!what() && Date.now() - t0 < ms) await sleep(25);
      expect(what(), err).toBe(true);
      return Date.now() - t0;
    };
    children.push(child);
    return { child, exited, lines, zmq, roundAt, until, log: () => err };
  }

  beforeAll(async () => {
    assertBuilt();
    endpoint = `tcp://127.0.0.1:${await freePort()}`;
    node = await startBitcoind(BITCOIND!, [`-zmqpubhashblock=${endpoint}`]);
    const announced = await node.rpc.call<{ type: string; address: string }[]>('getzmqnotifications').catch(() => undefined);
    if (announced === undefined) await bindStandIn();
    else expect(announced).toMatchObject([{ type: 'pubhashblock', address: endpoint }]);
    console.info(`[regtest] ZMQ hashblock from ${standIn ? 'the test\'s publisher sending what Core sends (this bitcoind was built without ZMQ)' : 'bitcoind itself, found through getzmqnotifications'}`);
  }, 60_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    standIn?.close();
    await node?.stop();
    dir.cleanup();
  });

  // Core's own publisher is found through getzmqnotifications (the default, auto); the stand-in is named.
  const zmqArgs = () => (standIn ? ['--zmq-hashblock', endpoint] : []);

  it('polling every 60 s, a block starts a round within 2 s (ZMQ wakes it; the round asks the node); the node restarted, the subscription comes back by itself and so does the next block\'s round', async () => {
    const w = watcher(['--interval', '60', ...zmqArgs(), '--operator-listen', '127.0.0.1:0']);
    await w.until(() => w.roundAt(0) && w.zmq().some((l) => l.state === 'connected'));
    await sleep(300); // the subscription reaches the publisher just after the handshake (ZMQ's slow joiner)
    const t0 = Date.now();
    const first = await mine();
    await w.until(() => w.roundAt(first), 2_000);
    const took = Date.now() - t0;
    const metricsUrl = w.lines().find((l) => l.event === 'listening')!.operator as string;
    const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/^offchain_watch_zmq_connected{role="watch"} 1$/m);
    expect(metrics).toMatch(/^offchain_watch_zmq_notifications{role="watch"} 1$/m);

    // The node restarts: its publisher goes with it, and comes back on the same endpoint.
    standIn?.close();
    await node.restart(300);
    if (standIn) await bindStandIn();
    await w.until(() => w.zmq().filter((l) => l.state === 'connected').length === 2);
    await sleep(300);
    const second = await mine();
    await w.until(() => w.roundAt(second), 2_000);
    expect(w.zmq().map((l) => l.state)).toEqual(['connected', 'disconnected', 'connected']);
    expect(w.lines().filter((l) => l.event === 'round').map((l) => l.tip.height)).toEqual([0, first, second]);
    console.info(`[regtest] a block to its round, polling every 60 s: ${took} ms`);
    w.child.kill('SIGTERM');
    expect(await w.exited, w.log()).toBe(0);
  }, 60_000);

  it('the ZMQ endpoint unreachable: one warning, the watcher goes on, and polling still finds each block', async () => {
    const nowhere = `tcp://127.0.0.1:${await freePort()}`;
    const w = watcher(['--interval', '0.5', '--zmq-hashblock', nowhere]);
    const height = await node.rpc.call<number>('getblockcount');
    await w.until(() => w.roundAt(height));
    const next = await mine();
    await w.until(() => w.roundAt(next), 3_000);
    await sleep(1_000); // libzmq retried meanwhile, unsaid
    expect(w.zmq()).toMatchObject([{ level: 40, state: 'unreachable', endpoint: nowhere }]);
    expect(w.child.exitCode).toBeNull();
    w.child.kill('SIGTERM');
    expect(await w.exited, w.log()).toBe(0);
  }, 60_000);

  it('serve mint\'s own watcher (beside its routes) follows the same hashblock: connected, each block a notification on its /metrics', async () => {
    const mintDir = join(dir.path, 'mint');
    ok(await runInProcess(['open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--key-env', 'MINT_KEY', '--state-dir', mintDir], { env: { MINT_KEY } }), 'credit/offer');
    const svc = await startServe(['mint', '--key-env', 'MINT_KEY', '--state-dir', mintDir, '--rpc-url', node.config.url, '--rpc-cookie', node.cookieFile, '--operator-listen', '127.0.0.1:0', ...zmqArgs()], { MINT_KEY });
    try {
      const zmqLines = () => svc.log().split('\n').filter((l) => l.includes('"event":"zmq"')).map((l) => JSON.parse(l) as Line);
      for (let i = 0; i < 200 && !zmqLines().some((l) => l.state === 'connected'); i++) await sleep(25);
      expect(zmqLines(), svc.log()).toMatchObject([{ role: 'watch', state: 'connected', endpoint }]);
      await sleep(300);
      const metric = async () => /^offchain_watch_zmq_notifications\{role="mint"\} (\d+)$/m.exec(await (await fetch(`${svc.operator}/metrics`)).text())?.[1];
      expect(await metric()).toBe('0');
      await mine();
      for (let i = 0; i < 80 && (await metric()) !== '1'; i++) await sleep(25);
      expect(await metric()).toBe('1');
    } finally {
      expect(await svc.stop(), svc.log()).toBe(0);
    }
  }, 60_000);
});
