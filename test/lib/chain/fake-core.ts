/**
 * A fake Bitcoin Core JSON-RPC server for tests: node:http on 127.0.0.1, port 0.
 * It checks Basic auth like Core (401 with an empty body), records every request, and
 * answers either strictly as JSON-RPC 2.0 (Core v28+ when asked for 2.0: HTTP 200,
 * `result` xor `error`) or in Core's legacy 1.0 style (both fields, HTTP 500/404 on
 * error). A handler may return `{ raw }` to put exact JSON text (e.g. an amount
 * written as `20999999.97690000`) in the result.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export type HandlerResult = unknown | { raw: string } | { error: { code: number; message: string } } | { hang: true } | { delayMs: number; result: unknown };
export type Handler = (params: unknown[]) => HandlerResult;

export interface RecordedRequest {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
  body: { jsonrpc?: string; id?: unknown; method: string; params: unknown[] };
}

export interface FakeCore {
  url: string;
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export interface FakeCoreOptions {
  user: string;
  password: string;
  handlers: Record<string, Handler>;
  style?: '2.0' | '1.0';
  /** Respond with this status and body to everything (after auth), e.g. a proxy page. */
  override?: { status: number; body: string };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

export async function startFakeCore(opts: FakeCoreOptions): Promise<FakeCore> {
  const requests: RecordedRequest[] = [];
  const expectedAuth = `Basic ${Buffer.from(`${opts.user}:${opts.password}`).toString('base64')}`;
  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      if (req.headers.authorization !== expectedAuth) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="jsonrpc"' }).end();
        return;
      }
      const body = JSON.parse(text) as RecordedRequest['body'];
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      if (opts.override) {
        res.writeHead(opts.override.status, { 'Content-Type': 'text/html' }).end(opts.override.body);
        return;
      }
      const handler = opts.handlers[body.method];
      const out: HandlerResult = handler ? handler(body.params) : { error: { code: -32601, message: 'Method not found' } };
      if (isObj(out) && out['hang'] === true) return; // never answer
      // A slow answer (a UTXO set scan on mainnet): `result` after `delayMs`.
      if (isObj(out) && typeof out['delayMs'] === 'number') setTimeout(() => answer(body, out['result']), out['delayMs']);
      else answer(body, out);
    });
    function answer(body: RecordedRequest['body'], out: HandlerResult): void {
      const id = JSON.stringify(body.id ?? null);
      let status = 200;
      let json: string;
      if (isObj(out) && isObj(out['error'])) {
        const error = JSON.stringify(out['error']);
        if (opts.style === '1.0') {
          status = (out['error'] as { code: number }).code === -32601 ? 404 : 500;
          json = `{"result":null,"error":${error},"id":${id}}`;
        } else {
          json = `{"jsonrpc":"2.0","error":${error},"id":${id}}`;
        }
      } else {
        const result = isObj(out) && typeof out['raw'] === 'string' ? out['raw'] : JSON.stringify(out ?? null);
        json = opts.style === '1.0' ? `{"result":${result},"error":null,"id":${id}}` : `{"jsonrpc":"2.0","result":${result},"id":${id}}`;
      }
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(json + '\n');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A port nothing listens on: 2, privileged, so no test's server can take it (a port bound
 * and released can be, by another file's server on port 0, before the command connects);
 * not 1, which fetch refuses as a "bad port" before connecting.
 */
export const CLOSED_PORT = 2;

/** `getblockchaininfo` as Core answers it (the fields the product reads, and a few more). */
export function blockchainInfo(chain: string, blocks = 1_001): Record<string, unknown> {
  return { chain, blocks, headers: blocks, bestblockhash: '00'.repeat(4) + '5e'.repeat(28), mediantime: 1_700_000_000, initialblockdownload: false };
}

/** What the fake node knows of a submitted transaction; test code reads it from the raw hex. */
export type SubmittedTx = { txid: string; wtxid: string; vsize: number };

/**
 * `submitpackage`'s answer in the shape of Core ≥ 28: `package_msg` ("success" only when
 * every transaction is in the mempool), `tx-results` keyed by wtxid — each with its txid
 * and either vsize and fees (BTC amounts) or an `error` string — and
 * `replaced-transactions`. Since Core 28 a rejected package is reported here, in a
 * successful RPC reply, not as an RPC error. `errors[i]` rejects transaction i.
 */
export function submitPackageReply(txs: readonly SubmittedTx[], errors: readonly (string | undefined)[] = []): Record<string, unknown> {
  const rejected = errors.some((e) => e !== undefined);
  const results: Record<string, unknown> = {};
  txs.forEach((tx, i) => {
    const error = errors[i];
    results[tx.wtxid] = error !== undefined
      ? { txid: tx.txid, error }
      : { txid: tx.txid, vsize: tx.vsize, fees: { base: 0.00001, 'effective-feerate': 0.00002, 'effective-includes': [tx.wtxid] } };
  });
  return { package_msg: rejected ? 'transaction failed' : 'success', 'tx-results': results, 'replaced-transactions': [] };
}
