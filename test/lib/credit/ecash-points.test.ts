/**
 * One signature per point (issue 36, found 4): a B_ and its negation (prefix 02 ↔ 03,
 * the same x) are one point up to sign, and the mint signs each point once — across
 * requests and contracts, and within one request. Before, "a B_ is signed once" held per
 * encoding: the negated B_ of an earlier output was signed again in a later state (the
 * payer paying twice for one proof). Each request here is signed by the user itself
 * (signedByUser): the rule under test refuses it, not the outputs signature.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { fromHex } from '../../../src/lib/bytes.ts';
import * as mint from '../../../src/lib/credit/mint.ts';
import * as user from '../../../src/lib/credit/user-update.ts';
import { expectRefused } from './tamper.ts';
import { ecashWorld, memorySink, open, signedByUser, type UpdateRequest } from './ecash-world.ts';

const negate = (B_: string) => (B_.startsWith('02') ? '03' : '02') + B_.slice(2);

describe('one signature per point: B_ up to negation', () => {
  const w = ecashWorld();
  afterAll(() => w.dir.cleanup());

  it('the negation of a B_ signed in an earlier state is refused (E_BLINDED_MESSAGE_REUSED) before the nonce is taken, in this contract and another', async () => {
    const id = await open(w);
    const first = await user.updateRequest(w.user, id, 512n) as UpdateRequest;
    await user.applyReceipt(w.user, await mint.acceptUpdate(w.mint, first as never) as never, memorySink());
    const next = await user.updateRequest(w.user, id, 512n) as UpdateRequest;
    const nonce = (await w.userBook.get(id))!.mint_nonce!;
    const negated = signedByUser({ ...next, outputs: [{ ...first.outputs[0]!, B_: negate(first.outputs[0]!.B_) }] });
    await expectRefused(w.dir.path, () => mint.acceptUpdate(w.mint, negated as never), { code: 'E_BLINDED_MESSAGE_REUSED', exitCode: 4, message: /B_'s negation was already signed \(contract [0-9a-f]{64}, state 1\)/ });
    expect(await w.mint.nonces.status(fromHex(nonce.pubnonce))).toBe('unused');
    expect(await w.mintBook.blindSignatureOwner(negated.outputs[0]!.B_)).toBeUndefined();
    const other = await open(w);
    const elsewhere = await user.updateRequest(w.user, other, 512n) as UpdateRequest;
    await expectRefused(w.dir.path, () => mint.acceptUpdate(w.mint, signedByUser({ ...elsewhere, outputs: negated.outputs }) as never), { code: 'E_BLINDED_MESSAGE_REUSED', exitCode: 4, message: /negation was already signed/ });
    // the honest next request is signed
    expect((await mint.acceptUpdate(w.mint, next as never)).signatures).toHaveLength(1);
  });

  it('a B_ and its negation in one request: refused, nothing written', async () => {
    const id = await open(w);
    const req = await user.updateRequest(w.user, id, 768n) as UpdateRequest; // 512 + 256
    expect(req.outputs).toHaveLength(2);
    const pair = signedByUser({ ...req, outputs: [req.outputs[0]!, { ...req.outputs[1]!, B_: negate(req.outputs[0]!.B_) }] });
    await expectRefused(w.dir.path, () => mint.acceptUpdate(w.mint, pair as never), { code: 'E_BLINDED_MESSAGE_REUSED', exitCode: 4, message: /\(or its negation\) appears twice/ });
  });
});
