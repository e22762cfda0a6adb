/**
 * The statechain operator's answers, one row per message it reads: the one implementation
 * that `statechain deposit`, `statechain transfer` and `statechain withdraw` run for the
 * operator (their role tables call these rows) and that `serve statechain` dispatches on
 * (src/topics/serve/statechain-routes.ts). A row takes what it needs explicitly — the
 * network, the operator's store, a context maker, the terms it offers — never a command's flags.
 *
 * | reads                      | holds                  | checks (src/lib/statechain/operator.ts)                        | writes (before the answer leaves)        | answers             |
 * |----------------------------|------------------------|----------------------------------------------------------------|------------------------------------------|---------------------|
 * | deposit-request            | nothing for this coin  | the owner's signature, the terms                               | op-<id> with its share sealed, the offer | deposit-offer       |
 * | deposit-backup             | op-<id> deposit        | the owner's signature and proof, backup 1 on the funding       | op-<id> active, backup 1 counted         | deposit-cosigned    |
 * | transfer-sign (a pair's A) | op-<id> active         | the owner's (and part B's) signature, the receiver's backup    | the backup counted, x₁ pending           | transfer-cosigned   |
 * | transfer-accept            | op-<id>, x₁ pending    | the receiver's signature, s₂·G + O₂ = P                        | the share rotated (the old one erased)   | transfer-done       |
 * | withdraw-request (A)       | op-<id> active         | the owner's (and part B's) signature, a spend of just the coin | op-<id> withdrawn                        | withdraw-cosigned   |
 *
 * Invariants: every row answers the same request with the same answer (a lost answer is asked
 * for again: a deposit-request by its digest's kept offer, the others by the record's last
 * answer or finished transfers), and nothing leaves before its record is durable (the store's
 * step). The operator keeps no secret nonce, so any process on the same store may answer any
 * request: the coin's lock serialises the steps on one coin.
 */
import type { TObject } from '@sinclair/typebox';
import { MalformedInputError, OffchainError } from '../../lib/errors.ts';
import type { Network } from '../../lib/network.ts';
import type { OperatorContext } from '../../lib/statechain/operator.ts';
import type { OperatorStore } from '../../lib/statechain/ports.ts';
import type { Statement } from '../../lib/statechain/schemas.ts';
import type { UnsignedStatement } from '../../lib/statechain/statement.ts';

/** The terms an operator offers a new coin, as its deposit-offer's statement writes them. */
export type OfferedTerms = { interval: number; initial_lock: number; confirmations: number; backup_fee_sat: number; margin: number; anchor?: true };

/** What a row is given besides the message. */
export type OperatorEnv = {
  network: Network;
  store: OperatorStore;
  /** The operator's key, randomness and chain — for a coin's statement where an offline chain answers for its deposit. */
  context: (statement?: Statement | UnsignedStatement) => Promise<OperatorContext>;
  /** The terms a deposit-request is offered (`offeredTerms`): asked for once the request is read; none where no deposit is answered. */
  terms?: () => Promise<OfferedTerms>;
};

/** One row: the message it reads and answers, its endpoint under `serve statechain` and its metric name, and the step. */
export type OperatorRow = { reads: string; answers: string; path: string; step: string; run: (env: OperatorEnv, value: unknown) => Promise<Record<string, unknown>> };

const lib = {
  operator: () => import('../../lib/statechain/operator.ts'),
  schemas: () => import('../../lib/statechain/schemas.ts'),
};

async function decode<S extends TObject>(schema: S, value: unknown) {
  const { decodeMessage } = await import('../../lib/message.ts');
  return decodeMessage(schema, value);
}

/** The deposit command's operator flags as terms, checked (E_USAGE / the coin module's own refusals) before any request is read. */
export async function offeredTerms(f: { interval: number; initialLock: number; minConfirmations?: number | undefined; backupFee: number; margin: number; anchor?: boolean | undefined }): Promise<OfferedTerms> {
  const terms: OfferedTerms = { interval: f.interval, initial_lock: f.initialLock, confirmations: f.minConfirmations ?? 3, backup_fee_sat: f.backupFee, margin: f.margin, ...(f.anchor ? { anchor: true as const } : {}) };
  const { checkTerms, termsFromJson } = await import('../../lib/statechain/coin.ts');
  checkTerms(termsFromJson(terms));
  return terms;
}

/** The operator's rows by the message type they read. */
export const operatorSteps: Readonly<Record<string, OperatorRow>> = {
  'statechain/deposit-request': {
    reads: 'statechain/deposit-request', path: '/v1/statechain/deposit', step: 'deposit', answers: 'statechain/deposit-offer',
    run: async (env, value) => {
      const op = await lib.operator();
      const req = await decode((await lib.schemas()).DepositRequestSchema, value);
      if (env.terms === undefined) throw new OffchainError('E_INTERNAL', 'a deposit-request reached an operator without terms');
      const terms = await env.terms();
      const ctx = await env.context();
      return env.store.offer(op.requestDigest(req), () => op.offerDeposit(req, terms, ctx));
    },
  },
  'statechain/deposit-backup': {
    reads: 'statechain/deposit-backup', path: '/v1/statechain/deposit/backup', step: 'deposit-backup', answers: 'statechain/deposit-cosigned',
    run: async (env, value) => {
      const op = await lib.operator();
      const req = await decode((await lib.schemas()).DepositBackupSchema, value);
      return env.store.step(req.coin_id, async (r) => op.cosignDepositBackup(r, req, await env.context()));
    },
  },
  'statechain/transfer-sign': {
    reads: 'statechain/transfer-sign', path: '/v1/statechain/transfer/sign', step: 'transfer-sign', answers: 'statechain/transfer-cosigned',
    run: async (env, value) => {
      const op = await lib.operator();
      const req = await decode((await lib.schemas()).TransferSignSchema, value);
      return env.store.step(req.coin_id, async (r) => op.cosignTransfer(r, req, await env.context(r.statement)));
    },
  },
  'statechain/transfer-accept': {
    reads: 'statechain/transfer-accept', path: '/v1/statechain/transfer/accept', step: 'transfer-accept', answers: 'statechain/transfer-done',
    run: async (env, value) => {
      const op = await lib.operator();
      const acc = await decode((await lib.schemas()).TransferAcceptSchema, value);
      return env.store.step(acc.coin_id, async (r) => op.completeTransfer(r, acc, await env.context()));
    },
  },
  'statechain/withdraw-request': {
    reads: 'statechain/withdraw-request', path: '/v1/statechain/withdraw', step: 'withdraw', answers: 'statechain/withdraw-cosigned',
    run: async (env, value) => {
      const op = await lib.operator();
      const req = await decode((await lib.schemas()).WithdrawRequestSchema, value);
      return env.store.step(req.coin_id, async (r) => op.cosignWithdrawal(r, req, await env.context()));
    },
  },
};

/** The operator's row for a message type, or E_WRONG_MESSAGE naming what it reads. */
export function operatorStep(type: string): OperatorRow {
  const row = Object.hasOwn(operatorSteps, type) ? operatorSteps[type] : undefined;
  if (row === undefined) throw new MalformedInputError('E_WRONG_MESSAGE', `the statechain operator reads ${Object.keys(operatorSteps).join(', ')}, not ${type}`);
  return row;
}
