/**
 * A scripted Core Lightning JSON-RPC socket for the e2e tests that run `gateway pay --lightning-rpc`
 * (test/e2e/device-lightning.test.ts) and `serve gateway --lightning-rpc` (test/e2e/serve-gateway.test.ts)
 * without a node: each request is parsed, handed to the test, and answered with lightningd's framing
 * (the object, then a blank line), or never answered when the test says so (a held payment).
 */
import { createServer, type Server } from 'node:net';
import { toHex } from '../../src/lib/bytes.ts';
import { paymentHash, preimage } from '../lib/device/world.ts';

export type Req = { id: string; method: string; params: Record<string, unknown> };
/** A result, an error {code, message}, or undefined (never answers). */
export type Answer = { result?: unknown; error?: { code: number; message: string } } | undefined;
/** What the node answers, per method. */
export type Script = Record<string, (p: Record<string, unknown>) => Answer>;

/**
 * Listens on `socket`; `answer` sees each request. With `split`, each answer is written in two pieces
 * 5 ms apart (the client must wait for the whole frame).
 */
export async function fakeLightningRpc(socket: string, answer: (req: Req) => Answer, o: { split?: boolean } = {}): Promise<Server> {
  const server = createServer((s) => {
    let buf = '';
    s.on('error', () => {});
    s.on('data', (d) => {
      buf += d.toString();
      let req: Req;
      try {
        req = JSON.parse(buf) as Req;
      } catch {
        return;
      }
      buf = '';
      const a = answer(req);
      if (a === undefined) return; // held: no answer
      const text = JSON.stringify({ jsonrpc: '2.0', id: req.id, ...a }) + '\n\n';
      if (!o.split) s.write(text);
      else {
        s.write(text.slice(0, 10));
        setTimeout(() => s.write(text.slice(10)), 5);
      }
    });
  });
  await new Promise<void>((res) => server.listen(socket, res));
  return server;
}

/**
 * A node that pays at once every invoice `numberOf` knows — payment n of test/lib/device/world.ts,
 * its preimage and amount (1,000,000 + n·1,000 msat) — and pushes each invoice it pays onto `paid`.
 */
export async function payingAtOnce(socket: string, tip: number, numberOf: (bolt11: string) => number, paid: string[]): Promise<Server> {
  return fakeLightningRpc(socket, (req) => {
    if (req.method === 'getinfo') return { result: { network: 'regtest', blockheight: tip } };
    if (req.method === 'listpays') return { result: { pays: [] } };
    if (req.method !== 'pay') return { error: { code: -32601, message: 'unscripted' } };
    const text = String(req.params.bolt11);
    paid.push(text);
    const n = numberOf(text);
    const msat = 1_000_000 + n * 1000;
    return { result: { status: 'complete', payment_hash: toHex(paymentHash(n)), payment_preimage: toHex(preimage(n)), amount_msat: msat, amount_sent_msat: msat, created_at: Math.floor(Date.now() / 1000) } };
  });
}
