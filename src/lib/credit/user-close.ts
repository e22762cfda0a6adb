/**
 * The user's cooperative close (BRIEF §3.1, docs/credit.md "Closing"): the close at a
 * fee rate paying the mint its acknowledged cumulative amount, signed against the mint's
 * nonce, and the mint's fully signed close checked against it.
 */
import { base64 } from '@scure/base';
import type { Static } from '@sinclair/typebox';
import { Transaction } from '@scure/btc-signer';
import { schnorr } from '@noble/curves/secp256k1.js';
import { fromHex } from '../bytes.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { serializePsbt } from '../psbt/parse.ts';
import type { UserContext } from './ports.ts';
import type { ClosedSchema } from './schemas.ts';
import { userSignAgainst } from './signing.ts';
import type { CreditContract } from './terms.ts';
import { buildClose } from './transactions.ts';
import { checkCanSign, load } from './user.ts';
import { checkAnswer } from './answer-signature.ts';

function refuse(code: string, message: string): never {
  throw new RefusedError(code, message);
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
  checkAnswer(closed, c.mintPubkey);
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
