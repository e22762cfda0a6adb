/**
 * The statechain group's flags and their parsers, shared by its commands: the chain and
 * state flags every step reads, the owner's safety floor (src/lib/statechain/floor.ts),
 * the operator's store, the coin id, relative heights (+N) and plain decimals.
 * Not here: the steps themselves (./command.ts, the base class; lib/statechain/).
 */
import { Flags } from '@oclif/core';
import { UsageError } from '../../lib/errors.ts';
import { chainFlags, inputFlags, keyFlags, renamedFrom, stateFlags } from '../../lib/cli/flags.ts';
import { storeFlagsFor } from '../../lib/cli/store-flags.ts';

export const statechainFlags = {
  ...inputFlags,
  ...keyFlags,
  ...stateFlags,
  ...chainFlags,
  confirmations: renamedFrom(Flags.integer({
    description: 'offline: assert the coin\'s deposit output is unspent with N confirmations (with a node, it is asked instead; was --deposit-confirmations)',
    helpValue: 'N',
    min: 0,
    helpGroup: 'CHAIN',
  }), 'deposit-confirmations'),
};

/** The statechain flags without the offline confirmations assertion (statechain-deposit reads none). */
export function withoutConfirmations<F extends { confirmations: unknown }>(flags: F): Omit<F, 'confirmations'> {
  const { confirmations: _, ...rest } = flags;
  return rest;
}

/**
 * A number of blocks after the tip, spelled +N (docs/cli.md: relative heights are +N);
 * a bare N, the old spelling of --initial-lock, means the same, with a warning.
 */
export function relativeBlocks(text: string, flag: string, warn: (line: string) => void, max = 100_000): number {
  const m = /^(\+?)([1-9][0-9]{0,5})$/.exec(text);
  const n = m ? Number(m[2]) : NaN;
  if (!m || n > max) throw new UsageError('E_USAGE', `${flag} must be +N, a number of blocks after the tip from 1 to ${max}, got ${JSON.stringify(text)}`);
  if (m[1] === '') warn(`${flag} ${text} without "+" is deprecated: write ${flag} +${text} (same meaning: ${text} blocks after the tip)`);
  return n;
}

/**
 * An owner's own safety floor (src/lib/statechain/floor.ts): checked by a depositor (step 3)
 * and a receiver (statechain-verify and its accepting step), whatever the operator's terms say.
 */
export const floorFlags = {
  'min-confirmations': Flags.integer({ description: 'owner: refuse a coin whose deposit has fewer confirmations, whatever the terms ask', default: 2, min: 1, max: 100_000, helpGroup: 'SAFETY FLOOR' }),
  'min-margin': Flags.integer({ description: 'owner: refuse a coin whose newest backup\'s locktime is within this many blocks of the tip', default: 6, min: 0, max: 100_000, helpGroup: 'SAFETY FLOOR' }),
  'min-interval': Flags.integer({ description: 'owner: refuse terms whose interval (your backup\'s head start) is shorter', default: 6, min: 2, max: 100_000, helpGroup: 'SAFETY FLOOR' }),
  'max-backup-fee': Flags.integer({ description: 'owner: refuse terms whose backup fee is above this, sat', default: 25_000, min: 0, max: 2_100_000_000_000_000, helpGroup: 'SAFETY FLOOR' }),
  'max-backup-fee-percent': Flags.string({ description: 'owner: refuse terms whose backup fee is above this share of the coin, percent (default 5)', helpValue: 'PCT', helpGroup: 'SAFETY FLOOR' }),
  'allow-unanchored': Flags.boolean({
    description: 'a pair receiving: take a coin whose terms have no anchor, accepting the fee risk: neither part can bump its backup, so if fees rise the previous owner\'s backup may confirm first (refused by default, E_BACKUP_UNBUMPABLE)',
    helpGroup: 'SAFETY FLOOR',
  }),
};

/** A decimal number written plainly (no 0x, exponent, sign or spaces), within [min, max], with at most `decimals` decimals. */
export function strictDecimal(text: string, flag: string, min: number, max: number, decimals: number): number {
  const re = new RegExp(`^(0|[1-9][0-9]{0,14})(\\.[0-9]{1,${decimals}})?$`);
  const n = Number(text);
  if (!re.test(text) || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError('E_USAGE', `${flag} must be a plain decimal number from ${min} to ${max} with at most ${decimals} decimal(s), got ${JSON.stringify(text)}`);
  }
  return n;
}

/** The terms an operator offers a new coin (statechain deposit's step 2, serve statechain): its deposit-offer writes them. */
export const termsFlags = {
  interval: Flags.integer({ description: 'step 2 (operator): blocks between owners\' backup locktimes', default: 144, min: 2, max: 100_000 }),
  'initial-lock': Flags.string({ description: 'step 2 (operator): +N: backup 1\'s locktime is the owner\'s tip (at step 3) plus N blocks, 1 to 100000 (default +12960); a bare N (the old spelling) means the same, with a warning', helpValue: '+N' }),
  'min-confirmations': Flags.integer({
    description: 'step 2 (operator): the confirmations the deposit needs, written in the terms: the operator refuses to move the coin with fewer (default 3; was --confirmations); an owner sets its own floor at statechain-verify',
    helpValue: 'N',
    min: 1,
    max: 100_000,
  }),
  'backup-fee': Flags.integer({ description: 'step 2 (operator): fee every backup pays, sat', default: 1000, min: 0, max: 2_100_000_000_000_000 }),
  margin: Flags.integer({ description: 'step 2 (operator): no backup locktime within this many blocks of the tip', default: 36, min: 0, max: 100_000 }),
  anchor: Flags.boolean({ description: 'step 2 (operator): backups pay zero fee (give --backup-fee 0) and carry a keyless pay-to-anchor output, so whoever holds one bumps it at broadcast with package child (a pair\'s parts, a watchtower)' }),
};

/** The commands an operator runs (deposit, transfer, withdraw): its records in --state-dir, or PostgreSQL with --store. */
export const operatorStoreFlags = storeFlagsFor('operator: keep the coins\' records (shares sealed)');

export const coinFlag = {
  coin: Flags.string({ description: 'the coin id (32 hex digits)', helpValue: 'ID' }),
};

export function checkCoinId(id: string | undefined, flag = '--coin'): string {
  if (id === undefined || !/^[0-9a-f]{32}$/.test(id)) throw new UsageError('E_USAGE', `${flag} must be a coin id (32 lower-case hex digits)`);
  return id;
}
