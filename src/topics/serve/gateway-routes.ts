/**
 * The gateway's endpoints (`offchain serve gateway`, docs/serve.md "The gateway"): each is
 * one step of the `gateway …` commands, called through the same functions the one-shot
 * commands call (topics/device/command.ts, topics/device/lightning.ts), so an answer is the
 * bytes the one-shot prints and a refusal its code and exit code.
 *
 *   route                              in → out                                   one-shot
 *   GET  /v1/gateway/terms             — → the terms (--terms)                    (the file)
 *   POST /v1/gateway/pay               device/pay → gateway/job, or with a node   gateway pay [--lightning-rpc]
 *                                      gateway/settle | gateway/fail
 *   POST /v1/gateway/complete          device/settle | device/fail → receipt      gateway complete
 *   GET  /v1/gateway/payments/:hash    — → the gateway/settle | gateway/fail      (job mode's poll)
 *                                      given for it; 404 E_PAYMENT_UNDECIDED before
 *   POST /v1/operator/settle (O)       {contract_id?, preimage} → gateway/settle  gateway settle --preimage-file
 *   POST /v1/operator/fail (O)         {contract_id?, payment_hash} → gateway/fail gateway fail --payment-hash
 *
 * Retries: a repeated device/pay gets the stored job, or with a node the stored settle/fail
 * once the payment is decided; one attempted but undecided goes through `gateway pay`'s own
 * path (listpays first: a hash the node knows is never paid again), and a payment still
 * pending is 503 E_PAYMENT_PENDING with Retry-After. The preimage travels only in the settle
 * bodies (the device's proof of payment); the service logs no body.
 */
import { Answer, type Route, type RouteRequest } from './service.ts';
import { MalformedInputError } from '../../lib/errors.ts';

/** What the routes need of the gateway: the serve command's bindings of the one-shots' step functions. */
export type GatewaySteps = {
  network: string;
  terms: () => Promise<Record<string, unknown>>;
  pay: (body: unknown) => Promise<Record<string, unknown>>;
  complete: (body: unknown) => Promise<Record<string, unknown>>;
  /** The stored answer for a payment hash, undefined until decided. */
  payment: (hash: string) => Promise<Record<string, unknown> | undefined>;
  settle: (contractId: string | undefined, preimage: Uint8Array) => Promise<Record<string, unknown>>;
  fail: (contractId: string | undefined, paymentHash: string) => Promise<Record<string, unknown>>;
};

/** An operator's request body: a JSON object whose fields are strings (the flags of the one-shot). */
function fields(req: RouteRequest, allowed: readonly string[]): Record<string, string | undefined> {
  const b = req.body;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new MalformedInputError('E_MALFORMED_REQUEST', `the request body must be a JSON object with ${allowed.join(', ')}`);
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(b)) {
    if (!allowed.includes(k)) throw new MalformedInputError('E_MALFORMED_REQUEST', `unknown field ${JSON.stringify(k)} (takes ${allowed.join(', ')})`);
    if (typeof v !== 'string') throw new MalformedInputError('E_MALFORMED_REQUEST', `${k} must be a string`);
    out[k] = v;
  }
  return out;
}

function contractIdOf(f: Record<string, string | undefined>): string | undefined {
  const id = f.contract_id;
  if (id !== undefined && !/^[0-9a-f]{64}$/.test(id)) throw new MalformedInputError('E_MALFORMED_REQUEST', 'contract_id must be 64 lowercase hex digits');
  return id;
}

export function gatewayRoutes(s: GatewaySteps): Route[] {
  return [
    { method: 'GET', path: '/v1/gateway/terms', step: 'terms', listener: 'public', in: '—', out: 'the gateway\'s terms', handle: () => s.terms() },
    { method: 'POST', path: '/v1/gateway/pay', step: 'pay', listener: 'public', in: 'device/pay', out: 'gateway/job | gateway/settle | gateway/fail', handle: (req) => s.pay(req.body) },
    { method: 'POST', path: '/v1/gateway/complete', step: 'complete', listener: 'public', in: 'device/settle | device/fail', out: 'gateway/receipt', handle: (req) => s.complete(req.body) },
    {
      method: 'GET', path: '/v1/gateway/payments/:hash', step: 'payment', listener: 'public', in: '—', out: 'gateway/settle | gateway/fail',
      handle: async (req) => {
        const hash = (req.params.hash ?? '').toLowerCase();
        if (!/^[0-9a-f]{64}$/.test(hash)) throw new MalformedInputError('E_MALFORMED_REQUEST', 'the payment hash must be 64 hex digits');
        const answer = await s.payment(hash);
        if (answer) return answer;
        return new Answer(404, { type: 'gateway/error', version: 1, network: s.network, code: 'E_PAYMENT_UNDECIDED', exit_code: 5, message: `payment ${hash} is not decided (still being paid, or unknown to this gateway): ask again later` }, { 'retry-after': '1' });
      },
    },
    {
      method: 'POST', path: '/v1/operator/settle', step: 'settle', listener: 'operator', in: '{contract_id?, preimage}', out: 'gateway/settle',
      handle: async (req) => {
        const f = fields(req, ['contract_id', 'preimage']);
        if (!/^[0-9a-fA-F]{64}$/.test(f.preimage ?? '')) throw new MalformedInputError('E_MALFORMED_REQUEST', 'preimage must be 64 hex digits');
        return s.settle(contractIdOf(f), Uint8Array.from(Buffer.from(f.preimage!, 'hex')));
      },
    },
    {
      method: 'POST', path: '/v1/operator/fail', step: 'fail', listener: 'operator', in: '{contract_id?, payment_hash}', out: 'gateway/fail',
      handle: async (req) => {
        const f = fields(req, ['contract_id', 'payment_hash']);
        if (f.payment_hash === undefined) throw new MalformedInputError('E_MALFORMED_REQUEST', 'payment_hash is required');
        return s.fail(contractIdOf(f), f.payment_hash);
      },
    },
  ];
}
