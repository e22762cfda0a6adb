/**
 * `serve statechain`'s endpoints (docs/serve.md, "The statechain operator"): each POST takes
 * the message a pipe carries to the operator and answers what `statechain deposit|transfer|
 * withdraw` prints for it, by running the same row (src/topics/statechain/operator-steps.ts).
 *
 * | method path                        | reads → answers                              | L |
 * |------------------------------------|----------------------------------------------|---|
 * | GET  /v1/statechain/info           | — → statechain/operator-info (key, terms)    | P |
 * | POST /v1/statechain/deposit        | deposit-request → deposit-offer              | P |
 * | POST /v1/statechain/deposit/backup | deposit-backup → deposit-cosigned            | P |
 * | POST /v1/statechain/transfer/sign  | transfer-sign → transfer-cosigned (a pair's A sends it too) | P |
 * | POST /v1/statechain/transfer/accept| transfer-accept → transfer-done              | P |
 * | POST /v1/statechain/withdraw       | withdraw-request → withdraw-cosigned (a pair's A too) | P |
 * | GET  /v1/operator/coins            | — → statechain/operator-coins                | O |
 *
 * The POST rows are operator-steps.ts's table (each row names its path): a row added there is served,
 * its body checked against the schema of the message it reads (schemas/statechain.*.json) before the
 * row runs: a message of another network than the service's is E_NETWORK_MISMATCH, a body whose type
 * is not the route's E_WRONG_MESSAGE (./routes-plugin.ts). Retries: every row answers the same message
 * with the same answer (operator-steps.ts), so a client may send again whatever it did not hear.
 */
import type { Network } from '../../lib/network.ts';
import { STATECHAIN_SCHEMAS } from '../../lib/statechain/schemas.ts';
import { operatorSteps } from '../statechain/operator-steps.ts';
import type { Route } from './route.ts';
import { routePlugin, type RoutePlugin } from './routes-plugin.ts';

export type StatechainService = {
  network: Network;
  /** The operator's answer to one message (operator-steps.ts's row for its type, on the service's store). */
  answer: (type: string, value: unknown) => Promise<Record<string, unknown>>;
  /** The operator's key and the terms it offers. */
  info: () => Promise<Record<string, unknown>>;
  /** A summary of every coin the store holds (operator listener). */
  coins: () => Promise<Record<string, unknown>>;
};

function schemaOf(type: string) {
  const schema = STATECHAIN_SCHEMAS.find((m) => m.$id === type);
  if (!schema) throw new Error(`no schema for ${type} (src/lib/statechain/schemas.ts)`);
  return schema;
}

export function statechainRoutes(s: StatechainService): Route[] {
  const posts: Route[] = Object.values(operatorSteps).map((p) => ({
    method: 'POST',
    path: p.path,
    step: p.step,
    listener: 'public',
    in: p.reads,
    out: p.answers,
    schema: { body: schemaOf(p.reads) },
    handle: (req) => s.answer(p.reads, req.body),
  }));
  return [
    { method: 'GET', path: '/v1/statechain/info', step: 'info', listener: 'public', in: '—', out: 'statechain/operator-info', handle: () => s.info() },
    ...posts,
    { method: 'GET', path: '/v1/operator/coins', step: 'coins', listener: 'operator', in: '—', out: 'statechain/operator-coins', handle: () => s.coins() },
  ];
}

/** The operator's routes as one fastify plugin (./routes-plugin.ts). */
export function statechainPlugin(s: StatechainService): RoutePlugin {
  return routePlugin(statechainRoutes(s));
}
