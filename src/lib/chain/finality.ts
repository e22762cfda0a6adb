/**
 * The one finality rule every command uses: Bitcoin Core's IsFinalTx
 * (src/consensus/tx_verify.cpp) as called by CheckFinalTxAtTip (src/validation.cpp)
 * when a transaction is offered to the mempool (MemPoolAccept::PreChecks rejects it
 * with "non-final"). Plus a decoder for BIP-68 relative locks so protocols can refuse
 * states that carry one.
 *
 * Core, for mempool acceptance:
 *   - evaluates the transaction as if it were in the *next* block: height = tip + 1;
 *   - compares time locks with the tip's median-time-past (BIP-113), not wall-clock time;
 *   - nLockTime 0 is always final;
 *   - nLockTime < 500000000 (LOCKTIME_THRESHOLD) is a height, otherwise a UNIX time;
 *   - the lock is satisfied when nLockTime < height (resp. < median-time-past): it names
 *     the last block/time at which the tx is still invalid;
 *   - if every input has nSequence 0xffffffff (SEQUENCE_FINAL) the lock is ignored.
 * So a height lock L is minable in block L+1, i.e. accepted to the mempool once the
 * tip is L.
 *
 * Deliberately not here: BIP-68 *evaluation* (needs each prevout's confirmation height
 * and MTP; protocols here refuse relative locks instead of tracking them) and script
 * level CLTV/CSV checks (the interpreter's job, not the mempool's locktime gate).
 */
import type { ChainTip } from './types.ts';

/** Below this nLockTime is a block height, at or above a UNIX time (Core's LOCKTIME_THRESHOLD). */
export const LOCKTIME_THRESHOLD = 500_000_000;
/** nSequence that opts an input out of nLockTime (Core's CTxIn::SEQUENCE_FINAL). */
export const SEQUENCE_FINAL = 0xffff_ffff;
/** BIP-68: set means "this nSequence is not a relative lock". */
export const SEQUENCE_LOCKTIME_DISABLE_FLAG = 0x8000_0000;
/** BIP-68: set means the value counts 512-second units, clear means blocks. */
export const SEQUENCE_LOCKTIME_TYPE_FLAG = 0x0040_0000;
/** BIP-68: only the low 16 bits carry the lock value. */
export const SEQUENCE_LOCKTIME_MASK = 0x0000_ffff;
/** BIP-68: time-based values are in units of 2^9 = 512 seconds. */
export const SEQUENCE_LOCKTIME_GRANULARITY = 9;

/** The parts of a transaction the finality rule looks at. */
export interface LockTimeFields {
  lockTime: number;
  inputs: readonly { sequence: number }[];
}

export type LockTimeKind = 'none' | 'height' | 'time';

function assertUint32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`${what} must be a 32-bit unsigned integer, got ${value}`);
  }
}

/** How Core reads an nLockTime: 0 is no lock, below LOCKTIME_THRESHOLD a height, else a time. */
export function lockTimeKind(lockTime: number): LockTimeKind {
  assertUint32(lockTime, 'nLockTime');
  if (lockTime === 0) return 'none';
  return lockTime < LOCKTIME_THRESHOLD ? 'height' : 'time';
}

/** True when every input opts out of nLockTime (vacuously true with no inputs, as in Core's loop). */
function allSequencesFinal(tx: LockTimeFields): boolean {
  return tx.inputs.every((input) => input.sequence === SEQUENCE_FINAL);
}

/**
 * Core's CheckFinalTxAtTip: could `tx` enter the mempool (be mined in the next block)
 * on top of a tip at `tipHeight` whose median-time-past is `tipMedianTimePast`?
 */
export function isFinal(tx: LockTimeFields, tipHeight: number, tipMedianTimePast: number): boolean {
  return isFinalAtTip(tx, { height: tipHeight, medianTimePast: tipMedianTimePast });
}

/**
 * Same rule, reading the tip's median-time-past only when a time lock actually needs it.
 * An offline chain source told only `--tip-height` hands out a tip whose
 * `medianTimePast` throws E_CHAIN_UNKNOWN; this keeps height-locked checks working there.
 */
export function isFinalAtTip(tx: LockTimeFields, tip: Pick<ChainTip, 'height' | 'medianTimePast'>): boolean {
  const kind = lockTimeKind(tx.lockTime);
  if (kind === 'none') return true;
  // IsFinalTx checks the lock before the sequences; the result is the same either way,
  // and checking sequences first spares reading an MTP that may be unknown.
  if (allSequencesFinal(tx)) return true;
  if (kind === 'height') {
    assertHeight(tip.height);
    // Core: nLockTime < nBlockHeight with nBlockHeight = tip + 1.
    return tx.lockTime < tip.height + 1;
  }
  // Core: nLockTime < nBlockTime with nBlockTime = the tip's GetMedianTimePast() (BIP-113).
  return tx.lockTime < tip.medianTimePast;
}

function assertHeight(height: number): void {
  if (!Number.isInteger(height) || height < 0) throw new RangeError(`tip height must be a non-negative integer, got ${height}`);
}

/**
 * Blocks still to be mined before `tx` is accepted to the mempool: 0 when it is final
 * by height already (or has no enforced lock), `null` for a time lock (that depends on
 * median-time-past, not on a block count).
 */
export function blocksUntilFinal(tx: LockTimeFields, tipHeight: number): number | null {
  assertHeight(tipHeight);
  const kind = lockTimeKind(tx.lockTime);
  if (kind === 'none' || allSequencesFinal(tx)) return 0;
  if (kind === 'time') return null;
  // Final once tip >= lockTime.
  return Math.max(0, tx.lockTime - tipHeight);
}

/**
 * One sentence for error messages and logs, e.g.
 * "nLockTime 1000 is final once the tip reaches 1000 (now 995: 5 more blocks)".
 */
export function explainFinality(tx: LockTimeFields, tip: Pick<ChainTip, 'height' | 'medianTimePast'>): string {
  const kind = lockTimeKind(tx.lockTime);
  const lock = `nLockTime ${tx.lockTime}`;
  if (kind === 'none') return `${lock}: no absolute lock, final at any height`;
  if (allSequencesFinal(tx)) {
    return `${lock} is not enforced: every input's nSequence is 0xffffffff, so the transaction is final now`;
  }
  if (kind === 'height') {
    const left = blocksUntilFinal(tx, tip.height) ?? 0;
    const state = left === 0 ? 'already final' : `${left} more block${left === 1 ? '' : 's'}`;
    return `${lock} is final once the tip reaches ${tx.lockTime} (now ${tip.height}: ${state})`;
  }
  const when = new Date(tx.lockTime * 1000).toISOString().replace('.000Z', 'Z');
  const mtp = tip.medianTimePast;
  // Final once MTP > lockTime, i.e. MTP >= lockTime + 1.
  const left = tx.lockTime + 1 - mtp;
  const state = left <= 0 ? 'already final' : `${left} s to go`;
  return `${lock} (${when}) is final once the tip's median-time-past passes it (now ${mtp}: ${state})`;
}

/** A decoded BIP-68 nSequence. `seconds` is value × 512 for time-based locks. */
export type SequenceLock =
  | { disabled: true }
  | { disabled: false; type: 'blocks'; value: number }
  | { disabled: false; type: 'time'; value: number; seconds: number };

/**
 * Decode one nSequence as BIP-68 reads it (Core's CalculateSequenceLocks): bit 31 set
 * disables the relative lock; otherwise bit 22 picks 512-second units over blocks and
 * the low 16 bits are the value (bits outside the mask are ignored by consensus).
 * This says what the field *would* mean; whether it is enforced also depends on the
 * transaction version — see `relativeLockInputs`.
 */
export function sequenceLock(sequence: number): SequenceLock {
  assertUint32(sequence, 'nSequence');
  // `>>> 0` keeps the bitwise results unsigned (JS bit operators are signed 32-bit).
  if (((sequence & SEQUENCE_LOCKTIME_DISABLE_FLAG) >>> 0) !== 0) return { disabled: true };
  const value = sequence & SEQUENCE_LOCKTIME_MASK;
  if ((sequence & SEQUENCE_LOCKTIME_TYPE_FLAG) !== 0) {
    return { disabled: false, type: 'time', value, seconds: value << SEQUENCE_LOCKTIME_GRANULARITY };
  }
  return { disabled: false, type: 'blocks', value };
}

/**
 * Indexes of inputs whose nSequence is an enforced BIP-68 relative lock. Core enforces
 * BIP-68 only for version >= 2, compared as an *unsigned* 32-bit number
 * (tx_verify.cpp: `static_cast<uint32_t>(tx.nVersion) >= 2`, now a uint32 field).
 * A lock of value 0 is still reported: it is satisfied at once, but a protocol that
 * refuses relative locks should see that the field is not disabled.
 */
export function relativeLockInputs(tx: { version: number; inputs: readonly { sequence: number }[] }): number[] {
  if (tx.version >>> 0 < 2) return [];
  const out: number[] = [];
  tx.inputs.forEach((input, i) => {
    if (!sequenceLock(input.sequence).disabled) out.push(i);
  });
  return out;
}

/**
 * The finality fields of a @scure/btc-signer `Transaction` (structurally typed so this
 * module does not import the library). Unset input sequences default to 0xffffffff,
 * as btc-signer serialises them (its DEFAULT_SEQUENCE).
 */
export function lockTimeFields(tx: {
  lockTime: number;
  version: number;
  inputsLength: number;
  getInput(index: number): { sequence?: number };
}): LockTimeFields & { version: number } {
  const inputs: { sequence: number }[] = [];
  for (let i = 0; i < tx.inputsLength; i++) inputs.push({ sequence: tx.getInput(i).sequence ?? SEQUENCE_FINAL });
  return { lockTime: tx.lockTime, version: tx.version, inputs };
}
