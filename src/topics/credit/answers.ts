/**
 * The user's step that applies the mint's answer to a credit/abandon (docs/credit.md,
 * "Recovering from a refusal"): `credit/abandoned` (nothing was signed: a fresh nonce), or
 * the answer the mint gave when it signed that state and the user never got — applied as
 * if it had arrived in time. One table, used by `credit abandon --role user` reading the
 * answer from a pipe and by the `--peer` steps that ask the service (./peer.ts).
 */
import type { UserContext } from '../../lib/credit/ports.ts';
import type { TokenSink } from '../../lib/credit/user.ts';
import { UsageError } from '../../lib/errors.ts';

export async function applyAbandonAnswer(ctx: UserContext, type: string, value: unknown, sink: TokenSink | undefined): Promise<Record<string, unknown>> {
  const { decodeMessage } = await import('../../lib/message.ts');
  const schemas = await import('../../lib/credit/schemas.ts');
  const abandon = await import('../../lib/credit/abandon.ts');
  const user = { ...(await import('../../lib/credit/user-update.ts')), ...(await import('../../lib/credit/user-close.ts')), ...(await import('../../lib/credit/user-rollover.ts')) };
  const apply: Record<string, () => Promise<Record<string, unknown>>> = {
    'credit/abandoned': () => abandon.applyAbandoned(ctx, decodeMessage(schemas.AbandonedSchema, value)),
    'credit/receipt': () => user.applyReceipt(ctx, decodeMessage(schemas.ReceiptSchema, value), sink),
    'credit/closed': () => user.applyClosed(ctx, decodeMessage(schemas.ClosedSchema, value)),
    'credit/rollover-accept': () => user.applyRolloverAccept(ctx, decodeMessage(schemas.RolloverAcceptSchema, value)),
  };
  const step = apply[type];
  if (!step) throw new UsageError('E_USAGE', `expected the mint's answer to a credit/abandon (${Object.keys(apply).join(', ')}), got ${type}`);
  return step();
}
