/**
 * The flags every `serve` command shares (docs/serve.md, "Flags"): where it listens, the
 * operator's own listener, the limits of a request, the connections and body bytes held
 * (./limits.ts), the per-client rate limit, whose
 * X-Forwarded-For is believed, how long a drain may take, and the log level. Parsed here
 * into ServeOptions (./service.ts); a role's own flags (key, store, chain…) stay its topic's.
 */
import { jsonLogLevel } from '../../lib/cli/error-line.ts';
import { Flags } from '@oclif/core';
import { isIP } from 'node:net';
import { UsageError } from '../../lib/errors.ts';
import { printConfigFlags } from '../../lib/cli/flags.ts';
import type { ListenAt, ServeOptions } from './service.ts';

export const serveFlags = {
  listen: Flags.string({ description: 'the public listener, HOST:PORT (port 0: any free port; the address is printed on the first line of standard output)', helpValue: 'HOST:PORT', helpGroup: 'SERVICE' }),
  'operator-listen': Flags.string({
    description: 'the operator\'s listener (metrics, lists, exits): a loopback HOST:PORT or unix:PATH; it has no authentication, so any other address is refused. Default: none',
    helpValue: 'HOST:PORT|unix:PATH',
    helpGroup: 'SERVICE',
  }),
  'body-limit': Flags.integer({ description: 'largest request body, bytes (413 E_INPUT_TOO_LARGE above it)', default: 65_536, min: 1024, max: 32 * 1024 * 1024, helpGroup: 'SERVICE' }),
  'request-timeout': Flags.integer({ description: 'seconds a client has to send its whole request, headers and body, however slowly it trickles (408 and the connection closed after)', default: 10, min: 1, max: 3600, helpGroup: 'SERVICE' }),
  'max-connections': Flags.integer({ description: 'connections open at once on the public listener; more are closed as they come. 0: no cap', default: 512, min: 0, max: 1_000_000, helpGroup: 'SERVICE' }),
  'max-connections-per-address': Flags.integer({ description: 'connections open at once from one client address (an IPv6 /64 counts as one; --trust-proxy peers are not counted); more are closed as they come. 0: no cap', default: 16, min: 0, max: 1_000_000, helpGroup: 'SERVICE' }),
  'max-body-bytes': Flags.integer({ description: 'bytes of request bodies held at once across all requests, each from its first byte until its answer left (503 E_SERVICE_BUSY past it)', default: 32 * 1024 * 1024, min: 256 * 1024, max: 1024 * 1024 * 1024, helpGroup: 'SERVICE' }),
  'step-timeout': Flags.integer({ description: 'seconds a step may take before the client is answered 503 E_STEP_TIMEOUT (the step is not cancelled: it commits or rolls back, and a retry gets its stored answer)', default: 30, min: 1, max: 3600, helpGroup: 'SERVICE' }),
  'rate-limit': Flags.integer({ description: 'requests per client address per --rate-window on the public listener (429 E_RATE_LIMITED above it); 0: no limit', default: 600, min: 0, max: 10_000_000, helpGroup: 'SERVICE' }),
  'rate-window': Flags.integer({ description: 'the rate limit\'s window, seconds', default: 60, min: 1, max: 86_400, helpGroup: 'SERVICE' }),
  'trust-proxy': Flags.string({ description: 'addresses or CIDRs of reverse proxies whose X-Forwarded-For and X-Request-Id are believed (comma-separated). Default: none, the peer\'s own address counts', helpValue: 'CIDR,…', helpGroup: 'SERVICE' }),
  'drain-timeout': Flags.integer({ description: 'on SIGTERM: seconds to finish the requests in flight before exiting 1 anyway', default: 30, min: 1, max: 3600, helpGroup: 'SERVICE' }),
  'log-level': Flags.string({ description: 'the JSON log on standard error', options: ['fatal', 'error', 'warn', 'info', 'debug', 'silent'], default: 'info', helpGroup: 'SERVICE' }),
  ...printConfigFlags,
};

export type ServeFlagValues = {
  listen?: string; 'operator-listen'?: string; 'body-limit': number; 'request-timeout': number; 'step-timeout': number;
  'max-connections': number; 'max-connections-per-address': number; 'max-body-bytes': number;
  'rate-limit': number; 'rate-window': number; 'trust-proxy'?: string; 'drain-timeout': number; 'log-level': string;
};

/** HOST:PORT ([v6]:PORT too), or unix:PATH where `unix` is allowed. */
export function parseListen(text: string, flag: string, allowUnix: boolean): ListenAt {
  if (text.startsWith('unix:')) {
    if (!allowUnix) throw new UsageError('E_USAGE', `${flag} takes HOST:PORT, not a unix socket`);
    const path = text.slice(5);
    if (path === '') throw new UsageError('E_USAGE', `${flag} unix: needs a path`);
    return { path };
  }
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):([0-9]{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || host === undefined || port > 65_535) throw new UsageError('E_USAGE', `${flag} must be HOST:PORT (e.g. 127.0.0.1:8338, [::1]:8338), got ${JSON.stringify(text)}`);
  return { host, port };
}

/** A loopback address: the operator's listener has no authentication, so only these (or a unix socket). */
function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** --operator-listen: a loopback HOST:PORT or unix:PATH (the listener has no authentication). The services' and the watcher's. */
export function parseOperatorListen(text: string): ListenAt {
  const at = parseListen(text, '--operator-listen', true);
  if ('host' in at && !isLoopback(at.host)) {
    throw new UsageError('E_USAGE', `--operator-listen ${text}: the operator's listener has no authentication, so it takes a loopback address (127.0.0.1, ::1) or unix:PATH only; put a proxy with authentication in front to reach it from elsewhere`);
  }
  return at;
}

/** The shared flags as options; `port` is the role's default public port. */
export function serveOptions(f: ServeFlagValues, port: number): Omit<ServeOptions, 'role' | 'group' | 'network'> {
  // The log's level holds from here for the lines besides pino's (./log.ts): a note at info is not written under --log-level warn.
  jsonLogLevel(f['log-level']);
  const listen = parseListen(f.listen ?? `127.0.0.1:${port}`, '--listen', false) as { host: string; port: number };
  const operatorListen = f['operator-listen'] === undefined ? undefined : parseOperatorListen(f['operator-listen']);
  const trustProxy = f['trust-proxy']?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const t of trustProxy ?? []) {
    const [addr, bits] = t.split('/');
    if (isIP(addr ?? '') === 0 || (bits !== undefined && !/^[0-9]{1,3}$/.test(bits))) throw new UsageError('E_USAGE', `--trust-proxy takes addresses or CIDRs, got ${JSON.stringify(t)}`);
  }
  return {
    listen,
    ...(operatorListen ? { operatorListen } : {}),
    bodyLimit: f['body-limit'],
    requestTimeoutMs: f['request-timeout'] * 1000,
    stepTimeoutMs: f['step-timeout'] * 1000,
    maxConnections: f['max-connections'],
    maxConnectionsPerAddress: f['max-connections-per-address'],
    maxBodyBytes: f['max-body-bytes'],
    rateLimit: f['rate-limit'] === 0 ? undefined : { max: f['rate-limit'], windowMs: f['rate-window'] * 1000 },
    ...(trustProxy && trustProxy.length > 0 ? { trustProxy } : {}),
    drainTimeoutMs: f['drain-timeout'] * 1000,
    logLevel: f['log-level'],
  };
}
