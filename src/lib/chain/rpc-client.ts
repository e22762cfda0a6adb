/**
 * JSON-RPC transport to Bitcoin Core over HTTP (global fetch), with every failure
 * turned into one OffchainError with a stable code and a hint:
 *
 *   E_RPC_UNREACHABLE  connection refused / DNS / reset / no answer within the timeout
 *   E_RPC_AUTH         HTTP 401 (wrong cookie or password), 403 (-rpcallowip/-rpcwhitelist)
 *   E_RPC_COOKIE       the cookie file cannot be read (node not running, wrong datadir)
 *   E_RPC_ERROR        Core answered with an error object (its code and message kept)
 *   E_RPC_PROTOCOL     the answer is not Core's JSON-RPC (wrong port, proxy page, …)
 *
 * Requests are JSON-RPC 2.0 (`"jsonrpc": "2.0"`), which Core v28+ answers strictly:
 * HTTP 200 with either `result` or `error`. Older nodes answer 1.0-style — both fields,
 * and HTTP 500/404 for RPC errors — so an error object is read from any status.
 *
 * Secrets: the password and cookie never appear in an error message or detail; the URL
 * cannot contain credentials (rpc-config refuses them), so it may be shown.
 *
 * A batch (`batch`): many calls of one method in one HTTP POST, a JSON array of requests —
 * Core answers an array of replies, each its own result or error (a watcher asks about
 * thousands of transactions a round: one round-trip each would be most of its time).
 * Not done: named parameters, HTTP keep-alive tuning.
 */
import { readFile } from 'node:fs/promises';
import { OffchainError, UsageError } from '../errors.ts';
import { defaultRpcPort } from './rpc-config.ts';
import { settingPlaces } from '../settings.ts';
import type { RpcConfig } from './rpc-config.ts';

/** Core's error codes that get a specific hint (src/rpc/protocol.h). */
export const RPC_METHOD_NOT_FOUND = -32601;
export const RPC_INVALID_ADDRESS_OR_KEY = -5;
export const RPC_IN_WARMUP = -28;
export const RPC_VERIFY_ERROR = -25;
export const RPC_VERIFY_REJECTED = -26;
export const RPC_VERIFY_ALREADY_IN_UTXO_SET = -27;

/** Core returned an error object for `method`. `rpcCode`/`rpcMessage` are Core's own. */
export class RpcError extends OffchainError {
  readonly method: string;
  readonly rpcCode: number;
  readonly rpcMessage: string;
  constructor(method: string, rpcCode: number, rpcMessage: string) {
    const hint = hintFor(method, rpcCode);
    super('E_RPC_ERROR', `bitcoind rejected ${method}: ${rpcMessage} (RPC error ${rpcCode})${hint ? `; ${hint}` : ''}`, undefined, {
      method,
      rpcCode,
      rpcMessage,
    });
    this.method = method;
    this.rpcCode = rpcCode;
    this.rpcMessage = rpcMessage;
  }
}

function hintFor(method: string, code: number): string | undefined {
  if (code === RPC_IN_WARMUP) return 'the node is still starting up; retry in a moment';
  if (code === RPC_METHOD_NOT_FOUND) return `this node does not offer ${method}; it may be too old or built without that feature`;
  if (code === RPC_INVALID_ADDRESS_OR_KEY && method === 'getrawtransaction') {
    return 'a confirmed transaction can only be looked up on a node started with -txindex';
  }
  return undefined;
}

export interface RpcClientDeps {
  /** Defaults to the global fetch; tests may substitute one. */
  fetch?: typeof fetch;
  /** Defaults to fs.readFile(path, 'utf8'). */
  readTextFile?: (path: string) => Promise<string>;
}

export class RpcClient {
  readonly config: RpcConfig;
  private readonly fetchImpl: typeof fetch;
  private readonly readTextFile: (path: string) => Promise<string>;
  private nextId = 1;

  constructor(config: RpcConfig, deps: RpcClientDeps = {}) {
    this.config = config;
    this.fetchImpl = deps.fetch ?? globalThis.fetch;
    this.readTextFile = deps.readTextFile ?? ((path) => readFile(path, 'utf8'));
  }

  /** The same node and credentials, addressing a loaded wallet (`/wallet/<name>`). */
  forWallet(name: string): RpcClient {
    const url = new URL(this.config.url);
    url.pathname = `/wallet/${encodeURIComponent(name)}`;
    return new RpcClient({ ...this.config, url: url.toString() }, { fetch: this.fetchImpl, readTextFile: this.readTextFile });
  }

  /** `opts.timeoutMs`: this call's deadline instead of the config's (a UTXO set scan takes minutes on mainnet). */
  async call<T = unknown>(method: string, params: readonly unknown[] = [], opts: { timeoutMs?: number } = {}): Promise<T> {
    const id = this.nextId++;
    const body = JSON.stringify({ jsonrpc: '2.0', id, method, params });
    const headers = {
      'Content-Type': 'application/json',
      // Read per call: the cookie changes every time bitcoind restarts.
      Authorization: await this.authorization(),
    };
    const { status, text } = await this.post(method, headers, body, opts.timeoutMs ?? this.config.timeoutMs);
    return parseReply<T>(method, id, status, text, this.config.url);
  }

  /**
   * `method` once per entry of `paramsList`, in one POST (a JSON-RPC batch): each call's result,
   * or the RpcError Core answered for it, in the order asked. What fails the whole batch (the
   * node unreachable, credentials, an answer that is not Core's) throws as `call` does.
   */
  async batch<T = unknown>(method: string, paramsList: readonly (readonly unknown[])[]): Promise<({ result: T } | { error: RpcError })[]> {
    if (paramsList.length === 0) return [];
    const first = this.nextId;
    this.nextId += paramsList.length;
    const body = JSON.stringify(paramsList.map((params, i) => ({ jsonrpc: '2.0', id: first + i, method, params })));
    const headers = { 'Content-Type': 'application/json', Authorization: await this.authorization() };
    const { status, text } = await this.post(method, headers, body, this.config.timeoutMs);
    const replies = parseBody(method, status, text, this.config.url);
    // Not an array: the batch refused whole (Core's error object for it, thrown as the call's), or not Core's answer.
    if (!Array.isArray(replies)) replyResult(method, first, status, replies, this.config.url);
    if (!Array.isArray(replies) || replies.length !== paramsList.length) {
      throw protocolError(method, this.config.url, `HTTP ${status} with an answer that is not a batch of ${paramsList.length} replies`);
    }
    const byId = new Map<unknown, unknown>(replies.map((r) => [(r as { id?: unknown } | null)?.id, r]));
    return paramsList.map((_, i) => {
      const id = first + i;
      if (!byId.has(id)) throw protocolError(method, this.config.url, `a batch without a reply for request id ${id}`);
      try {
        // Each reply as a single call's: an error object is that call's RpcError; a batch's HTTP status is its own.
        return { result: replyResult<T>(method, id, 200, byId.get(id), this.config.url) };
      } catch (e) {
        if (e instanceof RpcError) return { error: e };
        throw e;
      }
    });
  }

  private async authorization(): Promise<string> {
    const { auth } = this.config;
    let user: string;
    let password: string;
    if ('cookieFile' in auth) {
      ({ user, password } = await this.readCookie(auth.cookieFile));
    } else {
      ({ user, password } = auth);
    }
    return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
  }

  private async readCookie(path: string): Promise<{ user: string; password: string }> {
    let text: string;
    try {
      text = await this.readTextFile(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      const why =
        code === 'ENOENT'
          ? `is bitcoind running for ${this.config.network} with this data directory? It writes the cookie at startup and deletes it at shutdown`
          : code === 'EACCES'
            ? 'run as the node\'s user, or give your group read access (Core 28+: -rpccookieperms=group)'
            : 'check the path';
      throw new UsageError(
        'E_RPC_COOKIE',
        `cannot read the RPC cookie file ${path} (${code}): ${why}; or pass --rpc-cookie FILE (or $OFFCHAIN_RPC_COOKIE, or rpc_cookie= in the configuration file), or set OFFCHAIN_RPC_USER and OFFCHAIN_RPC_PASSWORD`,
        { path, reason: code },
      );
    }
    // Format: "__cookie__:<hex>" (user name, colon, password), maybe with a newline.
    const line = text.trim();
    const colon = line.indexOf(':');
    if (colon <= 0 || colon === line.length - 1) {
      throw new UsageError('E_RPC_COOKIE', `the RPC cookie file ${path} is not in Core's "user:password" format`, { path, reason: 'format' });
    }
    return { user: line.slice(0, colon), password: line.slice(colon + 1) };
  }

  private async post(method: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<{ status: number; text: string }> {
    const { url } = this.config;
    // One deadline for connecting, the headers and the body alike.
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      // No redirect followed: a POST sent on to another address (a 307 from a proxy) is not the node's answer.
      const res = await this.fetchImpl(url, { method: 'POST', headers, body, signal, redirect: 'error' });
      return { status: res.status, text: await res.text() };
    } catch (e) {
      throw unreachable(e, method, { ...this.config, timeoutMs });
    }
  }
}

function unreachable(e: unknown, method: string, config: RpcConfig): OffchainError {
  const err = e as { name?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') {
    return new OffchainError(
      'E_RPC_UNREACHABLE',
      `bitcoind at ${config.url} did not answer ${method} within ${config.timeoutMs} ms; the node may be busy (initial sync, rescan) — retry, or check ${settingPlaces('rpc_url')}`,
      undefined,
      { method, reason: 'timeout' },
    );
  }
  // fetch refuses a port on the Fetch standard's list (1, 9, 6000, …) before connecting: "bad port".
  const code = err?.cause?.code ?? (err?.cause?.message === 'bad port' ? 'bad port' : 'network error');
  return new OffchainError(
    'E_RPC_UNREACHABLE',
    `cannot reach bitcoind at ${config.url} (${code}): is it running for ${config.network} with -server? ` +
      `Otherwise point ${settingPlaces('rpc_url')} at its RPC port (${config.network} default: ${defaultRpcPort(config.network)})`,
    undefined,
    { method, reason: code },
  );
}

function parseReply<T>(method: string, id: number, status: number, text: string, url: string): T {
  return replyResult<T>(method, id, status, parseBody(method, status, text, url), url);
}

/** The answer's JSON, once the HTTP status says it is Core's (401, 403: the credentials). */
function parseBody(method: string, status: number, text: string, url: string): unknown {
  if (status === 401) {
    throw new UsageError(
      'E_RPC_AUTH',
      `bitcoind at ${url} refused the credentials (HTTP 401): check --rpc-cookie (the node's current .cookie) or OFFCHAIN_RPC_USER/OFFCHAIN_RPC_PASSWORD`,
      { method, status },
    );
  }
  if (status === 403) {
    throw new UsageError(
      'E_RPC_AUTH',
      `bitcoind at ${url} forbids this call (HTTP 403): allow this host with -rpcallowip, or this method with -rpcwhitelist`,
      { method, status },
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw protocolError(method, url, `HTTP ${status} with a non-JSON body${text ? `: ${text.trim().slice(0, 120)}` : ''}`);
  }
}

/** One JSON-RPC reply: its result, or Core's error object as an RpcError. */
function replyResult<T>(method: string, id: number, status: number, reply: unknown, url: string): T {
  if (typeof reply !== 'object' || reply === null || Array.isArray(reply)) {
    throw protocolError(method, url, `HTTP ${status} with an answer that is not a JSON-RPC reply object`);
  }
  const r = reply as { id?: unknown; result?: unknown; error?: unknown };
  if (r.error !== undefined && r.error !== null) {
    const e = r.error as { code?: unknown; message?: unknown };
    if (typeof e === 'object' && typeof e.code === 'number' && typeof e.message === 'string') throw new RpcError(method, e.code, e.message);
    throw protocolError(method, url, `an error that is not a {code, message} object`);
  }
  if (status !== 200) throw protocolError(method, url, `HTTP ${status} without an error object`);
  if (r.id !== id) throw protocolError(method, url, `a reply for request id ${JSON.stringify(r.id)}, expected ${id}`);
  if (!('result' in r)) throw protocolError(method, url, 'a reply without a result');
  return r.result as T;
}

export function protocolError(method: string, url: string, what: string): OffchainError {
  return new OffchainError(
    'E_RPC_PROTOCOL',
    `bitcoind at ${url} answered ${method} with ${what}; is --rpc-url the node's RPC port?`,
    undefined,
    { method },
  );
}
