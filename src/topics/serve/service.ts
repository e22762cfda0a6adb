/**
 * The shell every `serve` command runs (docs/serve.md): one HTTP endpoint per step, taking
 * the JSON message a pipe carries and answering the bytes the one-shot command prints
 * (`stringifyMessage`), with the limits, logs, metrics and drain a network service needs.
 * A role gives its table of routes (./<role>-routes.ts) as a fastify plugin (./routes-plugin.ts:
 * each route's JSON Schemas checked by the library's own decoders before its step); this file
 * knows no protocol.
 *
 *   what                          where
 *   POST body                     read by our JSON reader (E_MALFORMED_JSON line/column), never fastify's;
 *                                 then the route's schema (./routes-plugin.ts): refused before the step
 *   2xx body                      stringifyMessage(answer): the one-shot's stdout, byte for byte
 *   refusal                       {type:"<group>/error",version:1,network,code,exit_code,message}
 *                                 exit 2/3 → 400, 4 → 422, 5 → 409, 1 → 500; unavailable → 503 + Retry-After
 *   NUT routes' refusal           NUT-00 {"detail","code"}, 400
 *   /healthz                      both listeners: 200 ok, 503 draining
 *   /metrics                      the operator's listener only (Prometheus text)
 *   operator routes               the operator's listener only: 404 on the public one
 *   logs                          JSON on standard error: request id, route, status, time, code — never a body
 *   limits                        ./limits.ts: a whole-request deadline, connections in all and per address,
 *                                 the bytes of bodies in flight; X-Request-Id only from a --trust-proxy peer
 *
 * Invariants: an answer leaves only once the step returned (the step commits before it
 * returns); a step is never cancelled by the service — a step timeout answers 503 and the
 * step still commits or rolls back, so the client's retry gets its stored answer; SIGTERM
 * stops taking connections, finishes what is in flight, then runs the role's drain.
 */
import { chmodSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ExitCode, OffchainError, MalformedInputError } from '../../lib/errors.ts';
import { stringifyLine, stringifyMessage } from '../../lib/json.ts';
import { parseJson } from '../../lib/cli/input.ts';
import { ServiceMetrics, type Gauge } from './metrics.ts';
import { refusal, type FastifyLike } from './refusal.ts';
import { BodyBudget, capConnections, requestDeadline, requestIdFrom, trustedPeer } from './limits.ts';
import { routePlugin, type RoutePlugin } from './routes-plugin.ts';
import { Answer, type Listener, type Route } from './route.ts';

export { Answer, type Listener, type Route, type RouteRequest } from './route.ts';

export type ListenAt = { host: string; port: number } | { path: string };

export type ServeOptions = {
  role: string;
  /** The message group of the role's refusals: `<group>/error`. */
  group: string;
  network: string;
  listen: { host: string; port: number };
  operatorListen?: ListenAt;
  bodyLimit: number;
  /** The whole request, headers and body, within this (408 after). */
  requestTimeoutMs: number;
  stepTimeoutMs: number;
  /** Connections on the public listener in all, and per client address (0: no cap). */
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** The bytes of request bodies held at once, across all requests (503 E_SERVICE_BUSY past it). */
  maxBodyBytes: number;
  rateLimit: { max: number; windowMs: number } | undefined;
  trustProxy?: string[];
  drainTimeoutMs: number;
  logLevel: string;
};

export type ServiceHooks = {
  /** Gauges read at each scrape (open contracts, nonces outstanding): one cheap query each. */
  gauges?: Gauge[];
  /** After the listeners closed and in-flight requests finished: flush and close the role's store. */
  drain?: () => Promise<void>;
  /** The role's part of GET /v1/info (./info.ts infoHook): version, store, chain tip, watcher. */
  info?: () => Promise<Record<string, unknown>>;
};

export type RunningService = {
  urls: { public: string; operator?: string };
  /** Stop as SIGTERM does; resolves with the exit code. */
  stop(): Promise<number>;
  /** Resolves with the exit code once the service stopped (signal, stop()). */
  done: Promise<number>;
  /** Requests being served right now. */
  inflight(): number;
  /** The listeners' fastify instances: a test injects requests where the socket is not the point. */
  apps: { public: FastifyInstance; operator?: FastifyInstance };
};

/** Our JSON reader on a request body: the one-shot's E_MALFORMED_JSON text, not fastify's; a name twice in one object refused. */
function parseBody(text: string): unknown {
  if (text.trim() === '') throw new MalformedInputError('E_EMPTY_INPUT', 'the request body is empty: send one JSON message');
  return parseJson(text, 'the request body');
}

function urlOf(app: FastifyInstance): string {
  const a = app.server.address();
  if (a === null) return 'closed';
  if (typeof a === 'string') return `unix:${a}`;
  return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}

/**
 * Start the listeners with the roles' routes; resolves once both listen. The caller prints
 * `urls` and awaits `done`, which SIGTERM/SIGINT (or `stop()`) resolves after the drain.
 */
export async function startService(opts: ServeOptions, roles: readonly RoutePlugin[] | readonly Route[], hooks: ServiceHooks = {}): Promise<RunningService> {
  return (await buildService(opts, roles, hooks)).listen();
}

/** The service built and not listening: its apps answer inject() (the tests where the socket is not the point). */
export type BuiltService = {
  apps: { public: FastifyInstance; operator?: FastifyInstance };
  /** Listen (the operator's listener first), and take SIGTERM/SIGINT. */
  listen(): Promise<RunningService>;
  /** Close the apps of a service that never listened (its drain is not run). */
  close(): Promise<void>;
};

/**
 * The listeners' fastify instances, each with the roles' plugins (a table of routes is made
 * one: `routePlugin`) registered with that listener's routes, ready and not listening.
 */
export async function buildService(opts: ServeOptions, roles: readonly RoutePlugin[] | readonly Route[], hooks: ServiceHooks = {}): Promise<BuiltService> {
  const plugins: readonly RoutePlugin[] = roles.length > 0 && typeof roles[0] === 'function' ? (roles as readonly RoutePlugin[]) : [routePlugin(roles as readonly Route[])];
  const { default: fastify, LogController } = await import('fastify');
  const { default: pino } = await import('pino');
  const logger = pino(
    {
      level: opts.logLevel,
      base: { role: opts.role },
      timestamp: pino.stdTimeFunctions.isoTime,
      // A second defence: no handler logs a body or a header, and these are censored if one ever did.
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.preimage', '*.seed', '*.password', '*.secret', 'body'], censor: '[redacted]' },
      serializers: {
        req: (req: FastifyRequest) => ({ id: req.id, method: req.method, route: req.routeOptions?.url ?? 'unknown', remote: req.ip }),
        res: (res: FastifyReply) => ({ status: res.statusCode }),
      },
    },
    pino.destination({ dest: 2, sync: true }),
  );
  /** Whether each request's 'served' line is written (--log-level info or debug): the level holds for the process's life. */
  const logsRequests = logger.isLevelEnabled('info');
  const budget = new BodyBudget(opts.maxBodyBytes);
  const trusted = trustedPeer(opts.trustProxy);
  let publicServer: import('node:http').Server | undefined;
  const metrics = new ServiceMetrics(opts.role, [
    ...(hooks.gauges ?? []),
    { name: 'offchain_http_body_bytes_held', help: 'Bytes of request bodies held now, across all requests (--max-body-bytes)', read: async () => budget.bytes },
    { name: 'offchain_http_connections', help: 'Connections open on the public listener (--max-connections)', read: () => new Promise((res, rej) => publicServer ? publicServer.getConnections((e, n) => (e ? rej(e) : res(n))) : rej(new Error('not listening'))) },
  ]);
  await metrics.ready();
  let draining = false;
  let inflight = 0;
  /** Set once listening (GET /v1/info's uptime). */
  const listening: { since?: number } = {};

  /** A route's step as the service runs it: refused while draining, counted, within --step-timeout. */
  const run = async (route: Route, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    if (draining) throw new OffchainError('E_DRAINING', 'this service is stopping: retry on another instance or later', ExitCode.general);
    inflight++;
    // The request is in: from here the step's limit applies, not the sender's. A socket
    // left at connectionTimeout (--request-timeout of silence) was dropped under a step
    // waiting for its store, before its 503 E_STEP_TIMEOUT could be sent.
    // Set once per connection: it stays set (the body just read restarted its clock), and each
    // call made and dropped a timer.
    const socket = req.raw.socket;
    if (socket && socket.timeout !== opts.stepTimeoutMs + opts.requestTimeoutMs) socket.setTimeout?.(opts.stepTimeoutMs + opts.requestTimeoutMs);
    const stop = metrics.start(route.step);
    try {
      const answer = await withTimeout(route.handle({ body: req.body, params: req.params as Record<string, string>, query: req.query as Record<string, string | undefined>, id: req.id }), opts.stepTimeoutMs);
      const a = answer instanceof Answer ? answer : new Answer(200, answer);
      stop('answered');
      return reply.code(a.status).headers(a.headers).type('application/json').send(stringifyMessage(a.value));
    } catch (e) {
      stop(e instanceof OffchainError && e.exitCode !== ExitCode.general ? 'refused' : 'failed');
      throw e;
    } finally {
      inflight--;
    }
  };

  /**
   * A path the router cannot read (a bad %-escape, a part over fastify's 100 characters): fastify
   * answers it before any route or hook — its own uncoded body, the path echoed, no log line, no
   * count — unless given this. The refusal then is ours, logged and counted as any other.
   */
  const unreadablePath = (e: FastifyLike, req: FastifyRequest, reply: FastifyReply): void => {
    const r = refusal(new MalformedInputError('E_MALFORMED_REQUEST', e.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'the path has a part longer than 100 characters' : 'the path has a %-escape that is not one (%XX, hexadecimal digits)'), opts);
    metrics.refused(r.code);
    req.log.info({ req, status: r.status, code: r.code }, 'served');
    void reply.code(r.status).header('x-request-id', req.id).type('application/json').send(r.body);
  };

  const build = async (listener: Listener): Promise<FastifyInstance> => {
    const app = fastify({
      frameworkErrors: unreadablePath,
      loggerInstance: logger as unknown as import('fastify').FastifyBaseLogger,
      logController: new LogController({ disableRequestLogging: true }),
      bodyLimit: opts.bodyLimit,
      // The deadline of a whole request, headers and body: Node reads these when the server is
      // made (set after, as fastify's requestTimeout does, a body trickled a byte a second was
      // held until headersTimeout, 60 s, plus the check's 30 s interval).
      http: requestDeadline(opts.requestTimeoutMs),
      requestTimeout: opts.requestTimeoutMs,
      connectionTimeout: opts.requestTimeoutMs,
      keepAliveTimeout: 5000,
      // Not fastify's own 503 while closing (an uncoded body): our handlers answer it — /healthz draining, a step E_DRAINING.
      return503OnClosing: false,
      forceCloseConnections: 'idle',
      // A client's own X-Request-Id only through a --trust-proxy peer (never one connecting directly).
      genReqId: requestIdFrom(trusted),
      requestIdHeader: false,
      trustProxy: listener === 'public' && opts.trustProxy ? opts.trustProxy : false,
      routerOptions: { ignoreTrailingSlash: true },
    });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, parseBody(body as string));
      } catch (e) {
        done(e as Error, undefined);
      }
    });
    // The hooks take fastify's callback (an async hook is run through a promise on every
    // request), and the 'served' line's clock and hook exist only where that line is written:
    // below info (the benches' warn), a request runs three hooks, none of them async.
    app.addHook('onRequest', (req, reply, done) => {
      reply.header('x-request-id', req.id);
      if (logsRequests) (req as { started?: bigint }).started = process.hrtime.bigint();
      done();
    });
    if (listener === 'public') {
      publicServer = app.server;
      capConnections(app.server, { total: opts.maxConnections, perClient: opts.maxConnectionsPerAddress }, trusted, () => metrics.refused('E_TOO_MANY_CONNECTIONS'));
      app.addHook('preParsing', (_req, reply, payload, done) => {
        budget.count(payload, reply.raw);
        done(null, payload);
      });
    }
    // While draining, every answer closes its connection: a kept-alive socket would hold the close open.
    app.addHook('onSend', (_req, reply, payload, done) => {
      if (draining) reply.header('connection', 'close');
      done(null, payload);
    });
    if (logsRequests) {
      app.addHook('onResponse', (req, reply, done) => {
        const started = (req as { started?: bigint }).started;
        const ms = started === undefined ? undefined : Number(process.hrtime.bigint() - started) / 1e6;
        const code = (reply as { refusedWith?: string }).refusedWith;
        req.log.info({ req, status: reply.statusCode, ms: ms === undefined ? undefined : Math.round(ms * 10) / 10, ...(code ? { code } : {}) }, 'served');
        done();
      });
    }
    if (listener === 'public' && opts.rateLimit) {
      const { default: rateLimit } = await import('@fastify/rate-limit');
      await app.register(rateLimit, {
        global: true,
        max: opts.rateLimit.max,
        timeWindow: opts.rateLimit.windowMs,
        hook: 'onRequest',
        keyGenerator: (req) => req.ip,
        errorResponseBuilder: (_req, ctx) => Object.assign(new OffchainError('E_RATE_LIMITED', `more than ${ctx.max} requests from this address within ${ctx.after}: retry later`, ExitCode.general, { retry_after: Math.ceil(ctx.ttl / 1000) }), { statusCode: 429 }),
      });
    }
    app.setNotFoundHandler((req, reply) => {
      const r = refusal(new OffchainError('E_NO_SUCH_ENDPOINT', `no ${req.method} ${req.url.split('?')[0]} on this listener (docs/serve.md lists the endpoints)`, ExitCode.usage), opts);
      (reply as { refusedWith?: string }).refusedWith = r.code;
      metrics.refused(r.code);
      void reply.code(r.status).type('application/json').send(r.body);
    });
    app.setErrorHandler((e, req, reply) => {
      const shape = (req.routeOptions?.config as { shape?: 'offchain' | 'nut' } | undefined)?.shape ?? 'offchain';
      const r = refusal(e, opts, shape);
      if (r.status >= 500 && r.code === 'E_INTERNAL') req.log.error({ err: { message: (e as Error).message, stack: (e as Error).stack } }, 'internal error');
      (reply as { refusedWith?: string }).refusedWith = r.code;
      if (!(e instanceof OffchainError) || e.code !== 'E_RATE_LIMITED') metrics.refused(r.code);
      void reply.code(r.status).headers(r.headers).type('application/json').send(r.body);
    });
    const health = async (_req: FastifyRequest, reply: FastifyReply) => {
      void reply.code(draining ? 503 : 200).type('application/json').send(stringifyLine({ status: draining ? 'draining' : 'ok' }));
    };
    app.get('/healthz', { config: { rateLimit: false } }, health);
    if (listener === 'operator') {
      app.get('/metrics', async (_req, reply) => {
        void reply.type(metrics.contentType).send(await metrics.text());
      });
      // What this service is and how it is doing (schemas/serve.info.json): never a failure for the node (./info.ts).
      app.get('/v1/info', async (_req, reply) => {
        const { backendSelection } = await import('../../lib/musig/bip327.ts');
        const role = await hooks.info?.();
        const uptime = listening.since === undefined ? 0 : Math.floor((Date.now() - listening.since) / 1000);
        void reply.type('application/json').send(stringifyMessage({
          type: 'serve/info', version: 1, network: opts.network, role: opts.role, ...role,
          secp256k1: backendSelection().engine, uptime_s: uptime, listening: { public: urlOf(pub), operator: urlOf(op!) },
        }));
      });
    }
    for (const plugin of plugins) await app.register(plugin, { listener, network: opts.network, bodyLimit: opts.bodyLimit, run });
    return app;
  };

  const pub = await build('public');
  const op = opts.operatorListen ? await build('operator') : undefined;
  await Promise.all([pub.ready(), op?.ready()]);
  return {
    apps: { public: pub, ...(op ? { operator: op } : {}) },
    close: async () => {
      await Promise.all([pub.close(), op?.close()]);
    },
    listen: () => listen(opts, { pub, op, logger, hooks, state: { drain: () => void (draining = true), inflight: () => inflight, listening } }),
  };
}

type Built = {
  pub: FastifyInstance; op: FastifyInstance | undefined; logger: import('pino').Logger; hooks: ServiceHooks;
  state: { drain(): void; inflight(): number; listening: { since?: number } };
};

async function listen(opts: ServeOptions, { pub, op, logger, hooks, state }: Built): Promise<RunningService> {
  try {
    // The operator's first, before any request can be served: its socket is made under umask 0177.
    if (op && opts.operatorListen) await listenOperator(op, opts.operatorListen);
    await pub.listen({ host: opts.listen.host, port: opts.listen.port });
  } catch (e) {
    await Promise.allSettled([pub.close(), op?.close()]);
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE' || err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL') throw new OffchainError('E_LISTEN', `cannot listen (${err.code}): ${err.message.split('\n')[0]}`, ExitCode.usage);
    throw e;
  }
  const urls = { public: urlOf(pub), ...(op ? { operator: urlOf(op) } : {}) };
  state.listening.since = Date.now();
  const { backendSelection } = await import('../../lib/musig/bip327.ts');
  logger.info({ urls, network: opts.network, secp256k1: backendSelection().engine }, 'listening');

  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((res) => (resolveDone = res));
  let stopping: Promise<number> | undefined;
  const stop = (): Promise<number> => {
    if (stopping) return stopping;
    state.drain();
    logger.info({ inflight: state.inflight() }, 'draining');
    stopping = (async () => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<number>((res) => {
        timer = setTimeout(() => {
          logger.error({ inflight: state.inflight() }, 'drain timed out: exiting with requests in flight (each commits or rolls back; a retry gets its stored answer)');
          res(1);
        }, opts.drainTimeoutMs);
      });
      const orderly = (async () => {
        await Promise.all([pub.close(), op?.close()]);
        await hooks.drain?.();
        logger.info('stopped');
        return 0;
      })();
      const code = await Promise.race([orderly, late]);
      clearTimeout(timer);
      return code;
    })();
    void stopping.then(resolveDone, (e) => {
      logger.error({ err: { message: (e as Error).message } }, 'drain failed');
      resolveDone(1);
    });
    return stopping;
  };
  const onSignal = () => {
    if (stopping) {
      logger.error({ inflight: state.inflight() }, 'second signal: exiting now');
      resolveDone(1);
      return;
    }
    void stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  void done.finally(() => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  });
  return { urls, stop, done, inflight: state.inflight, apps: { public: pub, ...(op ? { operator: op } : {}) } };
}

/**
 * The operator's listener. Its unix socket is made 0600 — whoever can connect acts as the
 * operator — whatever the process umask: bind(2) makes it under the umask, so the umask is
 * 0177 while it binds (nothing else runs then: no listener is up yet), and the mode is set
 * again after, in case a filesystem did not apply it.
 */
async function listenOperator(op: FastifyInstance, at: ListenAt): Promise<void> {
  if (!('path' in at)) {
    await op.listen({ host: at.host, port: at.port });
    return;
  }
  await op.ready();
  let umask: number | undefined;
  try {
    umask = process.umask(0o177);
  } catch {
    // A worker thread may not change the umask (the tests' library workers): the chmod below alone.
  }
  try {
    await op.listen({ path: at.path });
  } finally {
    if (umask !== undefined) process.umask(umask);
  }
  chmodSync(at.path, 0o600);
}

/**
 * The step's answer, or 503 E_STEP_TIMEOUT once `ms` passed; the step goes on either way. One
 * promise and one timer a request (an async function racing a second promise made three more).
 */
function withTimeout<T>(step: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new OffchainError('E_STEP_TIMEOUT', `the step did not answer within ${ms / 1000} s (--step-timeout); it is not cancelled: retry the same message for its answer`, ExitCode.general)), ms);
    step.then((v) => {
      clearTimeout(timer);
      resolve(v);
    }, (e: unknown) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** The first line a service prints on standard output: where it listens (a supervisor, or a test that asked for port 0, reads it). */
export function announcement(role: string, urls: RunningService['urls']): Record<string, unknown> {
  return { type: 'serve/listening', version: 1, role, public: urls.public, ...(urls.operator ? { operator: urls.operator } : {}) };
}
