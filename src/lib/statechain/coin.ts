/**
 * A statechain coin's fixed parts (BRIEF §3.2): its terms, its key-path-only P2TR output
 * for P = O + S, and the backup template every owner's backup follows.
 *
 * Invariants this module carries:
 * - backup n (1-based) has nLockTime hₙ = h₀ − (n−1)·interval, a block height, so each new
 *   owner's backup becomes final `interval` blocks before the previous owner's;
 * - a backup is fully determined by (outpoint, amount, locktime, owner share, fee): version
 *   3 (TRUC: a low-fee backup can be bumped by a 1p1c CPFP package), one input — the deposit
 *   outpoint — with nSequence 0xfffffffe (locktime enforced, no RBF signalling needed under
 *   TRUC), one output paying amount − fee to the owner share's BIP-86 P2TR (or to a script
 *   that owner chose, e.g. a Lightning channel's funding output). The receiver
 *   rebuilds each backup from these and compares bytes, so nothing else can hide in one;
 * - under terms with `anchor` (issue 24), a backup pays zero fee and carries a second
 *   output, a 0-sat keyless pay-to-anchor (`OP_1 <0x4e73>`): nothing else changes, and
 *   whoever holds the backup — its owner, either part of a pair, a watchtower — bumps it at
 *   broadcast with a TRUC child spending the anchor from its own wallet (`package child`).
 *   Terms without `anchor` (every coin made before) build exactly the one-output backup;
 * - a transfer is allowed only while the next locktime stays above tip + margin.
 *
 * Not here: signing (signer.ts), who may ask for what (operator.ts, owner.ts).
 */
import { Transaction } from '@scure/btc-signer';
import { concatBytes, equalBytes, fromHex, toHex } from '../bytes.ts';
import { hash256 } from '../hash.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { LOCKTIME_THRESHOLD } from '../chain/finality.ts';
import { SIGHASH_DEFAULT, keyPathSighash } from '../taproot/taproot.ts';
import { compactSize, keyPathSighashAll, u64le } from '../taproot/sighash.ts';
import { additiveKey, keyPathOnlyScript, type AdditiveKey } from './signer.ts';

export const BACKUP_VERSION = 3;
export const BACKUP_SEQUENCE = 0xffff_fffe;

export type Terms = {
  /** Blocks between two owners' backup locktimes. */
  interval: number;
  /** h₀ = tip + initialLock at deposit. */
  initialLock: number;
  /** Confirmations the deposit needs before the coin moves. */
  confirmations: number;
  /** Fee every backup pays (its one output is amount − fee). */
  backupFeeSat: bigint;
  /** No backup locktime may be within this many blocks of the tip. */
  margin: number;
  /** Backups carry a 0-sat P2A anchor and pay zero fee (a term since issue 24; absent = false). */
  anchor?: boolean;
};

/** BIP-433 pay-to-anchor, `OP_1 <0x4e73>`: spendable by anyone with an empty witness. */
export const P2A_SCRIPT = Uint8Array.of(0x51, 0x02, 0x4e, 0x73);

export type OutPoint = { txid: string; vout: number };

export type BackupSpec = {
  outpoint: OutPoint;
  amountSat: bigint;
  locktime: number;
  ownerShare: Uint8Array;
  feeSat: bigint;
  /** Where the backup pays, when its owner chose something other than its share's P2TR (a channel's funding output). */
  payTo?: Uint8Array | undefined;
  /** The terms' anchor: a second output, 0 sat to P2A (the fee must then be 0). */
  anchor?: boolean | undefined;
};

/** The coin's key: P = O + S, owner first (the owner carries the taproot tweak). */
export function coinKey(ownerShare: Uint8Array, operatorShare: Uint8Array): AdditiveKey {
  return additiveKey([ownerShare, operatorShare]);
}

/** BIP-86 P2TR of a share's x-only key: where an owner's backup pays. */
export function ownerScript(share: Uint8Array): Uint8Array {
  if (share.length !== 33) throw new MalformedInputError('E_BAD_PUBKEY', 'an owner share must be a 33-byte compressed key');
  return keyPathOnlyScript(share.subarray(1));
}

export function checkTerms(t: Terms): void {
  const whole = (v: number, min: number, what: string) => {
    if (!Number.isInteger(v) || v < min || v > 100_000) throw new RefusedError('E_BAD_TERMS', `${what} must be a whole number of blocks from ${min} to 100000, got ${v}`);
  };
  whole(t.interval, 1, 'interval');
  whole(t.initialLock, 1, 'initial lock');
  whole(t.confirmations, 1, 'confirmations');
  whole(t.margin, 0, 'margin');
  if (t.interval <= 1) throw new RefusedError('E_BAD_TERMS', 'an interval of one block gives the newest backup no head start: use at least 2');
  if (t.backupFeeSat < 0n) throw new RefusedError('E_BAD_TERMS', 'backup fee must not be negative');
  if (t.anchor && t.backupFeeSat !== 0n) {
    throw new RefusedError('E_BAD_TERMS', `an anchored backup pays zero fee (its 0-sat anchor is dust, allowed only in a zero-fee transaction: Bitcoin Core "dust, tx with dust output must be 0-fee"), not ${t.backupFeeSat} sat`);
  }
}

/** hₙ for backup number n (1-based). */
export function backupLocktime(h0: number, interval: number, n: number): number {
  return h0 - (n - 1) * interval;
}

/** How many more transfers fit before the next locktime would fall inside the margin. */
export function transfersRemaining(latestLocktime: number, terms: Pick<Terms, 'interval' | 'margin'>, tipHeight: number): number {
  const room = latestLocktime - tipHeight - terms.margin - 1;
  return room < terms.interval ? 0 : Math.floor(room / terms.interval);
}

/**
 * A backup as the template makes it: the bytes every party compares, its txid, its locktime and
 * the message the coin's key signs. Serialized here rather than through a generic transaction
 * object: the template is fixed (one input, one or two outputs, no scriptSig), and building it
 * through @scure/btc-signer checked both taproot scripts (the coin's and our own owner output) by
 * lifting their keys in pure JS, the larger part of a 100-backup verification.
 */
export type Backup = {
  /** version ‖ the one input ‖ outputs ‖ nLockTime, without witness: what the parties compare. */
  unsignedTx: Uint8Array;
  /** Its txid (display hex). */
  id: string;
  lockTime: number;
  /** The BIP-341 key-path message (SIGHASH_DEFAULT), the coin's output as the one spent. */
  sighash(): Uint8Array;
  /** The broadcast bytes: the same transaction, `signature` its one witness item. */
  signed(signature: Uint8Array): Uint8Array;
  /**
   * `hex` recognised as this backup without parsing it: exactly its unsigned bytes (signature
   * undefined), or exactly them signed with one 64-byte witness item; undefined for anything else.
   */
  recognise(hex: string): { signature: Uint8Array | undefined } | undefined;
};

const u32le = (n: number) => Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);

/**
 * Checks @scure/btc-signer applies to an output script the owner chose (addOutput), kept for
 * `payTo` so such a script is refused exactly as before (our own P2TR outputs need none: we
 * computed their keys).
 */
function checkChosenScript(script: Uint8Array, amount: bigint): void {
  new Transaction({ version: BACKUP_VERSION, allowUnknownOutputs: true }).addOutput({ script, amount });
}

/** The backup template, unsigned. */
export function backupTransaction(key: Pick<AdditiveKey, 'script'>, spec: BackupSpec): Backup {
  if (!Number.isInteger(spec.locktime) || spec.locktime <= 0 || spec.locktime >= LOCKTIME_THRESHOLD) {
    throw new RefusedError('E_BACKUP_LOCKTIME', `a backup locktime must be a block height, got ${spec.locktime}`);
  }
  const value = spec.amountSat - spec.feeSat;
  if (value < 330n) throw new RefusedError('E_BACKUP_DUST', `the coin (${spec.amountSat} sat) cannot pay the backup fee (${spec.feeSat} sat) and a P2TR output above dust`);
  const { vout } = spec.outpoint;
  if (!Number.isInteger(vout) || vout < 0 || vout > 0xffff_ffff) throw new MalformedInputError('E_BAD_OUTPOINT', `output index ${vout} is not a 32-bit index`);
  const txid = fromHex(spec.outpoint.txid, 'outpoint txid', 32);
  if (spec.payTo) checkChosenScript(spec.payTo, value);
  const outputs = [{ script: spec.payTo ?? ownerScript(spec.ownerShare), amount: value }];
  if (spec.anchor) {
    if (spec.feeSat !== 0n) throw new RefusedError('E_BAD_TERMS', 'an anchored backup pays zero fee');
    outputs.push({ script: P2A_SCRIPT, amount: 0n });
  }
  const head = u32le(BACKUP_VERSION);
  const input = concatBytes(compactSize(1), Uint8Array.from(txid).reverse(), u32le(vout), Uint8Array.of(0), u32le(BACKUP_SEQUENCE));
  const outs = concatBytes(compactSize(outputs.length), ...outputs.flatMap((o) => [u64le(o.amount), compactSize(o.script.length), o.script]));
  const lock = u32le(spec.locktime);
  const unsignedTx = concatBytes(head, input, outs, lock);
  // The signed form: marker and flag after the version, one witness item of 64 bytes before the locktime.
  const signedHead = concatBytes(head, Uint8Array.of(0x00, 0x01), input, outs, Uint8Array.of(0x01, 0x40));
  const signedLength = signedHead.length + 64 + 4;
  const signed = (signature: Uint8Array) => {
    if (signature.length !== 64) throw new MalformedInputError('E_BAD_LENGTH', 'a key-path signature (SIGHASH_DEFAULT) is 64 bytes');
    return concatBytes(signedHead, signature, lock);
  };
  return {
    unsignedTx,
    id: toHex(hash256(unsignedTx).reverse()),
    lockTime: spec.locktime,
    sighash: () =>
      keyPathSighashAll(
        BACKUP_VERSION, spec.locktime,
        [{ txid, index: vout, sequence: BACKUP_SEQUENCE, amount: spec.amountSat, script: key.script }],
        outputs, 0, SIGHASH_DEFAULT,
      ),
    signed,
    recognise(hex) {
      if (hex.length !== 2 * unsignedTx.length && hex.length !== 2 * signedLength) return undefined;
      let bytes: Uint8Array;
      try {
        bytes = fromHex(hex, 'backup');
      } catch {
        return undefined;
      }
      if (bytes.length === unsignedTx.length) return equalBytes(bytes, unsignedTx) ? { signature: undefined } : undefined;
      for (let i = 0; i < signedHead.length; i++) if (bytes[i] !== signedHead[i]) return undefined;
      for (let i = 0; i < 4; i++) if (bytes[signedLength - 4 + i] !== lock[i]) return undefined;
      return { signature: bytes.slice(signedHead.length, signedHead.length + 64) };
    },
  };
}

/** The BIP-341 key-path message a backup (or any one-input coin spend) is signed over. */
export function coinSighash(tx: Transaction): Uint8Array {
  return keyPathSighash(tx, 0);
}

/** The spend of the coin with its aggregate signature in the witness, as broadcast bytes. */
export function finishSpend(tx: Transaction, signature: Uint8Array): { tx: Transaction; hex: string; txid: string } {
  const done = tx.clone();
  done.updateInput(0, { finalScriptWitness: [signature] }, true);
  return { tx: done, hex: toHex(done.extract()), txid: done.id };
}

/** Parse a signed (or unsigned) transaction from hex, refusing with a code instead of throwing. */
export function parseTransaction(hex: string, what: string): Transaction {
  try {
    return Transaction.fromRaw(fromHex(hex, what), { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
  } catch (e) {
    throw new MalformedInputError('E_BAD_TRANSACTION', `${what} is not a transaction: ${(e as Error).message}`);
  }
}

/** A backup as its checks read it: its txid, its bytes without witness, and its witness when that is one item. */
export type GivenBackup = { id: string; unsignedTx: Uint8Array; signature: Uint8Array | undefined };

/**
 * `hex` read as a backup. When it is exactly `template` (unsigned, or signed with one 64-byte
 * witness item: every honest backup) its parts are the template's and nothing is parsed;
 * anything else is parsed (E_BAD_TRANSACTION if it is no transaction) and the caller's checks
 * say what differs. Both readings give the same parts for the same bytes
 * (test/lib/statechain/backup-reader.test.ts).
 */
export function readBackup(hex: string, what: string, template?: Backup): GivenBackup {
  const known = template?.recognise(hex);
  if (known !== undefined) return { id: template!.id, unsignedTx: template!.unsignedTx, signature: known.signature };
  const tx = parseTransaction(hex, what);
  const witness = tx.inputsLength > 0 ? tx.getInput(0).finalScriptWitness : undefined;
  return { id: tx.id, unsignedTx: tx.unsignedTx, signature: witness?.length === 1 ? witness[0] : undefined };
}

/** True when `tx` spends exactly the coin's outpoint as its only input. */
export function spendsCoin(tx: Transaction, outpoint: OutPoint): boolean {
  if (tx.inputsLength !== 1) return false;
  const input = tx.getInput(0);
  return input.txid !== undefined && toHex(input.txid) === outpoint.txid && input.index === outpoint.vout;
}

export function sameOutputScript(tx: Transaction, index: number, script: Uint8Array): boolean {
  const out = tx.getOutput(index);
  return out.script !== undefined && equalBytes(out.script, script);
}

/** The terms as the statement's JSON carries them. */
export function termsFromJson(t: { interval: number; initial_lock: number; confirmations: number; backup_fee_sat: number; margin: number; anchor?: boolean }): Terms {
  return { interval: t.interval, initialLock: t.initial_lock, confirmations: t.confirmations, backupFeeSat: BigInt(t.backup_fee_sat), margin: t.margin, ...(t.anchor === true ? { anchor: true } : {}) };
}

export function parseOutpointText(text: string): OutPoint {
  const [txid, vout] = text.split(':');
  return { txid: txid!, vout: Number(vout) };
}

/** The deposit's bytes hash to the outpoint's txid and its output is the coin. */
export function checkFunding(fundingHex: string, outpoint: OutPoint, script: Uint8Array, amountSat: bigint): void {
  const tx = parseTransaction(fundingHex, 'funding_tx');
  if (tx.id !== outpoint.txid) throw new RefusedError('E_DEPOSIT_MISMATCH', `the funding transaction's txid is ${tx.id}, not the outpoint's ${outpoint.txid}`);
  if (outpoint.vout >= tx.outputsLength) throw new RefusedError('E_DEPOSIT_MISMATCH', `the funding transaction has no output ${outpoint.vout}`);
  const out = tx.getOutput(outpoint.vout);
  if (!out.script || !equalBytes(out.script, script)) throw new RefusedError('E_DEPOSIT_NOT_P2TR', `output ${outpoint.vout} of the funding transaction does not pay the coin's P2TR key`);
  if (out.amount !== amountSat) throw new RefusedError('E_DEPOSIT_MISMATCH', `output ${outpoint.vout} carries ${out.amount} sat, not ${amountSat}`);
}
