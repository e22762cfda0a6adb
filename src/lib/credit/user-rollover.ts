/**
 * The user's rollover (BRIEF §3.1, docs/credit.md "Rolling over"), in two rounds so
 * the user holds the next contract's verified refund before it signs anything that moves
 * its funds: round 1 proposes the rollover (its transaction unsigned; the request signed
 * by the user's key, request-signature.ts) and the next refund with the user's nonce; round 2 completes that refund, then signs the rollover; the mint's accept opens
 * the next contract.
 */
import { base64 } from '@scure/base';
import type { Static } from '@sinclair/typebox';
import { schnorr } from '@noble/curves/secp256k1.js';
import { toHex } from '../bytes.ts';
import { RefusedError, StateConflictError } from '../errors.ts';
import { parsePsbtBase64, serializePsbt } from '../psbt/parse.ts';
import { keyPathSighash } from '../taproot/taproot.ts';
import { termsToJson } from './codec.ts';
import type { UserContext, UserContractRecord } from './ports.ts';
import type { RolloverAcceptSchema, RolloverRefundSchema } from './schemas.ts';
import { userSignAgainst } from './signing.ts';
import { makeContract } from './terms.ts';
import { NO_TOP_UP, buildRollover, rolloverTxid, type TopUp } from './transactions.ts';
import { abandonHint, checkCanSign, checkExpiryHeight, load, nextCounter, type Pending } from './user.ts';
import { checkFirstNonce, completeRefund, putOrBurn, refundRequest } from './user-refund.ts';
import { checkAnswer } from './answer-signature.ts';
import { signRequest } from './request-signature.ts';

function refuse(code: string, message: string): never {
  throw new RefusedError(code, message);
}

export type RolloverParams = { expiryHeight: number; feeRate: number; topUp?: TopUp };

/**
 * Rollover, round 1: propose the rollover (its transaction unsigned) and the next contract's
 * refund with the user's nonce, in a request the user's key signs. The user signs the rollover only in round 2, once that refund is
 * complete and verified.
 */
export async function rolloverRequest(ctx: UserContext, id: string, p: RolloverParams): Promise<Record<string, unknown>> {
  const { record, c } = await load(ctx, id);
  const state = record.confirmed.state + 1;
  const cumulative = BigInt(record.confirmed.cumulative_sat);
  // Built first, to tell a resend (the same rollover) from a different one.
  let built = buildRollover(c, cumulative, c.script, p.feeRate, p.topUp ?? NO_TOP_UP);
  // A rollover abandoned after its round 1 may have had its next refund co-signed on its
  // output: one more sat of fee gives this one another txid, so another outpoint.
  for (let extra = 1n; record.abandoned_rollovers?.includes(rolloverTxid(built.tx)); extra++) built = buildRollover(c, cumulative, c.script, p.feeRate, p.topUp ?? NO_TOP_UP, extra);
  const { tx, newCapacity, vout } = built;
  const txid = rolloverTxid(tx);
  const sameRollover = (q: Pending) => {
    const r = q.request as { new_contract?: { expiry_height: number } };
    // Round 2 sent: the proposal is fixed; its expiry is in the next contract's record.
    return q.txid === txid && (r.new_contract === undefined || r.new_contract.expiry_height === p.expiryHeight);
  };
  const resend = checkCanSign(record, 'rollover', sameRollover, (q) => ` (rollover ${q.txid}${(q.request as { new_contract?: { expiry_height: number } }).new_contract ? `, expiry ${(q.request as { new_contract: { expiry_height: number } }).new_contract.expiry_height}: --expiry with that height resends it` : ''})`);
  if (resend) {
    if (resend.type === 'credit/rollover-sign') {
      const next = await ctx.records.get(record.pending!.new_contract_id!);
      if (next && next.contract.expiry_height !== p.expiryHeight) {
        throw new StateConflictError('E_PENDING', `state ${state} (rollover) is still waiting for the mint's answer (signed, expiry ${next.contract.expiry_height}): run it again with --expiry ${next.contract.expiry_height} to resend it; ${abandonHint(c.id)}`);
      }
    }
    // One stored by a toolkit older than signed requests: signed now (deterministically), as the mint needs it.
    return resend.type === 'credit/rollover-request' && resend.user_signature === undefined ? signedRoundOne(ctx, record, resend) : resend;
  }
  checkExpiryHeight(p.expiryHeight, (await ctx.chain.tip()).height, record.expiry_window);
  const next = makeContract({ ...c, capacity: newCapacity, funding: { txid, vout }, expiryHeight: p.expiryHeight, feeRate: c.feeRate });
  const request = signedRoundOne(ctx, record, {
    type: 'credit/rollover-request', version: 1, network: ctx.network, contract_id: c.id, state, cumulative_sat: Number(cumulative),
    fee_rate: p.feeRate, new_contract_id: next.id, new_contract: termsToJson(next), rollover_psbt: base64.encode(serializePsbt(tx)),
    refund_psbt: await refundRequest(ctx, next),
  });
  const nextRecord: UserContractRecord = {
    contract_id: next.id, network: ctx.network, contract: termsToJson(next), status: 'opening', funding_psbt: request.rollover_psbt,
    confirmed: { state: 0, cumulative_sat: 0 }, previous_contract_id: c.id,
  };
  if (record.expiry_window) nextRecord.expiry_window = record.expiry_window;
  if (record.ecash) {
    const { pending_outputs: _p, last_outputs: _l, ...e } = record.ecash;
    nextRecord.ecash = { ...e, counter: await nextCounter(ctx, e.keyset_id), issued_sat: 0 };
  }
  await putOrBurn(ctx, next, request.refund_psbt, nextRecord);
  await ctx.records.put({ ...record, pending: { kind: 'rollover', state, cumulative_sat: Number(cumulative), txid, request, new_contract_id: next.id } });
  return request;
}

/**
 * Round 1 as it leaves: for the state of the mint nonce the user signs it against (its record's, which
 * checkCanSign made sure is this state's), signed by the user's key (request-signature.ts) — the mint
 * answers no one else, and no older round 1 once that nonce is used.
 */
function signedRoundOne<T extends Record<string, unknown>>(ctx: UserContext, record: UserContractRecord, request: T): T & { mint_pubnonce: string } {
  return signRequest({ ...request, mint_pubnonce: record.mint_nonce!.pubnonce }, ctx.user);
}

function pendingRollover(record: UserContractRecord, newId: string): NonNullable<UserContractRecord['pending']> {
  const p = record.pending;
  if (!p || p.kind !== 'rollover' || p.new_contract_id !== newId) refuse('E_RECEIPT_MISMATCH', `no rollover of contract ${record.contract_id} to ${newId} is waiting`);
  return p;
}

/**
 * Rollover, round 2: complete and verify the next contract's refund; only then sign the
 * rollover (BIP-327 DeterministicSign against the mint's announced nonce).
 */
export async function rolloverSign(ctx: UserContext, msg: Static<typeof RolloverRefundSchema>): Promise<Record<string, unknown>> {
  const { record, c } = await load(ctx, msg.contract_id);
  const p = pendingRollover(record, msg.new_contract_id);
  if (p.abandon) throw new StateConflictError('E_PENDING', `the rollover of state ${p.state} is being abandoned: feed the mint's answer to the credit/abandon to "offchain credit abandon --role user"; it is not signed now`);
  const { record: nextRecord, c: next } = await load(ctx, msg.new_contract_id);
  if (!nextRecord.refund) {
    const refund = await completeRefund(ctx, next, msg.refund_psbt);
    await ctx.records.put({ ...nextRecord, refund });
  }
  const tx = parsePsbtBase64((p.request as { rollover_psbt: string }).rollover_psbt, 'rollover_psbt');
  if (rolloverTxid(tx) !== p.txid) throw new Error('stored rollover does not match its txid');
  userSignAgainst(tx, 0, ctx.user, c.mintPubkey, record.mint_nonce!);
  const sign = {
    type: 'credit/rollover-sign', version: 1, network: ctx.network, contract_id: c.id, state: p.state, new_contract_id: next.id,
    rollover_psbt: base64.encode(serializePsbt(tx)),
  };
  // From now on the mint can complete the rollover: resend this, not round 1.
  await ctx.records.put({ ...record, pending: { ...p, request: sign } });
  return sign;
}

/** The mint completed the rollover input: verify it, and the next contract is open. */
export async function applyRolloverAccept(ctx: UserContext, accept: Static<typeof RolloverAcceptSchema>): Promise<Record<string, unknown>> {
  const { record, c } = await load(ctx, accept.contract_id);
  // Its next nonce is the next contract's first: the mint's, signed, or that contract could never be paid.
  checkAnswer(accept, c.mintPubkey);
  const p = pendingRollover(record, accept.new_contract_id);
  const { record: nextRecord, c: next } = await load(ctx, accept.new_contract_id);
  checkFirstNonce(accept.next_nonce);
  if (!nextRecord.refund) refuse('E_RECEIPT_MISMATCH', 'the next contract\'s refund is not complete: feed the credit/rollover-refund first');
  const rollover = parsePsbtBase64(accept.rollover_psbt, 'rollover_psbt');
  if (rolloverTxid(rollover) !== p.txid) refuse('E_RECEIPT_MISMATCH', `the returned rollover ${rolloverTxid(rollover)} is not the one this user signed (${p.txid})`);
  const sig = rollover.getInput(0).tapKeySig;
  if (!sig || !schnorr.verify(sig, keyPathSighash(rollover, 0), c.key.output.outputKey)) refuse('E_BAD_SIGNATURE', 'the rollover\'s contract input is not validly signed');
  rollover.finalizeIdx(0);
  const complete = rollover.inputsLength === 1;
  const rolled = { ...record, status: 'rolled-over' as const };
  delete rolled.pending;
  await ctx.records.put({ ...nextRecord, status: 'open', mint_nonce: accept.next_nonce });
  await ctx.records.put(rolled);
  return {
    type: 'credit/rolled-over', version: 1, network: ctx.network, contract_id: c.id, new_contract_id: next.id,
    refund: { ...nextRecord.refund, final_from_height: next.expiryHeight + 1 },
    rollover: { txid: p.txid, complete, psbt: base64.encode(serializePsbt(rollover)), hex: complete ? toHex(rollover.extract()) : undefined },
  };
}
