/**
 * The user's payments (BRIEF §3.1, docs/credit.md "Paying"; docs/ecash.md): the next
 * state signed against the mint's announced nonce (with ecash, the NUT-13 outputs and
 * the user's signature binding them to the state), and the mint's receipt — every blind
 * signature verified before the token is written and the record moves on. A payment the
 * mint signed without its ecash is settled unpaid here and claimed in ecash-claim.ts.
 */
import { base64 } from '@scure/base';
import type { Static } from '@sinclair/typebox';
import { fromHex } from '../bytes.ts';
import { MalformedInputError, RefusedError, StateConflictError, UsageError, isOffchainError } from '../errors.ts';
import { serializePsbt } from '../psbt/parse.ts';
import type { UserContext, UserContractRecord } from './ports.ts';
import type { ReceiptSchema } from './schemas.ts';
import { userSignAgainst } from './signing.ts';
import type { CreditContract } from './terms.ts';
import { adoptKeyset, authorizeOutputs, makeOutputs, receiveSignatures, type BlindedMessageJson, type OutputsAuthorization } from './ecash.ts';
import { encodeTokenV4, type Proof } from '../ecash/token.ts';
import { buildState } from './transactions.ts';
import { checkAnswer } from './answer-signature.ts';
import { balanceMessage, checkCanSign, load, nextCounter, resendHint, walletSeed, type TokenSink } from './user.ts';

function refuse(code: string, message: string): never {
  throw new RefusedError(code, message);
}

/** A payment of `amount`: the next state, signed. Resent unchanged until its receipt arrives. */
export async function updateRequest(ctx: UserContext, id: string, amount: bigint): Promise<Record<string, unknown>> {
  if (amount <= 0n) throw new MalformedInputError('E_BAD_AMOUNT', 'the amount must be a positive number of satoshis');
  const { record, c } = await load(ctx, id);
  const cumulative = BigInt(record.confirmed.cumulative_sat) + amount;
  const resend = checkCanSign(record, 'update', (p) => BigInt(p.cumulative_sat) === cumulative, (p) => ` (cumulative ${p.cumulative_sat} sat)`);
  if (resend) return signedOutputsOnResend(ctx, record, resend);
  const state = record.confirmed.state + 1;
  let ecash = record.ecash;
  if (ecash?.unpaid) {
    refuse('E_ECASH_UNPAID', `the mint signed state ${ecash.unpaid.state} of contract ${c.id} (${ecash.unpaid.amount_sat} sat) but gave no ecash for your outputs: pay no more into it. Claim it (offchain credit ecash claim --start --contract ${c.id} | the mint's credit ecash restore | offchain credit ecash claim --token-out FILE), or close the contract (close-credit --role user --start) and keep the rest`);
  }
  let outputs;
  if (ecash) {
    // NUT-13: secrets and blinding factors at counter, counter+1, …; the counter moves on
    // with the request (never reused, even if this payment is abandoned). It is the
    // wallet's, not the contract's: past every counter any contract of this directory
    // used for the keyset (two contracts opened before either paid start equal).
    const counter = await nextCounter(ctx, ecash.keyset_id);
    outputs = makeOutputs(walletSeed(ctx), ecash.keyset_id, counter, amount);
    ecash = { ...ecash, counter: counter + outputs.length, pending_outputs: { counter, outputs } };
  }
  const tx = buildState(c, cumulative);
  userSignAgainst(tx, 0, ctx.user, c.mintPubkey, record.mint_nonce!);
  const body = { contract_id: c.id, state, amount_sat: Number(amount), cumulative_sat: Number(cumulative) };
  const request = {
    type: 'credit/update-request', version: 1, network: ctx.network, ...body, psbt: base64.encode(serializePsbt(tx)),
    ...(outputs ? { outputs, outputs_signature: signOutputs(ctx, { ...body, txid: tx.id, mint_pubnonce: fromHex(record.mint_nonce!.pubnonce, 'mint nonce', 66), outputs }) } : {}),
  };
  // Recorded before it leaves: from now on the mint may hold this state.
  await ctx.records.put({ ...record, pending: { kind: 'update', state, cumulative_sat: Number(cumulative), txid: tx.id, request }, ...(ecash ? { ecash } : {}) });
  return request;
}

/**
 * `sign-update --resend`: the amount of the payment still waiting for the mint's answer, so
 * that updateRequest returns its recorded request unchanged (the same bytes: nothing newly
 * signed, no second nonce asked for). Nothing pending: E_NOTHING_PENDING; a close or
 * rollover pending: E_PENDING, naming the command that resends it.
 */
export function pendingAmount(record: UserContractRecord): bigint {
  const p = record.pending;
  if (!p) throw new StateConflictError('E_NOTHING_PENDING', `contract ${record.contract_id} has no payment waiting for the mint's answer: nothing to resend (pay with --amount N)`);
  if (p.kind !== 'update') throw new StateConflictError('E_PENDING', `state ${p.state} of contract ${record.contract_id} is a ${p.kind}, not a payment: ${resendHint(p, record.contract_id)}`);
  return BigInt(p.cumulative_sat) - BigInt(record.confirmed.cumulative_sat);
}

/** `sign-update --resend`: the pending payment's request, as recorded (read and returned under one lock: never a new payment). */
export async function resendRequest(ctx: UserContext, id: string): Promise<Record<string, unknown>> {
  const { record } = await load(ctx, id);
  return updateRequest(ctx, id, pendingAmount(record));
}

/** The user's signature over a request's outputs, binding them to this state and mint nonce (ecash.ts, outputsDigest). */
function signOutputs(ctx: UserContext, a: OutputsAuthorization): string {
  return authorizeOutputs(ctx.user, a, ctx.random.bytes(32, 'credit/outputs/aux'));
}

/**
 * A pending update resent unchanged — but one recorded before requests carried the
 * user's signature over their outputs gets it now (same outputs, same state, same mint
 * nonce), so a mint that requires it signs the user's outputs and no one else's.
 */
async function signedOutputsOnResend(ctx: UserContext, record: UserContractRecord, request: Record<string, unknown>): Promise<Record<string, unknown>> {
  const r = request as { contract_id: string; state: number; amount_sat: number; cumulative_sat: number; outputs?: BlindedMessageJson[]; outputs_signature?: string };
  if (!r.outputs || r.outputs_signature !== undefined) return request;
  const p = record.pending!;
  const signed = { ...request, outputs_signature: signOutputs(ctx, { ...r, outputs: r.outputs, txid: p.txid, mint_pubnonce: fromHex(record.mint_nonce!.pubnonce, 'mint nonce', 66) }) };
  await ctx.records.put({ ...record, pending: { ...p, request: signed } });
  return signed;
}

/**
 * The mint's receipt: check it is the mint's (its signature over every member: a relay
 * cannot invent one, nor swap its next nonce) and for the state we signed, take its next nonce. With
 * ecash, every signature is verified (DLEQ) before anything is written; then the token
 * goes to `sink`, and only then the record moves on (a crash between the two leaves the
 * receipt pending: fed again, it writes the same token again). The last payment's
 * outputs are kept, so its receipt fed again after the record moved on (a token sent to
 * standard output and lost) is verified and written again too.
 */
export async function applyReceipt(ctx: UserContext, receipt: Static<typeof ReceiptSchema>, sink?: TokenSink): Promise<Record<string, unknown>> {
  const { record, c } = await load(ctx, receipt.contract_id);
  // The mint's own word, every member as it signed it, before anything is taken from it.
  checkAnswer(receipt, c.mintPubkey);
  const p = record.pending;
  const repeat = !p && record.confirmed.state === receipt.state && record.confirmed.cumulative_sat === receipt.cumulative_sat;
  if (!repeat) {
    if (!p || p.kind !== 'update' || p.state !== receipt.state) refuse('E_RECEIPT_MISMATCH', `no update for state ${receipt.state} is waiting for a receipt`);
    if (p.cumulative_sat !== receipt.cumulative_sat || p.txid !== receipt.txid) {
      refuse('E_RECEIPT_MISMATCH', `the receipt (cumulative ${receipt.cumulative_sat}, txid ${receipt.txid}) is not for the state this user signed`);
    }
    if (receipt.next_nonce.state !== receipt.state + 1) refuse('E_RECEIPT_MISMATCH', `the receipt's next nonce is for state ${receipt.next_nonce.state}, not ${receipt.state + 1}`);
    const updated: UserContractRecord = { ...record, confirmed: { state: receipt.state, cumulative_sat: receipt.cumulative_sat }, mint_nonce: receipt.next_nonce };
    delete updated.pending;
    let payment: { amount: number; proofs: number; token_out: string } | undefined;
    const e = record.ecash;
    if (e?.pending_outputs) {
      if (!sink) throw new UsageError('E_USAGE', 'this receipt carries ecash: pass --token-out FILE (a new 0600 file; "-" for standard output) to keep the token');
      let proofs: Proof[];
      try {
        proofs = receiveSignatures(walletSeed(ctx), e, e.pending_outputs, receipt.signatures);
      } catch (err) {
        if (!isOffchainError(err) || !UNPAID_CODES.includes(err.code)) throw err;
        // The mint's own answer to this user's abandon: it holds the state, so the state
        // stands; its ecash never came. Settled without it (ecash-claim.ts), not frozen.
        if (p!.abandon) return settleUnpaid(ctx, c, updated, e, p!.cumulative_sat - record.confirmed.cumulative_sat, receipt);
        throw new RefusedError(err.code, `${err.message}. This is the mint's own answer (its signature verifies: a resend gets it again); settle this payment without its ecash: offchain credit abandon --role user --start --contract ${c.id} | (mint) offchain credit abandon --role mint | offchain credit abandon --role user --token-out FILE`);
      }
      const { pending_outputs: _done, ...rest } = e;
      // The paid outputs stay until the next payment: the same receipt fed again writes the same token again.
      updated.ecash = { ...rest, issued_sat: e.issued_sat + p!.cumulative_sat - record.confirmed.cumulative_sat, last_outputs: { state: receipt.state, ...e.pending_outputs } };
      // The ecash mint rotated: the next payment's outputs use the keyset the receipt announces (checked against its id, before anything is written).
      if (receipt.next_keyset) updated.ecash = adoptKeyset(updated.ecash, receipt.next_keyset, { contractId: c.id, state: receipt.state, mintPubkey: c.mintPubkey });
      await sink.write(encodeTokenV4({ mint: e.mint_url, unit: e.unit, proofs }));
      payment = { amount: p!.cumulative_sat - record.confirmed.cumulative_sat, proofs: proofs.length, token_out: sink.path };
    } else if (receipt.signatures || receipt.next_keyset) refuse('E_RECEIPT_MISMATCH', 'the receipt carries blind signatures (or a keyset) for a request that had no outputs');
    await ctx.records.put(updated);
    return balanceMessage(ctx, c, updated, payment);
  }
  // A receipt applied before, fed again with somewhere to put its token: the token may
  // never have reached it (standard output lost, a crash after the record moved on).
  // Verified again as the first time, then written again; the record does not change.
  const last = record.ecash?.last_outputs;
  if (sink && last && last.state === receipt.state && receipt.signatures) {
    const e = record.ecash!;
    const proofs = receiveSignatures(walletSeed(ctx), e, last, receipt.signatures);
    await sink.write(encodeTokenV4({ mint: e.mint_url, unit: e.unit, proofs }));
    const amount = proofs.reduce((s, p) => s + Number(p.amount), 0);
    return balanceMessage(ctx, c, record, { amount, proofs: proofs.length, token_out: sink.path });
  }
  return balanceMessage(ctx, c, record);
}

/** What a receipt's ecash failing its checks is refused with: not this user's outputs, or not the offer's keys. */
const UNPAID_CODES = ['E_BAD_DLEQ', 'E_BAD_SIGNATURES'];

/**
 * A state the mint signed (its receipt, answered to the user's abandon) whose ecash is not
 * for this user's outputs — a mint that signed other outputs, or whose answer got its ecash
 * wrong (an answer changed on its way is refused before: E_RECEIPT_FORGED). The state stands (the mint holds it and can exit with it), so the record
 * moves on: confirmed, the receipt's next nonce taken, and the payment kept as unpaid —
 * its outputs (restorable if the mint did sign them: credit ecash claim) and its amount.
 * Until it is paid no further payment is signed into this contract (E_ECASH_UNPAID), so
 * a mint that keeps the ecash gains that one payment and no other; closing, rolling over
 * and the refund work as ever.
 */
async function settleUnpaid(ctx: UserContext, c: CreditContract, updated: UserContractRecord, e: NonNullable<UserContractRecord['ecash']>, amount: number, receipt: Static<typeof ReceiptSchema>): Promise<Record<string, unknown>> {
  const { pending_outputs: outputs, last_outputs: _last, ...rest } = e;
  let ecash: NonNullable<UserContractRecord['ecash']> = { ...rest, unpaid: { state: receipt.state, amount_sat: amount, ...outputs! } };
  // The state stands, so does the keyset the mint announced with it (signed for this contract and state):
  // the claim checks the unpaid outputs under their own keyset (kept as the previous one), the payments after it use the new one.
  if (receipt.next_keyset) ecash = adoptKeyset(ecash, receipt.next_keyset, { contractId: c.id, state: receipt.state, mintPubkey: c.mintPubkey });
  const settled: UserContractRecord = { ...updated, ecash };
  await ctx.records.put(settled);
  return balanceMessage(ctx, c, settled);
}
