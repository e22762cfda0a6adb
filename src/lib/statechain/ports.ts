/**
 * The statechain operator's port (issue 29, issue 43): what the operator's steps keep per
 * coin (`OperatorRecord`) and what they need from storage (`OperatorStore`). The protocol
 * declares it; the stores implement it (src/lib/store/operator-store.ts, the files under
 * --state-dir, and src/lib/store/pg/operator-store.ts, PostgreSQL) and import only this
 * file from the protocol. The rules every implementation keeps are written at the top of
 * src/lib/store/operator-store.ts.
 */
import type { Network } from '../network.ts';
import type { Statement } from './schemas.ts';
import type { TransferReceipt, UnsignedStatement } from './statement.ts';

export type { TransferReceipt };

/** A finished transfer as records written before receipts keep it: its whole signed statement. */
export type FinishedStatement = { transfer_id: string; statement: Statement };
export type FinishedTransfer = TransferReceipt | FinishedStatement;

/** A finished transfer kept whole (by a record written before receipts), told from a receipt; anything else a store holds in `done` is neither. */
export function isFinishedStatement(d: unknown): d is FinishedStatement {
  return typeof d === 'object' && d !== null && 'statement' in d;
}

/** The number of backups a finished transfer's statement counted (its receiver's backup is that number). */
export function finishedCount(d: FinishedTransfer): number {
  return isFinishedStatement(d) ? d.statement.count : d.count;
}

export type OperatorRecord = {
  coin_id: string;
  network: Network;
  /** s, the operator's current share: the only secret here. */
  share_secret: string;
  statement: UnsignedStatement;
  funding_tx: string | null;
  /** x₁ of the pending transfer, if any. */
  x1: string | null;
  /** sha256(owner pubnonce)[0..16] of every nonce this coin was signed against. */
  seen_nonces: string[];
  /**
   * Finished transfers, so a transfer id is used once and a repeated last step answers the same: a receipt each
   * (what its transfer-done statement had beyond what this record still holds), or, as records before receipts
   * kept them, the whole statement — compacted to a receipt at the coin's next step (operator.ts).
   */
  done: FinishedTransfer[];
  /**
   * The last co-signing answer and a digest of its request: the same request again (the
   * answer was lost, or the operator crashed after writing but before printing) gets the
   * same answer — the same partial signature, no new one.
   */
  last_answer?: { request: string; message: Record<string, unknown> } | null;
};

/** A new coin's first record and the offer it answers a deposit request with (statechain/deposit-offer). */
export type DepositOffer = { record: OperatorRecord; message: Record<string, unknown> };

/** What the operator's listing shows of a coin: its public state, never its share. */
export type CoinSummary = { coin_id: string; status: string; outpoint: string | null; amount_sat: number | null; backups: number; transfers: number };

/** A record's summary. */
export function coinSummary(r: Pick<OperatorRecord, 'coin_id' | 'statement' | 'done'>): CoinSummary {
  return { coin_id: r.coin_id, status: r.statement.status, outpoint: r.statement.outpoint, amount_sat: r.statement.amount_sat, backups: r.statement.count, transfers: r.done.length };
}

export type OperatorStep<M> = (record: OperatorRecord) => Promise<{ record: OperatorRecord; message: M }> | { record: OperatorRecord; message: M };

export interface OperatorStore {
  /** Where the records are, for messages (a directory, or a redacted URL). */
  readonly where: string;
  /**
   * A deposit request's offer, `request` its digest: the offer kept for that request if there
   * is one (the answer was lost, the owner sends it again: nothing is written, whatever became
   * of the coin since); else `make`'s, its record and the offer kept before it returns
   * (E_COIN_EXISTS if make's coin id is taken). Two of the same request at once keep one.
   */
  offer(request: string, make: () => DepositOffer): Promise<Record<string, unknown>>;
  /** One step on coin `coinId` under its lock; the record is durable before this returns the message. */
  step<M>(coinId: string, fn: OperatorStep<M>): Promise<M>;
  /** Every coin of this store's network, summarised (no secret): for the operator's own listing. */
  coins(): Promise<CoinSummary[]>;
  /** Release connections (no-op for files). */
  close(): Promise<void>;
}
