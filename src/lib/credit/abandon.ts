/**
 * Abandoning a request the mint refused or never answered (docs/credit.md, "Recovering
 * from a refusal"). The user's request for state n was signed against the mint's nonce
 * R_n, and may have been co-signed (an answer lost) or not (refused, or never arrived).
 * The user cannot tell which, so it never decides alone: it asks the mint, in a message
 * signed with its contract key, to abandon "the request with txid T at state n against
 * R_n", and the mint answers atomically with the truth —
 *
 *   - it signed state n: the answer it gave then (receipt, closed, rollover-accept),
 *     which the user applies as if it had arrived in time;
 *   - it did not: it burns R_n (so the abandoned request can never be signed later,
 *     whoever replays it) and issues a fresh nonce R'_n for state n, in a
 *     `credit/abandoned` signed with the mint's key.
 *
 * Until the answer arrives the user signs nothing for the contract. So for each mint
 * nonce the user signs at most one state, and the mint signs with each nonce at most
 * once: neither two states for one state number under one mint nonce, nor a user
 * unsure of what the mint holds.
 *
 * An open the mint refused is abandoned locally: nothing was funded (the funding PSBT
 * is signed only once the refund is), so its record and the user's refund nonce go.
 */
import type { Static } from '@sinclair/typebox';
import { schnorr } from '@noble/curves/secp256k1.js';
import { concatBytes, equalBytes, fromHex, toHex } from '../bytes.ts';
import { RefusedError, StateConflictError, isOffchainError } from '../errors.ts';
import { taggedHash } from '../musig/engine/scalar.ts';
import { readMusigInput } from '../musig/psbt-keypath.ts';
import { parsePsbtBase64 } from '../psbt/parse.ts';
import { termsFromJson } from './codec.ts';
import type { MintContext, MintContractRecord, UserContext, UserContractRecord } from './ports.ts';
import type { AbandonSchema, AbandonedSchema } from './schemas.ts';
import { issueStateNonce, refundNonceContext, stateNonceContext } from './signing.ts';
import type { CreditContract } from './terms.ts';
import { balanceMessage, load } from './user.ts';
import { abandoned } from './htlc-channel.ts';
import { signedAgain } from './answer-signature.ts';

type Abandon = Static<typeof AbandonSchema>;
type Abandoned = Static<typeof AbandonedSchema>;

function refuse(code: string, message: string): never {
  throw new RefusedError(code, message);
}

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, false);
  return out;
}

/** What the user signs: abandon the request `txid` for `state`, signed against the mint nonce `mint_pubnonce`. */
export function abandonDigest(m: Pick<Abandon, 'contract_id' | 'state' | 'txid' | 'mint_pubnonce'>): Uint8Array {
  return taggedHash('offchain/credit/v1/abandon', fromHex(m.contract_id, 'contract_id', 32), u32(m.state), fromHex(m.txid, 'txid', 32), fromHex(m.mint_pubnonce, 'mint_pubnonce', 66));
}

/** What the mint signs: it never signed `txid` at `state`, burned that nonce, and issued `next_nonce`. */
export function abandonedDigest(m: Pick<Abandoned, 'contract_id' | 'state' | 'txid' | 'abandoned_pubnonce' | 'next_nonce'>): Uint8Array {
  return taggedHash(
    'offchain/credit/v1/abandoned',
    fromHex(m.contract_id, 'contract_id', 32), u32(m.state), fromHex(m.txid, 'txid', 32),
    fromHex(m.abandoned_pubnonce, 'abandoned_pubnonce', 66), concatBytes(u32(m.next_nonce.state), fromHex(m.next_nonce.pubnonce, 'next_nonce.pubnonce', 66)),
  );
}

const xOnly = (pubkey: Uint8Array) => pubkey.subarray(1);

// ——— the user ———

/**
 * Start abandoning contract `id`'s pending request (returns the signed credit/abandon
 * for the mint; the same one again if asked twice), or abandon an open never answered.
 */
export async function abandonRequest(ctx: UserContext, id: string): Promise<Record<string, unknown>> {
  const { record, c } = await load(ctx, id);
  if (record.status === 'opening') return abandonOpen(ctx, record, c);
  const p = record.pending;
  // A device channel's payment the gateway refused (src/lib/device/): abandon its state the same way.
  if (!p && record.device?.in_flight && !record.device.pending) return abandonDevicePayment(ctx, record, c);
  if (!p) throw new StateConflictError('E_NOTHING_PENDING', `contract ${id} has no request waiting for the mint (status ${record.status}): nothing to abandon`);
  if (p.abandon) return p.abandon;
  const nonce = record.mint_nonce;
  if (!nonce || nonce.state !== p.state) throw new Error(`contract ${id}: the pending state ${p.state} has no mint nonce on record`);
  const body = { contract_id: c.id, state: p.state, kind: p.kind, txid: p.txid, mint_pubnonce: nonce.pubnonce };
  const user_signature = toHex(schnorr.sign(abandonDigest(body), ctx.user.secretKey, ctx.random.bytes(32, 'credit/abandon/aux')));
  const message = { type: 'credit/abandon', version: 1, network: ctx.network, ...body, user_signature };
  // Recorded before it leaves: from now on the request is never resent, and nothing new is signed until the mint answers.
  await ctx.records.put({ ...record, pending: { ...p, abandon: message } });
  return message;
}

/**
 * A device channel's payment in flight whose device/pay the gateway refused (or never
 * got): the request to abandon its state, signed against the gateway nonce it used.
 * The gateway answers that it signed it (refused: the payment stays in flight) or burns
 * that nonce and issues a fresh one for the same state (credit/abandoned).
 */
async function abandonDevicePayment(ctx: UserContext, record: UserContractRecord, c: CreditContract): Promise<Record<string, unknown>> {
  const d = record.device!;
  const f = d.in_flight!;
  if (f.abandon) return f.abandon;
  const nonce = d.gateway_nonce;
  if (!nonce || nonce.state !== f.state) throw new Error(`contract ${c.id}: the payment's state ${f.state} has no gateway nonce on record`);
  const body = { contract_id: c.id, state: f.state, kind: 'update' as const, txid: String(f.request.txid), mint_pubnonce: nonce.pubnonce };
  const user_signature = toHex(schnorr.sign(abandonDigest(body), ctx.user.secretKey, ctx.random.bytes(32, 'credit/abandon/aux')));
  const message = { type: 'credit/abandon', version: 1, network: ctx.network, ...body, user_signature };
  // Recorded before it leaves: from now on the device/pay is not resent, no other payment is signed.
  await ctx.records.put({ ...record, device: { ...d, in_flight: { ...f, abandon: message } } });
  return message;
}

/** The user's nonce in a refund PSBT it made (the open-request's or round 1's). */
function userRefundNonce(refundPsbt: string, c: CreditContract): Uint8Array | undefined {
  const input = readMusigInput(parsePsbtBase64(refundPsbt, 'refund_psbt'), 0);
  return input.pubnonces[input.key.participants.findIndex((k) => equalBytes(k, c.userPubkey))];
}

/** Destroy the user's refund nonce of contract `c` if it was never used. */
async function burnRefundNonce(ctx: UserContext, c: CreditContract, refundPsbt: string | undefined): Promise<void> {
  const pubnonce = refundPsbt ? userRefundNonce(refundPsbt, c) : undefined;
  if (pubnonce && (await ctx.nonces.status(pubnonce)) === 'unused') (await ctx.nonces.take(pubnonce, refundNonceContext(c.id))).fill(0);
}

async function abandonOpen(ctx: UserContext, record: UserContractRecord, c: CreditContract): Promise<Record<string, unknown>> {
  if (record.previous_contract_id) {
    throw new StateConflictError('E_PENDING', `contract ${c.id} is the next contract of a rollover of ${record.previous_contract_id}: abandon that rollover (offchain credit abandon --role user --start --contract ${record.previous_contract_id})`);
  }
  let onChain = false;
  try {
    onChain = (await ctx.chain.utxo(c.funding.txid, c.funding.vout)) !== null;
  } catch (e) {
    if (!(isOffchainError(e) && e.code === 'E_CHAIN_UNKNOWN')) throw e;
  }
  if (onChain) {
    refuse('E_FUNDING_ON_CHAIN', `the funding of contract ${c.id} is on chain: do not abandon it; send the same open-request again to get its refund signed`);
  }
  await burnRefundNonce(ctx, c, (record.open_request as { refund_psbt?: string } | undefined)?.refund_psbt);
  await ctx.records.remove(c.id);
  return {
    type: 'credit/open-abandoned', version: 1, network: ctx.network, contract_id: c.id, funding: c.funding,
    next: 'this open is forgotten and its refund nonce destroyed: never sign or broadcast its funding PSBT. Open again; if the mint had accepted this open (its answer lost) it keeps the funding outpoint bound, so make a new funding PSBT',
  };
}

/** The mint's credit/abandoned: check it answers our abandon, take the fresh nonce. */
export async function applyAbandoned(ctx: UserContext, msg: Abandoned): Promise<Record<string, unknown>> {
  const { record, c } = await load(ctx, msg.contract_id);
  const p = record.pending;
  if (!p && record.mint_nonce?.state === msg.state && record.mint_nonce.pubnonce === msg.next_nonce.pubnonce) return balanceMessage(ctx, c, record); // applied before
  const f = record.device?.in_flight;
  if (!p && f?.abandon) return applyDeviceAbandoned(ctx, record, c, msg);
  const sent = p?.abandon as Abandon | undefined;
  if (!p || !sent) refuse('E_RECEIPT_MISMATCH', `no abandoned request of contract ${c.id} is waiting for the mint's answer`);
  if (msg.state !== p.state || msg.txid !== p.txid || msg.abandoned_pubnonce !== sent.mint_pubnonce) {
    refuse('E_RECEIPT_MISMATCH', `the answer (state ${msg.state}, txid ${msg.txid}) is not for the request this user abandoned (state ${p.state}, txid ${p.txid})`);
  }
  if (msg.next_nonce.state !== p.state || msg.next_nonce.pubnonce === sent.mint_pubnonce) {
    refuse('E_RECEIPT_MISMATCH', `the mint's fresh nonce must be a new nonce for state ${p.state}`);
  }
  if (!schnorr.verify(fromHex(msg.mint_signature, 'mint_signature', 64), abandonedDigest(msg), xOnly(c.mintPubkey))) {
    refuse('E_BAD_SIGNATURE', 'the credit/abandoned is not signed by the contract\'s mint key');
  }
  const updated: UserContractRecord = { ...record, mint_nonce: msg.next_nonce };
  delete updated.pending;
  if (p.kind === 'rollover' && p.new_contract_id) {
    // Its round 1 may have reached the mint, which binds the rollover's output to that next contract.
    updated.abandoned_rollovers = [...(record.abandoned_rollovers ?? []), p.txid];
    const next = await ctx.records.get(p.new_contract_id);
    if (next) {
      await burnRefundNonce(ctx, termsFromJson(next.contract, next.network), (p.request as { refund_psbt?: string }).refund_psbt);
      await ctx.records.remove(next.contract_id);
    }
  }
  await ctx.records.put(updated);
  return balanceMessage(ctx, c, updated);
}

/** The gateway's credit/abandoned for a device channel's payment: the device is idle again at the same state. */
async function applyDeviceAbandoned(ctx: UserContext, record: UserContractRecord, c: CreditContract, msg: Abandoned): Promise<Record<string, unknown>> {
  const d = record.device!;
  const f = d.in_flight!;
  const sent = f.abandon as Abandon;
  if (msg.state !== f.state || msg.txid !== sent.txid || msg.abandoned_pubnonce !== sent.mint_pubnonce) {
    refuse('E_RECEIPT_MISMATCH', `the answer (state ${msg.state}, txid ${msg.txid}) is not for the payment this device abandoned (state ${f.state}, txid ${sent.txid})`);
  }
  if (msg.next_nonce.state !== f.state || msg.next_nonce.pubnonce === sent.mint_pubnonce) {
    refuse('E_RECEIPT_MISMATCH', `the gateway's fresh nonce must be a new nonce for state ${f.state}`);
  }
  if (!schnorr.verify(fromHex(msg.mint_signature, 'mint_signature', 64), abandonedDigest(msg), xOnly(c.mintPubkey))) {
    refuse('E_BAD_SIGNATURE', 'the credit/abandoned is not signed by the contract\'s mint key');
  }
  const device = abandoned(d, msg.next_nonce);
  const updated: UserContractRecord = { ...record, device, mint_nonce: msg.next_nonce, confirmed: { state: device.state, cumulative_sat: device.settled_sat } };
  await ctx.records.put(updated);
  return balanceMessage(ctx, c, updated);
}

// ——— the mint ———

/**
 * Answer a user's credit/abandon: what the mint signed at that state, or — if nothing —
 * burn the nonce the request was signed against and issue a fresh one. Every refusal
 * comes before the nonce is touched.
 */
export async function acceptAbandon(ctx: MintContext, req: Abandon): Promise<Record<string, unknown>> {
  const record = await ctx.records.get(req.contract_id);
  if (!record) refuse('E_UNKNOWN_CONTRACT', `this mint has no contract ${req.contract_id}`);
  if (record.network !== req.network) refuse('E_NETWORK_MISMATCH', `contract ${req.contract_id} is on ${record.network}`);
  const c = termsFromJson(record.contract, record.network);
  if (!schnorr.verify(fromHex(req.user_signature, 'user_signature', 64), abandonDigest(req), xOnly(c.userPubkey))) {
    refuse('E_BAD_SIGNATURE', 'the credit/abandon is not signed by the contract\'s user key');
  }
  const n = req.state;
  // A device channel (src/lib/device/): a payment state the gateway co-signed stays in
  // flight — it ends by settle or fail, never by abandon; its stored answers are not receipts.
  const g = record.gateway;
  if (g && (g.in_flight || (g.latest && g.latest.state >= n))) {
    refuse('E_HTLC_IN_FLIGHT', `the gateway signed state ${g.in_flight?.state ?? g.latest!.state} of contract ${c.id}${g.in_flight ? ` (payment ${g.in_flight.payment_hash} is in flight: settle or fail it)` : ''}: it cannot be abandoned`);
  }
  // A lost answer: the user gets what the mint signed at that state, and applies it.
  if (record.latest?.state === n) return signedAgain(record.latest.receipt, ctx.mint);
  if (record.settlement?.state === n) return signedAgain(record.settlement.response, ctx.mint);
  if (record.abandoned?.state === n && record.abandoned.pubnonce === req.mint_pubnonce) return record.abandoned.response;
  if (record.exiting) refuse('E_CONTRACT_FROZEN', `contract ${c.id} is frozen: the mint is exiting it with its state ${record.exiting.state}`);
  if (record.settlement) refuse('E_CONTRACT_FROZEN', `contract ${c.id} is frozen: the mint signed a ${record.settlement.kind} at state ${record.settlement.state}`);
  if (n !== record.next_state) throw new StateConflictError('E_STALE_STATE', `state ${n} is not the next state of contract ${c.id} (expected ${record.next_state})`);
  // Burned: the abandoned request can never be signed, by anyone's replay. Refused
  // (E_NONCE_MISBOUND / E_NONCE_UNKNOWN / E_NONCE_USED) if it is not this state's live nonce.
  const abandoned = fromHex(req.mint_pubnonce, 'mint_pubnonce', 66);
  if (ctx.nonces.burn) await ctx.nonces.burn(abandoned, stateNonceContext(c.id, n));
  else (await ctx.nonces.take(abandoned, stateNonceContext(c.id, n))).fill(0);
  const next_nonce = await issueStateNonce(ctx.nonces, ctx.random, ctx.mint, c, n);
  const body = { contract_id: c.id, state: n, txid: req.txid, abandoned_pubnonce: req.mint_pubnonce, next_nonce };
  const mint_signature = toHex(schnorr.sign(abandonedDigest(body), ctx.mint.secretKey, ctx.random.bytes(32, 'credit/abandoned/aux')));
  const response = { type: 'credit/abandoned', version: 1, network: ctx.network, ...body, mint_signature };
  const updated: MintContractRecord = { ...record, abandoned: { state: n, pubnonce: req.mint_pubnonce, response } };
  // A proposed rollover at this state can no longer be completed (its nonce is gone); its
  // outpoint stays bound, so the mint never co-signs a second refund spending it.
  if (updated.proposed_rollover?.state === n) delete updated.proposed_rollover;
  await ctx.records.put(updated);
  return response;
}
