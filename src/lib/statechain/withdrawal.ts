/**
 * The cooperative withdrawal (issue 37, finding 5): the one transaction the operator
 * co-signs that ends its role, so the one that must never strand the coin. A withdrawal
 * below a node's relay floor used to be co-signed (the coin closed at the operator), refused
 * by the node, and unbumpable (version 2, one output): the coin waited for backup 1.
 *
 * Invariants:
 * - the template: version 3 (TRUC), one input — the coin, nSequence 0xfffffffd — and two
 *   outputs: the destination (the coin less the fee and the anchor) and a pay-to-anchor
 *   (`OP_1 <0x4e73>`) of 240 sat, the smallest P2A Core does not call dust (it pays a fee, so
 *   a 0-sat ephemeral anchor is not allowed); the fee is the rate on its signed size
 *   (`withdrawalVsize`, one 64-byte key-path signature), rounded up;
 * - it can always be bumped: whoever holds it — its owner, either part of a pair, the payee,
 *   a watchtower — spends the anchor in a TRUC child from its own wallet (`package child`),
 *   and Core takes the package even when the withdrawal alone is below its floor;
 * - with a node named, a withdrawal under that node's floor (the larger of minrelaytxfee and
 *   mempoolminfee) is refused before any nonce is issued or anything is written
 *   (E_FEE_TOO_LOW), by the owner and by each part of a pair;
 * - the operator co-signs only a withdrawal that can be bumped that way: version 3, final now
 *   (nLockTime 0, no BIP-68 relative lock), a P2A of at least 240 sat, every output a script
 *   Core relays and above dust, no more out than the coin, at least Core's 65 non-witness
 *   bytes and within TRUC's 10,000 vB (E_WITHDRAWAL_UNBUMPABLE);
 * - it never pays the coin to a pay-to-anchor: anyone could spend that output (E_BAD_ADDRESS).
 */
import { Transaction } from '@scure/btc-signer';
import { equalBytes } from '../bytes.ts';
import { RefusedError, UsageError } from '../errors.ts';
import { dustThreshold, standardScriptType, witnessProgram } from '../tx/policy.ts';
import { P2A_SCRIPT, type OutPoint } from './coin.ts';

export const WITHDRAWAL_VERSION = 3;
export const WITHDRAWAL_SEQUENCE = 0xffff_fffd;
/** The anchor's value: Core's dust threshold for P2A at the default -dustrelayfee (3 sat/vB × 80 bytes). */
export const WITHDRAWAL_ANCHOR_SAT = 240n;
/** TRUC's largest parent (BIP-431), sigop-adjusted vB; a key-path spend has no sigops. */
const TRUC_MAX_PARENT_VSIZE = 10_000;
/** Core's MIN_STANDARD_TX_NONWITNESS_SIZE ("tx-size-small"). */
const MIN_NONWITNESS_SIZE = 65;
/** BIP-68: an input whose nSequence has this bit clear carries a relative lock (in a version ≥ 2 transaction). */
const SEQUENCE_LOCKTIME_DISABLE_FLAG = 0x8000_0000;

/** A node's relay floor as getmempoolinfo gives it, sat/kvB. */
export type RelayFloor = { minRelayFeeRate: number; mempoolMinFeeRate: number };
/** Asked only when a new withdrawal is about to be requested (a rerun prints the stored one without a node). */
export type RelayFloorSource = () => Promise<RelayFloor>;

/** The withdrawal's size once signed: its non-witness bytes, the segwit marker and flag, one 64-byte signature. */
export function withdrawalVsize(tx: Transaction): number {
  return Math.ceil((4 * tx.unsignedTx.length + 2 + 1 + 1 + 64) / 4);
}

/** ⌈vsize × rate⌉ in integers, the rate in sat/vB with at most three decimals (--fee-rate's). */
function feeAt(vsize: number, feeRate: number): bigint {
  const milli = BigInt(Math.round(feeRate * 1000));
  return (BigInt(vsize) * milli + 999n) / 1000n;
}

/** The withdrawal: the whole coin, less the fee at `feeRate` and the anchor, to `destination`. */
export function withdrawalTransaction(coin: { outpoint: OutPoint; amountSat: bigint; script: Uint8Array }, destination: Uint8Array, feeRate: number): Transaction {
  // A pay-to-anchor is keyless: whoever saw the withdrawal (and every bumper's child, which spends P2As by default) could take the coin.
  if (equalBytes(destination, P2A_SCRIPT)) throw new UsageError('E_BAD_ADDRESS', '--to is the pay-to-anchor address (OP_1 <4e73>): anyone can spend what it is paid; give an address of the payee\'s');
  const build = (payment: bigint) => {
    const tx = new Transaction({ version: WITHDRAWAL_VERSION, allowUnknownOutputs: true });
    tx.addInput({ txid: coin.outpoint.txid, index: coin.outpoint.vout, sequence: WITHDRAWAL_SEQUENCE, witnessUtxo: { script: coin.script, amount: coin.amountSat } });
    tx.addOutput({ script: destination, amount: payment });
    tx.addOutput({ script: P2A_SCRIPT, amount: WITHDRAWAL_ANCHOR_SAT });
    return tx;
  };
  // The size does not depend on the amount (8 bytes whatever it is): measured on the template itself.
  const fee = feeAt(withdrawalVsize(build(0n)), feeRate);
  const payment = coin.amountSat - fee - WITHDRAWAL_ANCHOR_SAT;
  const dust = dustThreshold(destination);
  if (payment < (dust > 330n ? dust : 330n)) {
    throw new RefusedError('E_FEE_TOO_HIGH', `a fee of ${fee} sat and the ${WITHDRAWAL_ANCHOR_SAT} sat anchor leave nothing of the ${coin.amountSat} sat coin`);
  }
  return build(payment);
}

/** The fee a withdrawal pays: the coin less its outputs. */
/** What a transaction spending a coin of `amountSat` pays in fees: the coin less its outputs. */
export function feeOf(tx: Transaction, amountSat: bigint): bigint {
  let out = 0n;
  for (let i = 0; i < tx.outputsLength; i++) out += tx.getOutput(i).amount!;
  return amountSat - out;
}

const rateText = (satPerKvb: number) => `${satPerKvb / 1000} sat/vB`;

/**
 * Refuse a withdrawal the named node would not relay alone: its fee under the larger of the
 * node's minrelaytxfee and mempoolminfee on its signed size (Core compares fee × 1000 with
 * rate × vsize, the floor rounded up).
 */
export function checkRelayFloor(tx: Transaction, amountSat: bigint, floor: RelayFloor): void {
  const rate = Math.max(floor.minRelayFeeRate, floor.mempoolMinFeeRate);
  const vsize = withdrawalVsize(tx);
  const fee = feeOf(tx, amountSat);
  const needed = (BigInt(Math.ceil(rate)) * BigInt(vsize) + 999n) / 1000n;
  if (fee < needed) {
    throw new RefusedError(
      'E_FEE_TOO_LOW',
      `the withdrawal pays ${fee} sat for ${vsize} vB, under the relay floor of the node you named (${rateText(rate)}: ${needed} sat): it would refuse it; nothing was asked of the operator — ask for --fee-rate ${rate / 1000} or more`,
    );
  }
}

/**
 * The operator's rule for the transaction that ends its role: one Core relays in a package
 * and a child can bump — version 3 (TRUC), a pay-to-anchor of at least its dust threshold (a
 * fee-paying transaction may carry no dust), every output standard and above its own dust
 * threshold, no more paid out than the coin holds, within TRUC's 10,000 vB. Anything else
 * would close the coin at the operator with a transaction that may never be mined.
 */
export function requireBumpable(tx: Transaction, amountSat: bigint): void {
  const refuse = (why: string): never => {
    throw new RefusedError('E_WITHDRAWAL_UNBUMPABLE', `a withdrawal must be one a child can bump (version 3, final now, a pay-to-anchor of at least ${WITHDRAWAL_ANCHOR_SAT} sat, standard outputs above dust): ${why}; nothing signed`);
  };
  if (tx.version !== WITHDRAWAL_VERSION) refuse(`this one is version ${tx.version} (an older offchain builds it so: update the owner's)`);
  // Not final, Core takes it in no package ("non-final", "non-BIP68-final"): the coin would be closed until then.
  if (tx.lockTime !== 0) refuse(`its locktime is ${tx.lockTime}, not 0`);
  const sequence = tx.getInput(0).sequence ?? 0xffff_ffff;
  if ((sequence & SEQUENCE_LOCKTIME_DISABLE_FLAG) === 0) refuse(`its input's sequence 0x${sequence.toString(16)} is a relative lock (BIP-68)`);
  if (tx.unsignedTx.length < MIN_NONWITNESS_SIZE) refuse(`it has ${tx.unsignedTx.length} non-witness bytes, under Core's 65 ("tx-size-small")`);
  let anchor = false;
  let out = 0n;
  for (let i = 0; i < tx.outputsLength; i++) {
    const { script, amount } = tx.getOutput(i) as { script: Uint8Array; amount: bigint };
    out += amount;
    if (!relayedScript(script)) refuse(`output ${i} pays a script Core does not relay`);
    if (amount < dustThreshold(script)) refuse(`output ${i} (${amount} sat) is dust, which Core takes only in a zero-fee transaction`);
    if (equalBytes(script, P2A_SCRIPT)) anchor = true;
  }
  if (!anchor) refuse('it has no pay-to-anchor output');
  if (out > amountSat) refuse(`it pays out ${out} sat of a ${amountSat} sat coin`);
  if (withdrawalVsize(tx) > TRUC_MAX_PARENT_VSIZE) refuse(`at ${withdrawalVsize(tx)} vB it is above TRUC's 10,000 vB`);
}

/**
 * An output script Core's Solver calls standard: a known template, a witness program of a
 * version it does not know yet (1–16; version 0 is only 20 or 32 bytes), or OP_RETURN
 * followed by pushes only (and within the 83 bytes every Core relays).
 */
function relayedScript(script: Uint8Array): boolean {
  const type = standardScriptType(script);
  if (type === 'op_return') return pushOnly(script.subarray(1));
  if (type !== undefined) return true;
  const program = witnessProgram(script);
  return program !== undefined && program.version !== 0;
}

/** Core's IsPushOnly: every opcode a push (up to OP_16), every push complete. */
function pushOnly(script: Uint8Array): boolean {
  const le = (at: number, bytes: number) => (at + bytes > script.length ? Infinity : script.subarray(at, at + bytes).reduceRight((n, b) => n * 256 + b, 0));
  for (let i = 0; i < script.length; ) {
    const op = script[i++]!;
    if (op > 0x60) return false;
    // OP_PUSHDATA1/2/4 give the length in 1, 2 or 4 little-endian bytes; 0x01–0x4b is the length itself; the rest push nothing.
    const lengthBytes = op === 0x4c ? 1 : op === 0x4d ? 2 : op === 0x4e ? 4 : 0;
    const n = lengthBytes > 0 ? le(i, lengthBytes) : op <= 0x4b ? op : 0;
    i += lengthBytes;
    if (i + n > script.length) return false;
    i += n;
  }
  return true;
}
