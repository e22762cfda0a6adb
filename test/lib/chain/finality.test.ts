import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  LOCKTIME_THRESHOLD,
  SEQUENCE_FINAL,
  blocksUntilFinal,
  explainFinality,
  isFinal,
  isFinalAtTip,
  lockTimeFields,
  lockTimeKind,
  relativeLockInputs,
  sequenceLock,
} from '../../../src/lib/chain/finality.ts';

const tx = (lockTime: number, ...sequences: number[]) => ({ lockTime, inputs: sequences.map((sequence) => ({ sequence })) });
const NON_FINAL = 0xfffffffd;
const MTP = 1_700_000_000;

describe('isFinal — Core IsFinalTx at tip+1 / median-time-past', () => {
  // Narrated example: a refund locked at 1000 is accepted once the tip is 1000 (mined in 1001).
  it('a height lock L is final once the tip reaches L', () => {
    const refund = tx(1000, NON_FINAL);
    expect(isFinal(refund, 998, MTP)).toBe(false);
    expect(isFinal(refund, 999, MTP)).toBe(false);
    expect(isFinal(refund, 1000, MTP)).toBe(true);
    expect(isFinal(refund, 1001, MTP)).toBe(true);
  });

  it.each([
    // [name, tx, tipHeight, tipMTP, expected]
    ['nLockTime 0 is final whatever the sequences', tx(0, 0, NON_FINAL), 0, 0, true],
    ['nLockTime 0 with no inputs', tx(0), 0, 0, true],
    ['height lock above tip+1, non-final sequence', tx(500, NON_FINAL), 10, MTP, false],
    ['height lock = tip+1 is not yet final', tx(11, NON_FINAL), 10, MTP, false],
    ['height lock = tip is final (next block is tip+1)', tx(10, NON_FINAL), 10, MTP, true],
    ['height lock below tip is final', tx(3, NON_FINAL), 10, MTP, true],
    ['height lock 1 at genesis tip (0) is not final', tx(1, 0), 0, MTP, false],
    ['largest height (threshold−1) is a height', tx(LOCKTIME_THRESHOLD - 1, NON_FINAL), LOCKTIME_THRESHOLD - 2, 0xffffffff, false],
    ['unsatisfied height lock, every sequence final → final', tx(500, SEQUENCE_FINAL, SEQUENCE_FINAL), 10, MTP, true],
    ['unsatisfied height lock, one sequence non-final → not final', tx(500, SEQUENCE_FINAL, NON_FINAL), 10, MTP, false],
    ['unsatisfied lock with no inputs → final (vacuous all-final)', tx(500), 10, MTP, true],
    ['threshold itself is a time', tx(LOCKTIME_THRESHOLD, NON_FINAL), 999_999_999 - 1, LOCKTIME_THRESHOLD, false],
    ['time lock = MTP is not final (strict <)', tx(MTP, NON_FINAL), 10, MTP, false],
    ['time lock < MTP is final', tx(MTP - 1, NON_FINAL), 10, MTP, true],
    ['time lock > MTP is not final, even at a huge height', tx(MTP + 600, NON_FINAL), 400_000_000, MTP, false],
    ['time lock in the future, every sequence final → final', tx(MTP + 600, SEQUENCE_FINAL), 10, MTP, true],
    ['time lock 0xffffffff never satisfied by time', tx(0xffffffff, 0), 10, 0xffffffff, false],
    ['a height lock ignores the MTP (MTP 0, tip = lock)', tx(100, NON_FINAL), 100, 0, true],
  ] as const)('%s', (_name, t, height, mtp, expected) => {
    expect(isFinal(t, height, mtp)).toBe(expected);
  });

  it('rejects out-of-range values as programming errors', () => {
    expect(() => isFinal(tx(-1, 0), 0, 0)).toThrow(RangeError);
    expect(() => isFinal(tx(2 ** 32, 0), 0, 0)).toThrow(RangeError);
    expect(() => isFinal(tx(5, 0), 1.5, 0)).toThrow(RangeError);
  });

  it('isFinalAtTip reads the median-time-past only for time locks', () => {
    const tip = {
      height: 100,
      get medianTimePast(): number {
        throw new Error('MTP read');
      },
    };
    expect(isFinalAtTip(tx(100, NON_FINAL), tip)).toBe(true);
    expect(isFinalAtTip(tx(MTP, SEQUENCE_FINAL), tip)).toBe(true);
    expect(() => isFinalAtTip(tx(MTP, NON_FINAL), tip)).toThrow('MTP read');
  });

  it('property: a height-locked tx is final iff tip >= lockTime, unless every sequence is final', () => {
    const sequence = fc.oneof(fc.constant(SEQUENCE_FINAL), fc.integer({ min: 0, max: 0xfffffffe }));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: LOCKTIME_THRESHOLD - 1 }),
        fc.integer({ min: 0, max: LOCKTIME_THRESHOLD }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.array(sequence, { minLength: 1, maxLength: 5 }),
        (lockTime, tipHeight, mtp, sequences) => {
          const allFinal = sequences.every((s) => s === SEQUENCE_FINAL);
          const t = tx(lockTime, ...sequences);
          expect(isFinal(t, tipHeight, mtp)).toBe(allFinal || tipHeight >= lockTime);
          const left = blocksUntilFinal(t, tipHeight);
          expect(left === 0).toBe(isFinal(t, tipHeight, mtp));
          // Mining exactly `left` blocks makes it final, one fewer does not.
          expect(isFinal(t, tipHeight + left!, mtp)).toBe(true);
          if (left! > 0) expect(isFinal(t, tipHeight + left! - 1, mtp)).toBe(false);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('property: a time-locked tx with a non-final input is final iff lockTime < MTP', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: LOCKTIME_THRESHOLD, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.nat(LOCKTIME_THRESHOLD),
        (lockTime, mtp, height) => {
          expect(isFinal(tx(lockTime, NON_FINAL), height, mtp)).toBe(lockTime < mtp);
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('lockTimeKind / blocksUntilFinal / explainFinality', () => {
  it('classifies nLockTime', () => {
    expect(lockTimeKind(0)).toBe('none');
    expect(lockTimeKind(1)).toBe('height');
    expect(lockTimeKind(LOCKTIME_THRESHOLD - 1)).toBe('height');
    expect(lockTimeKind(LOCKTIME_THRESHOLD)).toBe('time');
    expect(lockTimeKind(0xffffffff)).toBe('time');
  });

  it('counts blocks to go; null for time locks', () => {
    expect(blocksUntilFinal(tx(1000, NON_FINAL), 995)).toBe(5);
    expect(blocksUntilFinal(tx(1000, NON_FINAL), 1000)).toBe(0);
    expect(blocksUntilFinal(tx(1000, NON_FINAL), 2000)).toBe(0);
    expect(blocksUntilFinal(tx(0, NON_FINAL), 5)).toBe(0);
    expect(blocksUntilFinal(tx(1000, SEQUENCE_FINAL), 5)).toBe(0);
    expect(blocksUntilFinal(tx(MTP, NON_FINAL), 5)).toBeNull();
  });

  it('explains in one line', () => {
    const at = (height: number, medianTimePast = MTP) => ({ height, medianTimePast });
    expect(explainFinality(tx(1000, NON_FINAL), at(995))).toBe('nLockTime 1000 is final once the tip reaches 1000 (now 995: 5 more blocks)');
    expect(explainFinality(tx(1000, NON_FINAL), at(999))).toBe('nLockTime 1000 is final once the tip reaches 1000 (now 999: 1 more block)');
    expect(explainFinality(tx(1000, NON_FINAL), at(1000))).toBe('nLockTime 1000 is final once the tip reaches 1000 (now 1000: already final)');
    expect(explainFinality(tx(0, NON_FINAL), at(1))).toMatch(/no absolute lock/);
    expect(explainFinality(tx(1000, SEQUENCE_FINAL), at(1))).toMatch(/not enforced/);
    expect(explainFinality(tx(MTP, NON_FINAL), at(1, MTP - 99))).toBe(
      "nLockTime 1700000000 (2023-11-14T22:13:20Z) is final once the tip's median-time-past passes it (now 1699999901: 100 s to go)",
    );
    expect(explainFinality(tx(MTP, NON_FINAL), at(1, MTP + 1))).toMatch(/already final/);
  });
});

describe('sequenceLock — BIP-68', () => {
  it.each([
    [0xffffffff, { disabled: true }],
    [0xfffffffe, { disabled: true }],
    [0xfffffffd, { disabled: true }],
    [0x80000000, { disabled: true }],
    [0, { disabled: false, type: 'blocks', value: 0 }],
    [144, { disabled: false, type: 'blocks', value: 144 }],
    [0x0000ffff, { disabled: false, type: 'blocks', value: 0xffff }],
    // Bits outside the mask and the type flag are ignored by consensus.
    [0x7fbf0010, { disabled: false, type: 'blocks', value: 16 }],
    [0x00400000, { disabled: false, type: 'time', value: 0, seconds: 0 }],
    [0x00400001, { disabled: false, type: 'time', value: 1, seconds: 512 }],
    [0x0040ffff, { disabled: false, type: 'time', value: 0xffff, seconds: 0xffff * 512 }],
  ] as const)('nSequence %i', (sequence, expected) => {
    expect(sequenceLock(sequence)).toEqual(expected);
  });

  it('relative locks are enforced only for version >= 2 (unsigned)', () => {
    const inputs = [{ sequence: 0xfffffffd }, { sequence: 10 }, { sequence: 0x00400001 }];
    expect(relativeLockInputs({ version: 1, inputs })).toEqual([]);
    expect(relativeLockInputs({ version: 2, inputs })).toEqual([1, 2]);
    expect(relativeLockInputs({ version: 3, inputs })).toEqual([1, 2]);
    // Core stores the version as uint32: 0xffffffff (-1 signed) is >= 2.
    expect(relativeLockInputs({ version: 0xffffffff, inputs })).toEqual([1, 2]);
    expect(relativeLockInputs({ version: -1, inputs })).toEqual([1, 2]);
    expect(relativeLockInputs({ version: 0, inputs })).toEqual([]);
  });
});

describe('lockTimeFields — @scure/btc-signer adapter', () => {
  it('reads locktime, version and sequences, defaulting unset sequences to final', async () => {
    const { Transaction } = await import('@scure/btc-signer');
    const t = new Transaction({ version: 2, lockTime: 812_345 });
    t.addInput({ txid: '11'.repeat(32), index: 0, sequence: NON_FINAL });
    t.addInput({ txid: '22'.repeat(32), index: 1 });
    const fields = lockTimeFields(t);
    expect(fields).toEqual({ lockTime: 812_345, version: 2, inputs: [{ sequence: NON_FINAL }, { sequence: SEQUENCE_FINAL }] });
    expect(isFinal(fields, 812_344, MTP)).toBe(false);
    expect(isFinal(fields, 812_345, MTP)).toBe(true);
  });
});
