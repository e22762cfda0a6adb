/**
 * The gateway's Lightning payment (src/lib/device/lightning.ts) against a scripted node
 * (the LightningRpc port): each rule of the module header — never pay a known hash, maxfee
 * is the gateway's fee, maxdelay leaves the claim margin, pending is not failed, the
 * preimage must match — and the Core Lightning socket client (src/lib/lightning/cln-rpc.ts)
 * against a real unix-socket server speaking its framing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { OffchainError } from '../../../src/lib/errors.ts';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { toHex } from '../../../src/lib/bytes.ts';
import { ClnRpc, ClnRpcError, ClnTimeoutError, type LightningRpc } from '../../../src/lib/lightning/cln-rpc.ts';
import { payInFlight, payJob, type LightningJob } from '../../../src/lib/device/lightning.ts';
import { tempDir } from '../../helpers.ts';
import { NOW, invoice, paymentHash, preimage } from './world.ts';

const HASH = toHex(paymentHash(0));
/** The job of gateway.ts pay for invoice 0 (2 500 000 msat, cltv 18 by default of world.ts? read from the invoice), expiry 1144. */
const JOB: LightningJob = {
  network: 'regtest', invoice: invoice(0, 2_500_000n, { timestamp: NOW - 10 }), payment_hash: HASH,
  amount_msat: '2500000', max_fee_msat: '6000', htlc_expiry_height: 1144,
};
const OPTS = { claimMarginBlocks: 36, retryForSeconds: 30, now: NOW, settleWaitMs: 0 };

type Call = { method: string; params: Record<string, unknown>; timeoutMs?: number };
/** A node that answers each method from a script (a function of how many times it was called). */
function node(script: Record<string, (params: Record<string, unknown>, i: number) => unknown>): LightningRpc & { calls: Call[] } {
  const calls: Call[] = [];
  const count: Record<string, number> = {};
  return {
    calls,
    async call<T>(method: string, params: Record<string, unknown>, timeoutMs?: number): Promise<T> {
      calls.push({ method, params, timeoutMs });
      const i = (count[method] = (count[method] ?? 0) + 1) - 1;
      const f = script[method];
      if (!f) throw new Error(`unexpected ${method}`);
      return (await f(params, i)) as T;
    },
  };
}
const getinfo = (blockheight = 1000, network = 'regtest') => () => ({ network, blockheight });
const complete = { status: 'complete', payment_preimage: toHex(preimage(0)), amount_msat: 2_500_000, amount_sent_msat: 2_501_000, created_at: NOW };

describe('payJob: the gateway pays through its node', () => {
  it('pays an unknown hash once, with maxfee = the job\'s max_fee_msat (the gateway\'s fee) and maxdelay = expiry − claim margin − blockheight', async () => {
    const n = node({ getinfo: getinfo(1000), listpays: () => ({ pays: [] }), pay: () => complete });
    const out = await payJob(n, JOB, OPTS);
    expect(out).toMatchObject({ status: 'paid', fee_msat: 1000n, how: 'paid now' });
    expect(toHex((out as { preimage: Uint8Array }).preimage)).toBe(toHex(preimage(0)));
    const pay = n.calls.filter((c) => c.method === 'pay');
    expect(pay).toHaveLength(1);
    expect(pay[0]!.params).toEqual({ bolt11: JOB.invoice, maxfee: 6000, maxdelay: 1144 - 36 - 1000, retry_for: 30 });
    // The answer is awaited a little longer than pay may retry.
    expect(pay[0]!.timeoutMs).toBeGreaterThan(30_000);
    // Asked first.
    expect(n.calls.map((c) => c.method)).toEqual(['getinfo', 'listpays', 'pay']);
  });

  it('never pays a hash the node knows: complete → its preimage (a job this gateway attempted), pending → pending, failed (retry window over) → failed', async () => {
    for (const [pays, want] of [
      [[{ ...complete, payment_preimage: undefined, preimage: toHex(preimage(0)) }], 'paid'],
      [[{ status: 'failed', created_at: NOW - 1000 }, { status: 'pending', created_at: NOW - 5 }], 'pending'],
      [[{ status: 'failed', created_at: NOW - 1000 }], 'failed'],
    ] as const) {
      const n = node({ getinfo: getinfo(), listpays: () => ({ pays }), pay: () => { throw new Error('paid twice'); } });
      expect((await payJob(n, JOB, { ...OPTS, attempted: true })).status).toBe(want);
      expect(n.calls.some((c) => c.method === 'pay')).toBe(false);
    }
  });

  it('a hash the node paid before this gateway attempted the job (a reused invoice paid for another device, or by hand) fails the job, never settles it; pay is not sent', async () => {
    const n = node({ getinfo: getinfo(), listpays: () => ({ pays: [complete] }), pay: () => { throw new Error('paid twice'); } });
    const out = await payJob(n, JOB, OPTS);
    expect(out.status).toBe('failed');
    expect((out as { reason: string }).reason).toMatch(/before this gateway tried/);
    expect(n.calls.some((c) => c.method === 'pay')).toBe(false);
  });

  it('the attempt is marked (beforePay) once, right before pay is sent, and not when the node already knows the hash', async () => {
    const marks: string[] = [];
    const n = node({ getinfo: getinfo(), listpays: () => ({ pays: [] }), pay: () => { marks.push('pay'); return complete; } });
    expect((await payJob(n, JOB, { ...OPTS, beforePay: async () => { marks.push('mark'); } })).status).toBe('paid');
    expect(marks).toEqual(['mark', 'pay']);
    const known = node({ getinfo: getinfo(), listpays: () => ({ pays: [complete] }) });
    marks.length = 0;
    await payJob(known, JOB, { ...OPTS, attempted: true, beforePay: async () => { marks.push('mark'); } });
    expect(marks).toEqual([]);
  });

  it('a failed attempt younger than retry_for (+ grace) may still be retried by an earlier pay: pending, not failed', async () => {
    const n = node({ getinfo: getinfo(), listpays: () => ({ pays: [{ status: 'failed', created_at: NOW - 20 }, { status: 'failed', created_at: NOW - 39 }] }) });
    expect(await payJob(n, JOB, OPTS)).toMatchObject({ status: 'pending' });
    // The pay began before its first attempt (41 s ago): 30 s + 10 s grace are over, however recent the last attempt.
    const later = node({ getinfo: getinfo(), listpays: () => ({ pays: [{ status: 'failed', created_at: NOW - 2 }, { status: 'failed', created_at: NOW - 41 }] }) });
    expect(await payJob(later, JOB, OPTS)).toMatchObject({ status: 'failed' });
  });

  it('pay refused (no route): failed, once the node shows nothing out for the hash', async () => {
    const n = node({
      getinfo: getinfo(), listpays: () => ({ pays: [] }),
      pay: () => { throw new ClnRpcError('pay', 205, 'Failed: We could not find a usable set of paths', undefined); },
    });
    expect(await payJob(n, JOB, OPTS)).toMatchObject({ status: 'failed', reason: expect.stringMatching(/usable set of paths/) });
    expect(n.calls.map((c) => c.method)).toEqual(['getinfo', 'listpays', 'pay', 'listpays']);
  });

  it('pay errors but the node still has an HTLC out (e.g. "still in progress"): pending; or it completed meanwhile: paid', async () => {
    const err = () => { throw new ClnRpcError('pay', -3, 'still in progress', undefined); };
    const pending = node({ getinfo: getinfo(), listpays: (_p, i) => ({ pays: i === 0 ? [] : [{ status: 'pending', created_at: NOW }] }), pay: err });
    expect((await payJob(pending, JOB, OPTS)).status).toBe('pending');
    const done = node({ getinfo: getinfo(), listpays: (_p, i) => ({ pays: i === 0 ? [] : [complete] }), pay: err });
    expect((await payJob(done, JOB, OPTS)).status).toBe('paid');
  });

  it('pay errors while the node still shows the HTLC out, failed a moment later: failed in the same run (settleWaitMs)', async () => {
    const n = node({
      getinfo: getinfo(), listpays: (_p, i) => ({ pays: i === 0 ? [] : [{ status: i < 3 ? 'pending' : 'failed', created_at: NOW }] }),
      pay: () => { throw new ClnRpcError('pay', 203, 'Destination said it doesn\'t know invoice', undefined); },
    });
    expect(await payJob(n, JOB, { ...OPTS, settleWaitMs: 5000 })).toMatchObject({ status: 'failed' });
    expect(n.calls.filter((c) => c.method === 'listpays')).toHaveLength(4);
  });

  it('no answer in time: pending even if every attempt so far failed (pay may still be retrying)', async () => {
    const n = node({
      getinfo: getinfo(), listpays: (_p, i) => ({ pays: i === 0 ? [] : [{ status: 'failed', created_at: NOW - 1000 }] }),
      pay: () => { throw new ClnTimeoutError('pay', 40_000); },
    });
    expect(await payJob(n, JOB, OPTS)).toMatchObject({ status: 'pending' });
  });

  it('too late to route within the claim margin: failed without paying', async () => {
    // maxdelay = 1144 − 36 − 1091 = 17 < the invoice's final CLTV delta (18).
    const n = node({ getinfo: getinfo(1091), listpays: () => ({ pays: [] }), pay: () => { throw new Error('paid'); } });
    expect(await payJob(n, JOB, OPTS)).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^not paid: .*final CLTV delta 18/) });
    // One block earlier it pays, with maxdelay 18.
    const ok = node({ getinfo: getinfo(1090), listpays: () => ({ pays: [] }), pay: () => complete });
    expect((await payJob(ok, JOB, OPTS)).status).toBe('paid');
    expect(ok.calls.find((c) => c.method === 'pay')!.params['maxdelay']).toBe(18);
  });

  it('a preimage that does not hash to the payment is refused (E_LIGHTNING_PROTOCOL), nothing settles', async () => {
    const n = node({ getinfo: getinfo(), listpays: () => ({ pays: [] }), pay: () => ({ ...complete, payment_preimage: toHex(preimage(1)) }) });
    await expect(payJob(n, JOB, OPTS)).rejects.toMatchObject({ code: 'E_LIGHTNING_PROTOCOL' });
  });

  it('a node on another network is refused before anything is asked or paid (E_NETWORK_MISMATCH)', async () => {
    const n = node({ getinfo: getinfo(1000, 'bitcoin') });
    await expect(payJob(n, JOB, OPTS)).rejects.toMatchObject({ code: 'E_NETWORK_MISMATCH', exitCode: 4 });
    expect(n.calls.map((c) => c.method)).toEqual(['getinfo']);
  });

  it('a status it does not know (a newer node) is pending, never failed', async () => {
    const n = node({ getinfo: getinfo(), listpays: () => ({ pays: [{ status: 'failed', created_at: NOW - 1000 }, { status: 'stalled', created_at: NOW - 1000 }] }) });
    expect(await payJob(n, JOB, OPTS)).toMatchObject({ status: 'pending' });
  });

  it('payInFlight: a payment the gateway already holds the preimage of, or failed, is answered from its record without the node', async () => {
    const none = node({});
    expect(await payInFlight(none, { payment_hash: HASH, preimage: toHex(preimage(0)) }, OPTS)).toMatchObject({ status: 'paid', how: 'paid before' });
    expect(await payInFlight(none, { payment_hash: HASH, failed: true }, OPTS)).toMatchObject({ status: 'failed' });
    expect(none.calls).toEqual([]);
  });
});

describe('ClnRpc: JSON-RPC over a unix socket', () => {
  let server: Server | undefined;
  let dir: { path: string; cleanup: () => void } | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
    dir?.cleanup();
  });
  /** A server answering each request with `answer(request)`, written in `parts` chunks, or not at all (undefined). */
  async function serve(answer: (req: { id: unknown; method: string; params: unknown }) => string | undefined, parts = 1): Promise<string> {
    dir = tempDir('offchain-clnrpc-');
    const path = join(dir.path, 'lightning-rpc');
    server = createServer((s) => {
      let buf = '';
      s.on('data', (d) => {
        buf += d.toString();
        let req;
        try {
          req = JSON.parse(buf);
        } catch {
          return;
        }
        const text = answer(req);
        if (text === undefined) return;
        const size = Math.ceil(text.length / parts);
        for (let i = 0; i < parts; i++) s.write(text.slice(i * size, (i + 1) * size));
      });
      s.on('error', () => {});
    });
    await new Promise<void>((r) => server!.listen(path, r));
    return path;
  }

  it('sends {jsonrpc, id, method, params} and returns the result, also when the answer comes in pieces', async () => {
    const seen: unknown[] = [];
    const path = await serve((req) => (seen.push(req), JSON.stringify({ jsonrpc: '2.0', id: req.id, result: { pays: [{ status: 'complete', big: 'x'.repeat(100_000) }] } }) + '\n\n'), 7);
    const r = await new ClnRpc(path).call<{ pays: { status: string }[] }>('listpays', { payment_hash: HASH });
    expect(r.pays[0]!.status).toBe('complete');
    expect(seen).toEqual([{ jsonrpc: '2.0', id: expect.stringMatching(/^offchain:listpays#/), method: 'listpays', params: { payment_hash: HASH } }]);
  });

  it('an error answer is a ClnRpcError with the node\'s code; another id, or not JSON, is E_LIGHTNING_PROTOCOL', async () => {
    let path = await serve((req) => JSON.stringify({ jsonrpc: '2.0', id: req.id, error: { code: 205, message: 'no route' } }) + '\n\n');
    await expect(new ClnRpc(path).call('pay', {})).rejects.toMatchObject({ rpcCode: 205, code: 'E_LIGHTNING_RPC' });
    await new Promise<void>((r) => server!.close(() => r()));
    dir!.cleanup();
    path = await serve(() => JSON.stringify({ jsonrpc: '2.0', id: 'someone-else', result: {} }) + '\n\n');
    await expect(new ClnRpc(path).call('getinfo', {})).rejects.toMatchObject({ code: 'E_LIGHTNING_PROTOCOL' });
  });

  it('whatever bytes a socket sends before closing: a coded refusal (E_LIGHTNING_PROTOCOL), never a hang or a crash (property)', async () => {
    dir = tempDir('offchain-clnrpc-');
    const path = join(dir.path, 'lightning-rpc');
    let next = '';
    server = createServer((s) => {
      s.on('error', () => {});
      s.once('data', () => s.end(next));
    });
    await new Promise<void>((r) => server!.listen(path, r));
    const bytes = fc.oneof(
      fc.string(),
      fc.string().map((t) => `${t}\n\n`),
      fc.jsonValue().map((v) => JSON.stringify(v) + '\n\n'),
      fc.record({ jsonrpc: fc.constant('2.0'), id: fc.oneof(fc.string(), fc.integer()), result: fc.jsonValue() }).map((v) => JSON.stringify(v) + '\n\n'),
    );
    await fc.assert(
      fc.asyncProperty(bytes, async (text) => {
        next = text;
        const e = await new ClnRpc(path).call('getinfo', {}, 2000).then(() => undefined, (err: unknown) => err);
        expect(e).toBeInstanceOf(OffchainError);
        expect((e as OffchainError).code).toBe('E_LIGHTNING_PROTOCOL');
      }),
      { numRuns: 60 },
    );
  });

  it('no answer within the time limit: ClnTimeoutError (E_LIGHTNING_TIMEOUT); no socket: E_LIGHTNING_UNREACHABLE', async () => {
    const path = await serve(() => undefined);
    await expect(new ClnRpc(path).call('pay', {}, 200)).rejects.toBeInstanceOf(ClnTimeoutError);
    await expect(new ClnRpc(join(dir!.path, 'nothing-here')).call('getinfo', {})).rejects.toMatchObject({ code: 'E_LIGHTNING_UNREACHABLE', exitCode: 1 });
  });
});

describe('payJob with whatever a node answers (property)', () => {
  // A pays entry: any status, a preimage right, wrong, malformed or missing, any created_at.
  const pay = fc.record({
    status: fc.constantFrom('complete', 'pending', 'failed', 'weird'),
    payment_preimage: fc.oneof(fc.constant(toHex(preimage(0))), fc.constant(toHex(preimage(1))), fc.string(), fc.constant(undefined)),
    created_at: fc.integer({ min: NOW - 200, max: NOW + 5 }),
    amount_msat: fc.constant(2_500_000),
    amount_sent_msat: fc.oneof(fc.integer({ min: 2_500_000, max: 2_506_000 }), fc.string(), fc.double()),
  }, { requiredKeys: ['status', 'created_at'] });
  const answer = fc.oneof(
    fc.record({ result: fc.array(pay, { maxLength: 3 }).map((pays) => ({ pays })) }),
    fc.record({ error: fc.constantFrom(-3, 200, 203, 205, 206, 210).map((code) => new ClnRpcError('x', code, 'refused', undefined)) }),
    fc.constant({ timeout: true as const }),
  );

  it('paid only with a preimage of the payment hash; a known hash is never paid; pay at most once; every throw a coded OffchainError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(pay, { maxLength: 3 }), answer, answer, async (known, payAnswer, after) => {
        let pays = 0;
        const n: LightningRpc = {
          async call<T>(method: string): Promise<T> {
            if (method === 'getinfo') return { network: 'regtest', blockheight: 1000 } as T;
            if (method === 'listpays') {
              if (pays === 0) return { pays: known } as T;
              if ('timeout' in after) throw new ClnTimeoutError('listpays', 1);
              if ('error' in after) throw after.error;
              return after.result as T;
            }
            pays += 1;
            if ('timeout' in payAnswer) throw new ClnTimeoutError('pay', 1);
            if ('error' in payAnswer) throw payAnswer.error;
            return (payAnswer.result.pays[0] ?? { status: 'failed' }) as T;
          },
        };
        try {
          const out = await payJob(n, JOB, OPTS);
          if (out.status === 'paid') expect(toHex(out.preimage)).toBe(toHex(preimage(0)));
        } catch (e) {
          expect(e).toBeInstanceOf(OffchainError);
          expect((e as OffchainError).code).toMatch(/^E_[A-Z_]+$/);
        }
        expect(pays).toBeLessThanOrEqual(known.length === 0 ? 1 : 0);
      }),
      { numRuns: 400 },
    );
  });
});
