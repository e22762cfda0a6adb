/**
 * A one-shot's store step run by a service (serve mint's /v1/operator/exit, serve gateway's
 * gateway steps): where the one-shot opens the mint's store for one transaction
 * (CreditCommand.withMint), the service runs the step as one request of its group commit on the
 * store it holds open — a second open of a SQLite store would fail on its lock — answered only
 * once its batch is committed (a step that throws rolls back its savepoint). In test mode
 * (OFFCHAIN_TEST_SEED) each step's randomness starts afresh, as a new one-shot process's would,
 * so the service answers the same bytes as the one-shot from the same state.
 */
import { TEST_SEED_ENV } from '../../lib/cli/base-command.ts';
import type { MintContext, MintContractRecord } from '../../lib/credit/ports.ts';
import type { MintStorePort } from '../../lib/store/mint-store-port.ts';
import type { MintBatch } from './mint-batch.ts';

export type ServedMint = { ctx: MintContext; store: MintStorePort<MintContractRecord>; batch: MintBatch };

export function onServedMint<R>(s: ServedMint, deterministic: boolean, step: (ctx: MintContext, store: MintStorePort<MintContractRecord>) => Promise<R>): Promise<R> {
  const seed = process.env[TEST_SEED_ENV];
  return s.batch.read(async () => {
    const ctx = deterministic && seed ? { ...s.ctx, random: (await import('../../lib/random.ts')).deterministicRandom(seed) } : s.ctx;
    return step(ctx, s.store);
  });
}
