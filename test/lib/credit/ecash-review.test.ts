/**
 * Adversarial review of credit-for-ecash (issue 25), in process. Each test names what a
 * party gains (or an honest party loses) when the rule it checks is broken; every token
 * is checked by the test-code Nutshell mint (test/independent/cashu.ts), not by src/.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import * as mint from '../../../src/lib/credit/mint.ts';
import { openFinish, openRequest } from '../../../src/lib/credit/user-open.ts';
import { applyReceipt, updateRequest } from '../../../src/lib/credit/user-update.ts';
import { ecashOffer, makeOutputs } from '../../../src/lib/credit/ecash.ts';
import { abandonRequest, acceptAbandon, applyAbandoned } from '../../../src/lib/credit/abandon.ts';
import { termsFromJson } from '../../../src/lib/credit/codec.ts';
import { deriveMintKeyset } from '../../../src/lib/ecash/nut01.ts';
import { EcashSigner } from '../../../src/lib/credit/ecash-signer.ts';
import { decodeToken, encodeTokenV4 } from '../../../src/lib/ecash/token.ts';
import { keysetFromDocument, tokenMessage } from '../../../src/lib/credit/ecash-view.ts';
import { nutshellAccepts, nutshellKeyset } from '../../independent/cashu.ts';
import { CHANGE, POLICY, REFUND, fundingPsbt, world } from './world.ts';
import { asMint } from './tamper.ts';

const SEED = 'TEST_PRIVATE_KEY';
const KS = deriveMintKeyset(SEED);
const NUTSHELL = nutshellKeyset(SEED);
const WALLET = fromHex('7a'.repeat(64));
const URL = 'http://localhost:3338';

type W = ReturnType<typeof world>;

function ecashWorld(): W {
  const w = world();
  w.mint.policy = { ...POLICY, ecash: ecashOffer(KS, URL) };
  w.mint.ecash = { keyset: KS, signer: EcashSigner.fixed(KS), signatures: w.mintBook };
  w.user.walletSeed = WALLET;
  return w;
}

let inputs = 0;
async function open(w: W): Promise<string> {
  const offer = { type: 'credit/offer' as const, version: 1 as const, network: 'regtest' as const, ...w.mint.policy };
  const req = await openRequest(w.user, {
    offer: offer as never, fundingPsbt: fundingPsbt(1_000_000n, (0x30 + inputs++).toString(16)), expiryHeight: w.chain.height + 4320, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2,
  });
  await openFinish(w.user, (await mint.acceptOpen(w.mint, req as never)) as never);
  const c = termsFromJson((req as { contract: never }).contract, 'regtest');
  w.chain.confirm(c.funding.txid, c.funding.vout, c.capacity, c.script, 3);
  return c.id;
}

/** The proofs' amounts, each accepted by the test-code Nutshell mint; their sum. */
function redeemable(token: string): { sum: bigint; secrets: string[] } {
  const t = decodeToken(token);
  let sum = 0n;
  for (const p of t.proofs) {
    expect(nutshellAccepts(NUTSHELL, { id: p.id, amount: p.amount, secret: p.secret, C: toHex(p.C) })).toBe(true);
    sum += p.amount;
  }
  return { sum, secrets: t.proofs.map((p) => p.secret) };
}

describe('review: two contracts of one user on one keyset never share NUT-13 counters', () => {
  const w = ecashWorld();
  afterAll(() => w.dir.cleanup());

  // Gain if broken: both contracts derive their secrets from the same counters, so the
  // second contract's payment blinds the same secrets: the mint refuses it as a reused
  // B_ (the honest user cannot be paid ecash on it, E_BLINDED_MESSAGE_REUSED), and two
  // credit mints signing one keyset would hand the user the same proof twice — money
  // the Cashu mint redeems once.
  it('contracts opened before either pays: each payment gets fresh secrets and is signed', async () => {
    const a = await open(w);
    const b = await open(w);
    const ra = await updateRequest(w.user, a, 515n) as { outputs: { B_: string }[] };
    let tokenA = '';
    await applyReceipt(w.user, await mint.acceptUpdate(w.mint, ra as never) as never, { path: 'm', write: async (t) => void (tokenA = t) });
    const rb = await updateRequest(w.user, b, 515n) as { outputs: { B_: string }[] };
    const shared = rb.outputs.filter((o) => ra.outputs.some((x) => x.B_ === o.B_));
    expect(shared).toEqual([]);
    let tokenB = '';
    await applyReceipt(w.user, await mint.acceptUpdate(w.mint, rb as never) as never, { path: 'm', write: async (t) => void (tokenB = t) });
    const A = redeemable(tokenA);
    const B = redeemable(tokenB);
    expect([A.sum, B.sum]).toEqual([515n, 515n]);
    expect(B.secrets.filter((s) => A.secrets.includes(s))).toEqual([]);
  });
});

describe('review: a token whose output was lost after the record moved on can be written again', () => {
  const w = ecashWorld();
  afterAll(() => w.dir.cleanup());

  // Gain if broken (an honest user's loss): with --token-out - the token reaches standard
  // output only after the record is stored; a crash, a closed pipe or a full disk there
  // loses bearer money for good, since feeding the same receipt again wrote nothing.
  it('the same receipt fed again with a sink writes the same token (verified again), and changes no balance', async () => {
    const id = await open(w);
    const request = await updateRequest(w.user, id, 1234n);
    const receipt = await mint.acceptUpdate(w.mint, request as never);
    let first = '';
    await applyReceipt(w.user, receipt as never, { path: '-', write: async (t) => void (first = t) });
    expect(redeemable(first).sum).toBe(1234n);
    const before = JSON.stringify(await w.userBook.get(id));
    let again: string | undefined;
    const balance = await applyReceipt(w.user, receipt as never, { path: '-', write: async (t) => void (again = t) }) as { ecash: { issued_sat: number } };
    expect(again).toBe(first);
    expect(balance.ecash.issued_sat).toBe(1234);
    expect(JSON.stringify(await w.userBook.get(id))).toBe(before);
    // the same receipt with its signatures reordered: verified again, so nothing is written
    const reordered = asMint({ ...receipt, signatures: [...receipt.signatures!].reverse() });
    expect(reordered.signatures.length).toBe(5);
    let none: string | undefined;
    await expect(applyReceipt(w.user, reordered as never, { path: '-', write: async (t) => void (none = t) })).rejects.toMatchObject({ code: 'E_BAD_SIGNATURES' });
    expect(none).toBeUndefined();
  });
});

describe('review: credit token decode vouches only for a token of the keyset\'s mint and unit', () => {
  // Gain if broken: a payer hands over real proofs in a token naming its own server as
  // the mint (or another unit). "credit token decode --keyset offer.json" says all_valid,
  // the receiver's wallet swaps at the payer's URL, and the payer's server keeps the
  // proofs (redeeming them at the real mint) while answering the swap with nothing.
  const text = readFileSync('fixtures/credit/token.txt', 'utf8').trim();
  const offer = JSON.parse(readFileSync('fixtures/credit/ecash-offer.json', 'utf8'));
  const keyset = JSON.parse(readFileSync('fixtures/credit/keyset.json', 'utf8'));
  const t = decodeToken(text);

  it('the honest token verifies against the offer and the keyset (so the refusals below are for the one field changed)', () => {
    expect(tokenMessage('regtest', text, t, keysetFromDocument(offer))).toMatchObject({ all_valid: true, mint: offer.ecash.mint_url });
    expect(tokenMessage('regtest', text, t, keysetFromDocument(keyset))).toMatchObject({ all_valid: true });
  });

  it('a token naming another mint than the offer\'s is refused (E_TOKEN_MISMATCH, exit 4)', () => {
    const evil = encodeTokenV4({ ...t, mint: 'https://evil.example' });
    expect(() => tokenMessage('regtest', evil, decodeToken(evil), keysetFromDocument(offer))).toThrow(expect.objectContaining({ code: 'E_TOKEN_MISMATCH', exitCode: 4 }));
  });

  it('a token in another unit than the keyset\'s is refused (E_TOKEN_MISMATCH, exit 4), whichever document gave the keyset', () => {
    const usd = encodeTokenV4({ ...t, unit: 'usd' });
    for (const doc of [offer, keyset]) {
      expect(() => tokenMessage('regtest', usd, decodeToken(usd), keysetFromDocument(doc))).toThrow(expect.objectContaining({ code: 'E_TOKEN_MISMATCH', exitCode: 4 }));
    }
    // a /v1/keys answer says its unit: a usd keyset does not vouch for a sat token (a v01 id commits to the
    // unit, so relabelling this one is caught by its id; a v00 keyset labelled usd by the token's unit)
    const usdKeys = { keysets: [{ ...keyset.keysets[0], unit: 'usd' }] };
    expect(() => keysetFromDocument(usdKeys)).toThrow(expect.objectContaining({ code: 'E_KEYSET_ID_MISMATCH', exitCode: 4 }));
    const usdV00 = { keysets: [{ id: deriveMintKeyset(SEED, { id_version: '00' }).id, unit: 'usd', keys: keyset.keysets[0]!.keys }] };
    expect(() => tokenMessage('regtest', text, t, keysetFromDocument(usdV00))).toThrow(expect.objectContaining({ code: 'E_TOKEN_MISMATCH', exitCode: 4 }));
  });
});

describe('review: what held up (each would have been a finding)', () => {
  const w = ecashWorld();
  afterAll(() => w.dir.cleanup());

  it('a fork of a state (same state, other outputs) gets the stored receipt: no second issuance, no new rows', async () => {
    const id = await open(w);
    const request = await updateRequest(w.user, id, 1024n) as { outputs: { amount: number; id: string; B_: string }[] };
    const first = await mint.acceptUpdate(w.mint, request as never);
    const issued = await w.mintBook.ecashIssuance();
    const digest = w.mintBook.contentDigest();
    const fork = { ...request, outputs: makeOutputs(fromHex('99'.repeat(32)), KS.id, 0, 1024n) };
    expect(fork.outputs[0]!.B_).not.toBe(request.outputs[0]!.B_);
    expect(JSON.stringify(await mint.acceptUpdate(w.mint, fork as never))).toBe(JSON.stringify(first));
    expect(await w.mintBook.ecashIssuance()).toEqual(issued);
    expect(w.mintBook.contentDigest()).toBe(digest);
    expect(await w.mintBook.blindSignatureOwner(fork.outputs[0]!.B_)).toBeUndefined();
    await applyReceipt(w.user, first as never, { path: 'm', write: async () => undefined });
  });

  it('a receipt whose signature is valid (DLEQ and all) for another B_ of the same amount: E_BAD_DLEQ, nothing kept; the honest one then applies', async () => {
    const id = await open(w);
    const r1 = await mint.acceptUpdate(w.mint, await updateRequest(w.user, id, 512n) as never);
    await applyReceipt(w.user, r1 as never, { path: 'm', write: async () => undefined });
    const r2 = await mint.acceptUpdate(w.mint, await updateRequest(w.user, id, 512n) as never);
    const before = JSON.stringify(await w.userBook.get(id));
    let written: string | undefined;
    const swapped = asMint({ ...r2, signatures: r1.signatures });
    await expect(applyReceipt(w.user, swapped as never, { path: 'm', write: async (t) => void (written = t) })).rejects.toMatchObject({ code: 'E_BAD_DLEQ', exitCode: 4 });
    expect(written).toBeUndefined();
    expect(JSON.stringify(await w.userBook.get(id))).toBe(before);
    await applyReceipt(w.user, r2 as never, { path: 'm', write: async (t) => void (written = t) });
    expect(redeemable(written!).sum).toBe(512n);
  });

  it('a request replayed after its nonce was burned by an abandon: refused (E_NONCE_USED), nothing written, no signature row', async () => {
    const id = await open(w);
    w.chain.utxos.clear(); // the funding vanishes: the mint refuses the payment
    const request = await updateRequest(w.user, id, 600n) as { outputs: { B_: string }[] };
    await expect(mint.acceptUpdate(w.mint, request as never)).rejects.toMatchObject({ code: 'E_FUNDING_MISSING' });
    const answer = await acceptAbandon(w.mint, await abandonRequest(w.user, id) as never);
    await applyAbandoned(w.user, answer as never);
    const c = termsFromJson((await w.userBook.get(id))!.contract, 'regtest');
    w.chain.confirm(c.funding.txid, c.funding.vout, c.capacity, c.script, 3);
    const digest = w.mintBook.contentDigest();
    await expect(w.mintBook.step(() => mint.acceptUpdate(w.mint, request as never))).rejects.toMatchObject({ code: 'E_NONCE_USED' });
    expect(w.mintBook.contentDigest()).toBe(digest);
    expect(await w.mintBook.blindSignatureOwner(request.outputs[0]!.B_)).toBeUndefined();
    // the next payment uses fresh counters and is signed
    const next = await updateRequest(w.user, id, 600n) as { outputs: { B_: string }[] };
    expect(next.outputs.some((o) => request.outputs.some((x) => x.B_ === o.B_))).toBe(false);
    expect((await mint.acceptUpdate(w.mint, next as never)).signatures!.length).toBe(next.outputs.length);
  });
});
