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
 * The POST rows are operator-steps.ts's table (each row names its path): a row added there is served.
 * A body whose type is not the route's is E_WRONG_MESSAGE; a message of another network than
 * the service's, the one-shot's network refusal. Retries: every row answers the same message
 * with the same answer (operator-steps.ts), so a client may send again whatever it did not hear.
 */
import { MalformedInputError } from '../../lib/errors.ts';
import type { Network } from '../../lib/network.ts';
import { operatorSteps } from '../statechain/operator-steps.ts';
import type { Route } from './service.ts';

export type StatechainService = {
  network: Network;
  /** The operator's answer to one message (operator-steps.ts's row for its type, on the service's store). */
  answer: (type: string, value: unknown) => Promise<Record<string, unknown>>;
  /** The operator's key and the terms it offers. */
  info: () => Promise<Record<string, unknown>>;
  /** A summary of every coin the store holds (operator listener). */
  coins: () => Promise<Record<string, unknown>>;
};

export function statechainRoutes(s: StatechainService): Route[] {
  const posts: Route[] = Object.values(operatorSteps).map((p) => ({
    method: 'POST',
    path: p.path,
    step: p.step,
    listener: 'public',
    in: p.reads,
    out: p.answers,
    handle: async (req) => {
      const { readEnvelope } = await import('../../lib/envelope.ts');
      const { resolveNetwork } = await import('../../lib/network.ts');
      const env = readEnvelope(req.body);
      if (env.type !== p.reads) throw new MalformedInputError('E_WRONG_MESSAGE', `${p.path} takes a ${p.reads}, not ${env.type}`);
      resolveNetwork(s.network, env.network);
      return s.answer(p.reads, req.body);
    },
  }));
  return [
    { method: 'GET', path: '/v1/statechain/info', step: 'info', listener: 'public', in: '—', out: 'statechain/operator-info', handle: () => s.info() },
    ...posts,
    { method: 'GET', path: '/v1/operator/coins', step: 'coins', listener: 'operator', in: '—', out: 'statechain/operator-coins', handle: () => s.coins() },
  ];
}
