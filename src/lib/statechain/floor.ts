/**
 * An owner's own safety floor (issue 22, finding 4): the minimum terms a depositor or a
 * receiver accepts, whatever the operator's terms say. The operator's terms are its
 * offer; they are not a reason to take a coin whose backup is worth little, whose deposit
 * is one reorg away, or whose newest backup has no head start.
 *
 * Invariants:
 * - a coin is taken only if its deposit has at least `minConfirmations` confirmations,
 *   its newest backup's locktime is more than `minMargin` blocks above the tip, two
 *   owners' backups are at least `minInterval` blocks apart, and the backup fee is at most
 *   `maxBackupFeeSat` and at most `maxBackupFeePercent` % of the coin;
 * - a pair (O = A + B) takes only a coin whose terms have an anchor, unless it opts in
 *   (`allowUnanchored`, --allow-unanchored): an old-terms backup pays the pair's key (or its
 *   channel), which neither part signs alone, so no CPFP child can bump it; if fees rise
 *   above its fixed fee while the previous owner's older backup is also final, that one
 *   can confirm first and take the coin. An anchored backup is bumped by either part
 *   (`package child`). A single owner bumps its own backup output, so this is a pair's rule;
 *   it is checked at `statechain-verify` (A) and at accepting (A and B), as every floor check;
 * - the defaults below are what an owner gets without any flag; each is documented in
 *   docs/statechain.md with the reason for its value.
 *
 * Not here: the operator's own checks of its terms (coin.ts `checkTerms`).
 */
import { RefusedError } from '../errors.ts';
import type { Terms } from './coin.ts';

export type Floor = {
  minConfirmations: number;
  minMargin: number;
  minInterval: number;
  maxBackupFeeSat: bigint;
  /** Percent of the coin, 0–100 (may have decimals). */
  maxBackupFeePercent: number;
  /** A depositor's: the most blocks past the tip its backup 1 (its refund) may be final (default 2 × the operator's 12,960). */
  maxInitialLock?: number;
  /** A pair's opt-in: take a coin whose terms have no anchor, accepting that its backup cannot be bumped (--allow-unanchored). */
  allowUnanchored?: boolean;
};

/** The floor an owner gets by default (docs/statechain.md, "The owner's safety floor"). */
export const DEFAULT_FLOOR: Floor = { minConfirmations: 2, minMargin: 6, minInterval: 6, maxBackupFeeSat: 25_000n, maxBackupFeePercent: 5, maxInitialLock: 25_920 };

/** Refuse terms (and a coin of `amountSat`) below the owner's floor. */
export function checkFloor(terms: Pick<Terms, 'interval' | 'confirmations' | 'margin' | 'backupFeeSat'>, amountSat: bigint, floor: Floor): void {
  if (terms.interval < floor.minInterval) {
    throw new RefusedError('E_BELOW_FLOOR', `the terms' interval (${terms.interval} blocks) is below your --min-interval ${floor.minInterval}: your backup's head start over the previous owner's would be too short`);
  }
  if (terms.backupFeeSat > floor.maxBackupFeeSat) {
    throw new RefusedError('E_BACKUP_FEE_TOO_HIGH', `the terms' backup fee (${terms.backupFeeSat} sat) is above your --max-backup-fee ${floor.maxBackupFeeSat} sat: your unilateral exit would pay it`);
  }
  // fee / amount > percent / 100, in integers: fee·10000 > amount·round(percent·100).
  if (terms.backupFeeSat * 10_000n > amountSat * BigInt(Math.round(floor.maxBackupFeePercent * 100))) {
    throw new RefusedError(
      'E_BACKUP_FEE_TOO_HIGH',
      `the terms' backup fee (${terms.backupFeeSat} sat) is more than your --max-backup-fee-percent ${floor.maxBackupFeePercent}% of the ${amountSat} sat coin: your unilateral exit would get back only ${amountSat - terms.backupFeeSat} sat`,
    );
  }
}

/**
 * A pair receiving (both parts, at verify and at accepting): refuse terms without an anchor,
 * unless the floor opts in. Neither part alone can sign a child from the pair's backup
 * output, so an unanchored backup keeps the terms' fixed fee whatever the mempool asks.
 */
export function checkPairBumpable(terms: Pick<Terms, 'anchor' | 'backupFeeSat'>, floor: Floor): void {
  if (terms.anchor === true || floor.allowUnanchored === true) return;
  throw new RefusedError(
    'E_BACKUP_UNBUMPABLE',
    `the terms have no anchor: the pair's backup (its fixed ${terms.backupFeeSat} sat fee) pays the pair, which neither part signs alone, so no child can bump it if fees rise, and the previous owner's older backup could confirm first; take an anchored coin (the operator's statechain-deposit --anchor --backup-fee 0), or pass --allow-unanchored to accept that fee risk`,
  );
}

/** A depositor's: refuse an initial lock beyond its floor (its refund, backup 1, would wait longer than it accepts). */
export function checkInitialLock(terms: Pick<Terms, 'initialLock'>, floor: Floor): void {
  const max = floor.maxInitialLock ?? DEFAULT_FLOOR.maxInitialLock!;
  if (terms.initialLock > max) {
    throw new RefusedError('E_BELOW_FLOOR', `the terms' initial lock (${terms.initialLock} blocks) is above your --max-initial-lock ${max}: your refund, backup 1, would be locked that long`);
  }
}

/** The confirmations a coin's deposit needs: the terms' or the owner's floor, whichever is more. */
export function confirmationsNeeded(terms: Pick<Terms, 'confirmations'>, floor: Floor): number {
  return Math.max(terms.confirmations, floor.minConfirmations);
}

/** The margin a newest backup must keep above the tip: the terms' or the owner's floor, whichever is more. */
export function marginNeeded(terms: Pick<Terms, 'margin'>, floor: Floor): number {
  return Math.max(terms.margin, floor.minMargin);
}
