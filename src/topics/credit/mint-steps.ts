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
};

/** Load the steps and schemas (lazily: a command that never serves does not pay for them). */
export async function mintSteps(network: Network): Promise<MintSteps> {
  const { decodeMessage } = await import('../../lib/message.ts');
  const { readEnvelope } = await import('../../lib/envelope.ts');
  const s = await import('../../lib/credit/schemas.ts');
  const mint = await import('../../lib/credit/mint.ts');
  const { acceptAbandon } = await import('../../lib/credit/abandon.ts');
  const table: Record<MintStepType, (ctx: MintContext, value: unknown) => BoundStep> = {
    'credit/open-request': (ctx, v) => { const m = decodeMessage(s.OpenRequestSchema, v); return () => mint.acceptOpen(ctx, m); },
    'credit/abandon': (ctx, v) => { const m = decodeMessage(s.AbandonSchema, v); return () => acceptAbandon(ctx, m); },
    'credit/close-request': (ctx, v) => { const m = decodeMessage(s.CloseRequestSchema, v); return () => mint.acceptClose(ctx, m); },
    'credit/rollover-request': (ctx, v) => { const m = decodeMessage(s.RolloverRequestSchema, v); return () => mint.proposeRollover(ctx, m); },
    'credit/rollover-sign': (ctx, v) => { const m = decodeMessage(s.RolloverSignSchema, v); return () => mint.acceptRollover(ctx, m); },
    'credit/update-request': (ctx, v) => { const m = decodeMessage(s.UpdateRequestSchema, v); return () => mint.acceptUpdate(ctx, m); },
  };
  return {
    bind(ctx, value, expect, where = 'the request') {
      const envelope = readEnvelope(value);
      if (envelope.network !== network) throw new RefusedError('E_NETWORK_MISMATCH', `${where} is for another network than ${network}`);
      // With `expect`, the table's row for it: decodeMessage refuses another type E_WRONG_MESSAGE.
      const type = expect ?? ((MINT_STEP_TYPES as readonly string[]).includes(envelope.type) ? envelope.type as MintStepType : 'credit/update-request');
      return table[type](ctx, value);
    },
  };
}
