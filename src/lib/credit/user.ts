/**
 * The user's side of the credit contract (BRIEF §3.1): refund before funding, always;
 * sign each next state with BIP-327 DeterministicSign against the mint's announced
 * nonce (no nonce state for payments); keep its own record of what it agreed — the
 * last cumulative amount and the signed refund — so it never takes the mint's word for
 * "previous". It never signs a state paying the mint more than previous + requested.
 */
import { base64 } from '@scure/base';
import type { Static } from '@sinclair/typebox';
import { Transaction } from '@scure/btc-signer';
import { schnorr } from '@noble/curves/secp256k1.js';
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import { MalformedInputError, RefusedError, StateConflictError, UsageError, isOffchainError } from '../errors.ts';
import { addPubNonce, finalSignature, partialSignature, readMusigInput, verifyPartialSigs } from '../musig/psbt-keypath.ts';
import { parsePsbt, parsePsbtBase64, serializePsbt } from '../psbt/parse.ts';
import { keyPathSighash } from '../taproot/taproot.ts';
import { isFinal } from '../chain/finality.ts';
import { contractAddress, termsFromJson, termsToJson } from './codec.ts';
import type { NextNonceJson, UserContext, UserContractRecord } from './ports.ts';
import { checkFunding, checkRefund } from './rules.ts';
import type { ClosedSchema, CreditOfferSchema, OpenAcceptSchema, ReceiptSchema, RolloverAcceptSchema, RolloverRefundSchema } from './schemas.ts';
import { issueNonce, refundNonceContext, signedKeyPathTx, userSignAgainst } from './signing.ts';
import { contractKey, makeContract, type CreditContract } from './terms.ts';
import { adoptKeyset, authorizeOutputs, checkEcashOffer, makeOutputs, receiveSignatures, type BlindedMessageJson, type OutputsAuthorization } from './ecash.ts';
import { encodeTokenV4, type Proof } from '../ecash/token.ts';
import { NO_TOP_UP, buildClose, buildRefund, buildRollover, buildState, maxCumulative, rolloverTxid, type TopUp } from './transactions.ts';

type Offer = Static<typeof CreditOfferSchema>;

function refuse(code: string, message: string): never {
  throw new RefusedError(code, message);
}

/** Where to send the funding: depends only on the two keys. */
export function addressMessage(ctx: Pick<UserContext, 'network' | 'user'>, offer: Offer): Record<string, unknown> {
  const mintPubkey = fromHex(offer.mint_pubkey, 'mint_pubkey', 33);
  const key = contractKey(ctx.user.publicKey, mintPubkey);
  const c = { script: key.output.script, network: ctx.network };
  return {
    type: 'credit/address',
    version: 1,
    network: ctx.network,
    address: contractAddress(c),
    descriptor: makeDescriptor(ctx.user.publicKey, mintPubkey),
    user_pubkey: toHex(ctx.user.publicKey),
    mint_pubkey: offer.mint_pubkey,
    output_key: toHex(key.output.outputKey),
    next: 'create an UNSIGNED funding PSBT paying this address from native segwit inputs (e.g. bitcoin-cli walletcreatefundedpsbt), then run open-credit --role user with it; do not sign or broadcast it yet',
  };
}

function makeDescriptor(user: Uint8Array, mint: Uint8Array): string {
  // Any funding outpoint gives the same key: build the descriptor from a placeholder contract.
  return makeContract({
    network: 'regtest', userPubkey: user, mintPubkey: mint, capacity: 1n, funding: { txid: '00'.repeat(32), vout: 0 }, expiryHeight: 1,
    refundScript: new Uint8Array(), changeScript: new Uint8Array(), payoutScript: new Uint8Array(), feeRate: 1,
  }).descriptor;
}

/** The mint's window for a contract's life, in blocks from the tip (from its offer). */
export type ExpiryWindow = { min_blocks: number; max_blocks: number };

export function offerWindow(offer: Offer): ExpiryWindow {
  return { min_blocks: offer.min_expiry_blocks, max_blocks: offer.max_expiry_blocks };
}

/**
 * --expiry, a block height or +BLOCKS from the tip, checked before anything is written:
 * not at or below the tip, inside the mint's window. A bare number is a height; when it
 * reads like a number of blocks (in the past, or outside the window while +N would fit)
 * the error says which `+N` was probably meant.
 */
export function resolveExpiry(spec: string, tip: number, window?: ExpiryWindow): number {
  const relative = /^\+(\d+)$/.exec(spec);
  if (!relative && !/^\d+$/.test(spec)) throw new UsageError('E_USAGE', `--expiry must be a block height or +BLOCKS, got ${spec}`);
  const height = relative ? tip + Number(relative[1]) : Number(spec);
  const meant = !relative && (!window || (height >= window.min_blocks && height <= window.max_blocks)) ? ` (did you mean +${spec}, ${spec} blocks from now?)` : '';
  checkExpiryHeight(height, tip, window, meant);
  return height;
}

/** An expiry height against the tip and the mint's window (coded, exit 2). */
export function checkExpiryHeight(height: number, tip: number, window?: ExpiryWindow, hint = ''): void {
  if (!Number.isSafeInteger(height) || height >= 500_000_000) throw new UsageError('E_USAGE', `expiry ${height} is not a block height`);
  const blocks = height - tip;
  if (blocks <= 0) throw new UsageError('E_EXPIRY_IN_PAST', `expiry height ${height} is not after the tip ${tip}${hint}`);
  if (!window) return;
  const range = `this mint takes contracts of ${window.min_blocks}–${window.max_blocks} blocks, i.e. --expiry +${window.min_blocks} … +${window.max_blocks}`;
  if (blocks < window.min_blocks) throw new UsageError('E_EXPIRY_TOO_SOON', `expiry height ${height} is ${blocks} blocks from the tip ${tip}; ${range}${hint}`);
  if (blocks > window.max_blocks) throw new UsageError('E_EXPIRY_TOO_FAR', `expiry height ${height} is ${blocks} blocks from the tip ${tip}; ${range}${hint}`);
}

export type OpenParams = {
  offer: Offer;
  fundingPsbt: Uint8Array;
  expiryHeight: number;
  refundAddress: string;
  changeAddress: string;
  feeRate: number;
};

/** Step 1: terms + the refund to co-sign, carrying the user's nonce for it. */
export async function openRequest(ctx: UserContext, p: OpenParams): Promise<Record<string, unknown>> {
  const funding = parsePsbt(p.fundingPsbt);
  const mintPubkey = fromHex(p.offer.mint_pubkey, 'mint_pubkey', 33);
  const script = contractKey(ctx.user.publicKey, mintPubkey).output.script;
  const vouts = Array.from({ length: funding.outputsLength }, (_, i) => i).filter((i) => equalBytes(funding.getOutput(i).script!, script));
  if (vouts.length !== 1) refuse('E_FUNDING_MISMATCH', `the funding PSBT must have exactly one output to the contract address, it has ${vouts.length}`);
  if (p.feeRate < p.offer.min_fee_rate) refuse('E_FEE_TOO_LOW', `fee rate ${p.feeRate} sat/vB is under the mint's floor of ${p.offer.min_fee_rate}`);
  const c = termsFromJson(
    {
      user_pubkey: toHex(ctx.user.publicKey),
      mint_pubkey: p.offer.mint_pubkey,
      capacity_sat: Number(funding.getOutput(vouts[0]!).amount!),
      funding: { txid: funding.id, vout: vouts[0]! },
      expiry_height: p.expiryHeight,
      refund_address: p.refundAddress,
      change_address: p.changeAddress,
      payout_address: p.offer.payout_address,
      fee_rate: p.feeRate,
    },
    ctx.network,
  );
  checkFunding(funding, c);
  const existing = await ctx.records.get(c.id);
  // A retried open gets the same request (and the same refund nonce) back.
  if (existing?.status === 'opening' && existing.open_request) return existing.open_request;
  if (existing) throw new StateConflictError('E_CONTRACT_EXISTS', `contract ${c.id} already exists in this state directory (${existing.status})`);
  const window = offerWindow(p.offer);
  checkExpiryHeight(c.expiryHeight, (await ctx.chain.tip()).height, window);
  if (p.offer.ecash) checkEcashOffer(p.offer.ecash);
  const request = await refundRequest(ctx, c);
  const message = {
    type: 'credit/open-request',
    version: 1,
    network: ctx.network,
    contract_id: c.id,
    contract: termsToJson(c),
    funding_psbt: base64.encode(p.fundingPsbt),
    refund_psbt: request,
  };
  await putOrBurn(ctx, c, request, {
    contract_id: c.id, network: ctx.network, contract: termsToJson(c), status: 'opening', funding_psbt: base64.encode(p.fundingPsbt),
    confirmed: { state: 0, cumulative_sat: 0 }, open_request: message, expiry_window: window,
    ...(p.offer.ecash ? { ecash: { ...p.offer.ecash, counter: await nextCounter(ctx, p.offer.ecash.keyset_id), issued_sat: 0 } } : {}),
  });
  return message;
}

/** Store a new contract's record; if that fails, the refund nonce just issued for it is destroyed (no unused nonce left behind). */
async function putOrBurn(ctx: UserContext, c: CreditContract, refundPsbt: string, record: UserContractRecord): Promise<void> {
  try {
    await ctx.records.put(record);
  } catch (e) {
    const input = readMusigInput(parsePsbtBase64(refundPsbt, 'refund_psbt'), 0);
    const pubnonce = input.pubnonces[input.key.participants.findIndex((k) => equalBytes(k, ctx.user.publicKey))];
    if (pubnonce) await ctx.nonces.take(pubnonce, refundNonceContext(c.id)).then((s) => s.fill(0), () => undefined);
    throw e;
  }
}

/** The refund PSBT with the user's (stored, single-use) nonce on it. */
async function refundRequest(ctx: UserContext, c: CreditContract): Promise<string> {
  const refund = buildRefund(c);
  const pubnonce = await issueNonce(ctx.nonces, ctx.random, ctx.user, c, refundNonceContext(c.id));
  addPubNonce(refund, readMusigInput(refund, 0), ctx.user.publicKey, pubnonce);
  return base64.encode(serializePsbt(refund));
}

/**
 * Complete the refund from the mint's partial signature: check it is exactly the refund
 * of the terms, sign, aggregate, and verify the full signature. Returns the signed refund.
 */
async function completeRefund(ctx: UserContext, c: CreditContract, refundPsbt: string): Promise<{ txid: string; hex: string }> {
  const refund = parsePsbtBase64(refundPsbt, 'refund_psbt');
  checkRefund(refund, c);
  const input = readMusigInput(refund, 0);
  const me = input.key.participants.findIndex((p) => equalBytes(p, ctx.user.publicKey));
  const pubnonce = input.pubnonces[me];
  if (!pubnonce) refuse('E_MISSING_NONCES', 'the returned refund lost the user\'s nonce');
  verifyPartialSigs(input); // a bad mint partial signature is blamed on the mint's key
  const secnonce = await ctx.nonces.take(pubnonce, refundNonceContext(c.id));
  partialSignature(input, ctx.user, secnonce);
  return signedKeyPathTx(refund, finalSignature(input));
}

function checkFirstNonce(n: NextNonceJson): void {
  if (n.state !== 1) refuse('E_RECEIPT_MISMATCH', `the mint's first nonce must be for state 1, not ${n.state}`);
}

export async function load(ctx: Pick<UserContext, 'network' | 'records'> & { user?: UserContext['user'] }, id: string): Promise<{ record: UserContractRecord; c: CreditContract }> {
  const record = await ctx.records.get(id);
  if (!record) refuse('E_UNKNOWN_CONTRACT', `no contract ${id} in this state directory: the message is for another contract`);
  if (record.network !== ctx.network) refuse('E_NETWORK_MISMATCH', `contract ${id} is on ${record.network}`);
  const c = termsFromJson(record.contract, record.network);
  // Another key than the user's (the mint's, run on the user's directory): said so, before any signing step fails on it.
  if (ctx.user && !equalBytes(ctx.user.publicKey, c.userPubkey)) {
    refuse('E_KEY_MISMATCH', `this key (${toHex(ctx.user.publicKey)}) is not the user of contract ${id}: the user's key is ${toHex(c.userPubkey)}`);
  }
  return { record, c };
}

function openedMessage(ctx: UserContext, c: CreditContract, record: UserContractRecord): Record<string, unknown> {
  return {
    type: 'credit/opened',
    version: 1,
    network: ctx.network,
    contract_id: c.id,
    address: contractAddress(c),
    refund: { ...record.refund!, final_from_height: c.expiryHeight + 1 },
    funding_psbt: record.funding_psbt,
    next: 'the refund is signed and verified: now sign and broadcast the funding PSBT with your wallet. Never fee-bump the funding by RBF (a new txid orphans the refund); use CPFP',
  };
}

/** Step 2: the refund comes back co-signed; finish it. Only now may the funding be signed. */
export async function openFinish(ctx: UserContext, accept: Static<typeof OpenAcceptSchema>): Promise<Record<string, unknown>> {
  const { record, c } = await load(ctx, accept.contract_id);
  if (record.status !== 'opening') {
    if (record.refund) return openedMessage(ctx, c, record);
    refuse('E_STALE_STATE', `contract ${c.id} is ${record.status}, not opening`);
  }
  checkFirstNonce(accept.next_nonce);
  const refund = await completeRefund(ctx, c, accept.refund_psbt);
  const opened: UserContractRecord = { ...record, status: 'open', refund, mint_nonce: accept.next_nonce };
  delete opened.open_request;
  await ctx.records.put(opened);
  return openedMessage(ctx, c, opened);
}

type Pending = NonNullable<UserContractRecord['pending']>;

/** How to get a contract out of E_PENDING, for the error line. */
export function abandonHint(id: string): string {
  return `if the mint refused it or its answer is lost, abandon it: offchain credit abandon --role user --start --contract ${id} | (mint) offchain credit abandon --role mint | offchain credit abandon --role user`;
}

/**
 * Whether a new request may be signed now. A pending request of the same kind and the
 * same parameters (`again`) is returned to be resent unchanged; anything else is refused
 * (E_PENDING) naming the way out, so a corrected request never silently resends the old.
 */
function checkCanSign(record: UserContractRecord, kind: 'update' | 'close' | 'rollover', again: (p: Pending) => boolean, what: (p: Pending) => string = () => ''): Record<string, unknown> | undefined {
  if (record.status !== 'open') refuse('E_CONTRACT_FROZEN', `contract ${record.contract_id} is ${record.status}`);
  const d = record.device;
  if (d && kind === 'update') refuse('E_DEVICE_CHANNEL', `contract ${record.contract_id} is a device channel: pay with "device pay" (the states would diverge)`);
  if (d && (d.in_flight || d.pending)) refuse('E_HTLC_IN_FLIGHT', `payment ${(d.in_flight ?? d.pending)!.payment_hash} is in flight on this device channel: settle or fail it first`);
  const p = record.pending;
  if (p) {
    if (p.abandon) {
      throw new StateConflictError('E_PENDING', `state ${p.state} (${p.kind}) is being abandoned: feed the mint's answer to the credit/abandon to "offchain credit abandon --role user" first`);
    }
    if (p.kind === kind && again(p)) return p.request;
    throw new StateConflictError(
      'E_PENDING',
      `state ${p.state} (${p.kind}) is still waiting for the mint's answer${what(p)}: run the same request again to resend it, or feed its answer; ${abandonHint(record.contract_id)}`,
    );
  }
  if (!record.mint_nonce || record.mint_nonce.state !== record.confirmed.state + 1) {
    throw new StateConflictError('E_NO_MINT_NONCE', `no mint nonce for state ${record.confirmed.state + 1}: feed the mint's last receipt first`);
  }
  return undefined;
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

/** The wallet seed (NUT-13) a contract with ecash needs, or E_NO_WALLET_SEED. */
export function walletSeed(ctx: Pick<UserContext, 'walletSeed'>): Uint8Array {
  if (!ctx.walletSeed) throw new UsageError('E_NO_WALLET_SEED', 'this contract takes its credit as ecash: pass the wallet seed (NUT-13) with --wallet-seed-env NAME or --wallet-seed-file FILE');
  return ctx.walletSeed;
}

/** A new contract's NUT-13 counter for a keyset: past every counter this state directory used for it. */
async function nextCounter(ctx: Pick<UserContext, 'records'>, keysetId: string): Promise<number> {
  let next = 0;
  for (const r of await ctx.records.list()) if (r.ecash?.keyset_id === keysetId && r.ecash.counter > next) next = r.ecash.counter;
  return next;
}

/** Where the user keeps a payment's token: written (0600) before the record moves on. */
export type TokenSink = { path: string; write(token: string): Promise<void> };

/**
 * The mint's receipt: check it is for the state we signed, take its next nonce. With
 * ecash, every signature is verified (DLEQ) before anything is written; then the token
 * goes to `sink`, and only then the record moves on (a crash between the two leaves the
 * receipt pending: fed again, it writes the same token again). The last payment's
 * outputs are kept, so its receipt fed again after the record moved on (a token sent to
 * standard output and lost) is verified and written again too.
 */
export async function applyReceipt(ctx: UserContext, receipt: Static<typeof ReceiptSchema>, sink?: TokenSink): Promise<Record<string, unknown>> {
  const { record, c } = await load(ctx, receipt.contract_id);
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
        throw new RefusedError(err.code, `${err.message}. Resend the request (an answer changed on its way gets the mint's stored one again); if the mint keeps answering so, settle this payment without its ecash: offchain credit abandon --role user --start --contract ${c.id} | (mint) offchain credit abandon --role mint | offchain credit abandon --role user --token-out FILE`);
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
 * for this user's outputs — a mint that signed other outputs, or an answer changed on its
 * way twice. The state stands (the mint holds it and can exit with it), so the record
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

export function balanceMessage(ctx: UserContext, c: CreditContract, record: UserContractRecord, payment?: { amount: number; proofs: number; token_out: string }): Record<string, unknown> {
  const left = maxCumulative(c) - BigInt(record.confirmed.cumulative_sat);
  return {
    type: 'credit/balance', version: 1, network: ctx.network, contract_id: c.id, state: record.confirmed.state,
    cumulative_sat: record.confirmed.cumulative_sat, spendable_sat: Number(left > 0n ? left : 0n), expiry_height: c.expiryHeight,
    ...(record.ecash ? {
      ecash: {
        issued_sat: record.ecash.issued_sat,
        ...(record.ecash.unpaid ? { unpaid_sat: record.ecash.unpaid.amount_sat, unpaid_state: record.ecash.unpaid.state } : {}),
        ...(payment ? { this_payment_sat: payment.amount, proofs: payment.proofs, token_out: payment.token_out } : {}),
        counter: record.ecash.counter,
      },
    } : {}),
  };
}

/** Cooperative close at `feeRate`, paying the mint its acknowledged cumulative amount. */
export async function closeRequest(ctx: UserContext, id: string, feeRate: number): Promise<Record<string, unknown>> {
  const { record, c } = await load(ctx, id);
  const resend = checkCanSign(record, 'close', (p) => (p.request as { fee_rate?: number }).fee_rate === feeRate, (p) => ` (at ${(p.request as { fee_rate?: number }).fee_rate} sat/vB)`);
  if (resend) return resend;
  const state = record.confirmed.state + 1;
  const cumulative = BigInt(record.confirmed.cumulative_sat);
  const tx = buildClose(c, cumulative, feeRate);
  userSignAgainst(tx, 0, ctx.user, c.mintPubkey, record.mint_nonce!);
  const request = {
    type: 'credit/close-request', version: 1, network: ctx.network, contract_id: c.id, state,
    cumulative_sat: Number(cumulative), fee_rate: feeRate, psbt: base64.encode(serializePsbt(tx)),
  };
  await ctx.records.put({ ...record, pending: { kind: 'close', state, cumulative_sat: Number(cumulative), txid: tx.id, request } });
  return request;
}

/** Check a signed spend of the contract is the one we asked for and its signature valid. */
function checkSignedSpend(hex: string, expectedTxid: string, c: CreditContract, prevouts: { script: Uint8Array; amount: bigint }[]): void {
  let tx: Transaction;
  try {
    tx = Transaction.fromRaw(fromHex(hex, 'hex'), { allowUnknownOutputs: true });
  } catch {
    throw new MalformedInputError('E_MALFORMED_TX', 'the signed transaction does not parse');
  }
  if (tx.id !== expectedTxid) refuse('E_RECEIPT_MISMATCH', `the signed transaction ${tx.id} is not the one this user signed (${expectedTxid})`);
  const witness = tx.getInput(0).finalScriptWitness;
  const msg = tx.preimageWitnessV1(0, prevouts.map((p) => p.script), 0, prevouts.map((p) => p.amount));
  if (!witness || witness.length !== 1 || !schnorr.verify(witness[0]!, msg, c.key.output.outputKey)) {
    refuse('E_BAD_SIGNATURE', 'the contract input\'s signature does not verify');
  }
}

export async function applyClosed(ctx: UserContext, closed: Static<typeof ClosedSchema>): Promise<Record<string, unknown>> {
  const { record, c } = await load(ctx, closed.contract_id);
  if (record.status === 'closed') {
    if (closed.txid !== record.closed?.txid || closed.hex !== record.closed?.hex) {
      refuse('E_RECEIPT_MISMATCH', `the close ${closed.txid} is not the one this user signed (${record.closed?.txid})`);
    }
    return { ...closed };
  }
  const p = record.pending;
  if (!p || p.kind !== 'close') refuse('E_RECEIPT_MISMATCH', `no close of contract ${c.id} is waiting`);
  checkSignedSpend(closed.hex, p.txid, c, [{ script: c.script, amount: c.capacity }]);
  const updated = { ...record, status: 'closed' as const, closed: { txid: closed.txid, hex: closed.hex } };
  delete updated.pending;
  await ctx.records.put(updated);
  return { ...closed };
}

export type RolloverParams = { expiryHeight: number; feeRate: number; topUp?: TopUp };

/**
 * Rollover, round 1: propose the rollover (unsigned) and the next contract's refund with
 * the user's nonce. The user signs the rollover only in round 2, once that refund is
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
    return resend;
  }
  checkExpiryHeight(p.expiryHeight, (await ctx.chain.tip()).height, record.expiry_window);
  const next = makeContract({ ...c, capacity: newCapacity, funding: { txid, vout }, expiryHeight: p.expiryHeight, feeRate: c.feeRate });
  const request = {
    type: 'credit/rollover-request', version: 1, network: ctx.network, contract_id: c.id, state, cumulative_sat: Number(cumulative),
    fee_rate: p.feeRate, new_contract_id: next.id, new_contract: termsToJson(next), rollover_psbt: base64.encode(serializePsbt(tx)),
    refund_psbt: await refundRequest(ctx, next),
  };
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

/** The user's exit after expiry: the signed refund, and whether the tip allows it yet. */
/** The user's refund, from its records alone: no key needed (a monitoring job can run it). */
export async function refundMessage(ctx: Pick<UserContext, 'network' | 'records' | 'chain'>, id: string): Promise<{ message: Record<string, unknown>; final: boolean; explain: string }> {
  const { record, c } = await load(ctx, id);
  if (!record.refund) refuse('E_NO_REFUND', `contract ${id} has no signed refund (status ${record.status})`);
  const tip = await ctx.chain.tip();
  const final = isFinal({ lockTime: c.expiryHeight, inputs: [{ sequence: 0xfffffffd }] }, tip.height, 0);
  return {
    final,
    explain: `the refund's nLockTime ${c.expiryHeight} is final once the tip reaches ${c.expiryHeight} (now ${tip.height})`,
    message: { type: 'credit/refund', version: 1, network: ctx.network, contract_id: c.id, ...record.refund, final, final_from_height: c.expiryHeight + 1 },
  };
}

