/**
 * The user's open (BRIEF §3.1, docs/credit.md "Opening"): where to fund, the
 * open-request carrying the refund to co-sign, and its finish once the mint's partial
 * signature comes back — only then may the funding PSBT be signed. The refund's own
 * steps (its nonce, its completion) are user-refund.ts; the invariants and the step
 * table, user.ts.
 */
import { base64 } from '@scure/base';
import type { Static } from '@sinclair/typebox';
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import { RefusedError, StateConflictError } from '../errors.ts';
import { parsePsbt } from '../psbt/parse.ts';
import { contractAddress, termsFromJson, termsToJson } from './codec.ts';
import type { UserContext, UserContractRecord } from './ports.ts';
import { checkFunding } from './rules.ts';
import type { CreditOfferSchema, OpenAcceptSchema } from './schemas.ts';
import { contractKey, makeContract, type CreditContract } from './terms.ts';
import { checkEcashOffer } from './ecash.ts';
import { checkExpiryHeight, load, nextCounter, offerWindow } from './user.ts';
import { checkFirstNonce, completeRefund, putOrBurn, refundRequest } from './user-refund.ts';
import { checkAnswer } from './answer-signature.ts';

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
  // Its next nonce is the one state 1 is signed against: the mint's, signed, before the refund nonce is spent.
  checkAnswer(accept, c.mintPubkey);
  if (record.status !== 'opening') {
    if (record.refund) return openedMessage(ctx, c, record);
    throw new StateConflictError('E_STALE_STATE', `contract ${c.id} is ${record.status}, not opening: this open-accept answers an open that no longer waits for it (credit list shows the contract)`);
  }
  checkFirstNonce(accept.next_nonce);
  const refund = await completeRefund(ctx, c, accept.refund_psbt);
  const opened: UserContractRecord = { ...record, status: 'open', refund, mint_nonce: accept.next_nonce };
  delete opened.open_request;
  await ctx.records.put(opened);
  return openedMessage(ctx, c, opened);
}
