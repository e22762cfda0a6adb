/**
 * The statechain operator's steps (BRIEF §3.2, issue 13 items 1, 3, 5): offer a coin,
 * co-sign its first backup, co-sign each receiver's backup and rotate its share, co-sign a
 * withdrawal. Each step takes the coin's record and a request, and returns the next record
 * and the answer; the caller writes the record (atomically, under the coin's lock) before
 * the answer leaves the process.
 *
 * Invariants:
 * - the operator holds one share per coin: s is replaced by s₂ = s + t₂ − x₁ in the same
 *   write that ends the transfer, after checking s₂·G + O₂ = P (the old s is gone);
 * - it signs only backups it has rebuilt itself from the template (coin.ts), each with a
 *   locktime exactly one interval below the last it signed and above tip + margin, and
 *   counts every signature in its statement, so a receiver can see a backup it was not shown;
 * - it signs nothing for a coin after its withdrawal, and co-signs only a withdrawal that can be
 *   bumped without it (TRUC with a pay-to-anchor: withdrawal.ts), so ending its role never
 *   strands the coin;
 * - its signing nonce is fresh for every signature and never stored: it answers last, after
 *   the owner's nonce is fixed (BIP-327's stateless-signer position), so it has no open
 *   nonce at all; an owner nonce it has signed against once is refused again (E_NONCE_REPLAY);
 * - every request is signed by the coin's current owner (or, for the last transfer step,
 *   by the receiver the pending transfer names) over the request itself; a coin held by a
 *   pair is bound to both parts (owner_auth_b), and a transfer or withdrawal of it also needs
 *   part B's signed consent to exactly that request, and is signed only under the owner nonce
 *   A's + B's — B's the one it consented with — so B can always complete it (E_PAIR_CONSENT);
 * - a finished transfer is kept as a receipt, not its statement (a coin's statements grow by a backup a
 *   transfer: kept whole they grew its record with the square of its transfers), and answered again only with
 *   the statement the receipt and the coin's record rebuild, once its signature is this operator's over exactly
 *   that statement (E_STATE_CORRUPT otherwise): a repeated request is never signed again, only re-sent — a store
 *   writer who edits a receipt cannot have the operator sign, or send as signed, a statement of its choosing;
 * - the share it replaces at a rotation is erased with the record that held it (the file
 *   store overwrites the old record's bytes, then removes it; PostgreSQL cannot overwrite in
 *   place — the old row version lives on until vacuumed, in WAL and in backups, sealed under
 *   the operator's key: src/lib/store/pg/operator-store.ts).
 */
import type { Static } from '@sinclair/typebox';
import { equalBytes, fromHex, toHex, utf8 } from '../bytes.ts';
import { sha256 } from '../hash.ts';
import { activeSecp256k1 } from '../musig/engine/select.ts';
import { stringifyLine } from '../json.ts';
import { scriptAddress } from '../address.ts';
import type { ChainSource } from '../chain/types.ts';
import { MalformedInputError, RefusedError, StateConflictError } from '../errors.ts';
import { parsePublicKey, type KeyPair } from '../keys/keys.ts';
import type { Network } from '../network.ts';
import type { RandomSource } from '../random.ts';
import { N, bytes32, int, mod } from '../musig/engine/scalar.ts';
import {
  backupTransaction, checkFunding, coinKey, coinSighash, parseOutpointText, parseTransaction, readBackup, spendsCoin, termsFromJson, type Backup,
} from './coin.ts';
import type {
  DepositBackupSchema, DepositRequestSchema, Statement, TransferAcceptSchema, TransferSignSchema, WithdrawRequestSchema,
} from './schemas.ts';
import { checkReceiverPossession, jointPubnonce } from './joint-share.ts';
import { lineDigest, sealJson, unseal, verifyBody, verifyDigest } from './seal.ts';
import { nonceGen, partialSign, provePossession, publicShare, verifyPossession } from './signer.ts';
import { receiptOf, signStatement, statementOfReceipt, type UnsignedStatement } from './statement.ts';
import { requireBumpable } from './withdrawal.ts';
import { isFinishedStatement, type FinishedTransfer, type OperatorRecord } from './ports.ts';

/** The digest a request's answer is kept under: sha256 of its canonical line (the same request, byte for byte as we read it, the same digest). */
export function requestDigest(req: unknown): string {
  return toHex(sha256(utf8(stringifyLine(req))));
}

/** The stored answer when the request (its `digest`) is exactly the request last answered. */
function replayed(record: OperatorRecord, digest: string) {
  const last = record.last_answer;
  return last && last.request === digest ? { record, message: last.message } : undefined;
}

function remember<R extends { record: OperatorRecord; message: Record<string, unknown> }>(digest: string, out: R): R {
  return { ...out, record: { ...out.record, last_answer: { request: digest, message: out.message } } };
}

export type OperatorContext = { operator: KeyPair; random: RandomSource; chain: ChainSource; network: Network };

type Msg<S extends import('@sinclair/typebox').TObject> = Static<S>;
/** The point of a key in a record or request, on the selected backend (parsePublicKey refuses a non-point first). */
const point = (hex: string, field: string) => activeSecp256k1().pointFromBytes(parsePublicKey(hex, field))!;

/** The request without its signature field, its other members in their order (one copy, not an array of entries and back). */
const withoutSig = <T extends Record<string, unknown>>(m: T, field: string): Record<string, unknown> => {
  const { [field]: _signature, ...rest } = m;
  return rest;
};

function requireSig(body: Record<string, unknown>, field: string, signer: string, what: string): void {
  if (!verifyBody(String(body.type), withoutSig(body, field), String(body[field]), parsePublicKey(signer, 'key'))) {
    throw new RefusedError('E_BAD_REQUEST_SIG', `${what}'s signature on this ${String(body.type)} does not verify`);
  }
}

/**
 * A pair is a pair at the operator: a coin whose statement names `owner_auth_b` (the pair's
 * second part) is moved only with that part's own signed consent to exactly this request —
 * its joint-nonce for this receiver and backup, or its joint-withdraw-nonce for this
 * withdrawal — besides the first part's request signature. Neither part alone can have the
 * operator co-sign a transfer or withdrawal (E_PAIR_CONSENT).
 *
 * The consent binds the signing round too (issue 37, finding 6): B's consent carries B's
 * nonce, A's signed request names A's (`a_pubnonce`), and the owner nonce signed against must
 * be exactly their sum. Otherwise A, holding B's consent to a transaction, could have it
 * co-signed under a nonce without B's — a signature B's partial signature can never
 * complete — and (a withdrawal) close the coin on the pair.
 */
function requirePartB(
  st: UnsignedStatement, req: { owner_pubnonce: string; a_pubnonce?: string | undefined }, partB: Record<string, unknown> | undefined,
  matches: (b: Record<string, unknown>) => boolean, what: string,
): void {
  if (st.owner_auth_b === undefined) return;
  if (partB === undefined) throw new RefusedError('E_PAIR_CONSENT', `this coin is held by a pair: its ${what} needs part B's signed consent (part_b) too`);
  if (partB.coin_id !== st.coin_id) throw new RefusedError('E_PAIR_CONSENT', `part B's consent is for coin ${String(partB.coin_id)}`);
  requireSig(partB, 'part_sig', st.owner_auth_b, 'part B');
  if (!matches(partB)) throw new RefusedError('E_PAIR_CONSENT', `part B consented to another ${what}`);
  if (req.a_pubnonce === undefined) throw new RefusedError('E_PAIR_CONSENT', `a pair's ${what} names part A's nonce (a_pubnonce): the owner nonce must be A's plus B's, or B could not complete the signature`);
  const sum = jointPubnonce([fromHex(req.a_pubnonce, 'a_pubnonce', 66), fromHex(String(partB.pubnonce), 'part B\'s pubnonce', 66)]);
  if (toHex(sum) !== req.owner_pubnonce.toLowerCase()) {
    throw new RefusedError('E_PAIR_CONSENT', `the owner nonce of this ${what} is not part A's nonce plus the one part B consented with: B could not complete the signature; nothing signed`);
  }
}

/** A request names the coin whose record answers it (the CLI picks the record by that name; a library caller may not). */
function requireCoin(record: OperatorRecord, req: { coin_id: string }): void {
  if (req.coin_id !== record.coin_id) throw new RefusedError('E_WRONG_COIN', `this request is for coin ${req.coin_id}, not ${record.coin_id}`);
}

function randomScalar(random: RandomSource, label: string): bigint {
  for (;;) {
    const k = int(random.bytes(32, label));
    if (k > 0n && k < N) return k;
  }
}

function nonceTag(pubnonce: string): string {
  return toHex(sha256(fromHex(pubnonce, 'pubnonce', 66))).slice(0, 32);
}

function checkFreshNonce(record: OperatorRecord, pubnonce: string): string {
  const tag = nonceTag(pubnonce);
  if (record.seen_nonces.includes(tag)) throw new StateConflictError('E_NONCE_REPLAY', 'this owner nonce was already signed against for this coin: start the step again for a fresh one');
  return tag;
}

function cosign(record: OperatorRecord, msg: Uint8Array, ownerPubnonce: string, ctx: OperatorContext) {
  const st = record.statement;
  // The label (mixed in only under OFFCHAIN_TEST_SEED, where each invocation restarts the stream) carries a persistent
  // per-coin counter (the nonces this coin was signed against), the owner's nonce and the message: no two co-signings
  // of a coin draw the same operator nonce across invocations (finding G).
  const label = `statechain/operator-nonce/${record.coin_id}/${record.seen_nonces.length}/${ownerPubnonce}/${toHex(msg)}`;
  const { secnonce, pubnonce } = nonceGen(ctx.random.bytes(64, label));
  const share = fromHex(record.share_secret, 'share', 32);
  const psig = partialSign(
    { shares: [parsePublicKey(st.owner_share, 'owner_share'), parsePublicKey(st.operator_share, 'operator_share')], pubnonces: [fromHex(ownerPubnonce, 'owner_pubnonce', 66), pubnonce], msg },
    1, secnonce, share,
  );
  share.fill(0);
  return { operator_pubnonce: toHex(pubnonce), operator_psig: toHex(psig) };
}

function sameUnsigned(built: Backup, hex: string, what: string): void {
  const given = readBackup(hex, what, built);
  if (!equalBytes(given.unsignedTx, built.unsignedTx)) {
    throw new RefusedError('E_BACKUP_TEMPLATE', `${what} is not the backup this coin's template gives (version, input, sequence, locktime or output differ)`);
  }
}

function coinOf(record: OperatorRecord) {
  const st = record.statement;
  if (st.outpoint === null || st.amount_sat === null) throw new RefusedError('E_NOT_ACTIVE', 'this coin has no deposit yet');
  return { outpoint: parseOutpointText(st.outpoint), amountSat: BigInt(st.amount_sat), key: coinKey(parsePublicKey(st.owner_share, 'owner_share'), parsePublicKey(st.operator_share, 'operator_share')) };
}

/** A new coin: the operator's share, its proof of possession, the address and terms. */
export function offerDeposit(req: Msg<typeof DepositRequestSchema>, terms: UnsignedStatement['terms'], ctx: OperatorContext) {
  requireSig(req, 'owner_sig', req.owner_auth, 'the owner');
  // The depositor's own request run with the depositor's key (its state dir, the wrong party):
  // an operator that is the owner would hold both halves of the coin's key.
  if (toHex(ctx.operator.publicKey) === req.owner_auth.toLowerCase()) {
    throw new RefusedError('E_KEY_MISMATCH', 'this key is the depositor\'s own (owner_auth of the request): a statechain/deposit-request is for the operator, who runs statechain-deposit on it with the operator\'s key and state');
  }
  const coinId = ctx.random.bytes(16, 'statechain/coin-id');
  const s = randomScalar(ctx.random, 'statechain/operator-share');
  const sBytes = bytes32(s);
  const S = publicShare(s);
  const key = coinKey(parsePublicKey(req.owner_share, 'owner_share'), S);
  const address = scriptAddress(key.script, ctx.network)!;
  const statement: UnsignedStatement = {
    coin_id: toHex(coinId), network: ctx.network, status: 'deposit', operator_auth: toHex(ctx.operator.publicKey), operator_share: toHex(S),
    owner_auth: req.owner_auth, owner_share: req.owner_share, aggregate: toHex(key.aggregate), address, terms,
    outpoint: null, amount_sat: null, count: 0, backups: [], transfer: null,
  };
  const record: OperatorRecord = { coin_id: toHex(coinId), network: ctx.network, share_secret: toHex(sBytes), statement, funding_tx: null, x1: null, seen_nonces: [], done: [] };
  const pop = provePossession(sBytes, coinId, ctx.random.bytes(32, 'statechain/pop-aux'));
  sBytes.fill(0);
  return {
    record,
    message: { type: 'statechain/deposit-offer', version: 1, network: ctx.network, coin_id: toHex(coinId), operator_pop: toHex(pop), statement: signStatement(statement, ctx.operator, ctx.random) },
  };
}

/** Backup 1, co-signed before the coin is funded (refund before funding). */
export async function cosignDepositBackup(record: OperatorRecord, req: Msg<typeof DepositBackupSchema>, ctx: OperatorContext) {
  requireCoin(record, req);
  const digest = requestDigest(req);
  const again = replayed(record, digest);
  if (again) return again;
  const st = record.statement;
  if (st.status !== 'deposit') throw new StateConflictError('E_ALREADY_SIGNED', 'this coin\'s first backup is already signed: a deposit has one first backup');
  requireSig(req, 'owner_sig', st.owner_auth, 'the owner');
  if (!verifyPossession(parsePublicKey(st.owner_share, 'owner_share'), fromHex(record.coin_id, 'coin_id', 16), fromHex(req.owner_pop, 'owner_pop', 64))) {
    throw new RefusedError('E_BAD_POSSESSION', 'the owner\'s proof of possession of its share does not verify for this coin');
  }
  const key = coinKey(parsePublicKey(st.owner_share, 'owner_share'), parsePublicKey(st.operator_share, 'operator_share'));
  const outpoint = parseOutpointText(req.outpoint);
  checkFunding(req.funding_tx, outpoint, key.script, BigInt(req.amount_sat));
  const terms = termsFromJson(st.terms);
  const tip = (await ctx.chain.tip()).height;
  const given = parseTransaction(req.backup_tx, 'backup_tx');
  const h0 = given.lockTime;
  if (Math.abs(h0 - (tip + terms.initialLock)) > 6) {
    throw new RefusedError('E_BACKUP_LOCKTIME', `backup 1's locktime ${h0} is not the tip (${tip}) plus the initial lock (${terms.initialLock}), within 6 blocks`);
  }
  const tx = backupTransaction(key, { outpoint, amountSat: BigInt(req.amount_sat), locktime: h0, ownerShare: parsePublicKey(st.owner_share, 'owner_share'), feeSat: terms.backupFeeSat, anchor: terms.anchor });
  sameUnsigned(tx, req.backup_tx, 'backup_tx');
  const tag = checkFreshNonce(record, req.owner_pubnonce);
  const sig = cosign(record, tx.sighash(), req.owner_pubnonce, ctx);
  const statement: UnsignedStatement = {
    ...st, status: 'active', outpoint: req.outpoint, amount_sat: req.amount_sat, count: 1,
    // A backup record's keys in canonical order, as a record read back from JSON has them: signing the statement
    // (canonical JSON, twice per transfer, of every record) then serialises the records as they are (json.ts).
    backups: [{ locktime: h0, n: 1, owner_share: st.owner_share, txid: tx.id }],
  };
  const next: OperatorRecord = { ...record, statement, funding_tx: req.funding_tx, seen_nonces: [...record.seen_nonces, tag] };
  return remember(digest, {
    record: next,
    message: {
      type: 'statechain/deposit-cosigned', version: 1, network: ctx.network, coin_id: record.coin_id, backup_txid: tx.id,
      owner_pubnonce: req.owner_pubnonce, ...sig, statement: signStatement(statement, ctx.operator, ctx.random),
    },
  });
}

async function checkConfirmed(record: OperatorRecord, chain: ChainSource): Promise<void> {
  const { outpoint } = coinOf(record);
  const utxo = await chain.utxo(outpoint.txid, outpoint.vout);
  if (utxo === null) throw new RefusedError('E_DEPOSIT_SPENT', `the coin's output ${record.statement.outpoint} is spent or not on chain`);
  const need = record.statement.terms.confirmations;
  if (utxo.confirmations < need) {
    throw new RefusedError('E_DEPOSIT_UNCONFIRMED', `the deposit has ${utxo.confirmations} confirmation(s) (a mempool-only deposit has 0); the coin moves after ${need}`);
  }
}

function requireActive(record: OperatorRecord): void {
  const status = record.statement.status;
  if (status === 'withdrawn') throw new RefusedError('E_COIN_WITHDRAWN', 'this coin was withdrawn: the operator signs nothing more for it');
  if (status === 'deposit') throw new RefusedError('E_NOT_ACTIVE', 'this coin\'s first backup is not signed yet: finish the deposit first');
}

/** The receiver's backup, co-signed before any key rotation; x₁ for the sender. */
export async function cosignTransfer(record: OperatorRecord, req: Msg<typeof TransferSignSchema>, ctx: OperatorContext) {
  requireCoin(record, req);
  const digest = requestDigest(req);
  const again = replayed(record, digest);
  if (again) return again;
  requireActive(record);
  const st = record.statement;
  requireSig(req, 'owner_sig', st.owner_auth, 'the current owner');
  if (st.transfer?.transfer_id === req.transfer_id) throw new StateConflictError('E_TRANSFER_REPEATED', 'this transfer already has its backup: one backup per transfer');
  if (finishedOf(record, req.transfer_id) !== undefined) throw new StateConflictError('E_TRANSFER_REPEATED', 'this transfer is finished');
  checkReceiverPossession(record.coin_id, req);
  parsePublicKey(req.receiver_auth, 'receiver_auth'); // it goes into our signed statement: a key, or nothing is signed
  const terms = termsFromJson(st.terms);
  const last = st.backups[st.backups.length - 1]!;
  const locktime = last.locktime - terms.interval;
  if (req.locktime !== locktime) throw new RefusedError('E_BACKUP_LOCKTIME', `the receiver's backup must have locktime ${locktime} (the last signed, ${last.locktime}, minus the interval ${terms.interval}), not ${req.locktime}`);
  const tip = (await ctx.chain.tip()).height;
  if (locktime <= tip + terms.margin) throw new RefusedError('E_TRANSFERS_EXHAUSTED', `the next backup's locktime ${locktime} would be within ${terms.margin} blocks of the tip ${tip}: this coin cannot move again; withdraw it`);
  await checkConfirmed(record, ctx.chain);
  const { outpoint, amountSat, key } = coinOf(record);
  const payTo = req.backup_script === undefined ? undefined : fromHex(req.backup_script, 'backup_script');
  const tx = backupTransaction(key, { outpoint, amountSat, locktime, ownerShare: parsePublicKey(req.receiver_share, 'receiver_share'), feeSat: terms.backupFeeSat, payTo, anchor: terms.anchor });
  sameUnsigned(tx, req.backup_tx, 'backup_tx');
  const tag = checkFreshNonce(record, req.owner_pubnonce);
  requirePartB(st, req, req.part_b, (b) => {
    const r = b.request as { receiver_share?: unknown; receiver_auth?: unknown; backup_script?: unknown } | undefined;
    return b.backup_txid === tx.id && r?.receiver_share === req.receiver_share && r?.receiver_auth === req.receiver_auth && r?.backup_script === req.backup_script;
  }, 'transfer');
  const sig = cosign(record, tx.sighash(), req.owner_pubnonce, ctx);
  const x1 = bytes32(randomScalar(ctx.random, 'statechain/x1'));
  const statement: UnsignedStatement = {
    ...st, status: 'transferring', count: st.count + 1,
    // In canonical order, as cosignDepositBackup's record.
    backups: [...st.backups, { locktime, n: st.count + 1, owner_share: req.receiver_share, ...(req.backup_script === undefined ? {} : { script: req.backup_script }), txid: tx.id }],
    transfer: {
      receiver_auth: req.receiver_auth, ...(req.receiver_parts === undefined ? {} : { receiver_auth_b: req.receiver_parts[1]!.auth }),
      receiver_share: req.receiver_share, transfer_id: req.transfer_id, x1_point: toHex(publicShare(int(x1))),
    },
  };
  const x1Sealed = sealJson(parsePublicKey(st.owner_auth, 'owner_auth'), { x1: toHex(x1) }, `${record.coin_id}/${req.transfer_id}/x1`, bytes32(randomScalar(ctx.random, 'statechain/seal')));
  const next: OperatorRecord = { ...record, statement, x1: toHex(x1), seen_nonces: [...record.seen_nonces, tag], done: compacted(record.done, statement) };
  x1.fill(0);
  return remember(digest, {
    record: next,
    message: {
      type: 'statechain/transfer-cosigned', version: 1, network: ctx.network, coin_id: record.coin_id, transfer_id: req.transfer_id, backup_txid: tx.id,
      owner_pubnonce: req.owner_pubnonce, ...sig, x1_sealed: x1Sealed, statement: signStatement(statement, ctx.operator, ctx.random),
    },
  });
}

/** E_STATE_CORRUPT: what the record keeps of finished transfer `finished` is not what this operator wrote. */
function corruptFinished(record: OperatorRecord, finished: FinishedTransfer): MalformedInputError {
  return new MalformedInputError('E_STATE_CORRUPT', `the operator's record of finished transfer ${String(finished.transfer_id)} does not give back a statement this operator signed for coin ${record.coin_id}: not a record it wrote as it stands (check who writes the operator's store); nothing answered`);
}

/** Transfer `id`'s entry in `done`, if it is finished (a stray non-object there is no entry). */
function finishedOf(record: OperatorRecord, id: string): FinishedTransfer | undefined {
  return record.done.find((d) => (d as { transfer_id?: unknown } | null)?.transfer_id === id);
}

/**
 * A finished transfer's statement, as its transfer-done answer carried it: rebuilt from its receipt and the coin's
 * record (or, kept whole by an older record, as kept), sent only when it is a finished transfer's statement of this
 * coin — active, nothing pending, counting its backups — and its signature, in the lower-case hex every answer
 * carries, is this operator's over exactly that statement. Nothing is signed: a store that lost or changed what
 * the operator signed gets E_STATE_CORRUPT, never a new signature and never a crash.
 */
function finishedStatement(record: OperatorRecord, finished: FinishedTransfer, ctx: OperatorContext): Statement {
  const corrupt = () => corruptFinished(record, finished);
  // statementOfReceipt refuses (E_STATE_CORRUPT) a count or a coin statement it cannot rebuild from.
  const s = isFinishedStatement(finished) ? finished.statement : statementOfReceipt(record.statement, finished);
  if (typeof s !== 'object' || s === null || Array.isArray(s)) throw corrupt();
  const { operator_sig, ...body } = s;
  const finishedShape = s.coin_id === record.coin_id && s.status === 'active' && s.transfer === null && Array.isArray(s.backups) && s.count === s.backups.length;
  if (!finishedShape || typeof operator_sig !== 'string' || !/^[0-9a-f]{128}$/.test(operator_sig)
    || !verifyDigest(() => lineDigest('statement', stringifyLine(body)), operator_sig, ctx.operator.publicKey)) {
    throw corrupt();
  }
  return s;
}

/**
 * `done` with each finished transfer kept whole (by records written before receipts) as its receipt, when the
 * receipt and `current` rebuild exactly its statement's line; one that does not stays whole, as does anything
 * else found there. A coin's next step writes its record compacted.
 */
function compacted(done: FinishedTransfer[], current: UnsignedStatement): FinishedTransfer[] {
  if (!done.some(isFinishedStatement)) return done;
  return done.map((d) => {
    if (!isFinishedStatement(d)) return d;
    try {
      const r = receiptOf(d.transfer_id, d.statement);
      return r !== undefined && stringifyLine(statementOfReceipt(current, r)) === stringifyLine(d.statement) ? r : d;
    } catch {
      return d; // not a statement this record can rebuild: kept as it is
    }
  });
}

/** The last step: s₂ = s₁ + t₂ − x₁, checked against P, replaces s₁. Repeating it answers the same. */
export function completeTransfer(record: OperatorRecord, req: Msg<typeof TransferAcceptSchema>, ctx: OperatorContext) {
  requireCoin(record, req);
  const finished = finishedOf(record, req.transfer_id);
  const answer = (statement: Statement) => ({ type: 'statechain/transfer-done', version: 1, network: ctx.network, coin_id: record.coin_id, transfer_id: req.transfer_id, statement });
  if (finished) {
    const ownerAuth = isFinishedStatement(finished) ? (finished.statement as { owner_auth?: unknown } | null)?.owner_auth : finished.owner_auth;
    if (typeof ownerAuth !== 'string') throw corruptFinished(record, finished);
    if (ownerAuth !== req.receiver_auth) throw new RefusedError('E_WRONG_RECEIVER', 'this transfer was finished for another receiver');
    requireSig(req, 'receiver_sig', req.receiver_auth, 'the receiver');
    return { record, message: answer(finishedStatement(record, finished, ctx)) };
  }
  requireActive(record);
  const st = record.statement;
  const pending = st.transfer;
  if (pending === null || record.x1 === null) throw new StateConflictError('E_NO_TRANSFER', 'no transfer of this coin is pending at the operator');
  if (pending.transfer_id !== req.transfer_id) throw new StateConflictError('E_STALE_TRANSFER', `transfer ${req.transfer_id} was replaced by ${pending.transfer_id}: its x₁ is gone`);
  if (req.receiver_auth !== pending.receiver_auth || req.receiver_share !== pending.receiver_share) {
    throw new RefusedError('E_WRONG_RECEIVER', 'this acceptance is not from the receiver the transfer names');
  }
  requireSig(req, 'receiver_sig', req.receiver_auth, 'the receiver');
  const opened = unseal(ctx.operator.secretKey, req.t2_sealed, `${record.coin_id}/${req.transfer_id}/t2`, 't2_sealed', ctx.operator.publicKey);
  if (opened.length !== 32) {
    opened.fill(0);
    throw new RefusedError('E_BAD_T2', 't₂ must be a 32-byte scalar');
  }
  const t2 = int(opened);
  opened.fill(0);
  if (t2 >= N) throw new RefusedError('E_BAD_T2', 't₂ is not a scalar below the group order');
  const s2 = mod(int(fromHex(record.share_secret, 'share', 32)) + t2 - int(fromHex(record.x1, 'x1', 32)));
  if (s2 === 0n) throw new RefusedError('E_BAD_T2', 't₂ gives a zero share');
  const ec = activeSecp256k1();
  const S2 = ec.mulBase(s2)!;
  if (!ec.equals(ec.add(S2, point(pending.receiver_share, 'receiver_share')), point(st.aggregate, 'aggregate'))) {
    throw new RefusedError('E_BAD_T2', 's₂·G + O₂ ≠ P: t₂ does not complete this transfer (wrong t₁ from the sender, or a wrong t₂); nothing changed');
  }
  const { owner_auth_b: _previousB, ...rest } = st;
  const statement: UnsignedStatement = {
    ...rest, status: 'active', owner_auth: pending.receiver_auth, owner_share: pending.receiver_share, operator_share: toHex(ec.pointToBytes(S2)), transfer: null,
    ...(pending.receiver_auth_b === undefined ? {} : { owner_auth_b: pending.receiver_auth_b }),
  };
  const signed = signStatement(statement, ctx.operator, ctx.random);
  const done = [...compacted(record.done, statement), receiptOf(req.transfer_id, signed) ?? { transfer_id: req.transfer_id, statement: signed }];
  const next: OperatorRecord = { ...record, share_secret: toHex(bytes32(s2)), statement, x1: null, done };
  return { record: next, message: answer(signed) };
}

/** A cooperative spend of the coin; afterwards the operator signs nothing more for it. */
export function cosignWithdrawal(record: OperatorRecord, req: Msg<typeof WithdrawRequestSchema>, ctx: OperatorContext) {
  requireCoin(record, req);
  const digest = requestDigest(req);
  const again = replayed(record, digest);
  if (again) return again;
  requireActive(record);
  const st = record.statement;
  requireSig(req, 'owner_sig', st.owner_auth, 'the owner');
  const { outpoint, amountSat, key } = coinOf(record);
  const tx = parseTransaction(req.tx, 'tx');
  if (!spendsCoin(tx, outpoint)) throw new RefusedError('E_NOT_THE_COIN', `a withdrawal spends exactly the coin (${st.outpoint}) as its only input`);
  // It ends our role: whoever holds it must be able to bump it, whatever the mempool asks by then (issue 37, finding 5).
  requireBumpable(tx, amountSat);
  tx.updateInput(0, { witnessUtxo: { script: key.script, amount: amountSat } }, true);
  // B's consent to this transaction, given while the pair holds the coin under its present share: the bytes of a
  // withdrawal are the same in every round, so a consent from an earlier round would close the coin on B (issue 37 review).
  requirePartB(st, req, req.part_b, (b) => b.tx === req.tx && b.owner_share === st.owner_share, 'withdrawal');
  const tag = checkFreshNonce(record, req.owner_pubnonce);
  const sig = cosign(record, coinSighash(tx), req.owner_pubnonce, ctx);
  const statement: UnsignedStatement = { ...st, status: 'withdrawn', transfer: null };
  return remember(digest, {
    record: { ...record, statement, x1: null, seen_nonces: [...record.seen_nonces, tag], done: compacted(record.done, statement) } satisfies OperatorRecord,
    message: {
      type: 'statechain/withdraw-cosigned', version: 1, network: ctx.network, coin_id: record.coin_id, txid: tx.id,
      owner_pubnonce: req.owner_pubnonce, ...sig, statement: signStatement(statement, ctx.operator, ctx.random),
    },
  });
}
