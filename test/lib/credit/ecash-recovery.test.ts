/**
 * No receipt for outputs the user did not ask for can freeze its contract (issue 36,
 * deliver 2). Before: the user refused such a receipt (E_BAD_DLEQ), its resend and its
 * abandon got the same receipt back, and the contract was E_PENDING until the refund at
 * expiry — the payment made, no ecash, the rest of the balance locked for a month.
 *
 * Now the abandon settles it: the mint's own answer to the abandon is a receipt for the
 * user's state, so the state stands, and its ecash is recorded unpaid. Then the way ends
 * with the user paid or refunded:
 * - paid: the mint did sign the user's outputs (its answers got their ecash wrong: a relay's
 *   change is refused before, E_RECEIPT_FORGED): its NUT-09 restore gives them back (credit
 *   ecash claim) and payments resume;
 * - refunded: it never did (a dishonest mint, or a relay's outputs signed before the user
 *   signed its outputs): the claim finds nothing, no further payment is signed into the
 *   contract (so such a mint gains that one payment, no more), and the user closes and
 *   takes the rest of its balance back — the close checked by test code.
 * What a dishonest mint can do with the claim: answer garbage — refused, nothing kept.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { fromHex } from '../../../src/lib/bytes.ts';
import * as mint from '../../../src/lib/credit/mint.ts';
import { applyClosed, closeRequest } from '../../../src/lib/credit/user-close.ts';
import { applyReceipt, updateRequest } from '../../../src/lib/credit/user-update.ts';
import { makeOutputs } from '../../../src/lib/credit/ecash.ts';
import { abandonRequest, acceptAbandon } from '../../../src/lib/credit/abandon.ts';
import { applyClaim, claimRequest, type RestoreAnswer } from '../../../src/lib/credit/ecash-claim.ts';
import { readRestoreRequest, restoreSignatures } from '../../../src/lib/credit/ecash-restore.ts';
import { termsFromJson } from '../../../src/lib/credit/codec.ts';
import { musigTaprootOutput, publicKeyOf } from '../../independent/keys.ts';
import { bytesOf, hexOf } from '../../independent/tx.ts';
import { verifyKeyPathSpend } from '../../independent/verify.ts';
import { asMint, expectRefused } from './tamper.ts';
import { KS, ecashWorld, memorySink, open, redeemable, signedByUser, type UpdateRequest, type W } from './ecash-world.ts';

const CONTRACT = musigTaprootOutput([publicKeyOf(bytesOf('b2'.repeat(32))), publicKeyOf(bytesOf('a1'.repeat(32)))]);

/** What the user's "credit abandon" round gets for a state the mint signed: its stored receipt. */
async function abandonRound(w: W, id: string, change: (r: Record<string, unknown>) => Record<string, unknown> = (r) => r) {
  const start = await abandonRequest(w.user, id);
  const answer = await w.mintBook.step(() => acceptAbandon(w.mint, start as never));
  expect(answer.type).toBe('credit/receipt');
  return change(JSON.parse(JSON.stringify(answer)));
}

/** A receipt whose ecash the mint's answer got wrong, signed by it: the first signature's DLEQ s replaced by its e. */
function corrupted(r: Record<string, unknown>): Record<string, unknown> {
  const c = JSON.parse(JSON.stringify(r));
  c.signatures[0].dleq.s = c.signatures[0].dleq.e;
  return asMint(c);
}

async function restoreFor(w: W, req: Record<string, unknown>): Promise<RestoreAnswer> {
  return { network: 'regtest', ...(await restoreSignatures(w.mintBook, [KS], readRestoreRequest(req))) };
}

describe('a mint that signs the state and outputs the user did not ask for: not frozen, and refunded', () => {
  const w = ecashWorld();
  afterAll(() => w.dir.cleanup());

  it('receipt refused, resend refused; the abandon settles the state unpaid; no further payment; the claim finds nothing; the close pays the user the rest (checked by test code)', async () => {
    const id = await open(w);
    const genuine = await updateRequest(w.user, id, 1000n) as UpdateRequest;
    // The mint signs the user's state with other outputs — a mint skipping its check, or a relay's swap
    // signed before requests carried the user's signature (played here by signing them as the user).
    const swapped = signedByUser({ ...genuine, outputs: makeOutputs(fromHex('e7'.repeat(64)), KS.id, 0, 1000n) });
    const receipt = await w.mintBook.step(() => mint.acceptUpdate(w.mint, swapped as never));
    const refused = await expectRefused(w.dir.path, () => applyReceipt(w.user, receipt as never, memorySink()), { code: 'E_BAD_DLEQ', exitCode: 4, message: /settle this payment without its ecash: .*credit abandon --role user --start/ });
    expect(refused.message).toContain(`--contract ${id}`);
    // the resend gets the stored receipt: the same refusal
    expect(await updateRequest(w.user, id, 1000n)).toEqual(genuine);
    expect(JSON.stringify(await w.mintBook.step(() => mint.acceptUpdate(w.mint, genuine as never)))).toBe(JSON.stringify(receipt));
    // the abandon: the mint answers its stored receipt; the user settles the state without its ecash
    const sink = memorySink();
    const balance = await applyReceipt(w.user, await abandonRound(w, id) as never, sink) as { state: number; cumulative_sat: number; ecash: Record<string, unknown> };
    expect(sink.token).toBeUndefined();
    expect([balance.state, balance.cumulative_sat]).toEqual([1, 1000]);
    expect(balance.ecash).toMatchObject({ issued_sat: 0, unpaid_sat: 1000, unpaid_state: 1 });
    const record = (await w.userBook.get(id))!;
    expect(record.pending).toBeUndefined();
    expect(record.mint_nonce).toEqual(receipt.next_nonce);
    // no further payment is signed into this contract: the mint gains this one payment, no more
    const e = await expectRefused(w.dir.path, () => updateRequest(w.user, id, 500n), { code: 'E_ECASH_UNPAID', exitCode: 4, message: /pay no more into it/ });
    expect(e.message).toContain('close-credit --role user --start');
    // the claim: the mint never signed the user's outputs, its restore has nothing
    const answer = await restoreFor(w, await claimRequest(w.user, id));
    expect(answer.signatures).toEqual([]);
    await expectRefused(w.dir.path, () => applyClaim(w.user, answer, memorySink()), { code: 'E_ECASH_UNPAID', exitCode: 4, message: /never signed them\. Close the contract/ });
    await expectRefused(w.dir.path, () => applyClaim(w.user, answer, memorySink(), id), { code: 'E_ECASH_UNPAID', exitCode: 4, message: /never signed your outputs/ });
    // refunded: the cooperative close pays the mint its 1000 and the user the rest
    const close = await closeRequest(w.user, id, 3);
    const closed = await w.mintBook.step(() => mint.acceptClose(w.mint, close as never));
    await applyClosed(w.user, closed as never);
    const c = termsFromJson(record.contract, 'regtest');
    const tx = verifyKeyPathSpend(closed.hex as string, [{ txid: c.funding.txid, vout: c.funding.vout, amount: c.capacity, script: CONTRACT.script }], CONTRACT.outputKey);
    expect(tx.outputs.map((o) => hexOf(o.script))).toEqual([hexOf(c.payoutScript), hexOf(c.changeScript)]);
    expect(tx.outputs[0]!.amount).toBe(1000n);
    expect(tx.outputs[1]!.amount).toBeGreaterThan(c.capacity - 1000n - 1000n); // the rest, less the close's fee
  });
});

describe('a receipt whose ecash the mint got wrong (twice): settled unpaid, then paid through the mint\'s restore', () => {
  const w = ecashWorld(fromHex('3d'.repeat(64)));
  afterAll(() => w.dir.cleanup());

  it('the claim gets the signatures the mint made; the token redeems; payments resume; issued = cumulative', async () => {
    const id = await open(w);
    const req = await updateRequest(w.user, id, 2048n) as UpdateRequest;
    const receipt = await w.mintBook.step(() => mint.acceptUpdate(w.mint, req as never));
    await expectRefused(w.dir.path, () => applyReceipt(w.user, corrupted(receipt as never) as never, memorySink()), { code: 'E_BAD_DLEQ', exitCode: 4, message: /the mint's own answer/ });
    const settled = await applyReceipt(w.user, await abandonRound(w, id, corrupted) as never, memorySink()) as { ecash: Record<string, unknown> };
    expect(settled.ecash).toMatchObject({ issued_sat: 0, unpaid_sat: 2048 });
    const claim = await claimRequest(w.user, id);
    expect(claim).toEqual({ type: 'credit/restore-request', version: 1, network: 'regtest', outputs: req.outputs });
    const answer = await restoreFor(w, claim);
    expect(answer.signatures).toEqual(receipt.signatures);
    // a dishonest answer to the claim: refused, nothing kept, still unpaid
    const garbage = { ...answer, signatures: answer.signatures.map((s, i) => (i === 0 ? { ...s, dleq: { ...s.dleq, s: s.dleq.e } } : s)) };
    await expectRefused(w.dir.path, () => applyClaim(w.user, garbage, memorySink()), { code: 'E_BAD_DLEQ', exitCode: 4, message: /DLEQ/ });
    await expectRefused(w.dir.path, () => applyClaim(w.user, { ...answer, signatures: answer.signatures.slice(1) }, memorySink()), { code: 'E_BAD_SIGNATURES', exitCode: 4, message: /1 outputs with 0 signatures/ });
    const sink = memorySink();
    const paid = await applyClaim(w.user, answer, sink) as { ecash: Record<string, unknown> };
    expect(redeemable(sink.token!)).toBe(2048n);
    expect(paid.ecash).toMatchObject({ issued_sat: 2048, this_payment_sat: 2048 });
    expect(paid.ecash.unpaid_sat).toBeUndefined();
    // payments resume
    const next = await updateRequest(w.user, id, 100n);
    const sink2 = memorySink();
    const b = await applyReceipt(w.user, await w.mintBook.step(() => mint.acceptUpdate(w.mint, next as never)) as never, sink2) as { cumulative_sat: number; ecash: { issued_sat: number } };
    expect(redeemable(sink2.token!)).toBe(100n);
    expect([b.cumulative_sat, b.ecash.issued_sat]).toEqual([2148, 2148]);
    expect((await w.mintBook.get(id))!.ecash_issued_sat).toBe(2148);
    // nothing left to claim
    await expect(claimRequest(w.user, id)).rejects.toMatchObject({ code: 'E_NOTHING_UNPAID', exitCode: 5 });
  });
});
