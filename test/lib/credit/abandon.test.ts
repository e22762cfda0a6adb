/**
 * Recovering from a refused or lost request (docs/credit.md, "Recovering from a
 * refusal"): the user abandons it through the mint, which answers with what it signed at
 * that state or burns the nonce and issues a fresh one. Every refusal is checked with its
 * code, exit code and "nothing written" (both parties' state directories and the mint's
 * store); signatures on credit/abandon and credit/abandoned are checked here with an
 * independent BIP-340 tagged hash (noble's sha256, not the code under test); final
 * transactions with the independent verifier.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import * as mint from '../../../src/lib/credit/mint.ts';
import { applyClosed, closeRequest } from '../../../src/lib/credit/user-close.ts';
import { openFinish, openRequest } from '../../../src/lib/credit/user-open.ts';
import { applyRolloverAccept, rolloverRequest, rolloverSign } from '../../../src/lib/credit/user-rollover.ts';
import { applyReceipt, updateRequest } from '../../../src/lib/credit/user-update.ts';
import { resolveExpiry } from '../../../src/lib/credit/user.ts';
import * as abandon from '../../../src/lib/credit/abandon.ts';
import { termsFromJson } from '../../../src/lib/credit/codec.ts';
import { refusal } from '../../setup/refusal.ts';
import { readMusigInput } from '../../../src/lib/musig/psbt-keypath.ts';
import { verifyKeyPathSpend } from '../../independent/verify.ts';
import { CHANGE, MINT, POLICY, REFUND, USER, fundingPsbt, offer, world } from './world.ts';
import { expectRefused, foreignPubnonce, openContract, pay, psbtOf, snapshot, userRecord, type World } from './tamper.ts';

const enc = new TextEncoder();
function tagged(tag: string, ...parts: Uint8Array[]): Uint8Array {
  const t = sha256(enc.encode(tag));
  const data = new Uint8Array(64 + parts.reduce((a, p) => a + p.length, 0));
  data.set(t, 0);
  data.set(t, 32);
  let at = 64;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  return sha256(data);
}
const be32 = (n: number) => Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);

/** The user's abandon digest, written out from the schema's description. */
const userDigest = (m: { contract_id: string; state: number; txid: string; mint_pubnonce: string }) =>
  tagged('offchain/credit/v1/abandon', fromHex(m.contract_id), be32(m.state), fromHex(m.txid), fromHex(m.mint_pubnonce));
const mintDigest = (m: { contract_id: string; state: number; txid: string; abandoned_pubnonce: string; next_nonce: { state: number; pubnonce: string } }) =>
  tagged('offchain/credit/v1/abandoned', fromHex(m.contract_id), be32(m.state), fromHex(m.txid), fromHex(m.abandoned_pubnonce), be32(m.next_nonce.state), fromHex(m.next_nonce.pubnonce));

/** A credit/abandon for `body`, signed with `key` (the user's, unless a test forges it). */
function signedAbandon(body: { contract_id: string; state: number; kind: 'update' | 'close' | 'rollover'; txid: string; mint_pubnonce: string }, key = USER.secretKey) {
  return { type: 'credit/abandon', version: 1, network: 'regtest', ...body, user_signature: toHex(schnorr.sign(userDigest(body), key, new Uint8Array(32))) };
}

const nonceStatus = (w: World, pubnonce: string) => w.mint.nonces.status(fromHex(pubnonce));
type Msg = Record<string, any>;

describe('a payment the mint refuses (too close to expiry), abandoned, then a cooperative close', () => {
  let w: World;
  let id: string;
  let c: ReturnType<typeof termsFromJson>;
  let req: Msg;
  let oldNonce: string;
  let sent: Msg;
  let answer: Msg;
  beforeAll(async () => {
    w = world();
    const o = await openContract(w);
    id = o.id;
    c = o.c;
    await pay(w, id, 5000n);
    req = await updateRequest(w.user, id, 1000n);
    oldNonce = (await userRecord(w, id)).mint_nonce!.pubnonce;
    w.chain.height = c.expiryHeight - POLICY.safety_margin_blocks; // inside the margin
  });
  afterAll(() => w.dir.cleanup());

  it('the mint refuses: E_TOO_CLOSE_TO_EXPIRY, exit 4, nothing written, its nonce unused', async () => {
    await expectRefused(w.dir.path, () => mint.acceptUpdate(w.mint, req as never), { code: 'E_TOO_CLOSE_TO_EXPIRY', exitCode: 4, message: /safety margin/ });
    expect(await nonceStatus(w, oldNonce)).toBe('unused');
  });

  it('every other request is E_PENDING (exit 5, nothing written), naming credit abandon; the same one is resent', async () => {
    const e = { code: 'E_PENDING', exitCode: 5 as const, message: /state 2 \(update\) is still waiting for the mint's answer.*offchain credit abandon --role user --start --contract [0-9a-f]{64}/ };
    await expectRefused(w.dir.path, () => updateRequest(w.user, id, 2000n), e);
    await expectRefused(w.dir.path, () => closeRequest(w.user, id, 2), e);
    await expectRefused(w.dir.path, () => rolloverRequest(w.user, id, { expiryHeight: w.chain.height + 4320, feeRate: 2 }), e);
    const snap = snapshot(w.dir.path);
    expect(await updateRequest(w.user, id, 1000n)).toEqual(req);
    expect(snapshot(w.dir.path)).toEqual(snap);
  });

  it('the user abandons it: a credit/abandon signed by its contract key (checked independently), the request never resent', async () => {
    sent = await abandon.abandonRequest(w.user, id);
    expect(sent).toMatchObject({ type: 'credit/abandon', contract_id: id, state: 2, kind: 'update', txid: psbtOf(req.psbt).id, mint_pubnonce: oldNonce });
    expect(schnorr.verify(fromHex(sent.user_signature), userDigest(sent as never), USER.xOnly)).toBe(true);
    // Asked again: the same message, nothing new written.
    const snap = snapshot(w.dir.path);
    expect(await abandon.abandonRequest(w.user, id)).toEqual(sent);
    expect(snapshot(w.dir.path)).toEqual(snap);
    // While the mint has not answered, nothing is signed, not even the old request again.
    const e = { code: 'E_PENDING', exitCode: 5 as const, message: /being abandoned: feed the mint's answer/ };
    await expectRefused(w.dir.path, () => updateRequest(w.user, id, 1000n), e);
    await expectRefused(w.dir.path, () => closeRequest(w.user, id, 2), e);
  });

  const mintCases: [string, () => Msg, { code: string; exitCode: 4 | 5; message: RegExp }][] = [
    ['signed by another key', () => signedAbandon({ ...pick(sent) }, MINT.secretKey), { code: 'E_BAD_SIGNATURE', exitCode: 4, message: /not signed by the contract's user key/ }],
    ['whose fields differ from what was signed', () => ({ ...sent, txid: 'ab'.repeat(32) }), { code: 'E_BAD_SIGNATURE', exitCode: 4, message: /not signed by the contract's user key/ }],
    ['for a contract the mint does not have', () => signedAbandon({ ...pick(sent), contract_id: 'cd'.repeat(32) }), { code: 'E_UNKNOWN_CONTRACT', exitCode: 4, message: /no contract cdcd/ }],
    ['for a later state', () => signedAbandon({ ...pick(sent), state: 3 }), { code: 'E_STALE_STATE', exitCode: 5, message: /state 3 is not the next state/ }],
    ['naming a nonce this mint never issued', () => signedAbandon({ ...pick(sent), mint_pubnonce: foreignPubnonce(MINT) }), { code: 'E_NONCE_UNKNOWN', exitCode: 5, message: /never issued/ }],
  ];
  it.each(mintCases)('the mint refuses a credit/abandon %s, nothing written, the nonce still unused', async (_name, make, e) => {
    await expectRefused(w.dir.path, () => abandon.acceptAbandon(w.mint, make() as never), e);
    expect(await nonceStatus(w, oldNonce)).toBe('unused');
  });

  it('for an earlier state the mint answers with what it signed then (its receipt), nothing written; the user refuses it', async () => {
    const snap = snapshot(w.dir.path);
    const old = await abandon.acceptAbandon(w.mint, signedAbandon({ ...pick(sent), state: 1 }) as never);
    expect(old).toEqual((await w.mintBook.get(id))!.latest!.receipt);
    expect(snapshot(w.dir.path)).toEqual(snap);
    await expectRefused(w.dir.path, () => applyReceipt(w.user, old as never), { code: 'E_RECEIPT_MISMATCH', exitCode: 4, message: /no update for state 1 is waiting/ });
  });

  it('the mint burns the old nonce and issues a fresh one for state 2, signed with its key (checked independently)', async () => {
    answer = await abandon.acceptAbandon(w.mint, sent as never);
    expect(answer).toMatchObject({ type: 'credit/abandoned', contract_id: id, state: 2, txid: sent.txid, abandoned_pubnonce: oldNonce, next_nonce: { state: 2 } });
    expect(answer.next_nonce.pubnonce).not.toBe(oldNonce);
    expect(schnorr.verify(fromHex(answer.mint_signature), mintDigest(answer as never), MINT.xOnly)).toBe(true);
    expect(await nonceStatus(w, oldNonce)).toBe('consumed');
    expect(await nonceStatus(w, answer.next_nonce.pubnonce)).toBe('unused');
    // The same abandon again gets the same answer; nothing more is burned or issued.
    const snap = snapshot(w.dir.path);
    expect(await abandon.acceptAbandon(w.mint, sent as never)).toEqual(answer);
    expect(snapshot(w.dir.path)).toEqual(snap);
  });

  it('the abandoned request, replayed once the chain allows it, can never be signed: E_NONCE_USED, nothing written', async () => {
    const height = w.chain.height;
    w.chain.height = 1001;
    try {
      await expectRefused(w.dir.path, () => mint.acceptUpdate(w.mint, req as never), { code: 'E_NONCE_USED', exitCode: 5, message: /already been used/ });
    } finally {
      w.chain.height = height;
    }
  });

  const userCases: [string, () => Msg, { code: string; exitCode: 4 | 5; message: RegExp }][] = [
    ['with a forged mint signature', () => ({ ...answer, mint_signature: toHex(schnorr.sign(mintDigest(answer as never), USER.secretKey, new Uint8Array(32))) }), { code: 'E_BAD_SIGNATURE', exitCode: 4, message: /not signed by the contract's mint key/ }],
    ['for another request', () => ({ ...answer, txid: 'ef'.repeat(32) }), { code: 'E_RECEIPT_MISMATCH', exitCode: 4, message: /not for the request this user abandoned/ }],
    ['burning another nonce', () => ({ ...answer, abandoned_pubnonce: foreignPubnonce(MINT) }), { code: 'E_RECEIPT_MISMATCH', exitCode: 4, message: /not for the request this user abandoned/ }],
    ['giving the old nonce back', () => ({ ...answer, next_nonce: { state: 2, pubnonce: oldNonce } }), { code: 'E_RECEIPT_MISMATCH', exitCode: 4, message: /must be a new nonce for state 2/ }],
    ['giving a nonce for another state', () => ({ ...answer, next_nonce: { ...answer.next_nonce, state: 3 } }), { code: 'E_RECEIPT_MISMATCH', exitCode: 4, message: /must be a new nonce for state 2/ }],
  ];
  it.each(userCases)('the user refuses an answer %s, nothing written', async (_name, make, e) => {
    await expectRefused(w.dir.path, () => abandon.applyAbandoned(w.user, make() as never), e);
  });

  it('the user takes the fresh nonce: state 1 stays confirmed; a close at state 2 is co-signed and verifies', async () => {
    const balance = await abandon.applyAbandoned(w.user, answer as never);
    expect(balance).toMatchObject({ type: 'credit/balance', state: 1, cumulative_sat: 5000 });
    const r = await userRecord(w, id);
    expect(r.pending).toBeUndefined();
    expect(r.mint_nonce).toEqual(answer.next_nonce);
    // Applied twice: the same balance, nothing written.
    const snap = snapshot(w.dir.path);
    expect(await abandon.applyAbandoned(w.user, answer as never)).toEqual(balance);
    expect(snapshot(w.dir.path)).toEqual(snap);
    const close = await closeRequest(w.user, id, 2);
    const closed = (await mint.acceptClose(w.mint, close as never)) as Msg;
    expect(await nonceStatus(w, answer.next_nonce.pubnonce)).toBe('consumed'); // signed against the fresh nonce
    await applyClosed(w.user, closed as never);
    const spend = verifyKeyPathSpend(closed.hex, [{ script: c.script, amount: c.capacity }], c.key.output.outputKey);
    expect(spend.outputs[0]).toMatchObject({ amount: 5000n });
    expect((await userRecord(w, id)).status).toBe('closed');
  });
});

function pick(m: Msg) {
  return { contract_id: m.contract_id, state: m.state, kind: m.kind, txid: m.txid, mint_pubnonce: m.mint_pubnonce };
}

describe('a lost answer: the mint signed, the user abandons, and gets the answer it lost', () => {
  it('an update: the stored receipt comes back and is applied; the next payment goes on', async () => {
    const w = world();
    try {
      const { id } = await openContract(w);
      const req = await updateRequest(w.user, id, 2000n);
      const receipt = await mint.acceptUpdate(w.mint, req as never); // lost on the way
      const sent = await abandon.abandonRequest(w.user, id);
      const snap = snapshot(w.dir.path);
      expect(await abandon.acceptAbandon(w.mint, sent as never)).toEqual(receipt);
      expect(snapshot(w.dir.path)).toEqual(snap); // the mint burned and issued nothing
      expect(await applyReceipt(w.user, receipt as never)).toMatchObject({ state: 1, cumulative_sat: 2000 });
      expect((await userRecord(w, id)).pending).toBeUndefined();
      await pay(w, id, 500n);
      expect((await w.mintBook.get(id))!.latest).toMatchObject({ state: 2, cumulative_sat: 2500 });
    } finally {
      w.dir.cleanup();
    }
  });

  it('a close: the stored credit/closed comes back, verified against the close the user signed', async () => {
    const w = world();
    try {
      const { id, c } = await openContract(w);
      await pay(w, id, 3000n);
      const req = await closeRequest(w.user, id, 2);
      const closed = await mint.acceptClose(w.mint, req as never);
      const sent = await abandon.abandonRequest(w.user, id);
      const answer = (await abandon.acceptAbandon(w.mint, sent as never)) as Msg;
      expect(answer).toEqual(closed);
      await applyClosed(w.user, answer as never);
      expect((await userRecord(w, id)).status).toBe('closed');
      verifyKeyPathSpend(answer.hex, [{ script: c.script, amount: c.capacity }], c.key.output.outputKey);
    } finally {
      w.dir.cleanup();
    }
  });

  it('a rollover lost after round 2: the stored credit/rollover-accept comes back; the next contract opens', async () => {
    const w = world();
    try {
      const { id } = await openContract(w);
      await pay(w, id, 3000n);
      const r1 = await rolloverRequest(w.user, id, { expiryHeight: w.chain.height + 4320, feeRate: 2 });
      const sign = await rolloverSign(w.user, (await mint.proposeRollover(w.mint, r1 as never)) as never);
      const accept = await mint.acceptRollover(w.mint, sign as never);
      const sent = await abandon.abandonRequest(w.user, id);
      expect(await abandon.acceptAbandon(w.mint, sent as never)).toEqual(accept);
      const rolled = await applyRolloverAccept(w.user, accept as never);
      expect((await userRecord(w, rolled.new_contract_id as string)).status).toBe('open');
    } finally {
      w.dir.cleanup();
    }
  });
});

describe('a rollover refused in round 2 (its expiry left the window), abandoned, redone with a corrected expiry', () => {
  it('the new rollover has another txid (the old output stays bound at the mint) and completes', async () => {
    const w = world();
    try {
      const { id, c } = await openContract(w);
      await pay(w, id, 3000n);
      const badExpiry = w.chain.height + 300; // inside the window now (288 blocks minimum)…
      const r1 = (await rolloverRequest(w.user, id, { expiryHeight: badExpiry, feeRate: 2 })) as Msg;
      const sign = await rolloverSign(w.user, (await mint.proposeRollover(w.mint, r1 as never)) as never);
      w.chain.height += 20; // …but not by round 2
      await expectRefused(w.dir.path, () => mint.acceptRollover(w.mint, sign as never), { code: 'E_BAD_EXPIRY', exitCode: 4, message: /280 blocks from the tip/ });
      // Re-running with a corrected expiry does not resend the refused rollover.
      await expectRefused(w.dir.path, () => rolloverRequest(w.user, id, { expiryHeight: w.chain.height + 4320, feeRate: 2 }), { code: 'E_PENDING', exitCode: 5, message: /state 2 \(rollover\) is still waiting.*credit abandon/ });
      // The mint would refuse another proposal while this one can be completed.
      const sent = await abandon.abandonRequest(w.user, id);
      const answer = (await abandon.acceptAbandon(w.mint, sent as never)) as Msg;
      expect(answer.type).toBe('credit/abandoned');
      expect((await w.mintBook.get(id))!.proposed_rollover).toBeUndefined();
      await abandon.applyAbandoned(w.user, answer as never);
      const before = await userRecord(w, id);
      expect(before.abandoned_rollovers).toEqual([psbtOf(r1.rollover_psbt).id]);
      expect(await w.userBook.get(r1.new_contract_id)).toBeUndefined(); // the half-made next contract is gone
      const again = (await rolloverRequest(w.user, id, { expiryHeight: w.chain.height + 4320, feeRate: 2 })) as Msg;
      const tx = psbtOf(again.rollover_psbt);
      const old = psbtOf(r1.rollover_psbt);
      expect(tx.id).not.toBe(old.id);
      expect(tx.getOutput(1).amount).toBe(old.getOutput(1).amount! - 1n); // one more sat of fee
      const sign2 = await rolloverSign(w.user, (await mint.proposeRollover(w.mint, again as never)) as never);
      const rolled = await applyRolloverAccept(w.user, (await mint.acceptRollover(w.mint, sign2 as never)) as never);
      const hex = (rolled.rollover as { hex: string }).hex;
      const spend = verifyKeyPathSpend(hex, [{ script: c.script, amount: c.capacity }], c.key.output.outputKey);
      expect(spend.outputs[0]).toMatchObject({ amount: 3000n });
    } finally {
      w.dir.cleanup();
    }
  });
});

describe('a refused open is abandoned by the user alone', () => {
  it('the record and the refund nonce go; the same funding then opens; refused if the funding is on chain', async () => {
    const w = world();
    try {
      const funding = fundingPsbt(100_000n, '31');
      const params = { offer: offer(), fundingPsbt: funding, expiryHeight: w.chain.height + 4320, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2 };
      const req = (await openRequest(w.user, params)) as Msg;
      const strict = { ...w.mint, policy: { ...w.mint.policy, min_fee_rate: 3 } };
      await expectRefused(w.dir.path, () => mint.acceptOpen(strict, req as never), { code: 'E_FEE_TOO_LOW', exitCode: 4, message: /under the mint's floor/ });
      const c = termsFromJson(req.contract, 'regtest');
      const input = readMusigInput(psbtOf(req.refund_psbt), 0);
      const refundNonce = input.pubnonces[input.key.participants.findIndex((k) => toHex(k) === toHex(USER.publicKey))]!;
      expect(await w.user.nonces.status(refundNonce)).toBe('unused');
      // On chain already (the user signed the funding too early): refused, nothing written.
      w.chain.confirm(c.funding.txid, c.funding.vout, c.capacity, c.script, 0);
      await expectRefused(w.dir.path, () => abandon.abandonRequest(w.user, c.id), { code: 'E_FUNDING_ON_CHAIN', exitCode: 4, message: /send the same open-request again/ });
      w.chain.utxos.clear();
      const gone = await abandon.abandonRequest(w.user, c.id);
      expect(gone).toMatchObject({ type: 'credit/open-abandoned', contract_id: c.id, funding: c.funding });
      expect(await w.userBook.get(c.id)).toBeUndefined();
      expect(await w.user.nonces.status(refundNonce)).toBe('consumed');
      const fixed = (await openRequest(w.user, { ...params, feeRate: 3 })) as Msg;
      await openFinish(w.user, (await mint.acceptOpen(strict, fixed as never)) as never);
      expect((await userRecord(w, fixed.contract_id)).status).toBe('open');
    } finally {
      w.dir.cleanup();
    }
  });

  it('nothing to abandon: E_NOTHING_PENDING, exit 5, nothing written', async () => {
    const w = world();
    try {
      const { id } = await openContract(w);
      await expectRefused(w.dir.path, () => abandon.abandonRequest(w.user, id), { code: 'E_NOTHING_PENDING', exitCode: 5, message: /nothing to abandon/ });
    } finally {
      w.dir.cleanup();
    }
  });
});

describe('--expiry is checked on the user side before anything is written', () => {
  const window = { min_blocks: 288, max_blocks: 10_000 };
  it.each([
    ['4320 at tip 800000 (a number of blocks given as a height)', '4320', 800_000, 'E_EXPIRY_IN_PAST', /4320 is not after the tip 800000 \(did you mean \+4320/],
    ['the tip itself', '800000', 800_000, 'E_EXPIRY_IN_PAST', /not after the tip/],
    ['+20000, beyond the offer\'s maximum', '+20000', 800_000, 'E_EXPIRY_TOO_FAR', /20000 blocks from the tip 800000; this mint takes contracts of 288–10000 blocks/],
    ['+100, under the offer\'s minimum', '+100', 800_000, 'E_EXPIRY_TOO_SOON', /100 blocks from the tip/],
    ['4320 at tip 1000 would be 3320 blocks: fine, but 500 at tip 400 is too soon and hints +500', '500', 400, 'E_EXPIRY_TOO_SOON', /did you mean \+500/],
    ['not a number', '4320b', 800_000, 'E_USAGE', /a block height or \+BLOCKS/],
    ['a relative height with a sign', '-5', 800_000, 'E_USAGE', /a block height or \+BLOCKS/],
  ])('%s: %s (exit 2)', (_name, spec, tip, code, message) => {
    const e = refusal(() => resolveExpiry(spec, tip, window), code, 2);
    expect(e.message).toMatch(message);
  });

  it('accepted: +4320 and an absolute height inside the window', () => {
    expect(resolveExpiry('+4320', 800_000, window)).toBe(804_320);
    expect(resolveExpiry('4320', 1000, window)).toBe(4320);
    expect(resolveExpiry('4320', 1000)).toBe(4320);
  });

  it('open and rollover refuse a bad expiry with nothing written (no record, no nonce)', async () => {
    const w = world();
    try {
      const params = { offer: offer(), fundingPsbt: fundingPsbt(100_000n, '41'), refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2 };
      await openContract(w, { input: '42' }); // so the state directories exist
      await expectRefused(w.dir.path, () => openRequest(w.user, { ...params, expiryHeight: 900 }), { code: 'E_EXPIRY_IN_PAST', exitCode: 2 as never, message: /not after the tip 1000/ });
      await expectRefused(w.dir.path, () => openRequest(w.user, { ...params, expiryHeight: 1000 + 20_000 }), { code: 'E_EXPIRY_TOO_FAR', exitCode: 2 as never, message: /288–10000/ });
      const id = (await w.userBook.list())[0]!.contract_id;
      await expectRefused(w.dir.path, () => rolloverRequest(w.user, id, { expiryHeight: 1100, feeRate: 2 }), { code: 'E_EXPIRY_TOO_SOON', exitCode: 2 as never, message: /100 blocks from the tip/ });
    } finally {
      w.dir.cleanup();
    }
  });
});

describe('more refusals around abandoning (code, exit code, nothing written)', () => {
  it('the mint: a nonce issued for another contract (E_NONCE_MISBOUND, not burned), a frozen contract (E_CONTRACT_FROZEN)', async () => {
    const w = world();
    try {
      const A = await openContract(w);
      const B = await openContract(w, { input: '51' });
      await updateRequest(w.user, A.id, 1000n);
      const sent = (await abandon.abandonRequest(w.user, A.id)) as Msg;
      const bNonce = (await userRecord(w, B.id)).mint_nonce!.pubnonce;
      await expectRefused(w.dir.path, () => abandon.acceptAbandon(w.mint, signedAbandon({ ...pick(sent), mint_pubnonce: bNonce }) as never), { code: 'E_NONCE_MISBOUND', exitCode: 4, message: /issued for .*state\/1, not/ });
      expect(await nonceStatus(w, bNonce)).toBe('unused');
      const record = (await w.mintBook.get(A.id))!;
      await w.mintBook.put({ ...record, exiting: { state: 0, txid: '00'.repeat(32) } });
      await expectRefused(w.dir.path, () => abandon.acceptAbandon(w.mint, sent as never), { code: 'E_CONTRACT_FROZEN', exitCode: 4, message: /the mint is exiting it/ });
      expect(await nonceStatus(w, sent.mint_pubnonce)).toBe('unused');
    } finally {
      w.dir.cleanup();
    }
  });

  it('the user: no round 2 of a rollover being abandoned, and no abandoning a rollover\'s next contract on its own (E_PENDING, exit 5)', async () => {
    const w = world();
    try {
      const { id } = await openContract(w);
      await pay(w, id, 3000n);
      const r1 = (await rolloverRequest(w.user, id, { expiryHeight: w.chain.height + 4320, feeRate: 2 })) as Msg;
      const refund = await mint.proposeRollover(w.mint, r1 as never);
      await expectRefused(w.dir.path, () => abandon.abandonRequest(w.user, r1.new_contract_id), { code: 'E_PENDING', exitCode: 5, message: /next contract of a rollover.*abandon that rollover/ });
      const sent = (await abandon.abandonRequest(w.user, id)) as Msg;
      await expectRefused(w.dir.path, () => rolloverSign(w.user, refund as never), { code: 'E_PENDING', exitCode: 5, message: /being abandoned/ });
      // The mint's answer: it never signed; the proposal is forgotten, the user's half-made next contract removed with its unused refund nonce.
      const answer = (await abandon.acceptAbandon(w.mint, sent as never)) as Msg;
      const input = readMusigInput(psbtOf(r1.refund_psbt), 0);
      const refundNonce = input.pubnonces[input.key.participants.findIndex((k) => toHex(k) === toHex(USER.publicKey))]!;
      expect(await w.user.nonces.status(refundNonce)).toBe('unused');
      await abandon.applyAbandoned(w.user, answer as never);
      expect(await w.user.nonces.status(refundNonce)).toBe('consumed');
      expect(await w.userBook.get(r1.new_contract_id)).toBeUndefined();
    } finally {
      w.dir.cleanup();
    }
  });
});
