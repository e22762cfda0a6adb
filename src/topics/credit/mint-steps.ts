/**
 * The credit mint's steps by message type: one table the streaming mint (`sign-update --role
 * mint --stream`, ./stream.ts) and the service (`serve mint`, src/topics/serve/mint-routes.ts)
 * both dispatch on — the same step functions the one-shot commands call.
 *
 *   message in               step (src/lib/credit/)   message out
 *   credit/open-request      acceptOpen               credit/open-accept
 *   credit/abandon           acceptAbandon            credit/abandoned
 *   credit/close-request     acceptClose              credit/closed
 *   credit/rollover-request  proposeRollover          credit/rollover-refund
 *   credit/rollover-sign     acceptRollover           credit/rollover-accept
 *   credit/update-request    acceptUpdate             credit/receipt
 *
 * Invariants: the message is decoded against its schema and its network checked against the
 * mint's before the step runs (a refusal there touches nothing); the step runs inside the
 * caller's savepoint or transaction (./mint-batch.ts) — this file opens none.
 */
import { RefusedError } from '../../lib/errors.ts';
import type { MintContext } from '../../lib/credit/ports.ts';
import type { Network } from '../../lib/network.ts';
import type { Static, TObject } from '@sinclair/typebox';

export const MINT_STEP_TYPES = ['credit/open-request', 'credit/abandon', 'credit/close-request', 'credit/rollover-request', 'credit/rollover-sign', 'credit/update-request'] as const;
export type MintStepType = (typeof MINT_STEP_TYPES)[number];

/** A request bound to its step: run it inside a savepoint/transaction. */
export type BoundStep = () => Promise<unknown>;

export type MintSteps = {
  /**
   * The step for `value` (its envelope read, its network checked, its schema decoded).
   * `expect` pins the type (a service route): another type is E_WRONG_MESSAGE. Without it
   * (the stream), any type not in the table is read as an update-request, as the stream always did.
   */
  bind(ctx: MintContext, value: unknown, expect?: MintStepType, where?: string): BoundStep;
  /**
   * The step for a message already decoded as `type` — its envelope read, its network checked,
   * its schema decoded by the caller (a service route's body check, src/topics/serve/routes-plugin.ts,
   * which fastify runs before the route's handler): bind's checks are not run twice.
   */
  decoded(ctx: MintContext, message: unknown, type: MintStepType): BoundStep;
};

/** Load the steps and schemas (lazily: a command that never serves does not pay for them). */
export async function mintSteps(network: Network): Promise<MintSteps> {
  const { decodeMessage } = await import('../../lib/message.ts');
  const { readEnvelope } = await import('../../lib/envelope.ts');
  const s = await import('../../lib/credit/schemas.ts');
  const mint = await import('../../lib/credit/mint.ts');
  const { acceptAbandon } = await import('../../lib/credit/abandon.ts');
  // Each type's schema and step; `step` takes the message its schema decoded.
  const row = <S extends TObject>(schema: S, step: (ctx: MintContext, m: Static<S>) => Promise<unknown>) => ({ schema, step: step as (ctx: MintContext, m: unknown) => Promise<unknown> });
  const table: Record<MintStepType, { schema: TObject; step: (ctx: MintContext, m: unknown) => Promise<unknown> }> = {
    'credit/open-request': row(s.OpenRequestSchema, mint.acceptOpen),
    'credit/abandon': row(s.AbandonSchema, acceptAbandon),
    'credit/close-request': row(s.CloseRequestSchema, mint.acceptClose),
    'credit/rollover-request': row(s.RolloverRequestSchema, mint.proposeRollover),
    'credit/rollover-sign': row(s.RolloverSignSchema, mint.acceptRollover),
    'credit/update-request': row(s.UpdateRequestSchema, mint.acceptUpdate),
  };
  return {
    bind(ctx, value, expect, where = 'the request') {
      const envelope = readEnvelope(value);
      if (envelope.network !== network) throw new RefusedError('E_NETWORK_MISMATCH', `${where} is for another network than ${network}`);
      // With `expect`, the table's row for it: decodeMessage refuses another type E_WRONG_MESSAGE.
      const type = expect ?? ((MINT_STEP_TYPES as readonly string[]).includes(envelope.type) ? envelope.type as MintStepType : 'credit/update-request');
      const { schema, step } = table[type];
      const m = decodeMessage(schema, value);
      return () => step(ctx, m);
    },
    decoded(ctx, message, type) {
      const { step } = table[type];
      return () => step(ctx, message);
    },
  };
}
