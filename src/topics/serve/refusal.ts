/**
 * A service's refusal as HTTP (./service.ts's error handler): the status a code and its exit
 * class map to, Retry-After for what a client should retry, and the body in the route's shape —
 * ours ({type:"<group>/error",…}) or NUT-00's ({detail, code}) on the NUT routes. A fastify or
 * Node error (a body too large, a content type, no such route) becomes one of our codes first.
 */
import { ExitCode, OffchainError, MalformedInputError } from '../../lib/errors.ts';
import { stringifyLine, stringifyMessage } from '../../lib/json.ts';
import { describeError } from '../../lib/cli/describe-error.ts';

/** HTTP status of a refusal, by its code and exit class. */
export function httpStatus(code: string, exitCode: number): number {
  if (code === 'E_RATE_LIMITED') return 429;
  if (UNAVAILABLE.has(code)) return 503;
  if (code === 'E_NO_SUCH_ENDPOINT') return 404;
  if (code === 'E_INPUT_TOO_LARGE') return 413;
  if (code === 'E_CONTENT_TYPE') return 415;
  switch (exitCode) {
    case ExitCode.usage:
    case ExitCode.malformed: return 400;
    case ExitCode.refused: return 422;
    case ExitCode.state: return 409;
    default: return 500;
  }
}

/** Refusals a client should retry after a while: the answer carries Retry-After. */
const UNAVAILABLE = new Set(['E_STORE_UNREACHABLE', 'E_STORE_BUSY', 'E_STEP_TIMEOUT', 'E_DRAINING', 'E_PAYMENT_PENDING', 'E_SERVICE_BUSY']);

export type FastifyLike = Error & { statusCode?: number; code?: string };

/** A fastify or Node error (not ours) as one of our codes. */
function fromFastify(e: FastifyLike): OffchainError | undefined {
  if (e instanceof OffchainError) return undefined;
  switch (e.statusCode ?? (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 413 : undefined)) {
    case 413: return new MalformedInputError('E_INPUT_TOO_LARGE', 'the request body is larger than this service takes (--body-limit)');
    case 415: return new OffchainError('E_CONTENT_TYPE', 'send the message as Content-Type: application/json', ExitCode.usage);
    case 404: return new OffchainError('E_NO_SUCH_ENDPOINT', 'no such endpoint on this listener (docs/serve.md lists them)', ExitCode.usage);
    case 400: return new MalformedInputError(e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'E_EMPTY_INPUT' : 'E_MALFORMED_REQUEST', e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'the request body is empty: send one JSON message' : `the request is malformed: ${e.message.split('\n')[0]}`);
    default: return undefined;
  }
}

/** The refusal's status, headers and body for a route's error shape. */
export function refusal(e: unknown, opts: { group: string; network: string }, shape: 'offchain' | 'nut' = 'offchain'): { status: number; headers: Record<string, string>; body: string; code: string; exitCode: number } {
  const { code, message, exitCode } = describeError(fromFastify(e as FastifyLike) ?? e);
  const status = httpStatus(code, exitCode);
  const headers: Record<string, string> = status === 503 || status === 429 ? { 'retry-after': String(retryAfter(e)) } : {};
  if (shape === 'nut') {
    const nutCode = (e as { detail?: { nut_code?: unknown } }).detail?.nut_code;
    return { status: status === 503 || status === 429 ? status : status >= 500 ? 500 : 400, headers, body: stringifyLine({ detail: `${code}: ${message}`, code: typeof nutCode === 'number' ? nutCode : 0 }), code, exitCode };
  }
  return { status, headers, body: stringifyMessage({ type: `${opts.group}/error`, version: 1, network: opts.network, code, exit_code: exitCode, message }), code, exitCode };
}

function retryAfter(e: unknown): number {
  const s = (e as { detail?: { retry_after?: unknown } }).detail?.retry_after;
  return typeof s === 'number' && s > 0 ? Math.ceil(s) : 1;
}
