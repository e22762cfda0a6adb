/**
 * A stranger who knows a contract's id learns nothing of it from the mint's refusals (issue
 * 72: an unsigned update was told `latest is 3`, `previous 6000 sat`). The mint checks that a
 * request is the user's — its partial signature on the contract input (signing.ts
 * checkUserSigned) — before any rule that reads the contract's state: so an unsigned or
 * wrongly signed update, close or rollover-sign gets the same refusal, word for word, from
 * two contracts with different histories, it names no state or amount, and nothing is written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Transaction } from '@scure/btc-signer';
import * as mint from '../../../src/lib/credit/mint.ts';
import fc from 'fast-check';
import { buildClose, buildRollover, buildState } from '../../../src/lib/credit/transactions.ts';
import { keyPair, type KeyPair } from '../../../src/lib/keys/keys.ts';
import { signRequest } from '../../../src/lib/credit/request-signature.ts';
import { applyReceipt, updateRequest } from '../../../src/lib/credit/user-update.ts';
import { applyRolloverAccept, rolloverRequest, rolloverSign } from '../../../src/lib/credit/user-rollover.ts';
import { abandonRequest, acceptAbandon, applyAbandoned } from '../../../src/lib/credit/abandon.ts';
import { addPubNonce, readMusigInput } from '../../../src/lib/musig/psbt-keypath.ts';
import { fromHex } from '../../../src/lib/bytes.ts';
import { OffchainError } from '../../../src/lib/errors.ts';
import type { NextNonceJson, ReceiptJson } from '../../../src/lib/credit/ports.ts';
import type { CreditContract } from '../../../src/lib/credit/terms.ts';
import { MINT, USER, world } from './world.ts';
import { closeMessage, flipLastBit, musigFieldsOf, openContract, pay, psbtBase64, rolloverMessage, signAsUser, snapshot, updateMessage, withPartialSig, specOf, type Opened, type World } from './tamper.ts';

const STRANGER = keyPair(fromHex('e7'.repeat(32)));

type Contract = { o: Opened; next: NextNonceJson; state: number; paid: bigint };

/** The refusal of `step`, its contract id made neutral: what a stranger reads. */
async function refusalOf(w: World, id: string, step: () => Promise<unknown>): Promise<{ code: string; exitCode: number; message: string }> {
  const before = snapshot(w.dir.path);
  let thrown: unknown;
  try {
    await step();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'refused').toBeInstanceOf(OffchainError);
  expect(snapshot(w.dir.path)).toEqual(before);
  const e = thrown as OffchainError;
  return { code: e.code, exitCode: e.exitCode, message: e.message.replaceAll(id, '<contract>') };
}

/** `tx` with the mint's nonce for the next state on it and no partial signature: what anyone can build from public facts and a receipt's nonce. */
function unsigned(tx: Transaction, nonce: NextNonceJson): Transaction {
  addPubNonce(tx, readMusigInput(tx, 0), MINT.publicKey, fromHex(nonce.pubnonce));
  return tx;
}

/** `tx` carrying a partial signature in the user's name that does not verify. */
function badlySigned(c: CreditContract, tx: () => Transaction, nonce: NextNonceJson): Transaction {
  const signed = signAsUser(tx(), USER, MINT.publicKey, nonce);
  return withPartialSig(signed, specOf(tx(), [USER.publicKey, MINT.publicKey]), USER.publicKey, flipLastBit(musigFieldsOf(signed, USER.publicKey).partialSig!));
}

/** A: three payments of 2000 (state 3, 6000 sat). B: one of 1000 (state 1). */
async function twoContracts(w: World): Promise<{ a: Contract; b: Contract }> {
  const oa = await openContract(w, { input: 'f1' });
  let ra = await pay(w, oa.id, 2000n);
  ra = await pay(w, oa.id, 2000n);
  ra = await pay(w, oa.id, 2000n);
  const ob = await openContract(w, { input: 'f2' });
  const rb = await pay(w, ob.id, 1000n);
  return { a: { o: oa, next: ra.next_nonce, state: 3, paid: 6000n }, b: { o: ob, next: rb.next_nonce, state: 1, paid: 1000n } };
}

describe('a stranger who knows a contract id learns nothing of it from a refusal', () => {
  let w: World;
  let a: Contract;
  let b: Contract;
  beforeAll(async () => {
    w = world();
    ({ a, b } = await twoContracts(w));
  });
  afterAll(async () => {
    await w.close();
    w.dir.cleanup();
  });

  /** Each stranger's request for contract `k`: an update or a close at a stale, the next or a later state, paying less, as much or more than the contract holds. */
  const attempts: { name: string; step: (k: Contract) => () => Promise<unknown> }[] = [];
  for (const state of [1, 2, 4]) {
    for (const cumulative of [500n, 6000n, 9000n]) {
      attempts.push({
        name: `unsigned update, state ${state}, cumulative ${cumulative}`,
        step: (k) => () => mint.acceptUpdate(w.mint, updateMessage(k.o.c, state, 1000n, cumulative, unsigned(buildState(k.o.c, cumulative), k.next)) as never),
      });
      attempts.push({
        name: `badly signed update, state ${state}, cumulative ${cumulative}`,
        step: (k) => () => mint.acceptUpdate(w.mint, updateMessage(k.o.c, state, 1000n, cumulative, badlySigned(k.o.c, () => buildState(k.o.c, cumulative), k.next)) as never),
      });
    }
    attempts.push({
      name: `unsigned close at state ${state}`,
      step: (k) => () => mint.acceptClose(w.mint, closeMessage(k.o.c, state, 6000n, 2, unsigned(buildClose(k.o.c, 6000n, 2), k.next)) as never),
    });
    attempts.push({
      name: `unsigned rollover-sign at state ${state}`,
      step: (k) => () => mint.acceptRollover(w.mint, { type: 'credit/rollover-sign', version: 1, network: 'regtest', contract_id: k.o.id, state, new_contract_id: 'cd'.repeat(32), rollover_psbt: psbtBase64(unsigned(buildClose(k.o.c, 6000n, 2), k.next)) } as never),
    });
  }

  it('answers each the same for two contracts with different histories, naming no state or amount, writing nothing', async () => {
    for (const t of attempts) {
      const fromA = await refusalOf(w, a.o.id, t.step(a));
      const fromB = await refusalOf(w, b.o.id, t.step(b));
      expect(fromA, t.name).toEqual(fromB);
      expect(['E_MISSING_PARTIAL_SIGS', 'E_BAD_PARTIAL_SIG'], t.name).toContain(fromA.code);
      expect(fromA.message, t.name).not.toMatch(/\b(6000|latest|previous|frozen|expected)\b|state \d/);
    }
  });

  it('still tells the user itself what is wrong: its own request for the next state, paying less than the last, hears the previous total', async () => {
    const tx = signAsUser(buildState(a.o.c, 5000n), USER, MINT.publicKey, a.next);
    const e = await refusalOf(w, a.o.id, () => mint.acceptUpdate(w.mint, updateMessage(a.o.c, 4, 1000n, 5000n, tx) as never));
    expect(e).toEqual({ code: 'E_AMOUNT_NOT_INCREASING', exitCode: 4, message: 'cumulative 5000 sat does not exceed the previous 6000 sat' });
  });
});

/** Round 1 of a rollover of `k` at its next state, as `signer` signs it (the user: the real one). */
function roundOne(k: Contract, signer: KeyPair = USER, expiry = 5320) {
  const { tx } = buildRollover(k.o.c, k.paid, k.o.c.script, 2);
  return rolloverMessage(k.o.c, k.state + 1, k.paid, 2, specOf(tx, [USER.publicKey, MINT.publicKey]), signer, MINT.publicKey, k.next, expiry).message as Record<string, unknown>;
}

const unsignedRequest = (m: Record<string, unknown>) => {
  const { user_signature: _s, ...rest } = m;
  return rest;
};

/** What a refusal must not say of `k` (issue 72): its state numbers, what it was paid, a proposal's new contract. */
function expectSaysNothingOf(message: string, k: Contract, newId?: string): void {
  expect(message).not.toMatch(new RegExp(`\\b(${k.state}|${k.state + 1}|${k.paid})\\b|latest|previous|expected|frozen|proposed|state \\d`));
  if (newId) expect(message).not.toContain(newId);
}

describe('round 1 of a rollover is the user\'s: a stranger\'s is refused before a word about the contract', () => {
  let w: World;
  let a: Contract;
  let b: Contract;
  let proposedA: string;
  beforeAll(async () => {
    w = world();
    ({ a, b } = await twoContracts(w));
    // A's user proposed a rollover (round 1 co-signed): the state a stranger would read from E_ROLLOVER_PROPOSED.
    const real = roundOne(a);
    await mint.proposeRollover(w.mint, real as never);
    proposedA = String(real.new_contract_id);
  });
  afterAll(async () => {
    await w.close();
    w.dir.cleanup();
  });

  const strangers: { name: string; request: (k: Contract) => Record<string, unknown> }[] = [
    { name: 'no signature', request: (k) => unsignedRequest(roundOne(k)) },
    { name: 'signed by another key', request: (k) => signRequest(unsignedRequest(roundOne(k)), STRANGER) },
    { name: 'the user\'s signature over other fields (state moved)', request: (k) => ({ ...roundOne(k), state: 1e9 }) },
    { name: 'the user\'s signature over other fields (another expiry)', request: (k) => ({ ...roundOne(k, USER, 5400), user_signature: roundOne(k).user_signature }) },
    { name: 'a signature that is not hex', request: (k) => ({ ...roundOne(k), user_signature: 'zz'.repeat(64) }) },
  ];

  it('no signature, another key\'s, one over other fields: E_REQUEST_UNSIGNED, the same words for two contracts, naming no state, amount or proposal; nothing written', async () => {
    for (const t of strangers) {
      const fromA = await refusalOf(w, a.o.id, () => mint.proposeRollover(w.mint, t.request(a) as never));
      const fromB = await refusalOf(w, b.o.id, () => mint.proposeRollover(w.mint, t.request(b) as never));
      expect(fromA, t.name).toEqual(fromB);
      expect(fromA, t.name).toMatchObject({ code: 'E_REQUEST_UNSIGNED', exitCode: 4 });
      expectSaysNothingOf(fromA.message, a, proposedA);
      expectSaysNothingOf(fromB.message, b);
    }
  });

  it('the real user\'s round 1 sent again gets the same co-signed refund; another of its own hears E_ROLLOVER_PROPOSED', async () => {
    const again = await mint.proposeRollover(w.mint, roundOne(a) as never);
    expect(again).toMatchObject({ type: 'credit/rollover-refund', contract_id: a.o.id, new_contract_id: proposedA });
    const other = await refusalOf(w, a.o.id, () => mint.proposeRollover(w.mint, roundOne(a, USER, 5400) as never));
    expect(other.code).toBe('E_ROLLOVER_PROPOSED');
  });

  it('a stranger\'s random mutation of the user\'s round 1 is refused, and the refusal never names the contract\'s state, amounts or the proposed contract (property)', async () => {
    const real = roundOne(a);
    const spent = (a.o.accept as { next_nonce: NextNonceJson }).next_nonce.pubnonce;
    const field = fc.oneof(
      fc.record({ state: fc.oneof(fc.constantFrom(1, 2, 3, 4, 5), fc.integer({ min: 1, max: 2 ** 31 })) }),
      fc.record({ cumulative_sat: fc.oneof(fc.constantFrom(0, 1000, 6000, 9000), fc.integer({ min: 0, max: 1e8 })) }),
      fc.record({ new_contract_id: fc.oneof(fc.constant(proposedA), fc.constant('cd'.repeat(32))) }),
      fc.record({ mint_pubnonce: fc.oneof(fc.constant(a.next.pubnonce), fc.constant(spent), fc.constant(b.next.pubnonce)) }),
      fc.record({ fee_rate: fc.constantFrom(1, 2, 3.5) }),
      fc.record({ rollover_psbt: fc.constant(real.refund_psbt) }),
    );
    await fc.assert(fc.asyncProperty(fc.array(field, { maxLength: 3 }), fc.constantFrom('none', 'stranger', 'kept'), async (edits, signature) => {
      const body = Object.assign(unsignedRequest(real), ...edits) as Record<string, unknown>;
      const changed = JSON.stringify(body) !== JSON.stringify(unsignedRequest(real));
      fc.pre(signature !== 'kept' || changed);
      const request = signature === 'none' ? body : signature === 'stranger' ? signRequest(body, STRANGER) : { ...body, user_signature: real.user_signature };
      const e = await refusalOf(w, a.o.id, () => mint.proposeRollover(w.mint, request as never));
      expect(e.code).toBe('E_REQUEST_UNSIGNED');
      expectSaysNothingOf(e.message, a, proposedA);
    }), { numRuns: 150 });
  });
});

describe('a relay replaying the user\'s round 1 once its nonce is spent', () => {
  it('after the user abandoned it: E_NONCE_USED, naming nothing, not co-signed again; the user\'s next rollover is not blocked', async () => {
    const w = world();
    try {
      const o = await openContract(w);
      await pay(w, o.id, 3000n);
      const r1 = await rolloverRequest(w.user, o.id, { expiryHeight: w.chain.height + 4320, feeRate: 2 });
      await mint.proposeRollover(w.mint, r1 as never); // co-signed; its answer lost on the way back
      await applyAbandoned(w.user, (await acceptAbandon(w.mint, (await abandonRequest(w.user, o.id)) as never)) as never);
      expect((await w.mintBook.get(o.id))!.proposed_rollover).toBeUndefined();
      const e = await refusalOf(w, o.id, () => mint.proposeRollover(w.mint, r1 as never));
      expect(e).toMatchObject({ code: 'E_NONCE_USED', exitCode: 5 });
      expectSaysNothingOf(e.message, { o, next: r1 as never, state: 1, paid: 3000n }, String(r1.new_contract_id));
      const again = await rolloverRequest(w.user, o.id, { expiryHeight: w.chain.height + 4320, feeRate: 2 });
      const sign = await rolloverSign(w.user, (await mint.proposeRollover(w.mint, again as never)) as never);
      expect(await applyRolloverAccept(w.user, (await mint.acceptRollover(w.mint, sign as never)) as never)).toMatchObject({ type: 'credit/rolled-over', contract_id: o.id });
    } finally {
      await w.close();
      w.dir.cleanup();
    }
  });
});

describe('a round 1 an older toolkit stored unsigned', () => {
  it('is signed when the user sends it again: the bytes a new one would have, which the mint co-signs', async () => {
    const w = world();
    try {
      const o = await openContract(w);
      await pay(w, o.id, 3000n);
      const params = { expiryHeight: w.chain.height + 4320, feeRate: 2 };
      const signed = await rolloverRequest(w.user, o.id, params);
      const record = (await w.userBook.get(o.id))!;
      const { user_signature: _s, mint_pubnonce: _n, ...old } = record.pending!.request as Record<string, unknown>;
      await w.userBook.put({ ...record, pending: { ...record.pending!, request: old } });
      const resent = await rolloverRequest(w.user, o.id, params);
      expect(resent).toEqual(signed);
      expect(await mint.proposeRollover(w.mint, resent as never)).toMatchObject({ type: 'credit/rollover-refund', new_contract_id: signed.new_contract_id });
    } finally {
      await w.close();
      w.dir.cleanup();
    }
  });
});

describe('a relay replaying a user-signed request with its state or amounts edited learns nothing of the contract', () => {
  let w: World;
  let a: Contract;
  let first: Record<string, unknown>;
  let third: Record<string, unknown>;
  let current: Record<string, unknown>;
  beforeAll(async () => {
    w = world();
    const oa = await openContract(w, { input: 'f1' });
    // The relay keeps the user's signed request of state 1 (1000 sat); two more payments follow.
    first = await updateRequest(w.user, oa.id, 1000n);
    await applyReceipt(w.user, (await mint.acceptUpdate(w.mint, first as never)) as never);
    await pay(w, oa.id, 2000n);
    third = await updateRequest(w.user, oa.id, 3000n);
    const r = (await mint.acceptUpdate(w.mint, third as never)) as ReceiptJson;
    await applyReceipt(w.user, r as never);
    a = { o: oa, next: r.next_nonce, state: 3, paid: 6000n };
    // …and the user's request for state 4, which it holds back.
    current = await updateRequest(w.user, oa.id, 500n);
  });
  afterAll(async () => {
    await w.close();
    w.dir.cleanup();
  });

  it('an old request, as signed or with state or cumulative edited: E_NONCE_USED, naming no state or amount', async () => {
    for (const edit of [{}, { state: 2 }, { state: 3 }, { state: 4 }, { state: 1e9 }, { cumulative_sat: 6000 }, { cumulative_sat: 6001, amount_sat: 1 }, { state: 4, cumulative_sat: 7000, amount_sat: 1000 }]) {
      const e = await refusalOf(w, a.o.id, () => mint.acceptUpdate(w.mint, { ...first, ...edit } as never));
      expect(e, JSON.stringify(edit)).toMatchObject({ code: 'E_NONCE_USED', exitCode: 5 });
      expectSaysNothingOf(e.message, a);
    }
  });

  it('the latest request retried gets its stored receipt; edited, E_NONCE_USED', async () => {
    expect(await mint.acceptUpdate(w.mint, third as never)).toMatchObject({ type: 'credit/receipt', state: 3, cumulative_sat: 6000 });
    for (const edit of [{ state: 2 }, { state: 4 }, { cumulative_sat: 5000 }, { cumulative_sat: 7000, amount_sat: 4000 }]) {
      const e = await refusalOf(w, a.o.id, () => mint.acceptUpdate(w.mint, { ...third, ...edit } as never));
      expect(e, JSON.stringify(edit)).toMatchObject({ code: 'E_NONCE_USED', exitCode: 5 });
      expectSaysNothingOf(e.message, a);
    }
  });

  it('the held-back current request with its state edited: E_NONCE_MISBOUND, naming no state', async () => {
    for (const state of [1, 2, 3, 5, 1e9]) {
      const e = await refusalOf(w, a.o.id, () => mint.acceptUpdate(w.mint, { ...current, state } as never));
      expect(e, String(state)).toMatchObject({ code: 'E_NONCE_MISBOUND', exitCode: 4 });
      expectSaysNothingOf(e.message, a);
    }
  });

  it('random edits of the old request\'s state, amounts and cumulative never name the contract\'s state or amounts (property)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.option(fc.oneof(fc.constantFrom(1, 2, 3, 4, 5), fc.integer({ min: 1, max: 2 ** 31 })), { nil: undefined }),
      fc.option(fc.oneof(fc.constantFrom(1000, 2000, 3000, 6000, 7000), fc.integer({ min: 1, max: 1e8 })), { nil: undefined }),
      fc.option(fc.oneof(fc.constantFrom(1000, 3000, 6000), fc.integer({ min: 1, max: 1e8 })), { nil: undefined }),
      async (state, cumulative, amount) => {
        const edited = { ...first, ...(state !== undefined ? { state } : {}), ...(cumulative !== undefined ? { cumulative_sat: cumulative } : {}), ...(amount !== undefined ? { amount_sat: amount } : {}) };
        const e = await refusalOf(w, a.o.id, () => mint.acceptUpdate(w.mint, edited as never));
        expect(e.code).toBe('E_NONCE_USED');
        expectSaysNothingOf(e.message, a);
      },
    ), { numRuns: 150 });
  });
});
