/**
 * The user's refund (BRIEF §3.1: refund before funding, always): the refund PSBT with
 * the user's single-use nonce on it, its completion from the mint's partial signature
 * (checked to be exactly the terms' refund, the full signature verified), and the
 * unilateral exit after expiry from the records alone. Used by the open (user-open.ts)
 * and the rollover's next contract (user-rollover.ts).
 */
import { base64 } from '@scure/base';
import { equalBytes } from '../bytes.ts';
import { RefusedError } from '../errors.ts';
import { addPubNonce, finalSignature, partialSignature, readMusigInput, verifyPartialSigs } from '../musig/psbt-keypath.ts';
import { parsePsbtBase64, serializePsbt } from '../psbt/parse.ts';
import { isFinal } from '../chain/finality.ts';
import type { NextNonceJson, UserContext, UserContractRecord } from './ports.ts';
import { checkRefund } from './rules.ts';
import { issueNonce, refundNonceContext, signedKeyPathTx } from './signing.ts';
import type { CreditContract } from './terms.ts';
import { buildRefund } from './transactions.ts';
import { load } from './user.ts';

function refuse(code: string, message: string): never {
  throw new RefusedError(code, message);
}

/** Store a new contract's record; if that fails, the refund nonce just issued for it is destroyed (no unused nonce left behind). */
export async function putOrBurn(ctx: UserContext, c: CreditContract, refundPsbt: string, record: UserContractRecord): Promise<void> {
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
export async function refundRequest(ctx: UserContext, c: CreditContract): Promise<string> {
  const refund = buildRefund(c);
  const pubnonce = await issueNonce(ctx.nonces, ctx.random, ctx.user, c, refundNonceContext(c.id));
  addPubNonce(refund, readMusigInput(refund, 0), ctx.user.publicKey, pubnonce);
  return base64.encode(serializePsbt(refund));
}

/**
 * Complete the refund from the mint's partial signature: check it is exactly the refund
 * of the terms, sign, aggregate, and verify the full signature. Returns the signed refund.
 */
export async function completeRefund(ctx: UserContext, c: CreditContract, refundPsbt: string): Promise<{ txid: string; hex: string }> {
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

export function checkFirstNonce(n: NextNonceJson): void {
  if (n.state !== 1) refuse('E_RECEIPT_MISMATCH', `the mint's first nonce must be for state 1, not ${n.state}`);
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
