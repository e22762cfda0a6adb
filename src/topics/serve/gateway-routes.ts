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
 *   GET  /v1/operator/payments/:hash (O) — → the gateway/settle | gateway/fail    (the operator's view; a
 *        settle carries the preimage, so never public: with a node a device resends its device/pay)
 *                                      given for it; 404 E_PAYMENT_UNDECIDED before
 *   POST /v1/operator/settle (O)       {contract_id?, preimage} → gateway/settle  gateway settle --preimage-file
 *   POST /v1/operator/fail (O)         {contract_id?, payment_hash} → gateway/fail gateway fail --payment-hash
 *   POST /v1/operator/claim (O)        {contract_id?, fee_rate, to?, preimage?,    gateway claim
 *                                      broadcast?, dry_run?} → credit/exit (htlc_claim)
 *
 * Retries: a repeated device/pay gets the stored job, or with a node the stored settle/fail
 * once the payment is decided; one attempted but undecided goes through `gateway pay`'s own
 * path (listpays first: a hash the node knows is never paid again), and a payment still
 * pending is 503 E_PAYMENT_PENDING with Retry-After. The preimage travels only in the settle
 * bodies (the device's proof of payment); the service logs no body.
 */
import { Answer, type Route } from './service.ts';
import { contractIdOf, fields } from './operator-request.ts';
import { MalformedInputError } from '../../lib/errors.ts';
import { fromHex, toHex } from '../../lib/bytes.ts';
import { flagValue } from '../../lib/cli/flags.ts';

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
  claim: (c: { contract?: string; feeRate: string; to?: string; preimage?: Uint8Array; broadcast: boolean; dryRun: boolean }) => Promise<Record<string, unknown>>;
};

function preimageOf(text: string | undefined): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(text ?? '')) throw new MalformedInputError('E_MALFORMED_REQUEST', 'preimage must be 64 hex digits');
  return Uint8Array.from(Buffer.from(text!, 'hex'));
}

export function gatewayRoutes(s: GatewaySteps): Route[] {
  return [
    { method: 'GET', path: '/v1/gateway/terms', step: 'terms', listener: 'public', in: '—', out: 'the gateway\'s terms', handle: () => s.terms() },
    { method: 'POST', path: '/v1/gateway/pay', step: 'pay', listener: 'public', in: 'device/pay', out: 'gateway/job | gateway/settle | gateway/fail', handle: (req) => s.pay(req.body) },
    { method: 'POST', path: '/v1/gateway/complete', step: 'complete', listener: 'public', in: 'device/settle | device/fail', out: 'gateway/receipt', handle: (req) => s.complete(req.body) },
    {
      method: 'GET', path: '/v1/operator/payments/:hash', step: 'payment', listener: 'operator', in: '—', out: 'gateway/settle | gateway/fail',
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
        return s.settle(contractIdOf(f), preimageOf(f.preimage));
      },
    },
    {
      method: 'POST', path: '/v1/operator/fail', step: 'fail', listener: 'operator', in: '{contract_id?, payment_hash}', out: 'gateway/fail',
      handle: async (req) => {
        const f = fields(req, ['contract_id', 'payment_hash']);
        if (f.payment_hash === undefined) throw new MalformedInputError('E_MALFORMED_REQUEST', 'payment_hash is required');
        // Read as `gateway fail --payment-hash` reads its flag (hexFlag): the same refusal, code and exit class.
        return s.fail(contractIdOf(f), flagValue(() => toHex(fromHex(f.payment_hash!, 'payment_hash', 32))));
      },
    },
    {
      method: 'POST', path: '/v1/operator/claim', step: 'claim', listener: 'operator', in: '{contract_id?, fee_rate, to?, preimage?, broadcast?, dry_run?}', out: 'credit/exit (htlc_claim)',
      handle: async (req) => {
        const f = fields(req, ['contract_id', 'fee_rate', 'to', 'preimage'], ['broadcast', 'dry_run']);
        if (f.fee_rate === undefined) throw new MalformedInputError('E_MALFORMED_REQUEST', 'fee_rate is required (sat/vB, as --fee-rate)');
        if (f.on.has('broadcast') && f.on.has('dry_run')) throw new MalformedInputError('E_MALFORMED_REQUEST', 'broadcast and dry_run exclude each other');
        const id = contractIdOf(f);
        return s.claim({
          ...(id ? { contract: id } : {}), feeRate: f.fee_rate, ...(f.to ? { to: f.to } : {}), ...(f.preimage !== undefined ? { preimage: preimageOf(f.preimage) } : {}),
          broadcast: f.on.has('broadcast'), dryRun: f.on.has('dry_run'),
        });
      },
    },
  ];
}
