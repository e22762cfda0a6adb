/**
 * A watcher woken by Bitcoin Core's ZMQ `hashblock` (src/topics/watch/hashblock.ts), against a
 * real ZMQ publisher (the zeromq package's, on 127.0.0.1) sending what Core sends — the topic,
 * the block hash, a 4-byte little-endian sequence number (Core's doc/zmq.md): a notification
 * wakes the loop at once and is not believed (the loop asks the node); a flood is one look more;
 * an endpoint unreachable, gone or malformed is one log line per change of state and the watcher
 * polls on; a publisher restarted is followed without help. The regtest suite does the same
 * against bitcoind itself (test/regtest/watch-zmq.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Publisher } from 'zeromq';
import { followHashblock } from '../../../src/topics/watch/hashblock.ts';
import { watchLoop, type WatchHost } from '../../../src/topics/watch/rounds.ts';
import type { WatchGaugeState, WatchLogger } from '../../../src/topics/watch/service.ts';
import { Wake } from '../../../src/topics/watch/wake.ts';
import type { ChainSource } from '../../../src/lib/chain/types.ts';

const never = new AbortController().signal;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Line = Record<string, unknown> & { level: string; msg: string };
function logger(): WatchLogger & { lines: Line[]; zmq: () => Line[] } {
  const lines: Line[] = [];
  return {
    lines,
    zmq: () => lines.filter((l) => l.event === 'zmq'),
    info: (f, msg) => lines.push({ level: 'info', ...f, msg }),
    warn: (f, msg) => lines.push({ level: 'warn', ...f, msg }),
  };
}

/** Until `what` holds (5 s at most). */
async function until(what: () => boolean, why: () => unknown = () => ''): Promise<void> {
  for (let i = 0; i < 250 && !what(); i++) await sleep(20);
  expect(what(), JSON.stringify(why())).toBe(true);
}

/**
 * Until the subscriber's count of notifications has stood still for 300 ms: a flood is then
 * wholly delivered, what ZMQ dropped dropped (on a loaded machine delivery outlasts a fixed sleep).
 */
async function delivered(gauges: { zmq?: { notifications: number } }): Promise<void> {
  for (let seen = -1; seen !== (gauges.zmq?.notifications ?? 0); ) {
    seen = gauges.zmq?.notifications ?? 0;
    await sleep(300);
  }
}

let seq = 0;
/** What Core's CZMQPublishHashBlockNotifier sends: "hashblock", the hash in RPC byte order, the sequence number (LE). */
const announce = (pub: Publisher, hash = 'ab'.repeat(32)) => {
  const n = Buffer.alloc(4);
  n.writeUInt32LE(seq++);
  return pub.send(['hashblock', Buffer.from(hash, 'hex'), n]);
};

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

async function publisher(at = 'tcp://127.0.0.1:*'): Promise<{ pub: Publisher; endpoint: string }> {
  const pub = new Publisher({ linger: 0 });
  await pub.bind(at);
  open.push(pub);
  return { pub, endpoint: pub.lastEndpoint! };
}

const nodeAt = (endpoint: string | undefined | Error): ChainSource => ({
  kind: 'rpc',
  hashblockEndpoint: async () => {
    if (endpoint instanceof Error) throw endpoint;
    return endpoint;
  },
}) as unknown as ChainSource;

async function follow(setting: string, chain: ChainSource) {
  const wake = new Wake();
  const log = logger();
  const gauges: WatchGaugeState = { reorgs: 0, failedRounds: 0 };
  const zmq = await followHashblock(setting, chain, { wake, log, gauges, pollSeconds: 60 });
  open.push(zmq);
  return { wake, log, gauges, zmq };
}

/** Subscribed (the handshake, then ZMQ's slow joiner: the subscription reaches the publisher after it), one announcement ends a 10 s wait within a second. */
async function wakesAtOnce(pub: Publisher, f: Awaited<ReturnType<typeof follow>>): Promise<void> {
  await until(() => f.gauges.zmq?.connected === true, () => f.log.lines);
  await sleep(100);
  const t0 = performance.now();
  const woken = f.wake.wait(10_000, never);
  await announce(pub);
  expect(await woken).toBe('woken');
  expect(performance.now() - t0).toBeLessThan(1_000);
}

describe('a notification only wakes the loop', () => {
  it('auto: the endpoint the node announces; a hashblock ends a 10 s wait at once, counted, the subscription said connected once', async () => {
    const { pub, endpoint } = await publisher();
    const f = await follow('auto', nodeAt(endpoint));
    const { log, gauges } = f;
    await wakesAtOnce(pub, f);
    expect(gauges.zmq).toEqual({ endpoint, connected: true, notifications: 1 });
    expect(log.zmq()).toEqual([{ level: 'info', event: 'zmq', state: 'connected', endpoint, msg: `following the node's ZMQ hashblock at ${endpoint}, and polling every 60 s` }]);
  });

  it('another topic the publisher sends (rawtx, hashtx) wakes nothing', async () => {
    const { pub, endpoint } = await publisher();
    const { wake, gauges } = await follow(endpoint, nodeAt(undefined));
    await until(() => gauges.zmq?.connected === true);
    await sleep(100);
    await pub.send(['hashtx', Buffer.alloc(32), Buffer.alloc(4)]);
    await pub.send(['rawtx', Buffer.alloc(60), Buffer.alloc(4)]);
    expect(await wake.wait(300, never)).toBe('interval');
    expect(gauges.zmq?.notifications).toBe(0);
  });

  it('a flood of 1,000 notifications while the loop is busy leaves one wake pending: one look more, then the poll\'s interval', async () => {
    const { pub, endpoint } = await publisher();
    const { wake, gauges } = await follow(endpoint, nodeAt(undefined));
    await until(() => gauges.zmq?.connected === true);
    await sleep(100);
    for (let i = 0; i < 1_000; i++) await announce(pub);
    await until(() => (gauges.zmq?.notifications ?? 0) >= 16); // the receive queue holds 16; ZMQ may drop the rest
    await delivered(gauges);
    expect(await wake.wait(10_000, never)).toBe('woken');
    expect(await wake.wait(100, never)).toBe('interval');
  });
});

describe('nothing here stops the watcher: one line per change of state, and it polls on', () => {
  it('an endpoint nothing listens on: one warning over many retries; a publisher that comes up later is followed', async () => {
    const { pub: probe, endpoint } = await publisher();
    await probe.unbind(endpoint); // a free port, known
    const f = await follow(endpoint, nodeAt(undefined));
    const { wake, log, gauges } = f;
    await sleep(1_500); // libzmq retries after 0.1, 0.2, 0.4, 0.8 s…
    expect(log.zmq()).toEqual([{ level: 'warn', event: 'zmq', state: 'unreachable', endpoint, msg: `ZMQ hashblock at ${endpoint} unreachable: polling the node every 60 s, reconnecting` }]);
    expect(gauges.zmq).toMatchObject({ connected: false, notifications: 0 });
    expect(await wake.wait(50, never)).toBe('interval');
    await wakesAtOnce((await publisher(endpoint)).pub, f);
    expect(log.zmq().map((l) => l.state)).toEqual(['unreachable', 'connected']);
  });

  it('a publisher restarted (the node restarted): one line when it goes, one when it is back, and its notifications wake again', async () => {
    const first = await publisher();
    const { endpoint } = first;
    const f = await follow(endpoint, nodeAt(undefined));
    const { log, gauges } = f;
    await until(() => gauges.zmq?.connected === true);
    first.pub.close();
    await until(() => gauges.zmq?.connected === false);
    await sleep(800); // retries meanwhile, unsaid
    await wakesAtOnce((await publisher(endpoint)).pub, f);
    expect(log.zmq().map((l) => [l.level, l.state])).toEqual([['info', 'connected'], ['warn', 'disconnected'], ['info', 'connected']]);
  });

  it('a node that announces no hashblock, --zmq-hashblock off, a failed getzmqnotifications, a malformed endpoint: one line each, no subscription', async () => {
    const none = await follow('auto', nodeAt(undefined));
    expect(none.log.zmq()).toMatchObject([{ level: 'info', state: 'off' }]);
    expect(none.gauges.zmq).toBeUndefined();
    const off = await follow('off', nodeAt(new Error('must not be asked')));
    expect(off.log.zmq()).toEqual([{ level: 'info', event: 'zmq', state: 'off', msg: '--zmq-hashblock off: polling the node every 60 s' }]);
    const failed = await follow('auto', nodeAt(Object.assign(new Error('connection refused'), { code: 'E_RPC_UNREACHABLE' })));
    expect(failed.log.zmq()).toMatchObject([{ level: 'warn', state: 'unavailable', code: 'E_RPC_UNREACHABLE' }]);
    const malformed = await follow('auto', nodeAt('tcp://127.0.0.1'));
    expect(malformed.log.zmq()).toMatchObject([{ level: 'warn', state: 'unavailable', endpoint: 'tcp://127.0.0.1' }]);
    for (const f of [none, off, failed, malformed]) expect(await f.wake.wait(20, never)).toBe('interval');
  });
});

describe('the loop (src/topics/watch/rounds.ts): a notification is a look at the node, a new tip a round', () => {
  it('polling every 60 s, a round starts within a second of a hashblock; a flood during a slow look is at most one look more; abort closes the subscription', async () => {
    const { pub, endpoint } = await publisher();
    let tipHash = '11'.repeat(32);
    let looks = 0;
    /** While set, a look lasts until it resolves: the flood below arrives during one look, however slow the machine. */
    let held: Promise<void> | undefined;
    let release = () => {};
    const chain = {
      kind: 'offline', // a dry run's chain: the round reads the tip and nothing else
      hashblockEndpoint: async () => endpoint,
      tip: async () => {
        looks++;
        await sleep(150);
        await held;
        return { height: 100, medianTimePast: 0, hash: tipHash };
      },
    } as unknown as WatchHost['chain'];
    const host: WatchHost = { network: 'regtest', chain, db: async () => undefined, kinds: [] };
    const log = logger();
    const gauges: WatchGaugeState = { reorgs: 0, failedRounds: 0 };
    const stop = new AbortController();
    const loop = watchLoop(host, { dryRun: true, intervalMs: 60_000, zmq: 'auto', log, gauges, signal: stop.signal });
    const rounds = () => log.lines.filter((l) => l.event === 'round');
    try {
      await until(() => rounds().length === 1 && gauges.zmq?.connected === true, () => log.lines);
      await sleep(100);
      tipHash = '22'.repeat(32);
      const t0 = performance.now();
      await announce(pub, tipHash);
      await until(() => rounds().length === 2, () => log.lines);
      expect(performance.now() - t0).toBeLessThan(1_000);
      expect(rounds()[1]).toMatchObject({ tip: { height: 100, hash: tipHash } });
      // A flood: 500 notifications while a look is under way wake it for one look more, not 500.
      // The look is held until the flood has been received (on a loaded machine sending and
      // delivering 500 can take longer than a look's 150 ms, and a flood spread over several
      // looks may rightly wake several).
      await sleep(400); // the loop waits again
      held = new Promise<void>((resolve) => (release = resolve));
      const before = looks;
      for (let i = 0; i < 500; i++) await announce(pub);
      await until(() => (gauges.zmq?.notifications ?? 0) >= 17);
      await delivered(gauges); // before the held look ends
      release();
      await sleep(600);
      expect(looks - before).toBeGreaterThanOrEqual(1);
      expect(looks - before).toBeLessThanOrEqual(2);
      expect(rounds()).toHaveLength(2); // the same tip: no round
    } finally {
      release(); // a failure above leaves no look held: the loop can stop
      stop.abort();
      await loop;
    }
    // Closed: what the publisher sends now is received by no one.
    const received = gauges.zmq!.notifications;
    await announce(pub);
    await sleep(200);
    expect(gauges.zmq!.notifications).toBe(received);
  });
});
