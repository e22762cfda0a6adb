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
import { Type } from '@sinclair/typebox';
import { Answer, type Route } from './route.ts';
import { ClaimBody, FailBody, SettleBody, exitSwitches, type OperatorBody } from './operator-request.ts';
import { routePlugin, type RoutePlugin } from './routes-plugin.ts';
import { fromHex, toHex } from '../../lib/bytes.ts';
import { flagValue } from '../../lib/cli/flags.ts';
import { DeviceFailSchema, DevicePaySchema, DeviceSettleSchema } from '../../lib/device/schemas.ts';

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

/** A preimage the body's schema checked: 64 hex digits. */
const preimageOf = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'hex'));

/** A payment hash in the path: 64 hex digits, either case. */
const PaymentParams = Type.Object({ hash: Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'the payment hash' }) });

export function gatewayRoutes(s: GatewaySteps): Route[] {
  return [
    { method: 'GET', path: '/v1/gateway/terms', step: 'terms', listener: 'public', in: '—', out: 'the gateway\'s terms', handle: () => s.terms() },
    { method: 'POST', path: '/v1/gateway/pay', step: 'pay', listener: 'public', in: 'device/pay', out: 'gateway/job | gateway/settle | gateway/fail', schema: { body: DevicePaySchema }, handle: (req) => s.pay(req.body) },
    { method: 'POST', path: '/v1/gateway/complete', step: 'complete', listener: 'public', in: 'device/settle | device/fail', out: 'gateway/receipt', schema: { body: Type.Union([DeviceSettleSchema, DeviceFailSchema]) }, handle: (req) => s.complete(req.body) },
    {
      method: 'GET', path: '/v1/operator/payments/:hash', step: 'payment', listener: 'operator', in: '—', out: 'gateway/settle | gateway/fail', schema: { params: PaymentParams },
      handle: async (req) => {
        const hash = req.params.hash!.toLowerCase();
        const answer = await s.payment(hash);
        if (answer) return answer;
        return new Answer(404, { type: 'gateway/error', version: 1, network: s.network, code: 'E_PAYMENT_UNDECIDED', exit_code: 5, message: `payment ${hash} is not decided (still being paid, or unknown to this gateway): ask again later` }, { 'retry-after': '1' });
      },
    },
    {
      method: 'POST', path: '/v1/operator/settle', step: 'settle', listener: 'operator', in: '{contract_id?, preimage}', out: 'gateway/settle', schema: { body: SettleBody },
      handle: async (req) => {
        const b = req.body as OperatorBody<typeof SettleBody>;
        return s.settle(b.contract_id, preimageOf(b.preimage));
      },
    },
    {
      method: 'POST', path: '/v1/operator/fail', step: 'fail', listener: 'operator', in: '{contract_id?, payment_hash}', out: 'gateway/fail', schema: { body: FailBody },
      handle: async (req) => {
        const b = req.body as OperatorBody<typeof FailBody>;
        // Read as `gateway fail --payment-hash` reads its flag (hexFlag): the same refusal, code and exit class.
        return s.fail(b.contract_id, flagValue(() => toHex(fromHex(b.payment_hash, 'payment_hash', 32))));
      },
    },
    {
      method: 'POST', path: '/v1/operator/claim', step: 'claim', listener: 'operator', in: '{contract_id?, fee_rate, to?, preimage?, broadcast?, dry_run?}', out: 'credit/exit (htlc_claim)', schema: { body: ClaimBody },
      handle: async (req) => {
        const b = req.body as OperatorBody<typeof ClaimBody>;
        return s.claim({
          ...(b.contract_id ? { contract: b.contract_id } : {}), feeRate: b.fee_rate, ...(b.to ? { to: b.to } : {}), ...(b.preimage !== undefined ? { preimage: preimageOf(b.preimage) } : {}),
          ...exitSwitches(b),
        });
      },
    },
  ];
}

/** The gateway's own routes as one fastify plugin (./routes-plugin.ts); serve gateway adds the mint's (mintPlugin). */
export function gatewayPlugin(s: GatewaySteps): RoutePlugin {
  return routePlugin(gatewayRoutes(s));
}
