/**
 * What a service holds for its clients, bounded (docs/serve.md, "Limits"): a whole-request
 * deadline that holds for a body trickled a byte at a time, connections in total and per
 * client address, and the bytes of the request bodies in flight. Each is Node's or fastify's
 * own mechanism where one exists; this file only sets them and keeps the two counts Node has
 * none for.
 *
 *   bound                        how                                              over it
 *   --request-timeout            Node's requestTimeout = headersTimeout, checked  408, the connection closed
 *                                every second (connectionsCheckingInterval); set
 *                                when the server is made (Node 20 reads it there)
 *   --max-connections            Node's server.maxConnections (public listener)   the connection closed at once
 *   --max-connections-per-address  a count per address (an IPv6 /64 is one        the connection closed at once
 *                                address; --trust-proxy peers are not counted)
 *   --max-body-bytes             the bytes read of every body in flight, from     503 E_SERVICE_BUSY, Retry-After
 *                                the first byte until the answer is sent
 *
 * A refused connection is counted in offchain_refusals_total (E_TOO_MANY_CONNECTIONS); the
 * bytes held and the connections open are gauges. Nothing here reads a body or a header value.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { isIPv4 } from 'node:net';
import type { Readable } from 'node:stream';
import proxyAddr from '@fastify/proxy-addr';
import { ExitCode, OffchainError } from '../../lib/errors.ts';

/** Node's timers for a whole request: its headers and body within `requestTimeoutMs`, checked every second. */
export function requestDeadline(requestTimeoutMs: number): { requestTimeout: number; headersTimeout: number; connectionsCheckingInterval: number } {
  return { requestTimeout: requestTimeoutMs, headersTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.min(1000, requestTimeoutMs) };
}

/** Whether a peer address is one of --trust-proxy's (fastify's own matcher: addresses and CIDRs). */
export function trustedPeer(trustProxy: string[] | undefined): (address: string | undefined) => boolean {
  if (!trustProxy || trustProxy.length === 0) return () => false;
  const trust = proxyAddr.compile(trustProxy);
  return (address) => address !== undefined && trust(address, 0);
}

/** An X-Request-Id a proxy may pass on: short, and nothing a log line or a header could be broken by. */
const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** fastify's genReqId: the proxy's X-Request-Id only from a --trust-proxy peer, else a fresh one. */
export function requestIdFrom(trusted: (address: string | undefined) => boolean): (req: IncomingMessage) => string {
  return (req) => {
    const given = req.headers['x-request-id'];
    if (typeof given === 'string' && REQUEST_ID.test(given) && trusted(req.socket.remoteAddress)) return given;
    return randomUUID();
  };
}

/** The client an address stands for: an IPv4 address (mapped ones too), or an IPv6 address's /64 (one host's usual share). */
export function clientOf(address: string): string {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIPv4(v4)) return v4;
  const [head = '', tail] = address.toLowerCase().split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])));
  const h = groups(head);
  const all = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - groups(tail).length)).fill('0'), ...groups(tail)];
  return `${all.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

/**
 * Caps on a listener's connections: `total` (Node's maxConnections, 0: none) and `perClient`
 * per clientOf(address) (0: none), a trusted proxy's own connections not counted there.
 * `refused` is told of each connection closed for it.
 */
export function capConnections(server: Server, caps: { total: number; perClient: number }, trusted: (address: string | undefined) => boolean, refused: () => void): void {
  if (caps.total > 0) {
    server.maxConnections = caps.total;
    server.on('drop', refused);
  }
  if (caps.perClient <= 0) return;
  const open = new Map<string, number>();
  server.on('connection', (socket) => {
    const address = socket.remoteAddress;
    if (address === undefined || trusted(address)) return;
    const client = clientOf(address);
    const n = open.get(client) ?? 0;
    if (n >= caps.perClient) {
      refused();
      socket.destroy();
      return;
    }
    open.set(client, n + 1);
    socket.once('close', () => {
      const left = (open.get(client) ?? 1) - 1;
      if (left === 0) open.delete(client);
      else open.set(client, left);
    });
  });
}

/**
 * The bytes of request bodies held now, across all requests: each body's bytes count from
 * the first read until its answer has gone (or its connection closed), and a byte that would
 * take the total past `max` ends that request with 503 E_SERVICE_BUSY.
 */
export class BodyBudget {
  private held = 0;

  constructor(private readonly max: number) {}

  /** Bytes held now (the gauge). */
  get bytes(): number {
    return this.held;
  }

  /**
   * fastify's preParsing hook: the body counted as it is read, released when the answer is
   * done. A listener on the request itself, ahead of fastify's body reader: a stream piped in
   * between (a Transform) cost ~0.05 ms of CPU a request, a fifth of the whole HTTP layer's
   * (0.24 ms a request at 8 users, load 6; the listener ~0.016). Over the budget, fastify's reader hears it as the body's error (it
   * listens for one on the request; nothing else does): the request is answered 503, and the
   * rest of its body is read and dropped, so the client reads that answer.
   */
  count(payload: Readable, res: ServerResponse): void {
    let mine = 0;
    let counting = true;
    const onChunk = (chunk: Buffer | string) => {
      if (!counting) return; // read after its answer left, or past its refusal: nothing holds it
      const n = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      if (this.held + n > this.max) {
        counting = false;
        // No reader listening (fastify refused the body before reading it): nothing to tell.
        if (payload.listenerCount('error') > 0) payload.emit('error', Object.assign(new OffchainError('E_SERVICE_BUSY', 'this service holds as many request bodies as it takes (--max-body-bytes): retry in a moment', ExitCode.general), { statusCode: 503 }));
        payload.resume();
        return;
      }
      this.held += n;
      mine += n;
    };
    res.once('close', () => {
      this.held -= mine;
      mine = 0;
      counting = false;
      payload.removeListener('data', onChunk);
    });
    // Prepended, and not through Readable's `on`: the request is not set flowing here (fastify's reader does that).
    payload.prependListener('data', onChunk);
  }
}
