/**
 * A pair (O = A + B, joint.ts) sends its coin — to a new owner, or to one of its own
 * parts (the channel's "virtual close": the coin goes to whoever holds the whole
 * balance). Signing is three-party, [A, B, S], through the additive signer; the
 * operator's code is unchanged: it sees one owner share A + B, one owner nonce
 * RA + RB, and answers as it answers any sender.
 *
 *   receiver  startReceive       → transfer-request
 *   B         jointNonce         → joint-nonce       (B's nonce for the receiver's backup)
 *   A         jointTransferSign  → transfer-sign     (owner nonce = A's + B's)
 *   operator  cosignTransfer     → transfer-cosigned (x₁ sealed to A, the pair's auth key)
 *   A         jointSignA         → joint-sign        (A's partial signature, a + x₁ sealed to B, the binding)
 *   B         jointPackage       → transfer-package  (B's partial signature, t₁ = a + x₁ + b sealed to the receiver)
 *
 * and withdraws it cooperatively (both parts name the same destination and fee rate):
 *
 *   B         jointWithdrawNonce   → joint-withdraw-nonce (the withdrawal B built, B's nonce)
 *   A         jointWithdrawRequest → withdraw-request     (the same withdrawal; owner nonce = A's + B's)
 *   operator  cosignWithdrawal     → withdraw-cosigned
 *   A         jointWithdrawSignA   → joint-withdraw-sign  (A's partial signature)
 *   B         jointWithdrawFinish  → the signed withdrawal
 *
 * Invariants: each part builds the backup itself and signs only that; each part's secret
 * nonce is consumed on disk before its partial signature leaves; every partial signature
 * is checked before aggregation; B checks (a + x₁)·G = A + X₁ before it uses it, so t₁ is
 * right before the receiver sees it; A never learns b, B never learns a or x₁ alone.
 * Retries (issue 22 review): a step given the same input again prints its stored message
 * (also from 'sent' and 'withdrawing'); a different withdrawal while one waits is a new one,
 * every earlier one kept answerable (issue 37 review: a refused one is no dead end); from 'sent' (the receiver never completed) the pair may send
 * again or withdraw, so a receiver that takes the package and vanishes cannot win by its backup.
 */
import type { Static } from '@sinclair/typebox';
import { fromHex, toHex } from '../bytes.ts';
import { sameJson } from '../json.ts';
import { RefusedError, StateConflictError } from '../errors.ts';
import { parsePublicKey } from '../keys/keys.ts';
import { N, bytes32, int, mod } from '../musig/engine/scalar.ts';
import { coinSighash, finishSpend, parseTransaction } from './coin.ts';
import { checkWithdrawCosigned, checkWithdrawalFloor, issueOwnerNonce, newShare, nonceContext, sign, withdrawalTransaction, type OwnerContext } from './owner.ts';
import type { RelayFloorSource } from './withdrawal.ts';
import type { FeeLimits } from '../tx/fee-guard.ts';
import type { JointNonceSchema, JointSignSchema, JointWithdrawNonceSchema, JointWithdrawSignSchema, TransferCosignedSchema, TransferRequestSchema, WithdrawCosignedSchema } from './schemas.ts';
import { sealJson, signBody, unsealJson, verifyBody } from './seal.ts';
import { aggregate, partialSign, partialVerify, publicShare, sumIs, type SessionInput } from './signer.ts';
import { jointPubnonce, type JointPart } from './joint-share.ts';
import type { JointRecord } from './joint.ts';
import { checkTransferCosigned, checkTransferRequest, nextBackup, openX1, requireSig, transferSignMessage } from './transfer.ts';
import { bindingBody } from './verify.ts';

type Msg<S extends import('@sinclair/typebox').TObject> = Static<S>;

/** A part's send under way, kept in its joint record. */
export type JointSend = {
  request: Msg<typeof TransferRequestSchema>; pubnonce: string; b_pubnonce?: string; transfer_id?: string; package?: Record<string, unknown>;
  /** The step's answer (B: its joint-nonce; A: its transfer-sign) and, at A, B's joint-nonce it answered: printed again for the same input. */
  message?: Record<string, unknown>; answered?: Record<string, unknown>;
};

/**
 * While a part's first send step waits for the next ('sending'), the same input prints the
 * same answer; another receiver's request (or B's nonce for it) is refused until this
 * transfer is finished: the operator may have counted its backup, and B's nonce for it is
 * the one the pair signs with (E_TRANSFER_PENDING).
 */
function pendingAnswer(record: SendingRecord, input: unknown, stored: unknown): Record<string, unknown> | undefined {
  const send = record.joint_send;
  // Once the package left ('sent'), the same input prints the step's stored answer (never a second transfer to the
  // same receiver); another receiver's request starts a new send, as a single sender's does from 'sent'.
  if (record.status === 'sent' && send?.message && sameJson(stored, input)) return send.message;
  if (record.status !== 'sending' || !send?.message) return undefined;
  if (sameJson(stored, input)) return send.message;
  throw new StateConflictError('E_TRANSFER_PENDING', 'the pair\'s transfer to another receiver is under way: give the same input again to print its answer, and finish it before starting another');
}

/** A part's withdrawal under way: its own nonce, B's (at A), and the answer to print again. */
export type JointWithdraw = {
  pubnonce: string; b_pubnonce?: string; answer?: Record<string, unknown>;
  /** The step's message (B: its joint-withdraw-nonce; A: its withdraw-request) and, at A, B's nonce it answered: printed again for the same input. */
  message?: Record<string, unknown>; tx?: string; answered?: Record<string, unknown>;
};

/**
 * Every withdrawal this part asked for (A) or consented to (B) and has not finished, oldest
 * first, the one under way last: each stays answerable — the operator may have co-signed an
 * earlier one and its answer been lost — so another withdrawal after a refusal (by the
 * operator, or by the other part: a rate under its node's floor) is no dead end.
 */
function askedWithdrawals(record: SendingRecord): JointWithdraw[] {
  if (record.status !== 'withdrawing' || !record.joint_withdraw?.message) return [];
  return [...(record.joint_withdraw_earlier ?? []), record.joint_withdraw];
}

/** The owner nonce of a withdrawal A asked for: A's nonce plus B's. */
const ownerNonceOf = (w: JointWithdraw) => toHex(jointPubnonce([fromHex(w.pubnonce, 'pubnonce', 66), fromHex(w.b_pubnonce!, 'B\'s pubnonce', 66)]));

/**
 * A withdrawal step may start while the pair owns the coin ('active', 'sending') and also
 * once its package has left ('sent': the receiver has not completed, the operator still
 * co-signs its owner's withdrawal, so a receiver that vanishes cannot win by its backup).
 * From 'withdrawing', an input already answered prints its stored message (its answer was
 * lost); another starts another withdrawal, the earlier ones kept (askedWithdrawals).
 */
function requireWithdrawable(record: SendingRecord, index: 0 | 1): void {
  if (record.joint.index !== index) throw new StateConflictError('E_WRONG_PART', `this step is part ${index === 0 ? 'A' : 'B'}'s; we are part ${record.joint.index === 0 ? 'A' : 'B'} of the pair`);
  if (!['active', 'sending', 'sent', 'withdrawing'].includes(record.status)) throw new StateConflictError('E_NOT_OWNER', `this coin is ${record.status}: only its current owners withdraw it`);
}

function pendingWithdrawal(record: SendingRecord, same: (w: JointWithdraw) => boolean): Record<string, unknown> | undefined {
  return askedWithdrawals(record).find(same)?.message;
}

export type SendingRecord = JointRecord & {
  joint_send?: JointSend | null; joint_withdraw?: JointWithdraw | null;
  /** Withdrawals asked for (consented to) before the one under way, still answerable (askedWithdrawals). */
  joint_withdraw_earlier?: JointWithdraw[] | null;
};

const purposeOf = (index: number) => `transfer/part${index}`;

function requireActive(record: SendingRecord, index: 0 | 1, fromSent = false): void {
  if (record.joint.index !== index) throw new StateConflictError('E_WRONG_PART', `this step is part ${index === 0 ? 'A' : 'B'}'s; we are part ${record.joint.index === 0 ? 'A' : 'B'} of the pair`);
  if (record.status !== 'active' && record.status !== 'sending' && !(fromSent && record.status === 'sent')) throw new StateConflictError('E_NOT_OWNER', `this coin is ${record.status}: only its current owners transfer it`);
}

function session(record: SendingRecord, operatorShare: string, pubnonces: Uint8Array[], msg: Uint8Array): SessionInput {
  const parts: JointPart[] = record.joint.parts;
  return { shares: [...parts.map((p, i) => parsePublicKey(p.share, `part ${i}`)), parsePublicKey(operatorShare, 'operator_share')], pubnonces, msg };
}

/** B, step 2: our nonce for the receiver's backup, which we build ourselves. */
export async function jointNonce(record: SendingRecord, req: Msg<typeof TransferRequestSchema>, tipHeight: number, ctx: OwnerContext) {
  requireActive(record, 1, true);
  checkTransferRequest(record, req);
  const again = pendingAnswer(record, req, record.joint_send?.request);
  if (again) return { record, message: again };
  const { backup } = nextBackup(record, req, tipHeight);
  const pubnonce = await issueOwnerNonce(ctx, nonceContext(record.coin_id, purposeOf(1), backup.id));
  const body = { type: 'statechain/joint-nonce', version: 1, network: ctx.network, coin_id: record.coin_id, request: req, backup_txid: backup.id, pubnonce };
  const message = sign(body.type, body, 'part_sig', ctx);
  const next: SendingRecord = { ...record, status: 'sending', signing: { purpose: 'transfer', tx: toHex(backup.unsignedTx), pubnonce }, joint_send: { request: req, pubnonce, message } };
  return { record: next, message };
}

/** A, step 2′: the same backup, our nonce, and the pair's request to the operator (its owner nonce the sum of ours and B's). */
export async function jointTransferSign(record: SendingRecord, msg: Msg<typeof JointNonceSchema>, tipHeight: number, ctx: OwnerContext) {
  requireActive(record, 0, true);
  if (msg.coin_id !== record.coin_id) throw new RefusedError('E_WRONG_COIN', `this nonce is for coin ${msg.coin_id}`);
  requireSig(msg, 'part_sig', record.joint.parts[1]!.auth, 'B');
  const again = pendingAnswer(record, msg, record.joint_send?.answered);
  if (again) return { record, message: again };
  const req = msg.request as Msg<typeof TransferRequestSchema>;
  checkTransferRequest(record, req);
  const { locktime, backup } = nextBackup(record, req, tipHeight);
  if (backup.id !== msg.backup_txid) throw new RefusedError('E_BACKUP_MISMATCH', `B signs backup ${msg.backup_txid}; ours is ${backup.id}`);
  const pubnonce = await issueOwnerNonce(ctx, nonceContext(record.coin_id, purposeOf(0), backup.id));
  const ownerPubnonce = toHex(jointPubnonce([fromHex(pubnonce, 'pubnonce', 66), fromHex(msg.pubnonce, 'B\'s pubnonce', 66)]));
  const transferId = toHex(ctx.random.bytes(16, 'statechain/transfer-id'));
  const next: SendingRecord = {
    ...record, status: 'sending',
    signing: { purpose: 'transfer', tx: toHex(backup.unsignedTx), pubnonce: ownerPubnonce },
    transfer: { transfer_id: transferId, receiver_auth: req.receiver_auth, receiver_share: req.receiver_share },
    joint_send: { request: req, pubnonce, b_pubnonce: msg.pubnonce, transfer_id: transferId },
  };
  // B's signed joint-nonce goes to the operator with the request: the pair's coin moves only with both parts' consent.
  const message = transferSignMessage(record.coin_id, req, { transferId, locktime, backup, ownerPubnonce, aPubnonce: pubnonce, partB: msg }, ctx);
  return { record: { ...next, joint_send: { ...next.joint_send!, message, answered: msg } }, message };
}

/** The operator's answer as each part checks it (./transfer.ts), for this pair's transfer to the receiver it asked for. */
function checkCosigned(record: SendingRecord, cos: Msg<typeof TransferCosignedSchema>, send: JointSend, transferId: string, ownerPubnonce: string) {
  if (cos.transfer_id !== transferId) throw new RefusedError('E_BAD_STATEMENT', 'the operator\'s statement does not describe our transfer');
  return checkTransferCosigned(record, cos, { transfer_id: transferId, receiver_share: send.request.receiver_share, receiver_auth: send.request.receiver_auth }, ownerPubnonce);
}

/** A, step 4: our partial signature (nonce consumed first), a + x₁ sealed to B, and the binding for the receiver. */
export async function jointSignA(record: SendingRecord, cos: Msg<typeof TransferCosignedSchema>, ctx: OwnerContext) {
  if (record.status === 'sent' && record.joint_send?.transfer_id === cos.transfer_id && record.joint_send.package) return { record, message: record.joint_send.package };
  requireActive(record, 0);
  const send = record.joint_send;
  if (record.status !== 'sending' || !send?.transfer_id || !send.b_pubnonce) throw new StateConflictError('E_NOT_SIGNING', 'no transfer of this pair is waiting for the operator');
  const { st, tx } = checkCosigned(record, cos, send, send.transfer_id, record.signing!.pubnonce);
  const x1 = openX1(record.coin_id, cos, st, ctx.auth.secretKey);
  const input = session(record, st.operator_share, [fromHex(send.pubnonce, 'pubnonce', 66), fromHex(send.b_pubnonce, 'B\'s pubnonce', 66), fromHex(cos.operator_pubnonce, 'operator_pubnonce', 66)], coinSighash(tx));
  const operatorPsig = fromHex(cos.operator_psig, 'operator_psig', 32);
  if (!partialVerify(input, 2, operatorPsig)) throw new RefusedError('E_BAD_PARTIAL_SIG', 'the operator\'s partial signature does not verify for this backup');
  const secnonce = await ctx.nonces.take(input.pubnonces[0]!, nonceContext(record.coin_id, purposeOf(0), tx.id));
  const a = fromHex(record.share_secret, 'part', 32);
  const psig = partialSign(input, 0, secnonce, a);
  const aPlusX1 = toHex(bytes32(mod(int(a) + x1)));
  a.fill(0);
  const body = {
    type: 'statechain/joint-sign', version: 1, network: ctx.network, coin_id: record.coin_id, transfer_id: send.transfer_id, cosigned: cos,
    a_pubnonce: send.pubnonce, a_psig: toHex(psig),
    ax1_sealed: sealJson(parsePublicKey(record.joint.parts[1]!.auth, 'B\'s auth'), { ax1: aPlusX1 }, `${record.coin_id}/${send.transfer_id}/joint-x1`, newShare(ctx.random, 'statechain/seal').secret),
    binding_sig: signBody('binding', bindingBody(record.coin_id, st.outpoint!, send.request.receiver_share, send.transfer_id), ctx.auth.secretKey, ctx.random.bytes(32, 'statechain/binding-aux')),
  };
  const message = sign(body.type, body, 'part_sig', ctx);
  return { record: { ...record, status: 'sent' as const, signing: null, statement: cos.statement, joint_send: { ...send, package: message } }, message };
}

/** B, step 4′: the backup finished (every partial signature checked), t₁ = a + x₁ + b checked and sealed to the receiver. */
export async function jointPackage(record: SendingRecord, msg: Msg<typeof JointSignSchema>, ctx: OwnerContext) {
  if (record.status === 'sent' && record.joint_send?.transfer_id === msg.transfer_id && record.joint_send.package) return { record, message: record.joint_send.package };
  requireActive(record, 1);
  const send = record.joint_send;
  if (record.status !== 'sending' || !send) throw new StateConflictError('E_NOT_SIGNING', 'we gave no nonce for a transfer of this coin');
  if (msg.coin_id !== record.coin_id) throw new RefusedError('E_WRONG_COIN', `this is for coin ${msg.coin_id}`);
  requireSig(msg, 'part_sig', record.joint.parts[0]!.auth, 'A');
  const cos = msg.cosigned as Msg<typeof TransferCosignedSchema>;
  const ownerPubnonce = toHex(jointPubnonce([fromHex(msg.a_pubnonce, 'A\'s pubnonce', 66), fromHex(send.pubnonce, 'pubnonce', 66)]));
  const { st, tx } = checkCosigned(record, cos, send, msg.transfer_id, ownerPubnonce);
  const x1Point = st.transfer!.x1_point;
  const input = session(record, st.operator_share, [fromHex(msg.a_pubnonce, 'A\'s pubnonce', 66), fromHex(send.pubnonce, 'pubnonce', 66), fromHex(cos.operator_pubnonce, 'operator_pubnonce', 66)], coinSighash(tx));
  const aPsig = fromHex(msg.a_psig, 'a_psig', 32);
  const operatorPsig = fromHex(cos.operator_psig, 'operator_psig', 32);
  if (!partialVerify(input, 0, aPsig)) throw new RefusedError('E_BAD_PARTIAL_SIG', 'A\'s partial signature does not verify for this backup');
  if (!partialVerify(input, 2, operatorPsig)) throw new RefusedError('E_BAD_PARTIAL_SIG', 'the operator\'s partial signature does not verify for this backup');
  const sealed = unsealJson(ctx.auth.secretKey, msg.ax1_sealed, `${record.coin_id}/${msg.transfer_id}/joint-x1`, 'ax1_sealed') as { ax1?: unknown };
  const ax1 = typeof sealed.ax1 === 'string' && /^[0-9a-f]{64}$/.test(sealed.ax1) ? int(fromHex(sealed.ax1, 'ax1', 32)) : 0n;
  const A = parsePublicKey(record.joint.parts[0]!.share, 'part A');
  if (ax1 === 0n || ax1 >= N || !sumIs([A, parsePublicKey(x1Point, 'x1_point')], publicShare(ax1))) {
    throw new RefusedError('E_BAD_X1', 'A\'s a + x₁ does not match A + X₁ from the operator\'s statement');
  }
  if (!verifyBody('binding', bindingBody(record.coin_id, st.outpoint!, send.request.receiver_share, msg.transfer_id), msg.binding_sig, parsePublicKey(record.auth, 'A\'s auth'))) {
    throw new RefusedError('E_BAD_BINDING', 'A\'s binding signature does not verify for this transfer');
  }
  const secnonce = await ctx.nonces.take(input.pubnonces[1]!, nonceContext(record.coin_id, purposeOf(1), tx.id));
  const b = fromHex(record.share_secret, 'part', 32);
  const bPsig = partialSign(input, 1, secnonce, b);
  const signed = finishSpend(tx, aggregate(input, [aPsig, bPsig, operatorPsig]));
  const t1 = mod(ax1 + int(b));
  b.fill(0);
  const inner = { statement: cos.statement, funding_tx: record.funding_tx, backups: [...record.backups, signed.hex], t1: toHex(bytes32(t1)), binding_sig: msg.binding_sig };
  const req = send.request;
  const message = {
    type: 'statechain/transfer-package', version: 1, network: ctx.network, coin_id: record.coin_id, transfer_id: msg.transfer_id, receiver_auth: req.receiver_auth,
    sealed: sealJson(parsePublicKey(req.receiver_auth, 'receiver_auth'), inner, `${record.coin_id}/${msg.transfer_id}/package`, newShare(ctx.random, 'statechain/seal').secret),
  };
  const next: SendingRecord = {
    ...record, status: 'sent', signing: null, statement: cos.statement, backups: [...record.backups, signed.hex],
    transfer: { transfer_id: msg.transfer_id, receiver_auth: req.receiver_auth, receiver_share: req.receiver_share }, joint_send: { ...send, transfer_id: msg.transfer_id, package: message },
  };
  return { record: next, message };
}

// ---- the pair's cooperative withdrawal ------------------------------------------------

/** B, withdrawal step 1: the withdrawal built from our record, and our nonce for it. */
export async function jointWithdrawNonce(record: SendingRecord, destination: Uint8Array, feeRate: number, ctx: OwnerContext, relay?: RelayFloorSource, limits?: FeeLimits) {
  requireWithdrawable(record, 1);
  const tx = withdrawalTransaction(record, destination, feeRate);
  const again = pendingWithdrawal(record, (w) => w.tx === toHex(tx.unsignedTx));
  if (again) return { record, message: again };
  await checkWithdrawalFloor(record, tx, relay, limits);
  const pubnonce = await issueOwnerNonce(ctx, nonceContext(record.coin_id, 'withdraw/part1', tx.id));
  // Our consent names the pair's share: it is ours only while the pair holds the coin under it (the bytes of a withdrawal are the same in every round).
  const body = { type: 'statechain/joint-withdraw-nonce', version: 1, network: ctx.network, coin_id: record.coin_id, owner_share: record.statement.owner_share, tx: toHex(tx.unsignedTx), pubnonce };
  const message = sign(body.type, body, 'part_sig', ctx);
  const next: SendingRecord = { ...record, status: 'withdrawing', signing: { purpose: 'withdraw', tx: toHex(tx.unsignedTx), pubnonce }, joint_withdraw: { pubnonce, message, tx: toHex(tx.unsignedTx) }, ...earlier(record) };
  return { record: next, message };
}

/** A, withdrawal step 2: the same withdrawal from our own --to and --fee-rate, our nonce; the pair's request to the operator. */
export async function jointWithdrawRequest(record: SendingRecord, msg: Msg<typeof JointWithdrawNonceSchema>, destination: Uint8Array, feeRate: number, ctx: OwnerContext, relay?: RelayFloorSource, limits?: FeeLimits) {
  requireWithdrawable(record, 0);
  if (msg.coin_id !== record.coin_id) throw new RefusedError('E_WRONG_COIN', `this nonce is for coin ${msg.coin_id}`);
  requireSig(msg, 'part_sig', record.joint.parts[1]!.auth, 'B');
  const tx = withdrawalTransaction(record, destination, feeRate);
  const again = pendingWithdrawal(record, (w) => w.tx === toHex(tx.unsignedTx) && sameJson(w.answered, msg));
  if (again) return { record, message: again };
  if (toHex(tx.unsignedTx) !== msg.tx) throw new RefusedError('E_WITHDRAWAL_MISMATCH', 'B\'s withdrawal is not the one our --to and --fee-rate make: agree on both first');
  if (msg.owner_share !== record.statement.owner_share) throw new RefusedError('E_WITHDRAWAL_MISMATCH', 'B\'s nonce was given for the coin as the pair held it under another share (an earlier round): ask B for a new one');
  await checkWithdrawalFloor(record, tx, relay, limits);
  const pubnonce = await issueOwnerNonce(ctx, nonceContext(record.coin_id, 'withdraw/part0', tx.id));
  const ownerPubnonce = toHex(jointPubnonce([fromHex(pubnonce, 'pubnonce', 66), fromHex(msg.pubnonce, 'B\'s pubnonce', 66)]));
  // Our nonce named beside the sum: the operator co-signs only under A's + B's, the nonce B consented with (finding 6).
  const body = { type: 'statechain/withdraw-request', version: 1, network: ctx.network, coin_id: record.coin_id, tx: msg.tx, owner_pubnonce: ownerPubnonce, a_pubnonce: pubnonce, part_b: msg };
  const message = sign(body.type, body, 'owner_sig', ctx);
  const next: SendingRecord = {
    ...record, status: 'withdrawing', signing: { purpose: 'withdraw', tx: msg.tx, pubnonce: ownerPubnonce }, joint_withdraw: { pubnonce, b_pubnonce: msg.pubnonce, message, tx: msg.tx, answered: msg }, ...earlier(record),
  };
  return { record: next, message };
}

/** The withdrawals asked before a new one, kept beside it. */
function earlier(record: SendingRecord): Pick<SendingRecord, 'joint_withdraw_earlier'> {
  const asked = askedWithdrawals(record);
  return asked.length === 0 ? {} : { joint_withdraw_earlier: asked };
}

/** The record without the earlier withdrawals, once one is finished. */
function finished(record: SendingRecord): SendingRecord {
  const { joint_withdraw_earlier: _earlier, ...rest } = record;
  return rest;
}

/** The operator's answer to the pair's withdrawal as each part checks it (./owner.ts), the pair's share unchanged. */
function checkPairWithdrawal(record: SendingRecord, cos: Msg<typeof WithdrawCosignedSchema>, ownerPubnonce: string) {
  const out = checkWithdrawCosigned(record, cos, ownerPubnonce);
  if (out.st.owner_share !== record.share) throw new RefusedError('E_BAD_STATEMENT', 'the operator\'s statement changed the coin\'s shares');
  return out;
}

/** A, withdrawal step 4: the operator's partial signature checked, our nonce consumed, our partial signature for B. */
export async function jointWithdrawSignA(record: SendingRecord, cos: Msg<typeof WithdrawCosignedSchema>, ctx: OwnerContext) {
  const w = record.joint_withdraw;
  if (record.status === 'withdrawn' && w?.answer) return { record, message: w.answer };
  if (record.joint.index !== 0) throw new StateConflictError('E_WRONG_PART', 'this step is part A\'s; we are part B of the pair');
  if (record.status !== 'withdrawing' || !w?.b_pubnonce) throw new StateConflictError('E_NOT_SIGNING', 'no withdrawal of this pair is waiting for the operator');
  // The answer is to whichever of our requests the operator co-signed (the one under way, or an earlier one).
  const asked = askedWithdrawals(record).find((e) => e.tx !== undefined && e.b_pubnonce !== undefined && parseTransaction(e.tx, 'the stored withdrawal').id === cos.txid && ownerNonceOf(e) === cos.owner_pubnonce) ?? w;
  const view: SendingRecord = { ...record, signing: { purpose: 'withdraw', tx: asked.tx!, pubnonce: ownerNonceOf(asked) } };
  const { st, tx } = checkPairWithdrawal(view, cos, view.signing!.pubnonce);
  const input = session(record, st.operator_share, [fromHex(asked.pubnonce, 'pubnonce', 66), fromHex(asked.b_pubnonce!, 'B\'s pubnonce', 66), fromHex(cos.operator_pubnonce, 'operator_pubnonce', 66)], coinSighash(tx));
  if (!partialVerify(input, 2, fromHex(cos.operator_psig, 'operator_psig', 32))) throw new RefusedError('E_BAD_PARTIAL_SIG', 'the operator\'s partial signature does not verify for this withdrawal');
  const secnonce = await ctx.nonces.take(input.pubnonces[0]!, nonceContext(record.coin_id, 'withdraw/part0', tx.id));
  const a = fromHex(record.share_secret, 'part', 32);
  const psig = partialSign(input, 0, secnonce, a);
  a.fill(0);
  const body = { type: 'statechain/joint-withdraw-sign', version: 1, network: ctx.network, coin_id: record.coin_id, cosigned: cos, a_pubnonce: asked.pubnonce, a_psig: toHex(psig) };
  const message = sign(body.type, body, 'part_sig', ctx);
  return { record: { ...finished(record), status: 'withdrawn' as const, statement: cos.statement, signing: null, joint_withdraw: { ...asked, answer: message } }, message };
}

/** B, withdrawal step 5: every partial signature checked, our nonce consumed, the signed withdrawal. */
export async function jointWithdrawFinish(record: SendingRecord, msg: Msg<typeof JointWithdrawSignSchema>, ctx: OwnerContext) {
  const w = record.joint_withdraw;
  if (record.status === 'withdrawn' && w?.answer) return { record, signed: w.answer as { txid: string; hex: string } };
  if (record.joint.index !== 1) throw new StateConflictError('E_WRONG_PART', 'this step is part B\'s; we are part A of the pair');
  if (record.status !== 'withdrawing' || !w) throw new StateConflictError('E_NOT_SIGNING', 'we gave no nonce for a withdrawal of this coin');
  if (msg.coin_id !== record.coin_id) throw new RefusedError('E_WRONG_COIN', `this is for coin ${msg.coin_id}`);
  requireSig(msg, 'part_sig', record.joint.parts[0]!.auth, 'A');
  const cos = msg.cosigned as Msg<typeof WithdrawCosignedSchema>;
  // Our consent the operator co-signed under (the one under way, or an earlier one).
  const asked = askedWithdrawals(record).find((e) => e.tx !== undefined && parseTransaction(e.tx, 'the stored withdrawal').id === cos.txid) ?? w;
  const ownerPubnonce = toHex(jointPubnonce([fromHex(msg.a_pubnonce, 'A\'s pubnonce', 66), fromHex(asked.pubnonce, 'pubnonce', 66)]));
  const view: SendingRecord = { ...record, signing: { purpose: 'withdraw', tx: asked.tx!, pubnonce: ownerPubnonce } };
  const { st, tx } = checkPairWithdrawal(view, cos, ownerPubnonce);
  const input = session(record, st.operator_share, [fromHex(msg.a_pubnonce, 'A\'s pubnonce', 66), fromHex(asked.pubnonce, 'pubnonce', 66), fromHex(cos.operator_pubnonce, 'operator_pubnonce', 66)], coinSighash(tx));
  const aPsig = fromHex(msg.a_psig, 'a_psig', 32);
  const operatorPsig = fromHex(cos.operator_psig, 'operator_psig', 32);
  if (!partialVerify(input, 0, aPsig)) throw new RefusedError('E_BAD_PARTIAL_SIG', 'A\'s partial signature does not verify for this withdrawal');
  if (!partialVerify(input, 2, operatorPsig)) throw new RefusedError('E_BAD_PARTIAL_SIG', 'the operator\'s partial signature does not verify for this withdrawal');
  const secnonce = await ctx.nonces.take(input.pubnonces[1]!, nonceContext(record.coin_id, 'withdraw/part1', tx.id));
  const b = fromHex(record.share_secret, 'part', 32);
  const bPsig = partialSign(input, 1, secnonce, b);
  b.fill(0);
  const done = finishSpend(tx, aggregate(input, [aPsig, bPsig, operatorPsig]));
  const signed = { txid: done.txid, hex: done.hex };
  return { record: { ...finished(record), status: 'withdrawn' as const, statement: cos.statement, signing: null, joint_withdraw: { ...asked, answer: signed } }, signed };
}

/** The pair's signed withdrawal as part B keeps it (E_NOT_SIGNED before B has signed). */
export function storedJointWithdrawal(record: SendingRecord): { txid: string; hex: string } {
  const answer = record.status === 'withdrawn' ? (record.joint_withdraw?.answer as { txid: string; hex: string } | undefined) : undefined;
  if (answer === undefined) throw new StateConflictError('E_NOT_SIGNED', `coin ${record.coin_id} has no signed withdrawal here (it is ${record.status}; part B prints it)`);
  return { txid: answer.txid, hex: answer.hex };
}
