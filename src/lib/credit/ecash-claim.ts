/**
 * The user's way to be paid a payment the mint signed without its ecash (user-update.ts,
 * settleUnpaid): ask the mint's NUT-09 restore for the outputs of that payment, and keep
 * the token if — and only if — every one of them comes back signed, each DLEQ valid
 * against the offer's keys. Then the payment is paid and payments resume. If the mint
 * never signed those outputs (it signed others, before the user signed its outputs or
 * dishonestly), nothing comes back: the payment stays unpaid and the user closes the
 * contract, keeping the rest of its balance (or takes its refund at expiry).
 *
 *   step   state                    message in        checks                                   written                          out
 *   start  ecash.unpaid (state n)   —                 a payment unpaid                         nothing                          credit/restore-request (its outputs)
 *   apply  ecash.unpaid (state n)   credit/restore    every unpaid output signed, every DLEQ   token file (0600), then record   credit/balance (unpaid cleared)
 *
 * What a dishonest mint can do with it: nothing more than with the receipt — it learns
 * B_s it already saw, and any answer that is not a valid signature on the user's own B_
 * under the offer's keys is refused (E_BAD_DLEQ / E_BAD_SIGNATURES), nothing kept.
 */
import { RefusedError, StateConflictError, UsageError } from '../errors.ts';
import { encodeTokenV4 } from '../ecash/token.ts';
import { receiveSignatures, type BlindSignatureJson, type BlindedMessageJson } from './ecash.ts';
import type { UserContext, UserContractRecord } from './ports.ts';
import { balanceMessage, load, walletSeed, type TokenSink } from './user.ts';

export type RestoreAnswer = { network: string; outputs: { amount: number; id: string; B_: string }[]; signatures: BlindSignatureJson[] };

function unpaidOf(record: UserContractRecord) {
  const u = record.ecash?.unpaid;
  if (!u) throw new StateConflictError('E_NOTHING_UNPAID', `contract ${record.contract_id} has no payment waiting for its ecash`);
  return u;
}

/** The NUT-09 restore request for contract `id`'s unpaid payment (what the mint's credit ecash restore reads). */
export async function claimRequest(ctx: UserContext, id: string): Promise<Record<string, unknown>> {
  const { record } = await load(ctx, id);
  const u = unpaidOf(record);
  return { type: 'credit/restore-request', version: 1, network: ctx.network, outputs: u.outputs.map((o: BlindedMessageJson) => ({ amount: o.amount, id: o.id, B_: o.B_ })) };
}

/** The contract with an unpaid payment whose outputs the answer mentions (by B_): its id, the store listed once. */
async function claimedContract(ctx: UserContext, answer: RestoreAnswer, id?: string): Promise<string> {
  if (id) return id;
  const asked = new Set(answer.outputs.map((o) => o.B_));
  const records = await ctx.records.list();
  const matches = records.filter((r) => r.network === ctx.network && r.ecash?.unpaid?.outputs.some((o) => asked.has(o.B_)));
  if (matches.length === 1) return matches[0]!.contract_id;
  if (matches.length === 0) {
    if (!records.some((r) => r.ecash?.unpaid)) throw new StateConflictError('E_NOTHING_UNPAID', 'no contract here has a payment waiting for its ecash');
    throw new RefusedError('E_ECASH_UNPAID', 'the mint\'s answer holds no signature on the outputs of any unpaid payment here: it never signed them. Close the contract (close-credit --role user --start) and keep the rest of its balance');
  }
  throw new UsageError('E_USAGE', `${matches.length} contracts have unpaid payments in this answer: pass --contract ID`);
}

/**
 * The mint's credit/restore for an unpaid payment: every output of it signed, each DLEQ
 * valid (receiveSignatures), the token written to `sink`, then the record: paid.
 */
export async function applyClaim(ctx: UserContext, answer: RestoreAnswer, sink: TokenSink | undefined, id?: string): Promise<Record<string, unknown>> {
  if (answer.outputs.length !== answer.signatures.length) throw new RefusedError('E_BAD_SIGNATURES', `the answer pairs ${answer.outputs.length} outputs with ${answer.signatures.length} signatures (NUT-09: one each)`);
  // Loaded once: the contract named, or the one the answer's outputs point to.
  const { record: r, c } = await load(ctx, await claimedContract(ctx, answer, id));
  const u = unpaidOf(r);
  const e = r.ecash!;
  const signatures = u.outputs.map((o, i) => {
    const at = answer.outputs.findIndex((x) => x.B_ === o.B_);
    if (at < 0) {
      throw new RefusedError('E_ECASH_UNPAID', `the mint answered no signature for output ${i} of state ${u.state} of contract ${c.id}: it never signed your outputs. Close the contract (close-credit --role user --start) and keep the rest of its balance`);
    }
    return answer.signatures[at]!;
  });
  if (!sink) throw new UsageError('E_USAGE', 'the answer carries ecash: pass --token-out FILE (a new 0600 file; "-" for standard output) to keep the token');
  const proofs = receiveSignatures(walletSeed(ctx), e, u, signatures);
  await sink.write(encodeTokenV4({ mint: e.mint_url, unit: e.unit, proofs }));
  const { unpaid: _u, ...rest } = e;
  const paid: UserContractRecord = { ...r, ecash: { ...rest, issued_sat: e.issued_sat + u.amount_sat } };
  await ctx.records.put(paid);
  return balanceMessage(ctx, c, paid, { amount: u.amount_sat, proofs: proofs.length, token_out: sink.path });
}
