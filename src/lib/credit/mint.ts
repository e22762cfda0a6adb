/**
 * The mint's side of the credit contract (BRIEF §3.1): co-sign the refund, accept
 * payments, cooperate in close and rollover — checking everything it signs — and keep
 * the one latest fully signed state it can exit with. The mint never hands the user its
 * partial or final signature for an update (the user could broadcast an old, cheaper
 * state). Each step takes the decoded request and returns the response message; every
 * durable effect goes through the ports (records, nonces) in the order safety needs:
 * nonce consumed → signature made → state stored → response returned. Every answer
 * that moves the user's record is signed by the mint's key (answer-signature.ts), and so
 * is one stored unsigned by an older toolkit when it is given again.
 *
 * INVARIANTS (issue 72: a refusal tells only the contract's user anything of the contract)
 * - Every request is the user's before a rule reads the contract's state: an update's, a
 *   close's and round 2's by the user's partial signature on the contract input (signing.ts
 *   checkUserSigned), round 1's by the user's signature over the whole request
 *   (request-signature.ts, E_REQUEST_UNSIGNED). Only the contract's existence, network and
 *   terms are read before.
 * - Every request is for the state of the mint nonce it is signed against (signing.ts
 *   checkStateNonce, reads only): a signature covers the transaction or the request, so a relay
 *   holding one signed request may replay it but not move it to another state. A request whose
 *   nonce is used gets the stored answer if it is the very request signed (same state and
 *   transaction), E_NONCE_USED otherwise; one whose nonce was issued for another state or
 *   never is refused (E_NONCE_MISBOUND, E_NONCE_UNKNOWN). These refusals name only the
 *   request: no state number, amount or other contract of the mint's.
 * - An update's transaction is checked against the request's own amount before that amount
 *   meets the contract's (previous total, next state).
 */
import { base64 } from '@scure/base';
import type { Static } from '@sinclair/typebox';
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import { MalformedInputError, RefusedError, StateConflictError, UsageError, isOffchainError } from '../errors.ts';
import type { Network } from '../network.ts';
import { readMusigInput } from '../musig/psbt-keypath.ts';
import { decodeAddress } from '../address.ts';
import { parsePsbtBase64, serializePsbt } from '../psbt/parse.ts';
import { txidOf } from '../psbt/views.ts';
import type { Transaction } from '@scure/btc-signer';
import { termsFromJson } from './codec.ts';
import type { MintContext, MintContractRecord, MintPolicy, ReceiptJson } from './ports.ts';
import { checkClose, checkFunding, checkRefund, checkRollover, checkState } from './rules.ts';
import { checkOutputs, ecashOffer, signOutputs } from './ecash.ts';
import { signAnnouncement } from './ecash-announce.ts';
import { signAnswer, signedAgain } from './answer-signature.ts';
import { rolloverTxid } from './transactions.ts';
import type {
  CloseRequestSchema, OpenRequestSchema, RolloverRequestSchema, RolloverSignSchema, UpdateRequestSchema,
} from './schemas.ts';
import {
  checkStateNonce, checkUserSigned, issueStateNonce, mintComplete, mintCosignRefund, mintPubnonceOf, readUpdateEarly, refuseSpent, signedKeyPathTx, stateNonceContext,
} from './signing.ts';
import { checkRequestSigned } from './request-signature.ts';
import type { CreditContract } from './terms.ts';

type OpenRequest = Static<typeof OpenRequestSchema>;
type UpdateRequest = Static<typeof UpdateRequestSchema>;
type CloseRequest = Static<typeof CloseRequestSchema>;
type RolloverRequest = Static<typeof RolloverRequestSchema>;
type RolloverSign = Static<typeof RolloverSignSchema>;

function refuse(code: string, message: string): never {
  throw new RefusedError(code, message);
}

/** The terms a mint accepts are its own key, its payout address and its fee floor. */
function checkTermsAgainstPolicy(c: CreditContract, claimedId: string, ctx: MintContext): void {
  if (c.id !== claimedId) refuse('E_CONTRACT_ID_MISMATCH', `contract_id ${claimedId} does not match the terms (they hash to ${c.id})`);
  if (!equalBytes(c.mintPubkey, ctx.mint.publicKey)) refuse('E_WRONG_CONTRACT', `the terms name mint key ${toHex(c.mintPubkey)}, not this mint's key`);
  if (!equalBytes(c.payoutScript, decodeAddress(ctx.policy.payout_address, ctx.network, 'payout_address'))) refuse('E_WRONG_PAYOUT', 'the terms pay the mint to an address that is not its payout address');
  if (c.feeRate < ctx.policy.min_fee_rate) refuse('E_FEE_TOO_LOW', `fee rate ${c.feeRate} sat/vB is under the mint's floor of ${ctx.policy.min_fee_rate} sat/vB`);
}

/**
 * Unfunded opens cost the mint state but their opener nothing, so they expire: an open
 * never paid whose funding the chain does not show a week after it was accepted is
 * forgotten (its outpoint stays bound: the mint never signs a second refund for it,
 * though the same terms may open again). Each open looks at a few of the oldest, so
 * its cost does not grow with the number of contracts.
 */
export const UNFUNDED_OPEN_EXPIRY_BLOCKS = 1008;
const EXPIRE_PER_OPEN = 4;

async function expireUnfundedOpens(ctx: MintContext, tip: number): Promise<void> {
  for (const listed of await ctx.records.unfundedOpens(tip - UNFUNDED_OPEN_EXPIRY_BLOCKS + 1, EXPIRE_PER_OPEN)) {
    // Read again, locked for this step (on PostgreSQL the list is a plain read): a first payment
    // another process served since must be neither forgotten nor written back unpaid.
    const r = await ctx.records.get(listed.contract_id);
    if (!r || r.status !== 'open' || r.latest || r.funding_seen) continue;
    const f = r.contract.funding;
    let seen: boolean;
    try {
      seen = (await ctx.chain.utxo(f.txid, f.vout)) !== null;
    } catch (e) {
      // Offline, the chain may not know: then nothing expires (never on a guess), and the open goes on.
      if (isOffchainError(e) && e.code === 'E_CHAIN_UNKNOWN') return;
      throw e;
    }
    if (seen) await ctx.records.put({ ...r, funding_seen: true });
    else await ctx.records.remove(r.contract_id);
  }
}

async function checkExpiryWindow(c: CreditContract, ctx: MintContext): Promise<number> {
  const tip = (await ctx.chain.tip()).height;
  const blocks = c.expiryHeight - tip;
  if (blocks < ctx.policy.min_expiry_blocks || blocks > ctx.policy.max_expiry_blocks) {
    refuse('E_BAD_EXPIRY', `expiry ${c.expiryHeight} is ${blocks} blocks from the tip ${tip}; this mint opens contracts of ${ctx.policy.min_expiry_blocks}–${ctx.policy.max_expiry_blocks} blocks`);
  }
  return tip;
}

const outpointOf = (o: { txid: string; vout: number }) => `${o.txid}:${o.vout}`;

/**
 * One funding outpoint, one contract: the mint co-signs a refund for an outpoint at
 * most once. Two contracts on one output would each get a refund and a payment
 * history while only one of them can ever be paid out.
 */
async function checkOutpointFree(ctx: MintContext, c: CreditContract): Promise<void> {
  const outpoint = outpointOf(c.funding);
  const owner = await ctx.funding.fundingOwner(outpoint);
  if (!owner) return;
  // The same terms again after their unfunded open expired: the same refund, no second contract.
  if (owner.kind === 'open' && owner.contract_id === c.id) return;
  if (owner.kind === 'rollover') {
    refuse('E_FUNDING_IN_USE', `funding outpoint ${outpoint} is the output of a rollover of contract ${owner.from_contract_id} into contract ${owner.contract_id}: one outpoint carries one contract`);
  }
  refuse('E_FUNDING_IN_USE', `funding outpoint ${outpoint} already funds contract ${owner.contract_id}: one outpoint carries one contract`);
}

/** A funding that spends one of this mint's contract outputs is a rollover in disguise. */
async function checkFundingSpendsNoContract(ctx: MintContext, funding: Transaction): Promise<void> {
  for (let i = 0; i < funding.inputsLength; i++) {
    const input = funding.getInput(i);
    const outpoint = `${toHex(input.txid!)}:${input.index}`;
    const owner = await ctx.funding.fundingOwner(outpoint);
    if (owner) refuse('E_FUNDING_SPENDS_CONTRACT', `funding input ${i} spends ${outpoint}, the funding of contract ${owner.contract_id}: a contract's output moves only by close or rollover`);
  }
}

/** Open: check the terms, the funding PSBT and the refund, co-sign the refund. */
export async function acceptOpen(ctx: MintContext, req: OpenRequest): Promise<Record<string, unknown>> {
  const c = termsFromJson(req.contract, ctx.network);
  checkTermsAgainstPolicy(c, req.contract_id, ctx);
  const existing = await ctx.records.get(c.id);
  if (existing) {
    // A retried open-request gets the same answer; anything else is a conflict.
    if (existing.status === 'open' && !existing.latest && JSON.stringify(existing.contract) === JSON.stringify(req.contract)) return signedAgain(existing.open_accept, ctx.mint);
    throw new StateConflictError('E_CONTRACT_EXISTS', `contract ${c.id} is already open at this mint`);
  }
  await checkOutpointFree(ctx, c);
  const tip = await checkExpiryWindow(c, ctx);
  const funding = parsePsbtBase64(req.funding_psbt, 'funding_psbt');
  checkFunding(funding, c);
  await checkFundingSpendsNoContract(ctx, funding);
  const refund = parsePsbtBase64(req.refund_psbt, 'refund_psbt');
  checkRefund(refund, c);
  mintCosignRefund(refund, ctx.mint, c.userPubkey);
  const nextNonce = await issueStateNonce(ctx.nonces, ctx.random, ctx.mint, c, 1);
  const accept = signAnswer({
    type: 'credit/open-accept',
    version: 1,
    network: ctx.network,
    contract_id: c.id,
    refund_psbt: base64.encode(serializePsbt(refund)),
    next_nonce: nextNonce,
  }, ctx.mint);
  await expireUnfundedOpens(ctx, tip);
  await ctx.funding.bindFunding(outpointOf(c.funding), { contract_id: c.id, kind: 'open' });
  await ctx.records.put({ contract_id: c.id, network: ctx.network, contract: req.contract, status: 'open', next_state: 1, open_accept: accept, opened_at_height: tip });
  return accept;
}

/**
 * The contract a request names, with the terms its record holds now. Those terms must be the
 * ones its id commits to: a record whose terms a writer of the mint's database changed under
 * the same id is E_STATE_CORRUPT, and nothing is signed under it. (termsFromJson hashes each
 * distinct terms text once and keeps the result by that text: the check costs a comparison.)
 */
async function loadOpen(ctx: MintContext, id: string, network: string, nonce?: Uint8Array): Promise<{ record: MintContractRecord; c: CreditContract }> {
  const record = await ctx.records.get(id, nonce);
  if (!record) refuse('E_UNKNOWN_CONTRACT', `this mint has no contract ${id}`);
  if (record.network !== network) refuse('E_NETWORK_MISMATCH', `contract ${id} is on ${record.network}`);
  let c: CreditContract;
  try {
    c = termsFromJson(record.contract, record.network);
  } catch (e) {
    if (!isOffchainError(e)) throw e;
    throw new MalformedInputError('E_STATE_CORRUPT', `the mint's record of contract ${id} holds terms that are not a contract's: ${e.message}; nothing is signed under it; check who writes the mint's database`);
  }
  if (c.id !== id) {
    throw new MalformedInputError('E_STATE_CORRUPT', `the mint's record of contract ${id} holds terms that hash to ${c.id}: not a record this mint wrote as it stands, so nothing is signed under it; check who writes the mint's database`);
  }
  return { record, c };
}

function checkNotFrozen(record: MintContractRecord): void {
  if (record.exiting) {
    refuse('E_CONTRACT_FROZEN', `contract ${record.contract_id} is frozen: the mint is exiting it with its state ${record.exiting.state}`);
  }
  if (record.settlement) {
    refuse('E_CONTRACT_FROZEN', `contract ${record.contract_id} is frozen: the mint signed a ${record.settlement.kind} at state ${record.settlement.state}`);
  }
}

function checkStateNumber(record: MintContractRecord, state: number): void {
  if (state !== record.next_state) {
    throw new StateConflictError('E_STALE_STATE', `state ${state} is not the next state of contract ${record.contract_id} (expected ${record.next_state})`);
  }
}

/** Chain facts every payment depends on: the funding is there, confirmed, and expiry is not near. */
/** Chain facts before co-signing a state: not within the safety margin of expiry, funding confirmed (also the IoT gateway's, src/lib/device/). */
export async function checkChain(ctx: Pick<MintContext, 'chain'> & { policy: Pick<MintPolicy, 'safety_margin_blocks' | 'min_confirmations'> }, c: CreditContract): Promise<void> {
  const tip = (await ctx.chain.tip()).height;
  const margin = ctx.policy.safety_margin_blocks;
  if (c.expiryHeight - tip <= margin) {
    refuse('E_TOO_CLOSE_TO_EXPIRY', `contract expires at ${c.expiryHeight}, ${c.expiryHeight - tip} blocks from the tip ${tip}: within the ${margin}-block safety margin the mint only exits`);
  }
  const utxo = await ctx.chain.utxo(c.funding.txid, c.funding.vout);
  if (!utxo) refuse('E_FUNDING_MISSING', `the funding output ${c.funding.txid}:${c.funding.vout} is not an unspent output on chain`);
  if (utxo.value !== c.capacity || !equalBytes(utxo.scriptPubKey, c.script)) refuse('E_FUNDING_MISMATCH', 'the funding output on chain does not pay the contract its capacity');
  if (utxo.confirmations < ctx.policy.min_confirmations) {
    refuse('E_FUNDING_UNCONFIRMED', `the funding has ${utxo.confirmations} confirmations; the mint waits for ${ctx.policy.min_confirmations}`);
  }
}

/** A payment: check the next state, co-sign it, store it fully signed, answer with a receipt. */
export async function acceptUpdate(ctx: MintContext, req: UpdateRequest): Promise<ReceiptJson> {
  // The PSBT read first, so the store may read the mint nonce it names with the contract (one
  // PostgreSQL round trip less); a part that fails is read again where it stood, so the
  // refusals keep their order (the contract's first).
  const early = readUpdateEarly(req.psbt, ctx.mint.publicKey);
  const { record, c } = await loadOpen(ctx, req.contract_id, req.network, early.mintPubnonce);
  const tx = early.tx ?? parsePsbtBase64(req.psbt, 'psbt');
  // The user's request, before a word about the contract (signing.ts checkUserSigned).
  const input = early.input ?? readMusigInput(tx, 0); // contract key, sighash type
  checkUserSigned(input, ctx.mint.publicKey, c.userPubkey);
  // Signed against the nonce of the state it names (a replayed request's `state` edited is refused here, signing.ts).
  const mintPubnonce = early.mintPubnonce ?? mintPubnonceOf(input, ctx.mint.publicKey);
  if (await checkStateNonce(ctx.nonces, mintPubnonce, c.id, req.state) === 'spent') {
    // Idempotent retry: the same request again gets the stored receipt, never an error.
    const l = record.latest;
    if (l && req.state === l.state && tx.id === l.txid && req.cumulative_sat === l.cumulative_sat) return signedAgain(l.receipt, ctx.mint);
    refuseSpent(c.id);
  }
  // The transaction is the one the request's amount describes, before that amount meets the contract's.
  const cumulative = BigInt(req.cumulative_sat);
  checkState(tx, c, cumulative, ctx.policy.min_fee_rate);
  if (record.gateway) refuse('E_DEVICE_CHANNEL', `contract ${record.contract_id} is a device channel: its payments go through "gateway pay" (the states would diverge)`);
  if (record.latest && req.state <= record.latest.state) {
    // A live nonce for a settled state: only a writer of the mint's database makes one.
    throw new StateConflictError('E_STALE_STATE', `state ${req.state} of contract ${c.id} is already settled (latest is ${record.latest.state})`);
  }
  checkNotFrozen(record);
  checkStateNumber(record, req.state);
  const previous = BigInt(record.latest?.cumulative_sat ?? 0);
  if (cumulative <= previous) refuse('E_AMOUNT_NOT_INCREASING', `cumulative ${cumulative} sat does not exceed the previous ${previous} sat`);
  if (cumulative - previous !== BigInt(req.amount_sat)) refuse('E_AMOUNT_MISMATCH', `amount_sat ${req.amount_sat} is not cumulative minus previous (${cumulative - previous})`);
  await checkChain(ctx, c);
  // Ecash outputs are checked before the nonce is taken: a refusal leaves it unused.
  if (ctx.policy.ecash && !ctx.ecash) throw new UsageError('E_NO_ECASH_SEED', 'this mint issues ecash: pass its seed with --ecash-seed-env NAME or --ecash-seed-file FILE');
  // The keyset: the ecash mint's active one, or the one this contract was told of last (src/lib/credit/ecash-keysets.ts).
  const keysets = ctx.ecash ? await ctx.ecash.signer.forRequest(record.latest?.receipt, req.outputs) : undefined;
  // The outputs are the user's: its signature over them, this state's txid and the mint nonce it signs against (ecash.ts).
  // The txid only when the outputs are checked against it (a mint without ecash never reads it), from the unsigned bytes (btc-signer's tx.id re-encodes through its coder).
  const binding = { userPubkey: c.userPubkey, mintPubnonce, get txid() { return txidOf(tx); } };
  const points = await checkOutputs(keysets ? { ecash: { ...ctx.ecash!, keyset: keysets.keyset } } : ctx, req, binding);
  const signed = signedKeyPathTx(tx, await mintComplete(tx, input, ctx.mint, c.userPubkey, ctx.nonces, stateNonceContext(c.id, req.state)));
  const signatures = points ? signOutputs(keysets!.keyset, req.outputs!, points) : undefined;
  const receipt: ReceiptJson = signAnswer<ReceiptJson>({
    type: 'credit/receipt',
    version: 1,
    network: ctx.network,
    contract_id: c.id,
    state: req.state,
    amount_sat: req.amount_sat,
    cumulative_sat: req.cumulative_sat,
    txid: signed.txid,
    next_nonce: await issueStateNonce(ctx.nonces, ctx.random, ctx.mint, c, req.state + 1),
    ...(signatures ? { signatures } : {}),
    ...(signatures && keysets?.announce ? { next_keyset: signAnnouncement(keysets.announce, c.id, req.state, ctx.mint.secretKey, ctx.random.bytes(32, 'next-keyset')) } : {}),
  }, ctx.mint);
  // Same transaction as the state: signatures exist only for stored states (B_ unique in the table).
  if (signatures) await ctx.ecash!.signatures.recordBlindSignatures(c.id, req.state, req.outputs!.map((o, i) => ({ B_: o.B_, keyset_id: o.id, amount: o.amount, C_: signatures[i]!.C_ })));
  const issued = signatures ? (record.ecash_issued_sat ?? 0) + req.amount_sat : record.ecash_issued_sat;
  await ctx.records.put({
    ...record, next_state: req.state + 1, latest: { state: req.state, cumulative_sat: req.cumulative_sat, txid: signed.txid, hex: signed.hex, receipt },
    ...(issued !== undefined ? { ecash_issued_sat: issued } : {}),
  });
  return receipt;
}

/** The stored answer to the very close or rollover signed (kind, state and transaction), given again; else refuseSpent: its nonce is used. */
function retriedSettlement(ctx: MintContext, record: MintContractRecord, kind: 'close' | 'rollover', state: number, txid: string): Record<string, unknown> {
  const s = record.settlement;
  if (s && s.kind === kind && s.state === state && s.txid === txid) return signedAgain(s.response, ctx.mint);
  refuseSpent(record.contract_id);
}

/** Cooperative close: the mint is paid at least its latest amount; the contract freezes. */
export async function acceptClose(ctx: MintContext, req: CloseRequest): Promise<Record<string, unknown>> {
  const { record, c } = await loadOpen(ctx, req.contract_id, req.network);
  const tx = parsePsbtBase64(req.psbt, 'psbt');
  // The user's request, before a word about the contract (signing.ts checkUserSigned).
  const input = readMusigInput(tx, 0);
  checkUserSigned(input, ctx.mint.publicKey, c.userPubkey);
  if (await checkStateNonce(ctx.nonces, mintPubnonceOf(input, ctx.mint.publicKey), c.id, req.state) === 'spent') return retriedSettlement(ctx, record, 'close', req.state, tx.id);
  checkNotFrozen(record);
  if (record.gateway?.in_flight) refuse('E_HTLC_IN_FLIGHT', `payment ${record.gateway.in_flight.payment_hash} is in flight on this device channel: settle or fail it first`);
  checkStateNumber(record, req.state);
  const paid = checkClose(tx, c, BigInt(record.latest?.cumulative_sat ?? 0), ctx.policy.min_fee_rate);
  if (paid !== BigInt(req.cumulative_sat)) refuse('E_AMOUNT_MISMATCH', `cumulative_sat ${req.cumulative_sat} is not what the close pays the mint (${paid})`);
  const signed = signedKeyPathTx(tx, await mintComplete(tx, input, ctx.mint, c.userPubkey, ctx.nonces, stateNonceContext(c.id, req.state)));
  const response = signAnswer({ type: 'credit/closed', version: 1, network: ctx.network, contract_id: c.id, cumulative_sat: req.cumulative_sat, txid: signed.txid, hex: signed.hex }, ctx.mint);
  // The latest state stays: the mint still exits with it if the close never confirms.
  await ctx.records.put({ ...record, status: 'closing', next_state: req.state + 1, settlement: { kind: 'close', state: req.state, txid: signed.txid, response } });
  return response;
}

/** Everything a rollover must satisfy, checked in both rounds (nothing may have changed between). */
async function checkRolloverProposal(ctx: MintContext, record: MintContractRecord, c: CreditContract, state: number, rolloverPsbt: string, newTerms: RolloverRequest['new_contract'], newId: string, cumulativeClaim?: number) {
  checkNotFrozen(record);
  if (record.gateway?.in_flight) refuse('E_HTLC_IN_FLIGHT', `payment ${record.gateway.in_flight.payment_hash} is in flight on this device channel: settle or fail it first`);
  checkStateNumber(record, state);
  const next = termsFromJson(newTerms, ctx.network);
  checkTermsAgainstPolicy(next, newId, ctx);
  if (!equalBytes(next.userPubkey, c.userPubkey)) refuse('E_WRONG_CONTRACT', 'the next contract must be with the same user key');
  if (await ctx.records.get(next.id)) throw new StateConflictError('E_CONTRACT_EXISTS', `contract ${next.id} already exists at this mint`);
  const owner = await ctx.funding.fundingOwner(outpointOf(next.funding));
  if (owner && !(owner.kind === 'rollover' && owner.contract_id === next.id && owner.from_contract_id === c.id)) await checkOutpointFree(ctx, next);
  await checkExpiryWindow(next, ctx);
  const tx = parsePsbtBase64(rolloverPsbt, 'rollover_psbt');
  checkRollover(tx, c, BigInt(record.latest?.cumulative_sat ?? 0), next, ctx.policy.min_fee_rate);
  const paid = next.funding.vout === 1 ? tx.getOutput(0).amount! : 0n;
  if (cumulativeClaim !== undefined && paid !== BigInt(cumulativeClaim)) {
    refuse('E_AMOUNT_MISMATCH', `cumulative_sat ${cumulativeClaim} is not what the rollover pays the mint (${paid})`);
  }
  return { next, tx, input: readMusigInput(tx, 0) };
}

/**
 * Rollover, round 1: check the proposed rollover and the next contract's terms, and
 * co-sign only the next contract's refund. The user signs the rollover only once it
 * holds that refund, verified (round 2): it must never sign away its funds into a
 * contract it cannot exit from.
 */
export async function proposeRollover(ctx: MintContext, req: RolloverRequest): Promise<Record<string, unknown>> {
  const { record, c } = await loadOpen(ctx, req.contract_id, req.network);
  // The user's request, before a word about the contract (request-signature.ts), for the state of its nonce.
  checkRequestSigned(req, c.userPubkey);
  const pubnonce = fromHex(req.mint_pubnonce ?? '', 'mint_pubnonce', 66);
  if (await checkStateNonce(ctx.nonces, pubnonce, c.id, req.state) === 'spent') {
    return retriedSettlement(ctx, record, 'rollover', req.state, rolloverTxid(parsePsbtBase64(req.rollover_psbt, 'rollover_psbt')));
  }
  const proposed = record.proposed_rollover;
  if (proposed && proposed.state === req.state && proposed.new_contract_id === req.new_contract_id) return proposed.response;
  // While a co-signed round 1 can still be completed (the contract is at its state), it
  // is the only rollover: a second refund for another proposal is never signed.
  if (proposed && proposed.state === record.next_state) {
    refuse('E_ROLLOVER_PROPOSED', `the mint already co-signed the new refund of a rollover of contract ${c.id} into ${proposed.new_contract_id} at state ${proposed.state}: send that same proposal again, or pay or close first`);
  }
  const { next, tx } = await checkRolloverProposal(ctx, record, c, req.state, req.rollover_psbt, req.new_contract, req.new_contract_id, req.cumulative_sat);
  if (tx.getInput(0).musig2PartialSig?.length) refuse('E_MUSIG_FIELDS', 'round 1 of a rollover carries no signature on the rollover: the user signs it after its new refund is complete');
  const refund = parsePsbtBase64(req.refund_psbt, 'refund_psbt');
  checkRefund(refund, next);
  mintCosignRefund(refund, ctx.mint, next.userPubkey);
  const response = {
    type: 'credit/rollover-refund',
    version: 1,
    network: ctx.network,
    contract_id: c.id,
    new_contract_id: next.id,
    refund_psbt: base64.encode(serializePsbt(refund)),
  };
  await ctx.funding.bindFunding(outpointOf(next.funding), { contract_id: next.id, kind: 'rollover', from_contract_id: c.id });
  await ctx.records.put({ ...record, proposed_rollover: { state: req.state, txid: tx.id, new_contract_id: next.id, new_contract: req.new_contract, response } });
  return response;
}

/**
 * Rollover, round 2: the user signed the very rollover approved in round 1. Check it all
 * again (nothing may have moved since), complete the contract input, freeze the old
 * contract — which keeps its latest state until the rollover confirms — and open the
 * next one.
 */
export async function acceptRollover(ctx: MintContext, req: RolloverSign): Promise<Record<string, unknown>> {
  const { record, c } = await loadOpen(ctx, req.contract_id, req.network);
  // The user's request, before a word about the contract (signing.ts checkUserSigned), for the state of its nonce.
  const signedTx = parsePsbtBase64(req.rollover_psbt, 'rollover_psbt');
  const signedInput = readMusigInput(signedTx, 0);
  checkUserSigned(signedInput, ctx.mint.publicKey, c.userPubkey);
  if (await checkStateNonce(ctx.nonces, mintPubnonceOf(signedInput, ctx.mint.publicKey), c.id, req.state) === 'spent') return retriedSettlement(ctx, record, 'rollover', req.state, rolloverTxid(signedTx));
  const proposed = record.proposed_rollover;
  if (!proposed || proposed.state !== req.state || proposed.new_contract_id !== req.new_contract_id) {
    throw new StateConflictError('E_STALE_STATE', `no rollover of contract ${c.id} to ${req.new_contract_id} at state ${req.state} was proposed to this mint`);
  }
  const { next, tx, input } = await checkRolloverProposal(ctx, record, c, req.state, req.rollover_psbt, proposed.new_contract, proposed.new_contract_id);
  if (tx.id !== proposed.txid) refuse('E_ROLLOVER_CHANGED', `the signed rollover ${tx.id} is not the one approved in round 1 (${proposed.txid})`);
  // The user's wallet may still have inputs to sign: the signature goes back in the PSBT.
  const tapKeySig = await mintComplete(tx, input, ctx.mint, c.userPubkey, ctx.nonces, stateNonceContext(c.id, req.state));
  tx.updateInput(0, { tapKeySig }, true);
  const nextNonce = await issueStateNonce(ctx.nonces, ctx.random, ctx.mint, next, 1);
  const response = signAnswer({
    type: 'credit/rollover-accept',
    version: 1,
    network: ctx.network,
    contract_id: c.id,
    new_contract_id: next.id,
    rollover_psbt: base64.encode(serializePsbt(tx)),
    next_nonce: nextNonce,
  }, ctx.mint);
  const refundPsbt = (proposed.response as { refund_psbt: string }).refund_psbt;
  // The next contract's record as an open's (never sent: its open is this rollover); signed when given again, as any stored answer.
  const openAccept = { type: 'credit/open-accept', version: 1, network: ctx.network, contract_id: next.id, refund_psbt: refundPsbt, next_nonce: nextNonce };
  await ctx.funding.bindFunding(outpointOf(next.funding), { contract_id: next.id, kind: 'open' });
  await ctx.records.put({ contract_id: next.id, network: ctx.network, contract: proposed.new_contract, status: 'open', next_state: 1, open_accept: openAccept });
  const frozen = { ...record, status: 'rolling-over' as const, next_state: req.state + 1, settlement: { kind: 'rollover' as const, state: req.state, txid: rolloverTxid(tx), response, new_contract_id: next.id } };
  delete frozen.proposed_rollover;
  await ctx.records.put(frozen);
  return response;
}

export type OfferParams = {
  payoutAddress: string;
  minFeeRate: number;
  safetyMargin: number;
  minConfirmations: number;
  minExpiry: number;
  maxExpiry: number;
  /** The keyset the mint signs ecash with (its active one), and the URL of the Cashu mint that redeems it. */
  ecash?: { keyset: Parameters<typeof ecashOffer>[0]; mintUrl: string };
};

/**
 * The mint's standing terms (`credit/offer`): checked here so a mint cannot publish an
 * offer it would then refuse to honour. The suggested expiry is about a month (4320
 * blocks), kept inside the mint's own window.
 */
export function makeOffer(network: Network, mintPubkey: Uint8Array, p: OfferParams): Record<string, unknown> & MintPolicy {
  decodeAddress(p.payoutAddress, network, '--payout-address');
  if (p.minExpiry > p.maxExpiry) throw new UsageError('E_USAGE', '--min-expiry is above --max-expiry');
  if (p.minConfirmations < 1) throw new UsageError('E_USAGE', 'the funding must be confirmed at least once before payments');
  return {
    type: 'credit/offer', version: 1, network, mint_pubkey: toHex(mintPubkey), payout_address: p.payoutAddress,
    min_fee_rate: p.minFeeRate, safety_margin_blocks: p.safetyMargin, min_confirmations: p.minConfirmations,
    min_expiry_blocks: p.minExpiry, max_expiry_blocks: p.maxExpiry, default_expiry_blocks: Math.min(Math.max(4320, p.minExpiry), p.maxExpiry),
    ...(p.ecash ? { ecash: ecashOffer(p.ecash.keyset, p.ecash.mintUrl) } : {}),
  };
}
