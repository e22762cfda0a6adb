/**
 * A keyset rotation in the middle of a contract's payments, with the user's outputs bound
 * to it (outputs_signature) and whoever relays the messages trying its luck: the two
 * halves of issue 36 together.
 *
 * Invariants, by name:
 * - the payment made across the rotation carries the user's signature over its outputs
 *   under the keyset the user knew; a relay that swaps them for its own, under the new
 *   keyset or the old, gets a refusal (E_OUTPUTS_SIGNATURE) with nothing written and the
 *   nonce unused, and the genuine request is then signed (and announces the new keyset);
 * - a relay that swaps the receipt's next_keyset for a keyset of its own, or drops it, is
 *   refused (E_RECEIPT_FORGED: the mint signs its whole answer, answer-signature.ts) before
 *   the token or the record is written; the resend gets the mint's stored receipt, which
 *   applies and adopts the new keyset; a swapped announcement the mint itself signed the
 *   receipt over is still refused by the announcement's own signature (E_BAD_NEXT_KEYSET);
 * - a payment settled unpaid across the rotation keeps the announcement: the user adopts
 *   the new keyset with the state, the claim checks the unpaid outputs under the old keys,
 *   and the payments after it are made under the new keyset.
 * Every token is redeemed by the test-code Nutshell of the keyset it names (index 0, or
 * index 1 as Nutshell's rotation RPC announces it).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import * as mint from '../../../src/lib/credit/mint.ts';
import * as user from '../../../src/lib/credit/user-update.ts';
import { ecashOffer, makeOutputs } from '../../../src/lib/credit/ecash.ts';
import { abandonRequest, acceptAbandon } from '../../../src/lib/credit/abandon.ts';
import { applyClaim, claimRequest } from '../../../src/lib/credit/ecash-claim.ts';
import { readRestoreRequest, restoreSignatures } from '../../../src/lib/credit/ecash-restore.ts';
import { EcashSigner } from '../../../src/lib/credit/ecash-signer.ts';
import { followKeysets, publishedKeysets, settleKeyset } from '../../../src/lib/credit/ecash-reproduce.ts';
import { readKeysAnswer, readKeysetsAnswer, type LiveMint } from '../../../src/lib/credit/ecash-answers.ts';
import { deriveMintKeyset } from '../../../src/lib/ecash/nut01.ts';
import { decodeToken } from '../../../src/lib/ecash/token.ts';
import { decodeMessage } from '../../../src/lib/message.ts';
import { UpdateRequestSchema } from '../../../src/lib/credit/schemas.ts';
import { nutshellAccepts, nutshellKeyset, type NutshellKeyset } from '../../independent/cashu.ts';
import { loadVector } from '../../helpers.ts';
import { asMint, expectRefused } from './tamper.ts';
import { open, type UpdateRequest } from './ecash-world.ts';
import { POLICY, world } from './world.ts';

const SEED = 'TEST_PRIVATE_KEY';
const URL = 'http://localhost:3338';
const OLD = '01884a74bb2fc5ee6e5f958f89f9e4e6cf79241fbc9fd1012d6811b054a78beffe'; // index 0, fee 100
const NEW = '014d98cc733edadb8f5ce655d41e68c9d86df7649b13414911b287945a0eb88d76'; // index 1 after mint-cli next-keyset (final_expiry 0)
const live = (folder: string): LiveMint => ({
  source: folder,
  keysets: readKeysetsAnswer(loadVector(`nutshell/${folder}/keysets.json`), folder),
  keys: readKeysAnswer(loadVector(`nutshell/${folder}/keys.json`), folder),
});
const NUTSHELL = new Map<string, NutshellKeyset>([
  [OLD, nutshellKeyset(SEED)],
  [NEW, { ...nutshellKeyset(SEED, "m/0'/0'/1'"), id: NEW }], // the id as Nutshell's rotation RPC made it
]);

/** Every proof accepted by the test-code Nutshell of the keyset it names: the amount and the ids. */
function redeem(token: string): { amount: bigint; ids: string[] } {
  let amount = 0n;
  const ids = new Set<string>();
  for (const p of decodeToken(token).proofs) {
    expect(nutshellAccepts(NUTSHELL.get(p.id)!, { id: p.id, amount: p.amount, secret: p.secret, C: toHex(p.C) }), p.id).toBe(true);
    amount += p.amount;
    ids.add(p.id);
  }
  return { amount, ids: [...ids] };
}

/** A world whose ecash mint is a fresh Nutshell 0.20.3 (test/vectors/nutshell/default), rotated once by `rotate`. */
function rotatingWorld(wallet: string) {
  const w = world();
  const ref = { doc: publishedKeysets(SEED, settleKeyset(SEED, {}, live('default')), undefined, live('default')).doc };
  const signer = new EcashSigner(SEED, async () => ref.doc);
  w.mint.policy = { ...POLICY, ecash: ecashOffer(ref.doc.keysets[0]!, URL) };
  w.mint.ecash = { keyset: deriveMintKeyset(SEED), signer, signatures: w.mintBook };
  w.user.walletSeed = fromHex(wallet.repeat(64));
  const rotate = () => void (ref.doc = followKeysets(SEED, ref.doc, live('default-rotated-once')).doc);
  return { w, rotate, signer };
}

type Receipt = Record<string, any>;
/** The mint's step as the CLI runs it: the request decoded by its schema, in one store step. */
const serve = (w: ReturnType<typeof world>, req: unknown) => w.mintBook.step(() => mint.acceptUpdate(w.mint, decodeMessage(UpdateRequestSchema, req))) as Promise<Receipt>;
const sinkOf = () => {
  const s: { path: string; token?: string; write(t: string): Promise<void> } = { path: 'memory', write: async (t) => void (s.token = t) };
  return s;
};
async function pay(w: ReturnType<typeof world>, id: string, amount: bigint) {
  const request = await user.updateRequest(w.user, id, amount) as UpdateRequest;
  const receipt = await serve(w, request);
  const sink = sinkOf();
  await user.applyReceipt(w.user, receipt as never, sink);
  return { request, receipt, token: sink.token! };
}
const nonceStatus = async (w: ReturnType<typeof world>, id: string) => w.mint.nonces.status(fromHex((await w.userBook.get(id))!.mint_nonce!.pubnonce));

describe('the payment across a rotation, its outputs bound to the payer', () => {
  const { w, rotate } = rotatingWorld('4a');
  afterAll(() => w.dir.cleanup());

  it('a relay\'s outputs, under the new keyset or the old, are refused (E_OUTPUTS_SIGNATURE), nothing written, the nonce unused; the genuine request is signed under the old keyset and announces the new one', async () => {
    const id = await open(w);
    expect(redeem((await pay(w, id, 1000n)).token)).toEqual({ amount: 1000n, ids: [OLD] });
    rotate();
    const genuine = await user.updateRequest(w.user, id, 700n) as UpdateRequest;
    expect(genuine.outputs.every((o) => o.id === OLD)).toBe(true);
    const relaySeed = fromHex('e1'.repeat(64));
    for (const under of [NEW, OLD]) {
      const swapped = { ...genuine, outputs: makeOutputs(relaySeed, under, 0, 700n) };
      await expectRefused(w.dir.path, () => serve(w, swapped), { code: 'E_OUTPUTS_SIGNATURE', exitCode: 4, message: /not the contract user's signature over these outputs/ });
      expect(await nonceStatus(w, id)).toBe('unused');
    }
    const receipt = await serve(w, genuine);
    expect(receipt.signatures.map((s: { id: string }) => s.id)).toEqual(genuine.outputs.map(() => OLD));
    expect(receipt.next_keyset.id).toBe(NEW);
    const sink = sinkOf();
    await user.applyReceipt(w.user, receipt as never, sink);
    expect(redeem(sink.token!)).toEqual({ amount: 700n, ids: [OLD] });
    const after = await pay(w, id, 1234n);
    expect(after.request.outputs.every((o) => o.id === NEW)).toBe(true);
    expect(redeem(after.token)).toEqual({ amount: 1234n, ids: [NEW] });
  });
});

describe('a relay and the receipt\'s next_keyset', () => {
  it('swapped for a keyset of its own (a valid id for its keys, the announcement\'s signature kept): E_RECEIPT_FORGED — E_BAD_NEXT_KEYSET under the mint\'s own signature — nothing written; the resend gets the stored receipt, which applies', async () => {
    const { w, rotate } = rotatingWorld('4b');
    try {
      const id = await open(w);
      await pay(w, id, 500n);
      rotate();
      const request = await user.updateRequest(w.user, id, 300n);
      const receipt = await serve(w, request);
      const relay = deriveMintKeyset('the relay\'s own seed', { path: "m/0'/0'/1'" });
      const keys = Object.fromEntries([...relay.keys].map(([a, K]) => [a.toString(), toHex(K)]));
      const swapped = { ...receipt, next_keyset: { ...receipt.next_keyset, id: relay.id, final_expiry: null, keys } };
      await expectRefused(w.dir.path, () => user.applyReceipt(w.user, swapped as never, sinkOf()), { code: 'E_RECEIPT_FORGED', exitCode: 4, message: /not signed by this contract's mint key/ });
      await expectRefused(w.dir.path, () => user.applyReceipt(w.user, asMint(swapped) as never, sinkOf()), { code: 'E_BAD_NEXT_KEYSET', exitCode: 4, message: /not signed by the mint's key/ });
      // the resend: the same request, the mint's stored receipt
      expect(await user.updateRequest(w.user, id, 300n)).toEqual(request);
      const again = await serve(w, request);
      expect(JSON.stringify(again)).toBe(JSON.stringify(receipt));
      const sink = sinkOf();
      await user.applyReceipt(w.user, again as never, sink);
      expect(redeem(sink.token!)).toEqual({ amount: 300n, ids: [OLD] });
      expect((await w.userBook.get(id))!.ecash).toMatchObject({ keyset_id: NEW, previous_keyset: { keyset_id: OLD } });
    } finally {
      w.dir.cleanup();
    }
  });

  it('dropped: E_RECEIPT_FORGED, nothing written; the resend gets the stored receipt, and the user adopts the new keyset with it — no payment refused for it', async () => {
    const { w, rotate } = rotatingWorld('4c');
    try {
      const id = await open(w);
      await pay(w, id, 500n);
      rotate();
      const request = await user.updateRequest(w.user, id, 300n) as UpdateRequest;
      const receipt = await serve(w, request);
      expect(receipt.next_keyset.id).toBe(NEW); // the mint announced it; the relay drops it
      const { next_keyset: _dropped, ...dropped } = receipt;
      await expectRefused(w.dir.path, () => user.applyReceipt(w.user, dropped as never, sinkOf()), { code: 'E_RECEIPT_FORGED', exitCode: 4, message: /not signed by this contract's mint key/ });
      expect(await user.updateRequest(w.user, id, 300n)).toEqual(request);
      const sink = sinkOf();
      await user.applyReceipt(w.user, (await serve(w, request)) as never, sink);
      expect(redeem(sink.token!)).toEqual({ amount: 300n, ids: [OLD] });
      expect((await w.userBook.get(id))!.ecash!.keyset_id).toBe(NEW);
      const after = await pay(w, id, 100n);
      expect(after.request.outputs.every((o) => o.id === NEW)).toBe(true);
      expect(after.receipt.next_keyset).toBeUndefined();
      expect(redeem(after.token)).toEqual({ amount: 100n, ids: [NEW] });
      expect((await w.mintBook.get(id))!.ecash_issued_sat).toBe(900);
    } finally {
      w.dir.cleanup();
    }
  });
});

describe('a payment settled unpaid across the rotation', () => {
  const { w, rotate, signer } = rotatingWorld('4d');
  afterAll(() => w.dir.cleanup());

  /** A receipt whose ecash the mint got wrong, signed by it: the first signature's DLEQ s replaced by its e. */
  const corrupted = (r: Receipt): Receipt => {
    const c = JSON.parse(JSON.stringify(r));
    c.signatures[0].dleq.s = c.signatures[0].dleq.e;
    return asMint(c);
  };

  it('adopts the announced keyset with the state; the claim checks the unpaid outputs under the old keys; the payments after it are under the new keyset', async () => {
    const id = await open(w);
    await pay(w, id, 500n);
    rotate();
    const request = await user.updateRequest(w.user, id, 640n) as UpdateRequest;
    const receipt = await serve(w, request);
    expect(receipt.next_keyset.id).toBe(NEW);
    await expectRefused(w.dir.path, () => user.applyReceipt(w.user, corrupted(receipt) as never, sinkOf()), { code: 'E_BAD_DLEQ', exitCode: 4, message: /settle this payment without its ecash/ });
    // the abandon: the mint's stored receipt, as wrong again → settled unpaid, the announcement kept
    const start = await abandonRequest(w.user, id);
    const answer = await w.mintBook.step(() => acceptAbandon(w.mint, start as never));
    const settled = await user.applyReceipt(w.user, corrupted(answer as Receipt) as never, sinkOf()) as { ecash: Record<string, unknown> };
    expect(settled.ecash).toMatchObject({ unpaid_sat: 640, unpaid_state: 2, issued_sat: 500 });
    expect((await w.userBook.get(id))!.ecash).toMatchObject({ keyset_id: NEW, counter: 0, previous_keyset: { keyset_id: OLD }, unpaid: { state: 2, outputs: request.outputs } });
    // the claim, through the mint's restore over the keysets it keeps
    const kept = await signer.kept();
    const restored = await restoreSignatures(w.mintBook, kept, readRestoreRequest(await claimRequest(w.user, id)));
    expect(restored.signatures.map((s) => s.id)).toEqual(request.outputs.map(() => OLD));
    const sink = sinkOf();
    const paid = await applyClaim(w.user, { network: 'regtest', ...restored }, sink) as { ecash: Record<string, unknown> };
    expect(paid.ecash).toMatchObject({ this_payment_sat: 640, issued_sat: 1140 });
    expect(redeem(sink.token!)).toEqual({ amount: 640n, ids: [OLD] });
    // payments resume, under the new keyset
    const after = await pay(w, id, 77n);
    expect(after.request.outputs.every((o) => o.id === NEW)).toBe(true);
    expect(after.receipt.next_keyset).toBeUndefined();
    expect(redeem(after.token)).toEqual({ amount: 77n, ids: [NEW] });
  });
});
