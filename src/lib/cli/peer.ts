/**
 * The counterpart's side of `serve` (`--peer URL`): send one message to a service and read
 * its answer. Protocol-free: bytes out, a JSON value or a coded refusal back.
 *
 * Retries are safe by construction: the same bytes go every time, and every service step
 * answers the same message with the same answer (stored before it leaves). So a request
 * is sent again on anything that may not have reached the step or whose answer was lost —
 * a refused or dropped connection, a timeout, 408, 429, 502, 503, 504 (after its
 * Retry-After) — with exponential backoff and jitter for `retryForMs` (--peer-timeout,
 * default 60 s: longer than a service's restart), and never on a refusal (another 4xx, 5xx
 * with a code), which is raised as the one-shot command's own error: the same code and exit
 * code, one line on stderr — never exit 0, whatever exit_code the service wrote. A redirect
 * is not followed.
 */
import { request as httpRequest } from 'node:http';
import { ExitCode, OffchainError, UsageError } from '../errors.ts';
import { refuseInsideStep } from '../store/sqlite/database.ts';

export type PeerCall = {
  /** The message, exactly as a pipe would carry it; absent for a GET. */
  body?: string;
  /** Sent as the Offchain-Contract header, for a proxy that routes by contract (public: it is in the body too). */
  contract?: string;
  /** How long to keep sending the request again while no answer comes, ms (default 60 s; --peer-timeout): no attempt starts after it. */
  retryForMs?: number;
  /** At most this many attempts (default: as many as `retryForMs` allows). */
  attempts?: number;
  /** Per attempt, ms (default 60 s). */
  timeoutMs?: number;
  /** What the error says once no answer came: how to send the same request again later (default: the same command again). */
  resend?: string;
  /** Told of each retry: what went wrong and when the next attempt is. */
  onRetry?: (why: string, waitMs: number) => void;
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
};

/** --peer-timeout's default, seconds: a service restarted (a deploy, kill -9 and its supervisor) is back well within it. */
export const PEER_RETRY_SECONDS = 60;
/** A command's --peer-timeout (seconds) as callPeer's `retryForMs`. */
export function peerRetry(seconds: number | undefined): { retryForMs?: number } {
  return seconds === undefined ? {} : { retryForMs: seconds * 1000 };
}
/** The backoff's first wait and its ceiling, ms (each wait between half and all of it: jitter). */
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5000;

/** A service's base URL from --peer (or $OFFCHAIN_PEER): http(s) only, never with credentials in it. */
export function peerUrl(text: string, flag = '--peer'): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError('E_USAGE', `${flag} must be a URL such as http://127.0.0.1:8338, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('E_USAGE', `${flag} must be an http:// or https:// URL, got ${url.protocol}`);
  if (url.username !== '' || url.password !== '') throw new UsageError('E_SECRET_ON_ARGV', `${flag} carries credentials in the URL, which every process listing shows: put them in a proxy or a config file instead`);
  if (url.search !== '' || url.hash !== '') throw new UsageError('E_USAGE', `${flag} is a base URL without query or fragment, got ${JSON.stringify(text)}`);
  return url;
}

/** Join a base URL (which may carry a path prefix behind a proxy) and an endpoint path. */
export function endpoint(base: URL, path: string): URL {
  const prefix = base.pathname.replace(/\/+$/, '');
  return new URL(`${prefix}${path}`, base);
}

const RETRY_STATUS = new Set([408, 429, 502, 503, 504]);

/**
 * The most an answer may hold: every answer of every service is far smaller (a NUT-09 restore
 * of 1,000 outputs is about 300 KB). A longer one is not read on — a hostile service made a
 * client read 400 MB — and is E_PEER_ANSWER, not retried.
 */
export const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/**
 * One call: the answer's JSON value on 2xx; the service's refusal as an OffchainError (its
 * code and exit code, never 0); once `retryForMs` passed without an answer, the last
 * transient refusal (a 503's code) or E_PEER_UNREACHABLE (exit 1), each saying `resend`.
 */
export async function callPeer(base: URL, path: string, call: PeerCall = {}): Promise<{ status: number; value: unknown; text: string }> {
  const url = endpoint(base, path);
  const sleep = call.sleep ?? ((ms: number) => new Promise<void>((res) => setTimeout(res, ms)));
  const now = call.now ?? (() => performance.now());
  const timeoutMs = call.timeoutMs ?? 60_000;
  const started = now();
  const retryForMs = call.retryForMs ?? PEER_RETRY_SECONDS * 1000;
  const deadline = started + retryForMs;
  let last = '';
  for (let i = 1; ; i++) {
    let retryAfterMs: number | undefined;
    let transient: OffchainError | undefined;
    try {
      const res = await send(url, call.body === undefined ? 'GET' : 'POST', {
        accept: 'application/json', ...(call.body === undefined ? {} : { 'content-type': 'application/json' }), ...(call.contract ? { 'offchain-contract': call.contract } : {}),
      }, call.body, timeoutMs);
      const text = res.text;
      const value = parseAnswer(text);
      if (res.ok) {
        if (value === undefined) throw new OffchainError('E_PEER_ANSWER', `${url.origin} answered ${res.status} with a body that is not JSON`, ExitCode.general);
        return { status: res.status, value, text };
      }
      const refused = asRefusal(value);
      if (!RETRY_STATUS.has(res.status)) {
        if (refused) throw refused;
        throw new OffchainError('E_PEER_ANSWER', `${url.origin}${url.pathname} answered HTTP ${res.status} without a coded refusal: is --peer the right service?`, ExitCode.general);
      }
      transient = refused;
      last = refused ? `${refused.code} (HTTP ${res.status})` : `HTTP ${res.status}`;
      const ra = Number(res.retryAfter);
      if (Number.isFinite(ra) && ra > 0) retryAfterMs = Math.min(ra, 30) * 1000;
    } catch (e) {
      if (e instanceof OffchainError) throw e;
      const err = e as Error & { cause?: { code?: string } };
      last = err.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : ((err as NodeJS.ErrnoException).code ?? err.cause?.code ?? err.message);
    }
    const left = deadline - now();
    if (i >= (call.attempts ?? Infinity) || left <= 0) {
      const again = call.resend ?? 'the same message may be sent again safely: run the same command again';
      // A service that stayed unavailable: its own code (E_PAYMENT_PENDING, E_DRAINING, …), and the way to send it again.
      if (transient) throw new OffchainError(transient.code, `${transient.message}; ${again}`, transient.exitCode);
      throw new OffchainError('E_PEER_UNREACHABLE', `${url.origin} did not answer: ${i} attempts over ${((now() - started) / 1000).toFixed(1)} s (--peer-timeout ${retryForMs / 1000}; last: ${last}); ${again}`, ExitCode.general);
    }
    // Exponential backoff with jitter (half to all of it), never past the deadline: a last attempt goes at it.
    const backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (i - 1));
    const wait = Math.min(left, retryAfterMs ?? Math.round(backoff / 2 + Math.random() * (backoff / 2)));
    call.onRetry?.(last, wait);
    await sleep(wait);
  }
}

/**
 * One HTTP exchange on node:http (node:https for an https URL): status, body as text, and
 * Retry-After. Not fetch: a fresh process pays for undici and its WASM HTTP parser on the
 * first fetch (~110 ms of CPU on the bench machine, more than a toll's protocol work),
 * while node:http costs ~3 ms (imported with this module, which
 * only --peer commands load; node:https when the URL is https). A redirect is never followed (the message goes
 * only where --peer says): a 3xx is an answer like any other non-2xx. `timeoutMs` bounds
 * the whole exchange, the answer's body included (a TimeoutError, as AbortSignal.timeout).
 */
function send(url: URL, method: 'GET' | 'POST', headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<{ status: number; ok: boolean; text: string; retryAfter: string | undefined }> {
  // node:https (and node:tls under it, ~2 ms of a start) only for an https URL.
  const request = url.protocol === 'https:' ? (process.getBuiltinModule('node:https') as typeof import('node:https')).request : httpRequest;
  // A message goes to a peer only after the COMMIT of the step that records it (store/sqlite/database.ts).
  refuseInsideStep('a message to a peer');
  const bytes = body === undefined ? undefined : Buffer.from(body, 'utf8');
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { ...headers, ...(bytes ? { 'content-length': String(bytes.length) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const tooLong = () => fail(new OffchainError('E_PEER_ANSWER', `${url.origin} answered more than ${MAX_ANSWER_BYTES} bytes, which no answer of a service is: is --peer the right service?`, ExitCode.general));
      if (Number(res.headers['content-length']) > MAX_ANSWER_BYTES) return tooLong();
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) return tooLong();
        chunks.push(c);
      });
      res.on('error', fail);
      res.on('aborted', () => fail(Object.assign(new Error('the answer was cut off'), { code: 'ECONNRESET' })));
      res.on('end', () => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        const ra = res.headers['retry-after'];
        resolve({ status, ok: status >= 200 && status < 300, text: Buffer.concat(chunks).toString('utf8'), retryAfter: Array.isArray(ra) ? ra[0] : ra });
      });
    });
    function fail(e: Error): void {
      clearTimeout(timer);
      req.destroy();
      reject(e);
    }
    const timer = setTimeout(() => fail(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { name: 'TimeoutError' })), timeoutMs);
    req.on('error', fail);
    req.end(bytes);
  });
}

function parseAnswer(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The exit codes a refusal may carry: never 0 (a refusal is a failure, whatever the service wrote), nor one the CLI does not define — those are 1. */
const EXIT_CLASSES = new Set<number>([ExitCode.general, ExitCode.usage, ExitCode.malformed, ExitCode.refused, ExitCode.state]);

/** A service's coded refusal ({type:"…/error", code, exit_code, message}) as the error the one-shot raises. */
function asRefusal(value: unknown): OffchainError | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.type !== 'string' || !v.type.endsWith('/error') || typeof v.code !== 'string' || !/^E_[A-Z0-9_]{1,60}$/.test(v.code)) return undefined;
  const exit = typeof v.exit_code === 'number' && EXIT_CLASSES.has(v.exit_code) ? (v.exit_code as ExitCode) : ExitCode.general;
  // The service's words, on one line and bounded: they go to our stderr.
  const message = typeof v.message === 'string' ? v.message.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 500) : 'refused by the service';
  return new OffchainError(v.code, `${message} (the service)`, exit);
}
