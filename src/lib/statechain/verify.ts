/**
 * The receiver's verification of a transfer (issue 13 item 4): everything a receiver must
 * check before it gives t₂ (and before it pays anyone for the coin). Each failure is
 * refused with its own code; nothing here trusts the sender.
 *
 * What the receiver trusts the operator for — and only through its signed statement —
 * is the list of backups it signed (`count`), its share S₁ and X₁ = x₁·G. Everything else
 * is checked: the deposit's bytes and its state on chain (a mempool-only deposit is
 * unconfirmed), P = O₁ + S₁, t₁·G = O₁ + X₁, the sender's binding signature, and every
 * backup rebuilt from the template and compared byte for byte, with its key-path
 * signature, locktimes stepping down by exactly the interval, the newest one ours and
 * above tip + margin. A backup signed for a past fee is not refused: the template's fee is
 * fixed by the terms, and CPFP bumps it — a pair, which cannot sign a child from its own
 * backup output, only from an anchor: a pair refuses terms without one (floor.ts).
 */
import { activeSecp256k1 } from '../musig/engine/select.ts';
import { parsePublicKey } from '../keys/keys.ts';
import { equalBytes, fromHex } from '../bytes.ts';
import { N, int } from '../musig/engine/scalar.ts';
import type { UtxoInfo } from '../chain/types.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { backupTransaction, checkFunding, coinKey, parseOutpointText, readBackup, termsFromJson, transfersRemaining, type Backup } from './coin.ts';
import type { PackageInner } from './schemas.ts';
import { verifyBody } from './seal.ts';
import { checkStatement } from './statement.ts';
import { DEFAULT_FLOOR, checkFloor, checkPairBumpable, confirmationsNeeded, marginNeeded, type Floor } from './floor.ts';

export type Expected = {
  coinId: string;
  transferId: string;
  receiverShare: string;
  receiverAuth: string;
  /** A pair receiving: its second part's authentication key, which the operator must bind the coin to as well. */
  receiverAuthB?: string | undefined;
  operatorAuth: Uint8Array;
  backupScript?: string | undefined;
  /** A joint receiver's second part checks u = t₁ − a instead of t₁: u·G + A = O₁ + X₁ (A's share here). */
  t1Minus?: string | undefined;
  /** The receiver's own safety floor (floor.ts); DEFAULT_FLOOR when not given. */
  floor?: Floor | undefined;
};

export type ChainFacts = { tipHeight: number; deposit: UtxoInfo | null };

export type Verified = {
  outpoint: string;
  amountSat: number;
  confirmations: number;
  backups: number;
  latestLocktime: number;
  transfersRemaining: number;
  /** The terms' fee every backup pays. */
  backupFeeSat: number;
  /** The newest backup's one output: what this receiver gets back unilaterally (before a CPFP child's own fee). */
  backupValueSat: number;
  /** The terms' anchor (issue 24). */
  anchor: boolean;
};

export function bindingBody(coinId: string, outpoint: string, receiverShare: string, transferId: string) {
  return { coin_id: coinId, outpoint, receiver_share: receiverShare, transfer_id: transferId };
}

const refuse = (code: string, message: string): never => {
  throw new RefusedError(code, message);
};

export function verifyTransfer(inner: PackageInner, expect: Expected, chain: ChainFacts): Verified {
  const st = checkStatement(inner.statement, expect.operatorAuth, expect.coinId);
  if (st.status !== 'transferring' || st.transfer === null) refuse('E_NOT_TRANSFERRING', `the operator's statement says the coin is ${st.status}, not being transferred`);
  const t = st.transfer!;
  if (t.transfer_id !== expect.transferId) refuse('E_WRONG_TRANSFER', `the statement is for transfer ${t.transfer_id}, not ${expect.transferId}`);
  if (t.receiver_share !== expect.receiverShare || t.receiver_auth !== expect.receiverAuth) refuse('E_WRONG_RECEIVER', 'the operator\'s pending transfer names another receiver');
  if (t.receiver_auth_b !== expect.receiverAuthB) {
    refuse('E_WRONG_RECEIVER', expect.receiverAuthB === undefined ? 'the operator\'s pending transfer names a second part we are not' : 'the operator does not bind the coin to both parts of the pair (receiver_auth_b): one part alone could have it co-sign');
  }
  if (st.outpoint === null || st.amount_sat === null) return refuse('E_NOT_ACTIVE', 'the statement names no deposit');

  // The key: P = O₁ + S₁, and t₁ opens O₁ + X₁.
  const ec = activeSecp256k1();
  const pt = (hex: string, field: string) => {
    const p = ec.pointFromBytes(parsePublicKey(hex, field));
    if (p === undefined) throw new MalformedInputError('E_BAD_PUBKEY', `${field} is not a point on the curve`);
    return p;
  };
  const O1 = pt(st.owner_share, 'owner_share');
  const S1 = pt(st.operator_share, 'operator_share');
  if (!ec.equals(ec.add(O1, S1), pt(st.aggregate, 'aggregate'))) refuse('E_KEY_SUM', 'O₁ + S₁ ≠ P in the operator\'s statement');
  const key = coinKey(parsePublicKey(st.owner_share, 'owner_share'), parsePublicKey(st.operator_share, 'operator_share'));
  const t1 = int(fromHex(inner.t1, 't1', 32));
  if (t1 === 0n || t1 >= N) refuse('E_BAD_T1', 't₁ is not a valid scalar');
  let T1 = ec.mulBase(t1);
  if (expect.t1Minus !== undefined) T1 = ec.add(T1, pt(expect.t1Minus, 't1Minus'));
  if (!ec.equals(T1, ec.add(O1, pt(t.x1_point, 'x1_point')))) refuse('E_BAD_T1', 't₁·G ≠ O₁ + X₁: the sender sent a wrong t₁');

  // The binding: the current owner hands this coin to O₂ in this transfer.
  if (!verifyBody('binding', bindingBody(st.coin_id, st.outpoint, t.receiver_share, t.transfer_id), inner.binding_sig, parsePublicKey(st.owner_auth, 'owner_auth'))) {
    refuse('E_BAD_BINDING', 'the sender\'s binding signature does not verify for this coin, outpoint, receiver share and transfer');
  }

  // The deposit: its bytes, its output, and the chain.
  const outpoint = parseOutpointText(st.outpoint);
  checkFunding(inner.funding_tx, outpoint, key.script, BigInt(st.amount_sat));
  if (chain.deposit === null) refuse('E_DEPOSIT_SPENT', `the deposit ${st.outpoint} is spent or not on chain`);
  const deposit = chain.deposit!;
  if (!equalBytes(deposit.scriptPubKey, key.script) || deposit.value !== BigInt(st.amount_sat)) refuse('E_DEPOSIT_MISMATCH', 'the chain\'s output at the outpoint is not the coin');
  const terms = termsFromJson(st.terms);
  const floor = expect.floor ?? DEFAULT_FLOOR;
  checkFloor(terms, BigInt(st.amount_sat), floor);
  // A pair (two parts bound): its backup must be bumpable by either part (floor.ts).
  if (expect.receiverAuthB !== undefined) checkPairBumpable(terms, floor);
  const needed = confirmationsNeeded(terms, floor);
  if (deposit.confirmations < needed) {
    refuse('E_DEPOSIT_UNCONFIRMED', `the deposit has ${deposit.confirmations} confirmation(s) (mempool-only counts as 0); the terms ask ${st.terms.confirmations}, your --min-confirmations ${floor.minConfirmations}`);
  }

  // The chain of backups against the operator's count and records.
  if (st.count < 1 || inner.backups.length !== st.count || st.backups.length !== st.count) {
    refuse('E_BACKUP_COUNT', `${inner.backups.length} backup(s) were handed over but the operator has signed ${st.count} (a coin being transferred has at least one)`);
  }
  const h0 = st.backups[0]!.locktime;
  const seen = new Set<string>();
  inner.backups.forEach((hex, i) => {
    const record = st.backups[i]!;
    if (record.n !== i + 1) refuse('E_BACKUP_NUMBERS', `the operator's backup records are not numbered 1…${st.count} in order`);
    const build = () => backupTransaction(key, {
      outpoint, amountSat: BigInt(st.amount_sat!), locktime: record.locktime, ownerShare: parsePublicKey(record.owner_share, 'owner_share'), feeSat: terms.backupFeeSat, anchor: terms.anchor,
      payTo: record.script === undefined ? undefined : fromHex(record.script, 'script'),
    });
    // The template first: an honest backup is exactly it, signed, and is read without a parse. A template that
    // cannot be built is refused below, in its turn (after the record and interval checks), as it always was.
    let template: Backup | undefined;
    try {
      template = build();
    } catch {
      template = undefined;
    }
    const given = readBackup(hex, `backup ${i + 1}`, template);
    if (given.id !== record.txid || seen.has(given.id)) refuse('E_BACKUP_RECORD', `backup ${i + 1} (${given.id}) is not the one the operator recorded as number ${record.n}`);
    seen.add(given.id);
    if (record.locktime !== h0 - i * terms.interval) refuse('E_BACKUP_INTERVAL', `backup ${i + 1}'s locktime ${record.locktime} is not ${h0 - i * terms.interval} (one interval, ${terms.interval}, below the previous)`);
    const rebuilt = template ?? build();
    if (!equalBytes(rebuilt.unsignedTx, given.unsignedTx)) refuse('E_BACKUP_TEMPLATE', `backup ${i + 1} is not the template's transaction (version, input, sequence, locktime or output differ)`);
    const sig = given.signature;
    if (sig === undefined || sig.length !== 64 || !ec.verifySchnorr(sig, rebuilt.sighash(), key.outputKey)) {
      refuse('E_BACKUP_SIGNATURE', `backup ${i + 1} has no valid BIP-341 key-path signature for the coin`);
    }
  });
  const newest = st.backups[st.count - 1]!;
  if (newest.owner_share !== expect.receiverShare || newest.script !== expect.backupScript) {
    refuse('E_BACKUP_NOT_MINE', expect.backupScript === undefined ? `the newest backup pays ${newest.script ?? newest.owner_share}, not your new share` : 'the newest backup does not pay the script you asked for');
  }
  const margin = marginNeeded(terms, floor);
  if (newest.locktime <= chain.tipHeight + margin) {
    refuse('E_LOCKTIME_MARGIN', `your backup's locktime ${newest.locktime} is within the margin (${margin}: the terms' ${terms.margin}, your --min-margin ${floor.minMargin}) of the tip ${chain.tipHeight}: the coin is too close to expiry to take`);
  }
  return {
    outpoint: st.outpoint, amountSat: st.amount_sat, confirmations: deposit.confirmations, backups: st.count,
    latestLocktime: newest.locktime, transfersRemaining: transfersRemaining(newest.locktime, { interval: terms.interval, margin }, chain.tipHeight),
    backupFeeSat: Number(terms.backupFeeSat), backupValueSat: st.amount_sat - Number(terms.backupFeeSat), anchor: terms.anchor === true,
  };
}
