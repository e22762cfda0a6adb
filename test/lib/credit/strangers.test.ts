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
import { buildClose, buildState } from '../../../src/lib/credit/transactions.ts';
import { addPubNonce, readMusigInput } from '../../../src/lib/musig/psbt-keypath.ts';
import { fromHex } from '../../../src/lib/bytes.ts';
import { OffchainError } from '../../../src/lib/errors.ts';
import type { NextNonceJson } from '../../../src/lib/credit/ports.ts';
import type { CreditContract } from '../../../src/lib/credit/terms.ts';
import { MINT, USER, world } from './world.ts';
import { closeMessage, flipLastBit, musigFieldsOf, openContract, pay, psbtBase64, signAsUser, snapshot, updateMessage, withPartialSig, specOf, type Opened, type World } from './tamper.ts';

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

describe('a stranger who knows a contract id learns nothing of it from a refusal', () => {
  let w: World;
  let a: Contract;
  let b: Contract;
  beforeAll(async () => {
    w = world();
    // A: three payments of 2000 (state 3, 6000 sat). B: one of 1000 (state 1).
    const oa = await openContract(w, { input: 'f1' });
    let ra = await pay(w, oa.id, 2000n);
    ra = await pay(w, oa.id, 2000n);
    ra = await pay(w, oa.id, 2000n);
    a = { o: oa, next: ra.next_nonce, state: 3, paid: 6000n };
    const ob = await openContract(w, { input: 'f2' });
    const rb = await pay(w, ob.id, 1000n);
    b = { o: ob, next: rb.next_nonce, state: 1, paid: 1000n };
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

  it('still tells the user itself what is wrong: its own signed stale update hears the latest state', async () => {
    const tx = signAsUser(buildState(a.o.c, 8000n), USER, MINT.publicKey, a.next);
    const e = await refusalOf(w, a.o.id, () => mint.acceptUpdate(w.mint, updateMessage(a.o.c, 2, 2000n, 8000n, tx) as never));
    expect(e).toEqual({ code: 'E_STALE_STATE', exitCode: 5, message: 'state 2 of contract <contract> is already settled (latest is 3)' });
  });
});
