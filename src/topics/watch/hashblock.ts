/**
 * Bitcoin Core's ZMQ `hashblock` (Core's doc/zmq.md) as a watcher's wake-up: at each block the
 * node announces, the loop looks at once instead of at its next poll. The endpoint is the one
 * given (--zmq-hashblock tcp://…), or, by default, the one the node announces
 * (getzmqnotifications' `pubhashblock`); the subscriber is the `zeromq` package's, an optional
 * dependency loaded here alone, once there is an endpoint.
 *
 * INVARIANTS (test/lib/watch/hashblock.test.ts, test/regtest/watch-zmq.test.ts):
 * - A notification only wakes the loop (./wake.ts): its hash and sequence number are not read —
 *   the round asks the node for its tip and walks its own view as at any poll. A notification
 *   lost (a node restart, a full queue; Core's doc/zmq.md: none when invalidateblock makes an
 *   older block the tip) costs the poll's delay, nothing more.
 * - Nothing here stops the watcher: no endpoint, a package that cannot be loaded, an endpoint
 *   that cannot be reached or does not speak ZMTP is one JSON log line per change of state, and
 *   the loop polls as it does without ZMQ.
 * - A node restart needs nothing: libzmq reconnects (after RECONNECT_MS, backing off to
 *   RECONNECT_MAX_MS) and subscribes again.
 * - Bounded: one socket, one receive loop, each message dropped as it is read (the queue holds
 *   RECEIVE_HWM at most; past it ZMQ drops, and a wake is pending already).
 */
import type { ChainSource } from '../../lib/chain/types.ts';
import type { WatchGaugeState, WatchLogger } from './service.ts';
import type { Wake } from './wake.ts';

/** libzmq's first reconnect delay (its default) and the most it backs off to: a restarted node is followed within seconds. */
export const RECONNECT_MS = 100;
export const RECONNECT_MAX_MS = 2_000;
/** Messages queued before ZMQ drops: each is a wake, and one pending wake is as good as many. */
export const RECEIVE_HWM = 16;

/** `--zmq-hashblock`: `auto` (the node's own, asked), `off`, or an endpoint. */
export type HashblockSetting = string;

type Subscriber = import('zeromq').Subscriber;

/**
 * Subscribe to `hashblock` as `setting` says, each notification a `wake.wake()`; the close to
 * call when the loop ends. Says in one log line how the chain is followed, and one more at each
 * change of the subscription's state (connected, unreachable, disconnected).
 */
export async function followHashblock(
  setting: HashblockSetting,
  chain: ChainSource,
  io: { wake: Wake; log: WatchLogger; gauges: WatchGaugeState; pollSeconds: number },
): Promise<{ close(): Promise<void> }> {
  const closed = { close: async () => undefined };
  const polling = `polling the node every ${io.pollSeconds} s`;
  let endpoint: string | undefined;
  if (setting === 'off') {
    io.log.info({ event: 'zmq', state: 'off' }, `--zmq-hashblock off: ${polling}`);
    return closed;
  }
  if (setting !== 'auto') endpoint = setting;
  else {
    try {
      endpoint = await chain.hashblockEndpoint?.();
    } catch (e) {
      io.log.warn({ event: 'zmq', state: 'unavailable', code: (e as { code?: string }).code ?? 'E_INTERNAL' }, `getzmqnotifications failed (${(e as Error).message}): ${polling}`);
      return closed;
    }
    if (endpoint === undefined) {
      io.log.info({ event: 'zmq', state: 'off' }, `the node publishes no ZMQ hashblock (bitcoind -zmqpubhashblock=tcp://127.0.0.1:28332 would wake the watcher at each block): ${polling}`);
      return closed;
    }
  }
  let socket: Subscriber;
  try {
    const { Subscriber } = await import('zeromq');
    socket = new Subscriber({ reconnectInterval: RECONNECT_MS, reconnectMaxInterval: RECONNECT_MAX_MS, receiveHighWaterMark: RECEIVE_HWM, ipv6: true, tcpKeepalive: 1, linger: 0 });
  } catch (e) {
    io.log.warn({ event: 'zmq', state: 'unavailable', endpoint }, `the zeromq package cannot be loaded (${(e as Error).message}): ${polling}`);
    return closed;
  }
  const zmq: NonNullable<WatchGaugeState['zmq']> = { endpoint, connected: false, notifications: 0 };
  // One line per change of state: libzmq retries every RECONNECT_MAX_MS at most, silently here.
  let said: 'connected' | 'down' | undefined;
  const down = (state: 'unreachable' | 'disconnected', why: string) => {
    zmq.connected = false;
    if (said === 'down') return;
    said = 'down';
    io.log.warn({ event: 'zmq', state, endpoint }, `ZMQ hashblock at ${endpoint} ${why}: ${polling}, reconnecting`);
  };
  // Listened to before connecting: a loopback handshake is over before a later listener would hear it.
  socket.events.on('handshake', () => {
    zmq.connected = true;
    if (said === 'connected') return;
    said = 'connected';
    io.log.info({ event: 'zmq', state: 'connected', endpoint }, `following the node's ZMQ hashblock at ${endpoint}, and polling every ${io.pollSeconds} s`);
  });
  socket.events.on('disconnect', () => down('disconnected', 'disconnected'));
  socket.events.on('connect:retry', () => down('unreachable', 'unreachable'));
  socket.events.on('handshake:error:protocol', () => down('unreachable', 'does not speak ZMQ'));
  socket.events.on('handshake:error:other', () => down('unreachable', 'does not speak ZMQ'));
  try {
    socket.connect(endpoint);
  } catch (e) {
    socket.close();
    io.log.warn({ event: 'zmq', state: 'unavailable', endpoint }, `ZMQ hashblock at ${endpoint} cannot be followed (${(e as Error).message}): ${polling}`);
    return closed;
  }
  socket.subscribe('hashblock');
  io.gauges.zmq = zmq;
  const receiving = (async () => {
    for await (const [topic] of socket) {
      if (topic?.toString() !== 'hashblock') continue;
      zmq.notifications++;
      io.wake.wake();
    }
  })().catch((e: unknown) => {
    zmq.connected = false;
    io.log.warn({ event: 'zmq', state: 'unavailable', endpoint }, `ZMQ hashblock at ${endpoint} stopped (${(e as Error).message}): ${polling}`);
  });
  return {
    close: async () => {
      socket.close();
      await receiving;
    },
  };
}
