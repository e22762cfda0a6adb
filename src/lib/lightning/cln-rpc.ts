/**
 * A small JSON-RPC 2.0 client for Core Lightning's `lightning-rpc` unix socket (the
 * interface `lightning-cli` itself uses; doc/lightningd-rpc.7): one connection per call,
 * the request written as one JSON object, the answer read until it parses. No
 * `lightning-cli` subprocess, no dependency. The socket is the node's own authority:
 * whoever can open it can spend the node's funds, so it is named by path, never by a
 * credential on argv.
 *
 * What it does not do: batching, notifications, commando/clnrest. Errors:
 *   E_LIGHTNING_UNREACHABLE  the socket cannot be opened (no node, wrong path, refused)      exit 1
 *   E_LIGHTNING_TIMEOUT      no answer within the call's time limit (the node may still act) exit 1
 *   E_LIGHTNING_PROTOCOL     an answer that is not JSON-RPC                                  exit 1
 * and an error answer of the node is a ClnRpcError (its code and message), for the caller
 * to classify.
 */
import { connect } from 'node:net';
import { settingPlaces } from '../settings.ts';
import { OffchainError } from '../errors.ts';

/** The node answered with a JSON-RPC error object (e.g. `pay`'s 205 "could not find a route"). */
export class ClnRpcError extends OffchainError {
  readonly rpcCode: number;
  readonly data: unknown;
  constructor(method: string, rpcCode: number, message: string, data: unknown) {
    super('E_LIGHTNING_RPC', `Core Lightning ${method}: ${message} (code ${rpcCode})`);
    this.rpcCode = rpcCode;
    this.data = data;
  }
}

/** No answer in time: the request may still be running on the node. */
export class ClnTimeoutError extends OffchainError {
  constructor(method: string, ms: number) {
    super('E_LIGHTNING_TIMEOUT', `Core Lightning ${method}: no answer within ${ms} ms (the node may still be working on it)`);
  }
}

/** The port the gateway's payment logic talks to (a fake in unit tests). */
export interface LightningRpc {
  call<T = unknown>(method: string, params: Record<string, unknown>, timeoutMs?: number): Promise<T>;
}

/** Answers larger than this are refused (a listpays of one payment hash is a few KB). */
const MAX_ANSWER = 16 * 1024 * 1024;

let nextId = 1;

export class ClnRpc implements LightningRpc {
  constructor(
    readonly socketPath: string,
    readonly defaultTimeoutMs = 30_000,
  ) {}

  call<T = unknown>(method: string, params: Record<string, unknown>, timeoutMs = this.defaultTimeoutMs): Promise<T> {
    const id = `offchain:${method}#${process.pid}/${nextId++}`;
    return new Promise<T>((resolve, reject) => {
      const socket = connect({ path: this.socketPath });
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const finish = (f: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.destroy();
        f();
      };
      const timer = setTimeout(() => finish(() => reject(new ClnTimeoutError(method, timeoutMs))), timeoutMs);
      socket.on('error', (e: NodeJS.ErrnoException) =>
        finish(() => reject(new OffchainError('E_LIGHTNING_UNREACHABLE', `cannot reach Core Lightning at ${this.socketPath} (${settingPlaces('lightning_rpc')}): ${e.code ?? e.message}; is lightningd running, and is this its lightning-rpc socket?`))),
      );
      socket.on('connect', () => socket.write(JSON.stringify({ jsonrpc: '2.0', id, method, params })));
      const tryAnswer = (final: boolean) => {
        const text = Buffer.concat(chunks, size).toString('utf8').trim();
        if (!text) {
          if (final) finish(() => reject(new OffchainError('E_LIGHTNING_PROTOCOL', `Core Lightning ${method}: the node closed the connection without an answer`)));
          return;
        }
        // An answer is one JSON object: anything else (an HTTP server, a line of text, noise)
        // is not lightningd, and waiting for the time limit would only hide it.
        if (!text.startsWith('{')) {
          finish(() => reject(new OffchainError('E_LIGHTNING_PROTOCOL', `Core Lightning ${method}: the answer is not JSON-RPC (it begins ${JSON.stringify(text.slice(0, 16))}): is --lightning-rpc the node's lightning-rpc socket?`)));
          return;
        }
        // lightningd ends each answer with a blank line; parse once one is there (or the stream ended).
        const ended = final || Buffer.concat(chunks, size).toString('utf8').endsWith('\n\n');
        if (!ended) return;
        let answer: { id?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown; data?: unknown } };
        try {
          answer = JSON.parse(text) as typeof answer;
        } catch {
          finish(() => reject(new OffchainError('E_LIGHTNING_PROTOCOL', `Core Lightning ${method}: the answer is not JSON`)));
          return;
        }
        finish(() => {
          if (answer === null || typeof answer !== 'object' || answer.id !== id) reject(new OffchainError('E_LIGHTNING_PROTOCOL', `Core Lightning ${method}: an answer to another request`));
          else if (answer.error) {
            const e = answer.error;
            reject(new ClnRpcError(method, typeof e.code === 'number' ? e.code : -1, typeof e.message === 'string' ? e.message : JSON.stringify(e), e.data));
          } else if (answer.result === undefined) reject(new OffchainError('E_LIGHTNING_PROTOCOL', `Core Lightning ${method}: an answer with neither result nor error`));
          else resolve(answer.result as T);
        });
      };
      socket.on('data', (d: Buffer) => {
        size += d.length;
        if (size > MAX_ANSWER) return finish(() => reject(new OffchainError('E_LIGHTNING_PROTOCOL', `Core Lightning ${method}: an answer over ${MAX_ANSWER} bytes`)));
        chunks.push(d);
        tryAnswer(false);
      });
      socket.on('end', () => tryAnswer(true));
    });
  }
}
